// The audit log's line format and its writer: golden compatibility, atomic appends,
// rotation, and failures that must not leave partial lines.

#include "audit_test_util.hpp"

#include "lokt/sys.hpp"
#include "support/process.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

using namespace lokt;
using namespace lokt::test;

TEST_CASE("golden audit lines decode and re-encode byte for byte", "[audit]") {
    auto lines = file_lines(std::string(LOKT_GOLDEN_DIR) + "/audit-v1.log");
    REQUIRE(lines.size() == 16);
    for (const auto& line : lines) {
        INFO(line);
        auto e = decode_event(line);
        REQUIRE(e);
        CHECK(encode_event(*e) == line);
    }
}

TEST_CASE("golden fields decode to their values", "[audit]") {
    auto lines = file_lines(std::string(LOKT_GOLDEN_DIR) + "/audit-v1.log");
    auto e = decode_event(lines.at(2));
    REQUIRE(e);
    CHECK(e->event == "auto-prune");
    CHECK(e->name == "build");
    CHECK(e->lock_id == "6a173209907a5ff193951a4b174adfc2");
    CHECK(e->owner == "agent-2");
    CHECK(e->host == "vm");
    CHECK(e->pid == 11452);
    CHECK(e->agent_id == "agent-02a2");
    CHECK(e->ttl_sec == 0);
    CHECK(e->extra.at("pruned_owner") == "agent-1");
    CHECK(e->extra.at("pruned_pid") == 11442);
    CHECK(format_rfc3339_nano(e->ts) == "2026-11-27T15:51:22.836120573Z");
}

TEST_CASE("empty lock_id, agent_id, ttl_sec and extra are omitted", "[audit]") {
    AuditEvent e;
    e.ts = at_ns(1'767'225'600'000'000'000LL);
    e.event = "deny";
    e.name = "x";
    e.owner = "o";
    e.host = "h";
    e.pid = 0;
    CHECK(encode_event(e) ==
          R"({"ts":"2026-01-01T00:00:00Z","event":"deny","name":"x","owner":"o","host":"h","pid":0})");
    e.extra = nlohmann::json::object();
    CHECK(encode_event(e).find("extra") == std::string::npos);
}

TEST_CASE("strings are escaped as Go's encoding/json does", "[audit]") {
    AuditEvent e = make_event(base_plus_ms(0), "n", 1);
    e.owner = "a<b>&\"c\\\n\t\x01\xe2\x80\xa8z\xff";
    e.extra = nlohmann::json{{"b", 1}, {"a", "x<y"}};
    std::string line = encode_event(e);
    CHECK(line.find(R"("owner":"a\u003cb\u003e\u0026\"c\\\n\t\u0001\u2028z\ufffd")") != std::string::npos);
    CHECK(line.find(R"("extra":{"a":"x\u003cy","b":1})") != std::string::npos);
    auto back = decode_event(line);
    REQUIRE(back);
    CHECK(back->owner == "a<b>&\"c\\\n\t\x01\xe2\x80\xa8z\xef\xbf\xbd");
    CHECK(back->extra == e.extra);
}

TEST_CASE("decode ignores unknown fields and accepts any field order", "[audit]") {
    auto e = decode_event(R"({"event":"renew","future":{"a":[1,2,{"b":null}]},"ts":"2026-11-27T16:51:22+01:00","name":"g","pid":7,"kind":"guard"})");
    REQUIRE(e);
    CHECK(e->event == "renew");
    CHECK(e->name == "g");
    CHECK(e->pid == 7);
    CHECK(format_rfc3339_nano(e->ts) == "2026-11-27T15:51:22Z");
    CHECK(peek_event_ts(R"({"event":"x","ts":"2026-11-27T15:51:22Z"})").has_value());
}

TEST_CASE("decode rejects garbage", "[audit]") {
    auto bad = GENERATE(as<std::string>{}, "", "not json", "{}", "[]", "{\"ts\":\"2026-11-27T15:51:22Z\"}",
                        R"({"event":"acquire","name":"b"})",
                        R"({"ts":"yesterday","event":"acquire"})",
                        R"({"ts":"2026-11-27T15:51:22Z","event":"acquire","pid":"12"})",
                        R"({"ts":"2026-11-27T15:51:22Z","event":"acq)",
                        R"({"ts":"2026-11-27T15:51:22Z","event":"acq{"ts":"2026-11-27T15:51:22Z","event":"x"})",
                        R"({"ts":"2026-11-27T15:51:22Z","event":"acquire"} trailing)",
                        R"({"ts":"2026-11-27T15:51:22Z","event":"acquire","extra":{"a":}})");
    INFO(bad);
    CHECK_FALSE(decode_event(bad));
}

