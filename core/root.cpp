#include "lokt/root.hpp"

#include "lokt/root_fs.hpp"
#include "lokt/sys.hpp"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lokt {
namespace {

// The $LOKT_ROOT this process was started with, when pin_env_root() had to make it absolute.
std::string& pinned_from() {
    static std::string given;
    return given;
}

} // namespace

std::string resolve_path(const std::string& base, const std::string& path) {
    if (!path.empty() && path[0] == '/') return path;
    if (base.empty() || base.back() == '/') return base + path;
    return base + "/" + path;
}

Result<Root> discover_root(const std::string& cwd, const char* env_root) {
    if (env_root && *env_root) return Root{resolve_path(cwd, env_root), RootSource::env};
    if (auto common = find_git_common_dir(cwd)) return Root{*common + "/lokt", RootSource::git};
    return Root{resolve_path(cwd, ".lokt"), RootSource::cwd};
}

Result<Root> discover_root() {
    char buf[PATH_MAX];
    if (!::getcwd(buf, sizeof buf)) return Error::from_errno("getcwd", errno);
    return discover_root(buf, std::getenv("LOKT_ROOT"));
}

Result<void> pin_env_root() {
    const char* v = std::getenv("LOKT_ROOT");
    if (!v || !*v || v[0] == '/') return {};
    char buf[PATH_MAX];
    if (!::getcwd(buf, sizeof buf)) return Error::from_errno("getcwd", errno);
    pinned_from() = v;
    // Exported so that everything started from here (a guarded command, a shimmed tool, the
    // supervisor after it chdir's, a nested lokt) resolves the root this process resolved.
    if (::setenv("LOKT_ROOT", resolve_path(buf, pinned_from()).c_str(), 1) != 0)
        return Error::from_errno("setenv LOKT_ROOT", errno);
    return {};
}

const std::string& pinned_relative_root() { return pinned_from(); }

Result<void> ensure_root_dirs(const Root& root) {
    for (const std::string& d : {root.locks_dir(), root.freezes_dir()}) {
        auto dir = rootfs::Dir::open(root.path, d, true);
        if (!dir) return dir.error();
    }
    if (::access(root.locks_dir().c_str(), W_OK | X_OK) != 0)
        return Error{"lock directory " + root.locks_dir() + " is not writable: " + std::strerror(errno), errno};
    return {};
}

std::string_view to_string(RootSource s) {
    switch (s) {
    case RootSource::env: return "LOKT_ROOT";
    case RootSource::git: return "git";
    case RootSource::cwd: return "cwd";
    }
    return "cwd";
}

} // namespace lokt
