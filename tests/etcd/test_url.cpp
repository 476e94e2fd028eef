#include "lokt/etcd/url.hpp"

#include <catch2/catch.hpp>

using namespace lokt::etcd;

TEST_CASE("backend URL: several endpoints, a prefix, TLS by scheme", "[etcd-unit]") {
    auto u = parse_backend_url("etcd://host1:2379,10.0.0.2:32379/team/repo");
    REQUIRE(u.ok());
    CHECK_FALSE(u->tls);
    REQUIRE(u->endpoints.size() == 2);
    CHECK(u->endpoints[0].host == "host1");
    CHECK(u->endpoints[0].port == 2379);
    CHECK(u->endpoints[1].host == "10.0.0.2");
    CHECK(u->endpoints[1].port == 32379);
    CHECK(u->prefix == "team/repo");
    CHECK(u->display() == "etcd://host1:2379,10.0.0.2:32379");
    CHECK(u->base(1) == "http://10.0.0.2:32379");

    auto t = parse_backend_url("https://[::1]:2379/");
    REQUIRE(t.ok());
    CHECK(t->tls);
    CHECK(t->endpoints[0].host == "[::1]");
    CHECK(t->prefix == "lokt");
    CHECK(t->base(0) == "https://[::1]:2379");
}

TEST_CASE("backend URL: the port defaults to 2379", "[etcd-unit]") {
    auto u = parse_backend_url("etcd://localhost");
    REQUIRE(u.ok());
    CHECK(u->endpoints[0].port == 2379);
}

TEST_CASE("backend URL: bad input is an error naming the URL", "[etcd-unit]") {
    auto bad = GENERATE(as<std::string>{}, "", "http://h:1", "etcd://", "etcd://h:0", "etcd://h:65536",
                        "etcd://h:x", "etcd://h:", "etcd://h1,", "etcd://a b:1", "etcd://h:1/a//b",
                        "etcd://[::1:5", "etcd://h:1/p?x");
    auto r = parse_backend_url(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.rfind("invalid backend URL \"" + bad + "\": ", 0) == 0);
}
