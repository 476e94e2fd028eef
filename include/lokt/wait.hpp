#pragma once
// Waiting for a lock (DESIGN §4 "Waiting"): woken by the release itself (inotify on locks/ and
// freezes/), by the holder's death (pidfd, same host), by TTL or freeze expiry (timer); a
// jittered slow poll only where inotify cannot see changes (NFS). Waiters are served first
// come, first served through a ticket queue under ROOT/queue/NAME/ (dead waiters pruned).

#include "lokt/store.hpp"

namespace lokt {

struct WaitOptions {
    Nanos timeout = std::chrono::minutes(10);  ///< the original's default for --wait
    int cancel_fd = -1;  ///< if >= 0 and it becomes readable (e.g. a pidfd), stop waiting
    /// Never use inotify: poll with jittered backoff (50 ms .. 1 s), as on NFS. Also forced by
    /// the environment variable LOKT_NO_INOTIFY=1, and chosen automatically when the root is
    /// on a network filesystem (NFS, CIFS/SMB, 9p, Ceph, AFS) or inotify is unavailable.
    bool poll_only = false;
};

/// Why acquire_waiting gave up without the lock.
enum class WaitEnd { acquired, timed_out, cancelled };

struct WaitResult {
    WaitEnd end = WaitEnd::timed_out;
    AcquireOutcome outcome;  ///< Acquired, or the last Held/Frozen seen
};

/// Tries, then waits (FIFO) until acquired, the timeout passes, or cancel_fd is readable.
/// Freezes are waited through. Audits like try_acquire; the caller audits the final denial.
/// Order is kept among waiters of this host (another host's waiters cannot be judged alive);
/// a plain try_acquire does not queue. When time runs out and the lock happens to be free,
/// it is taken (end == acquired). The ticket is removed on every return path.
Result<WaitResult> acquire_waiting(Store& store, const AcquireRequest& req, const WaitOptions& opt);

} // namespace lokt
