// The key layout and the values stored under it (see locks.hpp).
#include "lokt/etcd/locks.hpp"

#include "lokt/audit_event.hpp"
#include "lokt/identity.hpp"

#include <cstdio>

namespace lokt::etcd {

std::string KeyLayout::holder_key(const std::string& name, int64_t lease) const {
    // etcd's Mutex names its key fmt.Sprintf("%x", leaseID): lowercase hex, no padding.
    char hex[17];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(lease));
    return lock_dir(name) + hex;
}

std::string KeyLayout::audit_key(TimePoint ts) const {
    char stamp[24];
    std::snprintf(stamp, sizeof stamp, "%020lld", static_cast<long long>(ts.time_since_epoch().count()));
    // Two events in the same nanosecond on different hosts must not overwrite each other.
    return audit_dir() + stamp + "-" + random_lock_id().substr(0, 8);
}

std::string KeyLayout::claim_of(const LockRecord& r) const {
    const Sharing s = sharing_of(r);
    return s.mode == LockMode::slots && s.slot >= 0 ? slot_key(r.name, s.slot) : std::string();
}

std::string KeyLayout::name_of(const std::string& key) const {
    const std::string dir = prefix + "/";
    if (key.compare(0, dir.size(), dir) != 0) return "";
    auto slash = key.find('/', dir.size());
    if (slash == std::string::npos || slash == dir.size()) return "";
    std::string name = key.substr(dir.size(), slash - dir.size());
    return name.front() == '~' ? "" : name;
}

std::string encode_lock_value(const LockRecord& r) {
    auto j = lock_to_json(r);
    j.erase("fence");  // the key's create revision is the fence (decode_lock_entry)
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

LockEntry decode_lock_entry(const KeyLayout& layout, const KeyValue& kv) {
    LockEntry e;
    e.name = layout.name_of(kv.key);
    e.key = kv.key;
    e.fence = kv.create_revision;
    e.lease = kv.lease;
    auto d = decode_lock(kv.value);
    if (d.status == DecodeStatus::ok) {
        e.record = std::move(d.record);
        e.record.fence = kv.create_revision;  // the create revision is the truth, not a stale copy
    } else {
        e.foreign = true;
        e.record.name = e.name;
        e.record.lock_id = kv.key.substr(kv.key.rfind('/') + 1);
    }
    return e;
}

PutRequest Locks::audit_put(const std::string& event, const std::string& name, const LockRecord& who,
                            int64_t fence) const {
    // The same builders as the file store's, so an event has the same fields on both.
    const Identity actor = actor_of(who);
    AuditEvent e = event == "acquire"   ? acquire_event(actor, name, who)
                   : event == "release" ? release_event(actor, name, who, {})
                                        : make_event(event, actor, name, &who, true);
    if (fence > 0) e.extra["fence"] = fence;
    // As the file store records a shared or slot holding.
    if (const Sharing s = sharing_of(who); event == "acquire" && s.mode != LockMode::exclusive) {
        e.extra["mode"] = std::string(to_string(s.mode));
        if (s.slot >= 0) e.extra["slot"] = s.slot;
    }
    return PutRequest{keys_.audit_key(e.ts), encode_event(e), 0};
}

} // namespace lokt::etcd
