#pragma once
// The key namespace a repository's locks get on a shared backend (etcd) when the backend URL
// names none: derived from the repository's `origin` remote, so that every clone of one
// repository — on any machine, over https or ssh — agrees on it, and two repositories never
// share one.

#include <optional>
#include <string>
#include <string_view>

namespace lokt {

/// The prefix used when the repository has no `origin` (or there is no repository).
inline constexpr std::string_view kSharedPrefix = "lokt";

/// The first `url` of `[remote "origin"]` in GIT_COMMON_DIR/config; nullopt when there is
/// none or the file cannot be read (opened without following a symlink, regular files only).
std::optional<std::string> origin_url(const std::string& git_common_dir);

/// One spelling for the clone URLs of one repository: "host/path" for https://, ssh://,
/// git:// and scp-like `user@host:path` remotes (no user, no port, host lowercased, no
/// trailing ".git" or '/'), the path alone for local remotes. "" for an empty URL.
std::string normalize_remote(std::string_view url);

/// The key prefix for a normalized remote: "lokt-repo/<readable>-<8 hex digits of its hash>",
/// one path component below "lokt-repo", so that no repository's keys lie under another's (or
/// under kSharedPrefix's).
std::string prefix_for_remote(std::string_view normalized);

/// The default prefix for commands run in `cwd`: prefix_for_remote of its repository's origin,
/// or kSharedPrefix outside a repository or without an origin.
std::string default_backend_prefix(const std::string& cwd);

} // namespace lokt
