// lokt::Backend on etcd: reading NAME's holders (one, or several when shared or by slot) and
// releasing or breaking them, each removal a transaction with its audit event.
#include "lokt/etcd/backend.hpp"

#include <utility>

#include "lokt/etcd/turn.hpp"
#include "lokt/liveness.hpp"

#include <algorithm>

namespace lokt::etcd {

Result<std::vector<etcd::LockEntry>> EtcdBackend::holding(const std::string& name) const {
    auto q = locks_.queue(name);
    if (!q) return q.error();
    q->resize(holding_count(*q));
    return q;
}

Result<ReleaseOutcome> EtcdBackend::remove_holders(const std::string& name, const std::string& event,
                                                   const Refusal& refuse, bool all, bool revoke_lease) {
    auto hs = holding(name);
    if (!hs) return hs.error();
    if (hs->empty()) return ReleaseOutcome{ReleaseStatus::not_found, {}};
    const LockRecord view = lock_view(hs->front());
    std::optional<ReleaseOutcome> refused;
    bool removed = false;
    for (const auto& h : *hs) {
        const LockRecord rec = shown(h);
        if (auto no = refuse ? refuse(rec) : std::nullopt) {
            // As on files: a group answers not_owner / not_stale as a whole, but a guard of
            // one's own that protects a live tree is named (it is what --force would end).
            const bool whole = *no == ReleaseStatus::not_owner || *no == ReleaseStatus::not_stale;
            if (!refused || refused->status == ReleaseStatus::not_owner) refused = ReleaseOutcome{*no, whole ? view : rec};
            continue;
        }
        auto r = locks_.remove(h, event, actor(self_, name, rec.lock_id), revoke_lease);
        if (!r) return r.error();
        if (!*r) continue;  // gone by itself meanwhile (its lease expired, or someone removed it)
        if (!all) return ReleaseOutcome{ReleaseStatus::released, rec};
        removed = true;
    }
    if (all && refused) return *refused;  // live holders are left
    if (removed) return ReleaseOutcome{ReleaseStatus::released, view};
    if (refused) return *refused;
    return ReleaseOutcome{ReleaseStatus::not_found, {}};
}

Result<ReleaseOutcome> EtcdBackend::release_id(const std::string& name, const std::string& lock_id,
                                               const ReleaseNote&) {
    // A kept lock's key and fence are known here: released without a read first.
    if (kept_.count(lock_id)) return release_kept(name, lock_id, actor(self_, name, lock_id));
    return remove_holders(
        name, "release",
        [&](const LockRecord& rec) -> std::optional<ReleaseStatus> {
            if (rec.lock_id != lock_id) return ReleaseStatus::not_owner;
            return std::nullopt;
        },
        false);
}

Result<ReleaseOutcome> EtcdBackend::release_owned(const std::string& name, const std::optional<std::string>& owner) {
    const std::string& want = owner ? *owner : self_.owner;
    // The first of one's own holds that no live guard protects (a shared name may have several).
    return remove_holders(name, "release", [&](const LockRecord& r) -> std::optional<ReleaseStatus> {
        if (r.owner != want) return ReleaseStatus::not_owner;
        const bool tree = r.kind && (*r.kind == LockKind::guard || *r.kind == LockKind::shim);
        if (tree && !provably_gone(r, view_)) return ReleaseStatus::guarded;
        return std::nullopt;
    }, false);
}

Result<ReleaseOutcome> EtcdBackend::force_break(const std::string& name) {
    return remove_holders(name, "force-break", {}, true);  // every holder of a shared name
}

Result<ReleaseOutcome> EtcdBackend::break_stale(const std::string& name) {
    // An expired lease deletes its key, so a holder still listed is stale only when it is
    // provably gone (a guard of this host whose processes died) or past its recorded expiry.
    return remove_holders(name, "stale-break", [&](const LockRecord& r) -> std::optional<ReleaseStatus> {
        if (r.expired(now()) || provably_gone(r, view_)) return std::nullopt;
        return ReleaseStatus::not_stale;
    }, true);
}

Result<ReadOutcome> EtcdBackend::read(const std::string& name) const {
    std::optional<int64_t> grant_ttl = std::exchange(kept_hint_, std::nullopt);
    auto h = grant_ttl ? locks_.holder_beside_grant(name, *grant_ttl, kept_ahead_) : locks_.holder(name);
    if (!h) return h.error();
    ReadOutcome out;
    if (*h) out.record = lock_view(**h);
    return out;
}

Result<std::vector<LockRecord>> EtcdBackend::holders(const std::string& name) const {
    auto hs = holding(name);
    if (!hs) return hs.error();
    std::vector<LockRecord> out;
    if (hs->empty() || mode_of(hs->front()).mode == LockMode::exclusive) return out;
    for (const auto& h : *hs) out.push_back(shown(h));
    return out;
}

Result<std::optional<etcd::LockEntry>> EtcdBackend::holding_id(const std::string& name,
                                                               const std::string& lock_id) const {
    auto hs = holding(name);
    if (!hs) return hs.error();
    for (auto& h : *hs)
        if (!h.foreign && h.record.lock_id == lock_id) return std::optional<etcd::LockEntry>(std::move(h));
    return std::optional<etcd::LockEntry>();
}

Result<std::vector<lokt::LockEntry>> EtcdBackend::list(bool) {
    auto snap = locks_.list();
    if (!snap) return snap.error();
    std::vector<lokt::LockEntry> out;
    // A shared or slot lock is listed as its holders, one entry each, as on files.
    for (const auto& [name, queue] : snap->queues)
        for (size_t i = 0; i < holding_count(queue); ++i) out.push_back({shown(queue[i]), false});
    for (const auto& f : snap->freezes) {
        LockRecord r = f.record;
        r.name = f.name;
        out.push_back({r, true});
    }
    std::stable_sort(out.begin(), out.end(), [](const lokt::LockEntry& a, const lokt::LockEntry& b) {
        return a.record.name < b.record.name;
    });
    return out;
}

} // namespace lokt::etcd
