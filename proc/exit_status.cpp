#include "lokt/proc/exit_status.hpp"

#include "lokt/exit_code.hpp"

#include <sys/wait.h>

#include <cerrno>

namespace lokt::proc {

ChildExit exit_from_wait_status(int status) {
    if (WIFSIGNALED(status)) return {true, WTERMSIG(status)};
    return {false, WEXITSTATUS(status)};
}

ChildExit exit_from_siginfo(const siginfo_t& si) {
    if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) return {true, si.si_status};
    return {false, si.si_status & 0xff};
}

int exit_code(const ChildExit& e) {
    if (!e.signaled) return e.value & 0xff;
    int code = to_int(ExitCode::signal_base) + e.value;
    return code > 255 ? 255 : code;
}

int exec_failure_code(int err) {
    // execvp(3)/sh: "not found" is 127, anything else that stops the exec is 126.
    if (err == ENOENT || err == ENOTDIR) return to_int(ExitCode::command_not_found);
    return to_int(ExitCode::cannot_execute);
}

std::string release_reason(const ChildExit& e) { return e.signaled ? "signaled" : "exited"; }

} // namespace lokt::proc
