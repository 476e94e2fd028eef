// lokt::Backend on etcd: acquiring (queue lease, then the lock's own lease) and the
// commands' other operations, each mapped onto etcd::Locks with the file backend's outcomes.
#include "lokt/etcd/backend.hpp"

#include "lokt/etcd/session.hpp"
#include "lokt/etcd/turn.hpp"
#include "lokt/audit_event.hpp"
#include "lokt/liveness.hpp"
#include "lokt/sys.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>

namespace lokt::etcd {

namespace {

ReleaseOutcome outcome(ReleaseStatus s, std::optional<LockRecord> r = {}) { return ReleaseOutcome{s, std::move(r)}; }

int64_t ttl_seconds(Nanos ttl) {
    if (ttl.count() <= 0) return EtcdBackend::kEndlessTtlSec;
    return std::max<int64_t>(1, std::chrono::ceil<std::chrono::seconds>(ttl).count());
}

/// Ends a wait on `session` when `cancel_fd` becomes readable (and `confirm` agrees): the
/// session is abandoned, which wakes its watch at once. Stopped and joined on destruction.
class CancelWatch {
public:
    CancelWatch(int cancel_fd, const std::function<bool()>& confirm, Session& session) {
        if (cancel_fd < 0) return;
        auto stop = sys::pipe();
        if (!stop) return;
        stop_ = std::move(*stop);
        thread_ = std::thread([this, cancel_fd, &confirm, &session] {
            struct pollfd fds[2] = {{cancel_fd, POLLIN, 0}, {stop_.read.get(), POLLIN, 0}};
            while (true) {
                auto ready = sys::poll(fds, 2, std::nullopt);
                if (!ready) return;
                if (*ready == 0) continue;  // interrupted
                if (fds[1].revents) return;
                if (fds[0].revents && (!confirm || confirm())) {
                    cancelled_ = true;
                    session.abandon("cancelled");
                    return;
                }
            }
        });
    }
    ~CancelWatch() {
        if (!thread_.joinable()) return;
        (void)sys::write_all(stop_.write.get(), "x");
        thread_.join();
    }
    CancelWatch(const CancelWatch&) = delete;
    CancelWatch& operator=(const CancelWatch&) = delete;
    bool cancelled() const { return cancelled_; }

private:
    sys::Pipe stop_;
    std::atomic<bool> cancelled_{false};
    std::thread thread_;
};

} // namespace

LockRecord EtcdBackend::actor(const Identity& who, const std::string& name, const std::string& lock_id) {
    AcquireRequest req;
    req.name = name;
    req.who = who;
    LockRecord r = make_lock_record(req, now());
    r.lock_id = lock_id;
    r.kind.reset();
    return r;
}

Result<std::unique_ptr<EtcdBackend>> EtcdBackend::open(const BackendUrl& url, Identity self,
                                                      TransportFactory make) {
    auto transport = make(options_from_env(url));
    if (!transport) return transport.error();
    auto client = std::make_unique<Client>(std::move(*transport));
    LOKT_TRY(client->connect());
    return std::unique_ptr<EtcdBackend>(new EtcdBackend(std::move(client), url.prefix, std::move(self)));
}

EtcdBackend::EtcdBackend(std::unique_ptr<Client> client, std::string prefix, Identity self)
    : client_(std::move(client)), locks_(*client_, std::move(prefix)), self_(std::move(self)),
      view_{self_.host, self_.boot_id, self_.pid_ns, ""} {}

Result<lokt::AcquireOutcome> EtcdBackend::try_acquire(const AcquireRequest& req) { return take(req, nullptr, nullptr); }

Result<WaitResult> EtcdBackend::acquire_waiting(const AcquireRequest& req, const WaitOptions& opt) {
    bool cancelled = false;
    auto r = take(req, &opt, &cancelled);
    if (!r) return r.error();
    WaitResult w;
    w.outcome = *r;
    if (cancelled) w.end = WaitEnd::cancelled;
    else w.end = std::holds_alternative<Acquired>(*r) ? WaitEnd::acquired : WaitEnd::timed_out;
    return w;
}

Result<LockRecord> EtcdBackend::request_record(const AcquireRequest& req, bool kept) {
    if (req.mode == LockMode::slots && (req.slots < 1 || req.slots > kMaxSlots))
        return Error{"--slots must be between 1 and " + std::to_string(kMaxSlots) + ", not " + std::to_string(req.slots)};
    LockRecord rec = make_lock_record(req, now());
    rec.name = req.name;
    set_sharing(rec, Sharing{req.mode, req.mode == LockMode::slots ? req.slots : 0, -1, {}});
    if (kept) rec.expires_at.reset();
    return rec;
}

Result<lokt::AcquireOutcome> EtcdBackend::take(const AcquireRequest& req, const WaitOptions* wait, bool* cancelled) {
    const bool kept = req.kind == LockKind::guard || req.kind == LockKind::shim;
    auto made = request_record(req, kept);
    if (!made) return made.error();
    LockRecord rec = std::move(*made);
    // A guard's (or shim's) lock waits and stays on the lease this process keeps alive; any
    // other waits on a queue lease of its own and then moves to the lock's lease (settle).
    std::unique_ptr<Session> queue;
    Session* session = nullptr;
    if (kept) {
        auto s = kept_lease(req);
        if (!s) return s.error();
        session = *s;
    } else {
        auto s = Session::open(*client_, kQueueTtlSec);
        if (!s) return s.error();
        queue = std::move(*s);
        session = queue.get();
    }
    Result<etcd::AcquireOutcome> got = Error{""};
    bool was_cancelled = false;
    if (wait) {
        const Deadline deadline = Deadline::after(wait->timeout);
        CancelWatch watch(wait->cancel_fd, wait->confirm_cancel, *session);
        got = locks_.acquire(req.name, rec, *session, deadline);
        was_cancelled = watch.cancelled();
        // A request cut short by the deadline itself is the end of the wait, not an outage
        // (the watch's transfer timeout is the time left, which curl counts on its own clock).
        if (!got && deadline.remaining() <= kDeadlineSlack)
            got = etcd::AcquireOutcome{AcquireStatus::timeout, {}, {}, {}};
    } else {
        got = locks_.try_acquire(req.name, rec, *session);
    }
    if (cancelled) *cancelled = was_cancelled;
    if (got && got->status == AcquireStatus::acquired && kept) {
        LockRecord held = got->held.record;
        held.fence = got->held.fence;
        kept_[held.lock_id] = held;
        return lokt::AcquireOutcome{Acquired{held, false}};
    }
    if (got && got->status == AcquireStatus::acquired) {
        auto settled = settle(req, got->held);
        (void)queue->revoke();  // the queue lease; our key has left it
        if (!settled) return settled.error();
        return lokt::AcquireOutcome{Acquired{*settled, false}};
    }
    // A queued key was taken out of the queue already; a queue lease takes it along anyway.
    if (queue) (void)queue->revoke();
    if (!got) return got.error();
    switch (got->status) {
    case AcquireStatus::acquired:
        break;
    case AcquireStatus::busy:
        if (auto r = refresh(req, *got->holder)) return *r;
        return lokt::AcquireOutcome{lokt::Held{lock_view(*got->holder), false}};
    case AcquireStatus::frozen:
        return lokt::AcquireOutcome{Frozen{got->freeze->record}};
    case AcquireStatus::timeout:
    case AcquireStatus::lost: {
        if (got->status == AcquireStatus::lost && !was_cancelled)
            return Error{"lock \"" + req.name + "\": lost the etcd lease while waiting (" +
                         session->lost_reason() + ")"};
        return blocker_of(locks_, req.name);  // for the timed-out (or cancelled) report
    }
    }
    return Error{"etcd: unexpected acquire outcome"};
}

lokt::AcquireOutcome blocker_of(Locks& locks, const std::string& name) {
    if (auto f = locks.frozen(name); f && *f) return lokt::AcquireOutcome{Frozen{(*f)->record}};
    auto h = locks.holder(name);
    if (h && *h) return lokt::AcquireOutcome{lokt::Held{lock_view(**h), false}};
    return lokt::AcquireOutcome{lokt::Held{}};
}

Result<LockRecord> EtcdBackend::settle(const AcquireRequest& req, const Held& won) {
    auto lease = client_->lease_grant(ttl_seconds(req.ttl));
    if (!lease) return lease.error();
    LockRecord rec = won.record;
    rec.fence = won.fence;
    auto moved = locks_.reattach(won, rec, lease->id);
    if (!moved) return moved.error();
    if (!*moved) {
        (void)client_->lease_revoke(lease->id);
        return Error{"lock \"" + req.name + "\": lost while being taken (its queue lease expired)"};
    }
    return rec;
}

std::optional<Result<lokt::AcquireOutcome>> EtcdBackend::refresh(const AcquireRequest& req,
                                                                  const etcd::LockEntry& holder) {
    const LockRecord& cur = holder.record;
    const bool cur_lease = !cur.kind || *cur.kind == LockKind::lease;
    // As on files: re-locking one's own lease refreshes it; a guard never takes anything over,
    // and a second shared or slot hold is a hold of its own.
    if (req.mode != LockMode::exclusive || mode_of(holder).mode != LockMode::exclusive) return std::nullopt;
    if (holder.foreign || req.kind != LockKind::lease || !cur_lease || cur.owner != req.who.owner ||
        cur.host != req.who.host)
        return std::nullopt;
    etcd::Held h{holder.name, holder.key, holder.fence, holder.lease, cur};
    LockRecord refreshed = cur;
    refreshed.ttl_sec = req.ttl.count() > 0 ? ttl_seconds(req.ttl) : 0;
    refreshed.expires_at.reset();
    if (refreshed.ttl_sec > 0) refreshed.expires_at = saturating_add(now(), std::chrono::seconds(refreshed.ttl_sec));
    auto lease = client_->lease_grant(ttl_seconds(req.ttl));
    if (!lease) return Result<lokt::AcquireOutcome>(lease.error());
    auto moved = locks_.reattach(h, refreshed, lease->id);
    if (!moved) return Result<lokt::AcquireOutcome>(moved.error());
    if (!*moved) {
        (void)client_->lease_revoke(lease->id);
        return std::nullopt;  // it went meanwhile: report what the caller saw
    }
    if (holder.lease) (void)client_->lease_revoke(holder.lease);  // the old lease holds nothing now
    refreshed.fence = holder.fence;
    (void)locks_.audit("renew", holder.name, refreshed);
    return Result<lokt::AcquireOutcome>(lokt::AcquireOutcome{Acquired{refreshed, true}});
}

void EtcdBackend::audit_denial(const AcquireRequest& req, const lokt::AcquireOutcome& o) {
    const char* event = std::holds_alternative<Frozen>(o) ? "freeze-deny" : "deny";
    // The event goes into etcd inside a transaction of its own; a failure warns as any other.
    if (auto r = locks_.audit(event, req.name, actor(req.who, req.name)); !r)
        warn_unaudited(make_event(event, req.who, req.name), r.error().message);
}

Result<LockRecord> EtcdBackend::freeze(const std::string& name, Nanos ttl) {
    LockRecord rec = actor(self_, name, random_lock_id());
    rec.ttl_sec = ttl_seconds(ttl);
    rec.expires_at = saturating_add(rec.acquired_ts, std::chrono::seconds(rec.ttl_sec));
    LOKT_TRY(locks_.freeze(name, rec, rec.ttl_sec));
    return rec;
}

Result<ReleaseOutcome> EtcdBackend::unfreeze(const std::string& name, bool force) {
    auto f = locks_.frozen(name);
    if (!f) return f.error();
    if (!*f) return outcome(ReleaseStatus::not_found);
    LockRecord rec = (*f)->record;
    rec.name = name;
    if (!force && rec.owner != self_.owner) return outcome(ReleaseStatus::not_owner, rec);
    auto lifted = locks_.unfreeze(name, actor(self_, name, rec.lock_id));
    if (!lifted) return lifted.error();
    if (!*lifted) return outcome(ReleaseStatus::not_found);
    return outcome(ReleaseStatus::released, rec);
}

Result<std::optional<LockRecord>> EtcdBackend::active_freeze(const std::string& name) {
    auto f = locks_.frozen(name);
    if (!f) return f.error();
    if (!*f) return std::optional<LockRecord>();
    LockRecord rec = (*f)->record;
    rec.name = name;
    return std::optional<LockRecord>(rec);
}

std::optional<LockRecord> EtcdBackend::peek_freeze(const std::string& name, TimePoint at) const {
    auto f = locks_.frozen(name);
    if (!f || !*f || (*f)->record.expired(at)) return std::nullopt;
    LockRecord rec = (*f)->record;
    rec.name = name;
    return rec;
}

} // namespace lokt::etcd
