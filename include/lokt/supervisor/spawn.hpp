#pragma once
// Starting the guarded command: our own fork/exec (not Boost.Process 1.81, see docs/design.md
// "Guard supervisor"). The child gets its own process group, the caller's signal state, the
// terminal (when asked), PDEATHSIG=SIGKILL, and exactly the fds that are not close-on-exec.
// An exec failure comes back through a close-on-exec pipe as the errno.

#include "lokt/result.hpp"
#include "lokt/supervisor/signals.hpp"

#include <sys/types.h>

#include <string>
#include <vector>

namespace lokt::sup {

/// Finds `name` like execvp does: a name with '/' is used as is, otherwise each directory of
/// `path_env` (default "/usr/local/bin:/usr/bin:/bin") is tried. The Error's sys_errno is
/// ENOENT (not found: 127), or EACCES/EISDIR (found but not executable: 126).
Result<std::string> resolve_command(const std::string& name, const char* path_env);

/// What to start.
struct SpawnSpec {
    std::string path;                 ///< the file to execute (already resolved)
    std::vector<std::string> argv;    ///< argv, argv[0] included, passed byte for byte
    std::vector<std::string> env;     ///< the complete environment, "KEY=VALUE"
    SignalState signals;              ///< the mask and ignored set the command gets
    int tty_fd = -1;                  ///< >= 0: make the new group the terminal's foreground
    bool parent_death_kill = true;    ///< PR_SET_PDEATHSIG=SIGKILL in the command
};

/// Forks and execs `spec` in a new process group (pgid = pid). Returns the pid once the exec
/// has succeeded; on failure the child is reaped and the Error's sys_errno is exec's errno
/// (ENOEXEC is retried as "/bin/sh PATH ARGS...", as glibc's execvp does).
Result<pid_t> spawn(const SpawnSpec& spec);

/// The current environment with KEY set to VALUE (replaced if present).
std::vector<std::string> environment_with(const std::string& key, const std::string& value);

} // namespace lokt::sup
