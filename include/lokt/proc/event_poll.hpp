#pragma once
// One wait of a poll-based event loop (the front, the seccomp shim's plain wait, the
// teardown drain) that can neither spin nor stall on a poll that keeps failing.

#include "lokt/time.hpp"

#include <poll.h>

#include <cstddef>
#include <optional>

namespace lokt::proc {

/// What a loop remembers about its failing polls across turns.
struct PollHealth {
    Nanos backoff = std::chrono::milliseconds(100);  ///< the pause after each failure
    unsigned failures = 0;                           ///< errors other than EINTR so far
};

/// Polls `fds` until `deadline` (sys::poll). EINTR counts as nothing ready. Any other error
/// (ENOMEM, EINVAL) is written once per loop to stderr as "warning: WHO: ..." and followed
/// by a pause of `health.backoff` (capped at the deadline), so the caller's loop turns at
/// most ten times a second instead of spinning. Returns the number of ready fds (0 after an
/// error or an interruption: the caller re-checks its state either way).
int poll_events(struct pollfd* fds, size_t n, const Deadline& deadline, PollHealth& health,
                const char* who);

} // namespace lokt::proc
