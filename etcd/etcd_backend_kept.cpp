// lokt::Backend on etcd, for a holder process (the guard's supervisor, or its front after a
// takeover): the lease it keeps alive for its own locks, and what renews, updates and checks
// a holding it has; and the members' health for `lokt doctor`.
#include "lokt/etcd/backend.hpp"

#include "lokt/etcd/session.hpp"

#include <cstdio>
#include <utility>

namespace lokt::etcd {

Result<Session*> EtcdBackend::kept_lease(const AcquireRequest& req) {
    // A lost lease holds nothing any more; a new acquire starts on a fresh one.
    if (kept_lease_ && kept_lease_->lost() && kept_.empty()) kept_lease_.reset();
    if (!kept_lease_) {
        // Its keepalive thread starts here: in the guard's supervisor, after the fork. A lease
        // the front had granted beside its read (expect_kept) is kept if it asked for this TTL
        // and is fresh: well inside its first keepalive period, so the lease cannot have lapsed.
        const int64_t ttl = kept_ttl_sec(req.ttl);
        std::optional<GrantAhead> ahead = std::exchange(kept_ahead_, std::nullopt);
        const bool fresh = ahead && ahead->requested_ttl == ttl &&
                           Steady::now() - ahead->sent < std::chrono::seconds(ahead->grant.ttl) / 3;
        auto s = fresh ? Session::adopt(*client_, *ahead) : Session::open(*client_, ttl);
        if (!s) return s.error();
        kept_lease_ = std::move(*s);
    }
    return kept_lease_.get();
}

Result<ReleaseOutcome> EtcdBackend::release_kept(const std::string& name, const std::string& lock_id,
                                                 const LockRecord& by) {
    LockRecord rec = kept_.at(lock_id);
    rec.name = name;
    kept_.erase(lock_id);
    // Our key and fence are known: no read first. The compare on the fence deletes it only
    // if it still holds (a lost lease took it, or someone broke it).
    Result<bool> removed = false;
    if (kept_lease_) {
        const int64_t lease = kept_lease_->lease();
        etcd::LockEntry ours{name, locks_.keys().holder_key(name, lease), rec.fence, lease, rec, false};
        removed = locks_.remove(ours, "release", by, false);
    }
    // The lease may carry our other locks: it ends with the last of them. A short one (the
    // default) is left to expire, which saves a round trip; a long --ttl is revoked, so that
    // no lease outlives its keys for long.
    if (kept_.empty() && kept_lease_) {
        if (kept_lease_->ttl_sec() > kKeptTtlSec) (void)kept_lease_->revoke();
        kept_lease_.reset();
    }
    if (!removed) return removed.error();
    return ReleaseOutcome{*removed ? ReleaseStatus::released : ReleaseStatus::not_found,
                          *removed ? std::optional<LockRecord>(rec) : std::nullopt};
}

// GCC 12 with the sanitizers inlines the move of an empty std::optional<LockRecord> and warns
// that its (unengaged) string members may be uninitialized: a known false positive of
// -Wmaybe-uninitialized around std::optional in GCC 12, silenced for this function only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
std::optional<Result<std::optional<LockRecord>>> EtcdBackend::kept_holder(const std::string& lock_id) const {
    auto it = kept_.find(lock_id);
    if (it == kept_.end()) return std::nullopt;
    // While the keepalives succeed the key is ours (a break revokes the lease, which the
    // keepalive sees): no round trip, so the guard's loop never waits on the network here.
    if (!kept_lease_ || kept_lease_->lost()) return Result<std::optional<LockRecord>>(std::optional<LockRecord>());
    return Result<std::optional<LockRecord>>(std::optional<LockRecord>(it->second));
}
#pragma GCC diagnostic pop

Result<std::optional<LockRecord>> EtcdBackend::holder(const std::string& name, const std::string& lock_id) const {
    if (auto kept = kept_holder(lock_id)) return *kept;
    auto h = holding_id(name, lock_id);
    if (!h) return h.error();
    if (!*h) return std::optional<LockRecord>();
    LockRecord r = (*h)->record;
    r.name = name;
    return std::optional<LockRecord>(r);
}

Result<std::optional<LockRecord>> EtcdBackend::renew(const std::string& name, const std::string& lock_id, Nanos,
                                                     SyncWait) {
    if (auto kept = kept_holder(lock_id)) return *kept;
    // A holding this process does not keep alive (the front after its supervisor died):
    // one keepalive of the holder's lease, if the key is still ours.
    auto h = holding_id(name, lock_id);
    if (!h) return h.error();
    if (!*h) return std::optional<LockRecord>();
    auto ka = client_->lease_keepalive((*h)->lease, client_->options().request_timeout);
    if (!ka) return ka.error();
    if (ka->ttl <= 0) return std::optional<LockRecord>();
    LockRecord r = (*h)->record;
    r.name = name;
    return std::optional<LockRecord>(r);
}

Result<bool> EtcdBackend::update(const LockRecord& updated, SyncWait) {
    auto h = holding_id(updated.name, updated.lock_id);
    if (!h) return h.error();
    if (!*h) return false;
    const etcd::LockEntry& e = **h;
    LockRecord r = updated;
    set_sharing(r, sharing_of(e.record));  // mode and slot are the holding's, not the caller's
    r.fence = e.fence;
    // Same key, same lease: only the value changes (the create revision, the fence, stays).
    auto moved = locks_.reattach(Held{e.name, e.key, e.fence, e.lease, e.record}, r, e.lease);
    if (!moved) return moved.error();
    if (*moved) {
        auto it = kept_.find(updated.lock_id);
        if (it != kept_.end()) it->second = r;
    }
    return *moved;
}

std::vector<BackendProbe> EtcdBackend::probe() {
    std::vector<BackendProbe> out;
    const auto& eps = client_->options().url.endpoints;
    for (size_t i = 0; i < eps.size(); ++i) {
        BackendProbe p;
        p.what = eps[i].host + ":" + std::to_string(eps[i].port);
        auto st = client_->endpoint_status(i);
        if (!st) {
            p.detail = st.error().message;
            out.push_back(std::move(p));
            continue;
        }
        p.reached = true;
        char rtt[32];
        std::snprintf(rtt, sizeof rtt, "%.1f ms", std::chrono::duration<double, std::milli>(st->round_trip).count());
        p.detail = "etcd " + st->reply.value("version", std::string("?")) + ", round trip " + rtt;
        p.clock_skew = st->clock_skew;
        if (p.clock_skew) {
            const auto s = std::chrono::duration_cast<std::chrono::seconds>(*p.clock_skew).count();
            p.detail += ", clock skew " + std::string(s >= 0 ? "+" : "") + std::to_string(s) + "s";
        } else {
            p.detail += ", clock skew unknown (no Date header)";
        }
        out.push_back(std::move(p));
    }
    return out;
}

} // namespace lokt::etcd
