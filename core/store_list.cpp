// The lock store: listing every lock and freeze (`lokt status`). The only operation whose cost
// grows with the number of locks, so each file costs just open + read + close.
#include "lokt/store.hpp"

#include "lokt/held_file.hpp"
#include "lokt/name.hpp"
#include "store_group.hpp"
#include "store_io.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <optional>

namespace lokt {
namespace {

// Temp files normally live for microseconds; one this old was left by a crashed writer.
constexpr auto kStaleTemp = std::chrono::minutes(1);

bool is_lock_file(std::string_view file) {
    return !file.starts_with(".") && file.ends_with(".json") && file.size() > 5;
}

void remove_stale_temp(const rootfs::Dir& dir, const std::string& file) {
    auto st = dir.lstat(file);
    if (!st) return;
    auto mtime = TimePoint(std::chrono::seconds(st->st_mtim.tv_sec) +
                           std::chrono::nanoseconds(st->st_mtim.tv_nsec));
    if (now() - mtime > kStaleTemp) (void)dir.unlink(file);
}

// One read() for a lock file (they are a few hundred bytes): a short read of a regular file
// means end of file, so the usual second read() that returns 0 is skipped. A non-regular
// entry is skipped (status shows it as unreadable; doctor names it).
std::optional<std::string> read_small_file(const rootfs::Dir& dir, const std::string& file) {
    auto fd = dir.open_file(file, O_RDONLY);
    if (!fd) return std::nullopt;
    char buf[4096];
    auto n = sys::read_some(fd->get(), buf, sizeof buf);
    if (!n) return std::nullopt;
    std::string out(buf, *n);
    if (*n == sizeof buf) {
        auto rest = sys::read_all(fd->get(), 1 << 20);
        if (!rest) return std::nullopt;
        out += *rest;
    }
    return out;
}

/// What one listing is asked to do.
struct ListPass {
    bool prune_expired = false;
    TimePoint at;  ///< "expired" is judged at this instant for every entry
};

/// What a listing found to prune (each decided again under the name's lock afterwards).
struct ListPrunes {
    std::vector<std::pair<std::string, bool>> expired;  ///< (name, frozen)
    std::vector<std::string> groups;                     ///< shared or slot locks with expired holders
};

/// Appends the readable entries of locks/ (or freezes/) to `entries`; expired ones go to
/// `prunes` instead when the pass prunes.
Result<void> list_dir(const Root& root, bool frozen, const ListPass& pass, std::vector<LockEntry>& entries,
                      ListPrunes& prunes) {
    const std::string path = frozen ? root.freezes_dir() : root.locks_dir();
    auto dir = rootfs::Dir::open(root.path, path, false);
    if (!dir) {
        if (dir.error().sys_errno == ENOENT) return {};  // nothing was ever locked here
        return dir.error();
    }
    auto names = dir->list();
    if (!names) return names.error();
    for (const std::string& file : *names) {
        if (detail::is_temp_name(file)) {
            remove_stale_temp(*dir, file);
            continue;
        }
        if (!is_lock_file(file)) continue;
        auto bytes = read_small_file(*dir, file);
        if (!bytes) continue;  // released while we listed
        Decoded d = decode_lock(*bytes);
        if (d.status != DecodeStatus::ok) continue;  // corrupt or newer: not fatal here
        std::string name = file.substr(0, file.size() - 5);
        if (!frozen && is_group(d.record)) {
            // A shared or slot lock is listed as its holders, one entry each.
            auto holders = detail::read_holders(root, name);
            if (!holders) return holders.error();
            if (pass.prune_expired && validate_name(name) &&
                std::any_of(holders->begin(), holders->end(), [&](const LockRecord& h) { return h.expired(pass.at); })) {
                prunes.groups.push_back(std::move(name));  // listed after pruning
                continue;
            }
            for (auto& h : *holders) entries.push_back(LockEntry{std::move(h), false});
            continue;
        }
        if (pass.prune_expired && d.record.expired(pass.at) && validate_name(name)) {
            prunes.expired.emplace_back(std::move(name), frozen);
            continue;
        }
        entries.push_back(LockEntry{std::move(d.record), frozen});
    }
    return {};
}

} // namespace

Result<void> Store::prune_group(const std::string& name, std::vector<LockEntry>& entries) {
    // As for an exclusive lock, decided again under the name's lock. settle_group prunes
    // every expired holder (and any provably gone, as an acquirer would), audited one by one.
    auto locked = detail::lock_and_read(root_, name, root_.lock_path(name));
    if (!locked) return locked.error();
    if (!locked->state.ok()) return {};  // released meanwhile (or unreadable: not an entry)
    if (!is_group(locked->state.record())) {
        entries.push_back(LockEntry{locked->state.record(), false});  // replaced meanwhile
        return {};
    }
    auto settled = settle_group(name, locked->state.record());
    if (!settled) return settled.error();
    if (!*settled) return {};
    auto holders = detail::read_holders(root_, name);
    if (!holders) return holders.error();
    for (auto& h : *holders) entries.push_back(LockEntry{std::move(h), false});
    return {};
}

Result<void> Store::prune_expired_entry(const std::string& name, bool frozen, std::vector<LockEntry>& entries) {
    // Decided again under the name's lock: a renewal may have landed since the listing.
    auto lk = detail::NameLock::acquire(root_, name);
    if (!lk) return lk.error();
    const std::string path = frozen ? root_.freeze_path(name) : root_.lock_path(name);
    auto cur = detail::read_state(root_, path);
    if (!cur) return cur.error();
    if (!cur->ok()) return {};
    const LockRecord& rec = cur->record();
    if (!rec.expired(now())) {
        entries.push_back(LockEntry{rec, frozen});
        return {};
    }
    LOKT_TRY(rootfs::unlink(root_.path, path));
    if (!frozen) remove_held(view_.held_dir, rec.lock_id);
    AuditEvent ev;
    if (frozen) {
        ev = make_event("unfreeze", self_, name, &rec, true);
        ev.extra = {{"reason", "expired"}};
    } else {
        ev = make_event("auto-prune", self_, name, &rec, false);
        ev.extra = {{"pruned_owner", rec.owner},
                    {"pruned_host", rec.host},
                    {"pruned_pid", rec.pid},
                    {"reason", "expired"}};
    }
    write_event(audit_, ev);
    return {};
}

Result<std::vector<LockEntry>> Store::list(bool prune_expired) {
    std::vector<LockEntry> entries;
    ListPrunes prunes;
    const ListPass pass{prune_expired, now()};
    for (bool frozen : {false, true}) LOKT_TRY(list_dir(root_, frozen, pass, entries, prunes));
    for (const auto& [name, frozen] : prunes.expired) LOKT_TRY(prune_expired_entry(name, frozen, entries));
    for (const auto& name : prunes.groups) LOKT_TRY(prune_group(name, entries));
    std::sort(entries.begin(), entries.end(), [](const LockEntry& a, const LockEntry& b) {
        if (a.record.name != b.record.name) return a.record.name < b.record.name;
        return a.frozen < b.frozen;
    });
    return entries;
}

} // namespace lokt
