// lokt shim [--rules FILE] -- CMD [ARG...]
// Runs CMD with liblokt_preload.so preloaded, so that every matching exec anywhere below it
// runs under `lokt guard`. The top command itself is matched here, the same way.

#include "backend_open.hpp"
#include "cli.hpp"
#include "self_path.hpp"

#include "lokt/preload_env.hpp"
#include "lokt/root.hpp"
#include "lokt/rules.hpp"
#include "lokt/proc/exit_status.hpp"
#include "lokt/sys.hpp"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lokt::cli {
namespace {

void set_env(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

} // namespace

int cmd_shim(const Command& cmd, const Args& args) {
    if (args.has("seccomp")) return cmd_seccomp_shim(cmd, args);  // cli/cmd_seccomp.cpp
    if (args.has("no-preload")) return usage_error(cmd, "--no-preload goes with --seccomp");
    // The preloaded library runs `lokt guard --kind shim`, which runs on every backend.
    if (!args.positional.empty())
        return usage_error(cmd, "unexpected argument \"" + args.positional[0] + "\" (put the command after \"--\")");
    if (!args.saw_dashdash || args.rest.empty())
        return usage_error(cmd, "missing command: lokt shim -- CMD [ARG...]");

    const std::string self = self_exe();
    if (self.empty()) return fail(Error::from_errno("readlink /proc/self/exe", errno));
    const std::string lib = preload_lib_path();
    if (!sys::exists(lib))
        return fail(ExitCode::error, "cannot find the preload library " + lib + " (set LOKT_PRELOAD_LIB)");

    auto root = discover_root();
    if (!root) return fail(root.error());
    std::string rules_file;
    if (auto v = args.value("rules")) {
        rules_file = absolute_path(*v);
        if (!sys::exists(rules_file)) return fail(ExitCode::error, "no rules file at " + rules_file);
    } else {
        rules_file = rules::rules_path(*root, std::getenv("LOKT_RULES"), absolute_path("."));
    }

    // A rules file that does not parse stops us (exit 1) unless LOKT_SHIM=off says to run
    // without it; then CMD runs as it is, with the library left out.
    auto loaded = load_shim_rules(rules_file);
    if (!loaded) return fail(loaded.error());
    std::unique_ptr<rules::RuleSet> set = std::move(*loaded);
    const bool plain = !set && shim_switched_off();

    if (!plain) {
        // The tree's execs run lokt from whatever directory they are in: pin the backend's
        // namespace for them, as LOKT_ROOT below pins the root.
        auto pinned = pinned_backend(*root);
        if (!pinned) return fail(pinned.error());
        set_env("LOKT_BACKEND", *pinned);
        set_env("LD_PRELOAD", preload_list_with(std::getenv("LD_PRELOAD"), lib));
        set_env("LOKT_SHIM", "1");
        set_env("LOKT_BIN", self);
        set_env("LOKT_RULES", rules_file);
        set_env("LOKT_ROOT", root->path);
        set_env("ASAN_OPTIONS", asan_options_for_preload(std::getenv("ASAN_OPTIONS")));
    }

    const std::vector<std::string>& argv = args.rest;
    std::vector<std::string> words = argv;
    std::string target = argv[0];
    bool via_path = true;
    if (set) {
        auto resolved = rules::resolve_program(argv[0], std::getenv("PATH"));
        std::vector<const char*> a;
        for (size_t i = 1; i < argv.size(); ++i) a.push_back(argv[i].c_str());
        rules::Decision d{};
        if (resolved && rules::decide(*set, resolved->c_str(), a.data(), a.size(), &d)) {
            words = rules::guard_argv(*set, d, absolute_path(*resolved), argv);
            target = self;
            via_path = false;
        }
    }
    std::vector<char*> av;
    for (auto& w : words) av.push_back(w.data());
    av.push_back(nullptr);
    std::fflush(nullptr);
    if (via_path) ::execvp(target.c_str(), av.data());
    else ::execv(target.c_str(), av.data());
    const int err = errno;
    return fail(static_cast<ExitCode>(proc::exec_failure_code(err)),
                Error::from_errno("cannot run \"" + argv[0] + "\"", err).message);
}

} // namespace lokt::cli
