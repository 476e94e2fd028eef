// Shared locks and slot pools in the store (docs/design.md "Shared locks and slot pools").
#include "lokt/store.hpp"

#include "lokt/queue.hpp"
#include "lokt/sharing.hpp"
#include "store_fixture.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>

using namespace lokt;
using namespace lokt::test;
using namespace std::chrono_literals;

namespace {

AcquireRequest shared_req(const Store& s, const std::string& name, LockMode mode = LockMode::shared,
                          int slots = 0) {
    AcquireRequest r = request(s, name);
    r.mode = mode;
    r.slots = slots;
    return r;
}

/// A guard-kind request naming process `pid` (a dead one is pruned as gone).
AcquireRequest guard_req(const Store& s, const std::string& name, LockMode mode, int slots, pid_t pid) {
    AcquireRequest r = shared_req(s, name, mode, slots);
    r.kind = LockKind::guard;
    r.who.pid = pid;
    r.who.pid_start = process_start_time(pid).value_or(1);
    return r;
}

LockRecord got(const Result<AcquireOutcome>& r) {
    REQUIRE(r);
    REQUIRE(std::holds_alternative<Acquired>(*r));
    return std::get<Acquired>(*r).record;
}

bool is_held(const Result<AcquireOutcome>& r) {
    REQUIRE(r);
    return std::holds_alternative<Held>(*r);
}

} // namespace

TEST_CASE("shared holders coexist and exclude an exclusive one", "[store][shared]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    Store c = t.store("agent-3");

    LockRecord ha = got(a.try_acquire(shared_req(a, "db")));
    LockRecord hb = got(b.try_acquire(shared_req(b, "db")));
    CHECK(ha.lock_id != hb.lock_id);
    CHECK(sharing_of(ha).mode == LockMode::shared);

    // The lock file is the group record: what the original (and an exclusive lokt) sees.
    auto rd = a.read("db");
    REQUIRE(rd);
    REQUIRE(rd->record);
    CHECK(is_group(*rd->record));
    CHECK(rd->record->lock_id != ha.lock_id);
    CHECK(is_held(c.try_acquire(request(c, "db"))));

    auto hs = a.holders("db");
    REQUIRE(hs);
    CHECK(hs->size() == 2);

    // Each holder leaves by its own id; the last one takes the group record with it.
    auto ra = a.release_id("db", ha.lock_id);
    REQUIRE(ra);
    CHECK(ra->status == ReleaseStatus::released);
    CHECK(is_held(c.try_acquire(request(c, "db"))));
    auto rb = b.release_owned("db");
    REQUIRE(rb);
    CHECK(rb->status == ReleaseStatus::released);
    CHECK(b.read("db")->record == std::nullopt);
    LockRecord ex = got(c.try_acquire(request(c, "db")));

    // And the other way round: an exclusive holder keeps shared ones out.
    CHECK(is_held(a.try_acquire(shared_req(a, "db"))));
    CHECK(t.events("acquire").size() == 3);
    CHECK(t.events("release").size() == 2);
    (void)ex;
}

TEST_CASE("a slot pool admits N holders, numbers them, and insists on one N", "[store][shared]") {
    TempRoot t;
    Store a = t.store("agent-1");
    std::set<int> slots;
    for (int i = 0; i < 3; ++i) slots.insert(sharing_of(got(a.try_acquire(shared_req(a, "keys", LockMode::slots, 3)))).slot);
    CHECK(slots == std::set<int>{0, 1, 2});
    CHECK(is_held(a.try_acquire(shared_req(a, "keys", LockMode::slots, 3))));

    auto bad = a.try_acquire(shared_req(a, "keys", LockMode::slots, 4));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("3 slots") != std::string::npos);
    CHECK(bad.error().message.find("4 slots") != std::string::npos);
    auto shared = a.try_acquire(shared_req(a, "keys"));
    REQUIRE_FALSE(shared);
    CHECK(shared.error().message.find("shared") != std::string::npos);

    // A freed slot number is handed out again.
    auto hs = a.holders("keys");
    REQUIRE(hs);
    const auto it = std::find_if(hs->begin(), hs->end(), [](const LockRecord& h) { return sharing_of(h).slot == 1; });
    REQUIRE(it != hs->end());
    REQUIRE(a.release_id("keys", it->lock_id)->status == ReleaseStatus::released);
    CHECK(sharing_of(got(a.try_acquire(shared_req(a, "keys", LockMode::slots, 3)))).slot == 1);
}

