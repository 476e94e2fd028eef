// The file store as a Backend: what the interface asks beyond lokt::Store's own operations
// (whether the root was ever used, lock files that are not readable locks, a freeze peeked at
// without cleaning up).
#include "lokt/backend.hpp"

#include "lokt/name.hpp"
#include "lokt/root_fs.hpp"
#include "lokt/sys.hpp"

#include <fcntl.h>

#include <set>

namespace lokt {

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
