#pragma once
// Named locks on etcd with the key layout of etcd's concurrency.Mutex, so that
// `etcdctl lock PREFIX/NAME` and lokt exclude each other:
//   PREFIX/NAME/<lease id, lowercase hex>   one key per holder or waiter, under its lease;
//                                           the lowest create revision holds the lock
//   PREFIX/~frozen/NAME                     a freeze, under a lease whose TTL is the freeze's
//   PREFIX/~audit/<ts ns>-<random>          audit events (lokt::encode_event JSON)
//   PREFIX/~slot/NAME/<n>                   slot n of a pool, claimed by the holder key named
//                                           in its value, under that holder's lease
// '~' cannot start a lock name ([A-Za-z0-9._-]), so the meta keys never collide with a lock
// and sort after every lock, which lets one range read all the locks and nothing else.

#include "lokt/audit.hpp"
#include "lokt/etcd/client.hpp"
#include "lokt/etcd/session.hpp"
#include "lokt/lock_file.hpp"
#include "lokt/sharing.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lokt::etcd {

/// Where each kind of key lives under a prefix (without a trailing '/').
struct KeyLayout {
    std::string prefix;

    std::string lock_dir(const std::string& name) const { return prefix + "/" + name + "/"; }
    std::string holder_key(const std::string& name, int64_t lease) const;
    std::string freeze_key(const std::string& name) const { return prefix + "/~frozen/" + name; }
    std::string audit_dir() const { return prefix + "/~audit/"; }
    std::string slot_dir(const std::string& name) const { return prefix + "/~slot/" + name + "/"; }
    std::string slot_key(const std::string& name, int slot) const { return slot_dir(name) + std::to_string(slot); }
    /// The slot claim of a slot holder's record ("" for any other record).
    std::string claim_of(const LockRecord& r) const;
    /// A fresh audit key, ordered by wall-clock time (etcd orders equal times by revision).
    std::string audit_key(TimePoint ts) const;
    /// The lock name of a key under PREFIX/NAME/…, or "" for any other key.
    std::string name_of(const std::string& key) const;
};

/// One key in a lock's queue: the holder (position 0) or a waiter.
struct LockEntry {
    std::string name;
    std::string key;
    int64_t fence = 0;   ///< the key's create revision: the fencing token while it holds
    int64_t lease = 0;
    LockRecord record;   ///< decoded value; only name and lock_id (the lease) for a foreign key
    bool foreign = false;  ///< not written by lokt (etcdctl lock leaves an empty value)
};

/// A freeze and the lease that bounds it.
struct FreezeEntry {
    std::string name;
    LockRecord record;
    int64_t lease = 0;
};

/// A lock held by this process.
struct Held {
    std::string name;
    std::string key;
    int64_t fence = 0;
    int64_t lease = 0;
    LockRecord record;  ///< as stored, with `fence` (the create revision) filled in
};

enum class AcquireStatus {
    acquired,
    busy,     ///< try-acquire found a holder (`holder` says who)
    frozen,   ///< the name is frozen (`freeze` says by whom)
    timeout,  ///< the deadline passed while waiting; our key is gone again
    lost,     ///< our lease ended while we waited
};

struct AcquireOutcome {
    AcquireStatus status = AcquireStatus::acquired;
    Held held;                          ///< when acquired
    std::optional<LockEntry> holder;    ///< when busy
    std::optional<FreezeEntry> freeze;  ///< when frozen
};

/// All locks and freezes at one revision.
struct Snapshot {
    int64_t revision = 0;
    std::map<std::string, std::vector<LockEntry>> queues;  ///< by name, holder first
    std::vector<FreezeEntry> freezes;
};

enum class BreakMode { force, stale };

/// The value stored at a holder key: the lock file's JSON (compact) without `fence` (the
/// key's create revision is the fence; decode_lock_entry fills it in).
std::string encode_lock_value(const LockRecord& r);
/// Decodes a holder key's value; an empty value (etcdctl lock) gives a foreign entry.
LockEntry decode_lock_entry(const KeyLayout& layout, const KeyValue& kv);

