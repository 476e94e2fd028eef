#include "lokt/store.hpp"

#include "lokt/liveness.hpp"
#include "lokt/own_lease.hpp"
#include "store_fixture.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <ctime>
#include <optional>
#include <string>

using namespace lokt;
using namespace lokt::test;
using namespace std::chrono_literals;

namespace {

Acquired acquired(const Result<AcquireOutcome>& r) {
    REQUIRE(r);
    REQUIRE(std::holds_alternative<Acquired>(*r));
    return std::get<Acquired>(*r);
}

Held held(const Result<AcquireOutcome>& r) {
    REQUIRE(r);
    REQUIRE(std::holds_alternative<Held>(*r));
    return std::get<Held>(*r);
}

/// A lock record as another process would have written it.
LockRecord foreign_lock(const std::string& name, const std::string& owner, pid_t pid,
                        std::optional<LockKind> kind) {
    LockRecord r;
    r.name = name;
    r.lock_id = random_lock_id();
    r.owner = owner;
    r.host = current_identity().host;
    r.pid = pid;
    r.agent_id = "agent-x";
    r.acquired_ts = now();
    r.kind = kind;
    return r;
}

} // namespace

TEST_CASE("a lock is created, refused to others, and released by its owner", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");

    Acquired got = acquired(a.try_acquire(request(a, "build", 10min)));
    CHECK_FALSE(got.refreshed);
    CHECK(got.record.owner == "agent-1");
    CHECK(got.record.lock_id.size() == 32);
    CHECK(got.record.ttl_sec == 600);

    auto on_disk = a.read("build");
    REQUIRE(on_disk);
    REQUIRE(on_disk->record);
    CHECK(on_disk->record->lock_id == got.record.lock_id);
    CHECK(on_disk->record->kind == LockKind::lease);

    CHECK(held(b.try_acquire(request(b, "build"))).holder.lock_id == got.record.lock_id);

    auto not_owner = b.release_owned("build");
    REQUIRE(not_owner);
    CHECK(not_owner->status == ReleaseStatus::not_owner);
    CHECK(not_owner->record->owner == "agent-1");

    auto rel = a.release_owned("build");
    REQUIRE(rel);
    CHECK(rel->status == ReleaseStatus::released);
    CHECK_FALSE(sys::exists(t.root.lock_path("build")));

    auto gone = a.release_owned("build");
    REQUIRE(gone);
    CHECK(gone->status == ReleaseStatus::not_found);

    // Only the lock file remains in locks/ while held: the temp file is gone.
    acquired(b.try_acquire(request(b, "build")));
    CHECK(t.ls(t.root.locks_dir()) == std::vector<std::string>{"build.json"});

    auto acq = t.events("acquire");
    REQUIRE(acq.size() == 2);
    CHECK(acq[0].owner == "agent-1");
    CHECK(acq[0].ttl_sec == 600);
    CHECK(acq[0].lock_id == got.record.lock_id);
    CHECK(t.events("release").size() == 1);
}

TEST_CASE("release_owned with an explicit owner and release_id by lock id", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store human = t.store("human");
    auto id = acquired(a.try_acquire(request(a, "x"))).record.lock_id;

    auto by_owner = human.release_owned("x", std::string("agent-1"));
    REQUIRE(by_owner);
    CHECK(by_owner->status == ReleaseStatus::released);

    auto id2 = acquired(a.try_acquire(request(a, "x"))).record.lock_id;
    auto wrong = a.release_id("x", id);
    REQUIRE(wrong);
    CHECK(wrong->status == ReleaseStatus::not_owner);
    auto right = a.release_id("x", id2, "exited");
    REQUIRE(right);
    CHECK(right->status == ReleaseStatus::released);
    auto rel = t.events("release");
    REQUIRE(rel.size() == 2);
    CHECK(rel[1].extra["reason"] == "exited");
    CHECK(rel[1].owner == "agent-1");
}

