// The lock store: releasing and breaking locks, each a compare-and-delete under the per-name
// lock (the file is re-read inside it, so two breakers can never both remove something).
#include "lokt/store.hpp"

#include "lokt/held_file.hpp"
#include "lokt/liveness.hpp"
#include "lokt/name.hpp"
#include "store_io.hpp"

namespace lokt {
namespace {

ReleaseOutcome outcome(ReleaseStatus s, std::optional<LockRecord> r = {}) {
    return ReleaseOutcome{s, std::move(r)};
}

bool is_tree_lock(const LockRecord& r) {
    return r.kind && (*r.kind == LockKind::guard || *r.kind == LockKind::shim);
}

} // namespace

Result<ReleaseOutcome> Store::release_id(const std::string& name, const std::string& lock_id,
                                         const ReleaseNote& note) {
    auto locked = detail::lock_and_read(root_, name, root_.lock_path(name));
    if (!locked) return locked.error();
    const std::string& path = locked->path;
    auto* cur = &locked->state;
    if (!cur->exists) return outcome(ReleaseStatus::not_found);
    if (!cur->ok()) return outcome(ReleaseStatus::not_owner);
    const LockRecord& rec = cur->record();
    if (is_group(rec)) return release_holder(rec, lock_id, note);
    if (rec.lock_id != lock_id) return outcome(ReleaseStatus::not_owner, rec);
    auto ev = release_event(self_, name, rec, note);
    // Audited before the unlink: a waiter acquires the moment the file goes, and the log
    // must show this release before that acquire.
    write_event(audit_, ev);
    LOKT_TRY(rootfs::unlink(root_.path, path));
    remove_held(view_.held_dir, rec.lock_id);
    return outcome(ReleaseStatus::released, rec);
}

Result<ReleaseOutcome> Store::release_owned(const std::string& name,
                                            const std::optional<std::string>& owner) {
    const std::string& want = owner ? *owner : self_.owner;
    auto locked = detail::lock_and_read(root_, name, root_.lock_path(name));
    if (!locked) return locked.error();
    const std::string& path = locked->path;
    auto* cur = &locked->state;
    if (!cur->exists) return outcome(ReleaseStatus::not_found);
    switch (cur->decoded.status) {
    case DecodeStatus::future_version:
        return detail::future_version_error("lock", name, *cur);
    case DecodeStatus::corrupt:
        return Error{"lock \"" + name + "\" is corrupt (" + cur->decoded.detail +
                     "); remove it with --break-stale or --force"};
    case DecodeStatus::ok:
        break;
    }
    const LockRecord& rec = cur->record();
    if (is_group(rec)) return release_owned_holder(rec, want);
    if (rec.owner != want) return outcome(ReleaseStatus::not_owner, rec);
    // A running guard's lock protects a live process tree: only --force may take it away.
    if (is_tree_lock(rec) && !provably_gone(rec, view_))
        return outcome(ReleaseStatus::guarded, rec);
    write_event(audit_, release_event(self_, name, rec, {}));  // before: see release_id
    LOKT_TRY(rootfs::unlink(root_.path, path));
    remove_held(view_.held_dir, rec.lock_id);
    return outcome(ReleaseStatus::released, rec);
}

Result<ReleaseOutcome> Store::force_break(const std::string& name) {
    auto locked = detail::lock_and_read(root_, name, root_.lock_path(name), detail::Foreign::report);
    if (!locked) return locked.error();
    const std::string& path = locked->path;
    auto* cur = &locked->state;
    if (locked->cleared_sync)
        detail::audit_cleared(audit_, self_, "force-break", name, detail::sync_dir(root_) + "/" + name,
                              locked->cleared_sync);
    if (!cur->exists) return outcome(locked->cleared_sync ? ReleaseStatus::released : ReleaseStatus::not_found);
    if (cur->foreign) {
        // A FIFO, symlink, device or directory planted where the lock belongs: never read, removed.
        LOKT_TRY(rootfs::unlink(root_.path, path));
        detail::audit_cleared(audit_, self_, "force-break", name, path, cur->foreign);
        return outcome(ReleaseStatus::released);
    }
    // Break-glass: whatever is there goes, even a file we cannot read.
    LOKT_TRY(rootfs::unlink(root_.path, path));
    std::optional<LockRecord> rec;
    AuditEvent ev;
    if (cur->ok()) {
        rec = cur->record();
        remove_held(view_.held_dir, rec->lock_id);
        if (is_group(*rec)) clear_holders(name);
        ev = make_event("force-break", self_, name, &*rec, true);
    } else {
        ev = make_event("force-break", self_, name, nullptr, false);
        ev.extra = {{"reason", cur->decoded.status == DecodeStatus::corrupt ? "corrupt"
                                                                            : "future-version"}};
    }
    write_event(audit_, ev);
    return outcome(ReleaseStatus::released, rec);
}

Result<ReleaseOutcome> Store::break_stale(const std::string& name) {
    auto locked = detail::lock_and_read(root_, name, root_.lock_path(name));
    if (!locked) return locked.error();
    const std::string& path = locked->path;
    auto* cur = &locked->state;
    if (!cur->exists) return outcome(ReleaseStatus::not_found);
    switch (cur->decoded.status) {
    case DecodeStatus::future_version:
        return detail::future_version_error("lock", name, *cur);
    case DecodeStatus::corrupt: {
        // A file nobody can read holds nothing: it counts as stale.
        LOKT_TRY(rootfs::unlink(root_.path, path));
        auto ev = make_event("stale-break", self_, name, nullptr, false);
        ev.extra = {{"reason", "corrupt"}};
        write_event(audit_, ev);
        return outcome(ReleaseStatus::released);
    }
    case DecodeStatus::ok:
        break;
    }
    const LockRecord& rec = cur->record();
    if (is_group(rec)) {
        // Stale holders go one by one (audited auto-prune); the group only with the last.
        auto group = settle_group(name, rec);
        if (!group) return group.error();
        if (*group) return outcome(ReleaseStatus::not_stale, **group);
        return outcome(ReleaseStatus::released, rec);
    }
    const char* reason = nullptr;
    if (rec.expired(now())) reason = "expired";
    else if (provably_gone(rec, view_)) reason = "dead";
    if (!reason) return outcome(ReleaseStatus::not_stale, rec);
    LOKT_TRY(rootfs::unlink(root_.path, path));
    remove_held(view_.held_dir, rec.lock_id);
    auto ev = make_event("stale-break", self_, name, &rec, true);
    ev.extra = {{"reason", reason}};
    write_event(audit_, ev);
    return outcome(ReleaseStatus::released, rec);
}

} // namespace lokt
