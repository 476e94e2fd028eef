// The file store as a Backend: what the interface asks beyond lokt::Store's own operations
// (whether the root was ever used, lock files that are not readable locks, a freeze peeked at
// without cleaning up).
#include "lokt/backend.hpp"

#include "lokt/audit.hpp"
#include "lokt/name.hpp"
#include "lokt/root_fs.hpp"
#include "lokt/sys.hpp"

#include <fcntl.h>

#include <set>

namespace lokt {

void FileBackend::act_as(const Identity& who) {
    const Root root = store_.root();
    store_ = Store(root, AuditLog(root.audit_path()), who);
}

Result<void> FileBackend::prepare_hold(const std::string& lock_id) {
    auto proof = HeldFile::create(store_.root(), lock_id);
    if (!proof) return proof.error();
    proofs_.push_back(std::move(*proof));
    return {};
}

void FileBackend::discard_holds() {
    const std::string dir = held_dir(store_.root());
    for (const auto& p : proofs_) remove_held(dir, p.lock_id());
    proofs_.clear();
}

int FileBackend::loss_fd() {
    if (!watch_) watch_.emplace(store_.root().locks_dir());
    return watch_->fd();
}

void FileBackend::drain_loss() {
    if (watch_) watch_->drain();
}

Result<ReleaseOutcome> FileBackend::release_id(const std::string& name, const std::string& lock_id,
                                               const ReleaseNote& note) {
    auto r = store_.release_id(name, lock_id, note);
    // The store removed its proof file with the lock; nothing is left to discard for it.
    if (r && r->status == ReleaseStatus::released)
        std::erase_if(proofs_, [&](const HeldFile& p) { return p.lock_id() == lock_id; });
    return r;
}

bool FileBackend::present() const { return sys::exists(store_.root().locks_dir()); }

std::vector<UnreadableLock> FileBackend::unreadable(const std::vector<LockEntry>& listed) const {
    std::vector<UnreadableLock> out;
    // Through the checked root: a planted symlink at locks/ is not followed.
    auto dir = rootfs::Dir::open(store_.root().path, store_.root().locks_dir(), /*create=*/false);
    if (!dir) return out;
    auto files = dir->list();
    if (!files) return out;
    std::set<std::string> shown;
    for (const auto& e : listed)
        if (!e.frozen) shown.insert(e.record.name);
    for (const auto& f : *files) {
        if (f.starts_with(".") || !f.ends_with(".json") || f.size() <= 5) continue;
        std::string name = f.substr(0, f.size() - 5);
        if (shown.count(name) || !validate_name(name)) continue;
        auto read = store_.read(name);
        // A FIFO, symlink or directory planted there: not a lock, but it blocks NAME.
        if (!read) out.push_back({name, read.error().message, true});
        else if (read->status != DecodeStatus::ok) out.push_back({name, read->detail, false});
    }
    return out;
}

std::optional<LockRecord> FileBackend::peek_freeze(const std::string& name, TimePoint at) const {
    auto fd = rootfs::open_file(store_.root().path, store_.root().freeze_path(name), O_RDONLY);
    if (!fd) return std::nullopt;
    auto bytes = sys::read_all(fd->get(), 1 << 20);
    if (!bytes) return std::nullopt;
    Decoded d = decode_lock(*bytes);
    if (d.status != DecodeStatus::ok || d.record.expired(at)) return std::nullopt;
    return d.record;
}

} // namespace lokt
