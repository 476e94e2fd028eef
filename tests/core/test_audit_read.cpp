// Reading the audit log: --since by binary search, filters, garbage, generations, follow.

#include "audit_test_util.hpp"

#include "lokt/sys.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

using namespace lokt;
using namespace lokt::test;

namespace {

// A log of `n` events 1 ms apart, each up to 3 ms out of order (concurrent appenders), with
// `garbage` junk lines spread over its first tenth. Returns the decoded events in file order.
std::vector<AuditEvent> write_synthetic(const std::string& path, int n, int garbage = 0) {
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> jitter(-3, 3);
    std::vector<AuditEvent> events;
    std::ofstream out(path, std::ios::binary);
    int garbage_every = garbage ? std::max(1, n / 10 / garbage) : 0;
    int written_garbage = 0;
    for (int i = 0; i < n; ++i) {
        AuditEvent e = make_event(base_plus_ms(i + jitter(rng)), i % 3 ? "build" : "deploy", i);
        out << encode_event(e) << '\n';
        events.push_back(std::move(e));
        if (garbage_every && written_garbage < garbage && i % garbage_every == 0) {
            out << (written_garbage % 2 ? "{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"trunc" : "garbage line")
                << '\n';
            ++written_garbage;
        }
    }
    return events;
}

std::vector<int64_t> seqs(const std::vector<AuditEvent>& events) {
    std::vector<int64_t> out;
    for (const auto& e : events) out.push_back(e.extra.at("seq").get<int64_t>());
    return out;
}

} // namespace

TEST_CASE("since finds exactly the events at or after it on a 100,000-line log", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    auto all = write_synthetic(log.path(), 100'000);
    auto since_ms = GENERATE(-10'000, 0, 1, 17, 4'999, 50'000, 50'001, 77'777, 99'990, 99'999, 100'003, 200'000);
    TimePoint since = base_plus_ms(since_ms);
    std::vector<AuditEvent> expected;
    for (const auto& e : all)
        if (e.ts >= since) expected.push_back(e);
    AuditQuery q;
    q.since = since;
    INFO("since ms " << since_ms);
    CHECK(seqs(read_all(log, q)) == seqs(expected));
}

TEST_CASE("since does not read the part of the log before it", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    auto all = write_synthetic(log.path(), 100'000, 40);  // garbage only in the first tenth
    AuditReadStats full, tail;
    read_all(log, {}, &full);
    CHECK(full.garbage == 40);
    CHECK(full.matched == 100'000);
    AuditQuery q;
    q.since = base_plus_ms(60'000);
    read_all(log, q, &tail);
    CHECK(tail.garbage == 0);  // the lines with garbage were never looked at
    CHECK(tail.matched == size_t(std::count_if(all.begin(), all.end(),
                                               [&](const AuditEvent& e) { return e.ts >= *q.since; })));
}

TEST_CASE("garbage lines are skipped and counted", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    {
        std::ofstream out(log.path());
        out << encode_event(make_event(base_plus_ms(0), "a", 1)) << "\n"
            << "not json\n"
            << "\n"
            << R"({"ts":"2026-01-01T00:00:00Z","event":"acq)" << "\n"
            << encode_event(make_event(base_plus_ms(2), "a", 2)) << "\n"
            << "{}\n"
            << encode_event(make_event(base_plus_ms(3), "a", 3));  // no final newline
    }
    AuditReadStats st;
    CHECK(seqs(read_all(log, {}, &st)) == std::vector<int64_t>{1, 2, 3});
    CHECK(st.garbage == 3);
}

TEST_CASE("the name filter keeps only that lock's events", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    for (int i = 0; i < 30; ++i) REQUIRE(log.append(make_event(base_plus_ms(i), i % 3 ? "build" : "deploy", i)));
    AuditQuery q;
    q.name = "deploy";
    auto got = read_all(log, q);
    CHECK(seqs(got) == std::vector<int64_t>{0, 3, 6, 9, 12, 15, 18, 21, 24, 27});
    q.since = base_plus_ms(10);
    CHECK(seqs(read_all(log, q)) == std::vector<int64_t>{12, 15, 18, 21, 24, 27});
    q.name = "nothing";
    CHECK(read_all(log, q).empty());
}

TEST_CASE("the sink gets each line exactly as stored", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    std::string golden = file_text(std::string(LOKT_GOLDEN_DIR) + "/audit-v1.log");
    { std::ofstream(log.path(), std::ios::binary) << golden; }
    std::string echoed;
    REQUIRE(log.read({}, [&](std::string_view line, const AuditEvent&) { echoed.append(line).append("\n"); }));
    CHECK(echoed == golden);
}

TEST_CASE("no log at all reads as empty", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    AuditReadStats st;
    CHECK(read_all(log, {}, &st).empty());
    AuditLog nodir(d.path + "/missing/audit.log");
    CHECK(read_all(nodir).empty());
}

TEST_CASE("since skips whole older generations by their last line", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log", 1 << 20, 3);
    {
        std::ofstream g2(log.path() + ".2"), g1(log.path() + ".1"), live(log.path());
        g2 << "garbage in the oldest\n" << encode_event(make_event(base_plus_ms(0), "a", 0)) << "\n";
        g1 << "garbage in the middle\n" << encode_event(make_event(base_plus_ms(10'000), "a", 1)) << "\n";
        live << encode_event(make_event(base_plus_ms(20'000), "a", 2)) << "\n"
             << encode_event(make_event(base_plus_ms(30'000), "a", 3)) << "\n";
    }
    AuditReadStats st;
    CHECK(seqs(read_all(log, {}, &st)) == std::vector<int64_t>{0, 1, 2, 3});
    CHECK(st.garbage == 2);
    AuditQuery q;
    q.since = base_plus_ms(15'000);
    CHECK(seqs(read_all(log, q, &st)) == std::vector<int64_t>{2, 3});
    CHECK(st.garbage == 0);
    q.since = base_plus_ms(5'000);
    CHECK(seqs(read_all(log, q, &st)) == std::vector<int64_t>{1, 2, 3});
}

namespace {

// Runs follow() on a thread and collects what it delivers.
struct Follower {
    const AuditLog& log;
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<AuditEvent> got;
    std::thread thread;
    Result<AuditReadStats> result = Error{"not finished"};

    Follower(const AuditLog& l, AuditQuery q) : log(l) {
        thread = std::thread([this, q] {
            result = log.follow(q, [this](std::string_view, const AuditEvent& e) {
                std::lock_guard<std::mutex> g(mu);
                got.push_back(e);
            }, [this] { return stop.load(); });
        });
    }
    ~Follower() { finish(); }
    void finish() {
        stop = true;
        if (thread.joinable()) thread.join();
    }
    size_t count(const std::string& name) {
        std::lock_guard<std::mutex> g(mu);
        size_t n = 0;
        for (const auto& e : got) n += e.name == name;
        return n;
    }
    // Appends "ready" events until the follower has seen one: it is then past its start.
    void sync(const AuditLog& writer) {
        for (int i = 0; count("ready") == 0; ++i) {
            REQUIRE(i < 1000);
            REQUIRE(writer.append(make_event(now(), "ready", i)));
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    bool wait_for(const std::string& name, size_t n) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (count(name) < n) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return true;
    }
};

} // namespace

TEST_CASE("follow starts at the end and delivers new events", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    REQUIRE(log.append(make_event(base_plus_ms(0), "old", 0)));
    Follower f(log, {});
    f.sync(log);
    for (int i = 0; i < 20; ++i) REQUIRE(log.append(make_event(now(), "new", i)));
    CHECK(f.wait_for("new", 20));
    f.finish();
    REQUIRE(f.result);
    CHECK(f.count("old") == 0);
    CHECK(f.count("new") == 20);
}

TEST_CASE("follow with since prints the history first, then new events", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    REQUIRE(log.append(make_event(base_plus_ms(0), "ancient", 0)));
    REQUIRE(log.append(make_event(now(), "recent", 0)));
    AuditQuery q;
    q.since = now() - std::chrono::hours(1);
    Follower f(log, q);
    f.sync(log);
    REQUIRE(log.append(make_event(now(), "recent", 1)));
    CHECK(f.wait_for("recent", 2));
    f.finish();
    CHECK(f.count("ancient") == 0);
    std::lock_guard<std::mutex> g(f.mu);
    REQUIRE(f.got.size() >= 3);
    CHECK(f.got.front().name == "recent");
    CHECK(f.got.back().name == "recent");
}

TEST_CASE("follow survives rotations, even several between two looks", "[audit]") {
    TempDir d;
    const int line_len = int(encode_event(make_event(now(), "rot", 100)).size()) + 1;
    AuditLog writer(d.path + "/audit.log", uint64_t(line_len) * 5, 30);
    AuditLog reader(d.path + "/audit.log", uint64_t(line_len) * 5, 30);
    Follower f(reader, {});
    f.sync(writer);
    for (int i = 0; i < 60; ++i) REQUIRE(writer.append(make_event(now(), "rot", 100 + i)));
    REQUIRE(sys::exists(writer.path() + ".5"));
    CHECK(f.wait_for("rot", 60));
    f.finish();
    std::vector<int64_t> rot;
    for (const auto& e : f.got)
        if (e.name == "rot") rot.push_back(e.extra.at("seq").get<int64_t>());
    std::vector<int64_t> expected;
    for (int i = 0; i < 60; ++i) expected.push_back(100 + i);
    CHECK(rot == expected);
}

TEST_CASE("follow waits for a log that does not exist yet", "[audit]") {
    TempDir d;
    AuditLog log(d.path + "/audit.log");
    Follower f(log, {});
    f.sync(log);  // the first "ready" creates the file
    REQUIRE(log.append(make_event(now(), "later", 0)));
    CHECK(f.wait_for("later", 1));
}
