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
    if (parts[0].size() != 20 || !parse_num(parts[0], t.stamp) || !parse_num(parts[1], t.pid) ||
        !parse_num(parts[2], t.start) || file.empty())
        return std::nullopt;
    t.host = std::string(file);
    return t;
}

Result<Ticket> Ticket::enter(const Root& root, const std::string& name, const std::string& host) {
    std::string dir = queue_dir(root, name);
    pid_t pid = ::getpid();
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%020llu", static_cast<unsigned long long>(boottime_ns()));
    TicketInfo self;
    self.file = std::string(stamp) + "-" + std::to_string(pid) + "-" +
                std::to_string(process_start_time(pid).value_or(0)) + "-" + host;
    auto parsed = parse_ticket(self.file);
    if (!parsed) return Error{"bad ticket name " + self.file};
    // Through the root's checked directories: queue/ or queue/NAME planted as a symlink is refused.
    auto fd = rootfs::open_file(root.path, dir + "/" + self.file, O_WRONLY | O_CREAT | O_EXCL, /*create_dirs=*/true);
    if (!fd) return fd.error();
    return Ticket(std::move(dir), std::move(*parsed));
}

Result<std::optional<TicketInfo>> Ticket::predecessor() const {
    auto names = sys::list_dir(dir_);
    if (!names) return names.error();
    std::vector<TicketInfo> ahead;
    for (const auto& n : *names) {
        if (n >= self_.file) continue;
        if (auto t = parse_ticket(n); t && t->host == self_.host) ahead.push_back(std::move(*t));
    }
    std::sort(ahead.begin(), ahead.end(),
              [](const TicketInfo& a, const TicketInfo& b) { return a.file < b.file; });
    // Walk from the nearest one back: only our immediate live predecessor matters; dead ones
    // left by killed waiters are removed so the queue cannot stall on them.
    for (auto it = ahead.rbegin(); it != ahead.rend(); ++it) {
        if (process_alive(it->pid, it->start)) return std::optional<TicketInfo>{*it};
        (void)sys::unlink(path_of(*it));
    }
    return std::optional<TicketInfo>{};
}

void Ticket::leave() {
    if (dir_.empty()) return;
    (void)sys::unlink(path_of(self_));
    dir_.clear();
}

} // namespace lokt::detail
