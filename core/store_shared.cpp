// The lock store, shared and slot holders: joining a group (or starting one), renewing,
// updating and leaving it. Every step runs under NAME's flock and re-reads the lock file
// there, so a group and an exclusive holder never coexist (docs/design.md "Shared locks").
#include "lokt/store.hpp"

#include "lokt/held_file.hpp"
#include "lokt/liveness.hpp"
#include "lokt/queue.hpp"
#include "store_group.hpp"
#include "store_io.hpp"

#include <algorithm>
#include <cerrno>

namespace lokt {
namespace {

constexpr int kMaxAttempts = 64;

ReleaseOutcome outcome(ReleaseStatus s, std::optional<LockRecord> r = {}) {
    return ReleaseOutcome{s, std::move(r)};
}

/// The lowest slot number no live holder has (the pool is known not to be full).
int free_slot(const std::vector<LockRecord>& live) {
    for (int n = 0;; ++n)
        if (std::none_of(live.begin(), live.end(), [&](const LockRecord& h) { return sharing_of(h).slot == n; }))
            return n;
}

/// Whether `req` must wait: a pool at its N, or a request without a ticket of its own while
/// a waiter with an unmarked ticket is queued (an exclusive one: writer preference; a slot
/// waiter: first come, first served).
bool group_full(const AcquireRequest& req, const std::vector<LockRecord>& live, const Root& root) {
    if (req.mode == LockMode::slots && live.size() >= static_cast<size_t>(req.slots)) return true;
    return !req.queued && detail::exclusive_waiter_queued(root, req.name, req.who.host);
}

/// The fence a new holder must exceed besides the counter: that of whatever is on disk (a
/// lock being replaced, the group record) and of every live holder, in case the counter was
/// lost (design.md "Fencing tokens").
int64_t fence_floor(const detail::FileState& cur, const std::vector<LockRecord>& live) {
    int64_t floor = cur.ok() ? cur.record().fence : 0;
    for (const auto& h : live) floor = std::max(floor, h.fence);
    return floor;
}

bool is_tree_lock(const LockRecord& r) {
    return r.kind && (*r.kind == LockKind::guard || *r.kind == LockKind::shim);
}

} // namespace

Result<AcquireOutcome> Store::try_acquire_shared(const AcquireRequest& req) {
    const std::string& name = req.name;
    if (req.mode == LockMode::slots && (req.slots < 1 || req.slots > kMaxSlots))
        return Error{"--slots must be between 1 and " + std::to_string(kMaxSlots) + ", not " + std::to_string(req.slots)};
    auto frozen = detail::active_freeze(root_, audit_, req.who, name);
    if (!frozen) return frozen.error();
    if (*frozen) return AcquireOutcome{Frozen{**frozen}};
    const Sharing want{req.mode, req.mode == LockMode::slots ? req.slots : 0, -1, {}};
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
        auto r = acquire_shared_locked(req, want);
        if (!r) return r.error();
        if (*r) return std::move(**r);
    }
    return Error{"lock \"" + name + "\": gave up after " + std::to_string(kMaxAttempts) +
                 " attempts (the lock file kept changing)"};
}

Result<std::optional<AcquireOutcome>> Store::acquire_shared_locked(const AcquireRequest& req, const Sharing& want) {
    const std::string& name = req.name;
    auto locked = detail::lock_and_read(root_, name, root_.lock_path(name));
    if (!locked) return locked.error();
    detail::GroupScan scan{locked->state, {}, {}, false};
    const detail::FileState& cur = scan.cur;
    if (cur.exists) {
        if (cur.decoded.status == DecodeStatus::future_version)
            return detail::future_version_error("lock", name, cur);
        if (detail::being_written(cur, now())) return std::optional<AcquireOutcome>{detail::held_by_writer(name, cur)};
        scan.replace = true;
        if (cur.ok() && is_group(cur.record())) {
            const Sharing has = sharing_of(cur.record());
            if (has.mode != want.mode || has.slots != want.slots)
                return mode_mismatch(name, has, want.mode, want.slots);
            auto l = live_holders(name);
            if (!l) return l.error();
            scan.live = std::move(*l);
            if (!scan.live.empty()) {
                scan.group = cur.record();
                if (group_full(req, scan.live, root_)) {
                    auto shown = settle_group(name, *scan.group);  // show a live holder
                    if (!shown) return shown.error();
                    return std::optional<AcquireOutcome>{Held{shown->value_or(*scan.group)}};
                }
            }
        } else if (cur.ok()) {
            const LockRecord& old = cur.record();
            const bool expired = old.expired(now());
            if (!expired && !provably_gone(old, view_)) return std::optional<AcquireOutcome>{Held{old}};
            remove_held(view_.held_dir, old.lock_id);
            auto ev = make_event("auto-prune", req.who, name, &old, false);
            ev.extra = {{"pruned_owner", old.owner}, {"pruned_host", old.host}, {"pruned_pid", old.pid},
                        {"reason", expired ? "expired" : "dead"}};
            write_event(audit_, ev);
        }
    }
    if (!scan.group) clear_holders(name);  // files of no group (a crash, a force-break) are void
    return add_holder(req, want, scan);
}

