#include "lokt/queue.hpp"

#include "lokt/identity.hpp"
#include "lokt/liveness.hpp"
#include "lokt/root_fs.hpp"
#include "lokt/sys.hpp"
#include "store_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace lokt::detail {
namespace {

template <class T>
bool parse_num(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

uint64_t boottime_ns() {
    // BOOTTIME never jumps (unlike the wall clock) and is shared by every process on the host.
    struct timespec ts {};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Creates the empty ticket file (and the queue directory on first use).
Result<void> create_ticket(const std::string& root, const std::string& dir, const std::string& file) {
    // Through the root's checked directories: queue/ or queue/NAME planted as a symlink is refused.
    auto fd = rootfs::open_file(root, dir + "/" + file, O_WRONLY | O_CREAT | O_EXCL, /*create_dirs=*/true);
    if (!fd) return fd.error();
    return {};
}

std::string ticket_name(uint64_t stamp, const std::string& host, bool shared) {
    pid_t pid = ::getpid();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(stamp));
    return std::string(buf) + (shared ? "s-" : "-") + std::to_string(pid) + "-" +
           std::to_string(process_start_time(pid).value_or(0)) + "-" + host;
}

} // namespace

std::optional<TicketInfo> parse_ticket(std::string_view file) {
    TicketInfo t;
    t.file = std::string(file);
    std::string_view parts[3];
    for (auto& part : parts) {
        auto dash = file.find('-');
        if (dash == std::string_view::npos) return std::nullopt;
        part = file.substr(0, dash);
        file.remove_prefix(dash + 1);
    }
    // The stamp decides the order; a marker after it cannot change that (equal stamps aside).
    if (parts[0].size() == 21 && parts[0].back() == 's') {
        t.shared = true;
        parts[0].remove_suffix(1);
    }
    if (parts[0].size() != 20 || !parse_num(parts[0], t.stamp) || !parse_num(parts[1], t.pid) ||
        !parse_num(parts[2], t.start) || file.empty())
        return std::nullopt;
    t.host = std::string(file);
    return t;
}

Result<Ticket> Ticket::enter(const Root& root, const std::string& name, const std::string& host,
                            LockMode mode) {
    std::string dir = queue_dir(root, name);
    // Only shared waiters go in together. Slot waiters queue like exclusive ones: marked,
    // every waiter woken by a freed slot would race for it, first come or not.
    auto self = parse_ticket(ticket_name(boottime_ns(), host, mode == LockMode::shared));
    if (!self) return Error{"bad ticket name for host " + host};
    LOKT_TRY(create_ticket(root.path, dir, self->file));
    return Ticket(root.path, std::move(dir), std::move(*self));
}

Result<QueueView> Ticket::look() const {
    auto names = sys::list_dir(dir_);
    if (!names) return names.error();
    std::vector<TicketInfo> ahead;
    bool ours_there = false;
    for (const auto& n : *names) {
        if (n == self_.file) ours_there = true;
        if (n >= self_.file) continue;
        if (auto t = parse_ticket(n); t && t->host == self_.host) ahead.push_back(std::move(*t));
    }
    // Skipped as a stuck head while we were stopped: we can act again, so we take our old
    // place back (the waiters behind us wait for us again).
    if (!ours_there) (void)create_ticket(root_, dir_, self_.file);
    std::sort(ahead.begin(), ahead.end(),
              [](const TicketInfo& a, const TicketInfo& b) { return a.file < b.file; });
    // Tickets of killed waiters are removed so the queue cannot stall on them.
    QueueView v;
    const TicketInfo* oldest = nullptr;
    for (auto it = ahead.rbegin(); it != ahead.rend(); ++it) {
        if (!process_alive(it->pid, it->start)) {
            (void)sys::unlink(path_of(*it));
            continue;
        }
        // Writer preference: shared waiters go in together, but never past an exclusive one.
        if (!v.pred && (!self_.shared || !it->shared)) v.pred = *it;
        oldest = &*it;
        ++v.ahead;
    }
    v.pred_is_head = v.pred && oldest && v.pred->file == oldest->file;
    return v;
}

Result<std::optional<TicketInfo>> Ticket::predecessor() const {
    auto v = look();
    if (!v) return v.error();
    return v->pred;
}

bool Ticket::skip(const TicketInfo& head) const { return sys::unlink(path_of(head)).ok(); }

void Ticket::leave() {
    if (dir_.empty()) return;
    (void)sys::unlink(path_of(self_));
    dir_.clear();
}

Result<void> Ticket::rehome() {
    if (dir_.empty()) return {};
    auto moved = parse_ticket(ticket_name(self_.stamp, self_.host, self_.shared));
    if (!moved) return Error{"bad ticket name for host " + self_.host};
    LOKT_TRY(create_ticket(root_, dir_, moved->file));
    (void)sys::unlink(path_of(self_));
    self_ = std::move(*moved);
    return {};
}

bool exclusive_waiter_queued(const Root& root, const std::string& name, const std::string& host) {
    auto d = rootfs::Dir::open(root.path, queue_dir(root, name), false);
    if (!d) return false;  // no queue yet: nobody waits
    auto names = d->list();
    if (!names) return false;
    for (const auto& n : *names) {
        auto t = parse_ticket(n);
        if (t && !t->shared && t->host == host && process_alive(t->pid, t->start)) return true;
    }
    return false;
}

Nanos head_grace() {
    if (const char* e = std::getenv("LOKT_TEST_QUEUE_GRACE_MS"); e && *e) {
        long long ms = 0;
        if (parse_num(std::string_view(e), ms) && ms >= 0) return std::chrono::milliseconds(ms);
    }
    return std::chrono::seconds(2);
}

bool HeadStall::stalled(const std::optional<TicketInfo>& head, bool lock_free, Clock::time_point at) {
    if (!head || !lock_free) {
        reset();
        return false;
    }
    if (!since_ || head_ != head->file) {
        head_ = head->file;
        since_ = at;
    }
    return at - *since_ >= grace_;
}

std::optional<HeadStall::Clock::time_point> HeadStall::deadline() const {
    if (!since_) return std::nullopt;
    return *since_ + grace_;
}

} // namespace lokt::detail
