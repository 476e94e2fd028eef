#pragma once
// Looking at another process from the supervisor: its memory (bounded process_vm_readv), and
// what /proc says about it. Every function is bounded and never blocks on the target.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lokt::seccomp {

inline constexpr size_t kMaxPath = 4096;           ///< PATH_MAX: a longer path fails the exec anyway
inline constexpr size_t kMaxArgs = 4096;           ///< argv entries read
inline constexpr size_t kMaxArgBytes = 256 << 10;  ///< argv bytes read in total

/// A file's identity.
struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const FileId&) const = default;
};

/// The NUL-terminated string at `addr` in `tid`'s memory, at most `max` bytes; nullopt when
/// it cannot be read or has no NUL within `max`.
std::optional<std::string> read_string(pid_t tid, uint64_t addr, size_t max = kMaxPath);

/// The NUL-terminated string at `addr` copied into `buf` (cap ≤ 4096) with one
/// process_vm_readv and no allocation; false when unreadable or without a NUL within `cap`.
bool read_string_into(pid_t tid, uint64_t addr, char* buf, size_t cap) noexcept;

/// The NULL-terminated pointer array at `addr` (pointers `ptr_size` bytes wide) and the
/// strings it points to; nullopt when unreadable or larger than the bounds.
std::optional<std::vector<std::string>> read_argv(pid_t tid, uint64_t addr, int ptr_size,
                                                  size_t max_args = kMaxArgs,
                                                  size_t max_bytes = kMaxArgBytes);

/// The thread group id of thread `tid` (the Tgid: line of /proc/TID/status).
std::optional<pid_t> thread_group_of(pid_t tid);

/// stat() of `path`: regular file with an execute bit → its identity.
std::optional<FileId> executable_id(const std::string& path);
/// stat() of `path` (following links), any type.
std::optional<FileId> file_id(const std::string& path);

/// readlink(); nullopt on failure.
std::optional<std::string> read_link(const std::string& path);

/// The syscall thread `tid` is blocked in, from /proc/TID/syscall: its number, -1 when
/// blocked outside a syscall; nullopt when it is running (or the file cannot be read).
std::optional<long> blocked_syscall(pid_t tid);

/// Writes `text` to process `pid`'s stderr best-effort (one write, errors ignored): through
/// its own open file when that is a regular file, else reopened non-blocking via /proc.
void write_to_stderr_of(pid_t pid, std::string_view text);

} // namespace lokt::seccomp
