#pragma once
// The one syscall layer: thin wrappers named after the syscall. Each retries EINTR,
// returns a value or an Error naming the call and the path, and creates fds O_CLOEXEC.
// Nothing above this layer calls ::open/::read/::write directly.

#include "lokt/result.hpp"

#include <sys/stat.h>
#include <sys/types.h>

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
/// flock(fd, op); op may include LOCK_NB (then EWOULDBLOCK is returned as an Error).
Result<void> flock(int fd, int op);
/// Names in a directory, without "." and "..".
Result<std::vector<std::string>> list_dir(const std::string& path);

/// True if `path` exists (any type).
bool exists(const std::string& path);

/// Fault injection for tests: when set, write_all/write_once fail with this errno
/// after `after_bytes` bytes in total have been written by this process. 0 disables.
void inject_write_failure(int err, size_t after_bytes = 0);

} // namespace lokt::sys
