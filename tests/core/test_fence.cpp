// Fencing tokens of the file backend: every new holding of a name gets a number greater than
// every earlier holder's, whatever ended the earlier one (release, break, prune, corruption),
// across processes and store instances; a holding keeps its number while it lasts.
#include "lokt/store.hpp"
#include "lokt/sharing.hpp"

#include "store_fixture.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <ctime>
#include <set>
#include <string>

using namespace lokt;
using namespace lokt::test;
using namespace std::chrono_literals;

namespace {

LockRecord take(Store& s, const std::string& name, Nanos ttl = Nanos(0)) {
    auto r = s.try_acquire(request(s, name, ttl));
    REQUIRE(r);
    REQUIRE(std::holds_alternative<Acquired>(*r));
    return std::get<Acquired>(*r).record;
}

int64_t fence_on_disk(const Store& s, const std::string& name) {
    auto r = s.read(name);
    REQUIRE(r);
    REQUIRE(r->record);
    return r->record->fence;
}

/// Renews `held`, then updates it with a forged fence; returns the fence the renewal kept.
int64_t renew_and_forge(Store& s, const LockRecord& held) {
    auto renewed = s.renew(held.name, held.lock_id, 30min);
    REQUIRE(renewed);
    REQUIRE(*renewed);
    LockRecord forged = **renewed;
    forged.fence = 99;
    REQUIRE(s.update(forged));
    return (*renewed)->fence;
}

std::string fence_file(const TempRoot& t, const std::string& name) { return t.root.path + "/fence/" + name; }

} // namespace

TEST_CASE("the fence is written to the lock file and round-trips through the codec", "[store][fence]") {
    LockRecord r;
    r.name = "x";
    r.owner = "o";
    r.acquired_ts = now();
    r.fence = 42;
    auto d = decode_lock(encode_lock(r));
    REQUIRE(d.status == DecodeStatus::ok);
    CHECK(d.record.fence == 42);
    CHECK(d.record.unknown.empty());
    CHECK(detail::decode_lock_strict(encode_lock(r)).record.fence == 42);
    // The original's files carry none: 0, and a negative one is not a valid lock.
    r.fence = 0;
    CHECK(encode_lock(r).find("fence") == std::string::npos);
    CHECK(decode_lock("{\"version\":1,\"name\":\"x\",\"owner\":\"o\",\"pid\":1,\"acquired_ts\":"
                      "\"2020-01-01T00:00:00Z\",\"fence\":-3}").status == DecodeStatus::corrupt);
}

TEST_CASE("fences increase from holder to holder and stay with a holding", "[store][fence]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    auto first = take(a, "build", 10min);
    CHECK(first.fence == 1);
    CHECK(fence_on_disk(a, "build") == 1);
    CHECK(t.slurp(fence_file(t, "build")) == "1\n");

    // Refreshing one's own lease, renewing and updating are the same holding: same fence.
    CHECK(take(a, "build", 20min).fence == 1);
    CHECK(renew_and_forge(a, first) == 1);
    CHECK(fence_on_disk(a, "build") == 1);

    REQUIRE(a.release_owned("build"));
    CHECK(take(b, "build").fence == 2);
    // A name of its own counts on its own.
    CHECK(take(a, "deploy").fence == 1);
}

TEST_CASE("fences keep increasing after breaks, prunes and corrupt files", "[store][fence]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    int64_t last = take(a, "x", 1ns).fence;
    auto next = [&](Store& s, Nanos ttl) {
        int64_t f = take(s, "x", ttl).fence;
        CHECK(f > last);
        last = f;
    };
    next(b, 1h);  // auto-prune of the expired one
    REQUIRE(a.force_break("x"));
    next(a, 1ns);
    REQUIRE(b.break_stale("x"));
    next(b, 0ns);

    // Corrupt: the next holder replaces it (once the write grace is over) with a larger fence.
    t.write(t.root.lock_path("x"), "garbage");
    struct timespec old[2] = {{::time(nullptr) - 10, 0}, {::time(nullptr) - 10, 0}};
    REQUIRE(::utimensat(AT_FDCWD, t.root.lock_path("x").c_str(), old, 0) == 0);
    next(a, 1ns);

    // A fresh store (another process, a restart) continues from the counter on disk.
    Store c = t.store("agent-3");
    next(c, 0ns);
    CHECK(t.events("corrupt-break").size() == 1);
}

TEST_CASE("an unreadable counter never lets a fence fall below the lock it replaces", "[store][fence]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    for (int i = 0; i < 5; ++i) {
        take(a, "x");
        REQUIRE(a.release_owned("x"));
    }
    int64_t held = take(a, "x", 1ns).fence;
    CHECK(held == 6);
    t.write(fence_file(t, "x"), "not a number");
    CHECK(take(b, "x").fence == held + 1);  // the expired lock's fence is the floor
}