TEST_CASE("re-locking one's own lease refreshes its TTL and keeps the lock id", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    auto first = acquired(a.try_acquire(request(a, "db", 1min))).record;
    Acquired again = acquired(a.try_acquire(request(a, "db", 10min)));
    CHECK(again.refreshed);
    CHECK(again.record.lock_id == first.lock_id);
    CHECK(again.record.ttl_sec == 600);
    REQUIRE(again.record.expires_at);
    CHECK(*again.record.expires_at > *first.expires_at);
    auto renew = t.events("renew");
    REQUIRE(renew.size() == 1);
    CHECK(renew[0].ttl_sec == 600);
    CHECK(t.events("acquire").size() == 1);
}

TEST_CASE("re-locking one's own lease without a TTL keeps the TTL it has", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    auto first = acquired(a.try_acquire(request(a, "db", 10min))).record;
    Acquired again = acquired(a.try_acquire(request(a, "db", 0s)));
    CHECK(again.refreshed);
    CHECK(again.record.ttl_sec == 600);
    REQUIRE(again.record.expires_at);
    CHECK(*again.record.expires_at >= *first.expires_at);
    // A lease without a TTL stays without one.
    acquired(a.try_acquire(request(a, "forever", 0s)));
    CHECK_FALSE(acquired(a.try_acquire(request(a, "forever", 0s))).record.expires_at);
}

TEST_CASE("is_own_lease: a lease of the same owner on the same host only", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    LockRecord r = acquired(a.try_acquire(request(a, "db", 0s))).record;
    CHECK(is_own_lease(r, a.self()));
    Identity other = a.self();
    other.owner = "agent-2";
    CHECK_FALSE(is_own_lease(r, other));
    other = a.self();
    other.host = "elsewhere";
    CHECK_FALSE(is_own_lease(r, other));
    r.kind = LockKind::guard;
    CHECK_FALSE(is_own_lease(r, a.self()));
}

TEST_CASE("a guard never takes over an existing lock, whatever the owner", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    SECTION("guard request against own lease") {
        acquired(a.try_acquire(request(a, "build")));
        held(a.try_acquire(request(a, "build", 0s, LockKind::guard)));
    }
    SECTION("lease request against own live guard") {
        acquired(a.try_acquire(request(a, "build", 0s, LockKind::guard)));
        held(a.try_acquire(request(a, "build")));
        held(a.try_acquire(request(a, "build", 0s, LockKind::shim)));
        auto rel = a.release_owned("build");
        REQUIRE(rel);
        CHECK(rel->status == ReleaseStatus::guarded);
        CHECK(sys::exists(t.root.lock_path("build")));
    }
}

TEST_CASE("a corrupt lock file is replaced and audited as corrupt-break", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    auto bytes = GENERATE(std::string(""), std::string("garbage\n"), std::string("{\"version\": 1, \"name\": \"bu"),
                          std::string("[1,2]"));
    REQUIRE(ensure_root_dirs(t.root));
    t.write(t.root.lock_path("build"), bytes);
    // Younger than the write grace period it is a writer in progress (held, left alone)...
    Held writing = held(a.try_acquire(request(a, "build")));
    CHECK(writing.being_written);
    CHECK(t.events("corrupt-break").empty());
    // ...older than that it is corrupt.
    struct timespec old[2] = {{::time(nullptr) - 10, 0}, {::time(nullptr) - 10, 0}};
    REQUIRE(::utimensat(AT_FDCWD, t.root.lock_path("build").c_str(), old, 0) == 0);
    Acquired got = acquired(a.try_acquire(request(a, "build")));
    auto on_disk = a.read("build");
    REQUIRE(on_disk);
    REQUIRE(on_disk->record);
    CHECK(on_disk->record->lock_id == got.record.lock_id);
    auto ev = t.events("corrupt-break");
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].owner == "agent-1");
    CHECK(t.events("acquire").size() == 1);
}

