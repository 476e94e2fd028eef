// lokt guard NAME... [--shared | --slots N] [--ttl D] [--wait [--timeout D]] [--kill-after D] [--on-exit term|wait]
//                    [--on-lost warn|term] [--on-timeout fail|run] [--on-frozen wait|fail]
//                    [--exec PATH] [--kind guard|shim] -- CMD [ARG...]

#include "cli.hpp"
#include "backend_open.hpp"
#include "output.hpp"

#include "lokt/proc_stat.hpp"
#include "lokt/identity.hpp"
#include "lokt/name.hpp"
#include "lokt/supervisor.hpp"
#include "lokt/proc/exec_image.hpp"
#include "lokt/proc/exit_status.hpp"
#include "lokt/proc/held_env.hpp"
#include "lokt/proc/resolve_command.hpp"
#include "lokt/supervisor/backend_keeper.hpp"
#include "lokt/sys.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

extern char** environ;

namespace lokt::cli {
namespace {

// Runs the command in place of this process (a guard nested in a guard of the same lock).
int exec_directly(const std::string& path, const std::vector<std::string>& argv) {
    const int err = proc::ExecImage(path, argv).exec(environ);
    return fail(static_cast<ExitCode>(proc::exec_failure_code(err)),
                Error::from_errno("cannot run \"" + path + "\"", err).message);
}

// Re-entrancy without LOKT_HELD (an `env -i` in between): the lock is a guard's or shim's
// whose holder — the supervisor, or the front after a takeover — is one of our ancestors.
bool held_by_ancestor(const LockRecord& rec, const LocalView& here) {
    if (!rec.kind || (*rec.kind != LockKind::guard && *rec.kind != LockKind::shim)) return false;
    // A pid from another boot or pid namespace is nobody's ancestor here.
    if (pid_space(rec, here) != PidSpace::same || rec.pid <= 1) return false;
    // The holder must be a strict ancestor (our parent chain), with the recorded start time so
    // that a reused pid does not count.
    return is_self_or_ancestor(rec.pid, rec.pid_start_ns, ::getppid(), 64);
}

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += ' ';
        out += w;
    }
    return out;
}

} // namespace

