// lokt::etcd::EtcdBackend against a real etcd on loopback: the outcomes the commands judge
// (Acquired / Held / Frozen, the release statuses) and fences, as on the file backend.
#include "etcd_server.hpp"

#include "lokt/etcd/backend.hpp"
#include "lokt/etcd/transport_http.hpp"
#include "lokt/etcd/url.hpp"
#include "lokt/identity.hpp"
#include "lokt/sys.hpp"

#include <catch2/catch.hpp>

using namespace lokt;
using lokt::etcd::EtcdBackend;
using lokt::etcd::test::EtcdServer;

namespace {

std::unique_ptr<EtcdBackend> backend(const EtcdServer& s, const std::string& owner) {
    auto u = etcd::parse_backend_url(s.url("b"));
    REQUIRE(u.ok());
    Identity id = current_identity();
    id.owner = owner;
    auto b = EtcdBackend::open(*u, id, etcd::http_transport);
    REQUIRE(b.ok());
    return std::move(*b);
}

AcquireRequest lease(const Backend& b, const std::string& name, Nanos ttl = Nanos(0)) {
    AcquireRequest r;
    r.name = name;
    r.ttl = ttl;
    r.who = b.self();
    return r;
}

} // namespace

TEST_CASE("etcd backend: acquire, refuse, release with fences increasing", "[etcd-server]") {
    EtcdServer server;
    auto a = backend(server, "alice");
    auto b = backend(server, "bob");

    auto got = a->try_acquire(lease(*a, "x", std::chrono::minutes(5)));
    REQUIRE(got.ok());
    REQUIRE(std::holds_alternative<Acquired>(*got));
    const LockRecord first = std::get<Acquired>(*got).record;
    CHECK(first.fence > 0);
    CHECK(first.ttl_sec == 300);

    auto held = b->try_acquire(lease(*b, "x"));
    REQUIRE(held.ok());
    REQUIRE(std::holds_alternative<Held>(*held));
    CHECK(std::get<Held>(*held).holder.owner == "alice");
    CHECK(std::get<Held>(*held).holder.fence == first.fence);

    auto read = b->read("x");
    REQUIRE(read.ok());
    REQUIRE(read->record);
    CHECK(read->record->lock_id == first.lock_id);

    auto refused = b->release_owned("x", std::nullopt);
    REQUIRE(refused.ok());
    CHECK(refused->status == ReleaseStatus::not_owner);
    auto stale = b->break_stale("x");
    REQUIRE(stale.ok());
    CHECK(stale->status == ReleaseStatus::not_stale);
    auto released = a->release_owned("x", std::nullopt);
    REQUIRE(released.ok());
    CHECK(released->status == ReleaseStatus::released);
    auto none = a->release_owned("x", std::nullopt);
    REQUIRE(none.ok());
    CHECK(none->status == ReleaseStatus::not_found);

    auto second = b->try_acquire(lease(*b, "x"));
    REQUIRE(second.ok());
    REQUIRE(std::holds_alternative<Acquired>(*second));
    CHECK(std::get<Acquired>(*second).record.fence > first.fence);
    auto broken = a->force_break("x");
    REQUIRE(broken.ok());
    CHECK(broken->status == ReleaseStatus::released);
    auto listed = a->list(false);
    REQUIRE(listed.ok());
    CHECK(listed->empty());
}

TEST_CASE("etcd backend: a freeze refuses acquisition until its owner lifts it", "[etcd-server]") {
    EtcdServer server;
    auto a = backend(server, "alice");
    auto h = backend(server, "human");
    REQUIRE(h->freeze("db", std::chrono::minutes(10)).ok());
    auto f = a->try_acquire(lease(*a, "db"));
    REQUIRE(f.ok());
    REQUIRE(std::holds_alternative<Frozen>(*f));
    CHECK(std::get<Frozen>(*f).freeze.owner == "human");
    auto listed = a->list(false);
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 1);
    CHECK((*listed)[0].frozen);
    auto not_owner = a->unfreeze("db", false);
    REQUIRE(not_owner.ok());
    CHECK(not_owner->status == ReleaseStatus::not_owner);
    auto lifted = h->unfreeze("db", false);
    REQUIRE(lifted.ok());
    CHECK(lifted->status == ReleaseStatus::released);
    auto now_free = a->try_acquire(lease(*a, "db"));
    REQUIRE(now_free.ok());
    CHECK(std::holds_alternative<Acquired>(*now_free));
}

TEST_CASE("etcd backend: a waiter times out with the holder reported and no key left", "[etcd-server]") {
    EtcdServer server;
    auto a = backend(server, "alice");
    auto b = backend(server, "bob");
    REQUIRE(a->try_acquire(lease(*a, "q")).ok());
    WaitOptions opt;
    opt.timeout = std::chrono::milliseconds(300);
    auto w = b->acquire_waiting(lease(*b, "q"), opt);
    INFO((w.ok() ? std::string() : w.error().message));
    REQUIRE(w.ok());
    CHECK(w->end == WaitEnd::timed_out);
    REQUIRE(std::holds_alternative<Held>(w->outcome));
    CHECK(std::get<Held>(w->outcome).holder.owner == "alice");
    // Released now, the next try wins at once: the waiter's key did not stay in the queue.
    REQUIRE(a->release_owned("q", std::nullopt).ok());
    auto next = b->try_acquire(lease(*b, "q"));
    REQUIRE(next.ok());
    CHECK(std::holds_alternative<Acquired>(*next));
}

