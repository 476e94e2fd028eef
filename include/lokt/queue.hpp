#pragma once
// The waiters' ticket queue ROOT/queue/NAME/ (used by wait.cpp and the seccomp broker), which makes
// waiting first come, first served. A ticket is an empty file named
// "<CLOCK_BOOTTIME ns, 20 digits>-<pid>-<starttime>-<host>", so names sort by arrival.

#include "lokt/result.hpp"
#include "lokt/root.hpp"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lokt::detail {

/// One waiter's ticket, parsed from its file name.
struct TicketInfo {
    std::string file;
    uint64_t stamp = 0;
    pid_t pid = 0;
    uint64_t start = 0;  ///< the waiter's starttime (recycled pids are told apart)
    std::string host;
};

/// Parses a ticket file name; nullopt for anything else.
std::optional<TicketInfo> parse_ticket(std::string_view file);

/// Our place in NAME's queue; the ticket is removed on destruction (every exit path).
class Ticket {
public:
    /// Creates our ticket at the back of NAME's queue.
    static Result<Ticket> enter(const Root& root, const std::string& name, const std::string& host);
    Ticket(Ticket&& o) noexcept : dir_(std::move(o.dir_)), self_(std::move(o.self_)) { o.dir_.clear(); }
    Ticket& operator=(Ticket&&) = delete;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { leave(); }

    /// The nearest live ticket of this host ahead of ours, or nullopt when we are the head.
    /// Tickets of dead waiters met on the way are removed. Other hosts' tickets are not
    /// waited for: their liveness cannot be judged from here.
    Result<std::optional<TicketInfo>> predecessor() const;
    /// The path of a ticket in this queue.
    std::string path_of(const TicketInfo& t) const { return dir_ + "/" + t.file; }
    /// Removes our ticket (idempotent).
    void leave();

private:
    Ticket(std::string dir, TicketInfo self) : dir_(std::move(dir)), self_(std::move(self)) {}
    std::string dir_;
    TicketInfo self_;
};

} // namespace lokt::detail
