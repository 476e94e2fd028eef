// Waiting for a lock: a FIFO ticket queue (queue.cpp) in front of try_acquire. Only the head
// of the queue tries; it sleeps on exactly the events that can end its wait (the lock file or
// the freeze going away, the holder's death, the TTL or freeze expiry). The others each sleep
// on their predecessor's ticket (and its pidfd), so a release wakes one process, not all.
#include "lokt/wait.hpp"

#include "lokt/liveness.hpp"
#include "lokt/log.hpp"
#include "lokt/name.hpp"
#include "lokt/proc_stat.hpp"
#include "lokt/sys.hpp"
#include "lokt/queue.hpp"
#include "store_io.hpp"
#include "wait_watch.hpp"

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace lokt {
namespace {

using detail::Steady;
using detail::TicketWatch;
using detail::Wake;

/// Processes whose pidfd already fired. One that still looks alive afterwards is a zombie
/// nobody has reaped yet (/proc still lists it): waiting on its pidfd again would spin, so
/// for it we fall back to polling until it is reaped.
struct Exited {
    std::vector<std::pair<pid_t, uint64_t>> seen;
    bool contains(pid_t pid, uint64_t start) const {
        return std::find(seen.begin(), seen.end(), std::pair{pid, start}) != seen.end();
    }
};

/// A pidfd for `pid` if it is (still) the process that started at `start`; else invalid.
sys::UniqueFd pidfd_if_alive(pid_t pid, uint64_t start, const Exited& exited) {
    if (pid <= 0 || exited.contains(pid, start)) return {};
    auto fd = sys::pidfd_open(pid);
    if (!fd) return {};
    // Checked after opening: the pidfd pins this exact process, so a recycled pid cannot
    // slip in between the check and the wait.
    if (!process_alive(pid, start)) return {};
    return std::move(*fd);
}

/// Whether the holder's death may free the lock (a lease's pid says nothing, P4).
bool death_matters(const LockRecord& holder, const std::string& host) {
    return holder.host == host && holder.pid > 0 && (!holder.kind || *holder.kind != LockKind::lease);
}

/// What blocks `req` right now (to report when giving up); with `may_acquire`, a lock that
/// turns out to be free is taken instead.
Result<AcquireOutcome> current_outcome(Store& store, const AcquireRequest& req, bool may_acquire) {
    auto fz = store.active_freeze(req.name);
    if (!fz) return fz.error();
    if (*fz) return AcquireOutcome{Frozen{**fz}};
    auto rd = store.read(req.name);
    if (!rd) return rd.error();
    if (rd->record) return AcquireOutcome{Held{*rd->record}};
    if (may_acquire) return store.try_acquire(req);
    return AcquireOutcome{Held{}};
}

/// Whether a slot pool has a slot that no live holder has.
bool pool_has_room(Store& store, const LockRecord& group, int slots) {
    auto holders = store.holders(group.name);
    if (!holders) return false;
    const TimePoint at = now();
    const auto live = std::count_if(holders->begin(), holders->end(), [&](const LockRecord& h) {
        return !h.expired(at) && !provably_gone(h, store.local_view());
    });
    return live < slots;
}

/// Whether the head of the queue could take NAME right now (nothing holds it, only a holder
/// it would prune, or a pool with a free slot). Unsure (an I/O error, a corrupt file) counts
/// as not free.
bool lock_free(Store& store, const std::string& name) {
    auto fz = store.active_freeze(name);
    if (!fz || *fz) return false;
    auto rd = store.read(name);
    if (!rd) return false;
    if (!rd->record) return rd->status == DecodeStatus::ok;
    // Slot waiters queue one behind the other: a head that leaves a free slot untaken
    // stalls them all, so it is timed like one that leaves a free lock untaken.
    if (const Sharing s = sharing_of(*rd->record); is_group(*rd->record) && s.mode == LockMode::slots)
        return pool_has_room(store, *rd->record, s.slots);
    return rd->record->expired(now()) || provably_gone(*rd->record, store.local_view());
}

/// Audits that a stuck head's ticket was skipped.
void audit_skip(Store& store, const std::string& name, const detail::TicketInfo& head) {
    auto st = read_proc_stat(head.pid);
    const bool stopped = st && (st->state == 'T' || st->state == 't');
    AuditEvent e = make_event("queue-skip", store.self(), name, nullptr, false);
    e.extra = {{"skipped_pid", head.pid}, {"reason", stopped ? "stopped" : "idle"}};
    write_event(store.audit(), e);
}

/// One call of acquire_waiting: the queue, the two ways of sleeping (behind another waiter,
/// or at the head on the lock itself), progress reports and the final audit.
class Waiter {
public:
    Waiter(Store& store, const AcquireRequest& req, const WaitOptions& opt)
        : store_(store), req_(req), opt_(opt),
          deadline_(Deadline::after(opt.timeout, began_).when()),  // saturates: never wraps
          watcher_(store.root(), req.name, detail::inotify_wanted(store.root(), opt)),
          stall_(detail::head_grace()) {}

    Result<WaitResult> run();

private:
    /// The end of the wait when stop_on refuses `blocker`; nullopt: keep waiting.
    std::optional<Result<WaitResult>> stop_for(const AcquireOutcome& blocker);
    /// One round behind another waiter; nullopt: go round again.
    std::optional<Result<WaitResult>> behind(const detail::QueueView& view);
    /// One round at the head of the queue; nullopt: go round again.
    std::optional<Result<WaitResult>> at_head();
    /// Handles how a sleep ended; nullopt: go round again.
    std::optional<Result<WaitResult>> woke(Result<Wake> w, std::pair<pid_t, uint64_t> watched);
    Result<WaitResult> give_up(Wake w);
    Result<WaitResult> finish(Result<WaitResult> r);
    /// A progress report when one is due; returns when the next is due.
    std::optional<Steady::time_point> report(size_t ahead);
    /// The sooner of a poll tick and a deadline (progress, stall).
    static std::optional<Nanos> sooner(std::optional<Nanos> tick, std::optional<Steady::time_point> at);
    bool really_cancelled() const { return !opt_.confirm_cancel || opt_.confirm_cancel(); }

    Store& store_;
    const AcquireRequest& req_;
    const WaitOptions& opt_;
    const Steady::time_point began_ = Steady::now();
    const Steady::time_point deadline_;
    detail::Watcher watcher_;
    std::optional<detail::Ticket> ticket_;
    std::optional<AcquireOutcome> last_;
    detail::Backoff backoff_;
    Exited exited_;
    bool head_ = false;
    bool blocked_ = false;  // slept at least once: the end is reported and audited
    detail::HeadStall stall_;
    std::optional<Steady::time_point> next_report_;
};

Result<WaitResult> Waiter::run() {
    // A readable cancel_fd ends the wait only when the caller confirms it (a harmless
    // signal relayed to a waiting guard must not cost its place in the queue).
    if (opt_.cancel_fd >= 0) {
        struct pollfd p {opt_.cancel_fd, POLLIN, 0};
        auto r = sys::poll(&p, 1, Nanos(0));
        if (r && *r > 0 && really_cancelled()) {
            auto cur = current_outcome(store_, req_, false);
            if (!cur) return cur.error();
            return WaitResult{WaitEnd::cancelled, *cur};
        }
    }
    if (opt_.stop_on) {
        // Refused before queueing: nothing to wait for, and nobody behind us is delayed.
        auto cur = current_outcome(store_, req_, false);
        if (!cur) return cur.error();
        if (auto stop = stop_for(*cur)) return std::move(*stop);
        // A freeze set while we wait behind others must end the wait too: watch for it.
        watcher_.watch_lock_dirs();
    }
    // Without a ticket (queue directory not writable) we still wait, just not in order.
    if (auto t = detail::Ticket::enter(store_.root(), req_.name, store_.self().host, req_.mode))
        ticket_.emplace(std::move(*t));
    for (;;) {
        std::optional<Result<WaitResult>> done;
        if (ticket_) {
            auto view = ticket_->look();
            if (!view) {
                ticket_.reset();  // the queue is unreadable: degrade to unordered waiting
                continue;
            }
            if (view->pred) {
                done = behind(*view);
                if (done) return finish(std::move(*done));
                continue;
            }
            watcher_.unwatch_ticket();
            stall_.reset();
        }
        done = at_head();
        if (done) return finish(std::move(*done));
    }
}

std::optional<Result<WaitResult>> Waiter::behind(const detail::QueueView& view) {
    head_ = false;
    const detail::TicketInfo pred = *view.pred;
    // Second in line: a head that leaves the lock free for the whole grace (it is stopped,
    // or the ticket names some unrelated live process) is skipped.
    if (view.pred_is_head) watcher_.watch_lock_dirs();  // the lock falling free starts the clock
    if (opt_.stop_on) {
        auto cur = current_outcome(store_, req_, false);
        if (!cur) return Result<WaitResult>(cur.error());
        if (auto stop = stop_for(*cur)) return stop;
    }
    if (skip_stalled_head(store_, req_.name, *ticket_, stall_, view)) return std::nullopt;
    const std::optional<Steady::time_point> stall_at = stall_.deadline();
    auto watch = watcher_.watch_ticket(ticket_->path_of(pred));
    if (watch == TicketWatch::gone) return std::nullopt;
    sys::UniqueFd pidfd = pidfd_if_alive(pred.pid, pred.start, exited_);
    std::optional<Nanos> poll_every;
    if (watch == TicketWatch::failed || !pidfd.valid()) poll_every = backoff_.next();
    poll_every = sooner(sooner(poll_every, stall_at), report(view.ahead));
    LOKT_LOG(debug, "waiting for \"", req_.name, "\": ", view.ahead, " ahead in the queue (next: pid ", pred.pid, ")");
    blocked_ = true;
    return woke(watcher_.wait(pidfd.get(), {}, poll_every, deadline_, opt_.cancel_fd), {pred.pid, pred.start});
}

std::optional<Result<WaitResult>> Waiter::at_head() {
    if (!head_) {
        head_ = true;
        backoff_.reset();
        watcher_.watch_lock_dirs();  // before trying, so a release right after is not missed
    }
    AcquireRequest req = req_;
    req.queued = ticket_.has_value();  // our place in the queue already puts us behind writers
    auto out = store_.try_acquire(req);
    if (!out) return Result<WaitResult>(out.error());
    if (std::holds_alternative<Acquired>(*out)) return Result<WaitResult>(WaitResult{WaitEnd::acquired, *out});
    last_ = *out;
    if (auto stop = stop_for(*out)) return stop;

    std::optional<TimePoint> expiry;
    sys::UniqueFd pidfd;
    std::pair<pid_t, uint64_t> watched{0, 0};
    std::optional<Nanos> poll_every;
    if (const auto* h = std::get_if<Held>(&*out)) {
        expiry = h->holder.expires_at;
        if (death_matters(h->holder, store_.self().host)) {
            pidfd = pidfd_if_alive(h->holder.pid, h->holder.pid_start_ns, exited_);
            if (pidfd.valid()) watched = {h->holder.pid, h->holder.pid_start_ns};
            // Holder dead but its process group lives on (or no pidfds): nothing will
            // notify us when the group empties, so look again now and then.
            if (!pidfd.valid()) poll_every = backoff_.next();
        }
        // A group's other holders can die unseen (only the one it mirrors is watched).
        if (is_group(h->holder)) poll_every = backoff_.next();
    } else if (const auto* f = std::get_if<Frozen>(&*out)) {
        expiry = f->freeze.expires_at;
    }
    if (!watcher_.active()) poll_every = backoff_.next();
    poll_every = sooner(poll_every, report(0));
    blocked_ = true;
    return woke(watcher_.wait(pidfd.get(), expiry, poll_every, deadline_, opt_.cancel_fd), watched);
}

std::optional<Result<WaitResult>> Waiter::woke(Result<Wake> w, std::pair<pid_t, uint64_t> watched) {
    if (!w) return Result<WaitResult>(w.error());
    if (*w == Wake::pid_exited) exited_.seen.push_back(watched);
    else if (*w == Wake::cancelled && !really_cancelled()) return std::nullopt;
    else if (*w != Wake::changed) return give_up(*w);
    return std::nullopt;
}

std::optional<Result<WaitResult>> Waiter::stop_for(const AcquireOutcome& blocker) {
    const auto* h = std::get_if<Held>(&blocker);
    // A free lock with others ahead (an empty Held) is nothing to refuse.
    if (!opt_.stop_on || (h && h->holder.lock_id.empty()) || !opt_.stop_on(blocker)) return std::nullopt;
    return Result<WaitResult>(WaitResult{WaitEnd::refused, blocker});
}

Result<WaitResult> Waiter::give_up(Wake w) {
    ticket_.reset();  // leave the queue before the final look
    if (w == Wake::cancelled) {
        if (!last_) {
            auto cur = current_outcome(store_, req_, false);
            if (!cur) return cur.error();
            last_ = *cur;
        }
        return WaitResult{WaitEnd::cancelled, *last_};
    }
    // Timed out: one last look. If the lock fell free just now, take it rather than report
    // a holder that is gone.
    auto cur = current_outcome(store_, req_, true);
    if (!cur) return cur.error();
    if (std::holds_alternative<Acquired>(*cur)) return WaitResult{WaitEnd::acquired, *cur};
    const auto* h = std::get_if<Held>(&*cur);
    if (!last_ || !h || !h->holder.lock_id.empty()) last_ = *cur;
    return WaitResult{WaitEnd::timed_out, *last_};
}

Result<WaitResult> Waiter::finish(Result<WaitResult> r) {
    ticket_.reset();
    if (!r || !blocked_) return r;
    const Nanos waited = std::chrono::duration_cast<Nanos>(Steady::now() - began_);
    WaitProgress p;
    p.name = req_.name;
    p.waited = waited;
    p.blocker = r->outcome;
    p.phase = WaitProgress::Phase::acquired;
    if (r->end == WaitEnd::timed_out) p.phase = WaitProgress::Phase::timed_out;
    if (r->end == WaitEnd::cancelled) p.phase = WaitProgress::Phase::cancelled;
    if (r->end == WaitEnd::refused) p.phase = WaitProgress::Phase::refused;
    if (opt_.progress) opt_.progress(p);
    const auto* a = std::get_if<Acquired>(&r->outcome);
    audit_wait_end(store_, req_.name, store_.self().pid, a ? a->record.lock_id : "", waited, r->end);
    return r;
}

std::optional<Steady::time_point> Waiter::report(size_t ahead) {
    if (!opt_.progress) return std::nullopt;
    const auto at = Steady::now();
    if (next_report_ && at < *next_report_) return next_report_;
    WaitProgress p;
    p.name = req_.name;
    p.ahead = ahead;
    p.waited = std::chrono::duration_cast<Nanos>(at - began_);
    if (ahead == 0 && last_) p.blocker = last_;
    else if (auto cur = current_outcome(store_, req_, false)) p.blocker = *cur;
    opt_.progress(p);
    next_report_ = at + std::max(opt_.progress_every, Nanos(std::chrono::milliseconds(10)));
    return next_report_;
}

std::optional<Nanos> Waiter::sooner(std::optional<Nanos> tick, std::optional<Steady::time_point> at) {
    if (!at) return tick;
    auto left = std::max(Nanos(0), std::chrono::duration_cast<Nanos>(*at - Steady::now()));
    return tick ? std::min(*tick, left) : left;
}

} // namespace

bool skip_stalled_head(Store& store, const std::string& name, const detail::Ticket& ticket,
                       detail::HeadStall& stall, const detail::QueueView& view) {
    if (!view.pred || !view.pred_is_head) {
        stall.reset();
        return false;
    }
    if (!stall.stalled(view.pred, lock_free(store, name), Steady::now())) return false;
    if (ticket.skip(*view.pred)) audit_skip(store, name, *view.pred);
    stall.reset();
    return true;
}

AuditEvent wait_end_event(const Identity& waiter, const std::string& name, const std::string& lock_id,
                          Nanos waited, WaitEnd end) {
    const char* result = "acquired";
    if (end == WaitEnd::timed_out) result = "timed-out";
    if (end == WaitEnd::cancelled) result = "cancelled";
    if (end == WaitEnd::refused) result = "refused";
    AuditEvent e = make_event("wait", waiter, name, nullptr, false);
    e.lock_id = lock_id;
    e.extra = {{"waited_sec", audit_seconds(waited)}, {"result", result}};
    return e;
}

void audit_wait_end(Store& store, const std::string& name, pid_t pid, const std::string& lock_id,
                    Nanos waited, WaitEnd end) {
    Identity waiter = store.self();
    waiter.pid = pid;
    write_event(store.audit(), wait_end_event(waiter, name, lock_id, waited, end));
}

Result<WaitResult> acquire_waiting(Store& store, const AcquireRequest& req, const WaitOptions& opt) {
    LOKT_TRY(validate_name(req.name));
    Waiter w(store, req, opt);
    return w.run();
}

} // namespace lokt
