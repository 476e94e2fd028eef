// The waiters' queue: what a waiter sees ahead, skipping a head that does not move, keeping
// a ticket across fork, and a cancel that is not confirmed.
#include "lokt/identity.hpp"
#include "lokt/queue.hpp"
#include "lokt/wait.hpp"
#include "store_fixture.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

using namespace lokt;
using namespace lokt::test;
using namespace std::chrono_literals;
using detail::HeadStall;
using detail::Ticket;
using detail::TicketInfo;

namespace {

std::string queue_of(const TempRoot& t, const std::string& name) { return t.root.path + "/queue/" + name; }

/// Plants a ticket older than any real one, naming `pid` (alive: this process).
std::string plant(const TempRoot& t, const std::string& name, uint64_t stamp, pid_t pid) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(stamp));
    std::string file = std::string(buf) + "-" + std::to_string(pid) + "-" +
                       std::to_string(process_start_time(pid).value_or(0)) + "-" + current_identity().host;
    t.write(queue_of(t, name) + "/" + file, "");
    return file;
}

TicketInfo info(const std::string& file) { return *detail::parse_ticket(file); }

/// Sets an environment variable for one test.
struct Env {
    std::string name;
    Env(const char* n, const char* v) : name(n) { ::setenv(n, v, 1); }
    ~Env() { ::unsetenv(name.c_str()); }
};

} // namespace

TEST_CASE("a head is stalled only after the lock stayed free for the whole grace", "[queue]") {
    HeadStall s(2s);
    const auto t0 = HeadStall::Clock::now();
    const TicketInfo a = info(std::string(20, '0') + "-1-1-h");
    const TicketInfo b = info("00000000000000000001-2-2-h");
    CHECK_FALSE(s.stalled(a, true, t0));
    CHECK(s.deadline() == t0 + 2s);
    CHECK_FALSE(s.stalled(a, true, t0 + 1999ms));
    CHECK(s.stalled(a, true, t0 + 2s));
    SECTION("the lock taken in between starts the clock again") {
        CHECK_FALSE(s.stalled(a, false, t0 + 1s));
        CHECK_FALSE(s.deadline());
        CHECK_FALSE(s.stalled(a, true, t0 + 2s));
        CHECK(s.stalled(a, true, t0 + 4s));
    }
    SECTION("another head gets its own grace") {
        CHECK_FALSE(s.stalled(b, true, t0 + 3s));
        CHECK(s.stalled(b, true, t0 + 5s));
    }
    SECTION("not second in line: nothing is timed") {
        CHECK_FALSE(s.stalled(std::nullopt, true, t0 + 3s));
        CHECK_FALSE(s.deadline());
    }
}

TEST_CASE("look counts the live waiters ahead and names the head", "[queue]") {
    TempRoot t;
    plant(t, "build", 1, ::getpid());
    auto mine = Ticket::enter(t.root, "build", current_identity().host);
    REQUIRE(mine);
    auto v = mine->look();
    REQUIRE(v);
    CHECK(v->ahead == 1);
    CHECK(v->pred_is_head);
    plant(t, "build", 2, ::getpid());
    v = mine->look();
    REQUIRE(v);
    CHECK(v->ahead == 2);
    CHECK_FALSE(v->pred_is_head);
    CHECK(v->pred->stamp == 2);
}

TEST_CASE("a skipped ticket is removed once, and its owner takes its place back", "[queue]") {
    TempRoot t;
    auto head = Ticket::enter(t.root, "build", current_identity().host);
    auto next = Ticket::enter(t.root, "build", current_identity().host);
    REQUIRE(head);
    REQUIRE(next);
    CHECK(next->skip(head->self()));
    CHECK_FALSE(next->skip(head->self()));  // someone else skipped it first: no second audit
    CHECK(t.ls(queue_of(t, "build")).size() == 1);
    auto v = head->look();  // the skipped waiter runs again
    REQUIRE(v);
    CHECK_FALSE(v->pred);
    CHECK(t.ls(queue_of(t, "build")).size() == 2);
}

TEST_CASE("a ticket re-filed after fork keeps its place and names the child", "[queue]") {
    TempRoot t;
    auto ticket = Ticket::enter(t.root, "build", current_identity().host);
    REQUIRE(ticket);
    const uint64_t stamp = ticket->self().stamp;
    pid_t child = fork_child([&] {
        if (!ticket->rehome()) return 1;
        ticket->forget();  // leave the file for the parent to look at
        return ticket->self().pid == ::getpid() && ticket->self().stamp == stamp ? 0 : 2;
    });
    CHECK(reap(child) == 0);
    ticket->forget();  // the child owns it now
    auto names = t.ls(queue_of(t, "build"));
    REQUIRE(names.size() == 1);
    auto moved = detail::parse_ticket(names[0]);
    REQUIRE(moved);
    CHECK(moved->pid == child);
    CHECK(moved->stamp == stamp);
}

