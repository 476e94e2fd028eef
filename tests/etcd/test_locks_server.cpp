// Lock operations against a real etcd on loopback, in one process with several sessions.
#include "etcd_server.hpp"

#include "lokt/etcd/locks.hpp"
#include "lokt/identity.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <thread>

using namespace lokt;
using namespace lokt::etcd;
using lokt::etcd::test::EtcdServer;

namespace {

std::unique_ptr<Client> client_for(const EtcdServer& s) {
    auto u = parse_backend_url(s.url("t"));
    REQUIRE(u.ok());
    ClientOptions o;
    o.url = *u;
    o.request_timeout = std::chrono::seconds(3);
    return std::make_unique<Client>(lokt::etcd::test::plain_client(o));
}

LockRecord who(const std::string& owner) {
    LockRecord r;
    r.lock_id = random_lock_id();
    r.owner = owner;
    r.host = "h";
    r.pid = 1234;
    r.acquired_ts = now();
    r.kind = LockKind::guard;
    return r;
}

std::unique_ptr<Session> session(Client& c, int64_t ttl = 10) {
    auto s = Session::open(c, ttl);
    REQUIRE(s.ok());
    return std::move(*s);
}

// One etcd, a client for it and the lock operations under prefix "t".
struct LockEnv {
    EtcdServer server;
    std::unique_ptr<Client> client = client_for(server);
    Locks locks{*client, "t"};
};

} // namespace

TEST_CASE("etcd locks: try-acquire fails at once with the holder's record; release frees", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    auto s1 = session(*c);
    auto a = locks.try_acquire("deploy", who("alice"), *s1);
    REQUIRE(a.ok());
    REQUIRE(a->status == AcquireStatus::acquired);
    CHECK(a->held.key == locks.keys().holder_key("deploy", s1->lease()));
    CHECK(a->held.fence > 0);

    auto s2 = session(*c);
    auto b = locks.try_acquire("deploy", who("bob"), *s2);
    REQUIRE(b.ok());
    REQUIRE(b->status == AcquireStatus::busy);
    CHECK(b->holder->record.owner == "alice");
    CHECK(b->holder->fence == a->held.fence);
    CHECK(b->holder->record.unknown.empty());
    CHECK(locks.list()->queues.at("deploy").size() == 1);  // bob left no key behind

    CHECK(*locks.fence_is_current("deploy", a->held.fence));
    auto rel = locks.release(a->held, *s1);
    REQUIRE(rel.ok());
    CHECK(*rel);
    CHECK_FALSE(*locks.fence_is_current("deploy", a->held.fence));
    auto c2 = locks.try_acquire("deploy", who("bob"), *s2);
    REQUIRE(c2.ok());
    REQUIRE(c2->status == AcquireStatus::acquired);
    CHECK(c2->held.fence > a->held.fence);

    auto events = locks.audit_events();
    REQUIRE(events.ok());
    REQUIRE(events->size() == 3);
    CHECK((*events)[0].event == "acquire");
    CHECK((*events)[0].owner == "alice");
    CHECK((*events)[0].extra["fence"] == a->held.fence);
    CHECK((*events)[1].event == "release");
    CHECK((*events)[2].event == "acquire");
    CHECK((*events)[2].owner == "bob");
}

TEST_CASE("etcd locks: the stored value is the lock file JSON; the fence is the create revision", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    auto s = session(*c);
    auto a = locks.try_acquire("n", who("alice"), *s);
    REQUIRE(a.ok());
    auto kv = c->range(RangeRequest{a->held.key, ""});
    REQUIRE(kv.ok());
    auto j = nlohmann::json::parse(kv->kvs.at(0).value);
    CHECK(j["version"] == 1);
    CHECK(j["name"] == "n");
    CHECK(j["owner"] == "alice");
    CHECK(j["kind"] == "guard");
    // Taken free, in the transaction that created the key: the value cannot know its fence.
    CHECK_FALSE(j.contains("fence"));
    CHECK(kv->kvs.at(0).create_revision == a->held.fence);
    CHECK(decode_lock_entry(locks.keys(), kv->kvs.at(0)).record.fence == a->held.fence);
    CHECK(kv->kvs.at(0).lease == s->lease());
}

