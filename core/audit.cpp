// Writing the audit log: one O_APPEND write per event, and rotation by size.

#include "lokt/audit.hpp"

#include "lokt/root_fs.hpp"
#include "lokt/sys.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lokt {
namespace {

uint64_t max_bytes_from_env() {
    const char* v = std::getenv("LOKT_AUDIT_MAX_BYTES");
    if (!v || !*v) return kAuditDefaultMaxBytes;
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || n == 0 || v[0] == '-') return kAuditDefaultMaxBytes;
    return n;
}

std::string generation_path(const std::string& path, int n) {
    return n == 0 ? path : path + "." + std::to_string(n);
}

Error audit_error(const std::string& what, const Error& e) {
    int err = e.sys_errno;
    // A planted entry's message already names the path and says what it is.
    if (err == rootfs::kNotRegularErrno) return Error{"audit log: " + e.message, err};
    std::string msg = "audit log: " + what;
    if (err) msg += std::string(": ") + std::strerror(err);
    else msg += ": " + e.message;
    return Error{msg, err};
}

// Whether the `len` bytes just appended through `fd` follow a line without its newline.
bool preceded_by_fragment(int fd, size_t len) {
    auto end = sys::lseek(fd, 0, SEEK_CUR);  // O_APPEND left the offset at the end of our line
    if (!end || static_cast<uint64_t>(*end) <= len) return false;
    char before = '\n';
    auto n = sys::pread(fd, &before, 1, *end - static_cast<off_t>(len) - 1);
    return n && *n == 1 && before != '\n';
}

} // namespace

AuditLog::AuditLog(std::string path, uint64_t max_bytes, int generations)
    : path_(std::move(path)),
      max_bytes_(max_bytes ? max_bytes : max_bytes_from_env()),
      generations_(generations > 0 ? generations : kAuditDefaultGenerations) {}

std::vector<std::string> AuditLog::existing_files() const {
    std::vector<std::string> out;
    for (int n = generations_; n >= 0; --n) {
        std::string p = generation_path(path_, n);
        if (sys::exists(p)) out.push_back(std::move(p));
    }
    return out;
}

Result<void> AuditLog::append(const AuditEvent& e) const {
    std::string line = encode_event(e);
    line += '\n';
    // ROOT/audit.log, never through a symlink or into a FIFO someone put there (P8).
    auto [root, file] = rootfs::split(path_);
    auto dir = rootfs::Dir::open(root, root, false);
    if (!dir) return audit_error("cannot open " + path_, dir.error());
    // Read access too, to look at the byte before our line (below); a log we may only write
    // still works.
    auto fd = dir->open_file(file, O_RDWR | O_APPEND | O_CREAT);
    if (!fd && fd.error().sys_errno == EACCES) fd = dir->open_file(file, O_WRONLY | O_APPEND | O_CREAT);
    if (!fd) return audit_error("cannot open " + path_, fd.error());
    auto st = sys::fstat(fd->get());
    if (st && static_cast<uint64_t>(st->st_size) >= max_bytes_) {
        // A failed rotation must not cost the event: it then goes into the full file.
        if (rotate_if_full(*dir)) {
            auto fresh = dir->open_file(file, O_RDWR | O_APPEND | O_CREAT);
            if (fresh) fd = std::move(fresh);
        }
    }
    // One write() of the whole line: O_APPEND makes concurrent lines land whole, one after
    // another. write_once reports a short write (full disk) as an error instead of retrying
    // the tail, which another writer's line could already have followed.
    auto w = sys::write_once(fd->get(), line);
    if (!w) return audit_error("cannot append to " + path_, w.error());
    // A writer cut short by a full disk leaves a fragment without newline, and our line is
    // glued to it (one garbage line). Only now is the byte before our line final (appends
    // are serialised), so only now can we tell: then write the line again (our first copy
    // ended the garbage line, so this one starts a line of its own).
    if (preceded_by_fragment(fd->get(), line.size())) {
        auto again = sys::write_once(fd->get(), line);
        if (!again) return audit_error("cannot append to " + path_, again.error());
    }
    return {};
}

Result<void> AuditLog::rotate_if_full(const rootfs::Dir& dir) const {
    auto lock = dir.open_file("audit.lock", O_RDONLY | O_CREAT);
    if (!lock) return lock.error();
    // Never wait: a busy lock means another writer is rotating right now.
    LOKT_TRY(sys::flock(lock->get(), LOCK_EX | LOCK_NB));
    // Re-check under the lock: another writer may have rotated while we looked.
    auto file = rootfs::split(path_).second;
    auto st = dir.lstat(file);
    if (!st || static_cast<uint64_t>(st->st_size) < max_bytes_) return {};
    for (int n = generations_; n >= 2; --n) {
        std::string from = generation_path(file, n - 1);
        if (dir.lstat(from)) LOKT_TRY(dir.rename(from, generation_path(file, n)));
    }
    // Writers that opened the old file before this rename still write into it: their
    // lines land in audit.log.1, whole, and readers see them there.
    LOKT_TRY(dir.rename(file, generation_path(file, 1)));
    return {};
}

} // namespace lokt
