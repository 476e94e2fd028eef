#include "lokt/etcd/wire.hpp"

#include <catch2/catch.hpp>

using namespace lokt::etcd;
using json = nlohmann::json;

TEST_CASE("wire: a lock transaction encodes as the gateway expects", "[etcd-unit]") {
    RangeRequest head{"p/n/", prefix_end("p/n/"), 1};
    head.sort_order = SortOrder::ascend;
    head.sort_target = SortTarget::create;
    TxnRequest t;
    t.compare = {Compare{CompareResult::equal, CompareTarget::create, "p/n/1f", 0, ""},
                 Compare{CompareResult::not_equal, CompareTarget::value, "k", 0, "v"}};
    t.success = {PutRequest{"p/n/1f", "{}", 31}, head};
    t.failure = {DeleteRangeRequest{"a", "b", true}};
    json j = encode(t);
    CHECK(j["compare"][0] == json{{"result", "EQUAL"}, {"target", "CREATE"}, {"key", "cC9uLzFm"},
                                  {"create_revision", "0"}});
    CHECK(j["compare"][1] == json{{"result", "NOT_EQUAL"}, {"target", "VALUE"}, {"key", "aw=="}, {"value", "dg=="}});
    CHECK(j["success"][0] == json{{"request_put", {{"key", "cC9uLzFm"}, {"value", "e30="}, {"lease", "31"}}}});
    CHECK(j["success"][1]["request_range"] == json{{"key", "cC9uLw=="}, {"range_end", "cC9uMA=="}, {"limit", "1"},
                                                   {"sort_order", "ASCEND"}, {"sort_target", "CREATE"}});
    CHECK(j["failure"][0] == json{{"request_delete_range", {{"key", "YQ=="}, {"range_end", "Yg=="}, {"prev_kv", true}}}});
}

TEST_CASE("wire: zero fields are omitted from requests", "[etcd-unit]") {
    CHECK(encode(RangeRequest{"k", ""}) == json{{"key", "aw=="}});
    CHECK(encode(PutRequest{"k", "", 0}) == json{{"key", "aw=="}, {"value", ""}});
    CHECK(encode_watch_create("k", "", 0) == json{{"create_request", {{"key", "aw=="}}}});
    CHECK(encode_watch_create("k", "l", 7)["create_request"]["start_revision"] == "7");
}

TEST_CASE("wire: prefix_end increments the last byte below 0xff", "[etcd-unit]") {
    CHECK(prefix_end("a/") == "a0");
    CHECK(prefix_end(std::string("a\xff", 2)) == "b");
    CHECK(prefix_end(std::string("\xff", 1)) == std::string(1, '\0'));
}

TEST_CASE("wire: a txn reply decodes, missing fields as zero", "[etcd-unit]") {
    json reply = json::parse(R"({"header":{"revision":"42"},"succeeded":true,"responses":[
        {"response_put":{"header":{"revision":"42"}}},
        {"response_range":{"header":{"revision":"42"},"kvs":[{"key":"cC9uLzFm","create_revision":"40",
          "mod_revision":"42","version":"2","value":"e30=","lease":"31"}],"count":"1"}},
        {"response_delete_range":{"header":{}}}]})");
    auto t = decode_txn(reply);
    REQUIRE(t.ok());
    CHECK(t->succeeded);
    CHECK(t->revision == 42);
    REQUIRE(t->responses.size() == 3);
    const auto& r = std::get<RangeResponse>(t->responses[1]);
    REQUIRE(r.kvs.size() == 1);
    CHECK(r.kvs[0].key == "p/n/1f");
    CHECK(r.kvs[0].value == "{}");
    CHECK(r.kvs[0].create_revision == 40);
    CHECK(r.kvs[0].lease == 31);
    CHECK(std::get<DeleteRangeResponse>(t->responses[2]).deleted == 0);

    auto failed = decode_txn(json::parse(R"({"header":{"revision":"9"}})"));
    REQUIRE(failed.ok());
    CHECK_FALSE(failed->succeeded);
    CHECK(failed->responses.empty());
    auto empty = decode_range(json::parse(R"({"header":{"revision":"9"}})"));
    REQUIRE(empty.ok());
    CHECK(empty->kvs.empty());
}

TEST_CASE("wire: lease replies, TTL 0 or missing means gone", "[etcd-unit]") {
    auto g = decode_lease_grant(json::parse(R"({"header":{},"ID":"7587862072907254785","TTL":"5"})"));
    REQUIRE(g.ok());
    CHECK(g->id == 7587862072907254785LL);
    CHECK(g->ttl == 5);
    auto ka = decode_lease_ttl(json::parse(R"({"result":{"header":{},"ID":"3","TTL":"5"}})"));
    REQUIRE(ka.ok());
    CHECK(ka->ttl == 5);
    auto gone = decode_lease_ttl(json::parse(R"({"result":{"header":{},"ID":"3"}})"));
    REQUIRE(gone.ok());
    CHECK(gone->ttl == 0);
    auto ttl = decode_lease_ttl(json::parse(R"({"header":{},"ID":"3","TTL":"-1"})"));
    REQUIRE(ttl.ok());
    CHECK(ttl->ttl == -1);
    CHECK_FALSE(decode_lease_grant(json::parse(R"({"header":{},"TTL":"5"})")).ok());
}

TEST_CASE("wire: watch messages and errors decode", "[etcd-unit]") {
    auto created = decode_watch(json::parse(R"({"result":{"header":{"revision":"7"},"created":true}})"));
    REQUIRE(created.ok());
    CHECK(created->created);
    CHECK(created->revision == 7);
    auto ev = decode_watch(json::parse(R"({"result":{"header":{"revision":"8"},"events":[
        {"type":"DELETE","kv":{"key":"aw==","mod_revision":"8"}},{"kv":{"key":"aw==","value":"dg=="}}]}})"));
    REQUIRE(ev.ok());
    REQUIRE(ev->events.size() == 2);
    CHECK(ev->events[0].type == EventType::del);
    CHECK(ev->events[0].kv.mod_revision == 8);
    CHECK(ev->events[1].type == EventType::put);
    CHECK(ev->events[1].kv.value == "v");
    auto err = decode_watch(json::parse(R"({"error":{"grpc_code":14,"message":"no leader"}})"));
    REQUIRE_FALSE(err.ok());
    CHECK(err.error().message == "etcd watch: no leader");
    CHECK(gateway_error(json::parse(R"({"error":"etcdserver: requested lease not found","code":5,
        "message":"etcdserver: requested lease not found"})")) == "etcdserver: requested lease not found");
}

TEST_CASE("wire: malformed replies are errors, not crashes", "[etcd-unit]") {
    CHECK_FALSE(decode_range(json::parse(R"({"kvs":[{"key":"!!"}]})")).ok());
    CHECK_FALSE(decode_range(json::parse(R"({"kvs":[{"key":"aw==","create_revision":"x"}]})")).ok());
    CHECK_FALSE(decode_range(json::parse(R"({"kvs":{}})")).ok());
    CHECK_FALSE(decode_txn(json::parse(R"({"responses":[{"response_other":{}}]})")).ok());
}