TEST_CASE("dead shared holders are pruned one by one", "[store][shared]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    const pid_t child = fork_child([] {
        ::pause();
        return 0;
    });
    LockRecord doomed = got(a.try_acquire(guard_req(a, "pool", LockMode::slots, 2, child)));
    LockRecord live = got(a.try_acquire(guard_req(a, "pool", LockMode::slots, 2, ::getpid())));
    CHECK(sharing_of(doomed).slot == 0);
    CHECK(sharing_of(live).slot == 1);
    CHECK(sharing_of(*a.read("pool")->record).rep == doomed.lock_id);  // mirrors the first holder
    ::kill(child, SIGKILL);
    reap(child);
    // lokt judges the holders, not the one the record mirrors: still held, now mirroring a live one.
    CHECK(is_held(b.try_acquire(request(b, "pool"))));
    auto rd = b.read("pool");
    REQUIRE(rd->record);
    CHECK(sharing_of(*rd->record).rep == live.lock_id);
    CHECK(rd->record->pid == ::getpid());
    REQUIRE(t.events("auto-prune").size() == 1);
    CHECK(t.events("auto-prune")[0].lock_id == doomed.lock_id);
    // The dead holder's slot is free again.
    CHECK(sharing_of(got(b.try_acquire(shared_req(b, "pool", LockMode::slots, 2)))).slot == 0);
}

TEST_CASE("an exclusive holder that died is pruned by a shared acquirer", "[store][shared]") {
    TempRoot t;
    Store a = t.store("agent-1");
    AcquireRequest ex = request(a, "x", Nanos(0), LockKind::guard);
    ex.who.pid = dead_pid();
    got(a.try_acquire(ex));
    got(a.try_acquire(shared_req(a, "x")));
    CHECK(t.events("auto-prune").size() == 1);
}

TEST_CASE("renew, update and holder() reach a shared holder's own file", "[store][shared]") {
    TempRoot t;
    Store a = t.store("agent-1");
    AcquireRequest r = shared_req(a, "s");
    r.ttl = 5s;
    LockRecord h = got(a.try_acquire(r));
    auto renewed = a.renew("s", h.lock_id, 1h);
    REQUIRE(renewed);
    REQUIRE(*renewed);
    CHECK((*renewed)->ttl_sec == 3600);
    // The group record carries its representative's TTL for the original.
    CHECK(a.read("s")->record->ttl_sec == 3600);

    LockRecord upd = **renewed;
    upd.pgid = 4242;
    REQUIRE(a.update(upd));
    auto mine = a.holder("s", h.lock_id);
    REQUIRE(mine);
    REQUIRE(*mine);
    CHECK((*mine)->pgid == 4242);
    CHECK(sharing_of(**mine).mode == LockMode::shared);
    CHECK_FALSE(*a.holder("s", random_lock_id()));
    auto other = a.renew("s", random_lock_id(), 1h);
    REQUIRE(other);
    CHECK_FALSE(*other);
}

TEST_CASE("force-break and break-stale handle a group", "[store][shared]") {
    TempRoot t;
    Store a = t.store("agent-1");
    got(a.try_acquire(shared_req(a, "f")));
    got(a.try_acquire(guard_req(a, "f", LockMode::shared, 0, ::getpid())));
    auto stale = a.break_stale("f");
    REQUIRE(stale);
    CHECK(stale->status == ReleaseStatus::not_stale);
    auto forced = a.force_break("f");
    REQUIRE(forced);
    CHECK(forced->status == ReleaseStatus::released);
    CHECK(a.holders("f")->empty());
    CHECK_FALSE(a.read("f")->record);
}

TEST_CASE("a plain unlock will not take a running guard's shared hold", "[store][shared]") {
    TempRoot t;
    Store a = t.store("agent-1");
    got(a.try_acquire(guard_req(a, "g", LockMode::shared, 0, ::getpid())));
    auto r = a.release_owned("g");
    REQUIRE(r);
    CHECK(r->status == ReleaseStatus::guarded);
}

TEST_CASE("a shared try without a ticket yields to a queued exclusive waiter", "[store][shared][queue]") {
    TempRoot t;
    Store a = t.store("agent-1");
    got(a.try_acquire(shared_req(a, "w")));
    auto writer = detail::Ticket::enter(t.root, "w", a.self().host, LockMode::exclusive);
    REQUIRE(writer);
    CHECK(is_held(a.try_acquire(shared_req(a, "w"))));
    AcquireRequest queued = shared_req(a, "w");
    queued.queued = true;  // a waiter whose ticket is older than the writer's
    got(a.try_acquire(queued));
    writer->leave();
    got(a.try_acquire(shared_req(a, "w")));
}

