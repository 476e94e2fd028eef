// cli/args.cpp and cli/suggest.cpp: how a command line becomes Args, and what a mistyped
// command line is told.
#include "cli.hpp"
#include "suggest.hpp"

#include <catch2/catch.hpp>

using lokt::cli::Args;
using lokt::cli::Command;
using lokt::cli::parse_args;

namespace {

Command guard_like() {
    Command c;
    c.name = "guard";
    c.flags = {{"ttl", true}, {"wait", false}, {"timeout", true}, {"quiet", false, 'q'},
               {"json", false}, {"conflict-exit-code", true, 'E'}};
    c.takes_rest = true;
    return c;
}

Command lock_like() {  // no "quiet" flag: -q is not a shorthand here
    Command c;
    c.name = "lock";
    c.flags = {{"ttl", true}, {"wait", false}};
    return c;
}

Args parsed(const Command& c, std::vector<std::string> argv) {
    auto r = parse_args(c, argv);
    REQUIRE(r.ok());
    return r.value();
}

std::string parse_error(const Command& c, std::vector<std::string> argv) {
    auto r = parse_args(c, argv);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

} // namespace

TEST_CASE("flags may come before and after positionals, in both spellings", "[cli][args]") {
    auto a = parsed(guard_like(), {"--ttl", "5m", "build", "--wait", "--timeout=30s", "x"});
    CHECK(a.positional == std::vector<std::string>{"build", "x"});
    CHECK(a.value("ttl") == "5m");
    CHECK(a.value("timeout") == "30s");
    CHECK(a.has("wait"));
    CHECK(a.switches.at("wait") == 1);
    CHECK_FALSE(a.has("json"));
    CHECK_FALSE(a.value("json").has_value());
    CHECK_FALSE(a.saw_dashdash);
}

TEST_CASE("the last value of a repeated flag wins; switches count", "[cli][args]") {
    auto a = parsed(guard_like(), {"--ttl", "1m", "--ttl=2m", "--wait", "--wait"});
    CHECK(a.value("ttl") == "2m");
    CHECK(a.switches.at("wait") == 2);
}

TEST_CASE("everything after -- is the command, flags included", "[cli][args]") {
    auto a = parsed(guard_like(), {"build", "--wait", "--", "make", "--ttl", "-q", "--", "x"});
    CHECK(a.saw_dashdash);
    CHECK(a.positional == std::vector<std::string>{"build"});
    CHECK(a.rest == std::vector<std::string>{"make", "--ttl", "-q", "--", "x"});
    CHECK_FALSE(a.has("ttl"));
    CHECK_FALSE(a.has("quiet"));

    auto empty = parsed(guard_like(), {"build", "--"});
    CHECK(empty.saw_dashdash);
    CHECK(empty.rest.empty());
}

TEST_CASE("a value may start with a dash or be empty", "[cli][args]") {
    auto a = parsed(guard_like(), {"--timeout", "-5s", "--ttl="});
    CHECK(a.value("timeout") == "-5s");  // the duration parser refuses it, with its own message
    CHECK(a.value("ttl") == "");
}

TEST_CASE("a lone dash is a positional, like a file named -", "[cli][args]") {
    auto a = parsed(lock_like(), {"-"});
    CHECK(a.positional == std::vector<std::string>{"-"});
}

TEST_CASE("help and verbosity are recognised by every command", "[cli][args]") {
    auto a = parsed(lock_like(), {"x", "-h", "--help", "-v", "--verbose", "-vv"});
    CHECK(a.switches.at("help") == 2);
    CHECK(a.switches.at("verbose") == 4);
    CHECK(a.positional == std::vector<std::string>{"x"});
}

TEST_CASE("the short -q means --quiet only for commands that have --quiet", "[cli][args]") {
    auto a = parsed(guard_like(), {"-q", "x"});
    CHECK(a.switches.at("quiet") == 1);
    CHECK(parse_error(lock_like(), {"-q", "x"}) == "unknown flag \"-q\"");
}

TEST_CASE("a flag's one-letter form takes its value as the next word or glued on", "[cli][args]") {
    CHECK(parsed(guard_like(), {"-E", "75", "x"}).value("conflict-exit-code") == "75");
    CHECK(parsed(guard_like(), {"x", "-E75"}).value("conflict-exit-code") == "75");
    CHECK(parse_error(guard_like(), {"x", "-E"}) == "flag -E needs a value");
    CHECK(parse_error(guard_like(), {"-q1"}) == "flag -q takes no value");
    CHECK(parse_error(lock_like(), {"-E", "3"}) == "unknown flag \"-E\"");
}

TEST_CASE("unknown flags are refused, with a suggestion when one is close", "[cli][args]") {
    CHECK(parse_error(guard_like(), {"--wiat"}) ==
          "unknown flag \"--wiat\" for \"guard\" (did you mean \"--wait\"?)");
    CHECK(parse_error(guard_like(), {"--frobnicate"}) ==
          "unknown flag \"--frobnicate\" for \"guard\"");
    CHECK(parse_error(guard_like(), {"-x"}) == "unknown flag \"-x\"");
    // The suggestion is worked out on the name only, not on an inline value.
    CHECK(parse_error(guard_like(), {"--tll=5m"}) ==
          "unknown flag \"--tll\" for \"guard\" (did you mean \"--ttl\"?)");
}

TEST_CASE("a switch refuses a value; a value flag insists on one", "[cli][args]") {
    CHECK(parse_error(guard_like(), {"--wait=yes"}) == "flag --wait takes no value");
    CHECK(parse_error(guard_like(), {"x", "--ttl"}) == "flag --ttl needs a value");
    // "--" ends the flags, so it is not taken as the value.
    CHECK(parse_error(guard_like(), {"x", "--ttl", "--", "true"}) == "flag --ttl needs a value");
}

TEST_CASE("closest finds typos and nothing else", "[cli][suggest]") {
    const std::vector<std::string> cmds{"lock", "unlock", "guard", "status", "freeze", "unfreeze"};
    CHECK(lokt::cli::closest("gaurd", cmds) == "guard");
    CHECK(lokt::cli::closest("stauts", cmds) == "status");
    CHECK(lokt::cli::closest("lokc", cmds) == "lock");
    CHECK_FALSE(lokt::cli::closest("deploy", cmds).has_value());
    CHECK_FALSE(lokt::cli::closest("x", cmds).has_value());  // too short to guess from
    CHECK_FALSE(lokt::cli::closest("guard", {}).has_value());
    CHECK(lokt::cli::did_you_mean("gaurd", cmds) == " (did you mean \"guard\"?)");
    CHECK(lokt::cli::did_you_mean("wiat", {"wait"}, "--") == " (did you mean \"--wait\"?)");
    CHECK(lokt::cli::did_you_mean("zzzzzz", cmds).empty());
}
