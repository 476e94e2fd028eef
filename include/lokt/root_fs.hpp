#pragma once
// Opening things under the lock root, which other agents, other Unix users and the original
// tool write into too (P8). Every directory below ROOT is opened relative to its parent with
// O_DIRECTORY|O_NOFOLLOW, every file with O_NOFOLLOW|O_NONBLOCK and checked to be a regular
// file before a byte is read or written, so a planted symlink, FIFO or device is refused
// with an error naming it instead of being followed or blocking. ROOT itself may be a
// symlink (the user chose that path); nothing below it may.
//
// Sharing (README "Several users on one root"): a root whose directory is group-writable is
// shared by its group: lokt then creates directories 2775 (sync/ and queue/ also sticky)
// and files 0664 whatever the umask. Otherwise the umask decides, as for any other file.

#include "lokt/result.hpp"
#include "lokt/sys.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

namespace lokt::rootfs {

/// The errno an Error carries when the entry is not a regular file (or not a directory).
inline constexpr int kNotRegularErrno = EMEDIUMTYPE;

/// Who the root is shared with.
enum class Sharing { single, group };

/// `group` when ROOT's mode is group-writable, else `single`.
Sharing sharing_of(mode_t root_mode);
/// "single user" / "shared by group NAME" for messages.
std::string sharing_text(Sharing s, gid_t gid);

/// "a FIFO", "a symbolic link", "a directory", ... for an entry's st_mode.
std::string_view type_name(mode_t mode);

/// The one-line error for a non-regular entry at `path` (errno kNotRegularErrno).
Error not_regular(const std::string& path, mode_t mode);

/// A directory of the root, opened without following symlinks below ROOT.
class Dir {
public:
    /// Opens `dir` (ROOT itself or a directory below it, as an absolute path under `root`);
    /// with `create`, missing directories (ROOT included) are made in the root's sharing mode.
    static Result<Dir> open(const std::string& root, const std::string& dir, bool create);

    /// A regular file in this directory: opened O_NOFOLLOW|O_NONBLOCK, refused unless fstat
    /// says S_ISREG; O_NONBLOCK is cleared again unless `flags` asked for it. A file this
    /// process owns gets the sharing mode's permissions.
    Result<sys::UniqueFd> open_file(const std::string& name, int flags) const;
    /// unlinkat(name); a directory entry is removed with AT_REMOVEDIR (only when empty).
    Result<void> unlink(const std::string& name) const;
    /// linkat(from, to) in this directory (EEXIST when `to` exists, whatever it is).
    Result<void> link(const std::string& from, const std::string& to) const;
    /// renameat(from, to) in this directory.
    Result<void> rename(const std::string& from, const std::string& to) const;
    /// What the entry itself is (never its target).
    Result<struct stat> lstat(const std::string& name) const;
    /// The names in this directory.
    Result<std::vector<std::string>> list() const;

    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }
    Sharing sharing() const { return sharing_; }
    /// `path()/name`, for messages.
    std::string child(const std::string& name) const { return path_ + "/" + name; }

private:
    Dir(sys::UniqueFd fd, std::string path, Sharing s) : fd_(std::move(fd)), path_(std::move(path)), sharing_(s) {}
    sys::UniqueFd fd_;
    std::string path_;
    Sharing sharing_;
};

/// The directory part and the last component of `path` ("/a/b/c" -> "/a/b", "c").
std::pair<std::string, std::string> split(const std::string& path);

/// Opens the file at `path` under `root`: Dir::open of its directory, then Dir::open_file.
Result<sys::UniqueFd> open_file(const std::string& root, const std::string& path, int flags,
                                bool create_dirs = false);
/// Removes the entry at `path` under `root` (see Dir::unlink).
Result<void> unlink(const std::string& root, const std::string& path);

} // namespace lokt::rootfs
