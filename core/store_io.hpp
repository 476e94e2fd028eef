#pragma once
// Private helpers of the lock store (not installed): the per-name critical section, reading a
// lock/freeze file, complete temp files, and audit event construction.

#include "lokt/audit.hpp"
#include "lokt/identity.hpp"
#include "lokt/lock_file.hpp"
#include "lokt/result.hpp"
#include "lokt/root.hpp"
#include "lokt/sys.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace lokt::detail {

/// ROOT/sync: one never-deleted sidecar per name, the target of the per-name flock.
std::string sync_dir(const Root& root);
/// ROOT/queue/NAME: the waiters' tickets for NAME.
std::string queue_dir(const Root& root, const std::string& name);

/// An exclusive flock on ROOT/sync/NAME for the object's lifetime (the kernel drops it if we
/// die). Never take two for the same name in one process: flock is per open file.
class NameLock {
public:
    static Result<NameLock> acquire(const Root& root, const std::string& name);

private:
    explicit NameLock(sys::UniqueFd fd) : fd_(std::move(fd)) {}
    sys::UniqueFd fd_;
};

/// What one read of a lock or freeze file found.
struct FileState {
    bool exists = false;
    std::string bytes;
    Decoded decoded;

    bool ok() const { return exists && decoded.status == DecodeStatus::ok; }
    const LockRecord& record() const { return decoded.record; }
};
/// Reads and decodes `path`; a missing file is `exists == false`, not an error.
Result<FileState> read_state(const std::string& path);

/// A lock or freeze file read inside the critical section of its name: every mutation
/// (renew, update, release, break, freeze) judges `state` and acts while `lock` is held.
struct LockedFile {
    NameLock lock;
    std::string path;
    FileState state;
};
/// Validates NAME, takes its flock, then reads `path` (NAME's lock or freeze file).
Result<LockedFile> lock_and_read(const Root& root, const std::string& name, std::string path);

/// A complete temp file in a directory of the root; unlinked on destruction unless consumed
/// by a rename. Its name starts with "." and ends with ".tmp", so it is never a lock file.
class TempFile {
public:
    /// Writes `bytes` to a fresh temp file in `dir` (creating the root's directories first
    /// if they are missing). On failure nothing is left behind.
    static Result<TempFile> write(const Root& root, const std::string& dir, std::string_view bytes);
    TempFile(TempFile&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
    TempFile& operator=(TempFile&&) = delete;
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile();

    /// link() it to `target`: fails with EEXIST when `target` exists.
    Result<void> link_to(const std::string& target) const;
    /// rename() it over `target` (atomic replace); the temp name is gone afterwards.
    Result<void> rename_to(const std::string& target);
    const std::string& path() const { return path_; }

private:
    explicit TempFile(std::string path) : path_(std::move(path)) {}
    std::string path_;
};

/// True for names of our temp files (".lokt-*.tmp").
bool is_temp_name(std::string_view file);

/// Sets ttl_sec / expires_at of `r` for a TTL starting at `at` (0: no TTL). ttl_sec is
/// rounded up so a sub-second TTL still reads as a TTL to the original tool.
void set_ttl(LockRecord& r, Nanos ttl, TimePoint at);

/// An audit event by `actor` about `lock` (lock_id, and ttl_sec when `with_ttl`).
AuditEvent make_event(std::string_view event, const Identity& actor, const std::string& name,
                      const LockRecord* lock, bool with_ttl);
/// Appends `e`; a failing audit log never fails or undoes the lock operation that happened.
void audit(const AuditLog& log, const AuditEvent& e);

/// The error for a file written by a newer lokt (`what` is "lock" or "freeze").
Error future_version_error(std::string_view what, const std::string& name, const FileState& st);

/// NAME's active freeze, judged by `actor`: an expired one is removed (audited `unfreeze`,
/// reason "expired"), a corrupt one too (reason "corrupt"); a future-version one is an Error.
Result<std::optional<LockRecord>> active_freeze(const Root& root, const AuditLog& log,
                                                const Identity& actor, const std::string& name);

} // namespace lokt::detail
