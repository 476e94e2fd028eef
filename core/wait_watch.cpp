#include "wait_watch.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace lokt::detail {
namespace {

// Filesystems whose changes made on another machine never reach our inotify.
bool network_filesystem(long type) {
    switch (static_cast<uint32_t>(type)) {
    case 0x6969u:      // NFS
    case 0x517Bu:      // SMB
    case 0xFF534D42u:  // CIFS
    case 0xFE534D42u:  // SMB2
    case 0x01021997u:  // 9p
    case 0x00C36400u:  // Ceph
    case 0x5346414Fu:  // AFS
    case 0x6B414653u:  // kAFS
        return true;
    default:
        return false;
    }
}

// Closing an inotify instance makes the kernel wait for an SRCU grace period (several ms, in
// scheduler-tick steps). That would sit between taking the lock and returning to the caller,
// so instances are recycled within the process instead. A forked child must not reuse its
// parent's instances (both would read one event queue), hence the owner pid.
class InotifyPool {
public:
    sys::UniqueFd take() {
        std::lock_guard lock(mu_);
        adopt();
        if (free_.empty()) {
            auto fd = sys::inotify_init(IN_NONBLOCK);
            return fd ? std::move(*fd) : sys::UniqueFd();
        }
        sys::UniqueFd fd = std::move(free_.back());
        free_.pop_back();
        return fd;
    }
    void give(sys::UniqueFd fd) {
        std::lock_guard lock(mu_);
        adopt();
        free_.push_back(std::move(fd));
    }

private:
    void adopt() {
        if (owner_ == ::getpid()) return;
        free_.clear();  // inherited across fork(): drop our references, the parent keeps its own
        owner_ = ::getpid();
    }
    std::mutex mu_;
    std::vector<sys::UniqueFd> free_;
    pid_t owner_ = ::getpid();
};

InotifyPool& inotify_pool() {
    static auto* pool = new InotifyPool;  // never destroyed: at exit the kernel closes the fds
    return *pool;
}

} // namespace

Nanos Backoff::next() {
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    auto d = std::chrono::duration_cast<Nanos>(cur_ * jitter(rng_));
    cur_ = std::min(cur_ * 2, std::chrono::duration<double, std::milli>(1000));
    return d;
}

bool inotify_wanted(const Root& root, const WaitOptions& opt) {
    if (opt.poll_only) return false;
    if (const char* e = std::getenv("LOKT_NO_INOTIFY"); e && *e && std::strcmp(e, "0") != 0)
        return false;
    auto st = sys::statfs(root.path);
    return !(st && network_filesystem(static_cast<long>(st->f_type)));
}

Watcher::Watcher(const Root& root, const std::string& name, bool use_inotify)
    : root_(root), file_(name + ".json") {
    if (use_inotify) fd_ = inotify_pool().take();
}

Watcher::~Watcher() {
    if (!active()) return;
    for (int wd : {wd_locks_, wd_freezes_, wd_ticket_})
        if (wd >= 0) sys::inotify_rm_watch(fd_.get(), wd);
    wd_locks_ = wd_freezes_ = wd_ticket_ = -1;
    (void)drain();  // leave the queue empty for the next user (IN_IGNORED, stale events)
    inotify_pool().give(std::move(fd_));
}

void Watcher::watch_lock_dirs() {
    if (!active() || wd_locks_ >= 0) return;
    constexpr uint32_t mask = IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE;
    auto l = sys::inotify_add_watch(fd_.get(), root_.locks_dir(), mask);
    if (!l && l.error().sys_errno == ENOENT && ensure_root_dirs(root_))
        l = sys::inotify_add_watch(fd_.get(), root_.locks_dir(), mask);
    auto f = sys::inotify_add_watch(fd_.get(), root_.freezes_dir(), mask);
    if (!l || !f) {
        fd_.reset();
        return;
    }
    wd_locks_ = *l;
    wd_freezes_ = *f;
}

TicketWatch Watcher::watch_ticket(const std::string& path) {
    unwatch_ticket();
    if (!active()) return TicketWatch::failed;
    // Unlinking a file changes its link count (IN_ATTRIB) and then frees it (DELETE_SELF).
    auto wd = sys::inotify_add_watch(fd_.get(), path, IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
    if (!wd) return wd.error().sys_errno == ENOENT ? TicketWatch::gone : TicketWatch::failed;
    wd_ticket_ = *wd;
    return TicketWatch::watching;
}

void Watcher::unwatch_ticket() {
    if (wd_ticket_ >= 0 && active()) sys::inotify_rm_watch(fd_.get(), wd_ticket_);
    wd_ticket_ = -1;
}

Result<Wake> Watcher::wait(int pid_fd, std::optional<TimePoint> expiry,
                           std::optional<Nanos> poll_every, Steady::time_point deadline,
                           int cancel_fd) {
    const auto started = Steady::now();
    for (;;) {
        auto at = Steady::now();
        if (at >= deadline) return Wake::timed_out;
        Nanos t = std::chrono::duration_cast<Nanos>(deadline - at);
        bool tick = false;
        if (expiry) {
            Nanos left = std::max(Nanos(0), *expiry - now());
            if (left <= t) t = left, tick = true;
        }
        if (poll_every) {
            Nanos left = std::max(Nanos(0), *poll_every - (at - started));
            if (left <= t) t = left, tick = true;
        }
        struct pollfd fds[3];
        size_t n = 0;
        int i_cancel = -1, i_pid = -1, i_ino = -1;
        if (cancel_fd >= 0) i_cancel = static_cast<int>(n), fds[n++] = {cancel_fd, POLLIN, 0};
        if (pid_fd >= 0) i_pid = static_cast<int>(n), fds[n++] = {pid_fd, POLLIN, 0};
        if (active()) i_ino = static_cast<int>(n), fds[n++] = {fd_.get(), POLLIN, 0};
        auto r = sys::poll(fds, n, t);
        if (!r) return r.error();
        if (*r == 0) {
            if (tick && Steady::now() - at >= t) return Wake::changed;
            continue;  // a signal interrupted us, or the deadline: the loop decides
        }
        if (i_cancel >= 0 && fds[i_cancel].revents) return Wake::cancelled;
        if (i_pid >= 0 && fds[i_pid].revents) return Wake::pid_exited;
        if (i_ino >= 0 && fds[i_ino].revents && drain()) return Wake::changed;
    }
}

// Reads every queued event; true if one concerns us. Events about other names (other
// waiters' locks in the same directory) are swallowed without waking the caller.
bool Watcher::drain() {
    alignas(struct inotify_event) char buf[8192];
    bool relevant = false;
    for (;;) {
        auto got = sys::read_some(fd_.get(), buf, sizeof buf);
        if (!got || *got == 0) {
            if (!got && got.error().sys_errno != EAGAIN) {
                fd_.reset();  // broken inotify: fall back to polling
                return true;
            }
            return relevant;
        }
        for (size_t off = 0; off < *got;) {
            const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
            off += sizeof(struct inotify_event) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) relevant = true;
            else if (ev->wd == wd_ticket_) relevant = true;
            else if ((ev->wd == wd_locks_ || ev->wd == wd_freezes_) && ev->len > 0 &&
                     file_ == ev->name)
                relevant = true;
        }
    }
}

} // namespace lokt::detail
