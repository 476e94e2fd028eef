// The rules file: parser (options, errors with line numbers, test lines) and the matcher
// (basename vs path, globs, alternatives, trailing *, **, exact length, odd bytes).

#include "lokt/rules.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

using namespace lokt;
using namespace lokt::rules;

namespace {

std::unique_ptr<RuleSet> must_parse(const std::string& text) {
    auto r = parse_text(text);
    INFO(text);
    REQUIRE(r);
    return std::move(*r);
}

std::string parse_error(const std::string& text) {
    auto r = parse_text(text);
    REQUIRE_FALSE(r);
    return r.error().message;
}

// Lock names the command hits; `program` is the resolved path (or a bare name).
std::vector<std::string> hits(const RuleSet& rs, const std::string& program, std::vector<std::string> args) {
    std::vector<const char*> a;
    for (auto& s : args) a.push_back(s.c_str());
    Decision d{};
    std::vector<std::string> out;
    if (decide(rs, program.c_str(), a.data(), a.size(), &d))
        for (uint32_t i = 0; i < d.name_count; ++i) out.push_back(rs.str(d.name_offsets[i]));
    return out;
}

bool hit(const std::string& rules_text, const std::string& program, std::vector<std::string> args) {
    auto rs = must_parse(rules_text);
    return !hits(*rs, program, std::move(args)).empty();
}

using V = std::vector<std::string>;

} // namespace

TEST_CASE("rules: a rule line gives name, tokens and default options", "[rules]") {
    auto rs = must_parse("# comment\n\nbuild : make *\n");
    REQUIRE(rs->rule_count == 1);
    const Rule& r = rs->rules[0];
    CHECK(r.line == 3);
    CHECK(std::string(rs->str(r.name_offset)) == "build");
    CHECK(r.token_count == 2);
    CHECK(r.wait_ns == 600LL * 1000000000LL);
    CHECK(std::string(rs->str(r.wait_offset)) == "10m");
    CHECK(r.on_frozen == OnFrozen::fail);
    CHECK(r.on_timeout == OnTimeout::fail);
    CHECK(rs->tokens[r.first_token + 1].kind == TokenKind::any_rest);
}

TEST_CASE("rules: options are parsed", "[rules]") {
    auto rs = must_parse("deploy wait=1h30m on-frozen=wait on-timeout=run : ./deploy.sh\n"
                         "tf wait=0 on-frozen=fail on-timeout=fail: terraform apply\n");
    REQUIRE(rs->rule_count == 2);
    CHECK(rs->rules[0].wait_ns == 5400LL * 1000000000LL);
    CHECK(std::string(rs->str(rs->rules[0].wait_offset)) == "1h30m");
    CHECK(rs->rules[0].on_frozen == OnFrozen::wait);
    CHECK(rs->rules[0].on_timeout == OnTimeout::run);
    CHECK(rs->rules[1].wait_ns == 0);
    CHECK(rs->rules[1].on_frozen == OnFrozen::fail);
    CHECK(describe(*rs, rs->rules[0]) == "deploy wait=1h30m on-frozen=wait on-timeout=run : ./deploy.sh");
    CHECK(describe(*rs, rs->rules[1]) == "tf wait=0 : terraform apply");
}

TEST_CASE("rules: durations follow Go's syntax", "[rules]") {
    int64_t ns = -1;
    auto dur = [&](const char* s) { return parse_duration_ns(s, std::strlen(s), &ns); };
    CHECK((dur("0") && ns == 0));
    CHECK((dur("300ms") && ns == 300000000));
    CHECK((dur("1.5h") && ns == 5400LL * 1000000000LL));
    CHECK((dur("2m30s") && ns == 150LL * 1000000000LL));
    CHECK((dur("10us") && ns == 10000));
    CHECK_FALSE(dur(""));
    CHECK((dur("10") && ns == 10LL * 1000000000LL));  // a bare number is seconds, as for flags
    CHECK((dur("1d") && ns == 86400LL * 1000000000LL));
    CHECK_FALSE(dur("10m5"));
    CHECK_FALSE(dur("-5s"));
    CHECK_FALSE(dur("5x"));
    CHECK_FALSE(dur("s"));
    CHECK_FALSE(dur("99999999999999999999h"));
}

