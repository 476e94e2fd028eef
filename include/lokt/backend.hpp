#pragma once
// The lock backend (issue 11): every lock operation the commands, the guard's keeper and the
// seccomp broker perform, whatever holds the locks. Two implementations: the files under the
// lock root (lokt::FileBackend, the default) and an etcd cluster (lokt::etcd::EtcdBackend).
// The commands see only this interface and the outcome types of store.hpp, so their messages
// and exit codes are the same on both.

#include "lokt/held_file.hpp"
#include "lokt/loss_watch.hpp"
#include "lokt/store.hpp"
#include "lokt/wait.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lokt {

/// A lock file (or key) that holds a name but cannot be read as a lock: status lists it.
struct UnreadableLock {
    std::string name;
    std::string detail;  ///< why (corrupt, newer version, not a regular file)
    bool is_error = false;  ///< detail is an error message (a planted entry), not a decode detail
};

/// How one part of a backend answered `lokt doctor` (an etcd member, say).
struct BackendProbe {
    std::string what;    ///< e.g. "127.0.0.1:2379"
    bool reached = false;
    std::string detail;  ///< the server's version and timings, or why it was not reached
    std::optional<Nanos> clock_skew;  ///< its clock minus ours, when it tells
};

/// One acquisition in progress that never blocks whoever drives it (the seccomp broker's
/// loop): it keeps its place among every waiter of the name (first come, first served), and
/// after the grant it stays with the lock until the lock is released (Backend::release_id).
/// Destroying it before the grant leaves the queue.
class PendingAcquire {
public:
    virtual ~PendingAcquire() = default;
    /// Readable when step() (or, once granted, lost()) may have news; -1: none, the caller
    /// re-tries on its own cues (a change under the lock root) and timer.
    virtual int fd() const = 0;
    /// Moves on if it can: Acquired once the lock is ours; the Held or Frozen that blocks it;
    /// nullopt while no answer is in yet (ask again when fd() is readable). `last_try`: the
    /// wait is over, so one final answer is wanted (taken if free, not behind the queue).
    virtual Result<std::optional<AcquireOutcome>> step(bool last_try) = 0;
    /// After the grant: true once the lock is known lost (its etcd lease ended).
    virtual bool lost() const { return false; }
    /// After fork, in the process that stops serving: forgets its place without giving it up.
    virtual void forget() {}
    /// After fork, in the copy that carries on: keeps its place under the calling process.
    virtual void rehome() {}
};

class Backend {
public:
    virtual ~Backend() = default;

    /// How messages name it: the lock root's path, or the etcd URL with its key prefix
    /// ("etcd://host:port,…/PREFIX", itself a valid backend URL).
    virtual std::string describe() const = 0;
    /// Who this process acts as.
    virtual const Identity& self() const = 0;
    /// Where liveness judgements stand (for the holder states status and why print).
    virtual const LocalView& local_view() const = 0;
    /// False while nothing was ever stored (read-only commands then see no locks).
    virtual bool present() const = 0;

