#pragma once
// Threads that take exec notifications off the listener while the supervisor's loop does the
// rest. Each blocks in SECCOMP_IOCTL_NOTIF_RECV and answers what screen() passes on its own:
// the execs of a parallel build do not wait while the loop is busy with locks. Whatever may match is handed to the loop, which
// alone inspects it further and keeps the lock bookkeeping (single-threaded, as before).
//
// Threads and fork: the loop stops them (stop()) before it forks its background copy.

#include "latency.hpp"
#include "notify.hpp"

#include "lokt/result.hpp"
#include "lokt/rules_match.hpp"
#include "lokt/sys.hpp"

#include <linux/seccomp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace lokt::seccomp {

class Receivers {
public:
    Receivers(Listener& listener, const rules::RuleSet& rs) : listener_(listener), rs_(rs) {}
    ~Receivers() { stop(); }
    Receivers(const Receivers&) = delete;
    Receivers& operator=(const Receivers&) = delete;

    /// Starts `n` receiver threads (none on error). Call with the loop's signals blocked:
    /// the threads inherit that mask and take only their own wake-up signal.
    Result<void> start(unsigned n);
    /// Stops and joins every thread (a thread blocked in RECV is woken by a signal).
    void stop();
    /// Threads are serving the listener.
    bool running() const { return !threads_.empty(); }
    /// Readable when notifications wait in take() or a receiver failed.
    int wake_fd() const { return wake_.read.get(); }
    /// The notifications handed over, oldest first (drains wake_fd()).
    std::vector<seccomp_notif> take();
    /// A receive failed for another reason than a signal or a dead target.
    bool failed() const { return failed_.load(); }

private:
    void serve(size_t index) noexcept;
    void hand_over(const seccomp_notif& n) noexcept;
    void poke() noexcept;

    Listener& listener_;
    const rules::RuleSet& rs_;
    sys::Pipe wake_;
    std::vector<std::thread> threads_;
    /// What one receiver measured: its answer times, and its waits in RECV between answers.
    struct Times {
        LatencyHistogram answer;
        LatencyHistogram idle;
    };
    // One per thread, written only by it, read after the join; empty unless LOKT_LOG=debug.
    std::vector<Times> times_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> failed_{false};
    std::mutex mu_;                // guards queue_ and serving_
    std::condition_variable idle_; // serving_ reached 0
    std::deque<seccomp_notif> queue_;
    unsigned serving_ = 0;
};

/// How many receivers to run: one (more only add wake-ups on Linux 6.6+, see receivers.cpp).
unsigned receiver_count() noexcept;

} // namespace lokt::seccomp
