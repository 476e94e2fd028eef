#include "lokt/etcd/base64.hpp"

#include <catch2/catch.hpp>

using namespace lokt::etcd;

TEST_CASE("base64: RFC 4648 test vectors both ways", "[etcd-unit]") {
    auto [plain, coded] = GENERATE(table<std::string, std::string>({
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"lokt/x/694d7c", "bG9rdC94LzY5NGQ3Yw=="}}));
    CHECK(base64_encode(plain) == coded);
    auto d = base64_decode(coded);
    REQUIRE(d.ok());
    CHECK(*d == plain);
}

TEST_CASE("base64: every byte value round-trips", "[etcd-unit]") {
    std::string all;
    for (int i = 0; i < 256; ++i) all += char(i);
    auto d = base64_decode(base64_encode(all));
    REQUIRE(d.ok());
    CHECK(*d == all);
}

TEST_CASE("base64: malformed text is an error", "[etcd-unit]") {
    auto bad = GENERATE(as<std::string>{}, "Zg=", "Zg=a", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zg==");
    CHECK_FALSE(base64_decode(bad).ok());
}