TEST_CASE("a head that does not act while the lock is free is skipped and audited", "[queue][wait]") {
    Env grace("LOKT_TEST_QUEUE_GRACE_MS", "50");
    TempRoot t;
    const std::string planted = plant(t, "build", 1, ::getpid());  // alive, never acts
    Store s = t.store("waiter");
    WaitOptions o;
    o.timeout = 60s;
    auto r = acquire_waiting(s, request(s, "build"), o);
    REQUIRE(r);
    CHECK(r->end == WaitEnd::acquired);
    auto skips = t.events("queue-skip");
    REQUIRE(skips.size() == 1);
    CHECK(skips[0].extra["skipped_pid"] == ::getpid());
    CHECK(skips[0].extra["reason"] == "idle");
    CHECK(t.ls(queue_of(t, "build")).empty());
}

TEST_CASE("a head is not skipped while the lock is held", "[queue][wait]") {
    Env grace("LOKT_TEST_QUEUE_GRACE_MS", "20");
    TempRoot t;
    Store holder = t.store("holder");
    REQUIRE(holder.try_acquire(request(holder, "build")));
    plant(t, "build", 1, ::getpid());
    Store s = t.store("waiter");
    WaitOptions o;
    o.timeout = 300ms;
    auto r = acquire_waiting(s, request(s, "build"), o);
    REQUIRE(r);
    CHECK(r->end == WaitEnd::timed_out);
    CHECK(t.events("queue-skip").empty());
}

TEST_CASE("a head that leaves a slot of a pool free is skipped", "[queue][wait][slots]") {
    Env grace("LOKT_TEST_QUEUE_GRACE_MS", "50");
    TempRoot t;
    auto slot_req = [](const Store& s) {
        AcquireRequest r = request(s, "pool");
        r.mode = LockMode::slots;
        r.slots = 2;
        return r;
    };
    Store holder = t.store("holder");
    auto held = holder.try_acquire(slot_req(holder));
    REQUIRE(held);
    REQUIRE(std::holds_alternative<Acquired>(*held));
    plant(t, "pool", 1, ::getpid());  // alive, never acts, while one slot stays free
    Store s = t.store("waiter");
    WaitOptions o;
    o.timeout = 60s;
    auto r = acquire_waiting(s, slot_req(s), o);
    REQUIRE(r);
    CHECK(r->end == WaitEnd::acquired);
    CHECK(t.events("queue-skip").size() == 1);
}

TEST_CASE("an unconfirmed cancel keeps the waiter's ticket", "[queue][wait]") {
    TempRoot t;
    Store a = t.store("holder");
    Store b = t.store("waiter");
    REQUIRE(a.try_acquire(request(a, "build")));
    auto cancel = sys::pipe();
    REQUIRE(cancel);
    std::atomic<int> asked{0};
    WaitOptions o;
    o.timeout = 30s;
    o.cancel_fd = cancel->read.get();
    o.confirm_cancel = [&] {
        char c;
        (void)::read(cancel->read.get(), &c, 1);
        ++asked;
        return false;  // e.g. a SIGWINCH relayed to a waiting guard
    };
    std::vector<std::string> before, after;
    std::thread other([&] {
        wait_for([&] { return !t.ls(queue_of(t, "build")).empty(); });
        before = t.ls(queue_of(t, "build"));
        (void)::write(cancel->write.get(), "w", 1);
        wait_for([&] { return asked == 1; });
        after = t.ls(queue_of(t, "build"));
        (void)a.release_id("build", a.read("build")->record->lock_id);
    });
    auto r = acquire_waiting(b, request(b, "build"), o);
    other.join();
    REQUIRE(r);
    CHECK(asked == 1);
    CHECK(r->end == WaitEnd::acquired);
    CHECK(before.size() == 1);
    CHECK(after == before);
}

TEST_CASE("a wait that blocked reports its progress and is audited", "[queue][wait]") {
    TempRoot t;
    Store a = t.store("holder");
    Store b = t.store("waiter");
    REQUIRE(a.try_acquire(request(a, "build")));
    std::vector<WaitProgress> reports;
    std::atomic<int> count{0};
    WaitOptions o;
    o.timeout = 30s;
    o.progress_every = 10ms;
    o.progress = [&](const WaitProgress& p) {
        reports.push_back(p);
        ++count;
    };
    std::thread releaser([&] {
        wait_for([&] { return count >= 2; });  // the start and one periodic report
        (void)a.release_id("build", a.read("build")->record->lock_id);
    });
    auto r = acquire_waiting(b, request(b, "build"), o);
    releaser.join();
    REQUIRE(r);
    REQUIRE(reports.size() >= 3);
    CHECK(reports.front().phase == WaitProgress::Phase::waiting);
    REQUIRE(reports.front().blocker);
    CHECK(std::get<Held>(*reports.front().blocker).holder.owner == "holder");
    CHECK(reports.back().phase == WaitProgress::Phase::acquired);
    auto waits = t.events("wait");
    REQUIRE(waits.size() == 1);
    CHECK(waits[0].extra["result"] == "acquired");
    CHECK(waits[0].extra["waited_sec"].get<double>() >= 0.0);
}

TEST_CASE("a wait that did not block is neither reported nor audited", "[queue][wait]") {
    TempRoot t;
    Store b = t.store("waiter");
    int reports = 0;
    WaitOptions o;
    o.progress = [&](const WaitProgress&) { ++reports; };
    auto r = acquire_waiting(b, request(b, "build"), o);
    REQUIRE(r);
    CHECK(r->end == WaitEnd::acquired);
    CHECK(reports == 0);
    CHECK(t.events("wait").empty());
}
