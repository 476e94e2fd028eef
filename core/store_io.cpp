#include "store_io.hpp"

#include "lokt/name.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

namespace lokt::detail {
namespace {

// Lock files are small; anything bigger than this is not one of ours (and reads as corrupt).
constexpr size_t kMaxLockFile = 1 << 20;

Result<sys::UniqueFd> open_creating_dirs(const Root& root, const std::string& dir,
                                         const std::string& path, int flags) {
    auto fd = sys::open(path, flags);
    if (fd || fd.error().sys_errno != ENOENT) return fd;
    // First mutation under this root: create ROOT, locks/, freezes/ (and `dir` itself).
    LOKT_TRY(ensure_root_dirs(root));
    if (auto r = sys::mkdir_p(dir); !r)
        return Error{"cannot create " + dir + ": " + std::strerror(r.error().sys_errno),
                     r.error().sys_errno};
    return sys::open(path, flags);
}

} // namespace

std::string sync_dir(const Root& root) { return root.path + "/sync"; }

std::string queue_dir(const Root& root, const std::string& name) {
    return root.path + "/queue/" + name;
}

Result<NameLock> NameLock::acquire(const Root& root, const std::string& name) {
    std::string dir = sync_dir(root);
    auto fd = open_creating_dirs(root, dir, dir + "/" + name, O_RDWR | O_CREAT);
    if (!fd) return fd.error();
    LOKT_TRY(sys::flock(fd->get(), LOCK_EX));
    return NameLock(std::move(*fd));
}

Result<FileState> read_state(const std::string& path) {
    FileState st;
    auto fd = sys::open(path, O_RDONLY);
    if (!fd) {
        if (fd.error().sys_errno == ENOENT) return st;
        return fd.error();
    }
    auto bytes = sys::read_all(fd->get(), kMaxLockFile);
    if (!bytes) return bytes.error();
    st.exists = true;
    st.bytes = std::move(*bytes);
    st.decoded = decode_lock(st.bytes);
    return st;
}

Result<LockedFile> lock_and_read(const Root& root, const std::string& name, std::string path) {
    LOKT_TRY(validate_name(name));  // NAME becomes a path under ROOT/sync: never trust it
    auto lk = NameLock::acquire(root, name);
    if (!lk) return lk.error();
    auto st = read_state(path);
    if (!st) return st.error();
    return LockedFile{std::move(*lk), std::move(path), std::move(*st)};
}

Result<TempFile> TempFile::write(const Root& root, const std::string& dir, std::string_view bytes) {
    // Short and fixed-length, so it fits NAME_MAX whatever the lock name's length.
    std::string path = dir + "/.lokt-" + std::to_string(::getpid()) + "-" +
                       random_lock_id().substr(0, 16) + ".tmp";
    auto fd = open_creating_dirs(root, dir, path, O_WRONLY | O_CREAT | O_EXCL);
    if (!fd) return fd.error();
    TempFile tmp(path);  // from here on, a failure unlinks the partial temp
    if (auto w = sys::write_all(fd->get(), bytes); !w)
        return Error{"cannot write " + dir + ": " + std::strerror(w.error().sys_errno),
                     w.error().sys_errno};
    return tmp;
}

TempFile::~TempFile() {
    if (!path_.empty()) (void)sys::unlink(path_);
}

Result<void> TempFile::link_to(const std::string& target) const { return sys::link(path_, target); }

Result<void> TempFile::rename_to(const std::string& target) {
    LOKT_TRY(sys::rename(path_, target));
    path_.clear();
    return {};
}

bool is_temp_name(std::string_view file) {
    return file.starts_with(".lokt-") && file.ends_with(".tmp");
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

AuditEvent make_event(std::string_view event, const Identity& actor, const std::string& name,
                      const LockRecord* lock, bool with_ttl) {
    AuditEvent e;
    e.ts = now();
    e.event = std::string(event);
    e.name = name;
    if (lock) e.lock_id = lock->lock_id;
    e.owner = actor.owner;
    e.host = actor.host;
    e.pid = actor.pid;
    e.agent_id = actor.agent_id;
    if (with_ttl && lock) e.ttl_sec = lock->ttl_sec;
    return e;
}

void audit(const AuditLog& log, const AuditEvent& e) {
    // The state change already happened; a full disk or unwritable log must not undo it,
    // and neither may a field the JSON encoder rejects (e.g. invalid UTF-8 in an owner).
    try {
        (void)log.append(e);
    } catch (const std::exception&) {
    }
}

Error future_version_error(std::string_view what, const std::string& name, const FileState& st) {
    return Error{std::string(what) + " \"" + name + "\" was written by a newer lokt (file version " +
                 std::to_string(st.decoded.record.version) + "); not touching it"};
}

} // namespace lokt::detail
