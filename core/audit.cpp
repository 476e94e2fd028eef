// Writing the audit log: one O_APPEND write per event, and rotation by size.

#include "lokt/audit.hpp"

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

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

std::string generation_path(const std::string& path, int n) {
    return n == 0 ? path : path + "." + std::to_string(n);
}

Error audit_error(const std::string& what, const Error& e) {
    int err = e.sys_errno;
    std::string msg = "audit log: " + what;
    if (err) msg += std::string(": ") + std::strerror(err);
    else msg += ": " + e.message;
    return Error{msg, err};
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
    auto fd = sys::open(path_, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (!fd) return audit_error("cannot open " + path_, fd.error());
    auto st = sys::fstat(fd->get());
    if (st && static_cast<uint64_t>(st->st_size) >= max_bytes_) {
        // A failed rotation must not cost the event: it then goes into the full file.
        if (rotate_if_full()) {
            auto fresh = sys::open(path_, O_WRONLY | O_APPEND | O_CREAT, 0644);
            if (fresh) fd = std::move(fresh);
        }
    }
    // One write() of the whole line: O_APPEND makes concurrent lines land whole, one after
    // another. write_once reports a short write (full disk) as an error instead of retrying
    // the tail, which another writer's line could already have followed.
    auto w = sys::write_once(fd->get(), line);
    if (!w) return audit_error("cannot append to " + path_, w.error());
    return {};
}

Result<void> AuditLog::rotate_if_full() const {
    auto lock = sys::open(dir_of(path_) + "/audit.lock", O_RDWR | O_CREAT, 0644);
    if (!lock) return lock.error();
    LOKT_TRY(sys::flock(lock->get(), LOCK_EX));
    // Re-check under the lock: another writer may have rotated while we waited.
    auto st = sys::stat(path_);
    if (!st || static_cast<uint64_t>(st->st_size) < max_bytes_) return {};
    for (int n = generations_; n >= 2; --n) {
        std::string from = generation_path(path_, n - 1);
        if (sys::exists(from)) LOKT_TRY(sys::rename(from, generation_path(path_, n)));
    }
    // Writers that opened the old file before this rename still write into it: their
    // lines land in audit.log.1, whole, and readers see them there.
    LOKT_TRY(sys::rename(path_, generation_path(path_, 1)));
    return {};
}

} // namespace lokt
