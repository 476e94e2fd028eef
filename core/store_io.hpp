#pragma once
// Private helpers of the lock store (not installed): the per-name critical section, reading a
// lock/freeze file, complete temp files (audit events: lokt/audit_event.hpp).

#include "lokt/audit.hpp"
#include "lokt/audit_event.hpp"
#include "lokt/identity.hpp"
#include "lokt/lock_file.hpp"
#include "lokt/result.hpp"
#include "lokt/root.hpp"
#include "lokt/root_fs.hpp"
#include "lokt/store.hpp"
#include "lokt/sys.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace lokt::detail {

/// ROOT/sync: one never-deleted sidecar per name, the target of the per-name flock.
std::string sync_dir(const Root& root);
/// ROOT/fence: one never-deleted file per name, holding its fence counter and locked (flock)
/// while a fence is issued and the lock that carries it is put in place.
std::string fence_dir(const Root& root);
/// ROOT/queue/NAME: the waiters' tickets for NAME.
std::string queue_dir(const Root& root, const std::string& name);

/// How long NameLock::acquire keeps trying while another process holds ROOT/sync/NAME.
inline constexpr auto kSyncWaitBound = std::chrono::seconds(3);

/// An exclusive flock on ROOT/sync/NAME for the object's lifetime (the kernel drops it if we
/// die). Never take two for the same name in one process: flock is per open file.
class NameLock {
public:
    /// Non-blocking attempts with a short backoff, up to kSyncWaitBound (SyncWait::bounded) or
    /// just one (SyncWait::none); then an Error (errno EWOULDBLOCK) naming the file and, when
    /// /proc/locks tells, the pid holding it.
    static Result<NameLock> acquire(const Root& root, const std::string& name,
                                    SyncWait wait = SyncWait::bounded);
    /// The same on ROOT/fence/NAME (opened for writing): the lock under which NAME's fences
    /// are issued. Taken alone to create a lock, inside the sync lock to replace one.
    static Result<NameLock> acquire_fence(const Root& root, const std::string& name);

    /// On a fence lock: issues NAME's next fencing token, one more than the greater of
    /// `floor` (the fence of the lock being replaced) and the counter, which is updated first.
    Result<int64_t> next_fence(int64_t floor);

private:
    NameLock(sys::UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
    static Result<NameLock> take(sys::UniqueFd fd, const std::string& path, SyncWait wait);
    sys::UniqueFd fd_;
    std::string path_;
};

/// What one read of a lock or freeze file found.
struct FileState {
    bool exists = false;
    std::string bytes;
    Decoded decoded;
    TimePoint mtime{};      ///< the file's modification time
    mode_t foreign = 0;     ///< nonzero: a non-regular entry of this st_mode sits there (unread)

    bool ok() const { return exists && !foreign && decoded.status == DecodeStatus::ok; }
    const LockRecord& record() const { return decoded.record; }
};
/// Whether a non-regular entry is reported (the default: an Error naming it) or returned as
/// FileState::foreign so that a break-glass operation can remove it.
enum class Foreign { refuse, report };
/// Reads and decodes `path` under the root; a missing file is `exists == false`, not an error.
Result<FileState> read_state(const Root& root, const std::string& path, Foreign foreign = Foreign::refuse);

/// How long an unreadable lock file counts as being written by another tool (the original
/// creates NAME.json empty and renames its content in a moment later).
inline constexpr auto kWriteGrace = std::chrono::seconds(2);
/// True for a corrupt (empty or truncated) lock file whose mtime is within kWriteGrace of `at`.
bool being_written(const FileState& st, TimePoint at);
/// The Held outcome for a lock file being written: a holder record that expires when the
/// grace period ends, so a waiter looks again then.
Held held_by_writer(const std::string& name, const FileState& st);

/// A lock or freeze file read inside the critical section of its name: every mutation
/// (renew, update, release, break, freeze) judges `state` and acts while `lock` is held.
struct LockedFile {
    NameLock lock;
    std::string path;
    FileState state;
    mode_t cleared_sync = 0;  ///< nonzero: a non-regular ROOT/sync/NAME of this mode was removed
};
/// Validates NAME, takes its flock, then reads `path` (NAME's lock or freeze file). With
/// Foreign::report, a non-regular ROOT/sync/NAME is removed first (see cleared_sync).
Result<LockedFile> lock_and_read(const Root& root, const std::string& name, std::string path,
                                 Foreign foreign = Foreign::refuse, SyncWait wait = SyncWait::bounded);

/// A complete temp file in a directory of the root; unlinked on destruction unless consumed
/// by a rename. Its name starts with "." and ends with ".tmp", so it is never a lock file.
class TempFile {
public:
    /// Writes `bytes` to a fresh temp file in `dir` (creating the root's directories first
    /// if they are missing). On failure nothing is left behind.
    static Result<TempFile> write(const Root& root, const std::string& dir, std::string_view bytes);
    TempFile(TempFile&& o) noexcept : dir_(std::move(o.dir_)), name_(std::move(o.name_)) { o.name_.clear(); }
    TempFile& operator=(TempFile&&) = delete;
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile();

    /// link() it to `target` (in the same directory): fails with EEXIST when `target` exists.
    Result<void> link_to(const std::string& target) const;
    /// rename() it over `target` (atomic replace); the temp name is gone afterwards.
    Result<void> rename_to(const std::string& target);
    std::string path() const { return dir_.child(name_); }

private:
    TempFile(rootfs::Dir dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {}
    /// The name of `target` in our directory; an Error if it lies elsewhere.
    Result<std::string> leaf_of(const std::string& target) const;
    rootfs::Dir dir_;
    std::string name_;
};

/// True for names of our temp files (".lokt-*.tmp").
bool is_temp_name(std::string_view file);

/// ROOT/holders/NAME: one file per shared or slot holder of NAME.
std::string holders_dir(const Root& root, const std::string& name);

/// Sets ttl_sec / expires_at of `r` for a TTL starting at `at` (0: no TTL). ttl_sec is
/// rounded up so a sub-second TTL still reads as a TTL to the original tool.
void set_ttl(LockRecord& r, Nanos ttl, TimePoint at);

/// Audits the removal of a non-regular entry at `path` by a break-glass operation (`event` is
/// force-break or force-unfreeze; extra says reason "not-regular", the path and its type).
void audit_cleared(const AuditLog& log, const Identity& actor, const std::string& event,
                   const std::string& name, const std::string& path, mode_t mode);

/// The error for a file written by a newer lokt (`what` is "lock" or "freeze").
Error future_version_error(std::string_view what, const std::string& name, const FileState& st);

/// NAME's active freeze, judged by `actor`: an expired one is removed (audited `unfreeze`,
/// reason "expired"), a corrupt one too (reason "corrupt"); a future-version one is an Error.
Result<std::optional<LockRecord>> active_freeze(const Root& root, const AuditLog& log,
                                                const Identity& actor, const std::string& name);

} // namespace lokt::detail
