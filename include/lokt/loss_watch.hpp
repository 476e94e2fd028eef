#pragma once
// Noticing at once that a guard's lock was broken: an inotify watch on the lock directory.

#include "lokt/sys.hpp"

#include <string>

namespace lokt {

/// Wakes a guard whenever a lock file in `locks_dir` is removed or replaced, so it can check
/// its own right away (a `--force` break of a lock without a TTL). Never blocks.
class LossWatch {
public:
    /// Watches `locks_dir`; fd() is -1 when inotify is unavailable (then only a TTL guard's
    /// renewal notices a loss).
    explicit LossWatch(const std::string& locks_dir);

    /// Readable when something changed in the directory; -1 when inactive.
    int fd() const { return fd_.valid() ? fd_.get() : -1; }
    /// Discards every queued event. Call before checking the locks, so a change made during
    /// the check wakes the loop again.
    void drain();

private:
    sys::UniqueFd fd_;
};

} // namespace lokt