TEST_CASE("rules: errors name the line", "[rules]") {
    CHECK(parse_error("build : make\nbuild wiat=5m : make\n") ==
          "line 2: unknown option \"wiat=5m\" (expected wait=DUR, on-frozen=fail|wait, on-timeout=fail|run, shared, slots=N)");
    CHECK(parse_error("\n\nbuild make *\n").rfind("line 3: missing ':'", 0) == 0);
    CHECK(parse_error("build wait=soon : make\n").rfind("line 1: bad duration in \"wait=soon\"", 0) == 0);
    CHECK(parse_error("bad/name : make\n").rfind("line 1: invalid lock name \"bad/name\"", 0) == 0);
    CHECK(parse_error("a..b : make\n").rfind("line 1: invalid lock name", 0) == 0);
    CHECK(parse_error("-x : make\n").rfind("line 1: invalid lock name", 0) == 0);
    CHECK(parse_error("build :\n") == "line 1: missing command pattern after ':'");
    CHECK(parse_error(" : make\n") == "line 1: missing lock name before ':'");
    CHECK(parse_error("build : ** make\n") == "line 1: the program token cannot be \"**\"");
    CHECK(parse_error("test build matches : make\n").rfind("line 1: a test line is", 0) == 0);
    CHECK(parse_error(std::string("x : a\0b\n", 8)) == "line 1: NUL byte in the rules file");
    CHECK(parse_error(std::string(kMaxFileBytes + 1, '#')).find("larger than") != std::string::npos);
}

TEST_CASE("rules: a failed parse leaves no rules", "[rules]") {
    RuleSet rs{};
    ParseError err{};
    const std::string text = "build : make\nbroken\n";
    CHECK_FALSE(parse(text.data(), text.size(), &rs, &err));
    CHECK(err.line == 2);
    CHECK(rs.rule_count == 0);
}

TEST_CASE("rules: comments after tokens, colons inside tokens, CRLF", "[rules]") {
    auto rs = must_parse("git-push : git -C * push *   # git's -C option\r\nnpm : npm run test:*\n");
    REQUIRE(rs->rule_count == 2);
    CHECK(rs->rules[0].token_count == 5);
    CHECK(hits(*rs, "/usr/bin/git", V{"-C", "/repo", "push", "origin"}) == V{"git-push"});
    CHECK(hits(*rs, "/usr/bin/npm", V{"run", "test:unit"}) == V{"npm"});
    CHECK(hits(*rs, "/usr/bin/npm", V{"run", "build"}).empty());
}

TEST_CASE("rules: test lines are parsed and run", "[rules]") {
    auto rs = must_parse("git-push wait=10m : git push *\n"
                         "test git-push match : git push origin main\n"
                         "test git-push not-match : git status\n"
                         "test git-push match : git pull\n"
                         "test nope match : git push\n");
    CHECK(rs->rule_count == 1);
    REQUIRE(rs->test_count == 4);
    auto out = run_tests(*rs);
    REQUIRE(out.size() == 4);
    CHECK(out[0].passed);
    CHECK(out[0].line == 2);
    CHECK(out[0].matched == V{"git-push"});
    CHECK(out[1].passed);
    CHECK_FALSE(out[2].passed);
    CHECK(out[2].problem == "expected to match \"git-push\", but it does not");
    CHECK_FALSE(out[3].passed);
    CHECK(out[3].problem == "no rule named \"nope\"");
}

TEST_CASE("rules: a rule may be named test when it has options", "[rules]") {
    auto rs = must_parse("test wait=1m : pytest *\n");
    CHECK(rs->rule_count == 1);
    CHECK(rs->test_count == 0);
}

