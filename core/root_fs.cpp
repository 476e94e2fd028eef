// Opening directories and files under the lock root without following symlinks or blocking
// on a planted FIFO, and creating them in the root's sharing mode.
#include "lokt/root_fs.hpp"

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <cstring>

namespace lokt::rootfs {
namespace {

constexpr mode_t kSharedDirMode = 02775;
constexpr mode_t kSharedFileMode = 0664;

// Directories whose entries belong to one process each and are never removed by another
// user's lokt (sync files are never deleted; a waiter skips a dead ticket it cannot remove; a
// held proof left by a dead holder is an inert file named by a lock id never used again):
// the sticky bit keeps group members from deleting each other's.
bool per_holder_dir(std::string_view rel) {
    return rel == "sync" || rel == "fence" || rel == "held" || rel == "queue" || rel.starts_with("queue/");
}

Error io_error(const std::string& what, const std::string& path, int err) {
    return Error::from_errno(what + " " + path, err);
}

// What sits at `name` when opening it failed in a way an entry of the wrong type explains.
Error explain_open_failure(int dirfd, const std::string& name, const std::string& shown, int err, bool want_dir) {
    if (err == ELOOP || err == ENXIO || err == EISDIR || err == ENOTDIR) {
        auto st = sys::lstatat(dirfd, name);
        if (st && want_dir && !S_ISDIR(st->st_mode))
            return Error{shown + " is " + std::string(type_name(st->st_mode)) +
                             ", not a directory; lokt does not follow it (see lokt doctor)",
                         kNotRegularErrno};
        if (st && !want_dir && !S_ISREG(st->st_mode)) return not_regular(shown, st->st_mode);
    }
    return io_error("open", shown, err);
}

// ROOT itself: follows a symlink the user chose; created on demand. A new root is shared when
// it is created inside a group-shared setgid directory (git's core.sharedRepository layout).
Result<sys::UniqueFd> open_root(const std::string& root, bool create) {
    auto fd = sys::open(root, O_RDONLY | O_DIRECTORY);
    if (fd || !create || fd.error().sys_errno != ENOENT) {
        if (!fd && fd.error().sys_errno == ENOTDIR) return Error{"lock directory " + root + " is not a directory", ENOTDIR};
        return fd;
    }
    auto [parent, leaf] = split(root);
    auto pst = sys::stat(parent.empty() ? "/" : parent);
    const bool shared = pst && (pst->st_mode & S_ISGID) && (pst->st_mode & S_IWGRP);
    if (auto made = sys::mkdir_p(root, 0777); !made)
        return Error{"cannot create lock directory " + root + ": " + std::strerror(made.error().sys_errno),
                     made.error().sys_errno};
    fd = sys::open(root, O_RDONLY | O_DIRECTORY);
    if (fd && shared) (void)sys::fchmod(fd->get(), kSharedDirMode);
    return fd;
}

// One directory below `parent`, never through a symlink; created when missing and `create`.
Result<sys::UniqueFd> open_subdir(int parent, const std::string& name, const std::string& shown,
                                  bool create, Sharing sharing, bool sticky) {
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
    auto fd = sys::openat(parent, name, flags);
    if (fd) return fd;
    int err = fd.error().sys_errno;
    if (err != ENOENT || !create) return explain_open_failure(parent, name, shown, err, true);
    if (auto made = sys::mkdirat(parent, name, 0777); !made && made.error().sys_errno != EEXIST)
        return Error{"cannot create " + shown + ": " + std::strerror(made.error().sys_errno), made.error().sys_errno};
    fd = sys::openat(parent, name, flags);
    if (!fd) return explain_open_failure(parent, name, shown, fd.error().sys_errno, true);
    if (sharing == Sharing::group) {
        auto st = sys::fstat(fd->get());
        if (st && st->st_uid == ::geteuid())
            (void)sys::fchmod(fd->get(), kSharedDirMode | (sticky ? S_ISVTX : 0));
    }
    return fd;
}

} // namespace

Sharing sharing_of(mode_t root_mode) { return (root_mode & S_IWGRP) ? Sharing::group : Sharing::single; }

std::string sharing_text(Sharing s, gid_t gid) {
    if (s == Sharing::single) return "single user";
    const struct group* g = ::getgrgid(gid);
    return "shared by group " + (g ? std::string(g->gr_name) : std::to_string(gid));
}

std::string_view type_name(mode_t mode) {
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFLNK: return "a symbolic link";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    default: return "an unknown kind of file";
    }
}

