// The lock-file decoders against corrupt input (F14): the fast flat decoder and the strict
// nlohmann one must agree on every file — the fast one may decline anything (the strict one
// then decides), but what it accepts the strict one must accept as the same record.
#include "lokt/lock_file.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace lokt;

namespace {

const std::string kGood = R"({
  "version": 1,
  "name": "build",
  "lock_id": "b077153776f2a0d04e5462dd2f7d34b7",
  "owner": "agent-1",
  "host": "vm",
  "pid": 11689,
  "pid_start_ns": 45936,
  "agent_id": "agent-1936",
  "acquired_ts": "2026-11-27T15:51:33.612486605Z",
  "ttl_sec": 600,
  "expires_at": "2026-11-27T16:01:33.612486605Z",
  "kind": "guard",
  "pgid": 11690,
  "command": "make -j8"
}
)";

const std::vector<std::string> kFields = {"version", "name", "lock_id", "owner", "host", "pid",
                                          "pid_start_ns", "agent_id", "acquired_ts", "ttl_sec",
                                          "expires_at", "kind", "pgid", "command"};

// kGood with the value of `field` replaced by the JSON text `value`.
std::string with_value(const std::string& field, const std::string& value) {
    std::string s = kGood;
    size_t at = s.find("\"" + field + "\": ");
    REQUIRE(at != std::string::npos);
    size_t from = at + field.size() + 4;
    size_t to = s.find_first_of(",\n", from);
    if (s[to - 1] == '"' && s[from] == '"') to = s.find('"', from + 1) + 1;
    return s.substr(0, from) + value + s.substr(to);
}

// kGood with `member` ("\"key\": value") added as the last member.
std::string with_member(const std::string& member) {
    std::string s = kGood;
    size_t close = s.rfind('}');
    size_t last = s.rfind('"', close);
    return s.substr(0, last + 1) + ",\n  " + member + s.substr(last + 1);
}

struct Case {
    std::string what;
    std::string bytes;
};

std::vector<Case> corpus() {
    std::vector<Case> c;
    c.push_back({"good", kGood});
    for (size_t n = 0; n < kGood.size(); ++n) c.push_back({"truncated to " + std::to_string(n), kGood.substr(0, n)});
    for (const char* g : {"null", "[]", "\"str\"", "42", "{", "}", "{}", "{\"name\"}", "{,}", "\xef\xbb\xbf{}"})
        c.push_back({std::string("garbage ") + g, g});
    c.push_back({"NUL bytes", std::string(64, '\0')});
    c.push_back({"byte order mark", "\xef\xbb\xbf" + kGood});
    c.push_back({"trailing garbage", kGood + "x"});
    c.push_back({"two objects", kGood + kGood});
    c.push_back({"trailing NUL", kGood + std::string(1, '\0')});
    c.push_back({"no whitespace", R"({"version":1,"name":"b","owner":"o","pid":1,"acquired_ts":"2026-11-27T15:51:33Z"})"});
    std::mt19937 rng(20261130);
    for (int i = 0; i < 200; ++i) {
        std::string noise(1 + rng() % 200, '\0');
        for (auto& ch : noise) ch = static_cast<char>(rng());
        c.push_back({"random bytes " + std::to_string(i), noise});
        std::string flipped = kGood;
        flipped[rng() % flipped.size()] = static_cast<char>(rng());
        c.push_back({"one byte changed " + std::to_string(i), flipped});
    }
    for (const auto& f : kFields)
        for (const char* v : {"\"text\"", "\"\"", "1", "0", "-1", "1.5", "1e3", "true", "null", "[]", "{}", "[1]",
                              "{\"a\":1}"})
            c.push_back({f + " = " + v, with_value(f, v)});
    for (const char* v : {"007", "-0", "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967296",
                          "9223372036854775807", "9223372036854775808", "18446744073709551615",
                          "18446744073709551616", "99999999999999999999999"}) {
        for (const char* f : {"pid", "pid_start_ns", "pgid", "version"})
            c.push_back({std::string(f) + " = " + v, with_value(f, v)});
    }
    for (const char* v : {"2", "\"1\"", "1.0", "0"}) c.push_back({std::string("version = ") + v, with_value("version", v)});
    for (const char* v : {"\"weird\"", "\"lease\"", "\"shim\"", "\"GUARD\""}) c.push_back({std::string("kind = ") + v, with_value("kind", v)});
    for (const char* v : {"\"2026-11-27T15:51:33Z\"", "\"2026-11-27T15:51:33+02:00\"", "\"2026-13-27T15:51:33Z\"",
                          "\"2026-11-27 15:51:33Z\"", "\"yesterday\"", "\"9999-12-31T23:59:59Z\""}) {
        c.push_back({std::string("acquired_ts = ") + v, with_value("acquired_ts", v)});
        c.push_back({std::string("expires_at = ") + v, with_value("expires_at", v)});
    }
    c.push_back({"duplicate name", with_member("\"name\": \"other\"")});
    c.push_back({"duplicate pid", with_member("\"pid\": 7")});
    c.push_back({"duplicate version", with_member("\"version\": 2")});
    c.push_back({"duplicate kind", with_member("\"kind\": \"lease\"")});
    c.push_back({"unknown field", with_member("\"fencing\": {\"token\": 7, \"list\": [1, 2.5, null]}")});
    c.push_back({"unknown and duplicate", with_member("\"x\": 1, \"x\": 2")});
    c.push_back({"deep unknown", with_member("\"deep\": " + std::string(300, '[') + std::string(300, ']'))});
    c.push_back({"huge command", with_value("command", "\"" + std::string(1 << 20, 'a') + "\"")});
    c.push_back({"huge whitespace", std::string(1 << 20, ' ') + kGood});
    c.push_back({"huge number", with_value("pid", std::string(100000, '9'))});
    for (const char* s : {"\xff", "\xc3\x28", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xc3\xbc",
                          "\xf0\x9f\x98\x80", "\\ud800", "\\udc00x", "\\ud83d\\ude00", "\\u00fc", "\\\\ud800",
                          "\\u0000", "\t", "\x01", "\\x", "\\"})
        c.push_back({std::string("owner with ") + s, with_value("owner", std::string("\"a") + s + "b\"")});
    return c;
}

