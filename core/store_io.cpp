#include "store_io.hpp"

#include "lokt/name.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <thread>

namespace lokt::detail {
namespace {

// Lock files are small; anything bigger than this is not one of ours (and reads as corrupt).
constexpr size_t kMaxLockFile = 1 << 20;

// The pid /proc/locks names for the flock on `fd`'s file (the first holder listed), if any.
std::optional<pid_t> flock_holder(int fd) {
    auto st = sys::fstat(fd);
    auto text = sys::read_file("/proc/locks", 4 << 20);
    if (!st || !text) return std::nullopt;
    char id[64];
    std::snprintf(id, sizeof id, " %02x:%02x:%llu ", major(st->st_dev), minor(st->st_dev),
                  static_cast<unsigned long long>(st->st_ino));
    // "1: FLOCK  ADVISORY  WRITE 1234 fe:00:10953786 0 EOF"; blocked waiters have "->".
    size_t pos = 0;
    while (pos < text->size()) {
        size_t end = text->find('\n', pos);
        if (end == std::string::npos) end = text->size();
        std::string_view line(text->data() + pos, end - pos);
        pos = end + 1;
        if (line.find(" FLOCK ") == std::string_view::npos || line.find("->") != std::string_view::npos) continue;
        auto at = line.find(id);
        if (at == std::string_view::npos) continue;
        auto start = line.rfind(' ', at - 1);
        if (start == std::string_view::npos) continue;
        pid_t pid = 0;
        auto digits = line.substr(start + 1, at - start - 1);
        if (std::from_chars(digits.data(), digits.data() + digits.size(), pid).ec == std::errc() && pid > 0)
            return pid;
    }
    return std::nullopt;
}

Error sync_busy(const std::string& path, int fd, SyncWait wait) {
    std::string who;
    if (auto pid = flock_holder(fd)) who = " by pid " + std::to_string(*pid);
    if (wait == SyncWait::none) return Error{path + " is locked" + who, EWOULDBLOCK};
    return Error{path + " is locked" + who + "; gave up after " +
                     std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kSyncWaitBound).count()) +
                     "s (a lokt process stopped inside its critical section?)",
                 EWOULDBLOCK};
}

} // namespace

std::string sync_dir(const Root& root) { return root.path + "/sync"; }

std::string fence_dir(const Root& root) { return root.path + "/fence"; }

std::string queue_dir(const Root& root, const std::string& name) {
    return root.path + "/queue/" + name;
}

Result<NameLock> NameLock::acquire(const Root& root, const std::string& name, SyncWait wait) {
    const std::string path = sync_dir(root) + "/" + name;
    // Read-only is enough for flock, and works on a sync file another user created.
    auto fd = rootfs::open_file(root.path, path, O_RDONLY | O_CREAT, /*create_dirs=*/true);
    if (!fd) return fd.error();
    return take(std::move(*fd), path, wait);
}

Result<NameLock> NameLock::acquire_fence(const Root& root, const std::string& name) {
    const std::string path = fence_dir(root) + "/" + name;
    // Read-write: the counter is the file's content (a shared root makes it group-writable).
    auto fd = rootfs::open_file(root.path, path, O_RDWR | O_CREAT, /*create_dirs=*/true);
    if (!fd) return fd.error();
    return take(std::move(*fd), path, SyncWait::bounded);
}

Result<NameLock> NameLock::take(sys::UniqueFd fd, const std::string& path, SyncWait wait) {
    // Never a blocking flock: a stopped or hung holder must not stall us (or an event loop).
    const auto deadline = std::chrono::steady_clock::now() + kSyncWaitBound;
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        auto locked = sys::flock(fd.get(), LOCK_EX | LOCK_NB);
        if (locked) return NameLock(std::move(fd), path);
        if (locked.error().sys_errno != EWOULDBLOCK) return Error::from_errno("flock " + path, locked.error().sys_errno);
        if (wait == SyncWait::none || std::chrono::steady_clock::now() >= deadline)
            return sync_busy(path, fd.get(), wait);
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
}

Result<int64_t> NameLock::next_fence(int64_t floor) {
    // The counter is the fence file's content: the last fence issued, in decimal. The file is
    // never replaced (that would split the flock), so it is rewritten in place; as it only
    // grows, the new digits always cover the old ones. Anything unreadable counts as 0, and
    // `floor` still keeps the token above the lock it replaces.
    char buf[32] = {};
    auto n = sys::pread(fd_.get(), buf, sizeof buf - 1, 0);
    if (!n) return Error{"cannot read the fence counter " + path_ + ": " + n.error().message, n.error().sys_errno};
    int64_t last = 0;
    if (std::from_chars(buf, buf + *n, last).ec != std::errc() || last < 0) last = 0;
    const int64_t base = std::max(last, floor);
    if (base == std::numeric_limits<int64_t>::max())
        return Error{"fence counter " + path_ + " is exhausted", EOVERFLOW};
    const int64_t next = base + 1;
    if (auto w = sys::pwrite_all(fd_.get(), std::to_string(next) + "\n", 0); !w)
        return Error{"cannot record the fence in " + path_ + ": " + w.error().message, w.error().sys_errno};
    return next;
}

