#include "doctor_checks.hpp"

#include "self_path.hpp"

#include "lokt/rules.hpp"
#include "lokt/seccomp_shim.hpp"
#include "lokt/sys.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lokt::cli::doctor {
namespace {

std::string current_dir() {
    char buf[PATH_MAX];
    return ::getcwd(buf, sizeof buf) ? std::string(buf) : std::string(".");
}

// What a failed seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER) means for the user.
std::string seccomp_failure(int err) {
    switch (err) {
    case EBUSY:
        return "this process already runs under a seccomp listener (inside lokt shim --seccomp?), and "
               "listeners do not nest; run lokt shim --seccomp from outside it";
    case EINVAL:
    case ENOSYS:
        return "the kernel has no seccomp user notification (Linux 5.5 or later is needed); use lokt shim "
               "(preload mode) instead";
    case EACCES:
    case EPERM:
        return std::string("not permitted (") + std::strerror(err) +
               "): a container's seccomp policy may forbid it; allow seccomp() or use lokt shim (preload mode)";
    default:
        return std::string("installing the exec filter failed: ") + std::strerror(err) +
               "; use lokt shim (preload mode) instead";
    }
}

} // namespace

std::vector<Check> check_root_source(const Root& root) {
    std::vector<Check> out;
    if (root.source == RootSource::cwd)
        out.push_back({"root", Status::warn,
                       "not in a git repository, so the root is ./.lokt of this directory: lokt run from another "
                       "directory uses other locks and excludes nothing here; share one root with "
                       "export LOKT_ROOT=" + root.path});
    if (const std::string& rel = pinned_relative_root(); !rel.empty() && root.source == RootSource::env)
        out.push_back({"root", Status::warn,
                       "LOKT_ROOT=" + rel + " is relative, so it names another root in every directory (here " +
                           root.path + "); set an absolute path: export LOKT_ROOT=" + root.path});
    return out;
}

Check check_preload() {
    const std::string lib = preload_lib_path();
    const bool from_env = std::getenv("LOKT_PRELOAD_LIB") && *std::getenv("LOKT_PRELOAD_LIB");
    const std::string fix = from_env ? "point LOKT_PRELOAD_LIB at liblokt_preload.so"
                                     : "install lib/lokt/liblokt_preload.so beside bin/lokt, or set LOKT_PRELOAD_LIB";
    auto st = sys::stat(lib);
    if (!st) return {"preload", Status::warn, "no library at " + lib + ": lokt shim cannot start; " + fix};
    auto fd = S_ISREG(st->st_mode) ? sys::open(lib, O_RDONLY) : Result<sys::UniqueFd>(Error{"not a file"});
    char magic[4] = {};
    auto n = fd ? sys::read_some(fd->get(), magic, sizeof magic) : Result<size_t>(fd.error());
    if (!n || *n != sizeof magic || std::memcmp(magic, "\x7f" "ELF", 4) != 0)
        return {"preload", Status::warn, lib + " is not a shared library: lokt shim cannot start; " + fix};
    return {"preload", Status::ok, lib + " (for lokt shim)"};
}

Check check_rules(const Root& root) {
    const std::string path = rules::rules_path(root, std::getenv("LOKT_RULES"), current_dir());
    if (!sys::exists(path))
        return {"rules", Status::ok, "no rules file at " + path + ": lokt shim locks nothing until one is written"};
    auto loaded = rules::load(path);
    if (!loaded)
        return {"rules", Status::fail,
                loaded.error().message + "; lokt shim refuses to start until it is fixed (lokt rules check)"};
    const rules::RuleSet& set = **loaded;
    size_t failed = 0;
    auto outcomes = rules::run_tests(set);
    for (const auto& o : outcomes) failed += !o.passed;
    std::string summary = path + ": " + std::to_string(set.rule_count) + (set.rule_count == 1 ? " rule" : " rules");
    if (failed)
        return {"rules", Status::warn,
                summary + "; " + std::to_string(failed) + " of " + std::to_string(outcomes.size()) +
                    " test lines fail: the rules do not match what they say (see lokt rules check)"};
    if (outcomes.empty()) return {"rules", Status::ok, summary};
    return {"rules", Status::ok, summary + ", " + std::to_string(outcomes.size()) + " test lines pass"};
}

Check check_seccomp() {
    auto probe = probe_seccomp();
    if (!probe) return {"seccomp", Status::warn, "cannot tell whether lokt shim --seccomp works: " + probe.error().message};
    if (probe->err != 0) return {"seccomp", Status::warn, "lokt shim --seccomp cannot run: " + seccomp_failure(probe->err)};
    if (!probe->pidfd)
        return {"seccomp", Status::warn,
                "lokt shim --seccomp cannot run: no pidfd_open (Linux 5.3 or later is needed); use lokt shim (preload mode)"};
    if (!probe->wait_killable)
        return {"seccomp", Status::ok,
                "lokt shim --seccomp can run, without WAIT_KILLABLE_RECV (Linux before 5.19): a signal to an exec "
                "waiting for its lock restarts the exec, which then waits again"};
    return {"seccomp", Status::ok, "lokt shim --seccomp can run (user notification with WAIT_KILLABLE_RECV)"};
}

std::vector<Check> setup_checks(const Root& root) {
    std::vector<Check> out = check_root_source(root);
    out.push_back(check_preload());
    out.push_back(check_rules(root));
    out.push_back(check_seccomp());
    return out;
}

} // namespace lokt::cli::doctor
