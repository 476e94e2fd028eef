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
#include "lokt/backend_keeper.hpp"
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

// One of two words for a flag ("--on-exit must be "term" or "wait", not "x""); `first` when
// the flag is absent.
Result<bool> is_second_choice(const Args& args, const std::string& flag, const char* first, const char* second) {
    auto v = args.value(flag);
    if (!v || *v == first) return false;
    if (*v == second) return true;
    return Error{"--" + flag + " must be \"" + first + "\" or \"" + second + "\", not \"" + *v + "\""};
}

/// Everything `lokt guard` was asked for, checked.
struct GuardRequest {
    std::vector<std::string> names;  ///< sorted, unique
    TimingFlags timing;
    ModeFlags mode;
    int conflict_code = 2;
    std::optional<Nanos> kill_after;
    OnExit on_exit = OnExit::term;
    std::optional<OnLost> on_lost;  ///< unset: the backend's default
    bool run_on_timeout = false;
    bool fail_on_frozen = true;  ///< as the original and the shim's rules: a freeze is an answer
    LockKind kind = LockKind::guard;
    std::optional<std::string> exec_path;
};

// The flags and names of a guard; an Error is a usage error.
Result<GuardRequest> parse_guard(const Args& args) {
    GuardRequest g;
    g.names = args.positional;
    if (g.names.empty()) return Error{"missing lock NAME"};
    for (const auto& n : g.names)
        if (auto ok = validate_name(n); !ok) return ok.error();
    std::sort(g.names.begin(), g.names.end());
    g.names.erase(std::unique(g.names.begin(), g.names.end()), g.names.end());
    if (!args.saw_dashdash || args.rest.empty()) return Error{"missing command: lokt guard NAME -- CMD [ARG...]"};
    auto timing = parse_timing(args);
    if (!timing) return timing.error();
    g.timing = *timing;
    auto mode = parse_mode(args);
    if (!mode) return mode.error();
    g.mode = *mode;
    // One LOKT_SLOT per command: a pool is guarded one NAME at a time.
    if (g.mode.mode == LockMode::slots && g.names.size() > 1) return Error{"--slots takes one NAME"};
    auto conflict_code = conflict_exit_code(args);
    if (!conflict_code) return conflict_code.error();
    g.conflict_code = *conflict_code;
    auto kill_after = duration_flag(args, "kill-after", kKillAfterBounds);
    if (!kill_after) return kill_after.error();
    g.kill_after = *kill_after;
    auto wait_on_exit = is_second_choice(args, "on-exit", "term", "wait");
    if (!wait_on_exit) return wait_on_exit.error();
    g.on_exit = *wait_on_exit ? OnExit::wait : OnExit::term;
    if (args.value("on-lost")) {
        auto term = is_second_choice(args, "on-lost", "warn", "term");
        if (!term) return term.error();
        g.on_lost = *term ? OnLost::term : OnLost::warn;
    }
    auto run = is_second_choice(args, "on-timeout", "fail", "run");
    if (!run) return run.error();
    g.run_on_timeout = *run;
    auto fail_frozen = is_second_choice(args, "on-frozen", "wait", "fail");
    if (!fail_frozen) return fail_frozen.error();
    g.fail_on_frozen = !args.value("on-frozen") || *fail_frozen;
    auto shim = is_second_choice(args, "kind", "guard", "shim");
    if (!shim) return shim.error();
    g.kind = *shim ? LockKind::shim : LockKind::guard;
    g.exec_path = args.value("exec");
    if (g.exec_path && g.exec_path->empty()) return Error{"--exec needs a path"};
    return g;
}

// Re-entrancy: the names a guard above us does not already hold (LOKT_HELD, and the lock
// still carries that lock id; or the holder is our ancestor) — those are neither taken again
// nor released by us.
std::vector<std::string> names_to_take(Backend& locks, const GuardRequest& g) {
    const char* held_env = std::getenv(proc::kHeldEnv);
    auto inherited = proc::parse_held(held_env ? held_env : "");
    std::vector<std::string> wanted;
    for (const auto& n : g.names) {
        auto it = inherited.find(n);
        if (it != inherited.end()) {
            // Ours above us in the same mode (a shared guard inside an exclusive one still asks).
            auto h = locks.holder(n, it->second);
            if (h && *h && sharing_of(**h).mode == g.mode.mode) continue;
        }
        auto r = locks.read(n);
        if (r && r->record && !is_group(*r->record) && g.mode.mode == LockMode::exclusive &&
            held_by_ancestor(*r->record, locks.local_view()))
            continue;
        wanted.push_back(n);
    }
    return wanted;
}

// What the keeper takes and how it words a refusal.
sup::KeeperConfig keeper_config(const GuardRequest& g, const GuardOptions& opt, std::vector<std::string> names,
                                const Identity& self, bool quiet) {
    sup::KeeperConfig cfg;
    cfg.names = std::move(names);
    cfg.kind = g.kind;
    cfg.mode = g.mode.mode;
    cfg.slots = g.mode.slots;
    cfg.ttl = g.timing.ttl;
    cfg.wait = g.timing.wait;
    cfg.timeout = g.timing.timeout;
    cfg.command = join(opt.argv);
    cfg.fail_on_frozen = g.fail_on_frozen;
    cfg.run_on_timeout = g.run_on_timeout;
    cfg.end_on_lost = opt.on_lost == OnLost::term;
    cfg.quiet = quiet;
    cfg.conflict_code = g.conflict_code;
    const Nanos timeout = g.timing.timeout;
    // Under the shim the caller typed e.g. "git push", not lokt: the line says who speaks.
    const std::string tool = g.kind == LockKind::shim ? basename_of(opt.argv[0]) : "";
    if (g.kind == LockKind::shim) cfg.refusal_prefix = "lokt: ";
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
    return cfg;
}

} // namespace

int cmd_guard(const Command& cmd, const Args& args) {
    auto g = parse_guard(args);
    if (!g) return usage_error(cmd, g.error().message);
    GuardOptions opt;
    opt.argv = args.rest;
    opt.ttl = g->timing.ttl;
    if (g->kill_after) opt.kill_after = *g->kill_after;
    opt.on_exit = g->on_exit;

    // Resolve the command before taking anything, so "not found" never holds a lock.
    auto path = proc::resolve_command(g->exec_path ? *g->exec_path : opt.argv[0], std::getenv("PATH"));
    if (!path) return fail(static_cast<ExitCode>(proc::exec_failure_code(path.error().sys_errno)),
                           path.error().message);
    opt.path = *path;

    auto store = open_backend(true);
    if (!store) return fail(store.error());
    Backend& locks = **store;
    // Where a lost lock may already be another machine's (etcd), the command ends by default.
    opt.on_lost = g->on_lost.value_or(locks.loss_ends_command() ? OnLost::term : OnLost::warn);

    // The supervisor keeps its locks alive on a lease: the etcd backend asks for it beside
    // the re-entrancy read below, one round trip fewer before the command starts.
    locks.expect_kept(g->timing.ttl);
    std::vector<std::string> wanted = names_to_take(locks, *g);
    if (wanted.empty()) return exec_directly(opt.path, opt.argv);
    sup::BackendKeeper keeper(locks, locks.self(),
                              keeper_config(*g, opt, std::move(wanted), locks.self(), args.has("quiet")));
    std::fflush(nullptr);  // nothing buffered may be written twice by the forked supervisor
    return run_guard(opt, keeper);
}

} // namespace lokt::cli