TEST_CASE("a lock file of a newer version is never touched", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    REQUIRE(ensure_root_dirs(t.root));
    const std::string future =
        "{\"version\": 2, \"name\": \"x\", \"owner\": \"future\", \"pid\": 1, \"acquired_ts\": "
        "\"2020-01-01T00:00:00Z\", \"ttl_sec\": 1, \"expires_at\": \"2020-01-01T00:00:01Z\"}\n";
    t.write(t.root.lock_path("x"), future);

    auto r = a.try_acquire(request(a, "x"));
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "lock \"x\" was written by a newer lokt (file version 2); not touching it");
    CHECK_FALSE(a.break_stale("x"));
    CHECK_FALSE(a.release_owned("x"));
    auto rn = a.renew("x", "whatever", 1min);
    REQUIRE(rn);
    CHECK_FALSE(*rn);
    auto listed = a.list(true);
    REQUIRE(listed);
    CHECK(listed->empty());
    CHECK(t.slurp(t.root.lock_path("x")) == future);
    CHECK(t.events().empty());
}

TEST_CASE("an expired lock is pruned by the next acquirer", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    auto old = acquired(a.try_acquire(request(a, "build", 1ns))).record;
    Acquired got = acquired(b.try_acquire(request(b, "build", 5min)));
    CHECK(got.record.owner == "agent-2");
    auto prune = t.events("auto-prune");
    REQUIRE(prune.size() == 1);
    CHECK(prune[0].lock_id == old.lock_id);
    CHECK(prune[0].owner == "agent-2");
    CHECK(prune[0].extra["pruned_owner"] == "agent-1");
    CHECK(prune[0].extra["pruned_pid"] == old.pid);
    CHECK(prune[0].extra["reason"] == "expired");
}

TEST_CASE("a dead holder's guard lock is pruned, a lease is not", "[store]") {
    TempRoot t;
    Store b = t.store("agent-2");
    REQUIRE(ensure_root_dirs(t.root));
    pid_t dead = dead_pid();

    SECTION("guard of a dead pid: pruned") {
        t.write(t.root.lock_path("g"), encode_lock(foreign_lock("g", "agent-1", dead, LockKind::guard)));
        acquired(b.try_acquire(request(b, "g", 0s, LockKind::guard)));
        auto prune = t.events("auto-prune");
        REQUIRE(prune.size() == 1);
        CHECK(prune[0].extra["reason"] == "dead");
    }
    SECTION("the original's lock (no kind) of a dead pid: pruned") {
        t.write(t.root.lock_path("g"), encode_lock(foreign_lock("g", "agent-1", dead, std::nullopt)));
        acquired(b.try_acquire(request(b, "g")));
    }
    SECTION("guard whose pid was recycled (start time differs): pruned") {
        auto rec = foreign_lock("g", "agent-1", ::getpid(), LockKind::guard);
        rec.pid_start_ns = current_identity().pid_start + 12345;
        t.write(t.root.lock_path("g"), encode_lock(rec));
        acquired(b.try_acquire(request(b, "g", 0s, LockKind::guard)));
    }
    SECTION("lease of a dead pid: kept") {
        t.write(t.root.lock_path("g"), encode_lock(foreign_lock("g", "agent-1", dead, LockKind::lease)));
        held(b.try_acquire(request(b, "g")));
        auto br = b.break_stale("g");
        REQUIRE(br);
        CHECK(br->status == ReleaseStatus::not_stale);
        CHECK(t.events("auto-prune").empty());
    }
    SECTION("guard of another host: kept") {
        auto rec = foreign_lock("g", "agent-1", dead, LockKind::guard);
        rec.host = "elsewhere";
        t.write(t.root.lock_path("g"), encode_lock(rec));
        held(b.try_acquire(request(b, "g", 0s, LockKind::guard)));
    }
}