int cmd_guard(const Command& cmd, const Args& args) {
    std::vector<std::string> names = args.positional;
    if (names.empty()) return usage_error(cmd, "missing lock NAME");
    for (const auto& n : names)
        if (auto ok = validate_name(n); !ok) return usage_error(cmd, ok.error().message);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (!args.saw_dashdash || args.rest.empty())
        return usage_error(cmd, "missing command: lokt guard NAME -- CMD [ARG...]");

    auto timing = parse_timing(args);
    if (!timing) return usage_error(cmd, timing.error().message);
    auto mode = parse_mode(args);
    if (!mode) return usage_error(cmd, mode.error().message);
    // One LOKT_SLOT per command: a pool is guarded one NAME at a time.
    if (mode->mode == LockMode::slots && names.size() > 1) return usage_error(cmd, "--slots takes one NAME");
    auto conflict_code = conflict_exit_code(args);
    if (!conflict_code) return usage_error(cmd, conflict_code.error().message);
    GuardOptions opt;
    opt.argv = args.rest;
    opt.ttl = timing->ttl;
    auto kill_after = duration_flag(args, "kill-after", kKillAfterBounds);
    if (!kill_after) return usage_error(cmd, kill_after.error().message);
    if (*kill_after) opt.kill_after = **kill_after;
    if (auto v = args.value("on-exit")) {
        if (*v == "term") opt.on_exit = OnExit::term;
        else if (*v == "wait") opt.on_exit = OnExit::wait;
        else return usage_error(cmd, "--on-exit must be \"term\" or \"wait\", not \"" + *v + "\"");
    }
    std::optional<OnLost> on_lost;  // unset: the backend's default (see below)
    if (auto v = args.value("on-lost")) {
        if (*v == "term") on_lost = OnLost::term;
        else if (*v == "warn") on_lost = OnLost::warn;
        else return usage_error(cmd, "--on-lost must be \"warn\" or \"term\", not \"" + *v + "\"");
    }
    bool run_on_timeout = false;
    if (auto v = args.value("on-timeout")) {
        if (*v == "run") run_on_timeout = true;
        else if (*v != "fail") return usage_error(cmd, "--on-timeout must be \"fail\" or \"run\", not \"" + *v + "\"");
    }
    bool fail_on_frozen = true;  // as the original and the shim's rules: a freeze is an answer
    if (auto v = args.value("on-frozen")) {
        if (*v == "wait") fail_on_frozen = false;
        else if (*v != "fail") return usage_error(cmd, "--on-frozen must be \"wait\" or \"fail\", not \"" + *v + "\"");
    }
    LockKind kind = LockKind::guard;
    if (auto v = args.value("kind")) {
        if (*v == "shim") kind = LockKind::shim;
        else if (*v != "guard") return usage_error(cmd, "--kind must be \"guard\" or \"shim\", not \"" + *v + "\"");
    }

    // Resolve the command before taking anything, so "not found" never holds a lock.
    auto exec_path = args.value("exec");
    if (exec_path && exec_path->empty()) return usage_error(cmd, "--exec needs a path");
    auto path = proc::resolve_command(exec_path ? *exec_path : opt.argv[0], std::getenv("PATH"));
    if (!path) return fail(static_cast<ExitCode>(proc::exec_failure_code(path.error().sys_errno)),
                           path.error().message);
    opt.path = *path;

    auto store = open_backend(true);
    if (!store) return fail(store.error());
    Backend& locks = **store;
    // Where a lost lock may already be another machine's (etcd), the command ends by default.
    opt.on_lost = on_lost.value_or(locks.loss_ends_command() ? OnLost::term : OnLost::warn);

    // Re-entrancy: a lock a guard above us holds (LOKT_HELD, and the file still carries that
    // lock id; or the holder is our ancestor) is not taken again — and so never released by us.
    const char* held_env = std::getenv(proc::kHeldEnv);
    auto inherited = proc::parse_held(held_env ? held_env : "");
    std::vector<std::string> wanted;
    for (const auto& n : names) {
        auto it = inherited.find(n);
        if (it != inherited.end()) {
            // Ours above us in the same mode (a shared guard inside an exclusive one still asks).
            auto h = locks.holder(n, it->second);
            if (h && *h && sharing_of(**h).mode == mode->mode) continue;
        }
        auto r = locks.read(n);
        if (r && r->record && !is_group(*r->record) && mode->mode == LockMode::exclusive &&
            held_by_ancestor(*r->record, locks.local_view()))
            continue;
        wanted.push_back(n);
    }
    if (wanted.empty()) return exec_directly(opt.path, opt.argv);

    sup::KeeperConfig cfg;
    cfg.names = wanted;
    cfg.kind = kind;
    cfg.mode = mode->mode;
    cfg.slots = mode->slots;
    cfg.ttl = timing->ttl;
    cfg.wait = timing->wait;
    cfg.timeout = timing->timeout;
    cfg.command = join(opt.argv);
    cfg.fail_on_frozen = fail_on_frozen;
    cfg.run_on_timeout = run_on_timeout;
    cfg.end_on_lost = opt.on_lost == OnLost::term;
    cfg.quiet = args.has("quiet");
    cfg.conflict_code = *conflict_code;
    const Nanos timeout = timing->timeout;
    const Identity self = locks.self();
    // Under the shim the caller typed e.g. "git push", not lokt: the line says who speaks.
    const std::string tool = kind == LockKind::shim ? basename_of(opt.argv[0]) : "";
    if (kind == LockKind::shim) cfg.refusal_prefix = "lokt: ";
    cfg.refusal = [timeout, self, tool](const AcquireOutcome& o, bool timed_out) {
        std::string text = refusal_message(o, timed_out ? short_duration(timeout) : "", self);
        return tool.empty() ? text : shim_refusal_message(tool, o, text);
    };
    cfg.unlocked = [timeout](const Held& h, bool timed_out) {
        const LockRecord& r = h.holder;
        std::string who = holder_text(r) + " (pid " + std::to_string(r.pid) + ")";
        if (timed_out) return "lock \"" + r.name + "\" still held by " + who + " after " + short_duration(timeout);
        return held_message(r.name, h, now());
    };
    sup::BackendKeeper keeper(locks, locks.self(), std::move(cfg));
    std::fflush(nullptr);  // nothing buffered may be written twice by the forked supervisor
    return run_guard(opt, keeper);
}

} // namespace lokt::cli
