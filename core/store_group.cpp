// The lock store, shared and slot holders: their files, the group record, and the per-holder
// judgement (prune the gone, keep the group record mirroring a live holder). Callers hold
// NAME's flock (ROOT/sync/NAME) around every change.
#include "lokt/store.hpp"

#include "lokt/held_file.hpp"
#include "lokt/liveness.hpp"
#include "lokt/name.hpp"
#include "store_group.hpp"
#include "store_io.hpp"

#include <algorithm>
#include <cerrno>

namespace lokt {
namespace detail {

std::string holder_path(const Root& root, const std::string& name, const std::string& lock_id) {
    return holders_dir(root, name) + "/" + lock_id + ".json";
}

Result<std::optional<LockRecord>> read_holder(const Root& root, const std::string& name,
                                              const std::string& lock_id) {
    if (!valid_lock_id(lock_id)) return std::optional<LockRecord>{};  // never a path
    auto st = read_state(root, holder_path(root, name, lock_id));
    if (!st) {
        // No holders directory at all: nobody holds NAME shared.
        if (st.error().sys_errno == ENOENT) return std::optional<LockRecord>{};
        return st.error();
    }
    if (!st->ok()) return std::optional<LockRecord>{};
    return std::optional<LockRecord>{st->record()};
}

Result<std::vector<LockRecord>> read_holders(const Root& root, const std::string& name) {
    std::vector<LockRecord> out;
    auto dir = rootfs::Dir::open(root.path, holders_dir(root, name), false);
    if (!dir) {
        if (dir.error().sys_errno == ENOENT) return out;
        return dir.error();
    }
    auto files = dir->list();
    if (!files) return files.error();
    for (const auto& file : *files) {
        if (!file.ends_with(".json") || is_temp_name(file)) continue;
        auto rec = read_holder(root, name, file.substr(0, file.size() - 5));
        if (!rec) return rec.error();
        if (*rec) out.push_back(std::move(**rec));
    }
    std::sort(out.begin(), out.end(), [](const LockRecord& a, const LockRecord& b) {
        return a.acquired_ts != b.acquired_ts ? a.acquired_ts < b.acquired_ts : a.lock_id < b.lock_id;
    });
    return out;
}

Result<void> write_holder(const Root& root, const LockRecord& holder) {
    auto tmp = TempFile::write(root, holders_dir(root, holder.name), encode_lock(holder));
    if (!tmp) return tmp.error();
    return tmp->rename_to(holder_path(root, holder.name, holder.lock_id));
}

Result<void> remove_holder(const Root& root, const std::string& name, const std::string& lock_id) {
    if (!valid_lock_id(lock_id)) return {};
    auto r = rootfs::unlink(root.path, holder_path(root, name, lock_id));
    if (!r && r.error().sys_errno != ENOENT) return r.error();
    return {};
}

LockRecord group_mirroring(const LockRecord& rep, const std::string& group_id, const Sharing& s) {
    LockRecord g = rep;
    g.version = 1;
    g.lock_id = group_id;
    g.unknown = nlohmann::json::object();
    Sharing gs{s.mode, s.slots, -1, rep.lock_id};
    set_sharing(g, gs);
    return g;
}

Result<void> write_group(const Root& root, const LockRecord& group, bool link) {
    auto tmp = TempFile::write(root, root.locks_dir(), encode_lock(group));
    if (!tmp) return tmp.error();
    const std::string path = root.lock_path(group.name);
    return link ? tmp->link_to(path) : tmp->rename_to(path);
}

} // namespace detail

Result<std::vector<LockRecord>> Store::live_holders(const std::string& name) {
    auto all = detail::read_holders(root_, name);
    if (!all) return all.error();
    std::vector<LockRecord> live;
    for (auto& h : *all) {
        const bool expired = h.expired(now());
        if (!expired && !provably_gone(h, view_)) {
            live.push_back(std::move(h));
            continue;
        }
        LOKT_TRY(detail::remove_holder(root_, name, h.lock_id));
        remove_held(view_.held_dir, h.lock_id);
        auto ev = make_event("auto-prune", self_, name, &h, false);
        ev.extra = {{"pruned_owner", h.owner},
                    {"pruned_host", h.host},
                    {"pruned_pid", h.pid},
                    {"reason", expired ? "expired" : "dead"}};
        write_event(audit_, ev);
    }
    return live;
}

Result<std::optional<LockRecord>> Store::settle_group(const std::string& name, const LockRecord& group) {
    auto live = live_holders(name);
    if (!live) return live.error();
    if (live->empty()) {
        auto r = rootfs::unlink(root_.path, root_.lock_path(name));
        if (!r && r.error().sys_errno != ENOENT) return r.error();
        return std::optional<LockRecord>{};
    }
    const Sharing s = sharing_of(group);
    auto rep = std::find_if(live->begin(), live->end(), [&](const LockRecord& h) { return h.lock_id == s.rep; });
    // The record mirrors a live holder already, with its current TTL: nothing to write.
    if (rep != live->end() && rep->expires_at == group.expires_at) return std::optional<LockRecord>{group};
    LockRecord next = detail::group_mirroring(rep != live->end() ? *rep : live->front(), group.lock_id, s);
    LOKT_TRY(detail::write_group(root_, next, false));
    return std::optional<LockRecord>{next};
}

void Store::clear_holders(const std::string& name) {
    auto all = detail::read_holders(root_, name);
    if (!all) return;  // break-glass: the lock file is gone already, stray holders are inert
    for (const auto& h : *all) {
        (void)detail::remove_holder(root_, name, h.lock_id);
        remove_held(view_.held_dir, h.lock_id);
    }
}

Result<std::vector<LockRecord>> Store::holders(const std::string& name) const {
    LOKT_TRY(validate_name(name));
    return detail::read_holders(root_, name);
}

Result<std::optional<LockRecord>> Store::holder(const std::string& name, const std::string& lock_id) const {
    auto rd = read(name);
    if (!rd) return rd.error();
    if (!rd->record) return std::optional<LockRecord>{};
    if (rd->record->lock_id == lock_id) return rd->record;
    if (!is_group(*rd->record)) return std::optional<LockRecord>{};
    return detail::read_holder(root_, name, lock_id);
}

} // namespace lokt
