#pragma once
// `lokt guard` (DESIGN §5): the front process the caller sees, and the supervisor it forks.
//
//   front       child subreaper; creates the kernel-held liveness proof both processes share;
//               relays signals to the supervisor; returns the exit status; tears the tree
//               down and releases the locks itself if the supervisor dies
//   supervisor  own process group, child subreaper; starts the command gated in a group of
//               its own, takes the locks naming that group, lets the command run, renews at
//               TTL/2, watches its lock files, and when the command ends, the front dies or a
//               relayed TERM/HUP/QUIT goes unheeded: TERM, grace, KILL, reap until ECHILD,
//               release
//
// docs/design.md "Guard supervisor" has the reasoning.

#include "lokt/audit_event.hpp"
#include "lokt/held_lock.hpp"
#include "lokt/proc/signals.hpp"
#include "lokt/time.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lokt {

/// What happens to processes the command leaves behind when it exits.
enum class OnExit {
    term,  ///< SIGTERM them, SIGKILL after the grace period (default)
    wait,  ///< wait until they finish on their own
};

/// What the guard does when it finds that someone broke one of its locks.
enum class OnLost {
    warn,  ///< audit `lost`, warn, and let the command run on without the lock (default)
    term,  ///< also end the command tree as a relayed SIGTERM would (grace, then SIGKILL)
};

/// Everything the front and the supervisor need to run one guarded command.
struct GuardOptions {
    std::vector<std::string> argv;   ///< the command, argv[0] included, byte for byte
    std::string path;                ///< the file to execute (resolved by the caller)
    Nanos ttl{0};                    ///< > 0: renew every ttl/2
    Nanos kill_after = std::chrono::seconds(5);  ///< grace between SIGTERM and SIGKILL
    OnExit on_exit = OnExit::term;
    OnLost on_lost = OnLost::warn;
};

/// How taking the locks ended.
struct Acquisition {
    enum class End { acquired, refused, cancelled };
    End end = End::refused;
    int exit_code = 0;  ///< refused: what `lokt guard` returns (the message is already written)
};

/// The lock operations the front and supervisor perform; abstract so tests can run both
/// loops without a lock store. The real one (supervisor/backend_keeper.cpp) uses a lokt::Backend.
class LockKeeper {
public:
    virtual ~LockKeeper() = default;
    /// Front, before forking the supervisor: fixes the lock id of every lock to take and
    /// creates its kernel-held liveness proof, inherited by both processes and never by the
    /// command. Returns the planned locks; nullopt (message written) if it cannot.
    virtual std::optional<std::vector<HeldLock>> prepare() { return std::vector<HeldLock>{}; }
    /// Takes every lock, in name order, each naming process group `pgid` (the gated command's)
    /// from its first byte; stops early when `cancel_fd` becomes readable and `confirm_cancel`
    /// (which consumes what is readable) returns true; a false keeps the place in the queue.
    /// Writes the refusal message itself (collision, freeze, timeout, I/O error).
    virtual Acquisition acquire(int cancel_fd, pid_t pgid,
                                const std::function<bool()>& confirm_cancel) = 0;
    /// Renews every held lock; a lost one is audited `lost`, warned about and dropped.
    virtual void renew() = 0;
    /// How often renew() must run to keep the held locks (zero: they need no renewal).
    virtual Nanos renew_every() const { return Nanos(0); }
    /// Releases every held lock that is still ours; the `release` events say what `note` does.
    virtual void release(const ReleaseNote& note) = 0;
    /// The locks held now.
    virtual std::vector<HeldLock> held() const = 0;
    /// Front, after the supervisor died: holds those of `locks` that are still ours in the
    /// name of this process (for judges that know only pids).
    virtual void adopt(const std::vector<HeldLock>& locks) = 0;
    /// A descriptor that becomes readable when a held lock may have been taken away (the
    /// real keeper watches the lock directory); -1 when there is none. Owned by the keeper.
    virtual int loss_fd() { return -1; }
    /// Checks every held lock at once (after loss_fd() became readable, and once after it
    /// was opened); one that is no longer ours is treated as renew() treats it.
    virtual void check_held() {}
    /// How many held locks were found broken so far, by renew() or check_held().
    virtual size_t lost_count() const { return 0; }
    /// Writes the `lost` events of the losses found so far. Called after the holder acted on
    /// them: on a backend that cannot be reached the write waits for its timeout, and that
    /// must not delay the --on-lost SIGTERM. release() writes any still pending first.
    virtual void audit_losses() {}
    /// Front, at its end: removes the liveness proofs of prepare() that are left over.
    virtual void discard_proofs() {}
};

/// Runs the front: forks the supervisor, relays signals, hands the terminal over, and
/// returns the exit code `lokt guard` must exit with. `locks` is used by both processes.
int run_guard(const GuardOptions& opt, LockKeeper& locks);

} // namespace lokt
