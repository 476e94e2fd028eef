#include "lokt/lock_file.hpp"
#include "lokt/sys.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace lokt;

namespace {
std::string golden(const std::string& file) {
    auto data = sys::read_file(std::string(LOKT_GOLDEN_DIR) + "/" + file);
    REQUIRE(data);
    return *data;
}
} // namespace

TEST_CASE("the original's lock file decodes", "[lock_file]") {
    auto d = decode_lock(golden("lock-v1.json"));
    REQUIRE(d.status == DecodeStatus::ok);
    const LockRecord& r = d.record;
    CHECK(r.version == 1);
    CHECK(r.name == "build");
    CHECK(r.lock_id == "b077153776f2a0d04e5462dd2f7d34b7");
    CHECK(r.owner == "agent-1");
    CHECK(r.host == "vm");
    CHECK(r.pid == 11689);
    CHECK(r.pid_start_ns == 45936);
    CHECK(r.agent_id == "agent-1936");
    CHECK(format_rfc3339_nano(r.acquired_ts) == "2026-11-27T15:51:33.612486605Z");
    CHECK(r.ttl_sec == 600);
    REQUIRE(r.expires_at);
    CHECK(format_rfc3339_nano(*r.expires_at) == "2026-11-27T16:01:33.612486605Z");
    CHECK_FALSE(r.kind);
}

TEST_CASE("the original's freeze file decodes", "[lock_file]") {
    auto d = decode_lock(golden("freeze-v1.json"));
    REQUIRE(d.status == DecodeStatus::ok);
    CHECK(d.record.name == "deploy");
    CHECK(d.record.ttl_sec == 1800);
}

TEST_CASE("re-encoding the original's file reproduces it byte for byte", "[lock_file]") {
    std::string bytes = golden("lock-v1.json");
    auto d = decode_lock(bytes);
    REQUIRE(d.status == DecodeStatus::ok);
    std::string out = encode_lock(d.record);
    // The original writes no trailing newline; ours adds one. Everything else is identical.
    CHECK(out == bytes + (bytes.back() == '\n' ? "" : "\n"));
}

TEST_CASE("our files carry every field of the original with the same JSON types", "[lock_file]") {
    LockRecord r;
    r.name = "build";
    r.lock_id = "0123456789abcdef0123456789abcdef";
    r.owner = "agent-1";
    r.host = "vm";
    r.pid = 42;
    r.pid_start_ns = 777;
    r.agent_id = "agent-beef";
    r.acquired_ts = *parse_rfc3339("2026-11-27T15:51:33.5Z");
    r.ttl_sec = 300;
    r.expires_at = r.acquired_ts + std::chrono::seconds(300);
    r.kind = LockKind::guard;
    r.pgid = 43;
    r.command = "make build";
    auto ours = nlohmann::json::parse(encode_lock(r));
    auto theirs = nlohmann::json::parse(golden("lock-v1.json"));
    for (auto it = theirs.begin(); it != theirs.end(); ++it) {
        INFO(it.key());
        REQUIRE(ours.contains(it.key()));
        CHECK(ours[it.key()].type() == it.value().type());
    }
    CHECK(ours["version"] == 1);
    CHECK(ours["kind"] == "guard");
    auto back = decode_lock(encode_lock(r));
    REQUIRE(back.status == DecodeStatus::ok);
    CHECK(back.record.pgid == 43);
    CHECK(back.record.command == "make build");
    CHECK(back.record.kind == LockKind::guard);
    CHECK(back.record.expires_at == r.expires_at);
}

TEST_CASE("a lock without TTL omits ttl_sec and expires_at, as the original", "[lock_file]") {
    LockRecord r;
    r.name = "nottl";
    r.owner = "a";
    r.acquired_ts = now();
    auto j = nlohmann::json::parse(encode_lock(r));
    CHECK_FALSE(j.contains("ttl_sec"));
    CHECK_FALSE(j.contains("expires_at"));
    CHECK_FALSE(r.expired(now() + std::chrono::hours(1000)));
}

TEST_CASE("unknown fields survive a rewrite", "[lock_file]") {
    std::string bytes = golden("lock-v1.json");
    auto j = nlohmann::json::parse(bytes);
    j["future_field"] = {{"x", 1}};
    auto d = decode_lock(j.dump());
    REQUIRE(d.status == DecodeStatus::ok);
    auto again = nlohmann::json::parse(encode_lock(d.record));
    CHECK(again["future_field"]["x"] == 1);
}

TEST_CASE("corrupt lock files are recognised", "[lock_file]") {
    auto bytes = GENERATE(as<std::string>{}, "", "garbage", "{\"version\":1,\"name\":\"x\"",
                          "[]", "{\"version\":1}", "{\"version\":\"1\",\"name\":\"x\"}",
                          "{\"name\":\"x\",\"owner\":\"o\",\"pid\":\"12\",\"acquired_ts\":\"2026-01-01T00:00:00Z\"}",
                          "{\"name\":\"x\",\"owner\":\"o\",\"pid\":12,\"acquired_ts\":\"not a time\"}");
    INFO(bytes);
    auto d = decode_lock(bytes);
    CHECK(d.status == DecodeStatus::corrupt);
    CHECK_FALSE(d.detail.empty());
}

TEST_CASE("a future file version is reported, not treated as corrupt", "[lock_file]") {
    auto d = decode_lock(R"({"version":2,"name":"x","whatever":true})");
    CHECK(d.status == DecodeStatus::future_version);
    CHECK(d.detail == "file version 2");
}

TEST_CASE("expiry is judged against the given time", "[lock_file]") {
    LockRecord r;
    r.acquired_ts = now();
    r.ttl_sec = 10;
    r.expires_at = r.acquired_ts + std::chrono::seconds(10);
    CHECK_FALSE(r.expired(r.acquired_ts + std::chrono::seconds(9)));
    CHECK(r.expired(r.acquired_ts + std::chrono::seconds(10)));
}

TEST_CASE("the fast decoder and the full decoder agree", "[lock_file]") {
    std::string bytes = golden("lock-v1.json");
    auto fast = decode_lock(bytes);  // known fields only: fast path
    auto j = nlohmann::json::parse(bytes);
    j["x-unknown"] = nullptr;          // forces the full path
    j["kind"] = "guard";
    j["pgid"] = 99;
    j["command"] = "make \"all\"\n";
    auto full = decode_lock(j.dump());
    REQUIRE(fast.status == DecodeStatus::ok);
    REQUIRE(full.status == DecodeStatus::ok);
    CHECK(encode_lock(fast.record) == encode_lock(decode_lock(golden("lock-v1.json")).record));
    j.erase("x-unknown");
    auto fast2 = decode_lock(j.dump());
    REQUIRE(fast2.status == DecodeStatus::ok);
    CHECK(fast2.record.command == "make \"all\"\n");
    CHECK(fast2.record.pgid == 99);
    CHECK(fast2.record.kind == LockKind::guard);
    full.record.unknown = nlohmann::json::object();
    CHECK(encode_lock(fast2.record) == encode_lock(full.record));
}

TEST_CASE("a command line with invalid UTF-8 is encoded, not thrown on", "[lock_file]") {
    LockRecord r;
    r.name = "x";
    r.owner = "o";
    r.acquired_ts = now();
    r.command = "tool \xff\xfe arg";
    std::string bytes;
    REQUIRE_NOTHROW(bytes = encode_lock(r));
    auto d = decode_lock(bytes);
    REQUIRE(d.status == DecodeStatus::ok);
    CHECK(d.record.command.rfind("tool ", 0) == 0);
    CHECK_NOTHROW(lock_to_json(r));
}
