#pragma once
// Starting the guarded command: our own fork/exec (not Boost.Process 1.81, see docs/design.md
// "Guard supervisor"). The child gets its own process group, the caller's signal state, the
// terminal (when asked), PDEATHSIG=SIGKILL, and exactly the fds that are not close-on-exec.
// It can be started gated: forked into its group, then held before exec until the parent
// opens the gate, so the lock file can name its process group from the first byte.
// An exec failure comes back through a close-on-exec pipe as the errno.

#include "lokt/result.hpp"
#include "lokt/proc/signals.hpp"
#include "lokt/sys.hpp"

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace lokt::sup {

/// What to start.
struct SpawnSpec {
    std::string path;                 ///< the file to execute (already resolved)
    std::vector<std::string> argv;    ///< argv, argv[0] included, passed byte for byte
    std::vector<std::string> env;     ///< the complete environment, "KEY=VALUE"
    std::vector<std::string> alt_env; ///< the environment for GatedChild::open(true)
    /// Variables whose values GatedChild::open supplies once they are known (LOKT_FENCE and
    /// LOKT_SLOT exist only after the gated child does). A value given replaces the variable
    /// in `env`; none leaves `env` as it is. alt_env is never changed.
    std::vector<std::string> gate_vars;
    proc::SignalState signals;        ///< the mask and ignored set the command gets
    int tty_fd = -1;                  ///< >= 0: make the new group the terminal's foreground
    bool parent_death_kill = true;    ///< PR_SET_PDEATHSIG=SIGKILL in the command
};

/// The longest value GatedChild::open passes for one of SpawnSpec::gate_vars; with at most
/// kGateVarsMax of them, the gate byte and newlines, the message stays below PIPE_BUF (one
/// atomic pipe write).
inline constexpr size_t kGateValueMax = 1800;
inline constexpr size_t kGateVarsMax = 2;

/// A command forked into its own process group (pgid = pid) and held before exec.
class GatedChild {
public:
    GatedChild(pid_t pid, sys::UniqueFd gate, sys::UniqueFd report)
        : pid_(pid), gate_(std::move(gate)), report_(std::move(report)) {}
    GatedChild(GatedChild&&) noexcept = default;
    GatedChild& operator=(GatedChild&&) noexcept = default;
    /// A child still at its gate is ended (it never execs) and reaped.
    ~GatedChild() { cancel(); }

    pid_t pid() const { return pid_; }
    /// Lets it exec, with the spec's `alt_env` when `alt` (else `env`, with values[i], when
    /// not empty, for gate_vars[i]; each at most kGateValueMax bytes, no newline).
    void open(bool alt, const std::vector<std::string>& values = {});
    /// The exec's errno once the child has exec'd or failed (0: exec'd). `wait` blocks until
    /// then; otherwise 0 is also returned when the answer is not there yet.
    int exec_errno(bool wait);
    /// Before open(): the child exits without exec'ing and is reaped. Afterwards: nothing.
    void cancel();

private:
    pid_t pid_ = 0;
    sys::UniqueFd gate_;    // write end; a GateMessage opens it, EOF cancels
    sys::UniqueFd report_;  // read end of the exec-error pipe (non-blocking)
};

/// Forks `spec` into a new process group and holds it before exec (see GatedChild).
Result<GatedChild> spawn_gated(const SpawnSpec& spec);

/// Forks and execs `spec` in a new process group (pgid = pid). Returns the pid once the exec
/// has succeeded; on failure the child is reaped and the Error's sys_errno is exec's errno
/// (ENOEXEC is retried as "/bin/sh PATH ARGS...", as glibc's execvp does).
Result<pid_t> spawn(const SpawnSpec& spec);

/// The variable that tells a guarded command its slot of a `--slots N` pool (0..N-1).
inline constexpr const char* kSlotEnv = "LOKT_SLOT";

/// The current environment with KEY set to VALUE (replaced if present).
std::vector<std::string> environment_with(const std::string& key, const std::string& value);
/// `env` without any KEY=... entry.
std::vector<std::string> environment_without(std::vector<std::string> env, const std::string& key);

} // namespace lokt::sup
