// Everything but acquiring: release, break, status reads, freezes and the audit keys.
// Each change is a transaction that also writes its audit event, so no change is ever
// stored without its event and no event describes a change that did not happen.
#include "lokt/etcd/locks.hpp"

#include <algorithm>

namespace lokt::etcd {

Result<bool> Locks::release(const Held& held, Session& session) {
    // Stop the keepalives first: the revoke below would otherwise read as a lost lease.
    session.stop();
    TxnRequest t;
    t.compare = {Compare{CompareResult::equal, CompareTarget::create, held.key, held.fence, ""}};
    t.success = {DeleteRangeRequest{held.key, ""}, audit_put("release", held.name, held.record, held.fence)};
    if (auto claim = keys_.claim_of(held.record); !claim.empty()) t.success.push_back(DeleteRangeRequest{claim, ""});
    auto r = client_.txn(t);
    if (!r) return r.error();
    LOKT_TRY(session.revoke());
    return r->succeeded;
}

namespace {

/// The read of a name's oldest key: its holder.
RangeRequest head_of(const KeyLayout& keys, const std::string& name) {
    RangeRequest head{keys.lock_dir(name), prefix_end(keys.lock_dir(name)), 1};
    head.sort_order = SortOrder::ascend;
    head.sort_target = SortTarget::create;
    return head;
}

Result<std::optional<LockEntry>> first_entry(const KeyLayout& keys, const Result<RangeResponse>& r) {
    if (!r) return r.error();
    if (r->kvs.empty()) return std::optional<LockEntry>();
    return std::optional<LockEntry>(decode_lock_entry(keys, r->kvs.front()));
}

} // namespace

Result<std::optional<LockEntry>> Locks::holder(const std::string& name) {
    return first_entry(keys_, client_.range(head_of(keys_, name)));
}

Result<std::optional<LockEntry>> Locks::holder_beside_grant(const std::string& name, int64_t ttl_sec,
                                                            std::optional<GrantAhead>& grant) {
    return first_entry(keys_, client_.range_beside_grant(head_of(keys_, name), ttl_sec, grant));
}

Result<bool> Locks::fence_is_current(const std::string& name, int64_t fence) {
    auto h = holder(name);
    if (!h) return h.error();
    return h->has_value() && (*h)->fence == fence;
}

Result<std::optional<LockEntry>> Locks::break_lock(const std::string& name, BreakMode mode, const LockRecord& actor) {
    auto h = holder(name);
    if (!h) return h.error();
    if (!h->has_value()) return std::optional<LockEntry>();
    LockEntry victim = **h;
    if (mode == BreakMode::stale && victim.lease != 0) {
        // Expiry deletes a lease's keys, so a stale holder is only seen in the moment
        // between the two; a live lease is never stale.
        auto ttl = client_.lease_timetolive(victim.lease);
        if (!ttl) return ttl.error();
        if (ttl->ttl > 0) return std::optional<LockEntry>();
    }
    auto removed = remove(victim, mode == BreakMode::force ? "force-break" : "stale-break", actor);
    if (!removed) return removed.error();
    if (!*removed) return std::optional<LockEntry>();  // it went by itself meanwhile
    return std::optional<LockEntry>(victim);
}

Result<bool> Locks::remove(const LockEntry& victim, const std::string& event, const LockRecord& actor,
                           bool revoke_lease) {
    TxnRequest t;
    t.compare = {Compare{CompareResult::equal, CompareTarget::create, victim.key, victim.fence, ""}};
    t.success = {DeleteRangeRequest{victim.key, ""}, audit_put(event, victim.name, actor, victim.fence)};
    // A slot holder's claim goes with it (the slot is free for the next in line at once).
    if (auto claim = keys_.claim_of(victim.record); !claim.empty() && !victim.foreign)
        t.success.push_back(DeleteRangeRequest{claim, ""});
    auto r = client_.txn(t);
    if (!r) return r.error();
    if (!r->succeeded) return false;
    // Revoking ends the holder's session too, so its keepalive sees TTL 0 and reports loss.
    if (revoke_lease && victim.lease != 0) LOKT_TRY(client_.lease_revoke(victim.lease));
    return true;
}

Result<bool> Locks::reattach(const Held& held, const LockRecord& record, int64_t lease) {
    // A put keeps the key's create revision; only its lease and value change.
    TxnRequest t;
    t.compare = {Compare{CompareResult::equal, CompareTarget::create, held.key, held.fence, ""}};
    t.success = {PutRequest{held.key, encode_lock_value(record), lease}};
    // A slot's claim lives exactly as long as its holder key: it moves to the same lease.
    if (auto claim = keys_.claim_of(record); !claim.empty()) t.success.push_back(PutRequest{claim, held.key, lease});
    auto r = client_.txn(t);
    if (!r) return r.error();
    return r->succeeded;
}

Result<void> Locks::audit(const std::string& event, const std::string& name, const LockRecord& who) {
    TxnRequest t;
    t.success = {audit_put(event, name, who, 0)};
    auto r = client_.txn(t);
    if (!r) return r.error();
    return {};
}

Result<void> Locks::record(const AuditEvent& e) {
    auto r = client_.put(PutRequest{keys_.audit_key(e.ts), encode_event(e), 0});
    if (!r) return r.error();
    return {};
}

Result<std::optional<FreezeEntry>> Locks::frozen(const std::string& name) {
    auto r = client_.range(RangeRequest{keys_.freeze_key(name), ""});
    if (!r) return r.error();
    if (r->kvs.empty()) return std::optional<FreezeEntry>();
    auto e = decode_lock_entry(keys_, r->kvs.front());
    return std::optional<FreezeEntry>(FreezeEntry{name, e.record, r->kvs.front().lease});
}

Result<Snapshot> Locks::list() {
    Snapshot s;
    // Every lock key sorts before PREFIX/~ (names cannot contain '~'), the meta keys after.
    RangeRequest all{keys_.prefix + "/", keys_.prefix + "/~"};
    auto r = client_.range(all);
    if (!r) return r.error();
    s.revision = r->revision;
    for (const auto& kv : r->kvs) {
        auto e = decode_lock_entry(keys_, kv);
        if (!e.name.empty()) s.queues[e.name].push_back(std::move(e));
    }
    for (auto& [name, q] : s.queues)
        std::sort(q.begin(), q.end(), [](const LockEntry& a, const LockEntry& b) { return a.fence < b.fence; });
    RangeRequest frozen{keys_.freeze_key(""), prefix_end(keys_.freeze_key(""))};
    frozen.revision = s.revision;  // the same snapshot as the locks
    auto f = client_.range(frozen);
    if (!f) return f.error();
    for (const auto& kv : f->kvs) {
        auto e = decode_lock_entry(keys_, kv);
        s.freezes.push_back(FreezeEntry{kv.key.substr(keys_.freeze_key("").size()), e.record, kv.lease});
    }
    return s;
}

Result<void> Locks::freeze(const std::string& name, const LockRecord& who, int64_t ttl_sec) {
    auto lease = client_.lease_grant(ttl_sec);
    if (!lease) return lease.error();
    LockRecord rec = who;
    rec.name = name;
    rec.ttl_sec = ttl_sec;
    TxnRequest t;
    t.success = {PutRequest{keys_.freeze_key(name), encode_lock_value(rec), lease->id},
                 audit_put("freeze", name, rec, 0)};
    auto r = client_.txn(t);
    if (!r) return r.error();
    return {};
}

Result<bool> Locks::unfreeze(const std::string& name, const LockRecord& who) {
    TxnRequest t;
    t.compare = {Compare{CompareResult::greater, CompareTarget::version, keys_.freeze_key(name), 0, ""}};
    t.success = {DeleteRangeRequest{keys_.freeze_key(name), "", true}, audit_put("unfreeze", name, who, 0)};
    auto r = client_.txn(t);
    if (!r) return r.error();
    if (!r->succeeded) return false;
    if (const auto* d = std::get_if<DeleteRangeResponse>(&r->responses.front()))
        for (const auto& kv : d->prev_kvs)
            if (kv.lease) LOKT_TRY(client_.lease_revoke(kv.lease));
    return true;
}

Result<std::vector<AuditEvent>> Locks::audit_events() {
    RangeRequest all{keys_.audit_dir(), prefix_end(keys_.audit_dir())};
    all.sort_order = SortOrder::ascend;
    all.sort_target = SortTarget::create;
    auto r = client_.range(all);
    if (!r) return r.error();
    std::vector<AuditEvent> out;
    for (const auto& kv : r->kvs)
        if (auto e = stored_event(kv)) out.push_back(std::move(*e));
    return out;
}

std::optional<AuditEvent> Locks::stored_event(const KeyValue& kv) {
    auto e = decode_event(kv.value);
    if (!e) return std::nullopt;
    // An acquisition of a free name is stored by the transaction that created the holder
    // key, so its fence is this key's create revision.
    if (e->event == "acquire" && !(e->extra.is_object() && e->extra.contains("fence")))
        e->extra["fence"] = kv.create_revision;
    return std::move(*e);
}

} // namespace lokt::etcd
