#pragma once
// The lock store (DESIGN §4): every change to a lock or freeze, atomic and audited.
//
// - Create: the full JSON goes to a temp file in locks/, then link() to NAME.json (EEXIST =
//   held), then the temp is unlinked; nobody ever sees a partial file.
// - Every other mutation of NAME (renew, release, break, prune, replace) runs inside a short
//   critical section under flock() on ROOT/sync/NAME (never deleted; the kernel drops it when
//   the holder dies), re-reads the file and acts only if lock_id is still the one judged
//   (compare-and-delete / compare-and-replace via rename of a complete temp file).

#include "lokt/audit.hpp"
#include "lokt/audit_event.hpp"
#include "lokt/identity.hpp"
#include "lokt/liveness.hpp"
#include "lokt/lock_file.hpp"
#include "lokt/result.hpp"
#include "lokt/root.hpp"
#include "lokt/sharing.hpp"
#include "lokt/time.hpp"

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace lokt {

namespace detail {
struct GroupScan;  // core/store_group.hpp
}

/// What an acquirer asks for.
struct AcquireRequest {
    std::string name;
    LockKind kind = LockKind::lease;
    Nanos ttl{0};             ///< 0: no TTL
    Identity who;             ///< owner/host/agent; pid+pid_start of the holder process
    pid_t pgid = 0;           ///< guard: the command's process group, if known yet
    std::string command;      ///< guard/shim: the command line, for humans
    std::string lock_id;      ///< guard: fixed in advance (its held file's name); empty: random
    LockMode mode = LockMode::exclusive;  ///< shared / slots: store_shared.cpp
    int slots = 0;            ///< mode == slots: the pool size N
    bool queued = false;      ///< the caller's queue ticket already orders it behind exclusive waiters
};

/// The lock record a new holding of `req` starts with at `at` (no fence yet).
LockRecord make_lock_record(const AcquireRequest& req, TimePoint at);

/// The lock is ours (newly created, or a lease of the same owner refreshed).
struct Acquired {
    LockRecord record;
    bool refreshed = false;
};
/// Someone else holds it.
struct Held {
    LockRecord holder;
    /// The lock file is empty or truncated and younger than the write grace period: another
    /// tool (the original lokt) is writing it. `holder` then has only name and expires_at.
    bool being_written = false;
};
/// A freeze blocks it.
struct Frozen {
    LockRecord freeze;
};
using AcquireOutcome = std::variant<Acquired, Held, Frozen>;

/// Result of releasing/breaking one lock.
enum class ReleaseStatus {
    released,
    not_found,   ///< exit 3
    not_owner,   ///< exit 4
    not_stale,   ///< --break-stale on a live, unexpired lock (exit 2)
    guarded,     ///< plain unlock of a live guard/shim lock: needs --force (exit 2)
};
struct ReleaseOutcome {
    ReleaseStatus status = ReleaseStatus::not_found;
    std::optional<LockRecord> record;  ///< the lock judged (released or refused)
};

/// One entry of `lokt status`.
struct LockEntry {
    LockRecord record;
    bool frozen = false;        ///< a freeze file (freezes/NAME.json), not a lock
};

/// What reading one lock file found.
struct ReadOutcome {
    DecodeStatus status = DecodeStatus::ok;
    std::optional<LockRecord> record;  ///< nullopt: no such lock (or corrupt)
    std::string detail;
};

/// How long a mutation may wait for another process's critical section on the same name.
enum class SyncWait {
    bounded,  ///< a few seconds of non-blocking attempts, then an Error naming the holder
    none,     ///< one attempt (for event loops that must never block); EWOULDBLOCK if busy
};

class Store {
public:
    /// The store under `root` (directories are created on first mutation).
    Store(Root root, AuditLog audit, Identity self);

    /// One attempt: checks the freeze, creates the lock, or judges the existing one (prunes
    /// it when provably gone or expired, replaces it when corrupt, refreshes a same-owner
    /// lease). Never waits. Audits acquire / auto-prune / corrupt-break; not deny.
    Result<AcquireOutcome> try_acquire(const AcquireRequest& req);

    /// Audits a final refusal (`deny` or `freeze-deny`) for `req`.
    void audit_denial(const AcquireRequest& req, const AcquireOutcome& outcome);

    /// Renews our lock `lock_id` to now+ttl (compare-and-replace). nullopt: the lock is no
    /// longer ours (broken or replaced) — the caller audits `lost`. Audits `renew` at most
    /// once per kRenewAuditEvery and lock, however often the file is renewed.
    Result<std::optional<LockRecord>> renew(const std::string& name, const std::string& lock_id,
                                            Nanos ttl, SyncWait wait = SyncWait::bounded);
    /// Replaces our lock `lock_id` with `updated` (same lock_id), e.g. to record the pgid.
    Result<bool> update(const LockRecord& updated, SyncWait wait = SyncWait::bounded);

    /// Releases lock_id if it is still the file's (compare-and-delete). `note` goes into the
    /// `release` event (reason "exited", "signaled", "parent-gone", ...; a guard's exit).
    Result<ReleaseOutcome> release_id(const std::string& name, const std::string& lock_id,
                                      const ReleaseNote& note = {});
    /// `lokt unlock NAME`: release if owned by `owner` (default: self's owner).
    Result<ReleaseOutcome> release_owned(const std::string& name,
                                         const std::optional<std::string>& owner = {});
    /// `lokt unlock --force`: remove whatever holds NAME; audits force-break.
    Result<ReleaseOutcome> force_break(const std::string& name);
    /// `lokt unlock --break-stale`: remove only if expired or provably gone; audits stale-break.
    Result<ReleaseOutcome> break_stale(const std::string& name);

    /// Reads NAME's lock file (no side effects). While NAME is shared, that is the group record.
    Result<ReadOutcome> read(const std::string& name) const;
    /// The record held under `lock_id` of NAME: the lock file's, or a shared or slot holder's.
    Result<std::optional<LockRecord>> holder(const std::string& name, const std::string& lock_id) const;
    /// The shared or slot holders of NAME, as their files say (no side effects; empty when
    /// NAME is not shared).
    Result<std::vector<LockRecord>> holders(const std::string& name) const;
    /// All locks and freezes, sorted by name. With prune_expired, expired locks are removed
    /// (audited auto-prune) and not listed.
    Result<std::vector<LockEntry>> list(bool prune_expired);

    /// `lokt freeze NAME --ttl D` (TTL required). Replaces an existing freeze.
    Result<LockRecord> freeze(const std::string& name, Nanos ttl);
    /// `lokt unfreeze NAME [--force]`: not_found / not_owner (unless force) / released.
    Result<ReleaseOutcome> unfreeze(const std::string& name, bool force);
    /// The active freeze of NAME, if any (an expired one is removed, audited).
    Result<std::optional<LockRecord>> active_freeze(const std::string& name);

    const Root& root() const { return root_; }
    const AuditLog& audit() const { return audit_; }
    const Identity& self() const { return self_; }
    /// Where this store's judgements stand (host, boot, pid namespace, ROOT/held).
    const LocalView& local_view() const { return view_; }

    /// The least time between two audited renewals of one lock.
    static constexpr Nanos kRenewAuditEvery = std::chrono::minutes(1);

private:
    /// One pass of an exclusive acquisition under NAME's flock, decided on what is there now
    /// (`mine` gets its fence when written); nullopt when the file went away meanwhile.
    Result<std::optional<AcquireOutcome>> acquire_locked(const AcquireRequest& req, LockRecord& mine);
    /// Re-arms our own lease `old` (lokt lock on a lease we hold), keeping its fence.
    Result<AcquireOutcome> refresh_lease(const AcquireRequest& req, const LockRecord& old);
    // Shared and slot holders (store_shared.cpp, store_group.cpp); each runs under NAME's flock.
    Result<AcquireOutcome> try_acquire_shared(const AcquireRequest& req);
    /// One pass of it under NAME's flock; nullopt when an exclusive acquirer got in meanwhile.
    Result<std::optional<AcquireOutcome>> acquire_shared_locked(const AcquireRequest& req, const Sharing& want);
    /// Writes our holder file (with its fence and slot) and joins or starts the group.
    Result<std::optional<AcquireOutcome>> add_holder(const AcquireRequest& req, const Sharing& want,
                                                     const detail::GroupScan& scan);
    /// Prunes the group's dead holders; removes the group record when none is left (nullopt)
    /// or points it at a live holder (the record now on disk).
    Result<std::optional<LockRecord>> settle_group(const std::string& name, const LockRecord& group);
    Result<std::vector<LockRecord>> live_holders(const std::string& name);
    Result<std::optional<LockRecord>> renew_holder(const LockRecord& group, const std::string& lock_id, Nanos ttl);
    Result<bool> update_holder(const LockRecord& group, const LockRecord& updated);
    Result<ReleaseOutcome> release_holder(const LockRecord& group, const std::string& lock_id,
                                          const ReleaseNote& note);
    Result<ReleaseOutcome> release_owned_holder(const LockRecord& group, const std::string& owner);
    /// force-break of a group: every holder file goes (audited with the lock).
    void clear_holders(const std::string& name);
    /// `status --prune-expired` on a group with expired holders: prunes them under NAME's
    /// flock and appends what is left of NAME to `entries`.
    Result<void> prune_group(const std::string& name, std::vector<LockEntry>& entries);
    /// `status --prune-expired` on an expired lock or freeze: removes it (audited) under NAME's
    /// flock, or appends it to `entries` when a renewal landed meanwhile.
    Result<void> prune_expired_entry(const std::string& name, bool frozen, std::vector<LockEntry>& entries);

    /// True when a renewal of `lock_id` at `at` is to be audited (none in the last minute).
    bool renew_audit_due(const std::string& lock_id, Steady::time_point at);

    Root root_;
    AuditLog audit_;
    Identity self_;
    std::map<std::string, Steady::time_point> renew_audited_;  ///< lock_id -> last audited renew
    LocalView view_;
};

} // namespace lokt
