#pragma once
// lokt::Backend on an etcd cluster: the commands' lock operations mapped onto etcd::Locks
// (docs/distributed.md). A lock outlives the command that took it, as a lock file does: while
// it waits in the queue its key rides on a short lease kept alive by this process (a killed
// waiter's key goes within seconds); once it holds, the key moves to a lease of the lock's TTL
// (or a practically endless one for a lock without TTL) that nobody keeps alive. A guard's
// or shim's lock instead stays on a lease this process keeps alive (a keepalive thread,
// started on its first acquire, so after the guard's front forked its supervisor): when the
// process dies, the lock goes within that lease's TTL.

#include "lokt/backend.hpp"
#include "lokt/etcd/client.hpp"
#include "lokt/etcd/locks.hpp"

#include <algorithm>
#include <map>
#include <memory>

namespace lokt::etcd {

/// How close to a wait's deadline a failed request counts as the wait running out.
inline constexpr Nanos kDeadlineSlack = std::chrono::milliseconds(50);

/// What blocks NAME now (its freeze, its holder, or an empty Held: free, others ahead), for
/// the report of a wait that ended without the lock.
lokt::AcquireOutcome blocker_of(Locks& locks, const std::string& name);

class EtcdBackend final : public Backend {
public:
    /// Connects (authenticates when configured) to the cluster `url` names through a transport
    /// from `make`; an unreachable cluster is an Error `lock backend etcd://… unreachable: …`.
    static Result<std::unique_ptr<EtcdBackend>> open(const BackendUrl& url, Identity self, TransportFactory make);

    std::string describe() const override { return client_->options().url.display_with_prefix(); }
    const Identity& self() const override { return self_; }
    const LocalView& local_view() const override { return view_; }
    bool present() const override { return true; }

    Result<lokt::AcquireOutcome> try_acquire(const AcquireRequest& req) override;
    Result<WaitResult> acquire_waiting(const AcquireRequest& req, const WaitOptions& opt) override;
    void audit_denial(const AcquireRequest& req, const lokt::AcquireOutcome& outcome) override;
    /// A thread of its own opens the lease the lock rides on, enqueues and waits on the
    /// predecessor (etcd/pending_acquire.cpp); the lock stays on that lease, kept alive.
    Result<std::unique_ptr<PendingAcquire>> enqueue(const AcquireRequest& req, Deadline deadline) override;
    Result<std::optional<LockRecord>> renew(const std::string& name, const std::string& lock_id, Nanos ttl,
                                            SyncWait wait) override;
    Result<bool> update(const LockRecord& updated, SyncWait wait) override;
    Result<void> record(const AuditEvent& e) override { return locks_.record(e); }
    Result<std::vector<AuditEvent>> stored_events() override { return locks_.audit_events(); }
    /// A watch on the ~audit/ keys from the revision the history was read at
    /// (etcd/audit_follow.cpp).
    Result<void> follow_events(const std::function<void(const AuditEvent&)>& sink,
                               const std::function<void()>& history_done,
                               const std::function<bool()>& stop) override;
    /// Every member: its server version, the round trip and its clock's skew.
    std::vector<BackendProbe> probe() override;
    Result<std::optional<LockRecord>> holder(const std::string& name, const std::string& lock_id) const override;

    void act_as(const Identity& who) override { self_ = who; }
    int loss_fd() override { return kept_lease_ ? kept_lease_->lost_fd() : -1; }
    /// The lease actually granted (kept_ttl_sec: whole seconds, kKeptTtlSec without a TTL).
    Nanos lease_ttl(Nanos requested) const override { return std::chrono::seconds(kept_ttl_sec(requested)); }
    /// Another machine may hold a lock whose lease was lost: the command ends by default.
    bool loss_ends_command() const override { return true; }

    Result<ReleaseOutcome> release_id(const std::string& name, const std::string& lock_id,
                                      const ReleaseNote& note) override;
    Result<ReleaseOutcome> release_owned(const std::string& name, const std::optional<std::string>& owner) override;
    Result<ReleaseOutcome> force_break(const std::string& name) override;
    Result<ReleaseOutcome> break_stale(const std::string& name) override;

    Result<ReadOutcome> read(const std::string& name) const override;
    void expect_kept(Nanos ttl) override {
        if (!kept_lease_) kept_hint_ = kept_ttl_sec(ttl);
    }
    Result<std::vector<LockRecord>> holders(const std::string& name) const override;
    Result<std::vector<lokt::LockEntry>> list(bool prune_expired) override;
    std::vector<UnreadableLock> unreadable(const std::vector<lokt::LockEntry>&) const override { return {}; }

