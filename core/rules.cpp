#include "lokt/rules.hpp"

#include "lokt/path_search.hpp"
#include "lokt/sys.hpp"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace lokt::rules {
namespace {

std::string join_words(const std::vector<std::string>& words, size_t from = 0) {
    std::string out;
    for (size_t i = from; i < words.size(); ++i) {
        if (i > from) out += ' ';
        out += words[i].empty() ? "''" : words[i];
    }
    return out;
}

std::string quote(const std::string& s) { return "\"" + s + "\""; }

std::vector<const char*> c_args(const std::vector<std::string>& argv) {
    std::vector<const char*> out;
    for (size_t i = 1; i < argv.size(); ++i) out.push_back(argv[i].c_str());
    return out;
}

std::string token_text(const RuleSet& rs, uint32_t index) {
    const Token& t = rs.tokens[index];
    return std::string(rs.str(t.offset), t.length);
}

} // namespace

std::string rules_path(const Root& root, const char* env_rules, const std::string& cwd) {
    if (env_rules && *env_rules) {
        std::string p = env_rules;
        if (p[0] == '/') return p;
        return cwd.empty() || cwd.back() == '/' ? cwd + p : cwd + "/" + p;
    }
    return root.path + "/rules";
}

Result<std::unique_ptr<RuleSet>> parse_text(std::string_view text) {
    auto rs = std::make_unique<RuleSet>();
    ParseError err{};
    if (!parse(text.data(), text.size(), rs.get(), &err)) {
        if (err.line == 0) return Error{err.message};
        return Error{"line " + std::to_string(err.line) + ": " + err.message};
    }
    return rs;
}

Result<std::unique_ptr<RuleSet>> load(const std::string& path) {
    auto text = sys::read_file(path, kMaxFileBytes + 1);
    if (!text) return text.error();
    auto rs = std::make_unique<RuleSet>();
    ParseError err{};
    if (!parse(text->data(), text->size(), rs.get(), &err)) {
        if (err.line == 0) return Error{path + ": " + err.message};
        return Error{path + ":" + std::to_string(err.line) + ": " + err.message};
    }
    return rs;
}

std::vector<TestOutcome> run_tests(const RuleSet& rs) {
    std::vector<TestOutcome> out;
    for (uint32_t i = 0; i < rs.test_count; ++i) {
        const Test& t = rs.tests[i];
        TestOutcome o;
        o.line = t.line;
        o.name = rs.str(t.name_offset);
        o.expect_match = t.expect_match;
        std::vector<std::string> words;
        for (uint32_t k = 0; k < t.token_count; ++k) words.push_back(token_text(rs, t.first_token + k));
        o.command = join_words(words);

        bool known = false;
        for (uint32_t r = 0; r < rs.rule_count; ++r)
            if (o.name == rs.str(rs.rules[r].name_offset)) known = true;
        auto args = c_args(words);
        Decision d{};
        if (decide(rs, words[0].c_str(), args.data(), args.size(), &d))
            for (uint32_t k = 0; k < d.name_count; ++k) o.matched.push_back(rs.str(d.name_offsets[k]));
        bool hit = false;
        for (const auto& m : o.matched) hit = hit || m == o.name;
        if (!known) o.problem = "no rule named " + quote(o.name);
        else if (hit != o.expect_match)
            o.problem = o.expect_match ? "expected to match " + quote(o.name) + ", but it does not"
                                       : "expected not to match " + quote(o.name) + ", but it does";
        o.passed = o.problem.empty();
        out.push_back(std::move(o));
    }
    return out;
}

std::string describe(const RuleSet& rs, const Rule& rule) {
    std::string s = rs.str(rule.name_offset);
    if (rule.wait_offset != 0 && rule.wait_ns != 600LL * 1000000000LL)
        s += std::string(" wait=") + rs.str(rule.wait_offset);
    if (rule.on_frozen == OnFrozen::wait) s += " on-frozen=wait";
    if (rule.on_timeout == OnTimeout::run) s += " on-timeout=run";
    if (rule.mode == RuleMode::shared) s += " shared";
    if (rule.mode == RuleMode::slots) s += std::string(" slots=") + rs.str(rule.slots_offset);
    s += " :";
    for (uint32_t k = 0; k < rule.token_count; ++k) s += " " + token_text(rs, rule.first_token + k);
    return s;
}

