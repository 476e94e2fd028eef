#pragma once
// lokt::Backend on an etcd cluster: the commands' lock operations mapped onto etcd::Locks
// (docs/distributed.md). A lock outlives the command that took it, as a lock file does: while
// it waits in the queue its key rides on a short lease kept alive by this process (a killed
// waiter's key goes within seconds); once it holds, the key moves to a lease of the lock's TTL
// (or a practically endless one for a lock without TTL) that nobody keeps alive.

#include "lokt/backend.hpp"
#include "lokt/etcd/client.hpp"
#include "lokt/etcd/locks.hpp"

#include <memory>

namespace lokt::etcd {

class EtcdBackend final : public Backend {
public:
    /// Connects (authenticates when configured) to the cluster `url` names; an unreachable
    /// cluster is an Error `lock backend etcd://… unreachable: …`.
    static Result<std::unique_ptr<EtcdBackend>> open(const BackendUrl& url, Identity self);

    std::string describe() const override { return client_->options().url.display(); }
    const Identity& self() const override { return self_; }
    const LocalView& local_view() const override { return view_; }
    bool present() const override { return true; }

    Result<lokt::AcquireOutcome> try_acquire(const AcquireRequest& req) override;
    Result<WaitResult> acquire_waiting(const AcquireRequest& req, const WaitOptions& opt) override;
    void audit_denial(const AcquireRequest& req, const lokt::AcquireOutcome& outcome) override;
    Result<std::optional<LockRecord>> renew(const std::string& name, const std::string& lock_id, Nanos ttl,
                                            SyncWait wait) override;
    Result<bool> update(const LockRecord& updated, SyncWait wait) override;
    Result<void> record(const AuditEvent& e) override { return locks_.record(e); }

    Result<ReleaseOutcome> release_id(const std::string& name, const std::string& lock_id,
                                      const ReleaseNote& note) override;
    Result<ReleaseOutcome> release_owned(const std::string& name, const std::optional<std::string>& owner) override;
    Result<ReleaseOutcome> force_break(const std::string& name) override;
    Result<ReleaseOutcome> break_stale(const std::string& name) override;

    Result<ReadOutcome> read(const std::string& name) const override;
    /// Shared and slot holders are not on etcd yet: none.
    Result<std::vector<LockRecord>> holders(const std::string&) const override { return std::vector<LockRecord>{}; }
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

private:
    EtcdBackend(std::unique_ptr<Client> client, std::string prefix, Identity self);
    /// Enqueues and, with `wait`, waits (FIFO) up to its timeout; then moves a won key to its
    /// own lease. `cancelled` is set when wait->cancel_fd ended the wait.
    Result<lokt::AcquireOutcome> take(const AcquireRequest& req, const WaitOptions* wait, bool* cancelled);
    /// Moves the key `won` to the lock's own lease; the record it then holds.
    Result<LockRecord> settle(const AcquireRequest& req, const Held& won);
    /// A holder of ours by the same owner: its lease refreshed, as re-locking a file lease does.
    std::optional<Result<lokt::AcquireOutcome>> refresh(const AcquireRequest& req, const etcd::LockEntry& holder);
    Result<ReleaseOutcome> remove_holder(const std::string& name, const std::string& event,
                                         const std::function<std::optional<ReleaseStatus>(const LockRecord&)>& refuse);

    std::unique_ptr<Client> client_;
    mutable Locks locks_;
    Identity self_;
    LocalView view_;
};

} // namespace lokt::etcd
