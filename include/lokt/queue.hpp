#pragma once
// The waiters' ticket queue ROOT/queue/NAME/ (used by wait.cpp and the seccomp broker), which makes
// waiting first come, first served. A ticket is an empty file named
// "<CLOCK_BOOTTIME ns, 20 digits>-<pid>-<starttime>-<host>", so names sort by arrival; a
// shared waiter's stamp is followed by "s" (writer preference: see Ticket::look). Slot
// waiters take unmarked tickets: they wait for every ticket ahead, so a pool's slots go
// first come, first served.
//
// A head that does not move (a waiter in a stopped session, a planted ticket naming some
// long-lived process) would stall everyone behind it while the lock is free, so the waiter
// second in line times the head (HeadStall) and skips it after a grace period: FIFO order
// costs at most that bound per stuck ticket, never the whole timeout.

#include "lokt/result.hpp"
#include "lokt/root.hpp"
#include "lokt/sharing.hpp"
#include "lokt/time.hpp"

#include <sys/types.h>

#include <chrono>
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
    bool shared = false;  ///< a shared waiter: it may go in beside shared waiters ahead
};

/// Parses a ticket file name; nullopt for anything else.
std::optional<TicketInfo> parse_ticket(std::string_view file);

/// What a waiter sees ahead of itself in the queue.
struct QueueView {
    /// The nearest live ticket ahead that we wait for (a shared waiter waits only for exclusive
    /// ones); nullopt: we may try.
    std::optional<TicketInfo> pred;
    bool pred_is_head = false;       ///< pred is the head of the queue (we are second)
    size_t ahead = 0;                ///< live tickets of this host ahead of ours
};

/// Our place in NAME's queue; the ticket is removed on destruction (every exit path).
class Ticket {
public:
    /// Creates our ticket at the back of NAME's queue, for a request of `mode`.
    static Result<Ticket> enter(const Root& root, const std::string& name, const std::string& host,
                                LockMode mode = LockMode::exclusive);
    Ticket(Ticket&& o) noexcept : root_(std::move(o.root_)), dir_(std::move(o.dir_)), self_(std::move(o.self_)) {
        o.dir_.clear();
    }
    Ticket& operator=(Ticket&&) = delete;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { leave(); }

    /// The live tickets of this host ahead of ours. Tickets of dead waiters are removed on
    /// the way; other hosts' tickets are not waited for (their liveness cannot be judged).
    /// If ours was skipped while we could not act, it is put back in its old place.
    Result<QueueView> look() const;
    /// The nearest live ticket ahead of ours, or nullopt when we are the head (see look()).
    Result<std::optional<TicketInfo>> predecessor() const;
    /// Removes a stuck head's ticket; true if this call removed it (audit it then).
    bool skip(const TicketInfo& head) const;
    /// The path of a ticket in this queue.
    std::string path_of(const TicketInfo& t) const { return dir_ + "/" + t.file; }
    /// Our own ticket.
    const TicketInfo& self() const { return self_; }
    /// Removes our ticket (idempotent).
    void leave();
    /// Forgets the ticket without removing its file: a forked copy of this process owns it now.
    void forget() { dir_.clear(); }
    /// Re-files our ticket under the calling process (after fork), keeping its place.
    Result<void> rehome();

private:
    Ticket(std::string root, std::string dir, TicketInfo self)
        : root_(std::move(root)), dir_(std::move(dir)), self_(std::move(self)) {}
    std::string root_;  ///< the lock root: tickets are created through its checked directories
    std::string dir_;
    TicketInfo self_;
};

/// True when a live waiter of `host` with an unmarked ticket (exclusive or slot) is queued for
/// NAME: a shared or slot request without a ticket then waits (writer preference; slot FIFO).
bool exclusive_waiter_queued(const Root& root, const std::string& name, const std::string& host);

/// How long the head of a queue may leave a free lock untaken before the waiter behind it
/// skips it (2 s; LOKT_TEST_QUEUE_GRACE_MS overrides it for tests).
Nanos head_grace();

/// Times the head of the queue while the lock is free, on behalf of the waiter second in line.
class HeadStall {
public:
    using Clock = std::chrono::steady_clock;
    explicit HeadStall(Nanos grace) : grace_(grace) {}
    /// Records what the waiter sees at `at`: the head (nullopt unless it is our predecessor)
    /// and whether the lock could be taken right now. True when that same head has left
    /// the lock free for the whole grace period.
    bool stalled(const std::optional<TicketInfo>& head, bool lock_free, Clock::time_point at);
    /// When the head being timed runs out of grace; nullopt when nothing is being timed.
    std::optional<Clock::time_point> deadline() const;
    /// Starts over (after a skip, the next head gets the full grace).
    void reset() { since_.reset(), head_.clear(); }

private:
    Nanos grace_;
    std::string head_;
    std::optional<Clock::time_point> since_;
};

} // namespace lokt::detail
