#include "remote.hpp"

#include "lokt/sys.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace lokt::seccomp {
namespace {

constexpr size_t kPage = 4096;

// Reads up to `len` bytes at `addr`; a read stops early at an unmapped page (partial read).
ssize_t peek(pid_t tid, uint64_t addr, void* buf, size_t len) {
    iovec local{buf, len};
    iovec remote{reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), len};
    return ::process_vm_readv(tid, &local, 1, &remote, 1, 0);
}

} // namespace

std::optional<std::string> read_string(pid_t tid, uint64_t addr, size_t max) {
    if (addr == 0) return std::nullopt;
    std::string out;
    char buf[kPage];
    while (out.size() < max) {
        // Never cross a page boundary in one read: the next page may be unmapped while the
        // string itself ends before it.
        size_t want = kPage - static_cast<size_t>(addr % kPage);
        want = std::min(want, max - out.size());
        ssize_t n = peek(tid, addr, buf, want);
        if (n <= 0) return std::nullopt;
        const void* nul = std::memchr(buf, '\0', static_cast<size_t>(n));
        if (nul) {
            out.append(buf, static_cast<const char*>(nul) - buf);
            return out;
        }
        out.append(buf, static_cast<size_t>(n));
        addr += static_cast<uint64_t>(n);
    }
    return std::nullopt;
}

bool read_string_into(pid_t tid, uint64_t addr, char* buf, size_t cap) noexcept {
    if (addr == 0 || cap == 0 || cap > kPage) return false;
    // Split at the page boundary: the next page may be unmapped while the string ends before
    // it, and a transfer stops at the first iovec element it cannot read ("partial transfers
    // apply at the granularity of iovec elements", process_vm_readv(2)).
    const size_t first = std::min(cap, kPage - static_cast<size_t>(addr % kPage));
    iovec local{buf, cap};
    iovec remote[2] = {{reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), first},
                       {reinterpret_cast<void*>(static_cast<uintptr_t>(addr + first)), cap - first}};
    const ssize_t n = ::process_vm_readv(tid, &local, 1, remote, first < cap ? 2 : 1, 0);
    return n > 0 && std::memchr(buf, '\0', static_cast<size_t>(n)) != nullptr;
}

std::optional<std::vector<std::string>> read_argv(pid_t tid, uint64_t addr, int ptr_size,
                                                  size_t max_args, size_t max_bytes) {
    std::vector<std::string> out;
    if (addr == 0) return out;  // Linux treats a NULL argv as empty
    std::vector<uint64_t> ptrs;
    unsigned char buf[kPage];
    const size_t w = static_cast<size_t>(ptr_size);
    for (bool done = false; !done;) {
        size_t want = kPage - static_cast<size_t>(addr % kPage);
        want -= want % w;
        if (want == 0) want = w;
        ssize_t n = peek(tid, addr, buf, want);
        if (n < static_cast<ssize_t>(w)) return std::nullopt;
        for (size_t off = 0; off + w <= static_cast<size_t>(n); off += w) {
            uint64_t p = 0;
            if (w == 4) {
                uint32_t p32;
                std::memcpy(&p32, buf + off, 4);
                p = p32;
            } else {
                std::memcpy(&p, buf + off, 8);
            }
            if (p == 0) {
                done = true;
                break;
            }
            if (ptrs.size() >= max_args) return std::nullopt;
            ptrs.push_back(p);
        }
        addr += static_cast<uint64_t>(n) - static_cast<uint64_t>(n) % w;
    }
    size_t total = 0;
    for (uint64_t p : ptrs) {
        auto s = read_string(tid, p, std::min(max_bytes - total, static_cast<size_t>(128 << 10)) + 1);
        if (!s) return std::nullopt;
        total += s->size() + 1;
        if (total > max_bytes) return std::nullopt;
        out.push_back(std::move(*s));
    }
    return out;
}

std::optional<pid_t> thread_group_of(pid_t tid) {
    auto text = sys::read_file("/proc/" + std::to_string(tid) + "/status", 64 << 10);
    if (!text) return std::nullopt;
    auto at = text->find("\nTgid:");
    if (at == std::string::npos) return std::nullopt;
    long v = std::strtol(text->c_str() + at + 6, nullptr, 10);
    if (v <= 0) return std::nullopt;
    return static_cast<pid_t>(v);
}

std::optional<FileId> executable_id(const std::string& path) {
    auto st = sys::stat(path);
    if (!st || !S_ISREG(st->st_mode) || (st->st_mode & 0111) == 0) return std::nullopt;
    return FileId{st->st_dev, st->st_ino};
}

std::optional<FileId> file_id(const std::string& path) {
    auto st = sys::stat(path);
    if (!st) return std::nullopt;
    return FileId{st->st_dev, st->st_ino};
}

std::optional<std::string> read_link(const std::string& path) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
}

std::optional<long> blocked_syscall(pid_t tid) {
    auto text = sys::read_file("/proc/" + std::to_string(tid) + "/syscall", 512);
    if (!text || text->empty() || text->compare(0, 7, "running") == 0) return std::nullopt;
    return std::strtol(text->c_str(), nullptr, 10);
}

void write_to_stderr_of(pid_t pid, std::string_view text) {
    // A regular file is written through the target's own open file: pidfd_getfd shares its
    // offset, so the program's next write lands after our line. Reopening it would start a
    // new offset (or append past a position the program then overwrites us from).
    if (auto pfd = sys::pidfd_open(pid)) {
        if (auto fd = sys::pidfd_getfd(pfd->get(), STDERR_FILENO)) {
            if (auto st = sys::fstat(fd->get()); st && S_ISREG(st->st_mode)) {
                (void)sys::write_once(fd->get(), text);
                return;
            }
        }
    }
    // A tty or pipe is reopened through /proc (a new open file, so no offset to share) with
    // O_NONBLOCK, which a shared one could not get: a full pipe never stalls the loop.
    const std::string path = "/proc/" + std::to_string(pid) + "/fd/2";
    auto fd = sys::open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY);
    if (fd) (void)sys::write_once(fd->get(), text);
}

} // namespace lokt::seccomp
