#pragma once
// The locks of seccomp mode: takes them for matching execs without ever blocking the loop
// (each name through the backend's PendingAcquire, first come first served among all its
// waiters; re-tried on wake-ups), lets the exec run once they are held, and releases them
// when the process exits or its exec failed. Works on any lokt::Backend (files, etcd).
//
// Life of one matching exec:
//   submit ─► pending (waiting, FIFO per name) ─► granted: locks taken with the process as
//   holder, pidfd opened, CONTINUE ─► running (exec confirmed through /proc/TGID/exe,
//   renewed at TTL/2) ─► released when the pidfd is readable
//   pending ─► refused (frozen, timed out): the exec fails with EAGAIN, message on its stderr
//   running ─► exec failed after CONTINUE: audited exec-failed, released
//   running ─► a lock lost (its etcd lease ended): audited lost, warned, and where the
//   backend says a lost lock may be someone else's already, the process gets SIGTERM

#include "notify.hpp"
#include "request.hpp"

#include "lokt/backend.hpp"
#include "lokt/held_lock.hpp"
#include "lokt/wait.hpp"
#include "lokt/sys.hpp"

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lokt::seccomp {

using Steady = std::chrono::steady_clock::time_point;

/// What the broker needs besides the backend.
struct BrokerConfig {
    Nanos ttl{0};  ///< > 0: locks get this TTL and are renewed every ttl/2
    /// The text after "lokt: " for a refusal (held or frozen) of `tool` (the program's name;
    /// empty: not about one exec); `waited`: the wait that ran out ("2s"), empty for an
    /// immediate refusal.
    std::function<std::string(const std::string& tool, const AcquireOutcome&, const std::string& waited)> refusal;
    /// A warning for the user of `lokt shim` (not the target), without "warning: ".
    std::function<void(const std::string&)> warn;
    /// Interval of the fallback re-try while execs wait (changes no pollable fd shows).
    Nanos retry_every = std::chrono::milliseconds(100);
    /// > 0: the process group recorded in every lock (the Anchor's), alive while we are.
    pid_t anchor_pgid = 0;
    /// > 0: a waiting exec gets a "lokt: waiting for ..." line on its stderr when its wait
    /// starts and at this interval, and "lokt: acquired ..." when it gets its locks.
    Nanos report_every{0};
};

class Broker {
public:
    /// `backend`'s identity supplies owner, host and agent id of the locks taken.
    Broker(Backend& backend, const rules::RuleSet& rs, BrokerConfig cfg, Responder& resp);
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    /// A matching exec. Names held by the process itself or an ancestor are not taken again;
    /// with nothing left to take it continues at once, otherwise it waits its turn.
    void submit(ExecRequest req);
    /// Re-tries the waiting execs (call after a change under ROOT and on the timer).
    void retry();
    /// Runs the timers that are due: deadlines, exec checks, renewals, expiries.
    void tick();
    /// Appends the fds to poll: the pidfds of waiting and running processes, and the fds of
    /// their pending and held locks (PendingAcquire::fd).
    void fill_pollfds(std::vector<pollfd>& out) const;
    /// Handles the pollfds fill_pollfds added (`fds` points at the first of them).
    void on_polled(const pollfd* fds, size_t n);
    /// When tick() wants to run next; nullopt: no timer.
    std::optional<Steady> next_wake() const;

    /// After fork, in the process that stops serving: forget the places in the queues without
    /// giving them up (the copy that carries on owns them now).
    void forget_tickets();
    /// After fork, in the copy that carries on: keeps every place in the queues under this
    /// process (they named the parent, which exits).
    void rehome_tickets();

    /// Nothing waits and nothing is held.
    bool idle() const { return pending_.empty() && running_.empty(); }
    /// Execs waiting for a lock.
    size_t waiting() const { return pending_.size(); }
    /// Processes holding locks.
    size_t holding() const { return running_.size(); }

private:
    /// A lock taken for a process, with what keeps it (an etcd lease's keepalive).
    struct Hold {
        HeldLock lock;
        std::unique_ptr<PendingAcquire> keeper;
    };
    struct Pending {
        uint64_t seq = 0;
        ExecRequest req;
        std::vector<std::string> names;   ///< still to take (sorted), after re-entrancy
        std::vector<Hold> got;
        Deadline until = Deadline::forever();  ///< when the wait ends
        Steady deadline;                  ///< until.when()
        sys::UniqueFd pidfd;              ///< the target's death drops it
        std::optional<AcquireOutcome> last;
        std::unique_ptr<PendingAcquire> acq;  ///< our place among all waiters for names[got]
        bool awaiting = false;            ///< acq has no answer yet: wait for its fd
        bool detached = false;            ///< notification gone, process alive (restart)
        Steady detached_until;
        Steady started;                   ///< submitted: the wait is timed from here
        std::optional<Steady> next_report;  ///< set once the wait has been reported
        bool waited = false;              ///< it had to wait: the end is audited
        bool done = false;
    };
    struct Running {
        ExecRequest req;
        sys::UniqueFd pidfd;
        std::vector<Hold> locks;
        bool confirmed = false;
        Steady check_started, next_check;
        Nanos check_step{0};
        Steady next_renew;
        bool done = false;
    };

    AcquireRequest request_for(const Pending& p, const std::string& name) const;
    std::string command_of(const ExecRequest& req) const;
    bool blocked_by_earlier(const Pending& p, const std::string& name) const;
    void attempt(Pending& p);
    void grant(Pending& p);
    void refuse(Pending& p, bool timed_out);
    void run_unlocked(Pending& p);
    /// The backend failed: the exec runs without its locks, with a warning.
    void broken(Pending& p, const std::string& name, const Error& e);
    void report_waiting(Pending& p, const std::string& name);
    void wait_ended(Pending& p, WaitEnd end, const std::string& lock_id);
    void release(std::vector<Hold>& locks, const std::string& reason);
    void check_exec(Running& r, Steady at);
    void renew(Running& r);
    /// Drops the locks of `r` that are lost: audited, warned, and SIGTERM where the backend
    /// says a lost lock may already be someone else's.
    void check_lost(Running& r);
    void sweep();

    Backend& backend_;
    const rules::RuleSet& rs_;
    BrokerConfig cfg_;
    Responder& resp_;
    uint64_t next_seq_ = 1;
    Steady next_retry_{};
    std::list<Pending> pending_;
    std::list<Running> running_;
};

} // namespace lokt::seccomp