TEST_CASE("rules: token 0 matches the basename, or the path when it has a slash", "[rules]") {
    CHECK(hit("b : make *", "/usr/bin/make", {}));
    CHECK(hit("b : make *", "make", {"all"}));
    CHECK_FALSE(hit("b : make *", "/usr/bin/gmake", {}));
    CHECK(hit("b : /usr/bin/make *", "/usr/bin/make", {}));
    CHECK_FALSE(hit("b : /usr/bin/make *", "/usr/local/bin/make", {}));
    CHECK(hit("b : /usr/*/make *", "/usr/local/bin/make", {}));
    CHECK(hit("b : gmake|/usr/bin/make *", "/usr/bin/make", {}));
    CHECK(hit("b : gmake|/usr/bin/make *", "/opt/gmake", {}));
}

TEST_CASE("rules: globs within a token", "[rules]") {
    CHECK(hit("t : terraform apply", "terraform", {"apply"}));
    CHECK(hit("t : git push*", "git", {"push-all"}));
    CHECK(hit("t : git ?ush", "git", {"push"}));
    CHECK_FALSE(hit("t : git ?ush", "git", {"ush"}));
    CHECK(hit("t : cmd [a-c]x", "cmd", {"bx"}));
    CHECK_FALSE(hit("t : cmd [a-c]x", "cmd", {"dx"}));
    CHECK(hit("t : cmd [!a-c]x", "cmd", {"dx"}));
    CHECK(hit("t : cmd [^a-c]x", "cmd", {"dx"}));
    CHECK(hit("t : cmd []]", "cmd", {"]"}));
    CHECK(hit("t : cmd [x", "cmd", {"[x"}));    // unclosed bracket: literal
    CHECK(hit("t : cmd \\*", "cmd", {"*"}));
    CHECK_FALSE(hit("t : cmd \\*", "cmd", {"x"}));
    CHECK(hit("t : cmd --x=*", "cmd", {"--x=/a/b"}));  // '*' crosses '/' inside a token
    CHECK(hit("t : cmd a*b*c", "cmd", {"aXXbYYc"}));
    CHECK_FALSE(hit("t : cmd a*b*c", "cmd", {"aXXbYY"}));
}

TEST_CASE("rules: a|b alternatives", "[rules]") {
    const char* r = "tf : terraform apply|destroy *";
    CHECK(hit(r, "terraform", {"apply"}));
    CHECK(hit(r, "terraform", {"destroy", "-auto-approve"}));
    CHECK_FALSE(hit(r, "terraform", {"plan"}));
    CHECK_FALSE(hit(r, "terraform", {"apply|destroy"}));
    CHECK(hit("x : cmd [|]", "cmd", {"|"}));       // '|' inside brackets is not a separator
    CHECK(hit("x : cmd a\\|b", "cmd", {"a|b"}));   // nor an escaped one
    CHECK(hit("x : cmd a||b", "cmd", {""}));       // an empty alternative matches ""
}

TEST_CASE("rules: trailing * is zero or more arguments; otherwise length is exact", "[rules]") {
    CHECK(hit("b : make *", "make", {}));
    CHECK(hit("b : make *", "make", {"-j8", "all"}));
    CHECK(hit("p : git push", "git", {"push"}));
    CHECK_FALSE(hit("p : git push", "git", {"push", "origin"}));
    CHECK_FALSE(hit("p : git push", "git", {}));
    CHECK_FALSE(hit("p : git push *", "git", {}));
    // A '*' that is not last stands for exactly one argument.
    CHECK(hit("p : git * push", "git", {"-v", "push"}));
    CHECK_FALSE(hit("p : git * push", "git", {"push"}));
}

TEST_CASE("rules: ** is zero or more arguments anywhere", "[rules]") {
    const char* r = "p : git ** push **";
    CHECK(hit(r, "git", {"push"}));
    CHECK(hit(r, "git", {"-C", "/repo", "-c", "x=y", "push", "origin", "main"}));
    CHECK_FALSE(hit(r, "git", {"pull"}));
    CHECK(hit("p : git ** main", "git", {"push", "origin", "main"}));
    CHECK_FALSE(hit("p : git ** main", "git", {"push", "main", "x"}));
    CHECK(hit("p : x ** a ** b", "x", {"a", "a", "b", "b"}));
}