TEST_CASE("etcd locks: a free name is taken, and a held one refused to a try, in one transaction", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    auto s1 = session(*c);
    auto s2 = session(*c);
    auto revision = [&] {
        auto r = c->range(RangeRequest{"t/", prefix_end("t/"), 1});
        REQUIRE(r.ok());
        return r->revision;
    };
    const int64_t before = revision();
    auto a = locks.try_acquire("n", who("alice"), *s1);
    REQUIRE(a.ok());
    REQUIRE(a->status == AcquireStatus::acquired);
    // One write: the holder key and its acquire event share the revision, which is the fence.
    CHECK(revision() == before + 1);
    CHECK(a->held.fence == before + 1);
    auto events = locks.audit_events();
    REQUIRE(events.ok());
    REQUIRE(events->size() == 1);
    CHECK((*events)[0].extra["fence"] == a->held.fence);

    auto b = locks.try_acquire("n", who("bob"), *s2);
    REQUIRE(b.ok());
    REQUIRE(b->status == AcquireStatus::busy);
    CHECK(b->holder->record.owner == "alice");
    CHECK(revision() == before + 1);  // refused without writing (and undoing) a queue key
}

TEST_CASE("etcd locks: a waiter times out and leaves the queue", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    auto s1 = session(*c);
    REQUIRE(locks.try_acquire("n", who("a"), *s1)->status == AcquireStatus::acquired);
    auto s2 = session(*c);
    int64_t queued = 0;
    // Long enough for the waiter to queue itself (a round trip or two) on a loaded machine.
    auto w = locks.acquire("n", who("b"), *s2, Deadline::after(std::chrono::milliseconds(2000)),
                           [&](int64_t rev) { queued = rev; });
    REQUIRE(w.ok());
    CHECK(w->status == AcquireStatus::timeout);
    CHECK(queued > 0);
    CHECK(locks.list()->queues.at("n").size() == 1);
}

TEST_CASE("etcd locks: a waiter whose predecessor gives up waits on for the holder", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    auto s1 = session(*c);
    auto a = locks.try_acquire("n", who("a"), *s1);
    REQUIRE(a->status == AcquireStatus::acquired);
    auto s2 = session(*c);
    auto s3 = session(*c);
    std::atomic<bool> b_queued{false};
    std::atomic<int64_t> c_queued{0};
    std::atomic<bool> c_done{false};
    Result<AcquireOutcome> b = Error{""}, cw = Error{""};
    // b queues behind a and gives up; c, queued behind b, watches b's key, whose deletion
    // must send it back to waiting for a (the confirmation finds a older), not to holding.
    std::thread tb([&] {
        b = locks.acquire("n", who("b"), *s2, Deadline::after(std::chrono::seconds(3)), [&](int64_t) { b_queued = true; });
    });
    while (!b_queued) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::thread tc([&] {
        cw = locks.acquire("n", who("c"), *s3, Deadline::after(std::chrono::seconds(60)), [&](int64_t r) { c_queued = r; });
        c_done = true;
    });
    tb.join();
    REQUIRE(b.ok());
    CHECK(b->status == AcquireStatus::timeout);
    while (!c_queued) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // Give c the time to see b go: had it taken the lock then, it would be done (a correct c
    // never is, however long this waits; a slow machine only makes the check weaker).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!c_done && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK_FALSE(c_done);
    REQUIRE(*locks.release(a->held, *s1));
    tc.join();
    REQUIRE(cw.ok());
    REQUIRE(cw->status == AcquireStatus::acquired);
    CHECK(cw->held.fence > a->held.fence);
    // c's acquisition comes after a's release.
    auto events = locks.audit_events();
    REQUIRE(events.ok());
    std::vector<std::string> seen;
    for (const auto& e : *events) seen.push_back(e.event + " " + e.owner);
    CHECK(seen == std::vector<std::string>{"acquire a", "release a", "acquire c"});
}