TEST_CASE("append writes one complete line per event", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    REQUIRE(log.append(make_event(base_plus_ms(0), "a", 1)));
    REQUIRE(log.append(make_event(base_plus_ms(1), "b", 2)));
    auto lines = file_lines(log.path());
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == encode_event(make_event(base_plus_ms(0), "a", 1)));
    CHECK(file_text(log.path()).back() == '\n');
    auto st = sys::stat(log.path());
    REQUIRE(st);
    CHECK((st->st_mode & 0777) == (0644 & ~[] { mode_t m = ::umask(0); ::umask(m); return m; }()));
}

TEST_CASE("concurrent writers never interleave within a line", "[audit]") {
    TempDir d;
    const std::string path = d.path + "/audit.log";
    constexpr int kWriters = 8, kEvents = 2000;
    std::vector<pid_t> kids;
    for (int w = 0; w < kWriters; ++w) {
        kids.push_back(fork_child([&, w] {
            AuditLog log(path);
            for (int i = 0; i < kEvents; ++i) {
                AuditEvent e = make_event(now(), "n" + std::to_string(w), i, "writer-" + std::to_string(w));
                if (!log.append(e)) return 1;
            }
            return 0;
        }));
    }
    for (pid_t k : kids) CHECK(reap(k) == 0);
    auto lines = file_lines(path);
    REQUIRE(lines.size() == size_t(kWriters) * kEvents);
    std::map<std::string, int64_t> next;
    for (const auto& line : lines) {
        auto e = decode_event(line);
        REQUIRE(e);
        // Each writer's own events appear whole and in its order.
        int64_t seq = e->extra.at("seq").get<int64_t>();
        CHECK(seq == next[e->owner]);
        next[e->owner] = seq + 1;
    }
    CHECK(next.size() == size_t(kWriters));
}

TEST_CASE("a full disk is an error and leaves no partial line", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    REQUIRE(log.append(make_event(base_plus_ms(0), "a", 1)));
    std::string before = file_text(log.path());
    auto r = [&] {
        ScopedWriteFailure full(ENOSPC);
        return log.append(make_event(base_plus_ms(1), "a", 2));
    }();
    REQUIRE_FALSE(r);
    CHECK(r.error().sys_errno == ENOSPC);
    CHECK(r.error().message.find("audit log") != std::string::npos);
    CHECK(file_text(log.path()) == before);
}

TEST_CASE("a missing or unwritable directory is a clean error", "[audit]") {
    TempDir d;
    AuditLog missing(d.path + "/nope/audit.log");
    auto r = missing.append(make_event(base_plus_ms(0), "a", 1));
    REQUIRE_FALSE(r);
    CHECK(r.error().sys_errno == ENOENT);
    CHECK_FALSE(sys::exists(d.path + "/nope"));
    // Root writes anywhere: the unwritable case runs in a child that drops to nobody.
    REQUIRE(::chmod(d.path.c_str(), 0555) == 0);
    pid_t pid = fork_child([&] {
        if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 3;
        AuditLog ro(d.path + "/audit.log");
        auto w = ro.append(make_event(base_plus_ms(0), "a", 1));
        if (w) return 1;
        return w.error().sys_errno == EACCES ? 0 : 2;
    });
    CHECK(reap(pid) == 0);
    ::chmod(d.path.c_str(), 0755);
}

