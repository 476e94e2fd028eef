#include "receivers.hpp"

#include "screen.hpp"

#include "lokt/log.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

namespace lokt::seccomp {
namespace {

// Thread-directed only (pthread_kill): ends a receiver's wait in RECV with EINTR.
int wake_signal() { return SIGRTMIN; }

void on_wake_signal(int) {}

} // namespace

unsigned receiver_count() noexcept {
    // One. Since Linux 6.6 a receiver blocked in RECV waits non-exclusively (recv_wait_event in
    // kernel/seccomp.c), so every notification wakes every blocked receiver and all but one go
    // back to sleep: with two or more, a make -j8 was slower, not faster (scripts/bench_exec.sh).
    // The fast path answers in a few microseconds, far faster than any build can exec.
    return 1;
}

Result<void> Receivers::start(unsigned n) {
    if (running()) return {};
    auto pipe = sys::pipe(O_NONBLOCK);
    if (!pipe) return pipe.error();
    wake_ = std::move(*pipe);
    // No SA_RESTART: RECV must return to the loop that checks stopping_.
    struct sigaction sa {};
    sa.sa_handler = on_wake_signal;
    ::sigemptyset(&sa.sa_mask);
    if (::sigaction(wake_signal(), &sa, nullptr) != 0) return Error::from_errno("sigaction", errno);
    stopping_ = false;
    failed_ = false;
    times_.clear();
    if (log::enabled(log::Level::debug)) times_.resize(n);
    // The receivers wait in RECV, where the synchronous mode applies; without it they work
    // as well, only with slower wake-ups.
    (void)listener_.prefer_sync_wakeups();
    try {
        for (unsigned i = 0; i < n; ++i) {
            {
                std::lock_guard lk(mu_);
                ++serving_;
            }
            threads_.emplace_back([this, i] { serve(i); });
        }
    } catch (const std::system_error& e) {
        {
            std::lock_guard lk(mu_);
            --serving_;  // the thread that failed to start
        }
        stop();
        return Error::from_errno("starting the seccomp receivers", e.code().value());
    }
    return {};
}

void Receivers::serve(size_t index) noexcept {
    sigset_t wake;
    ::sigemptyset(&wake);
    ::sigaddset(&wake, wake_signal());
    ::pthread_sigmask(SIG_UNBLOCK, &wake, nullptr);
    // Sized once: the kernel's notification struct may be larger than ours.
    std::vector<unsigned char> buf;
    try {
        buf.resize(listener_.notif_size());
    } catch (...) {
        failed_ = true;
    }
    Times* times = index < times_.size() ? &times_[index] : nullptr;
    using Clock = std::chrono::steady_clock;
    std::optional<Clock::time_point> answered_at;  // the last fast-path answer (debug only)
    while (!failed_ && !stopping_.load()) {
        auto got = listener_.receive_into(buf.data());
        if (!got) {
            failed_ = true;
            break;
        }
        if (*got != Listener::Got::notification) continue;
        const Clock::time_point got_at = times ? Clock::now() : Clock::time_point();
        if (times && answered_at) times->idle.add(got_at - *answered_at);
        const auto& n = *reinterpret_cast<const seccomp_notif*>(buf.data());
        if (screen(n, rs_) == Screen::pass) {
            listener_.allow(n.id);
            if (times) {
                answered_at = Clock::now();
                times->answer.add(*answered_at - got_at);
            }
        } else {
            answered_at.reset();
            hand_over(n);
        }
    }
    if (failed_) poke();
    std::lock_guard lk(mu_);
    if (--serving_ == 0) idle_.notify_all();
}

void Receivers::hand_over(const seccomp_notif& n) noexcept {
    try {
        std::lock_guard lk(mu_);
        queue_.push_back(n);
    } catch (...) {
        listener_.allow(n.id);  // out of memory: run it unlocked rather than stall it
        return;
    }
    poke();
}

void Receivers::poke() noexcept {
    // A full pipe already wakes the loop: a failed write loses nothing.
    const char b = 1;
    ssize_t r = ::write(wake_.write.get(), &b, 1);
    (void)r;
}

std::vector<seccomp_notif> Receivers::take() {
    char sink[256];
    while (::read(wake_.read.get(), sink, sizeof sink) > 0) {
    }
    std::lock_guard lk(mu_);
    std::vector<seccomp_notif> out(queue_.begin(), queue_.end());
    queue_.clear();
    return out;
}

void Receivers::stop() {
    if (threads_.empty()) return;
    stopping_ = true;
    std::unique_lock lk(mu_);
    // A signal that lands just before a thread enters RECV is lost: repeat until all left.
    while (serving_ > 0) {
        for (auto& t : threads_) ::pthread_kill(t.native_handle(), wake_signal());
        idle_.wait_for(lk, std::chrono::milliseconds(1));
    }
    lk.unlock();
    for (auto& t : threads_) t.join();
    if (!times_.empty()) {
        Times all;
        for (const auto& t : times_) {
            all.answer.merge(t.answer);
            all.idle.merge(t.idle);
        }
        LOKT_LOG(debug, "seccomp receivers (", threads_.size(), "): fast-path answers, RECV to CONTINUE: ",
                 all.answer.summary("answers"), "; waits in RECV after an answer: ", all.idle.summary("waits"));
    }
    threads_.clear();
}

} // namespace lokt::seccomp