TEST_CASE("etcd locks: force break deletes the holder, revokes its lease, audits it", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    auto s1 = session(*c, 5);
    auto a = locks.try_acquire("n", who("a"), *s1);
    REQUIRE(a->status == AcquireStatus::acquired);
    auto stale = locks.break_lock("n", BreakMode::stale, who("admin"));
    REQUIRE(stale.ok());
    CHECK_FALSE(stale->has_value());  // its lease lives: not stale
    auto broke = locks.break_lock("n", BreakMode::force, who("admin"));
    REQUIRE(broke.ok());
    REQUIRE(broke->has_value());
    CHECK((*broke)->fence == a->held.fence);
    CHECK_FALSE(locks.holder("n")->has_value());
    auto ready = sys::wait_readable(s1->lost_fd(), 30000);
    REQUIRE(ready.ok());
    CHECK(*ready);
    auto rel = locks.release(a->held, *s1);
    REQUIRE(rel.ok());
    CHECK_FALSE(*rel);  // it had been lost
    auto events = locks.audit_events();
    REQUIRE(events.ok());
    CHECK(events->back().event == "force-break");
    CHECK(events->back().owner == "admin");
}

TEST_CASE("etcd locks: a freeze blocks acquiring until it is lifted or expires", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    REQUIRE(locks.freeze("n", who("ops"), 60).ok());
    auto s = session(*c);
    auto f = locks.try_acquire("n", who("a"), *s);
    REQUIRE(f.ok());
    REQUIRE(f->status == AcquireStatus::frozen);
    CHECK(f->freeze->record.owner == "ops");
    auto snap = locks.list();
    REQUIRE(snap.ok());
    REQUIRE(snap->freezes.size() == 1);
    CHECK(snap->freezes[0].name == "n");
    CHECK(snap->queues.empty());
    CHECK(*locks.unfreeze("n", who("ops")));
    CHECK_FALSE(*locks.unfreeze("n", who("ops")));
    CHECK(locks.try_acquire("n", who("a"), *s)->status == AcquireStatus::acquired);

    // A waiting acquire sees the freeze expire by itself (its lease TTL), then takes the lock.
    REQUIRE(locks.freeze("m", who("ops"), 2).ok());
    auto s2 = session(*c);
    auto w = locks.acquire("m", who("b"), *s2, Deadline::after(std::chrono::seconds(30)));
    REQUIRE(w.ok());
    CHECK(w->status == AcquireStatus::acquired);
}

TEST_CASE("etcd locks: etcd down is an error and claims nothing; etcd back works", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    server.stop();
    auto s = Session::open(*c, 5);
    REQUIRE_FALSE(s.ok());
    const std::string want = "lock backend etcd://" + server.endpoint() + " unreachable: ";
    CHECK(s.error().message.rfind(want, 0) == 0);
    server.start();
    CHECK(locks.list()->queues.empty());
    auto s2 = session(*c);
    CHECK(locks.try_acquire("n", who("a"), *s2)->status == AcquireStatus::acquired);
}

namespace {

LockRecord asking(const std::string& owner, LockMode mode, int slots = 0) {
    LockRecord r = who(owner);
    set_sharing(r, Sharing{mode, slots, -1, {}});
    return r;
}

int slot_of(const AcquireOutcome& a) { return sharing_of(a.held.record).slot; }

/// Slot `slot` of `name` is claimed by `held`'s key, under its lease.
void check_claim(Client& c, const Locks& locks, const std::string& name, int slot, const Held& held) {
    auto claim = c.range(RangeRequest{locks.keys().slot_key(name, slot), ""});
    REQUIRE(claim.ok());
    REQUIRE(claim->kvs.size() == 1);
    CHECK(claim->kvs[0].value == held.key);
    CHECK(claim->kvs[0].lease == held.lease);
}

} // namespace

TEST_CASE("etcd locks: slot holders claim distinct slots under their leases; a dead lease frees its slot",
          "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    auto s1 = session(*c, 5), s2 = session(*c), s3 = session(*c);
    auto a = locks.try_acquire("p", asking("a", LockMode::slots, 2), *s1);
    auto b = locks.try_acquire("p", asking("b", LockMode::slots, 2), *s2);
    REQUIRE((a.ok() && b.ok()));
    REQUIRE((a->status == AcquireStatus::acquired && b->status == AcquireStatus::acquired));
    CHECK(slot_of(*a) == 0);
    CHECK(slot_of(*b) == 1);
    check_claim(*c, locks, "p", 0, a->held);
    // Full: a try is busy and leaves nothing behind.
    auto full = locks.try_acquire("p", asking("c", LockMode::slots, 2), *s3);
    REQUIRE(full.ok());
    CHECK(full->status == AcquireStatus::busy);
    CHECK(locks.queue("p")->size() == 2);
    // A holder whose lease dies (a SIGKILLed guard) gives its key and its claim back at once.
    REQUIRE(s1->revoke().ok());
    auto next = locks.acquire("p", asking("c", LockMode::slots, 2), *s3, Deadline::after(std::chrono::seconds(30)));
    REQUIRE(next.ok());
    REQUIRE(next->status == AcquireStatus::acquired);
    CHECK(slot_of(*next) == 0);
}

