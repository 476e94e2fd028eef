#include "lokt/backend_keeper.hpp"
#include "lokt/proc/droppable_write.hpp"

#include "lokt/audit_event.hpp"
#include "lokt/exit_code.hpp"
#include "lokt/log.hpp"
#include "lokt/own_lease.hpp"
#include "channel.hpp"
#include "lokt/wait.hpp"
#include "lokt/wait_report.hpp"

#include <unistd.h>

#include <cerrno>

namespace lokt::sup {
using proc::write_droppable;

BackendKeeper::BackendKeeper(Backend& backend, Identity who, KeeperConfig cfg)
    : backend_(backend), who_(std::move(who)), cfg_(std::move(cfg)) {}

Backend& BackendKeeper::backend() {
    // The holder recorded in locks and audit events is whoever calls: the supervisor
    // (forked after this object was built), or the front after taking over.
    const pid_t self = ::getpid();
    if (acting_pid_ != self) {
        Identity me = who_;
        me.pid = self;
        me.pid_start = process_start_time(self).value_or(0);
        backend_.act_as(me);
        acting_pid_ = self;
    }
    return backend_;
}

Acquisition BackendKeeper::refuse(int code, const std::string& message) {
    write_droppable(STDERR_FILENO, cfg_.refusal_prefix + message + "\n");
    release("aborted");
    return {Acquisition::End::refused, code};
}

Acquisition BackendKeeper::run_unlocked(const std::string& name, const Held& held, bool timed_out) {
    // All or nothing: the command runs with none of its locks, so nothing is released after it.
    release("aborted");
    const std::string why = cfg_.unlocked ? cfg_.unlocked(held, timed_out) : "lock \"" + name + "\" not acquired";
    write_droppable(STDERR_FILENO, "warning: " + why + "; running without it (on-timeout=run)\n");
    Backend& s = backend();
    AuditEvent e = make_event("unlocked-run", s.self(), name);
    e.extra = {{"reason", "timeout"}, {"command", shorten(cfg_.command, kAuditCommandMax)},
               {"kind", std::string(to_string(cfg_.kind))}};
    write_event(s, e);
    return {Acquisition::End::acquired, 0};
}

std::optional<std::vector<HeldLock>> BackendKeeper::prepare() {
    for (const auto& name : cfg_.names) {
        std::string id = random_lock_id();
        if (auto made = backend_.prepare_hold(id); !made) {
            write_droppable(STDERR_FILENO, "error: " + made.error().message + "\n");
            discard_proofs();
            return std::nullopt;
        }
        planned_.push_back({name, std::move(id)});
    }
    return planned_;
}

void BackendKeeper::discard_proofs() { backend_.discard_holds(); }

Acquisition BackendKeeper::acquire(int cancel_fd, pid_t pgid,
                                 const std::function<bool()>& confirm_cancel) {
    Backend& s = backend();
    if (cfg_.wait && !deadline_) deadline_ = Deadline::after(cfg_.timeout);
    for (size_t i = held_.size(); i < cfg_.names.size(); ++i) {
        AcquireRequest req;
        req.name = cfg_.names[i];
        req.kind = cfg_.kind;
        req.mode = cfg_.mode;
        req.slots = cfg_.slots;
        req.ttl = cfg_.ttl;
        req.who = s.self();
        req.command = cfg_.command;
        req.pgid = pgid;
        // The lock id whose proof prepare() holds (none when the caller did not prepare).
        for (const auto& p : planned_)
            if (p.name == req.name) req.lock_id = p.lock_id;
        AcquireOutcome outcome;
        bool timed_out = false;
        if (cfg_.wait) {
            WaitOptions w;
            w.timeout = deadline_->remaining();
            w.cancel_fd = cancel_fd;
            w.confirm_cancel = confirm_cancel;
            // Never wait on what cannot end by waiting: our own lease (only lokt unlock ends
            // it), or a freeze unless --on-frozen wait — at the start or while waiting.
            w.stop_on = [this, &s](const AcquireOutcome& o) {
                if (const auto* h = std::get_if<Held>(&o)) return is_own_lease(h->holder, s.self());
                return std::holds_alternative<Frozen>(o) && cfg_.fail_on_frozen;
            };
            WaitReporter reporter(STDERR_FILENO, wait_display(STDERR_FILENO, cfg_.quiet));
            reporter.attach(w);
            auto r = s.acquire_waiting(req, w);
            if (!r) return refuse(to_int(ExitCode::error), r.error().message);
            if (r->end == WaitEnd::cancelled) return {Acquisition::End::cancelled, 0};
            timed_out = r->end == WaitEnd::timed_out;
            outcome = r->outcome;
        } else {
            auto r = s.try_acquire(req);
            if (!r) return refuse(to_int(ExitCode::error), r.error().message);
            outcome = *r;
        }
        if (auto* a = std::get_if<Acquired>(&outcome); a && !timed_out) {
            held_.push_back({a->record.name, a->record.lock_id, sharing_of(a->record).slot, a->record.fence});
            continue;
        }
        const auto* h = std::get_if<Held>(&outcome);
        if (h && cfg_.run_on_timeout) return run_unlocked(req.name, *h, timed_out);
        s.audit_denial(req, outcome);
        return refuse(cfg_.conflict_code, cfg_.refusal(outcome, timed_out));
    }
    return {Acquisition::End::acquired, 0};
}

Nanos BackendKeeper::renew_every() const {
    // Half the lease, as the supervisor's heartbeat does: one late renewal does not lose it.
    return backend_.lease_ttl(cfg_.ttl) / 2;
}

void BackendKeeper::renew() {
    Backend& s = backend();
    std::vector<HeldLock> kept;
    for (const auto& h : held_) {
        // Zero-wait: another process in NAME's critical section (a stopped lokt, a hung NFS
        // lock) must not stall signal relay and reaping; the next tick tries again.
        auto r = s.renew(h.name, h.lock_id, cfg_.ttl, SyncWait::none);
        if (!r) {
            // An I/O error or contention is not a loss: keep the lock and retry next tick.
            const bool busy = r.error().sys_errno == EWOULDBLOCK;
            if (!busy || !renew_busy_warned_)
                write_droppable(STDERR_FILENO, "warning: renewing lock \"" + h.name + "\": " +
                                                   r.error().message + (busy ? "; retrying at each renewal" : "") + "\n");
            renew_busy_warned_ = renew_busy_warned_ || busy;
            kept.push_back(h);
            continue;
        }
        if (*r) {
            LOKT_LOG(debug, "renewed lock \"", h.name, "\" for ", std::chrono::duration_cast<std::chrono::seconds>(cfg_.ttl).count(), "s");
            kept.push_back(h);
            continue;
        }
        report_lost(h);
    }
    held_ = std::move(kept);
}

int BackendKeeper::loss_fd() { return backend().loss_fd(); }

void BackendKeeper::check_held() {
    Backend& s = backend();
    s.drain_loss();
    std::vector<HeldLock> kept;
    for (const auto& h : held_) {
        auto r = s.holder(h.name, h.lock_id);
        // A read error says nothing about who holds it: keep it, look again on the next cue.
        if (!r || *r) {
            kept.push_back(h);
            continue;
        }
        report_lost(h);
    }
    held_ = std::move(kept);
}

void BackendKeeper::report_lost(const HeldLock& h) {
    ++lost_;
    Backend& s = backend();
    const Identity& me = s.self();
    const auto ttl_sec = std::chrono::duration_cast<std::chrono::seconds>(cfg_.ttl).count();
    AuditEvent e = make_event("lost", me, h.name);
    e.lock_id = h.lock_id;
    e.ttl_sec = ttl_sec;
    unaudited_.push_back(std::move(e));
    const char* next = cfg_.end_on_lost ? "ending the command (--on-lost term)"
                                        : "the command keeps running without it";
    write_droppable(STDERR_FILENO,
                    "warning: lock \"" + h.name + "\" was broken by someone else; " + next + "\n");
}

void BackendKeeper::audit_losses() {
    if (unaudited_.empty()) return;
    Backend& s = backend();
    for (const auto& e : unaudited_) write_event(s, e);
    unaudited_.clear();
}

void BackendKeeper::release(const ReleaseNote& note) {
    audit_losses();  // a loss found on the way out (the front's takeover renewals) is told too
    if (held_.empty()) return;
    Backend& s = backend();
    // Reverse order of acquisition, so a waiter for several names never sees a partial set.
    for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
        auto r = s.release_id(it->name, it->lock_id, note);
        if (!r)
            write_droppable(STDERR_FILENO, "warning: releasing lock \"" + it->name + "\": " +
                                               r.error().message + "\n");
    }
    held_.clear();
}

void BackendKeeper::adopt(const std::vector<HeldLock>& locks) {
    held_.clear();
    Backend& s = backend();
    for (const auto& h : locks) {
        auto r = s.holder(h.name, h.lock_id);
        // Only what is ours: a name never taken (or since broken) must not be renewed as lost.
        if (!r || !*r) continue;
        held_.push_back(h);
        LockRecord rec = **r;
        rec.pid = s.self().pid;
        rec.pid_start_ns = s.self().pid_start;
        auto u = s.update(rec, SyncWait::bounded);
        // The proof still holds the lock for us; only pid-only judges (the original) are at risk.
        if (!u || !*u)
            write_droppable(STDERR_FILENO, "warning: lock \"" + h.name + "\": cannot record the takeover" +
                                               (u ? std::string() : ": " + u.error().message) + "\n");
    }
}

} // namespace lokt::sup