TEST_CASE("a shared waiter waits only for exclusive tickets ahead", "[queue][shared]") {
    TempRoot t;
    Store a = t.store("agent-1");
    const std::string host = a.self().host;
    auto s1 = detail::Ticket::enter(t.root, "q", host, LockMode::shared);
    REQUIRE(s1);
    auto s2 = detail::Ticket::enter(t.root, "q", host, LockMode::shared);
    REQUIRE(s2);
    CHECK(s2->self().shared);
    auto v = s2->look();
    REQUIRE(v);
    CHECK_FALSE(v->pred);  // shared behind shared: may try
    CHECK(v->ahead == 1);
    auto x = detail::Ticket::enter(t.root, "q", host, LockMode::exclusive);
    REQUIRE(x);
    auto s3 = detail::Ticket::enter(t.root, "q", host, LockMode::shared);
    REQUIRE(s3);
    auto v3 = s3->look();
    REQUIRE(v3);
    REQUIRE(v3->pred);
    CHECK(v3->pred->file == x->self().file);  // behind the writer
    CHECK_FALSE(v3->pred_is_head);
    auto vx = x->look();
    REQUIRE(vx);
    REQUIRE(vx->pred);
    CHECK(vx->pred->file == s2->self().file);  // the writer waits for everyone ahead
    CHECK(detail::exclusive_waiter_queued(t.root, "q", host));
    x->leave();
    CHECK_FALSE(detail::exclusive_waiter_queued(t.root, "q", host));
}

TEST_CASE("sharing fields and --slots values", "[shared]") {
    LockRecord r;
    CHECK(sharing_of(r).mode == LockMode::exclusive);
    set_sharing(r, Sharing{LockMode::slots, 3, 2, {}});
    CHECK(sharing_of(r).slots == 3);
    CHECK(sharing_of(r).slot == 2);
    CHECK_FALSE(is_group(r));
    auto back = decode_lock(encode_lock(r));
    CHECK(sharing_of(back.record).slot == 2);
    set_sharing(r, Sharing{});
    CHECK(r.unknown.empty());
    CHECK(parse_slots("3").value() == 3);
    for (const char* bad : {"0", "-1", "x", "", "3x", "1025"}) CHECK_FALSE(parse_slots(bad));
}

TEST_CASE("status --prune-expired prunes expired shared and slot holders", "[store][shared][prune]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    TimePoint expiry{};
    for (const char* name : {"db", "pool"}) {
        const bool slots = std::string(name) == "pool";
        const LockMode mode = slots ? LockMode::slots : LockMode::shared;
        AcquireRequest gone = shared_req(a, name, mode, slots ? 3 : 0);
        gone.ttl = 50ms;  // not expired yet when it joins: a joiner prunes the expired holders it finds
        AcquireRequest kept = shared_req(b, name, mode, slots ? 3 : 0);
        kept.ttl = 1h;
        got(b.try_acquire(kept));
        expiry = std::max(expiry, *got(a.try_acquire(gone)).expires_at);
    }
    // A group whose holders are all expired goes entirely.
    AcquireRequest lone = shared_req(a, "old");
    lone.ttl = 1ns;
    got(a.try_acquire(lone));
    while (now() <= expiry) std::this_thread::sleep_for(10ms);  // until the 50ms TTLs are over

    auto before = a.list(false);
    REQUIRE(before);
    CHECK(before->size() == 5);  // without pruning, every holder is listed
    auto listed = a.list(true);
    REQUIRE(listed);
    REQUIRE(listed->size() == 2);
    for (const auto& e : *listed) CHECK(e.record.owner == "agent-2");
    for (const char* name : {"db", "pool"}) {
        auto hs = a.holders(name);
        REQUIRE(hs);
        REQUIRE(hs->size() == 1);
        CHECK((*hs)[0].owner == "agent-2");
        auto rd = a.read(name);
        REQUIRE(rd->record);
        CHECK(sharing_of(*rd->record).rep == (*hs)[0].lock_id);  // mirrors the holder left
    }
    CHECK(!a.read("old")->record);
    CHECK(t.events("auto-prune").size() == 3);
}

TEST_CASE("slot waiters queue first come, first served among themselves", "[queue][shared][slots]") {
    TempRoot t;
    Store a = t.store("agent-1");
    const std::string host = a.self().host;
    got(a.try_acquire(shared_req(a, "p", LockMode::slots, 2)));
    auto w1 = detail::Ticket::enter(t.root, "p", host, LockMode::slots);
    REQUIRE(w1);
    auto w2 = detail::Ticket::enter(t.root, "p", host, LockMode::slots);
    REQUIRE(w2);
    CHECK_FALSE(w2->self().shared);  // not the shared marker: no going in together
    auto v = w2->look();
    REQUIRE(v);
    REQUIRE(v->pred);
    CHECK(v->pred->file == w1->self().file);
    CHECK(v->pred_is_head);
    // The pool has room, but a slot request without a ticket does not pass the queued ones.
    CHECK(is_held(a.try_acquire(shared_req(a, "p", LockMode::slots, 2))));
    AcquireRequest head = shared_req(a, "p", LockMode::slots, 2);
    head.queued = true;
    CHECK(sharing_of(got(a.try_acquire(head))).slot == 1);
}