TEST_CASE("many processes racing to break one stale lock: exactly one wins", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    acquired(a.try_acquire(request(a, "build", 1ns)));
    const bool via_acquire = GENERATE(false, true);
    constexpr int kChildren = 24;

    auto go = sys::pipe();
    REQUIRE(go);
    std::vector<pid_t> kids;
    for (int i = 0; i < kChildren; ++i) {
        kids.push_back(fork_child([&, i] {
            go->write.reset();
            char c;
            (void)::read(go->read.get(), &c, 1);  // all start together when the pipe closes
            Store s = t.store("breaker-" + std::to_string(i));
            if (via_acquire) {
                auto r = s.try_acquire(request(s, "build", 1h));
                if (!r) return 2;
                return std::holds_alternative<Acquired>(*r) ? 0 : 1;
            }
            auto r = s.break_stale("build");
            if (!r) return 2;
            return r->status == ReleaseStatus::released ? 0 : 1;
        }));
    }
    go->write.reset();
    int winners = 0, errors = 0;
    for (pid_t k : kids) {
        int rc = reap(k);
        winners += rc == 0;
        errors += rc != 0 && rc != 1;
    }
    CHECK(errors == 0);
    CHECK(winners == 1);
    CHECK(t.events(via_acquire ? "auto-prune" : "stale-break").size() == 1);
    CHECK(t.events("acquire").size() == (via_acquire ? 2u : 1u));
}

TEST_CASE("renew extends our lock; a lost lock is reported, not renewed", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    auto rec = acquired(a.try_acquire(request(a, "g", 2s, LockKind::guard))).record;
    auto renewed = a.renew("g", rec.lock_id, 1h);
    REQUIRE(renewed);
    REQUIRE(*renewed);
    CHECK((*renewed)->lock_id == rec.lock_id);
    CHECK((*renewed)->ttl_sec == 3600);
    CHECK(*(*renewed)->expires_at > *rec.expires_at + 30min);
    auto ev = t.events("renew");
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].ttl_sec == 3600);

    auto br = b.force_break("g");
    REQUIRE(br);
    CHECK(br->status == ReleaseStatus::released);
    auto lost = a.renew("g", rec.lock_id, 1h);
    REQUIRE(lost);
    CHECK_FALSE(*lost);

    acquired(b.try_acquire(request(b, "g")));
    auto other = a.renew("g", rec.lock_id, 1h);
    REQUIRE(other);
    CHECK_FALSE(*other);
    auto fb = t.events("force-break");
    REQUIRE(fb.size() == 1);
    CHECK(fb[0].owner == "agent-2");
    CHECK(fb[0].lock_id == rec.lock_id);
    CHECK(fb[0].ttl_sec == 3600);
}

TEST_CASE("update replaces our lock keeping its id, and refuses someone else's", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    auto rec = acquired(a.try_acquire(request(a, "g", 0s, LockKind::guard))).record;
    rec.pgid = 4242;
    rec.command = "make build";
    auto ok = a.update(rec);
    REQUIRE(ok);
    CHECK(*ok);
    auto rd = a.read("g");
    REQUIRE(rd);
    CHECK(rd->record->pgid == 4242);
    CHECK(rd->record->command == "make build");
    CHECK(rd->record->lock_id == rec.lock_id);

    rec.lock_id = random_lock_id();
    auto refused = a.update(rec);
    REQUIRE(refused);
    CHECK_FALSE(*refused);
}

TEST_CASE("break_stale removes only expired or dead locks; force removes anything", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store h = t.store("human");
    acquired(a.try_acquire(request(a, "live", 1h)));
    auto ns = h.break_stale("live");
    REQUIRE(ns);
    CHECK(ns->status == ReleaseStatus::not_stale);
    CHECK(ns->record->owner == "agent-1");

    acquired(a.try_acquire(request(a, "old", 1ns)));
    auto st = h.break_stale("old");
    REQUIRE(st);
    CHECK(st->status == ReleaseStatus::released);
    auto ev = t.events("stale-break");
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].owner == "human");
    CHECK(ev[0].extra["reason"] == "expired");

    auto nf = h.break_stale("nothing");
    REQUIRE(nf);
    CHECK(nf->status == ReleaseStatus::not_found);

    t.write(t.root.lock_path("junk"), "{{{");
    auto fj = h.force_break("junk");
    REQUIRE(fj);
    CHECK(fj->status == ReleaseStatus::released);
    CHECK_FALSE(sys::exists(t.root.lock_path("junk")));
}

