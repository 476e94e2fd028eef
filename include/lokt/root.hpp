#pragma once
// Finding the lock directory: $LOKT_ROOT, else <git common dir>/lokt, else ./.lokt.
// The git common dir is found by walking up from the working directory (never forking git)
// and accepting only what git accepts (core/git_dir.cpp): a ".git" directory that is a git
// dir, or a ".git" file with "gitdir: X" naming one; X/commondir names the shared dir
// (linked worktrees). A relative $LOKT_ROOT is made absolute once, at start (pin_env_root).

#include "lokt/result.hpp"

#include <optional>
#include <string>

namespace lokt {

/// Where the root came from (reported by `lokt doctor`).
enum class RootSource { env, git, cwd };

/// The lock directory and the paths under it (DESIGN §2).
struct Root {
    std::string path;   ///< absolute
    RootSource source = RootSource::cwd;

    std::string locks_dir() const { return path + "/locks"; }
    std::string freezes_dir() const { return path + "/freezes"; }
    std::string audit_path() const { return path + "/audit.log"; }
    std::string lock_path(const std::string& name) const { return locks_dir() + "/" + name + ".json"; }
    std::string freeze_path(const std::string& name) const { return freezes_dir() + "/" + name + ".json"; }
};

/// `path` made absolute against `base` (returned as is when already absolute; not normalised).
std::string resolve_path(const std::string& base, const std::string& path);

/// The git common dir for `cwd` (absolute, normalised), or nullopt outside a repository.
std::optional<std::string> find_git_common_dir(const std::string& cwd);

/// Whether `path` is a directory git would use as a git dir (HEAD, objects/, refs/).
bool is_git_dir(const std::string& path);

/// Decides the root for `cwd` given the value of $LOKT_ROOT (nullptr/empty when unset).
/// Does not create anything. A relative $LOKT_ROOT is taken relative to `cwd`.
Result<Root> discover_root(const std::string& cwd, const char* env_root);

/// discover_root for the current process (getcwd + getenv).
Result<Root> discover_root();

/// Rewrites a relative $LOKT_ROOT as an absolute path against the current directory, so this
/// process and all it starts agree on the root.
Result<void> pin_env_root();

/// The relative $LOKT_ROOT pin_env_root() rewrote, as given (empty when it did not).
const std::string& pinned_relative_root();

/// Creates ROOT, locks/ and freezes/ if missing; an Error if ROOT is not a writable directory.
Result<void> ensure_root_dirs(const Root& root);

std::string_view to_string(RootSource s);

} // namespace lokt
