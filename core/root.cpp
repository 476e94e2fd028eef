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

std::string join(const std::string& base, const std::string& rel) {
    if (!rel.empty() && rel[0] == '/') return rel;
    if (base.empty() || base.back() == '/') return base + rel;
    return base + "/" + rel;
}

std::string parent_of(const std::string& dir) {
    auto slash = dir.find_last_of('/');
    if (slash == 0 || slash == std::string::npos) return "/";
    return dir.substr(0, slash);
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string canonical(const std::string& path) {
    char buf[PATH_MAX];
    if (::realpath(path.c_str(), buf)) return buf;
    return path;
}

bool is_dir(const std::string& path) {
    auto st = sys::stat(path);
    return st && S_ISDIR(st->st_mode);
}

// The common dir for a git dir: itself, or what its "commondir" file names (linked worktrees).
std::string common_of_gitdir(const std::string& gitdir) {
    if (auto c = sys::read_file(gitdir + "/commondir", 4096)) {
        std::string rel = trim(*c);
        if (!rel.empty()) return canonical(join(gitdir, rel));
    }
    return canonical(gitdir);
}

// "gitdir: X" in a .git file (worktrees, submodules); X is relative to the file's directory.
std::optional<std::string> gitdir_from_file(const std::string& dir, const std::string& dotgit) {
    auto content = sys::read_file(dotgit, 4096);
    if (!content) return std::nullopt;
    std::string s = trim(*content);
    static const std::string prefix = "gitdir:";
    if (s.rfind(prefix, 0) != 0) return std::nullopt;
    std::string target = s.substr(prefix.size());
    while (!target.empty() && target[0] == ' ') target.erase(0, 1);
    if (target.empty()) return std::nullopt;
    return join(dir, target);
}

} // namespace

std::optional<std::string> find_git_common_dir(const std::string& cwd) {
    if (const char* gd = std::getenv("GIT_DIR"); gd && *gd) {
        if (const char* cd = std::getenv("GIT_COMMON_DIR"); cd && *cd) return canonical(join(cwd, cd));
        return common_of_gitdir(join(cwd, gd));
    }
    std::string dir = canonical(cwd);
    while (true) {
        std::string dotgit = join(dir, ".git");
        auto st = sys::stat(dotgit);
        if (st) {
            if (S_ISDIR(st->st_mode)) return common_of_gitdir(dotgit);
            if (S_ISREG(st->st_mode))
                if (auto gitdir = gitdir_from_file(dir, dotgit); gitdir && is_dir(*gitdir))
                    return common_of_gitdir(*gitdir);
        }
        if (dir == "/") return std::nullopt;
        dir = parent_of(dir);
    }
}

Result<Root> discover_root(const std::string& cwd, const char* env_root) {
    if (env_root && *env_root) return Root{join(cwd, env_root), RootSource::env};
    if (auto common = find_git_common_dir(cwd)) return Root{*common + "/lokt", RootSource::git};
    return Root{join(cwd, ".lokt"), RootSource::cwd};
}

Result<Root> discover_root() {
    char buf[PATH_MAX];
    if (!::getcwd(buf, sizeof buf)) return Error::from_errno("getcwd", errno);
    return discover_root(buf, std::getenv("LOKT_ROOT"));
}

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
