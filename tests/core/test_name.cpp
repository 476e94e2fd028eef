#include "lokt/name.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace lokt;

TEST_CASE("valid lock names", "[name]") {
    auto n = GENERATE("build", "db-migrate", "tests-passed-3f2a1b", "api-slot-1", "a.b_c-D9", "x");
    INFO(n);
    CHECK(validate_name(n));
}

TEST_CASE("invalid lock names are refused with a reason", "[name]") {
    std::string long_name(300, 'a');
    auto n = GENERATE_COPY(as<std::string>{}, "", "../x", "/abs", "a/b", "has space", "a..b", ".",
                           "caf\xc3\xa9", "tab\there", "semi;colon", long_name);
    INFO(n);
    auto r = validate_name(n);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.rfind("invalid lock name", 0) == 0);
    CHECK(r.error().message.find('\n') == std::string::npos);
}

TEST_CASE("a name of 250 bytes fits, 251 does not", "[name]") {
    CHECK(validate_name(std::string(250, 'n')));
    CHECK_FALSE(validate_name(std::string(251, 'n')));
}