TEST_CASE("etcd locks: a claim that names no queued key counts as free", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    REQUIRE(c->put(PutRequest{locks.keys().slot_key("p", 0), "t/p/dead", 0}).ok());
    auto s = session(*c);
    auto a = locks.try_acquire("p", asking("a", LockMode::slots, 3), *s);
    REQUIRE(a.ok());
    REQUIRE(a->status == AcquireStatus::acquired);
    CHECK(slot_of(*a) == 0);
    CHECK(c->range(RangeRequest{locks.keys().slot_key("p", 0), ""})->kvs.at(0).value == a->held.key);
}

TEST_CASE("etcd locks: shared holders go together; an exclusive one waits for all of them", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    auto s1 = session(*c), s2 = session(*c), s3 = session(*c), s4 = session(*c);
    auto r1 = locks.try_acquire("db", asking("r1", LockMode::shared), *s1);
    auto r2 = locks.try_acquire("db", asking("r2", LockMode::shared), *s2);
    REQUIRE((r1->status == AcquireStatus::acquired && r2->status == AcquireStatus::acquired));
    CHECK(r2->held.fence > r1->held.fence);
    auto x = locks.try_acquire("db", asking("x", LockMode::exclusive), *s3);
    REQUIRE(x.ok());
    CHECK(x->status == AcquireStatus::busy);
    CHECK(x->holder->record.owner == "r1");
    // Disagreeing modes are refused with both named, and leave no key.
    auto bad = locks.try_acquire("db", asking("s", LockMode::slots, 2), *s4);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "lock \"db\" is held as shared, not as 2 slots (all holders must agree)");
    CHECK(locks.queue("db")->size() == 2);
}

TEST_CASE("etcd locks: concurrent slot requests never share a slot nor exceed the pool", "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    constexpr int kThreads = 6, kSlots = 3, kRounds = 3;
    std::atomic<int> inside{0}, most{0}, failures{0};
    std::array<std::atomic<int>, kSlots> taken{};
    std::array<std::atomic<int>, kSlots> used{};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int round = 0; round < kRounds; ++round) {
                auto s = Session::open(*c, 10);
                if (!s) { ++failures; return; }
                auto got = locks.acquire("pool", asking("t" + std::to_string(t), LockMode::slots, kSlots), **s,
                                         Deadline::after(std::chrono::seconds(60)));
                if (!got || got->status != AcquireStatus::acquired) { ++failures; return; }
                const int slot = slot_of(*got);
                if (slot < 0 || slot >= kSlots || taken[slot].fetch_add(1) != 0) ++failures;
                const int now_in = ++inside;
                int prev = most.load();
                while (now_in > prev && !most.compare_exchange_weak(prev, now_in)) {}
                if (slot >= 0 && slot < kSlots) ++used[slot];
                // The first round fills the pool (three of the six get in together), so every
                // slot number is handed out; later rounds leave at once. A backstop bounds it.
                const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
                while (round == 0 && most.load() < kSlots && std::chrono::steady_clock::now() < until)
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                --inside;
                if (slot >= 0 && slot < kSlots) --taken[slot];
                if (!locks.release(got->held, **s)) ++failures;
            }
        });
    for (auto& th : threads) th.join();
    CHECK(failures == 0);
    CHECK(most <= kSlots);
    for (const auto& u : used) CHECK(u > 0);
    CHECK(locks.queue("pool")->empty());
    CHECK(c->range(RangeRequest{locks.keys().slot_dir("pool"), prefix_end(locks.keys().slot_dir("pool"))})->kvs.empty());
}