Error not_regular(const std::string& path, mode_t mode) {
    return Error{path + " is " + std::string(type_name(mode)) + ", not a regular file; lokt does not open it (see lokt doctor)",
                 kNotRegularErrno};
}

std::pair<std::string, std::string> split(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return {".", path};
    return {path.substr(0, slash), path.substr(slash + 1)};
}

Result<Dir> Dir::open(const std::string& root, const std::string& dir, bool create) {
    if (dir != root && !(dir.size() > root.size() && dir.compare(0, root.size(), root) == 0 && dir[root.size()] == '/'))
        return Error{dir + " is not under the lock directory " + root, EINVAL};
    auto fd = open_root(root, create);
    if (!fd) return fd.error();
    auto st = sys::fstat(fd->get());
    if (!st) return st.error();
    const Sharing sharing = sharing_of(st->st_mode);
    std::string rel = dir.substr(std::min(dir.size(), root.size() + 1));
    std::string shown = root;
    size_t pos = 0;
    while (pos < rel.size()) {
        size_t end = rel.find('/', pos);
        if (end == std::string::npos) end = rel.size();
        std::string comp = rel.substr(pos, end - pos);
        pos = end + 1;
        if (comp.empty()) continue;
        shown += "/" + comp;
        auto sub = open_subdir(fd->get(), comp, shown, create, sharing,
                               per_holder_dir(std::string_view(rel).substr(0, end)));
        if (!sub) return sub.error();
        *fd = std::move(*sub);
    }
    return Dir(std::move(*fd), dir, sharing);
}

Result<sys::UniqueFd> Dir::open_file(const std::string& name, int flags) const {
    const mode_t mode = sharing_ == Sharing::group ? kSharedFileMode : 0666;
    auto fd = sys::openat(fd_.get(), name, flags | O_NOFOLLOW | O_NONBLOCK, mode);
    if (!fd) return explain_open_failure(fd_.get(), name, child(name), fd.error().sys_errno, false);
    auto st = sys::fstat(fd->get());
    if (!st) return io_error("fstat", child(name), st.error().sys_errno);
    if (!S_ISREG(st->st_mode)) return not_regular(child(name), st->st_mode);
    // The umask may have taken the group's write bit: a shared root needs it on our files.
    if (sharing_ == Sharing::group && st->st_uid == ::geteuid() && (st->st_mode & 07777) != kSharedFileMode)
        (void)sys::fchmod(fd->get(), kSharedFileMode);
    if (!(flags & O_NONBLOCK)) LOKT_TRY(sys::set_nonblocking(fd->get(), false));
    return fd;
}

Result<void> Dir::unlink(const std::string& name) const {
    auto r = sys::unlinkat(fd_.get(), name);
    if (r) return {};
    if (r.error().sys_errno != EISDIR) return io_error("unlink", child(name), r.error().sys_errno);
    if (auto d = sys::unlinkat(fd_.get(), name, AT_REMOVEDIR); !d) return io_error("remove directory", child(name), d.error().sys_errno);
    return {};
}

Result<void> Dir::link(const std::string& from, const std::string& to) const {
    if (auto r = sys::linkat(fd_.get(), from, to); !r) return io_error("link", child(to), r.error().sys_errno);
    return {};
}

Result<void> Dir::rename(const std::string& from, const std::string& to) const {
    if (auto r = sys::renameat(fd_.get(), from, to); !r) return io_error("rename", child(to), r.error().sys_errno);
    return {};
}

Result<struct stat> Dir::lstat(const std::string& name) const {
    auto st = sys::lstatat(fd_.get(), name);
    if (!st) return io_error("lstat", child(name), st.error().sys_errno);
    return st;
}

Result<std::vector<std::string>> Dir::list() const {
    auto names = sys::list_dir(fd_.get());
    if (!names) return io_error("readdir", path_, names.error().sys_errno);
    return names;
}

Result<sys::UniqueFd> open_file(const std::string& root, const std::string& path, int flags, bool create_dirs) {
    auto [dir, name] = split(path);
    auto d = Dir::open(root, dir, create_dirs);
    if (!d) return d.error();
    return d->open_file(name, flags);
}

Result<void> unlink(const std::string& root, const std::string& path) {
    auto [dir, name] = split(path);
    auto d = Dir::open(root, dir, false);
    if (!d) return d.error();
    return d->unlink(name);
}

} // namespace lokt::rootfs