std::string show(const Decoded& d) {
    switch (d.status) {
    case DecodeStatus::ok: return "ok " + encode_lock(d.record) + " version " + std::to_string(d.record.version);
    case DecodeStatus::corrupt: return "corrupt";
    case DecodeStatus::future_version: return "future version";
    }
    return "?";
}

} // namespace

TEST_CASE("the fast and the strict lock decoder agree on every corrupt file", "[lock_file][corrupt]") {
    size_t fast_accepted = 0;
    for (const auto& c : corpus()) {
        INFO(c.what);
        const Decoded strict = detail::decode_lock_strict(c.bytes);
        const Decoded combined = decode_lock(c.bytes);
        CHECK(show(combined) == show(strict));
        if (auto fast = detail::decode_lock_fast(c.bytes)) {
            ++fast_accepted;
            REQUIRE(strict.status == DecodeStatus::ok);
            CHECK(encode_lock(*fast) == encode_lock(strict.record));
            CHECK(fast->version == strict.record.version);
        }
    }
    CHECK(fast_accepted >= 50);  // the fast path is exercised, not declined wholesale
}

TEST_CASE("corrupt lock files are reported as corrupt", "[lock_file][corrupt]") {
    auto status = [](const std::string& bytes) { return decode_lock(bytes).status; };
    CHECK(status(kGood) == DecodeStatus::ok);
    CHECK(status("") == DecodeStatus::corrupt);
    CHECK(status(kGood.substr(0, kGood.size() / 2)) == DecodeStatus::corrupt);
    CHECK(status("null") == DecodeStatus::corrupt);
    CHECK(status(with_value("pid", "\"11689\"")) == DecodeStatus::corrupt);
    CHECK(status(with_value("pid", "1.5")) == DecodeStatus::corrupt);
    CHECK(status(with_value("pid", "4294967296")) == DecodeStatus::corrupt);   // not a pid
    CHECK(status(with_value("pgid", "-2147483649")) == DecodeStatus::corrupt);
    CHECK(status(with_value("owner", "\"a\xff" "b\"")) == DecodeStatus::corrupt);
    CHECK(status(with_value("owner", "\"a\\ud800b\"")) == DecodeStatus::corrupt);
    CHECK(status(with_value("version", "2")) == DecodeStatus::future_version);
    CHECK(decode_lock(with_member("\"pid\": 7")).record.pid == 7);  // the last one, as Go
}
