// The client against a real etcd on loopback (started by the test).
#include "etcd_server.hpp"

#include "lokt/etcd/client.hpp"
#include "lokt/etcd/session.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace lokt;
using namespace lokt::etcd;
using lokt::etcd::test::EtcdServer;
using lokt::etcd::test::plain_client;

namespace {

ClientOptions options_for(const std::string& url) {
    auto u = parse_backend_url(url);
    REQUIRE(u.ok());
    ClientOptions o;
    o.url = *u;
    o.request_timeout = std::chrono::seconds(3);
    return o;
}

} // namespace

TEST_CASE("etcd client: put, range, txn and delete with binary keys", "[etcd-server]") {
    EtcdServer server;
    Client c = plain_client(options_for(server.url()));
    const std::string key("k/\x01\xff\n", 5);
    auto p = c.put(PutRequest{key, std::string("v\0w", 3), 0});
    REQUIRE(p.ok());
    auto r = c.range(RangeRequest{"k/", prefix_end("k/")});
    REQUIRE(r.ok());
    REQUIRE(r->kvs.size() == 1);
    CHECK(r->kvs[0].key == key);
    CHECK(r->kvs[0].value == std::string("v\0w", 3));
    CHECK(r->kvs[0].create_revision == p->revision);

    TxnRequest t;
    t.compare = {Compare{CompareResult::equal, CompareTarget::create, key, 0, ""}};
    t.success = {PutRequest{key, "lost", 0}};
    t.failure = {RangeRequest{key, ""}};
    auto tr = c.txn(t);
    REQUIRE(tr.ok());
    CHECK_FALSE(tr->succeeded);
    CHECK(std::get<RangeResponse>(tr->responses[0]).kvs.at(0).value == std::string("v\0w", 3));

    auto d = c.delete_range(DeleteRangeRequest{key, "", true});
    REQUIRE(d.ok());
    CHECK(d->deleted == 1);
    CHECK(d->prev_kvs.at(0).key == key);
}

TEST_CASE("etcd client: leases grant, keep alive, report TTL and revoke", "[etcd-server]") {
    EtcdServer server;
    Client c = plain_client(options_for(server.url()));
    auto g = c.lease_grant(30);
    REQUIRE(g.ok());
    CHECK(g->ttl == 30);
    REQUIRE(c.put(PutRequest{"leased", "x", g->id}).ok());
    auto ka = c.lease_keepalive(g->id, std::chrono::seconds(3));
    REQUIRE(ka.ok());
    CHECK(ka->ttl == 30);
    auto ttl = c.lease_timetolive(g->id);
    REQUIRE(ttl.ok());
    CHECK(ttl->ttl > 0);
    CHECK(ttl->granted_ttl == 30);
    REQUIRE(c.lease_revoke(g->id).ok());
    CHECK(c.range(RangeRequest{"leased", ""})->kvs.empty());
    auto dead = c.lease_keepalive(g->id, std::chrono::seconds(3));
    REQUIRE(dead.ok());
    CHECK(dead->ttl == 0);
    CHECK(c.lease_revoke(g->id).ok());  // already gone is fine
}

TEST_CASE("etcd client: a watch sees a deletion and is cancelled from another thread at once", "[etcd-server]") {
    EtcdServer server;
    Client c = plain_client(options_for(server.url()));
    auto p = c.put(PutRequest{"w", "1", 0});
    REQUIRE(p.ok());
    std::thread deleter([&] { REQUIRE(c.delete_range(DeleteRangeRequest{"w", ""}).ok()); });
    bool deleted = false;
    auto w = c.watch("w", "", p->revision + 1, Deadline::after(std::chrono::seconds(20)), nullptr,
                     [&](const WatchMessage& m) {
                         for (const auto& e : m.events)
                             if (e.type == EventType::del && e.kv.key == "w") deleted = true;
                         return !deleted;
                     });
    deleter.join();
    REQUIRE(w.ok());
    CHECK(deleted);

    Cancel cancel;
    bool returned = false;
    std::thread watcher([&] {
        auto r = c.watch("never", "", 0, Deadline::forever(), &cancel, [](const WatchMessage&) { return true; });
        CHECK(r.ok());
        returned = true;
    });
    cancel.cancel();  // never blocks: only a flag and a wakeup
    watcher.join();   // a forever watch ended, so the cancel reached it
    CHECK(returned);
}

TEST_CASE("etcd client: fails over past a dead endpoint; none reachable is a clear error", "[etcd-server]") {
    EtcdServer server;
    auto dead = test::free_port();
    Client c = plain_client(options_for("etcd://127.0.0.1:" + std::to_string(dead) + "," + server.endpoint()));
    CHECK(c.put(PutRequest{"f", "1", 0}).ok());
    CHECK(c.range(RangeRequest{"f", ""})->kvs.size() == 1);

    Client none = plain_client(options_for("etcd://127.0.0.1:" + std::to_string(dead)));
    auto r = none.range(RangeRequest{"f", ""});
    REQUIRE_FALSE(r.ok());
    const std::string want = "lock backend etcd://127.0.0.1:" + std::to_string(dead) + " unreachable: ";
    CHECK(r.error().message.rfind(want, 0) == 0);
}

TEST_CASE("etcd session: revoking the lease elsewhere is detected as loss", "[etcd-server]") {
    EtcdServer server;
    Client c = plain_client(options_for(server.url()));
    auto s = Session::open(c, 3);
    REQUIRE(s.ok());
    CHECK_FALSE((*s)->lost());
    REQUIRE(c.lease_revoke((*s)->lease()).ok());
    // The next keepalive (within TTL/3) answers TTL 0; 30 s is a backstop.
    auto ready = sys::wait_readable((*s)->lost_fd(), 30000);
    REQUIRE(ready.ok());
    REQUIRE(*ready);
    CHECK((*s)->lost());
    CHECK((*s)->lost_reason() == "the lease expired (keepalive answered TTL 0)");
}

TEST_CASE("etcd session: keepalives keep a short lease past its TTL", "[etcd-server]") {
    EtcdServer server;
    Client c = plain_client(options_for(server.url()));
    auto s = Session::open(c, 2);
    REQUIRE(s.ok());
    // Wait until etcd reports a full renewal at least twice the TTL after the grant.
    auto start = Steady::now();
    while (Steady::now() - start < std::chrono::seconds(5)) {
        auto ready = sys::wait_readable((*s)->lost_fd(), 200);
        REQUIRE(ready.ok());
        REQUIRE_FALSE(*ready);
    }
    auto ttl = c.lease_timetolive((*s)->lease());
    REQUIRE(ttl.ok());
    CHECK(ttl->ttl > 0);
    CHECK_FALSE((*s)->lost());
}
