#include "lokt/proc/held_env.hpp"

#include <catch2/catch.hpp>

using namespace lokt::proc;

TEST_CASE("LOKT_HELD round-trips and appends", "[proc][held_env]") {
    std::string v = append_held("", {{"build", "aa"}, {"deploy", "bb"}});
    CHECK(v == "build:aa,deploy:bb");
    std::string w = append_held(v, {{"test", "cc"}});
    CHECK(w == "build:aa,deploy:bb,test:cc");
    auto m = parse_held(w);
    REQUIRE(m.size() == 3);
    CHECK(m["deploy"] == "bb");
}

TEST_CASE("malformed LOKT_HELD entries are skipped", "[proc][held_env]") {
    auto m = parse_held(",noid,:x,a:,ok:1,");
    REQUIRE(m.size() == 1);
    CHECK(m["ok"] == "1");
}

TEST_CASE("LOKT_FENCE is the one fence, NAME:N pairs for several, empty if one is unknown",
          "[proc][held_env]") {
    CHECK(fence_env({}) == "");
    CHECK(fence_env({{"build", 7}}) == "7");
    CHECK(fence_env({{"build", 7}, {"deploy", 12}}) == "build:7,deploy:12");
    CHECK(fence_env({{"build", 7}, {"deploy", 0}}) == "");
}