TEST_CASE("rules: odd bytes are matched as bytes", "[rules]") {
    CHECK(hit("u : cmd caf\xc3\xa9", "cmd", {"caf\xc3\xa9"}));
    CHECK(hit("u : cmd caf??", "cmd", {"caf\xc3\xa9"}));
    CHECK(hit("u : cmd *", "cmd", {"a\nb", "", "\xff"}));
    CHECK(hit("u : cmd ?", "cmd", {"\x01"}));
    CHECK(hit("u : cmd a?b", "cmd", {"a b"}));
}

TEST_CASE("rules: several matching rules give sorted distinct names and strict options", "[rules]") {
    auto rs = must_parse("deploy wait=0 : make deploy\n"
                         "build wait=30m on-frozen=wait on-timeout=run : make *\n"
                         "build : cmake --build *\n"
                         "build : make deploy\n");
    const char* args[] = {"deploy"};
    Decision d{};
    REQUIRE(decide(*rs, "/usr/bin/make", args, 1, &d));
    REQUIRE(d.name_count == 2);
    CHECK(std::string(rs->str(d.name_offsets[0])) == "build");
    CHECK(std::string(rs->str(d.name_offsets[1])) == "deploy");
    CHECK(d.rule_count == 3);
    CHECK(d.wait_ns == 0);
    CHECK(d.on_frozen == OnFrozen::fail);
    CHECK(d.on_timeout == OnTimeout::fail);
    auto g = guard_argv(*rs, d, "/usr/bin/make", {"make", "deploy"});
    CHECK(g == V{"lokt", "guard", "--kind", "shim", "build", "deploy", "--exec", "/usr/bin/make", "--", "make",
                 "deploy"});
}

TEST_CASE("rules: guard argv carries the wait and the original argv[0]", "[rules]") {
    auto rs = must_parse("git-push wait=10m : git push *\n");
    const char* args[] = {"push"};
    Decision d{};
    REQUIRE(decide(*rs, "/usr/bin/git", args, 1, &d));
    CHECK(guard_argv(*rs, d, "/usr/bin/git", {"weird", "push"}) ==
          V{"lokt", "guard", "--wait", "--timeout", "10m", "--on-frozen", "fail", "--kind", "shim", "git-push",
            "--exec", "/usr/bin/git", "--", "weird", "push"});
}

TEST_CASE("rules: guard argv carries the rule's on-frozen with a wait, and on-timeout=run", "[rules]") {
    auto rs = must_parse("a wait=2s : fake-a\n"
                         "b wait=2s on-frozen=wait on-timeout=run : fake-b\n"
                         "c wait=0 on-timeout=run : fake-c\n");
    Decision d{};
    REQUIRE(decide(*rs, "/bin/fake-a", nullptr, 0, &d));
    CHECK(guard_argv(*rs, d, "/bin/fake-a", {"fake-a"}) ==
          V{"lokt", "guard", "--wait", "--timeout", "2s", "--on-frozen", "fail", "--kind", "shim", "a",
            "--exec", "/bin/fake-a", "--", "fake-a"});
    REQUIRE(decide(*rs, "/bin/fake-b", nullptr, 0, &d));
    CHECK(guard_argv(*rs, d, "/bin/fake-b", {"fake-b"}) ==
          V{"lokt", "guard", "--wait", "--timeout", "2s", "--on-frozen", "wait", "--on-timeout", "run", "--kind", "shim", "b",
            "--exec", "/bin/fake-b", "--", "fake-b"});
    REQUIRE(decide(*rs, "/bin/fake-c", nullptr, 0, &d));
    CHECK(guard_argv(*rs, d, "/bin/fake-c", {"fake-c"}) ==
          V{"lokt", "guard", "--on-timeout", "run", "--kind", "shim", "c", "--exec", "/bin/fake-c", "--",
            "fake-c"});
}

