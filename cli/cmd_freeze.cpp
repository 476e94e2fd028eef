// placeholder: being written
#include "cli.hpp"
namespace lokt::cli {
int cmd_freeze(const Command& c, const Args&) { return fail(ExitCode::error, "\"" + c.name + "\" is not implemented yet"); }
int cmd_unfreeze(const Command& c, const Args&) { return fail(ExitCode::error, "\"" + c.name + "\" is not implemented yet"); }
}