TEST_CASE("a freeze blocks acquisition until lifted; only its owner lifts it without force",
          "[store]") {
    TempRoot t;
    Store human = t.store("human");
    Store agent = t.store("agent-2");

    CHECK_FALSE(human.freeze("deploy", 0s));
    auto fr = human.freeze("deploy", 30min);
    REQUIRE(fr);
    CHECK(fr->ttl_sec == 1800);

    auto denied = agent.try_acquire(request(agent, "deploy"));
    REQUIRE(denied);
    REQUIRE(std::holds_alternative<Frozen>(*denied));
    CHECK(std::get<Frozen>(*denied).freeze.owner == "human");
    agent.audit_denial(request(agent, "deploy"), *denied);
    auto fd = t.events("freeze-deny");
    REQUIRE(fd.size() == 1);
    CHECK(fd[0].owner == "agent-2");
    CHECK(fd[0].lock_id == fr->lock_id);
    CHECK(fd[0].extra["freeze_owner"] == "human");

    auto no = agent.unfreeze("deploy", false);
    REQUIRE(no);
    CHECK(no->status == ReleaseStatus::not_owner);
    SECTION("owner unfreezes") {
        auto yes = human.unfreeze("deploy", false);
        REQUIRE(yes);
        CHECK(yes->status == ReleaseStatus::released);
        CHECK(t.events("unfreeze").size() == 1);
    }
    SECTION("someone else forces") {
        auto yes = agent.unfreeze("deploy", true);
        REQUIRE(yes);
        CHECK(yes->status == ReleaseStatus::released);
        auto ev = t.events("force-unfreeze");
        REQUIRE(ev.size() == 1);
        CHECK(ev[0].ttl_sec == 1800);
    }
    acquired(agent.try_acquire(request(agent, "deploy")));
    auto nf = human.unfreeze("deploy", false);
    REQUIRE(nf);
    CHECK(nf->status == ReleaseStatus::not_found);
}

TEST_CASE("an expired freeze is removed and audited when met", "[store]") {
    TempRoot t;
    Store human = t.store("human");
    Store agent = t.store("agent-2");
    REQUIRE(human.freeze("deploy", 1ns));
    acquired(agent.try_acquire(request(agent, "deploy")));
    CHECK_FALSE(sys::exists(t.root.freeze_path("deploy")));
    auto ev = t.events("unfreeze");
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].extra["reason"] == "expired");
    CHECK(ev[0].owner == "agent-2");
}

TEST_CASE("list shows locks and freezes sorted; pruning removes expired ones", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    auto empty = a.list(false);
    REQUIRE(empty);
    CHECK(empty->empty());

    acquired(a.try_acquire(request(a, "zeta")));
    acquired(a.try_acquire(request(a, "alpha", 1ns)));
    acquired(a.try_acquire(request(a, "mid", 1h)));
    REQUIRE(a.freeze("mid", 1h));
    REQUIRE(a.freeze("cold", 1ns));
    t.write(t.root.lock_path("broken"), "not json");
    t.write(t.root.locks_dir() + "/.lokt-1-abc.tmp", "partial");

    auto all = a.list(false);
    REQUIRE(all);
    std::vector<std::pair<std::string, bool>> got;
    for (auto& e : *all) got.emplace_back(e.record.name, e.frozen);
    CHECK(got == std::vector<std::pair<std::string, bool>>{
                     {"alpha", false}, {"cold", true}, {"mid", false}, {"mid", true}, {"zeta", false}});
    CHECK(t.events("auto-prune").empty());

    auto pruned = a.list(true);
    REQUIRE(pruned);
    got.clear();
    for (auto& e : *pruned) got.emplace_back(e.record.name, e.frozen);
    CHECK(got == std::vector<std::pair<std::string, bool>>{{"mid", false}, {"mid", true}, {"zeta", false}});
    CHECK_FALSE(sys::exists(t.root.lock_path("alpha")));
    CHECK_FALSE(sys::exists(t.root.freeze_path("cold")));
    CHECK(sys::exists(t.root.lock_path("broken")));  // corrupt: skipped, not removed
    auto ev = t.events("auto-prune");
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].name == "alpha");
    CHECK(t.events("unfreeze").size() == 1);
}