Result<std::optional<AcquireOutcome>> Store::add_holder(const AcquireRequest& req, const Sharing& want,
                                                        const detail::GroupScan& scan) {
    const std::string& name = req.name;
    LockRecord mine = make_lock_record(req, now());
    Sharing ms = want;
    if (want.mode == LockMode::slots) ms.slot = free_slot(scan.live);
    set_sharing(mine, ms);
    // Held (inside the sync lock, as for any replacer) until the holder and the group
    // record are in place, so fences follow the order in which holdings begin.
    auto fence_lock = detail::NameLock::acquire_fence(root_, name);
    if (!fence_lock) return fence_lock.error();
    auto fence = fence_lock->next_fence(fence_floor(scan.cur, scan.live));
    if (!fence) return fence.error();
    mine.fence = *fence;
    LOKT_TRY(detail::write_holder(root_, mine));
    if (scan.group) {
        // The record may mirror a holder just pruned: point it at a live one.
        auto settled = settle_group(name, *scan.group);
        if (!settled) return settled.error();
    } else {
        auto g = detail::write_group(root_, detail::group_mirroring(mine, random_lock_id(), want), !scan.replace);
        if (!g) {
            (void)detail::remove_holder(root_, name, mine.lock_id);
            // An exclusive acquirer linked first (it needs no flock): judge it next round.
            if (g.error().sys_errno == EEXIST) return std::optional<AcquireOutcome>();
            return g.error();
        }
    }
    auto ev = acquire_event(req.who, name, mine);
    ev.extra["mode"] = std::string(to_string(want.mode));
    if (ms.slot >= 0) ev.extra["slot"] = ms.slot;
    write_event(audit_, ev);
    return std::optional<AcquireOutcome>{Acquired{mine, false}};
}

Result<std::optional<LockRecord>> Store::renew_holder(const LockRecord& group, const std::string& lock_id,
                                                      Nanos ttl) {
    auto cur = detail::read_holder(root_, group.name, lock_id);
    if (!cur || !*cur) return cur;
    LockRecord renewed = **cur;
    detail::set_ttl(renewed, ttl, now());
    LOKT_TRY(detail::write_holder(root_, renewed));
    // The group record carries its representative's TTL, for the original's sake.
    if (sharing_of(group).rep == lock_id) LOKT_TRY(settle_group(group.name, group));
    if (renew_audit_due(lock_id, Steady::now()))
        write_event(audit_, make_event("renew", self_, group.name, &renewed, true));
    return std::optional<LockRecord>{renewed};
}

Result<bool> Store::update_holder(const LockRecord& group, const LockRecord& updated) {
    auto cur = detail::read_holder(root_, group.name, updated.lock_id);
    if (!cur) return cur.error();
    if (!*cur) return false;
    LockRecord r = updated;
    r.version = 1;
    r.fence = (*cur)->fence;            // the holding's token, whatever the caller's copy says
    set_sharing(r, sharing_of(**cur));  // mode and slot are the store's, not the caller's
    LOKT_TRY(detail::write_holder(root_, r));
    if (sharing_of(group).rep == r.lock_id)
        LOKT_TRY(detail::write_group(root_, detail::group_mirroring(r, group.lock_id, sharing_of(group)), false));
    return true;
}

Result<ReleaseOutcome> Store::release_holder(const LockRecord& group, const std::string& lock_id,
                                             const ReleaseNote& note) {
    auto cur = detail::read_holder(root_, group.name, lock_id);
    if (!cur) return cur.error();
    if (!*cur) return outcome(ReleaseStatus::not_owner, group);
    const LockRecord& rec = **cur;
    auto ev = release_event(self_, group.name, rec, note);
    write_event(audit_, ev);  // before the files go: see release_id
    LOKT_TRY(detail::remove_holder(root_, group.name, lock_id));
    remove_held(view_.held_dir, lock_id);
    auto settled = settle_group(group.name, group);
    if (!settled) return settled.error();
    // Rewritten even when it still mirrors a live holder: a slot just came free, and waiters
    // sleep on changes to locks/ (inotify), not on holders/.
    if (*settled) LOKT_TRY(detail::write_group(root_, **settled, false));
    return outcome(ReleaseStatus::released, rec);
}

Result<ReleaseOutcome> Store::release_owned_holder(const LockRecord& group, const std::string& owner) {
    auto all = detail::read_holders(root_, group.name);
    if (!all) return all.error();
    std::optional<LockRecord> refused;
    for (const auto& h : *all) {
        if (h.owner != owner) continue;
        // As for an exclusive lock: a running guard's holder protects a live process tree.
        if (is_tree_lock(h) && !provably_gone(h, view_)) {
            refused = h;
            continue;
        }
        return release_holder(group, h.lock_id, {});
    }
    if (refused) return outcome(ReleaseStatus::guarded, refused);
    return outcome(ReleaseStatus::not_owner, group);
}

} // namespace lokt
