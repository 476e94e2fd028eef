#pragma once
// The one syscall layer: thin wrappers named after the syscall. Each retries EINTR,
// returns a value or an Error naming the call and the path, and creates fds O_CLOEXEC.
// Nothing above this layer calls ::open/::read/::write directly.

#include "lokt/result.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lokt::sys {

/// Owns one file descriptor; move-only; closes it on destruction.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    /// The fd, still owned by this object.
    int get() const { return fd_; }
    /// Gives up ownership and returns the fd.
    int release() { int f = fd_; fd_ = -1; return f; }
    /// Closes the owned fd (if any) and takes ownership of `fd`.
    void reset(int fd = -1);
    bool valid() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

/// Both ends of a pipe, both O_CLOEXEC.
struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

Result<UniqueFd> open(const std::string& path, int flags, mode_t mode = 0644);
Result<UniqueFd> openat(int dirfd, const std::string& path, int flags, mode_t mode = 0644);
Result<Pipe> pipe(int extra_flags = 0);

/// Reads until EOF (or `limit` bytes).
Result<std::string> read_all(int fd, size_t limit = 16 << 20);
/// Reads a whole file.
Result<std::string> read_file(const std::string& path, size_t limit = 16 << 20);
/// Writes all of `data` (loops over short writes; a 0-byte write is ENOSPC).
Result<void> write_all(int fd, std::string_view data);
/// One write() call; for O_APPEND records that must not be split. Short write is an error.
Result<void> write_once(int fd, std::string_view data);
Result<void> fsync(int fd);

Result<void> link(const std::string& from, const std::string& to);
Result<void> rename(const std::string& from, const std::string& to);
Result<void> unlink(const std::string& path);
/// mkdir -p; existing directories are fine.
Result<void> mkdir_p(const std::string& path, mode_t mode = 0755);
Result<struct stat> stat(const std::string& path);
Result<struct stat> lstat(const std::string& path);
Result<struct stat> fstat(int fd);
/// The target a symlink names (not resolved further).
Result<std::string> readlink(const std::string& path);
/// fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW): what the entry itself is, never its target.
Result<struct stat> lstatat(int dirfd, const std::string& name);
/// mkdirat; EEXIST is returned as an Error (callers decide whether that is fine).
Result<void> mkdirat(int dirfd, const std::string& name, mode_t mode);
/// unlinkat(dirfd, name, flags) (AT_REMOVEDIR for an empty directory).
Result<void> unlinkat(int dirfd, const std::string& name, int flags = 0);
/// linkat within one directory, never following a symlink at `from`.
Result<void> linkat(int dirfd, const std::string& from, const std::string& to);
/// renameat within one directory.
Result<void> renameat(int dirfd, const std::string& from, const std::string& to);
Result<void> fchmod(int fd, mode_t mode);
/// Sets or clears O_NONBLOCK on an open fd.
Result<void> set_nonblocking(int fd, bool on);
/// flock(fd, op); op may include LOCK_NB (then EWOULDBLOCK is returned as an Error).
Result<void> flock(int fd, int op);
/// Names in a directory, without "." and "..".
Result<std::vector<std::string>> list_dir(const std::string& path);
/// Names in the open directory `dirfd` (read through a duplicate; `dirfd` stays usable).
Result<std::vector<std::string>> list_dir(int dirfd);

/// Threads in this process. fork() without exec is safe only when this is 1
/// (docs/coding-guidelines.md).
Result<size_t> thread_count();

/// True if `path` exists (any type).
bool exists(const std::string& path);