    /// One attempt; never waits (Store::try_acquire).
    virtual Result<AcquireOutcome> try_acquire(const AcquireRequest& req) = 0;
    /// Tries, then waits first come, first served (lokt::acquire_waiting).
    virtual Result<WaitResult> acquire_waiting(const AcquireRequest& req, const WaitOptions& opt) = 0;
    /// Audits a final refusal (`deny` or `freeze-deny`).
    virtual void audit_denial(const AcquireRequest& req, const AcquireOutcome& outcome) = 0;
    /// Starts acquiring `req` without waiting for it (see PendingAcquire); waiting ends at
    /// `deadline`.
    virtual Result<std::unique_ptr<PendingAcquire>> enqueue(const AcquireRequest& req, Deadline deadline) = 0;
    /// Renews our lock `lock_id`; nullopt when it is no longer ours (lost).
    virtual Result<std::optional<LockRecord>> renew(const std::string& name, const std::string& lock_id,
                                                    Nanos ttl, SyncWait wait) = 0;
    /// Replaces our lock `lock_id` with `updated`; false when it is no longer ours.
    virtual Result<bool> update(const LockRecord& updated, SyncWait wait) = 0;
    /// Audits an event that goes with no change of the store (`lost`, `unlocked-run`). A
    /// failing audit never fails the caller: the Error is for it to warn about.
    virtual Result<void> record(const AuditEvent& e) = 0;
    /// Reaches every server the backend uses (none for files), for `lokt doctor`.
    virtual std::vector<BackendProbe> probe() { return {}; }
    /// The audit events the backend stores itself (etcd's ~audit/ keys), oldest first; none
    /// on files, whose events are all in the local audit log.
    virtual Result<std::vector<AuditEvent>> stored_events() { return std::vector<AuditEvent>{}; }
    /// Like stored_events(), handing each to `sink` (`history_done` is called after them),
    /// then every new one as it is stored, until `stop` returns true (asked at least every
    /// 200 ms). Files: returns at once, after history_done.
    virtual Result<void> follow_events(const std::function<void(const AuditEvent&)>& sink,
                                       const std::function<void()>& history_done,
                                       const std::function<bool()>& stop) {
        (void)sink, (void)stop;
        history_done();
        return {};
    }
    /// NAME's lock while `lock_id` holds it; nullopt when that holding is gone (lost).
    virtual Result<std::optional<LockRecord>> holder(const std::string& name, const std::string& lock_id) const = 0;

    // What a holder process (the guard's supervisor, or its front after a takeover) needs.
    /// From now on acts as `who` (a forked supervisor records its own pid).
    virtual void act_as(const Identity& who) = 0;
    /// Before the holder forks: whatever must exist for lock `lock_id` in both processes
    /// (files: the kernel-held liveness proof). An Error when it cannot be made.
    virtual Result<void> prepare_hold(const std::string&) { return {}; }
    /// Removes what prepare_hold made for lock ids that are not held now.
    virtual void discard_holds() {}
    /// Readable when a lock this process holds may have been lost (-1: none); the holder
    /// calls drain_loss() and then holder() for each of its locks. Owned by the backend.
    virtual int loss_fd() { return -1; }
    virtual void drain_loss() {}
    /// How long a lock taken with TTL `requested` lives unless renewed (zero: until released).
    /// On etcd a lock without --ttl still sits on a short lease that its holder keeps alive.
    virtual Nanos lease_ttl(Nanos requested) const { return requested; }
    /// A guard's front, before its reads: its supervisor will soon hold locks kept alive
    /// (kind guard or shim) with TTL `ttl`. The etcd backend sends that lease's grant beside
    /// the front's next read, so the supervisor starts with the lease instead of asking for it.
    virtual void expect_kept(Nanos ttl) { (void)ttl; }
    /// Whether losing a lock ends the guarded command unless --on-lost says otherwise: true
    /// where a lost lock may already be another machine's (etcd).
    virtual bool loss_ends_command() const { return false; }

    virtual Result<ReleaseOutcome> release_id(const std::string& name, const std::string& lock_id,
                                              const ReleaseNote& note) = 0;
    virtual Result<ReleaseOutcome> release_owned(const std::string& name,
                                                 const std::optional<std::string>& owner) = 0;
    virtual Result<ReleaseOutcome> force_break(const std::string& name) = 0;
    virtual Result<ReleaseOutcome> break_stale(const std::string& name) = 0;

    /// NAME's current lock (no side effects).
    virtual Result<ReadOutcome> read(const std::string& name) const = 0;
    /// Every shared or slot holder of NAME (empty for an exclusive lock or none).
    virtual Result<std::vector<LockRecord>> holders(const std::string& name) const = 0;
    /// All locks and freezes, sorted by name (with prune_expired, expired locks go).
    virtual Result<std::vector<LockEntry>> list(bool prune_expired) = 0;
    /// Names held by something that is not a readable lock (`listed`: names already shown).
    virtual std::vector<UnreadableLock> unreadable(const std::vector<LockEntry>& listed) const = 0;

