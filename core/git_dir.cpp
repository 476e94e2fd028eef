// Finding the git common dir the way git does (setup.c: setup_git_directory_gently_1 and
// is_git_directory), without forking git: walk up from the working directory; a ".git" file
// must be a valid "gitdir: X" link to a git dir, a ".git" directory must itself be one, and a
// directory that is a git dir (a bare repository, or .git itself) counts as found.

#include "lokt/root.hpp"

#include "lokt/sys.hpp"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>

namespace lokt {
namespace {

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
        if (!rel.empty()) return canonical(resolve_path(gitdir, rel));
    }
    return canonical(gitdir);
}

bool is_hex_object_id(const std::string& s) {
    if (s.size() != 40 && s.size() != 64) return false;  // SHA-1 or SHA-256
    for (char c : s)
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

// git's validate_headref: HEAD is a symlink into refs/, "ref: refs/...", or an object id.
bool valid_head(const std::string& gitdir) {
    const std::string head = gitdir + "/HEAD";
    auto lst = sys::lstat(head);
    if (!lst) return false;
    if (S_ISLNK(lst->st_mode)) {
        auto target = sys::readlink(head);
        return target && target->rfind("refs/", 0) == 0;
    }
    if (!S_ISREG(lst->st_mode)) return false;
    auto content = sys::read_file(head, 4096);
    if (!content) return false;
    std::string s = trim(*content);
    if (s.rfind("ref:", 0) == 0) {
        size_t i = 4;
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        return s.compare(i, 5, "refs/") == 0;
    }
    return is_hex_object_id(s);
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
    return resolve_path(dir, target);
}

// The git dir `dir`/.git leads to, if it is one git would accept.
std::optional<std::string> gitdir_at(const std::string& dir) {
    const std::string dotgit = resolve_path(dir, ".git");
    auto st = sys::stat(dotgit);
    if (!st) return std::nullopt;
    if (S_ISDIR(st->st_mode)) return is_git_dir(dotgit) ? std::optional(dotgit) : std::nullopt;
    if (!S_ISREG(st->st_mode)) return std::nullopt;
    auto target = gitdir_from_file(dir, dotgit);
    if (target && is_git_dir(*target)) return target;
    return std::nullopt;
}

} // namespace

bool is_git_dir(const std::string& path) {
    // As git's is_git_directory: HEAD in the git dir itself (a linked worktree has its own),
    // objects/ and refs/ in the common dir.
    if (!is_dir(path) || !valid_head(path)) return false;
    const std::string common = common_of_gitdir(path);
    return is_dir(common + "/objects") && is_dir(common + "/refs");
}

std::optional<std::string> find_git_common_dir(const std::string& cwd) {
    if (const char* gd = std::getenv("GIT_DIR"); gd && *gd) {
        if (const char* cd = std::getenv("GIT_COMMON_DIR"); cd && *cd) return canonical(resolve_path(cwd, cd));
        return common_of_gitdir(resolve_path(cwd, gd));
    }
    std::string dir = canonical(cwd);
    while (true) {
        if (auto gitdir = gitdir_at(dir)) return common_of_gitdir(*gitdir);
        if (is_git_dir(dir)) return common_of_gitdir(dir);  // a bare repository, or inside .git
        if (dir == "/") return std::nullopt;
        dir = parent_of(dir);
    }
}

} // namespace lokt