/// Lock operations on one cluster under one prefix. Thread-safe as the Client is.
class Locks {
public:
    Locks(Client& client, std::string prefix) : client_(client), keys_{std::move(prefix)} {}

    /// Enqueues under `session`'s lease and waits (a watch on the predecessor, no polling)
    /// until this key is the oldest, the deadline passes, or the lease is lost. A frozen name
    /// waits for the freeze to end while the deadline allows. `on_queued` is called once
    /// with our create revision when we have to wait.
    Result<AcquireOutcome> acquire(const std::string& name, const LockRecord& record, Session& session,
                                   Deadline deadline,
                                   const std::function<void(int64_t)>& on_queued = {});
    /// Takes the lock only if it is free now; otherwise `busy` with the holder's entry.
    Result<AcquireOutcome> try_acquire(const std::string& name, const LockRecord& record, Session& session);
    /// Deletes our key (if it still holds) with a `release` audit event, then revokes the
    /// session's lease. False when the key was already gone (the lock had been lost).
    Result<bool> release(const Held& held, Session& session);
    /// Deletes the holder's key (force; stale only when its lease is gone) and revokes its
    /// lease, auditing it as `actor`. nullopt when there is no holder (or it is not stale).
    Result<std::optional<LockEntry>> break_lock(const std::string& name, BreakMode mode, const LockRecord& actor);
    /// Deletes `victim`'s key if it still holds (compare on its create revision), with the
    /// audit `event` by `actor` in the same transaction, then (with revoke_lease) revokes its
    /// lease. False when the key had gone already.
    Result<bool> remove(const LockEntry& victim, const std::string& event, const LockRecord& actor,
                        bool revoke_lease = true);
    /// Moves our held key to `lease` (its create revision, so its fence, stays) and stores
    /// `record` as its value; false when the key no longer holds.
    Result<bool> reattach(const Held& held, const LockRecord& record, int64_t lease);
    /// Stores an audit event about `name` by `who` (e.g. a denial, which changes nothing).
    Result<void> audit(const std::string& event, const std::string& name, const LockRecord& who);
    /// Stores the audit event `e` as it is.
    Result<void> record(const AuditEvent& e);
    /// NAME's freeze, if any.
    Result<std::optional<FreezeEntry>> frozen(const std::string& name);
    /// The current holder of `name`, if any (the oldest key: one of several when shared).
    Result<std::optional<LockEntry>> holder(const std::string& name);
    /// holder(name), with the grant of a `ttl_sec` lease sent beside the read
    /// (Client::range_beside_grant); `grant` is set when it came back.
    Result<std::optional<LockEntry>> holder_beside_grant(const std::string& name, int64_t ttl_sec,
                                                         std::optional<GrantAhead>& grant);
    /// Every key of `name`, holders and waiters, oldest first.
    Result<std::vector<LockEntry>> queue(const std::string& name);
    /// True while `fence` is the current holder's fencing token.
    Result<bool> fence_is_current(const std::string& name, int64_t fence);
    /// Every lock's queue and every freeze, read at one revision.
    Result<Snapshot> list();
    /// Freezes `name` for `ttl` (an etcd lease of that TTL bounds it), audited.
    Result<void> freeze(const std::string& name, const LockRecord& who, int64_t ttl_sec);
    /// Ends a freeze; false when there was none.
    Result<bool> unfreeze(const std::string& name, const LockRecord& who);
    /// The audit events stored in etcd, oldest first.
    Result<std::vector<AuditEvent>> audit_events();
    /// One stored ~audit/ key as its event (nullopt: not an event), with what the key itself
    /// says filled in: an acquire's fence is stored nowhere else.
    static std::optional<AuditEvent> stored_event(const KeyValue& kv);