TEST_CASE("a lock of the original lokt (no fence) is followed by a counted one", "[store][fence]") {
    TempRoot t;
    Store a = t.store("agent-1");
    take(a, "x");
    REQUIRE(a.release_owned("x"));
    REQUIRE(ensure_root_dirs(t.root));
    // What the original writes: no fence, and an expired TTL.
    t.write(t.root.lock_path("x"),
            "{\"version\":1,\"name\":\"x\",\"lock_id\":\"0123456789abcdef0123456789abcdef\",\"owner\":\"go\","
            "\"host\":\"h\",\"pid\":1,\"acquired_ts\":\"2020-01-01T00:00:00Z\",\"ttl_sec\":1,"
            "\"expires_at\":\"2020-01-01T00:00:01Z\"}\n");
    CHECK(fence_on_disk(a, "x") == 0);
    CHECK(take(a, "x").fence == 2);
}

TEST_CASE("racing processes never get the same fence", "[store][fence]") {
    TempRoot t;
    constexpr int kChildren = 8, kRounds = 25;
    auto out = sys::pipe();
    REQUIRE(out);
    std::vector<pid_t> kids;
    for (int i = 0; i < kChildren; ++i) {
        kids.push_back(fork_child([&, i] {
            out->read.reset();
            Store s = t.store("racer-" + std::to_string(i));
            for (int got = 0; got < kRounds;) {
                auto r = s.try_acquire(request(s, "x"));
                if (!r) return 2;
                const auto* a = std::get_if<Acquired>(&*r);
                if (!a) continue;
                // Eight bytes per holding; a pipe write this small is atomic.
                if (!sys::write_all(out->write.get(),
                                    std::string_view(reinterpret_cast<const char*>(&a->record.fence), 8)))
                    return 2;
                auto rel = s.release_id("x", a->record.lock_id);
                if (!rel || rel->status != ReleaseStatus::released) return 3;
                ++got;
            }
            return 0;
        }));
    }
    out->write.reset();
    auto bytes = sys::read_all(out->read.get());
    for (pid_t k : kids) CHECK(reap(k) == 0);
    REQUIRE(bytes);
    REQUIRE(bytes->size() == size_t(kChildren * kRounds * 8));
    std::set<int64_t> fences;
    for (size_t off = 0; off < bytes->size(); off += 8) {
        int64_t f;
        std::memcpy(&f, bytes->data() + off, 8);
        fences.insert(f);
    }
    CHECK(fences.size() == size_t(kChildren * kRounds));
    // A creator that loses the link() race to another leaves a gap, never a repeat.
    CHECK(*fences.begin() >= 1);
}

TEST_CASE("every shared and slot holder gets a fence of its own from the name's counter", "[store][fence][shared]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    auto shared = [](const Store& s, const std::string& name, LockMode mode = LockMode::shared, int slots = 0) {
        AcquireRequest r = request(s, name);
        r.mode = mode;
        r.slots = slots;
        return r;
    };
    auto joined = [](Store& s, const AcquireRequest& req) {
        auto r = s.try_acquire(req);
        REQUIRE(r);
        REQUIRE(std::holds_alternative<Acquired>(*r));
        return std::get<Acquired>(*r).record;
    };
    CHECK(take(a, "db").fence == 1);
    REQUIRE(a.release_owned("db"));
    LockRecord ra = joined(a, shared(a, "db"));
    LockRecord rb = joined(b, shared(b, "db"));
    CHECK(ra.fence == 2);
    CHECK(rb.fence == 3);
    // Each holder file carries its own; the group record mirrors one of them.
    auto hs = a.holders("db");
    REQUIRE(hs);
    REQUIRE(hs->size() == 2);
    CHECK(std::set<int64_t>{(*hs)[0].fence, (*hs)[1].fence} == std::set<int64_t>{2, 3});
    CHECK((fence_on_disk(a, "db") == 2 || fence_on_disk(a, "db") == 3));
    // Renewing and updating a holder keep its fence: it is the same holding.
    CHECK(renew_and_forge(b, rb) == 3);
    auto after = b.holder("db", rb.lock_id);
    REQUIRE(after);
    REQUIRE(*after);
    CHECK((*after)->fence == 3);
    REQUIRE(a.release_owned("db"));
    REQUIRE(b.release_owned("db"));
    // The next exclusive holder, and a slot holder after it, continue the same count.
    CHECK(take(b, "db").fence == 4);
    REQUIRE(b.release_owned("db"));
    CHECK(joined(a, shared(a, "db", LockMode::slots, 2)).fence == 5);
    CHECK(joined(b, shared(b, "db", LockMode::slots, 2)).fence == 6);
    // An unreadable counter: a new holder still goes above every live holder's fence.
    REQUIRE(a.release_owned("db"));
    t.write(fence_file(t, "db"), "not a number");
    CHECK(joined(a, shared(a, "db", LockMode::slots, 2)).fence == 7);
}
