#pragma once
// Waiting for a lock (DESIGN §4 "Waiting"): woken by the release itself (inotify on locks/ and
// freezes/), by the holder's death (pidfd, same host), by TTL or freeze expiry (timer); a
// jittered slow poll only where inotify cannot see changes (NFS). Waiters are served first
// come, first served through a ticket queue under ROOT/queue/NAME/ (dead waiters pruned).

#include "lokt/queue.hpp"
#include "lokt/store.hpp"

#include <functional>

namespace lokt {

/// What a waiter sees, for progress reports (WaitOptions::progress).
struct WaitProgress {
    enum class Phase { waiting, acquired, timed_out, cancelled, refused };
    Phase phase = Phase::waiting;
    std::string name;
    std::optional<AcquireOutcome> blocker;  ///< the Held or Frozen seen last (a Held with an
                                            ///< empty lock_id: free, but others are ahead)
    size_t ahead = 0;                       ///< waiters of this host ahead of us
    Nanos waited{0};                        ///< since the wait began
};

struct WaitOptions {
    Nanos timeout = std::chrono::minutes(10);  ///< the original's default for --wait
    int cancel_fd = -1;  ///< if >= 0 and it becomes readable (e.g. a pidfd), stop waiting
    /// Called when cancel_fd is readable: true stops the wait, false keeps waiting in place.
    /// It must consume what made cancel_fd readable. Unset: a readable cancel_fd stops it.
    std::function<bool()> confirm_cancel;
    /// Called when the wait starts blocking, every progress_every while it blocks, and when a
    /// wait that blocked ends (acquired, timed out, cancelled). Unset: no reports.
    std::function<void(const WaitProgress&)> progress;
    Nanos progress_every = std::chrono::seconds(60);
    /// Called with what blocks the lock (a Held or Frozen) before queueing and at each look
    /// while waiting: true ends the wait at once as WaitEnd::refused (a freeze under
    /// --on-frozen fail, the caller's own lease). Unset: everything is waited for.
    std::function<bool(const AcquireOutcome&)> stop_on;
    /// Never use inotify: poll with jittered backoff (50 ms .. 1 s), as on NFS. Also forced by
    /// the environment variable LOKT_NO_INOTIFY=1, and chosen automatically when the root is
    /// on a network filesystem (NFS, CIFS/SMB, 9p, Ceph, AFS) or inotify is unavailable.
    bool poll_only = false;
};

/// Why acquire_waiting gave up without the lock (refused: WaitOptions::stop_on said so).
enum class WaitEnd { acquired, timed_out, cancelled, refused };

struct WaitResult {
    WaitEnd end = WaitEnd::timed_out;
    AcquireOutcome outcome;  ///< Acquired, or the last Held/Frozen seen
};

/// For a waiter behind others (`view` from its ticket): times the head of the queue while
/// NAME is free and, once the head has left it free for the whole grace, removes the head's
/// ticket (audited `queue-skip`). True when the head was skipped (look again).
bool skip_stalled_head(Store& store, const std::string& name, const detail::Ticket& ticket,
                       detail::HeadStall& stall, const detail::QueueView& view);

/// The `wait` event that ends a wait of `waiter` which blocked (see audit_wait_end).
AuditEvent wait_end_event(const Identity& waiter, const std::string& name, const std::string& lock_id,
                          Nanos waited, WaitEnd end);
/// Audits the end of a wait that blocked: a `wait` event with `waited_sec` and `result`
/// (acquired, timed-out, cancelled, refused); `pid` is the waiter, `lock_id` the lock it got (if any).
void audit_wait_end(Store& store, const std::string& name, pid_t pid, const std::string& lock_id,
                    Nanos waited, WaitEnd end);

/// Tries, then waits (FIFO) until acquired, the timeout passes, or cancel_fd is readable.
/// Freezes are waited through unless stop_on says otherwise. Audits like try_acquire; the caller audits the final denial.
/// Order is kept among waiters of this host (another host's waiters cannot be judged alive);
/// a head of the queue that leaves the lock free for detail::head_grace() is skipped
/// (audited queue-skip), so a stopped waiter cannot stall the others;
/// a plain try_acquire does not queue. When time runs out and the lock happens to be free,
/// it is taken (end == acquired). The ticket is removed on every return path. A wait that
/// blocked is audited as a `wait` event with `waited_sec` and its `result` when it ends.
Result<WaitResult> acquire_waiting(Store& store, const AcquireRequest& req, const WaitOptions& opt);

} // namespace lokt