    const KeyLayout& keys() const { return keys_; }

private:
    Result<AcquireOutcome> enqueue(const std::string& name, const LockRecord& record, Session& session,
                                   Deadline deadline, bool try_only,
                                   const std::function<void(int64_t)>& on_queued);
    /// Takes a free, unfrozen name in one transaction (a slot request with slot 0); an
    /// exclusive try on a held name gets `busy`; nullopt when the queue must decide (held and
    /// waiting, frozen, ours queued already, or a shared or slot request on a held name).
    Result<std::optional<AcquireOutcome>> take_if_free(const std::string& name, const std::string& key,
                                                       const std::string& freeze, const LockRecord& rec,
                                                       Session& session, bool try_only);
    /// A key ahead of ours in a queue, and the revision at which it was seen.
    struct Predecessor {
        std::string key;  ///< empty: none
        int64_t seen_at = 0;
    };
    /// Where our key stands once it is in NAME's queue.
    struct Joined {
        int64_t my_rev = 0;       ///< its create revision (our fence)
        Predecessor pred;         ///< the newest key older than ours (none: we head the queue)
        bool pred_known = true;   ///< false: our key was there already; read its predecessor first
    };
    /// Puts our key in NAME's queue (unless frozen: then waits for the freeze to go), reading
    /// the head and our predecessor in the same transaction. Fills `out`, or returns the
    /// outcome to give now (busy for an exclusive --try, frozen, lost).
    Result<std::optional<AcquireOutcome>> join_queue(const std::string& name, const std::string& key,
                                                     const std::string& freeze, const LockRecord& rec,
                                                     Session& session, Deadline deadline, bool try_only,
                                                     Cancel& cancel, Joined& out);
    /// Exclusive: waits for each predecessor's deletion in turn, then confirms `ours` in the
    /// transaction that checks it is the oldest key; acquired, timeout (deadline or cancel) or
    /// lost. With !pred_known the predecessor is read first.
    Result<AcquireStatus> wait_turn(Held& ours, Predecessor pred, bool pred_known, Deadline deadline, Cancel& cancel,
                                    const std::function<void(int64_t)>& on_queued);
    /// Waits until a key of [key, range_end) is deleted (range_end empty: `key` alone).
    Result<bool> wait_deleted(const std::string& key, int64_t after_rev, Deadline deadline, Cancel& cancel,
                              const std::string& range_end = {});
    /// The writes that make `ours` a holding: its value (no fence: the create revision is
    /// the fence), the acquire event (with ours.fence; 0 when the same transaction creates the
    /// key) and a slot holder's claim.
    std::vector<RequestOp> holding_writes(const Held& ours) const;
    /// The one confirmation of a queued key: holding_writes if our key is still the one
    /// created at ours.fence; its failure reads our key. Callers add their turn's compares.
    TxnRequest confirm_txn(const Held& ours) const;
    // Shared and slot requests (lock_shared.cpp).
    enum class TurnEnd { granted, ended, busy };
    /// Shared or slots: waits for the turn of `ours` (turn.hpp) and confirms it (a slot with
    /// the lowest free slot, which `ours.record` gets); acquired, busy (try_only, with the
    /// oldest key in `blocker`), timeout or lost.
    Result<AcquireStatus> wait_shared_turn(Held& ours, Deadline deadline, Cancel& cancel, bool try_only,
                                           const std::function<void(int64_t)>& on_queued,
                                           std::optional<LockEntry>* blocker);
    /// Waits until the key `my_rev` of a shared or slot request may hold (turn.hpp); `busy`
    /// (with the oldest key in `blocker`) when try_only and it may not at once.
    Result<TurnEnd> wait_for_turn(const std::string& name, int64_t my_rev, const Sharing& want, Deadline deadline,
                                  Cancel& cancel, bool try_only, const std::function<void(int64_t)>& on_queued,
                                  std::optional<LockEntry>* blocker);
    /// Takes our key `key` (created at `my_rev`) out of the queue, so nobody waits behind it.
    Result<void> leave_queue(const std::string& key, int64_t my_rev);
    /// Claims the lowest free slot for our granted key `ours` in its confirmation (confirm_txn);
    /// `ours.record` gets the slot. False when the key is gone.
    Result<bool> confirm_slot(Held& ours);
    PutRequest audit_put(const std::string& event, const std::string& name, const LockRecord& who,
                         int64_t fence) const;

    Client& client_;
    KeyLayout keys_;
};

} // namespace lokt::etcd
