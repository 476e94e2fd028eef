// lokt shim --seccomp [--rules FILE] -- CMD [ARG...]   (cmd_shim hands --seccomp over here)
// Runs CMD under the seccomp exec filter with this process as its supervisor
// (include/lokt/seccomp_shim.hpp). A missing rules file is reported once and CMD runs
// without the filter; one that does not parse is refused (exit 1) unless LOKT_SHIM=off.

#include "backend_open.hpp"
#include "cli.hpp"
#include "output.hpp"
#include "self_path.hpp"

#include "lokt/identity.hpp"
#include "lokt/log.hpp"
#include "lokt/root.hpp"
#include "lokt/rules.hpp"
#include "lokt/seccomp_shim.hpp"
#include "lokt/sys.hpp"
#include "lokt/wait_report.hpp"

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace lokt::cli {

int cmd_seccomp_shim(const Command& cmd, const Args& args) {
    if (!args.positional.empty())
        return usage_error(cmd, "unexpected argument \"" + args.positional[0] + "\" (put the command after \"--\")");
    if (!args.saw_dashdash || args.rest.empty())
        return usage_error(cmd, "missing command: lokt shim --seccomp -- CMD [ARG...]");

    auto root = discover_root();
    if (!root) return fail(root.error());
    SeccompShimOptions opt;
    opt.root = *root;
    opt.who = current_identity();
    opt.lokt_bin = self_exe();
    // The preload screens execs for the filter where it can load; without it (not installed,
    // or --no-preload) every exec in the tree stops in the filter, which is slower, not wrong.
    if (!args.has("no-preload")) {
        const std::string lib = preload_lib_path();
        if (sys::exists(lib)) opt.preload_lib = lib;
        else LOKT_LOG(info, "no preload library at ", lib, ": every exec stops in the seccomp filter");
    }
    if (auto v = args.value("rules")) {
        opt.rules_path = absolute_path(*v);
        if (!sys::exists(opt.rules_path)) return fail(ExitCode::error, "no rules file at " + opt.rules_path);
    } else {
        opt.rules_path = rules::rules_path(*root, std::getenv("LOKT_RULES"), absolute_path("."));
    }
    auto loaded = load_shim_rules(opt.rules_path);
    if (!loaded) return fail(loaded.error());
    std::unique_ptr<rules::RuleSet> set = std::move(*loaded);
    opt.rules = set.get();
    const Identity self = opt.who;
    // The guard's wording under the preload shim, so both shim modes read the same.
    opt.refusal = [self](const std::string& tool, const AcquireOutcome& o, const std::string& waited) {
        std::string text = refusal_message(o, waited, self);
        return tool.empty() ? text : shim_refusal_message(tool, o, text);
    };
    opt.warn = warn;
    opt.report_every = report_interval(WaitDisplay::lines);
    // Tests of kernels without WAIT_KILLABLE_RECV (before 5.19) force the fallback path.
    if (const char* v = std::getenv("LOKT_SECCOMP_NO_WAITKILL"); v && std::string(v) == "1")
        opt.wait_killable = false;
    // Opened before any fork, and without threads (etcd starts its keepalives on first use).
    auto backend = open_backend(false);
    if (!backend) return fail(backend.error());
    // A `lokt` run inside the tree uses the broker's namespace, from any directory.
    auto pinned = pinned_backend(*root, backend->get());
    if (!pinned) return fail(pinned.error());
    opt.backend_url = *pinned;
    std::fflush(nullptr);
    return run_seccomp_shim(opt, **backend, args.rest);
}

} // namespace lokt::cli
