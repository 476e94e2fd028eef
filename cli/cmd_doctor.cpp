// placeholder: being written
#include "cli.hpp"
namespace lokt::cli {
int cmd_doctor(const Command& c, const Args&) { return fail(ExitCode::error, "\"" + c.name + "\" is not implemented yet"); }
}