Result<FileState> read_state(const Root& root, const std::string& path, Foreign foreign) {
    FileState st;
    auto fd = rootfs::open_file(root.path, path, O_RDONLY);
    if (!fd) {
        if (fd.error().sys_errno == ENOENT) return st;
        if (fd.error().sys_errno == rootfs::kNotRegularErrno && foreign == Foreign::report) {
            auto [dir, leaf] = rootfs::split(path);
            auto d = rootfs::Dir::open(root.path, dir, false);
            if (!d) return d.error();  // the directory itself is wrong: nothing to report here
            auto lst = d->lstat(leaf);
            if (!lst) return lst.error();
            st.exists = true;
            st.foreign = lst->st_mode;
            return st;
        }
        return fd.error();
    }
    auto meta = sys::fstat(fd->get());
    if (!meta) return meta.error();
    auto bytes = sys::read_all(fd->get(), kMaxLockFile);
    if (!bytes) return bytes.error();
    st.exists = true;
    st.mtime = TimePoint(std::chrono::seconds(meta->st_mtim.tv_sec) + Nanos(meta->st_mtim.tv_nsec));
    st.bytes = std::move(*bytes);
    st.decoded = decode_lock(st.bytes);
    return st;
}

bool being_written(const FileState& st, TimePoint at) {
    if (!st.exists || st.foreign || st.decoded.status != DecodeStatus::corrupt) return false;
    // Both ways: a writer whose clock is a little ahead still counts, a far-future mtime not.
    return st.mtime > at - kWriteGrace && st.mtime < at + kWriteGrace;
}

Held held_by_writer(const std::string& name, const FileState& st) {
    Held h;
    h.being_written = true;
    h.holder.name = name;
    h.holder.acquired_ts = st.mtime;
    h.holder.expires_at = st.mtime + kWriteGrace;
    return h;
}

Result<LockedFile> lock_and_read(const Root& root, const std::string& name, std::string path,
                                 Foreign foreign, SyncWait wait) {
    LOKT_TRY(validate_name(name));  // NAME becomes a path under ROOT/sync: never trust it
    mode_t cleared = 0;
    auto lk = NameLock::acquire(root, name, wait);
    if (!lk && foreign == Foreign::report && lk.error().sys_errno == rootfs::kNotRegularErrno) {
        // Break-glass: a planted entry where NAME's sync file belongs goes too, then retry.
        const std::string sync = sync_dir(root) + "/" + name;
        auto d = rootfs::Dir::open(root.path, sync_dir(root), false);
        if (!d) return d.error();
        auto lst = d->lstat(name);
        if (!lst) return lst.error();
        LOKT_TRY(d->unlink(name));
        cleared = lst->st_mode;
        lk = NameLock::acquire(root, name, wait);
    }
    if (!lk) return lk.error();
    auto st = read_state(root, path, foreign);
    if (!st) return st.error();
    return LockedFile{std::move(*lk), std::move(path), std::move(*st), cleared};
}

Result<TempFile> TempFile::write(const Root& root, const std::string& dir, std::string_view bytes) {
    // Short and fixed-length, so it fits NAME_MAX whatever the lock name's length.
    std::string name = ".lokt-" + std::to_string(::getpid()) + "-" + random_lock_id().substr(0, 16) + ".tmp";
    auto d = rootfs::Dir::open(root.path, dir, /*create=*/true);
    if (!d) return d.error();
    auto fd = d->open_file(name, O_WRONLY | O_CREAT | O_EXCL);
    if (!fd) return fd.error();
    TempFile tmp(std::move(*d), name);  // from here on, a failure unlinks the partial temp
    if (auto w = sys::write_all(fd->get(), bytes); !w)
        return Error{"cannot write " + dir + ": " + std::strerror(w.error().sys_errno),
                     w.error().sys_errno};
    return tmp;
}

TempFile::~TempFile() {
    if (!name_.empty()) (void)dir_.unlink(name_);
}

Result<std::string> TempFile::leaf_of(const std::string& target) const {
    auto [dir, leaf] = rootfs::split(target);
    if (dir != dir_.path()) return Error{target + " is not in " + dir_.path(), EXDEV};
    return leaf;
}

Result<void> TempFile::link_to(const std::string& target) const {
    auto leaf = leaf_of(target);
    if (!leaf) return leaf.error();
    return dir_.link(name_, *leaf);
}

Result<void> TempFile::rename_to(const std::string& target) {
    auto leaf = leaf_of(target);
    if (!leaf) return leaf.error();
    LOKT_TRY(dir_.rename(name_, *leaf));
    name_.clear();
    return {};
}

bool is_temp_name(std::string_view file) {
    return file.starts_with(".lokt-") && file.ends_with(".tmp");
}

std::string holders_dir(const Root& root, const std::string& name) {
    return root.path + "/holders/" + name;
}

void set_ttl(LockRecord& r, Nanos ttl, TimePoint at) {
    if (ttl.count() <= 0) {
        r.ttl_sec = 0;
        r.expires_at.reset();
        return;
    }
    r.ttl_sec = std::chrono::ceil<std::chrono::seconds>(ttl).count();
    r.expires_at = saturating_add(at, ttl);
}

void audit_cleared(const AuditLog& log, const Identity& actor, const std::string& event,
                   const std::string& name, const std::string& path, mode_t mode) {
    auto ev = make_event(event, actor, name, nullptr, false);
    ev.extra = {{"reason", "not-regular"}, {"path", path}, {"type", std::string(rootfs::type_name(mode))}};
    write_event(log, ev);
}

Error future_version_error(std::string_view what, const std::string& name, const FileState& st) {
    return Error{std::string(what) + " \"" + name + "\" was written by a newer lokt (file version " +
                 std::to_string(st.decoded.record.version) + "); not touching it"};
}

} // namespace lokt::detail
