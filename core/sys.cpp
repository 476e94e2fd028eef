#include "lokt/sys.hpp"

#include "sys_retry.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lokt::sys {
namespace {

using detail::retry_eintr;

int g_fail_errno = 0;
size_t g_fail_after = 0;
size_t g_written = 0;

// Returns the errno to inject for a write of `n` bytes, or 0 (and counts the bytes).
int injected_failure(size_t n) {
    if (g_fail_errno == 0) return 0;
    if (g_written + n > g_fail_after) return g_fail_errno;
    g_written += n;
    return 0;
}

} // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
}

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) {
        int saved = errno;
        ::close(fd_);  // never retried: on Linux the fd is gone even on EINTR
        errno = saved;
    }
    fd_ = fd;
}

Result<UniqueFd> open(const std::string& path, int flags, mode_t mode) {
    int fd = retry_eintr([&] { return ::open(path.c_str(), flags | O_CLOEXEC, mode); });
    if (fd < 0) return Error::from_errno("open " + path, errno);
    return UniqueFd(fd);
}

Result<UniqueFd> openat(int dirfd, const std::string& path, int flags, mode_t mode) {
    int fd = retry_eintr([&] { return ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode); });
    if (fd < 0) return Error::from_errno("open " + path, errno);
    return UniqueFd(fd);
}

Result<Pipe> pipe(int extra_flags) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | extra_flags) < 0) return Error::from_errno("pipe2", errno);
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<std::string> read_all(int fd, size_t limit) {
    std::string out;
    char buf[65536];
    while (out.size() < limit) {
        ssize_t n = retry_eintr([&] { return ::read(fd, buf, sizeof buf); });
        if (n < 0) return Error::from_errno("read", errno);
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    if (out.size() > limit) out.resize(limit);
    return out;
}

Result<std::string> read_file(const std::string& path, size_t limit) {
    auto fd = open(path, O_RDONLY);
    if (!fd) return fd.error();
    auto data = read_all(fd->get(), limit);
    if (!data) return Error{"read " + path + ": " + std::strerror(data.error().sys_errno),
                            data.error().sys_errno};
    return data;
}

Result<void> write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        if (int e = injected_failure(data.size())) return Error::from_errno("write", e);
        ssize_t n = retry_eintr([&] { return ::write(fd, data.data(), data.size()); });
        if (n < 0) return Error::from_errno("write", errno);
        if (n == 0) return Error::from_errno("write", ENOSPC);
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

Result<void> write_once(int fd, std::string_view data) {
    if (int e = injected_failure(data.size())) return Error::from_errno("write", e);
    ssize_t n = retry_eintr([&] { return ::write(fd, data.data(), data.size()); });
    if (n < 0) return Error::from_errno("write", errno);
    if (static_cast<size_t>(n) != data.size()) return Error::from_errno("write (short)", ENOSPC);
    return {};
}

Result<void> fsync(int fd) {
    if (retry_eintr([&] { return ::fsync(fd); }) < 0) return Error::from_errno("fsync", errno);
    return {};
}

Result<void> link(const std::string& from, const std::string& to) {
    if (::link(from.c_str(), to.c_str()) < 0) return Error::from_errno("link " + to, errno);
    return {};
}

Result<void> rename(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) < 0) return Error::from_errno("rename " + to, errno);
    return {};
}

Result<void> unlink(const std::string& path) {
    if (::unlink(path.c_str()) < 0) return Error::from_errno("unlink " + path, errno);
    return {};
}

Result<void> mkdir_p(const std::string& path, mode_t mode) {
    if (path.empty()) return Error{"mkdir: empty path", EINVAL};
    std::string cur;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        cur = path.substr(0, pos);
        if (cur.empty() || cur == "/") continue;
        if (::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST)
            return Error::from_errno("mkdir " + cur, errno);
    }
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) return Error::from_errno("stat " + path, errno);
    if (!S_ISDIR(st.st_mode)) return Error::from_errno("mkdir " + path, ENOTDIR);
    return {};
}

Result<struct stat> stat(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) return Error::from_errno("stat " + path, errno);
    return st;
}

Result<struct stat> lstat(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) < 0) return Error::from_errno("lstat " + path, errno);
    return st;
}

Result<std::string> readlink(const std::string& path) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    if (n < 0) return Error::from_errno("readlink " + path, errno);
    return std::string(buf, static_cast<size_t>(n));
}

Result<struct stat> fstat(int fd) {
    struct stat st;
    if (::fstat(fd, &st) < 0) return Error::from_errno("fstat", errno);
    return st;
}

Result<struct stat> lstatat(int dirfd, const std::string& name) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
        return Error::from_errno("lstat " + name, errno);
    return st;
}

Result<void> mkdirat(int dirfd, const std::string& name, mode_t mode) {
    if (::mkdirat(dirfd, name.c_str(), mode) < 0) return Error::from_errno("mkdir " + name, errno);
    return {};
}