TEST_CASE("etcd locks: a free name is taken shared or by slot in one transaction; no value stores a fence",
          "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    auto revision = [&] {
        auto r = c->range(RangeRequest{"t/", prefix_end("t/"), 1});
        REQUIRE(r.ok());
        return r->revision;
    };
    auto value_of = [&](const std::string& key) {
        auto kv = c->range(RangeRequest{key, ""});
        REQUIRE(kv.ok());
        REQUIRE(kv->kvs.size() == 1);
        return nlohmann::json::parse(kv->kvs[0].value);
    };
    auto s1 = session(*c), s2 = session(*c), s3 = session(*c);
    // A pool: the key, its claim of slot 0 and the acquire event, all at one revision.
    const int64_t before = revision();
    auto a = locks.try_acquire("p", asking("a", LockMode::slots, 2), *s1);
    REQUIRE(a.ok());
    REQUIRE(a->status == AcquireStatus::acquired);
    CHECK(revision() == before + 1);
    CHECK(a->held.fence == before + 1);
    CHECK(slot_of(*a) == 0);
    check_claim(*c, locks, "p", 0, a->held);
    CHECK_FALSE(value_of(a->held.key).contains("fence"));
    // A second holder comes through the queue: its confirmed value has no fence either, and
    // its record (decoded) and event carry the create revision.
    auto b = locks.try_acquire("p", asking("b", LockMode::slots, 2), *s2);
    REQUIRE(b.ok());
    REQUIRE(b->status == AcquireStatus::acquired);
    CHECK(slot_of(*b) == 1);
    CHECK_FALSE(value_of(b->held.key).contains("fence"));
    auto q = locks.queue("p");
    REQUIRE(q.ok());
    REQUIRE(q->size() == 2);
    CHECK((*q)[1].record.fence == b->held.fence);
    // A shared request on a free name: one transaction too, recorded as shared.
    const int64_t mid = revision();
    auto r = locks.try_acquire("db", asking("r", LockMode::shared), *s3);
    REQUIRE(r.ok());
    REQUIRE(r->status == AcquireStatus::acquired);
    CHECK(revision() == mid + 1);
    CHECK(value_of(r->held.key)["mode"] == "shared");
    auto events = locks.audit_events();
    REQUIRE(events.ok());
    REQUIRE(events->size() == 3);
    CHECK((*events)[0].extra["fence"] == a->held.fence);
    CHECK((*events)[0].extra["slot"] == 0);
    CHECK((*events)[1].extra["fence"] == b->held.fence);
    CHECK((*events)[1].extra["slot"] == 1);
    CHECK((*events)[2].extra["fence"] == r->held.fence);
    CHECK((*events)[2].extra["mode"] == "shared");
}

TEST_CASE("etcd locks: a shared waiter behind an exclusive holder confirms after it, alongside other readers",
          "[etcd-server]") {
    LockEnv env;
    auto& [server, c, locks] = env;
    auto s1 = session(*c), s2 = session(*c), s3 = session(*c);
    auto x = locks.try_acquire("db", asking("x", LockMode::exclusive), *s1);
    REQUIRE(x->status == AcquireStatus::acquired);
    // A shared try behind an exclusive holder is busy and leaves no key.
    auto busy = locks.try_acquire("db", asking("t", LockMode::shared), *s3);
    REQUIRE(busy.ok());
    CHECK(busy->status == AcquireStatus::busy);
    CHECK(busy->holder->record.owner == "x");
    CHECK(locks.queue("db")->size() == 1);
    std::atomic<bool> queued{false};
    Result<AcquireOutcome> r = Error{""};
    std::thread tr([&] {
        r = locks.acquire("db", asking("r", LockMode::shared), *s2, Deadline::after(std::chrono::seconds(60)),
                          [&](int64_t) { queued = true; });
    });
    while (!queued) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(*locks.release(x->held, *s1));
    tr.join();
    REQUIRE(r.ok());
    REQUIRE(r->status == AcquireStatus::acquired);
    CHECK(r->held.fence > x->held.fence);
    // Now held shared: another reader joins at once.
    auto r2 = locks.try_acquire("db", asking("r2", LockMode::shared), *s3);
    REQUIRE(r2.ok());
    CHECK(r2->status == AcquireStatus::acquired);
    auto events = locks.audit_events();
    REQUIRE(events.ok());
    std::vector<std::string> seen;
    for (const auto& e : *events) seen.push_back(e.event + " " + e.owner);
    CHECK(seen == std::vector<std::string>{"acquire x", "release x", "acquire r", "acquire r2"});
}
