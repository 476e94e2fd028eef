#include "reaper.hpp"

#include <sys/wait.h>

#include <cerrno>

namespace lokt::sup {
using proc::ChildExit;
using proc::exit_from_siginfo;
using proc::exit_from_wait_status;

ReapStop reap_exited(pid_t hold, std::optional<ChildExit>& held) {
    for (;;) {
        siginfo_t si{};
        int r = ::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
        if (r < 0) {
            if (errno == EINTR) continue;
            return ReapStop::none_left;  // ECHILD
        }
        // A readable pidfd or a SIGCHLD can still find nothing ready (research pitfall 7).
        if (si.si_pid == 0) return ReapStop::idle;
        if (hold != 0 && si.si_pid == hold) {
            held = exit_from_siginfo(si);
            return ReapStop::held_exited;
        }
        int st;
        while (::waitpid(si.si_pid, &st, WNOHANG) < 0 && errno == EINTR) {}
    }
}

ChildExit reap_pid(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) return {};
    }
    return exit_from_wait_status(st);
}

} // namespace lokt::sup
