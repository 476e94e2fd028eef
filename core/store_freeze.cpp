// The lock store: freezes (freezes/NAME.json), which block every acquisition of NAME until
// they are lifted or expire. Mutations share the per-name lock with NAME's lock file.
#include "lokt/store.hpp"

#include "lokt/name.hpp"
#include "store_io.hpp"

namespace lokt {

namespace detail {

Result<std::optional<LockRecord>> active_freeze(const Root& root, const AuditLog& log,
                                                const Identity& actor, const std::string& name) {
    const std::string path = root.freeze_path(name);
    auto seen = read_state(root, path);
    if (!seen) return seen.error();
    if (!seen->exists) return std::optional<LockRecord>{};  // the common case: one failed open
    if (seen->decoded.status == DecodeStatus::future_version)
        return future_version_error("freeze", name, *seen);
    if (seen->ok() && !seen->record().expired(now())) return std::optional<LockRecord>{seen->record()};

    // Expired or unreadable: remove it, deciding again on what is there under the lock.
    auto lk = NameLock::acquire(root, name);
    if (!lk) return lk.error();
    auto cur = read_state(root, path);
    if (!cur) return cur.error();
    if (!cur->exists) return std::optional<LockRecord>{};
    switch (cur->decoded.status) {
    case DecodeStatus::future_version:
        return future_version_error("freeze", name, *cur);
    case DecodeStatus::corrupt: {
        LOKT_TRY(rootfs::unlink(root.path, path));
        auto ev = make_event("unfreeze", actor, name, nullptr, false);
        ev.extra = {{"reason", "corrupt"}};
        write_event(log, ev);
        return std::optional<LockRecord>{};
    }
    case DecodeStatus::ok:
        break;
    }
    const LockRecord& rec = cur->record();
    if (!rec.expired(now())) return std::optional<LockRecord>{rec};  // replaced meanwhile
    LOKT_TRY(rootfs::unlink(root.path, path));
    auto ev = make_event("unfreeze", actor, name, &rec, true);
    ev.extra = {{"reason", "expired"}};
    write_event(log, ev);
    return std::optional<LockRecord>{};
}

} // namespace detail

Result<LockRecord> Store::freeze(const std::string& name, Nanos ttl) {
    LOKT_TRY(validate_name(name));
    if (ttl.count() <= 0) return Error{"freeze \"" + name + "\" needs a TTL greater than zero"};
    LockRecord r;
    r.version = 1;
    r.name = name;
    r.lock_id = random_lock_id();
    r.owner = self_.owner;
    r.host = self_.host;
    r.pid = self_.pid;
    r.pid_start_ns = self_.pid_start;
    r.agent_id = self_.agent_id;
    r.acquired_ts = now();
    detail::set_ttl(r, ttl, r.acquired_ts);

    auto tmp = detail::TempFile::write(root_, root_.freezes_dir(), encode_lock(r));
    if (!tmp) return tmp.error();
    auto lk = detail::NameLock::acquire(root_, name);
    if (!lk) return lk.error();
    const std::string path = root_.freeze_path(name);
    auto cur = detail::read_state(root_, path);
    if (!cur) return cur.error();
    if (cur->exists && cur->decoded.status == DecodeStatus::future_version)
        return detail::future_version_error("freeze", name, *cur);
    LOKT_TRY(tmp->rename_to(path));
    write_event(audit_, make_event("freeze", self_, name, &r, true));
    return r;
}

Result<ReleaseOutcome> Store::unfreeze(const std::string& name, bool force) {
    LOKT_TRY(validate_name(name));
    const std::string path = root_.freeze_path(name);
    // --force clears whatever sits there, a planted non-regular entry included.
    auto locked = detail::lock_and_read(root_, name, path, force ? detail::Foreign::report : detail::Foreign::refuse);
    if (!locked) return locked.error();
    if (locked->cleared_sync)
        detail::audit_cleared(audit_, self_, "force-unfreeze", name, detail::sync_dir(root_) + "/" + name,
                              locked->cleared_sync);
    const auto* cur = &locked->state;
    if (!cur->exists) return ReleaseOutcome{ReleaseStatus::not_found, {}};
    if (cur->foreign) {
        LOKT_TRY(rootfs::unlink(root_.path, path));
        detail::audit_cleared(audit_, self_, "force-unfreeze", name, path, cur->foreign);
        return ReleaseOutcome{ReleaseStatus::released, {}};
    }
    std::optional<LockRecord> rec;
    switch (cur->decoded.status) {
    case DecodeStatus::future_version:
        if (!force) return detail::future_version_error("freeze", name, *cur);
        break;
    case DecodeStatus::corrupt:
        break;  // nobody owns an unreadable freeze: anyone may lift it
    case DecodeStatus::ok:
        rec = cur->record();
        break;
    }
    if (rec && rec->expired(now())) {
        // It already ended on its own: report it as not frozen and tidy up.
        LOKT_TRY(rootfs::unlink(root_.path, path));
        auto ev = make_event("unfreeze", self_, name, &*rec, true);
        ev.extra = {{"reason", "expired"}};
        write_event(audit_, ev);
        return ReleaseOutcome{ReleaseStatus::not_found, rec};
    }
    if (rec && rec->owner != self_.owner && !force)
        return ReleaseOutcome{ReleaseStatus::not_owner, rec};
    LOKT_TRY(rootfs::unlink(root_.path, path));
    write_event(audit_, make_event(force ? "force-unfreeze" : "unfreeze", self_, name,
                                             rec ? &*rec : nullptr, true));
    return ReleaseOutcome{ReleaseStatus::released, rec};
}

Result<std::optional<LockRecord>> Store::active_freeze(const std::string& name) {
    LOKT_TRY(validate_name(name));
    return detail::active_freeze(root_, audit_, self_, name);
}

} // namespace lokt
