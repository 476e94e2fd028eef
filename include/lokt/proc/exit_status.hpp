#pragma once
// How a guarded command ended, and the exit code `lokt guard` returns for it: the command's
// own code, 128+N for death by signal N (tini/dumb-init/sh convention; we do not re-raise),
// 126/127 when it could not be executed (POSIX sh "Exit Status for Commands").

#include <signal.h>
#include <sys/types.h>

#include <string>

namespace lokt::proc {

/// The end of one child process.
struct ChildExit {
    bool signaled = false;  ///< killed by a signal (then `value` is the signal number)
    int value = 0;          ///< exit code, or signal number
};

/// From a waitpid() status (WIFEXITED or WIFSIGNALED).
ChildExit exit_from_wait_status(int status);
/// From the siginfo a waitid() filled (CLD_EXITED, CLD_KILLED, CLD_DUMPED).
ChildExit exit_from_siginfo(const siginfo_t& si);

/// The code `lokt guard` returns for this end: the code itself, or 128+N (at most 255).
int exit_code(const ChildExit& e);
/// The code for a command that could not be executed: 127 for ENOENT/ENOTDIR, else 126.
int exec_failure_code(int err);
/// The audit release reason for a command that ended this way: "exited" or "signaled".
std::string release_reason(const ChildExit& e);

} // namespace lokt::proc
