// Whose turn it is in a lock's queue on etcd (turn.hpp): exclusive, shared and slot keys in
// create-revision order, without a server.
#include "lokt/etcd/turn.hpp"

#include <catch2/catch.hpp>

using namespace lokt;
using namespace lokt::etcd;

namespace {

/// A queue key of `mode` (slots: N = `slots`, holding slot `slot`), or an etcdctl key.
LockEntry key(int64_t rev, LockMode mode, int slots = 0, int slot = -1) {
    LockEntry e;
    e.name = "db";
    e.key = "lokt/db/" + std::to_string(rev);
    e.fence = rev;
    e.record.name = "db";
    e.record.lock_id = "id" + std::to_string(rev);
    e.record.owner = "o" + std::to_string(rev);
    set_sharing(e.record, Sharing{mode, slots, slot, {}});
    return e;
}

LockEntry etcdctl_key(int64_t rev) {
    LockEntry e;
    e.name = "db";
    e.key = "lokt/db/" + std::to_string(rev);
    e.fence = rev;
    e.foreign = true;
    return e;
}

const Sharing kExclusive{};
const Sharing kShared{LockMode::shared, 0, -1, {}};
Sharing pool(int n) { return Sharing{LockMode::slots, n, -1, {}}; }

} // namespace

TEST_CASE("etcd turn: an exclusive request goes first and otherwise watches the key just ahead", "[etcd-unit]") {
    CHECK(judge_turn("db", kExclusive, {}).granted);
    auto t = judge_turn("db", kExclusive, {key(1, LockMode::shared), key(2, LockMode::shared)});
    CHECK_FALSE(t.granted);
    CHECK(t.watch_key == "lokt/db/2");
    CHECK_FALSE(t.watch_any);
}

TEST_CASE("etcd turn: shared requests go together, behind any exclusive key (writer preference)", "[etcd-unit]") {
    CHECK(judge_turn("db", kShared, {}).granted);
    CHECK(judge_turn("db", kShared, {key(1, LockMode::shared), key(2, LockMode::shared)}).granted);
    // A queued exclusive request between the holders and us: we wait for it, not for them.
    auto t = judge_turn("db", kShared, {key(1, LockMode::shared), key(2, LockMode::exclusive), key(3, LockMode::shared)});
    CHECK_FALSE(t.granted);
    CHECK(t.watch_key == "lokt/db/2");
    // An etcdctl key has an empty value: exclusive.
    auto e = judge_turn("db", kShared, {etcdctl_key(4)});
    CHECK_FALSE(e.granted);
    CHECK(e.watch_key == "lokt/db/4");
}

TEST_CASE("etcd turn: a slot request goes while fewer than N are ahead and no exclusive one", "[etcd-unit]") {
    CHECK(judge_turn("db", pool(2), {key(1, LockMode::slots, 2, 0)}).granted);
    auto full = judge_turn("db", pool(2), {key(1, LockMode::slots, 2, 0), key(2, LockMode::slots, 2, 1)});
    CHECK_FALSE(full.granted);
    CHECK(full.watch_any);  // whichever goes first makes room
    auto behind = judge_turn("db", pool(3), {key(1, LockMode::exclusive), key(2, LockMode::slots, 3)});
    CHECK_FALSE(behind.granted);
    CHECK(behind.watch_key == "lokt/db/1");
}

TEST_CASE("etcd turn: disagreeing modes or pool sizes are an error naming both", "[etcd-unit]") {
    auto n = judge_turn("db", pool(2), {key(1, LockMode::slots, 3, 0)});
    REQUIRE(n.mismatch);
    CHECK(n.mismatch->message == "lock \"db\" is held as 3 slots, not as 2 slots (all holders must agree)");
    auto m = judge_turn("db", kShared, {key(1, LockMode::exclusive), key(2, LockMode::slots, 3)});
    REQUIRE(m.mismatch);
    CHECK(m.mismatch->message == "lock \"db\" is held as 3 slots, not as shared (all holders must agree)");
    // Exclusive keys agree with every mode.
    CHECK_FALSE(judge_turn("db", kExclusive, {key(1, LockMode::slots, 3)}).mismatch);
}

TEST_CASE("etcd turn: the holders are the head, the leading shared keys, or at most N slot keys", "[etcd-unit]") {
    CHECK(holding_count({}) == 0);
    CHECK(holding_count({key(1, LockMode::exclusive), key(2, LockMode::exclusive)}) == 1);
    CHECK(holding_count({etcdctl_key(1), key(2, LockMode::shared)}) == 1);
    CHECK(holding_count({key(1, LockMode::shared), key(2, LockMode::shared), key(3, LockMode::exclusive),
                         key(4, LockMode::shared)}) == 2);
    CHECK(holding_count({key(1, LockMode::slots, 2, 0), key(2, LockMode::slots, 2, 1), key(3, LockMode::slots, 2)}) == 2);
}

TEST_CASE("etcd turn: the group view mirrors the head and stands for every holder", "[etcd-unit]") {
    auto g = lock_view(key(7, LockMode::slots, 3, 1));
    CHECK(is_group(g));
    CHECK(sharing_of(g).slots == 3);
    CHECK(sharing_of(g).slot == -1);
    CHECK(g.fence == 7);
    CHECK_FALSE(is_group(lock_view(key(8, LockMode::exclusive))));
    CHECK(lock_view(etcdctl_key(9)).owner == "etcdctl");
}

TEST_CASE("etcd turn: the lowest free slot", "[etcd-unit]") {
    CHECK(lowest_free_slot({}, 3) == 0);
    CHECK(lowest_free_slot({0, 2}, 3) == 1);
    CHECK(lowest_free_slot({1, 0, 2}, 3) == -1);
}