TEST_CASE("etcd backend: a guard's lock stays on the lease its holder keeps alive; a revoked one is lost",
          "[etcd-server]") {
    EtcdServer server;
    auto g = backend(server, "guard");
    auto other = backend(server, "human");
    AcquireRequest req = lease(*g, "x");
    req.kind = LockKind::guard;
    req.lock_id = "planned-id";
    CHECK(g->loss_fd() == -1);  // no kept lease before the first acquire
    auto got = g->try_acquire(req);
    REQUIRE(got.ok());
    REQUIRE(std::holds_alternative<Acquired>(*got));
    const LockRecord rec = std::get<Acquired>(*got).record;
    CHECK(rec.fence > 0);
    CHECK(rec.lock_id == "planned-id");
    CHECK_FALSE(rec.expires_at);  // the kept lease says when it ends, not a written expiry
    const int fd = g->loss_fd();
    REQUIRE(fd >= 0);
    auto quiet = sys::wait_readable(fd, 0);
    REQUIRE(quiet.ok());
    CHECK_FALSE(*quiet);

    // Anyone can check a holding by its lock id; the holder answers without a round trip.
    auto seen = other->holder("x", "planned-id");
    REQUIRE(seen.ok());
    REQUIRE(*seen);
    CHECK((*seen)->fence == rec.fence);
    auto wrong = other->holder("x", "another-id");
    REQUIRE(wrong.ok());
    CHECK_FALSE(*wrong);
    auto renewed = g->renew("x", "planned-id", Nanos(0), SyncWait::none);
    REQUIRE(renewed.ok());
    CHECK(*renewed);

    // A break revokes the lease: the keepalive sees TTL 0 and the loss fd wakes.
    auto broken = other->force_break("x");
    REQUIRE(broken.ok());
    CHECK(broken->status == ReleaseStatus::released);
    auto woke = sys::wait_readable(fd, 30'000);
    REQUIRE(woke.ok());
    REQUIRE(*woke);
    auto lost = g->holder("x", "planned-id");
    REQUIRE(lost.ok());
    CHECK_FALSE(*lost);
    auto released = g->release_id("x", "planned-id", "exited");
    REQUIRE(released.ok());
    CHECK(released->status == ReleaseStatus::not_found);

    // Taken again on a fresh lease; a release deletes the key and revokes that lease too.
    req.lock_id = "second-id";
    auto again = g->try_acquire(req);
    REQUIRE(again.ok());
    REQUIRE(std::holds_alternative<Acquired>(*again));
    CHECK(std::get<Acquired>(*again).record.fence > rec.fence);
    auto done = g->release_id("x", "second-id", "exited");
    REQUIRE(done.ok());
    CHECK(done->status == ReleaseStatus::released);
    CHECK(g->loss_fd() == -1);
    auto gone = other->read("x");
    REQUIRE(gone.ok());
    CHECK_FALSE(gone->record);
}

namespace {

/// The ids of every lease etcd has (LeaseLeases, through the JSON gateway).
std::vector<std::string> leases(const EtcdServer& s) {
    auto u = etcd::parse_backend_url(s.url("b"));
    REQUIRE(u.ok());
    etcd::ClientOptions o;
    o.url = *u;
    auto t = etcd::http_transport(o);
    REQUIRE(t.ok());
    auto r = (*t)->post("/v3/lease/leases", nlohmann::json::object(), std::chrono::seconds(5));
    REQUIRE(r.ok());
    std::vector<std::string> ids;
    for (const auto& l : r->value("leases", nlohmann::json::array())) ids.push_back(l.value("ID", ""));
    return ids;
}

} // namespace

TEST_CASE("etcd backend: a guard's lease is granted beside the front's read and then kept", "[etcd-server]") {
    EtcdServer server;
    auto g = backend(server, "guard");
    CHECK(leases(server).empty());
    g->expect_kept(Nanos(0));
    auto read = g->read("x");
    REQUIRE(read.ok());
    CHECK_FALSE(read->record);
    const auto granted = leases(server);
    REQUIRE(granted.size() == 1);  // sent beside the read

    AcquireRequest req = lease(*g, "x");
    req.kind = LockKind::guard;
    auto got = g->try_acquire(req);
    REQUIRE(got.ok());
    REQUIRE(std::holds_alternative<Acquired>(*got));
    CHECK(leases(server) == granted);  // the lock sits on that lease: no second grant

    // Only the next read after the hint carries a grant.
    REQUIRE(g->read("y").ok());
    CHECK(leases(server) == granted);
}
