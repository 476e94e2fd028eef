// lokt rules check [--rules FILE]            run the test lines, list the rules
// lokt rules match [--rules FILE] -- CMD...  say which rule(s) an argv hits and why

#include "cli.hpp"

#include "lokt/root.hpp"
#include "lokt/rules.hpp"
#include "lokt/sys.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace lokt::cli {
namespace {

std::string current_dir() {
    char buf[4096];
    return ::getcwd(buf, sizeof buf) ? std::string(buf) : std::string(".");
}

// The rules file this command reads: --rules, else $LOKT_RULES, else ROOT/rules.
Result<std::string> chosen_rules_path(const Args& args) {
    const std::string cwd = current_dir();
    if (auto v = args.value("rules")) return rules::rules_path(Root{}, v->c_str(), cwd);
    auto root = discover_root();
    if (!root) return root.error();
    return rules::rules_path(*root, std::getenv("LOKT_RULES"), cwd);
}

std::string joined(const std::vector<std::string>& words) {
    std::string s;
    for (const auto& w : words) {
        if (!s.empty()) s += ' ';
        s += w.empty() ? "''" : w;
    }
    return s;
}

int run_check(const std::string& path) {
    if (!sys::exists(path)) return fail(ExitCode::error, "no rules file at " + path);
    auto rs = rules::load(path);
    if (!rs) return fail(ExitCode::error, rs.error().message);
    const rules::RuleSet& set = **rs;
    std::printf("rules: %s\n", path.c_str());
    for (uint32_t i = 0; i < set.rule_count; ++i)
        std::printf("  line %-4u %s\n", set.rules[i].line, rules::describe(set, set.rules[i]).c_str());
    auto outcomes = rules::run_tests(set);
    size_t failed = 0;
    for (const auto& o : outcomes) {
        std::printf("test line %u: %s %s: %s: %s\n", o.line, o.name.c_str(),
                    o.expect_match ? "match" : "not-match", o.command.c_str(),
                    o.passed ? "ok" : ("FAILED (" + o.problem + ")").c_str());
        if (!o.passed) ++failed;
    }
    std::printf("%u rule%s, %zu test%s", set.rule_count, set.rule_count == 1 ? "" : "s", outcomes.size(),
                outcomes.size() == 1 ? "" : "s");
    if (failed) std::printf(", %zu failed\n", failed);
    else std::printf(outcomes.empty() ? "\n" : ", all passed\n");
    return failed ? to_int(ExitCode::error) : 0;
}

int run_match(const std::string& path, const std::vector<std::string>& argv) {
    if (!sys::exists(path)) return fail(ExitCode::error, "no rules file at " + path);
    auto rs = rules::load(path);
    if (!rs) return fail(ExitCode::error, rs.error().message);
    const rules::RuleSet& set = **rs;

    auto resolved = rules::resolve_program(argv[0], std::getenv("PATH"));
    const std::string program = resolved ? *resolved : argv[0];
    std::printf("command: %s\n", joined(argv).c_str());
    if (resolved) std::printf("program: %s\n", program.c_str());
    else std::printf("program: %s (not found on PATH; matching the name only)\n", program.c_str());

    std::vector<const char*> args;
    for (size_t i = 1; i < argv.size(); ++i) args.push_back(argv[i].c_str());
    rules::Decision d{};
    const bool hit = rules::decide(set, program.c_str(), args.data(), args.size(), &d);
    for (uint32_t i = 0; i < set.rule_count; ++i) {
        const rules::Rule& r = set.rules[i];
        if (rules::rule_matches(set, r, program.c_str(), args.data(), args.size())) {
            std::printf("match: %s (line %u: %s)\n", set.str(r.name_offset), r.line,
                        rules::describe(set, r).c_str());
            for (const auto& line : rules::explain_match(set, r, program, argv))
                std::printf("    %s\n", line.c_str());
        } else if (rules::program_matches(set, r, program.c_str())) {
            std::printf("no match: %s (line %u): %s\n", set.str(r.name_offset), r.line,
                        rules::explain_miss(set, r, program, argv).c_str());
        }
    }
    if (!hit) {
        std::printf("no rule matches\n");
        return to_int(ExitCode::error);
    }
    auto words = rules::guard_argv(set, d, program, argv);
    std::printf("under lokt shim this runs: %s\n", joined(words).c_str());
    return 0;
}

} // namespace

bool shim_switched_off() {
    const char* m = std::getenv("LOKT_SHIM");
    return m && (std::string(m) == "off" || std::string(m) == "0");
}

Result<std::unique_ptr<rules::RuleSet>> load_shim_rules(const std::string& path) {
    if (!sys::exists(path)) {
        warn("no rules file at " + path + "; nothing will be locked");
        return std::unique_ptr<rules::RuleSet>();
    }
    auto loaded = rules::load(path);
    if (loaded) return std::move(*loaded);
    // Refused up front: failing open at run time would silently drop every rule of the file.
    if (!shim_switched_off()) return loaded.error();
    warn(loaded.error().message + "; running without transparent locking (LOKT_SHIM=off)");
    return std::unique_ptr<rules::RuleSet>();
}

int cmd_rules(const Command& cmd, const Args& args) {
    if (args.positional.empty()) return usage_error(cmd, "missing subcommand: check or match");
    const std::string sub = args.positional[0];
    if (args.positional.size() > 1)
        return usage_error(cmd, "unexpected argument \"" + args.positional[1] + "\"");
    auto path = chosen_rules_path(args);
    if (!path) return fail(path.error());
    if (sub == "check") {
        if (args.saw_dashdash) return usage_error(cmd, "\"rules check\" takes no command after \"--\"");
        return run_check(*path);
    }
    if (sub == "match") {
        if (args.rest.empty()) return usage_error(cmd, "missing command: lokt rules match -- CMD [ARG...]");
        return run_match(*path, args.rest);
    }
    return usage_error(cmd, "unknown subcommand \"" + sub + "\" (expected check or match)");
}

} // namespace lokt::cli
