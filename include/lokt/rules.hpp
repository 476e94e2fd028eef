#pragma once
// The rules file for the CLI (`lokt rules`, `lokt shim`): finding, loading and checking it,
// and explaining matches. The parser and matcher themselves are the freestanding ones in
// rules_match.hpp, shared with liblokt_preload.so, so the CLI and the shim never disagree.

#include "lokt/result.hpp"
#include "lokt/root.hpp"
#include "lokt/rules_match.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lokt::rules {

/// The rules file to use: `env_rules` ($LOKT_RULES) made absolute against `cwd` when set
/// and non-empty, else ROOT/rules.
std::string rules_path(const Root& root, const char* env_rules, const std::string& cwd);

/// Parses rules text; an Error reads "line N: message".
Result<std::unique_ptr<RuleSet>> parse_text(std::string_view text);

/// Reads and parses the file at `path`; an Error reads "PATH:N: message" (or names the
/// read failure, with its errno).
Result<std::unique_ptr<RuleSet>> load(const std::string& path);

/// The outcome of one `test` line.
struct TestOutcome {
    uint32_t line = 0;
    std::string name;            ///< the lock name the test is about
    bool expect_match = true;
    std::string command;         ///< the test's words joined by spaces
    std::vector<std::string> matched;  ///< every lock name the command matched
    bool passed = false;
    std::string problem;         ///< why it failed, e.g. "no rule named \"x\""
};

/// Runs every `test` line of `rs` (token 0 is the program path or name).
std::vector<TestOutcome> run_tests(const RuleSet& rs);

/// One rule as text: "build wait=30m on-frozen=wait : make *" (options only when not default).
std::string describe(const RuleSet& rs, const Rule& rule);

/// Lines saying which pattern token matched which word of the command, for a matching rule.
std::vector<std::string> explain_match(const RuleSet& rs, const Rule& rule, const std::string& path,
                                       const std::vector<std::string>& argv);

/// One line saying why a rule did not match (program, argument count, or first token).
std::string explain_miss(const RuleSet& rs, const Rule& rule, const std::string& path,
                         const std::vector<std::string>& argv);

/// The file an exec of `cmd` would run: `cmd` itself when it has a '/', else the first
/// regular executable file on `path_env` (confstr(_CS_PATH) when null); nullopt if none.
std::optional<std::string> resolve_program(const std::string& cmd, const char* path_env);

/// The `lokt guard` argv (after the executable path) the shim uses for `decision`:
/// guard [--wait --timeout W [--on-frozen fail]] [--on-timeout run] [--shared | --slots N]
/// --kind shim NAMES...
/// --exec RESOLVED -- ARGV... (shim/preload.cpp builds the same words without allocating)
std::vector<std::string> guard_argv(const RuleSet& rs, const Decision& decision,
                                    const std::string& resolved, const std::vector<std::string>& argv);

} // namespace lokt::rules