    virtual Result<LockRecord> freeze(const std::string& name, Nanos ttl) = 0;
    virtual Result<ReleaseOutcome> unfreeze(const std::string& name, bool force) = 0;
    /// The active freeze of NAME (an expired one is cleaned up).
    virtual Result<std::optional<LockRecord>> active_freeze(const std::string& name) = 0;
    /// NAME's freeze if in force at `at`, without side effects.
    virtual std::optional<LockRecord> peek_freeze(const std::string& name, TimePoint at) const = 0;
};

/// The file store under a lock root as a Backend.
class FileBackend final : public Backend {
public:
    explicit FileBackend(Store store) : store_(std::move(store)) {}

    std::string describe() const override { return store_.root().path; }
    const Identity& self() const override { return store_.self(); }
    const LocalView& local_view() const override { return store_.local_view(); }
    bool present() const override;

    Result<AcquireOutcome> try_acquire(const AcquireRequest& req) override { return store_.try_acquire(req); }
    Result<WaitResult> acquire_waiting(const AcquireRequest& req, const WaitOptions& opt) override {
        return lokt::acquire_waiting(store_, req, opt);
    }
    void audit_denial(const AcquireRequest& req, const AcquireOutcome& o) override { store_.audit_denial(req, o); }
    /// Over the store's ticket queue; fd() is -1 (inotify on the root is the caller's cue).
    Result<std::unique_ptr<PendingAcquire>> enqueue(const AcquireRequest& req, Deadline deadline) override;
    Result<std::optional<LockRecord>> renew(const std::string& name, const std::string& lock_id, Nanos ttl,
                                            SyncWait wait) override {
        return store_.renew(name, lock_id, ttl, wait);
    }
    Result<bool> update(const LockRecord& updated, SyncWait wait) override { return store_.update(updated, wait); }
    Result<void> record(const AuditEvent& e) override { return store_.audit().append(e); }
    Result<std::optional<LockRecord>> holder(const std::string& name, const std::string& lock_id) const override {
        return store_.holder(name, lock_id);
    }

    void act_as(const Identity& who) override;
    Result<void> prepare_hold(const std::string& lock_id) override;
    void discard_holds() override;
    int loss_fd() override;
    void drain_loss() override;

    Result<ReleaseOutcome> release_id(const std::string& name, const std::string& lock_id,
                                      const ReleaseNote& note) override;
    Result<ReleaseOutcome> release_owned(const std::string& name, const std::optional<std::string>& owner) override {
        return store_.release_owned(name, owner);
    }
    Result<ReleaseOutcome> force_break(const std::string& name) override { return store_.force_break(name); }
    Result<ReleaseOutcome> break_stale(const std::string& name) override { return store_.break_stale(name); }

    Result<ReadOutcome> read(const std::string& name) const override { return store_.read(name); }
    Result<std::vector<LockRecord>> holders(const std::string& name) const override {
        return store_.holders(name);
    }
    Result<std::vector<LockEntry>> list(bool prune_expired) override { return store_.list(prune_expired); }
    std::vector<UnreadableLock> unreadable(const std::vector<LockEntry>& listed) const override;

    Result<LockRecord> freeze(const std::string& name, Nanos ttl) override { return store_.freeze(name, ttl); }
    Result<ReleaseOutcome> unfreeze(const std::string& name, bool force) override { return store_.unfreeze(name, force); }
    Result<std::optional<LockRecord>> active_freeze(const std::string& name) override {
        return store_.active_freeze(name);
    }
    std::optional<LockRecord> peek_freeze(const std::string& name, TimePoint at) const override;

    /// The store itself, for what only files have (the guard's liveness proofs, the queue).
    Store& store() { return store_; }
    const Store& store() const { return store_; }

private:
    Store store_;
    std::vector<HeldFile> proofs_;    ///< prepare_hold's proofs (fds shared with the fork)
    std::optional<LossWatch> watch_;  ///< opened on first loss_fd()
};

} // namespace lokt