std::vector<std::string> explain_match(const RuleSet& rs, const Rule& rule, const std::string& path,
                                       const std::vector<std::string>& argv) {
    std::vector<std::string> lines;
    auto args = c_args(argv);
    std::vector<int32_t> where(rule.token_count, -1);
    if (!rule_matches(rs, rule, path.c_str(), args.data(), args.size(), where.data())) return lines;
    const std::string t0 = token_text(rs, rule.first_token);
    lines.push_back(quote(t0) + " matched the program " +
                    (t0.find('/') != std::string::npos ? "path " : "name ") + quote(path));
    for (uint32_t k = 1; k < rule.token_count; ++k) {
        const Token& t = rs.tokens[rule.first_token + k];
        const std::string text = token_text(rs, rule.first_token + k);
        size_t begin = static_cast<size_t>(where[k]);
        if (t.kind == TokenKind::glob) {
            lines.push_back(quote(text) + " matched argument " + std::to_string(begin + 1) + " " +
                            quote(argv[begin + 1]));
            continue;
        }
        size_t end = k + 1 < rule.token_count ? static_cast<size_t>(where[k + 1]) : args.size();
        if (end == begin) lines.push_back(quote(text) + " matched no arguments");
        else
            lines.push_back(quote(text) + " matched arguments " + std::to_string(begin + 1) + ".." +
                            std::to_string(end) + " " + quote(join_words({argv.begin() + 1 + static_cast<long>(begin),
                                                                           argv.begin() + 1 + static_cast<long>(end)})));
    }
    return lines;
}

std::string explain_miss(const RuleSet& rs, const Rule& rule, const std::string& path,
                         const std::vector<std::string>& argv) {
    if (!program_matches(rs, rule, path.c_str()))
        return "the program " + quote(path) + " does not match " + quote(token_text(rs, rule.first_token));
    size_t fixed = 0;
    bool open_ended = false;
    for (uint32_t k = 1; k < rule.token_count; ++k) {
        if (rs.tokens[rule.first_token + k].kind == TokenKind::any_rest) open_ended = true;
        else ++fixed;
    }
    const size_t nargs = argv.size() - 1;
    if (!open_ended && nargs != fixed)
        return "the pattern wants exactly " + std::to_string(fixed) + " argument(s), the command has " +
               std::to_string(nargs);
    if (nargs < fixed)
        return "the pattern wants at least " + std::to_string(fixed) + " argument(s), the command has " +
               std::to_string(nargs);
    // Name the first fixed-position token that fails (exact before any "**").
    for (uint32_t k = 1; k < rule.token_count; ++k) {
        const Token& t = rs.tokens[rule.first_token + k];
        if (t.kind == TokenKind::any_rest) break;
        const std::string& a = argv[k];
        if (!token_matches(rs.str(t.offset), t.length, a.c_str(), a.size()))
            return "argument " + std::to_string(k) + " " + quote(a) + " does not match " +
                   quote(token_text(rs, rule.first_token + k));
    }
    return "the arguments do not fit the pattern";
}

std::optional<std::string> resolve_program(const std::string& cmd, const char* path_env) {
    if (cmd.empty()) return std::nullopt;
    if (cmd.find('/') != std::string::npos) return cmd;
    char buf[PATH_MAX];
    struct stat st;
    if (search_path(cmd.c_str(), path_env, buf, sizeof buf, &st) != 0) return std::nullopt;
    return std::string(buf);
}

std::vector<std::string> guard_argv(const RuleSet& rs, const Decision& decision,
                                    const std::string& resolved, const std::vector<std::string>& argv) {
    std::vector<std::string> out{"lokt", "guard"};
    if (decision.wait_ns > 0) {
        out.insert(out.end(), {"--wait", "--timeout", rs.str(decision.wait_offset)});
        // Always said: a rule's on-frozen=wait must not fall back to guard's default (fail).
        out.insert(out.end(), {"--on-frozen", decision.on_frozen == OnFrozen::fail ? "fail" : "wait"});
    }
    if (decision.on_timeout == OnTimeout::run) out.insert(out.end(), {"--on-timeout", "run"});
    if (decision.mode == RuleMode::shared) out.push_back("--shared");
    if (decision.mode == RuleMode::slots) out.insert(out.end(), {"--slots", rs.str(decision.slots_offset)});
    out.insert(out.end(), {"--kind", "shim"});
    for (uint32_t k = 0; k < decision.name_count; ++k) out.push_back(rs.str(decision.name_offsets[k]));
    out.insert(out.end(), {"--exec", resolved, "--"});
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

} // namespace lokt::rules