TEST_CASE("LOKT_AUDIT_MAX_BYTES overrides the rotation size", "[audit]") {
    auto with = [](std::optional<std::string> v) {
        ScopedEnv env("LOKT_AUDIT_MAX_BYTES", std::move(v));
        return AuditLog("/x/audit.log");
    };
    AuditLog a = with("12345");
    AuditLog b = with("garbage");
    AuditLog c = with(std::nullopt);
    CHECK(a.max_bytes() == 12345);
    CHECK(b.max_bytes() == kAuditDefaultMaxBytes);
    CHECK(c.max_bytes() == kAuditDefaultMaxBytes);
    CHECK(c.generations() == kAuditDefaultGenerations);
    CHECK(AuditLog("/x/audit.log", 99, 5).max_bytes() == 99);
}

TEST_CASE("rotation keeps N generations and reads go across them in order", "[audit]") {
    TempDir d;
    const int line_len = int(encode_event(make_event(base_plus_ms(0), "a", 100)).size()) + 1;
    AuditLog log(d.path + "/audit.log", uint64_t(line_len) * 10, 3);
    constexpr int kEvents = 200;
    for (int i = 0; i < kEvents; ++i) REQUIRE(log.append(make_event(base_plus_ms(i), "a", 100 + i)));
    CHECK(sys::exists(log.path() + ".1"));
    CHECK(sys::exists(log.path() + ".2"));
    CHECK(sys::exists(log.path() + ".3"));
    CHECK_FALSE(sys::exists(log.path() + ".4"));
    CHECK(log.existing_files() ==
          std::vector<std::string>{log.path() + ".3", log.path() + ".2", log.path() + ".1", log.path()});
    for (const auto& f : log.existing_files()) CHECK(file_lines(f).size() <= 10);
    auto events = read_all(log);
    REQUIRE(events.size() >= 30);
    REQUIRE(events.size() <= 40);
    // The newest events, contiguous, oldest first.
    for (size_t i = 0; i < events.size(); ++i)
        CHECK(events[i].extra.at("seq") == 100 + kEvents - int(events.size()) + int(i));
}

TEST_CASE("concurrent writers rotate once per full file and lose nothing", "[audit]") {
    TempDir d;
    const std::string path = d.path + "/audit.log";
    constexpr int kWriters = 4, kEvents = 500, kGenerations = 60;
    // Racing writers overshoot a file before one of them rotates it, so the count of files
    // varies: 10 to 17 at 20000 bytes (so "> 10" flaked), 19 to 35 at 10000 in 40 runs.
    const uint64_t max_bytes = 10000;
    std::vector<pid_t> kids;
    for (int w = 0; w < kWriters; ++w) {
        kids.push_back(fork_child([&, w] {
            AuditLog log(path, max_bytes, kGenerations);
            for (int i = 0; i < kEvents; ++i)
                if (!log.append(make_event(now(), "n", i, "w" + std::to_string(w)))) return 1;
            return 0;
        }));
    }
    for (pid_t k : kids) CHECK(reap(k) == 0);
    AuditLog log(path, max_bytes, kGenerations);
    CHECK_FALSE(sys::exists(path + "." + std::to_string(kGenerations)));
    // Size is re-checked under the rotation lock: a file that a racing writer has just
    // rotated in is never rotated again while it is still small.
    auto files = log.existing_files();
    REQUIRE(files.size() > 10);
    for (const auto& f : files)
        if (f != path) CHECK(uint64_t(sys::stat(f)->st_size) >= max_bytes);
    std::set<std::pair<std::string, int64_t>> seen;
    for (const auto& e : read_all(log)) seen.insert({e.owner, e.extra.at("seq").get<int64_t>()});
    CHECK(seen.size() == size_t(kWriters) * kEvents);
}