/// One pread() at `offset`; the number of bytes read (0 at end of file).
Result<size_t> pread(int fd, void* buf, size_t len, off_t offset);
/// pwrite() of all of `data` at `offset` (looping over short writes).
Result<void> pwrite_all(int fd, std::string_view data, off_t offset);
/// lseek(fd, offset, whence); the resulting offset.
Result<off_t> lseek(int fd, off_t offset, int whence);
/// One read(); the number of bytes read (0 at end of file). EAGAIN comes back as an Error.
Result<size_t> read_some(int fd, void* buf, size_t len);
Result<struct statfs> statfs(const std::string& path);
/// inotify_init1(IN_CLOEXEC | extra_flags).
Result<UniqueFd> inotify_init(int extra_flags = 0);
/// inotify_add_watch; the watch descriptor.
Result<int> inotify_add_watch(int fd, const std::string& path, uint32_t mask);
/// Waits up to `timeout_ms` (-1: forever) for `fd` to become readable; false on timeout.
/// An interrupting signal counts as a timeout so callers can re-check their stop condition.
Result<bool> wait_readable(int fd, int timeout_ms);

/// Fault injection for tests: when set, write_all/write_once fail with this errno
/// after `after_bytes` bytes in total have been written by this process. 0 disables.
void inject_write_failure(int err, size_t after_bytes = 0);

// Waiting primitives (implemented in core/sys_notify.cpp).

/// inotify_rm_watch; a watch that is already gone is not an error worth reporting.
void inotify_rm_watch(int fd, int wd);
/// pidfd_open(pid, 0): an fd that becomes readable when the process exits.
Result<UniqueFd> pidfd_open(pid_t pid);
/// Sends `sig` to the process behind `pidfd` (never to a later process with its pid).
Result<void> pidfd_send_signal(int pidfd, int sig);
/// pidfd_getfd(pidfd, fd, 0): a close-on-exec duplicate of another process's fd, sharing its
/// open file (offset and flags included).
Result<UniqueFd> pidfd_getfd(int pidfd, int target_fd);
/// ppoll() with a relative timeout (nullopt: no timeout); the number of ready fds.
Result<int> poll(struct pollfd* fds, size_t nfds, std::optional<std::chrono::nanoseconds> timeout);

// Sockets (implemented in core/sys_net.cpp).

/// socket(domain, type | SOCK_CLOEXEC, protocol).
Result<UniqueFd> socket(int domain, int type, int protocol = 0);
/// connect(); true when connected at once, false when a non-blocking connect is under way
/// (EINPROGRESS; an interrupting signal leaves it under way too). Then socket_error tells.
Result<bool> connect(int fd, const struct sockaddr* addr, socklen_t len);
/// getsockopt(SO_ERROR): the errno of a finished non-blocking connect (0: connected).
Result<int> socket_error(int fd);
/// setsockopt(level, name) to an int value.
Result<void> setsockopt_int(int fd, int level, int name, int value);
/// bind() and listen(backlog).
Result<void> bind_listen(int fd, const struct sockaddr* addr, socklen_t len, int backlog);
/// accept4(fd, SOCK_CLOEXEC | extra_flags).
Result<UniqueFd> accept(int fd, int extra_flags = 0);
/// getsockname(): the port a socket bound to port 0 got (IPv4 or IPv6).
Result<uint16_t> local_port(int fd);
/// One send() with MSG_NOSIGNAL | flags (a closed peer is EPIPE, never SIGPIPE); the bytes
/// sent. EAGAIN comes back as an Error.
Result<size_t> send_some(int fd, std::string_view data, int flags = 0);
/// eventfd(initval, EFD_CLOEXEC | extra_flags).
Result<UniqueFd> eventfd(unsigned initval, int extra_flags = 0);
/// Adds 1 to an eventfd's counter, making it readable; never blocks when it is non-blocking.
Result<void> eventfd_signal(int fd);
/// One address getaddrinfo() gave.
struct SockAddr {
    struct sockaddr_storage storage {};
    socklen_t len = 0;
    int family = 0;
    const struct sockaddr* get() const { return reinterpret_cast<const struct sockaddr*>(&storage); }
};
/// getaddrinfo(host, port) for TCP: every address, in the resolver's order. An Error names
/// the host and gai_strerror's reason.
Result<std::vector<SockAddr>> resolve_tcp(const std::string& host, uint16_t port);

} // namespace lokt::sys
