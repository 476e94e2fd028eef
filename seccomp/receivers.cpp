#include "receivers.hpp"

#include "screen.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace lokt::seccomp {
namespace {

// Thread-directed only (pthread_kill): ends a receiver's wait in RECV with EINTR.
int wake_signal() { return SIGRTMIN; }

void on_wake_signal(int) {}

} // namespace

unsigned receiver_count() noexcept {
    return std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
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
    // The receivers wait in RECV, where the synchronous mode applies; without it they work
    // as well, only with slower wake-ups.
    (void)listener_.prefer_sync_wakeups();
    try {
        for (unsigned i = 0; i < n; ++i) {
            {
                std::lock_guard lk(mu_);
                ++serving_;
            }
            threads_.emplace_back([this] { serve(); });
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

void Receivers::serve() noexcept {
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
    while (!failed_ && !stopping_.load()) {
        auto got = listener_.receive_into(buf.data());
        if (!got) {
            failed_ = true;
            break;
        }
        if (*got != Listener::Got::notification) continue;
        const auto& n = *reinterpret_cast<const seccomp_notif*>(buf.data());
        if (screen(n, rs_) == Screen::pass) listener_.allow(n.id);
        else hand_over(n);
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
    threads_.clear();
}

} // namespace lokt::seccomp