TEST_CASE("rules: shared and slots=N become guard flags; disagreement is exclusive", "[rules][shared]") {
    auto rs = must_parse("fix wait=0 shared : pytest *\n"
                         "keys slots=3 : call-api *\n"
                         "fix : migrate *\n"
                         "fix shared : both *\n"
                         "keys slots=3 : both *\n");
    CHECK(describe(*rs, rs->rules[0]) == "fix wait=0 shared : pytest *");
    CHECK(describe(*rs, rs->rules[1]) == "keys slots=3 : call-api *");
    Decision d{};
    const char* args[] = {"x"};
    REQUIRE(decide(*rs, "/bin/pytest", args, 1, &d));
    CHECK(d.mode == RuleMode::shared);
    CHECK(guard_argv(*rs, d, "/bin/pytest", {"pytest", "x"}) ==
          V{"lokt", "guard", "--shared", "--kind", "shim", "fix", "--exec", "/bin/pytest", "--", "pytest", "x"});
    REQUIRE(decide(*rs, "/bin/call-api", args, 1, &d));
    CHECK(guard_argv(*rs, d, "/bin/call-api", {"call-api", "x"}) ==
          V{"lokt", "guard", "--wait", "--timeout", "10m", "--on-frozen", "fail", "--slots", "3", "--kind", "shim",
            "keys", "--exec", "/bin/call-api", "--", "call-api", "x"});
    REQUIRE(decide(*rs, "/bin/migrate", args, 1, &d));
    CHECK(d.mode == RuleMode::exclusive);
    // Shared for one name, a pool for another: one guard, so the strictest (exclusive).
    REQUIRE(decide(*rs, "/bin/both", args, 1, &d));
    CHECK(d.name_count == 2);
    CHECK(d.mode == RuleMode::exclusive);
}

TEST_CASE("rules: bad slot counts and doubled modes are errors", "[rules][shared]") {
    CHECK(parse_error("k slots=0 : x\n").find("bad slot count") != std::string::npos);
    CHECK(parse_error("k slots=abc : x\n").find("bad slot count") != std::string::npos);
    CHECK(parse_error("k slots=2000 : x\n").find("bad slot count") != std::string::npos);
    CHECK(parse_error("k shared slots=2 : x\n").find("more than one of shared and slots=N") != std::string::npos);
}

TEST_CASE("rules: explanations say which token matched what", "[rules]") {
    auto rs = must_parse("p : git ** push *\n");
    const Rule& r = rs->rules[0];
    auto lines = explain_match(*rs, r, "/usr/bin/git", {"git", "-C", "x", "push", "origin"});
    REQUIRE(lines.size() == 4);
    CHECK(lines[0] == "\"git\" matched the program name \"/usr/bin/git\"");
    CHECK(lines[1] == "\"**\" matched arguments 1..2 \"-C x\"");
    CHECK(lines[2] == "\"push\" matched argument 3 \"push\"");
    CHECK(lines[3] == "\"*\" matched arguments 4..4 \"origin\"");
    CHECK(explain_miss(*rs, r, "/usr/bin/make", {"make"}) ==
          "the program \"/usr/bin/make\" does not match \"git\"");
    auto exact = must_parse("p : git push\n");
    CHECK(explain_miss(*exact, exact->rules[0], "git", {"git", "push", "x"}) ==
          "the pattern wants exactly 1 argument(s), the command has 2");
    CHECK(explain_miss(*exact, exact->rules[0], "git", {"git", "pull"}) ==
          "argument 1 \"pull\" does not match \"push\"");
}

TEST_CASE("rules: the rules path comes from LOKT_RULES or the root", "[rules]") {
    Root root;
    root.path = "/r/lokt";
    CHECK(rules_path(root, nullptr, "/cwd") == "/r/lokt/rules");
    CHECK(rules_path(root, "", "/cwd") == "/r/lokt/rules");
    CHECK(rules_path(root, "my.rules", "/cwd") == "/cwd/my.rules");
    CHECK(rules_path(root, "/abs/rules", "/cwd") == "/abs/rules");
}