Result<void> unlinkat(int dirfd, const std::string& name, int flags) {
    if (::unlinkat(dirfd, name.c_str(), flags) < 0) return Error::from_errno("unlink " + name, errno);
    return {};
}

Result<void> linkat(int dirfd, const std::string& from, const std::string& to) {
    if (::linkat(dirfd, from.c_str(), dirfd, to.c_str(), 0) < 0) return Error::from_errno("link " + to, errno);
    return {};
}

Result<void> renameat(int dirfd, const std::string& from, const std::string& to) {
    if (::renameat(dirfd, from.c_str(), dirfd, to.c_str()) < 0)
        return Error::from_errno("rename " + to, errno);
    return {};
}

Result<void> fchmod(int fd, mode_t mode) {
    if (::fchmod(fd, mode) < 0) return Error::from_errno("fchmod", errno);
    return {};
}

Result<void> set_nonblocking(int fd, bool on) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0) return Error::from_errno("fcntl", errno);
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (want != fl && ::fcntl(fd, F_SETFL, want) < 0) return Error::from_errno("fcntl", errno);
    return {};
}

Result<void> flock(int fd, int op) {
    if (retry_eintr([&] { return ::flock(fd, op); }) < 0) return Error::from_errno("flock", errno);
    return {};
}

Result<size_t> thread_count() {
    // procfs gives /proc/self/task a link count of 2 + the number of threads: one stat()
    // instead of reading the directory (the guard asks on every run). A procfs that does not
    // (nlink below 3) is answered by listing the directory.
    auto st = stat("/proc/self/task");
    if (!st) return st.error();
    if (st->st_nlink >= 3) return static_cast<size_t>(st->st_nlink - 2);
    auto names = list_dir("/proc/self/task");
    if (!names) return names.error();
    return names->size();
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
    auto fd = open(path, O_RDONLY | O_DIRECTORY);
    if (!fd) return Error::from_errno("opendir " + path, fd.error().sys_errno);
    auto names = list_dir(fd->get());
    if (!names) return Error::from_errno("readdir " + path, names.error().sys_errno);
    return names;
}

Result<std::vector<std::string>> list_dir(int dirfd) {
    // fdopendir takes the fd over; a duplicate (re-seeked to the start) leaves ours alone.
    int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return Error::from_errno("dup", errno);
    ::lseek(dup, 0, SEEK_SET);
    DIR* d = ::fdopendir(dup);
    if (!d) {
        int err = errno;
        ::close(dup);
        return Error::from_errno("opendir", err);
    }
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    int err = errno;
    ::closedir(d);
    if (err) return Error::from_errno("readdir", err);
    return names;
}

bool exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

Result<size_t> pread(int fd, void* buf, size_t len, off_t offset) {
    ssize_t n = retry_eintr([&] { return ::pread(fd, buf, len, offset); });
    if (n < 0) return Error::from_errno("pread", errno);
    return static_cast<size_t>(n);
}

Result<void> pwrite_all(int fd, std::string_view data, off_t offset) {
    while (!data.empty()) {
        if (int e = injected_failure(data.size())) return Error::from_errno("pwrite", e);
        ssize_t n = retry_eintr([&] { return ::pwrite(fd, data.data(), data.size(), offset); });
        if (n < 0) return Error::from_errno("pwrite", errno);
        if (n == 0) return Error::from_errno("pwrite", ENOSPC);
        data.remove_prefix(static_cast<size_t>(n));
        offset += n;
    }
    return {};
}

Result<off_t> lseek(int fd, off_t offset, int whence) {
    off_t r = ::lseek(fd, offset, whence);
    if (r < 0) return Error::from_errno("lseek", errno);
    return r;
}

Result<size_t> read_some(int fd, void* buf, size_t len) {
    ssize_t n = retry_eintr([&] { return ::read(fd, buf, len); });
    if (n < 0) return Error::from_errno("read", errno);
    return static_cast<size_t>(n);
}

Result<struct statfs> statfs(const std::string& path) {
    struct statfs st;
    if (retry_eintr([&] { return ::statfs(path.c_str(), &st); }) < 0)
        return Error::from_errno("statfs " + path, errno);
    return st;
}

Result<UniqueFd> inotify_init(int extra_flags) {
    int fd = ::inotify_init1(IN_CLOEXEC | extra_flags);
    if (fd < 0) return Error::from_errno("inotify_init1", errno);
    return UniqueFd(fd);
}

Result<int> inotify_add_watch(int fd, const std::string& path, uint32_t mask) {
    int wd = ::inotify_add_watch(fd, path.c_str(), mask);
    if (wd < 0) return Error::from_errno("inotify_add_watch " + path, errno);
    return wd;
}

Result<bool> wait_readable(int fd, int timeout_ms) {
    struct pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return false;
        return Error::from_errno("poll", errno);
    }
    return n > 0;
}

void inject_write_failure(int err, size_t after_bytes) {
    g_fail_errno = err;
    g_fail_after = after_bytes;
    g_written = 0;
}

} // namespace lokt::sys