    Result<LockRecord> freeze(const std::string& name, Nanos ttl) override;
    Result<ReleaseOutcome> unfreeze(const std::string& name, bool force) override;
    Result<std::optional<LockRecord>> active_freeze(const std::string& name) override;
    std::optional<LockRecord> peek_freeze(const std::string& name, TimePoint at) const override;

    /// The lease a lock without TTL gets: ten years, as long as the longest --ttl.
    static constexpr int64_t kEndlessTtlSec = 87600LL * 3600;
    /// The lease a queued key rides on while this process waits (kept alive meanwhile).
    static constexpr int64_t kQueueTtlSec = 10;
    /// The lease of a guard's lock without --ttl, kept alive by the guard: a dead guard's
    /// lock goes within this many seconds.
    static constexpr int64_t kKeptTtlSec = 5;
    /// The TTL of a kept lease for a lock of `ttl` (0: kKeptTtlSec).
    static int64_t kept_ttl_sec(Nanos ttl) {
        return ttl.count() > 0 ? std::max<int64_t>(1, std::chrono::ceil<std::chrono::seconds>(ttl).count())
                               : kKeptTtlSec;
    }

private:
    EtcdBackend(std::unique_ptr<Client> client, std::string prefix, Identity self);
    /// Enqueues and, with `wait`, waits (FIFO) up to its timeout; then moves a won key to its
    /// own lease. `cancelled` is set when wait->cancel_fd ended the wait.
    Result<lokt::AcquireOutcome> take(const AcquireRequest& req, const WaitOptions* wait, bool* cancelled);
    /// The value a request's key gets: its record with the mode (how every other request
    /// judges its turn); no expiry when a kept lease is the truth about its end. An Error for
    /// a slot count out of range.
    static Result<LockRecord> request_record(const AcquireRequest& req, bool kept);
    /// Moves the key `won` to the lock's own lease; the record it then holds.
    Result<LockRecord> settle(const AcquireRequest& req, const Held& won);
    /// A holder of ours by the same owner: its lease refreshed, as re-locking a file lease does.
    std::optional<Result<lokt::AcquireOutcome>> refresh(const AcquireRequest& req, const etcd::LockEntry& holder);
    /// Which holder a removal must leave alone, and why (nullopt: remove it).
    using Refusal = std::function<std::optional<ReleaseStatus>(const LockRecord&)>;
    /// Removes the first holder of NAME that `refuse` lets go (with `all`, every one), each
    /// audited as `event`; the refusal when none may go.
    Result<ReleaseOutcome> remove_holders(const std::string& name, const std::string& event, const Refusal& refuse,
                                          bool all, bool revoke_lease = true);
    /// The keys of NAME that hold it now, oldest first (turn.hpp holding_count).
    Result<std::vector<etcd::LockEntry>> holding(const std::string& name) const;
    /// The holding key of NAME recorded under `lock_id`, if it holds.
    Result<std::optional<etcd::LockEntry>> holding_id(const std::string& name, const std::string& lock_id) const;
    /// The audit identity of `who` (a lock record for `name`, as the file store writes one), naming `lock_id`.
    static LockRecord actor(const Identity& who, const std::string& name, const std::string& lock_id = {});
    /// The lease this process keeps alive for the guard and shim locks it holds (opened on
    /// first use, with req's TTL or kKeptTtlSec).
    Result<Session*> kept_lease(const AcquireRequest& req);
    /// Releases our kept lock `lock_id` (audited as by `by`); the kept lease ends with the
    /// last of them.
    Result<ReleaseOutcome> release_kept(const std::string& name, const std::string& lock_id, const LockRecord& by);
    /// Our kept lock `lock_id`'s record while its lease lives; nullopt when not kept here.
    std::optional<Result<std::optional<LockRecord>>> kept_holder(const std::string& lock_id) const;

    std::unique_ptr<Client> client_;
    mutable Locks locks_;
    Identity self_;
    LocalView view_;
    std::unique_ptr<Session> kept_lease_;
    /// expect_kept's TTL, until the next read sends the grant beside it.
    mutable std::optional<int64_t> kept_hint_;
    /// The lease that grant gave, until kept_lease() starts keeping it alive.
    mutable std::optional<GrantAhead> kept_ahead_;
    std::map<std::string, LockRecord> kept_;  ///< lock id → record, of the locks on kept_lease_
};

} // namespace lokt::etcd
