#pragma once
// Private to waiting (not installed): the inotify side of a wait (which files matter, the one
// blocking ppoll()), the polling backoff used where inotify cannot see changes, and the
// choice between the two.

#include "lokt/result.hpp"
#include "lokt/root.hpp"
#include "lokt/sys.hpp"
#include "lokt/time.hpp"
#include "lokt/wait.hpp"

#include <chrono>
#include <optional>
#include <random>
#include <string>

namespace lokt::detail {

using Steady = std::chrono::steady_clock;

/// Whether to use inotify for a wait under `root`: not when the options or LOKT_NO_INOTIFY
/// say so, nor on a network filesystem (changes made on another machine never reach it).
bool inotify_wanted(const Root& root, const WaitOptions& opt);

/// Jittered exponential backoff for polling: 50 ms doubling up to 1 s, +-25 %.
class Backoff {
public:
    Nanos next();
    void reset() { cur_ = std::chrono::duration<double, std::milli>(50); }

private:
    std::chrono::duration<double, std::milli> cur_{50};
    std::minstd_rand rng_{std::random_device{}()};
};

/// Why Watcher::wait returned.
enum class Wake { changed, pid_exited, timed_out, cancelled };
/// Result of watching a predecessor's ticket.
enum class TicketWatch { watching, gone, failed };

/// The inotify side of waiting for NAME: which files we care about, and the one blocking
/// ppoll(). Inactive (the caller polls) when inotify is unwanted or fails.
class Watcher {
public:
    Watcher(const Root& root, const std::string& name, bool use_inotify);
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;
    ~Watcher();

    /// inotify works here; otherwise the caller polls.
    bool active() const { return fd_.valid(); }
    /// Watches locks/ and freezes/ for NAME.json (once). A failure switches to polling.
    void watch_lock_dirs();
    /// Watches the predecessor's ticket file (its removal is our cue), replacing the last one.
    TicketWatch watch_ticket(const std::string& path);
    /// Stops watching a ticket.
    void unwatch_ticket();
    /// Sleeps until something relevant happens: an inotify event about our files, the
    /// wall-clock `expiry`, the `poll_every` tick (changed); `pid_fd` readable (pid_exited);
    /// the overall `deadline` (timed_out); `cancel_fd` readable (cancelled).
    Result<Wake> wait(int pid_fd, std::optional<TimePoint> expiry, std::optional<Nanos> poll_every,
                      Steady::time_point deadline, int cancel_fd);

private:
    bool drain();

    const Root& root_;
    std::string file_;  // NAME.json
    sys::UniqueFd fd_;
    int wd_locks_ = -1, wd_freezes_ = -1, wd_ticket_ = -1;
};

} // namespace lokt::detail