TEST_CASE("a full disk leaves no partial lock file and the old state intact", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    auto old = acquired(a.try_acquire(request(a, "build", 1ns))).record;  // expired: prunable
    const std::string before = t.slurp(t.root.lock_path("build"));

    std::optional<ScopedWriteFailure> full(std::in_place, ENOSPC);
    auto fresh = b.try_acquire(request(b, "other"));
    auto replace = b.try_acquire(request(b, "build"));
    auto renew = a.renew("build", old.lock_id, 1h);
    auto frz = b.freeze("build", 1h);
    full.reset();

    REQUIRE_FALSE(fresh);
    CHECK(fresh.error().sys_errno == ENOSPC);
    REQUIRE_FALSE(replace);
    REQUIRE_FALSE(renew);
    REQUIRE_FALSE(frz);
    CHECK_FALSE(sys::exists(t.root.lock_path("other")));
    CHECK(t.slurp(t.root.lock_path("build")) == before);
    CHECK(t.ls(t.root.locks_dir()) == std::vector<std::string>{"build.json"});
    CHECK(t.ls(t.root.freezes_dir()).empty());
}

TEST_CASE("deny is audited with the holder's details", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    Store b = t.store("agent-2");
    auto rec = acquired(a.try_acquire(request(a, "build", 10min))).record;
    auto out = b.try_acquire(request(b, "build"));
    REQUIRE(out);
    b.audit_denial(request(b, "build"), *out);
    auto ev = t.events("deny");
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].owner == "agent-2");
    CHECK(ev[0].lock_id == rec.lock_id);
    CHECK(ev[0].extra["holder_owner"] == "agent-1");
    CHECK(ev[0].extra["holder_host"] == rec.host);
    CHECK(ev[0].extra["holder_pid"] == rec.pid);
}

TEST_CASE("invalid names are refused before anything is touched", "[store]") {
    TempRoot t;
    Store a = t.store("agent-1");
    CHECK_FALSE(a.try_acquire(request(a, "../x")));
    CHECK_FALSE(a.release_owned("a/b"));
    CHECK_FALSE(sys::exists(t.root.path));
}

// Not a test: times list() over 10,000 locks. Run: lokt_tests "[.bench]" -s
TEST_CASE("list of 10000 locks", "[.bench]") {
    TempRoot t;
    Store a = t.store("agent-1");
    REQUIRE(ensure_root_dirs(t.root));
    for (int i = 0; i < 10000; ++i) {
        auto rec = foreign_lock("lock-" + std::to_string(i), "agent-1", 1, LockKind::lease);
        rec.ttl_sec = 3600;
        rec.expires_at = rec.acquired_ts + std::chrono::hours(1);
        t.write(t.root.lock_path(rec.name), encode_lock(rec));
    }
    for (bool prune : {false, true, false, false, false, false, false, false, false, false}) {
        auto start = std::chrono::steady_clock::now();
        auto all = a.list(prune);
        auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        REQUIRE(all);
        CHECK(all->size() == 10000);
        std::printf("list(prune=%d) of %zu locks: %.1f ms\n", int(prune), all->size(), ms);
    }
}
