#include "lokt/wait.hpp"

#include "store_fixture.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

using namespace lokt;
using namespace lokt::test;
using namespace std::chrono_literals;

namespace {

using Steady = std::chrono::steady_clock;

std::string queue_of(const TempRoot& t, const std::string& name) {
    return t.root.path + "/queue/" + name;
}

/// True while `pid` sleeps in ppoll() (the waiting loop), per /proc/PID/syscall.
bool blocked_in_ppoll(pid_t pid) {
    auto s = sys::read_file("/proc/" + std::to_string(pid) + "/syscall", 256);
    if (!s) return false;
    return std::atol(s->c_str()) == SYS_ppoll && (*s)[0] != 'r';
}

/// Exit codes of a waiting child.
enum : int { kAcquired = 0, kTimedOut = 1, kCancelled = 2, kError = 3, kTooSlow = 5, kRefused = 6 };

/// Forks a child that waits for `name` as `owner` and exits with one of the codes above.
/// "Too slow" means it acquired, but only after `within`: woken by nothing but the timeout.
pid_t fork_waiter(const TempRoot& t, const std::string& owner, const std::string& name,
                  WaitOptions opt, LockKind kind = LockKind::lease,
                  const std::function<void(Store&)>& after = {}, bool no_inotify_env = false) {
    return fork_child([=, &t] {
        if (no_inotify_env) ::setenv("LOKT_NO_INOTIFY", "1", 1);  // the child's own copy
        Store s = t.store(owner);
        auto start = Steady::now();
        auto r = acquire_waiting(s, request(s, name, 0s, kind), opt);
        if (!r) return int(kError);
        switch (r->end) {
        case WaitEnd::acquired: break;
        case WaitEnd::timed_out: return int(kTimedOut);
        case WaitEnd::cancelled: return int(kCancelled);
        case WaitEnd::refused: return int(kRefused);
        }
        if (after) after(s);
        return Steady::now() - start < opt.timeout / 2 ? int(kAcquired) : int(kTooSlow);
    });
}

WaitOptions wait_opts(Nanos timeout = 30s) {
    WaitOptions o;
    o.timeout = timeout;
    return o;
}

/// A child holding a guard lock on `name` until it is killed (or `hold`'s write end closes).
pid_t fork_guard_holder(const TempRoot& t, const std::string& name, sys::Pipe& hold) {
    auto ready = sys::pipe();
    REQUIRE(ready);
    pid_t pid = fork_child([&] {
        hold.write.reset();
        ready->read.reset();
        Store s = t.store("holder");
        auto r = s.try_acquire(request(s, name, 0s, LockKind::guard));
        if (!r || !std::holds_alternative<Acquired>(*r)) return 1;
        (void)::write(ready->write.get(), "r", 1);
        char c;
        (void)::read(hold.read.get(), &c, 1);
        return 0;
    });
    ready->write.reset();
    char c = 0;
    REQUIRE(::read(ready->read.get(), &c, 1) == 1);
    return pid;
}

} // namespace

TEST_CASE("a waiter is woken by the release", "[wait]") {
    TempRoot t;
    Store a = t.store("holder");
    REQUIRE(a.try_acquire(request(a, "build")));  // a lease without TTL: only a release ends it
    const int mode = GENERATE(0, 1, 2);  // inotify, poll_only option, LOKT_NO_INOTIFY=1
    WaitOptions o = wait_opts();
    o.poll_only = mode == 1;
    pid_t w = fork_waiter(t, "waiter", "build", o, LockKind::lease, {}, mode == 2);
    REQUIRE(wait_for([&] { return blocked_in_ppoll(w); }));
    CHECK(a.read("build")->record->owner == "holder");

    auto rel = a.release_owned("build");
    REQUIRE(rel);
    REQUIRE(rel->status == ReleaseStatus::released);
    CHECK(reap(w) == kAcquired);
    auto rd = a.read("build");
    REQUIRE(rd);
    REQUIRE(rd->record);
    CHECK(rd->record->owner == "waiter");
    CHECK(t.ls(queue_of(t, "build")).empty());
}

TEST_CASE("a waiter is woken by the holder's death", "[wait]") {
    TempRoot t;
    auto hold = sys::pipe();
    REQUIRE(hold);
    pid_t holder = fork_guard_holder(t, "g", *hold);
    hold->read.reset();
    pid_t w = fork_waiter(t, "waiter", "g", wait_opts(), LockKind::guard);
    REQUIRE(wait_for([&] { return blocked_in_ppoll(w); }));

    ::kill(holder, SIGKILL);  // the holder dies without releasing
    CHECK(reap(holder) == -1);
    CHECK(reap(w) == kAcquired);
    auto prune = t.events("auto-prune");
    REQUIRE(prune.size() == 1);
    CHECK(prune[0].extra["reason"] == "dead");
}

TEST_CASE("a waiter is woken by the holder's TTL expiry", "[wait]") {
    TempRoot t;
    Store a = t.store("holder");
    Store b = t.store("waiter");
    REQUIRE(a.try_acquire(request(a, "build", 300ms)));
    auto start = Steady::now();
    auto r = acquire_waiting(b, request(b, "build"), wait_opts(30s));
    REQUIRE(r);
    CHECK(r->end == WaitEnd::acquired);
    CHECK(Steady::now() - start >= 250ms);
    CHECK(Steady::now() - start < 15s);
    auto prune = t.events("auto-prune");
    REQUIRE(prune.size() == 1);
    CHECK(prune[0].extra["reason"] == "expired");
}

TEST_CASE("a waiter waits through a freeze", "[wait]") {
    TempRoot t;
    Store human = t.store("human");
    SECTION("until it expires") {
        REQUIRE(human.freeze("deploy", 300ms));
        Store b = t.store("waiter");
        auto r = acquire_waiting(b, request(b, "deploy"), wait_opts(30s));
        REQUIRE(r);
        CHECK(r->end == WaitEnd::acquired);
        CHECK(t.events("unfreeze").size() == 1);
    }
    SECTION("until it is lifted") {
        REQUIRE(human.freeze("deploy", 1h));
        pid_t w = fork_waiter(t, "waiter", "deploy", wait_opts());
        REQUIRE(wait_for([&] { return blocked_in_ppoll(w); }));
        auto un = human.unfreeze("deploy", false);
        REQUIRE(un);
        CHECK(un->status == ReleaseStatus::released);
        CHECK(reap(w) == kAcquired);
    }
}

TEST_CASE("stop_on ends a wait at once, before queueing or when the blocker appears", "[wait]") {
    TempRoot t;
    Store human = t.store("human");
    auto refusing_freezes = [](Nanos timeout) {
        WaitOptions o = wait_opts(timeout);
        o.stop_on = [](const AcquireOutcome& out) { return std::holds_alternative<Frozen>(out); };
        return o;
    };
    Store b = t.store("waiter");
    SECTION("a freeze in force at the start: refused, no ticket, no wait event") {
        REQUIRE(human.freeze("deploy", 1h));
        auto r = acquire_waiting(b, request(b, "deploy"), refusing_freezes(10min));
        REQUIRE(r);
        CHECK(r->end == WaitEnd::refused);
        CHECK(std::holds_alternative<Frozen>(r->outcome));
        CHECK(t.ls(queue_of(t, "deploy")).empty());
        CHECK(t.events("wait").empty());
    }
    SECTION("a freeze set while waiting for a holder: refused, audited as a refused wait") {
        Store a = t.store("holder");
        REQUIRE(a.try_acquire(request(a, "deploy")));
        pid_t w = fork_waiter(t, "waiter", "deploy", refusing_freezes(10min));
        REQUIRE(wait_for([&] { return blocked_in_ppoll(w); }));
        REQUIRE(human.freeze("deploy", 1h));
        CHECK(reap(w) == kRefused);
        auto waits = t.events("wait");
        REQUIRE(waits.size() == 1);
        CHECK(waits[0].extra["result"] == "refused");
    }
    SECTION("a holder stop_on does not refuse is waited for as usual") {
        Store a = t.store("holder");
        REQUIRE(a.try_acquire(request(a, "deploy", 300ms)));
        auto r = acquire_waiting(b, request(b, "deploy"), refusing_freezes(30s));
        REQUIRE(r);
        CHECK(r->end == WaitEnd::acquired);
    }
}

TEST_CASE("a wait that times out reports the holder and leaves no ticket", "[wait]") {
    TempRoot t;
    Store a = t.store("holder");
    Store b = t.store("waiter");
    REQUIRE(a.try_acquire(request(a, "build")));
    auto r = acquire_waiting(b, request(b, "build"), wait_opts(200ms));
    REQUIRE(r);
    CHECK(r->end == WaitEnd::timed_out);
    REQUIRE(std::holds_alternative<Held>(r->outcome));
    CHECK(std::get<Held>(r->outcome).holder.owner == "holder");
    CHECK(t.ls(queue_of(t, "build")).empty());

    REQUIRE(a.freeze("build", 1h));
    auto f = acquire_waiting(b, request(b, "build"), wait_opts(100ms));
    REQUIRE(f);
    CHECK(f->end == WaitEnd::timed_out);
    CHECK(std::holds_alternative<Frozen>(f->outcome));
}

TEST_CASE("a readable cancel_fd stops the wait", "[wait]") {
    TempRoot t;
    Store a = t.store("holder");
    Store b = t.store("waiter");
    REQUIRE(a.try_acquire(request(a, "build")));
    auto cancel = sys::pipe();
    REQUIRE(cancel);
    WaitOptions o = wait_opts(30s);
    o.cancel_fd = cancel->read.get();
    std::thread canceller([&] {
        wait_for([&] { return !t.ls(queue_of(t, "build")).empty(); });
        (void)::write(cancel->write.get(), "x", 1);
    });
    auto r = acquire_waiting(b, request(b, "build"), o);
    canceller.join();
    REQUIRE(r);
    CHECK(r->end == WaitEnd::cancelled);
    REQUIRE(std::holds_alternative<Held>(r->outcome));
    CHECK(std::get<Held>(r->outcome).holder.owner == "holder");
    CHECK(t.ls(queue_of(t, "build")).empty());
}

TEST_CASE("a cancel_fd readable from the start returns at once", "[wait]") {
    TempRoot t;
    Store a = t.store("holder");
    Store b = t.store("waiter");
    REQUIRE(a.try_acquire(request(a, "build")));
    auto cancel = sys::pipe();
    REQUIRE(cancel);
    REQUIRE(::write(cancel->write.get(), "x", 1) == 1);
    WaitOptions o = wait_opts(30s);
    o.cancel_fd = cancel->read.get();
    auto r = acquire_waiting(b, request(b, "build"), o);
    REQUIRE(r);
    CHECK(r->end == WaitEnd::cancelled);
    CHECK(std::holds_alternative<Held>(r->outcome));
    CHECK(t.ls(queue_of(t, "build")).empty());
}

TEST_CASE("a dead guard holder whose process group lives on is waited out", "[wait]") {
    TempRoot t;
    Store b = t.store("waiter");
    // The guarded command: its own process group, still alive after the holder died.
    pid_t cmd = fork_child([] {
        ::setpgid(0, 0);
        ::pause();
        return 0;
    });
    REQUIRE(wait_for([&] { return ::getpgid(cmd) == cmd; }));
    LockRecord rec;
    rec.name = "g";
    rec.lock_id = random_lock_id();
    rec.owner = "holder";
    rec.host = b.self().host;
    rec.pid = dead_pid();
    rec.acquired_ts = now();
    rec.kind = LockKind::guard;
    rec.pgid = cmd;
    REQUIRE(ensure_root_dirs(t.root));
    t.write(t.root.lock_path("g"), encode_lock(rec));

    pid_t w = fork_waiter(t, "waiter", "g", wait_opts(), LockKind::guard);
    // Asleep in its wait loop with the lock still there: it judged the group alive.
    REQUIRE(wait_for([&] { return blocked_in_ppoll(w); }));
    CHECK(sys::exists(t.root.lock_path("g")));
    CHECK(t.events("auto-prune").empty());

    ::kill(cmd, SIGKILL);
    CHECK(reap(cmd) == -1);
    CHECK(reap(w) == kAcquired);
    auto prune = t.events("auto-prune");
    REQUIRE(prune.size() == 1);
    CHECK(prune[0].extra["reason"] == "dead");
}

TEST_CASE("waiters are served first come, first served", "[wait]") {
    TempRoot t;
    Store a = t.store("holder");
    REQUIRE(a.try_acquire(request(a, "build")));
    const std::string order_file = t.dir + "/order";
    const bool poll_only = GENERATE(false, true);
    WaitOptions o = wait_opts();
    o.poll_only = poll_only;
    std::vector<pid_t> kids;
    for (int i = 1; i <= 3; ++i) {
        kids.push_back(fork_waiter(t, "w" + std::to_string(i), "build", o, LockKind::lease,
                                   [&, i](Store& s) {
                                       auto fd = sys::open(order_file, O_WRONLY | O_APPEND | O_CREAT);
                                       if (fd) (void)sys::write_all(fd->get(), std::to_string(i));
                                       auto rd = s.read("build");
                                       if (rd && rd->record) (void)s.release_id("build", rd->record->lock_id);
                                   }));
        REQUIRE(wait_for([&] { return t.ls(queue_of(t, "build")).size() == size_t(i); }));
    }
    REQUIRE(a.release_owned("build"));
    for (pid_t k : kids) CHECK(reap(k) == kAcquired);
    CHECK(t.slurp(order_file) == "123");
    CHECK(t.ls(queue_of(t, "build")).empty());
}

TEST_CASE("a dead waiter's ticket does not block the queue", "[wait]") {
    TempRoot t;
    Store b = t.store("waiter");
    const std::string q = queue_of(t, "build");
    char stale[64];
    std::snprintf(stale, sizeof stale, "%020d-%d-0-", 1, dead_pid());
    t.write(q + "/" + stale + b.self().host, "");
    auto r = acquire_waiting(b, request(b, "build"), wait_opts(30s));
    REQUIRE(r);
    CHECK(r->end == WaitEnd::acquired);
    CHECK(t.ls(q).empty());
}

TEST_CASE("a live waiter ahead keeps us waiting until it goes away", "[wait]") {
    TempRoot t;
    auto hold = sys::pipe();
    REQUIRE(hold);
    pid_t ahead = fork_child([&] {
        hold->write.reset();
        char c;
        (void)::read(hold->read.get(), &c, 1);
        return 0;
    });
    hold->read.reset();
    // A ticket of the live child that sorts before anything we create now.
    char name[160];
    std::snprintf(name, sizeof name, "%020d-%d-%llu-%s", 1, ahead,
                  static_cast<unsigned long long>(process_start_time(ahead).value_or(0)),
                  current_identity().host.c_str());
    t.write(queue_of(t, "build") + "/" + name, "");

    pid_t w = fork_waiter(t, "waiter", "build", wait_opts());
    REQUIRE(wait_for([&] { return blocked_in_ppoll(w); }));
    CHECK_FALSE(sys::exists(t.root.lock_path("build")));  // free, yet not taken out of turn

    ::kill(ahead, SIGKILL);  // the waiter ahead dies without removing its ticket
    CHECK(reap(ahead) == -1);
    CHECK(reap(w) == kAcquired);
}

TEST_CASE("hammer: concurrent waiters and grabbers never overlap", "[wait]") {
    TempRoot t;
    constexpr int kProcs = 6;
    constexpr int kRounds = 15;
    const std::string inside = t.dir + "/inside";
    std::vector<pid_t> kids;
    for (int i = 0; i < kProcs; ++i) {
        kids.push_back(fork_child([&, i] {
            Store s = t.store("p" + std::to_string(i));
            const bool waits = i % 3 != 0;  // a third only ever uses single tries
            for (int round = 0; round < kRounds;) {
                AcquireOutcome out;
                if (waits) {
                    auto r = acquire_waiting(s, request(s, "build", 0s, LockKind::guard), wait_opts(60s));
                    if (!r || r->end != WaitEnd::acquired) return 3;
                    out = r->outcome;
                } else {
                    auto r = s.try_acquire(request(s, "build", 0s, LockKind::guard));
                    if (!r) return 3;
                    if (!std::holds_alternative<Acquired>(*r)) {
                        std::this_thread::sleep_for(200us);
                        continue;
                    }
                    out = *r;
                }
                // The overlap detector: only one process may be inside at a time.
                auto marker = sys::open(inside, O_WRONLY | O_CREAT | O_EXCL);
                if (!marker) return 7;
                marker->reset();
                std::this_thread::sleep_for(100us);
                if (!sys::unlink(inside)) return 7;
                auto rel = s.release_id("build", std::get<Acquired>(out).record.lock_id);
                if (!rel || rel->status != ReleaseStatus::released) return 4;
                ++round;
            }
            return 0;
        }));
    }
    for (pid_t k : kids) CHECK(reap(k) == 0);
    CHECK(t.events("acquire").size() == size_t(kProcs * kRounds));
    CHECK(t.events("release").size() == size_t(kProcs * kRounds));
    CHECK(t.ls(queue_of(t, "build")).empty());
}

// Not a test: prints the release -> next acquire gap for 8 queued waiters.
// Run: lokt_tests "[.bench]" -s
TEST_CASE("handoff latency with 8 waiters", "[.bench]") {
    TempRoot t;
    Store a = t.store("holder");
    REQUIRE(a.try_acquire(request(a, "build")));
    constexpr int kWaiters = 8;
    constexpr int kRounds = 5;
    const std::string log = t.dir + "/times";
    auto mono = [] {
        struct timespec ts {};
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<long long>(ts.tv_sec) * 1'000'000'000ll + ts.tv_nsec;
    };
    std::vector<pid_t> kids;
    for (int i = 0; i < kWaiters; ++i) {
        kids.push_back(fork_child([&, i] {
            Store s = t.store("w" + std::to_string(i));
            for (int round = 0; round < kRounds; ++round) {
                auto r = acquire_waiting(s, request(s, "build"), wait_opts(60s));
                long long got = mono();
                if (!r || r->end != WaitEnd::acquired) return 1;
                std::this_thread::sleep_for(2ms);
                const auto& rec = std::get<Acquired>(r->outcome).record;
                long long rel = mono();
                (void)s.release_id("build", rec.lock_id);
                auto fd = sys::open(log, O_WRONLY | O_APPEND | O_CREAT);
                if (fd) (void)sys::write_once(fd->get(), std::to_string(got) + " " + std::to_string(rel) + "\n");
            }
            return 0;
        }));
    }
    REQUIRE(wait_for([&] { return t.ls(queue_of(t, "build")).size() == kWaiters; }));
    long long first_rel = mono();
    REQUIRE(a.release_owned("build"));
    for (pid_t k : kids) CHECK(reap(k) == 0);

    std::vector<std::pair<long long, long long>> rows;  // (acquired, released)
    std::FILE* f = std::fopen(log.c_str(), "r");
    REQUIRE(f);
    long long g, r;
    while (std::fscanf(f, "%lld %lld", &g, &r) == 2) rows.emplace_back(g, r);
    std::fclose(f);
    std::sort(rows.begin(), rows.end());
    std::vector<double> gaps;
    long long prev_rel = first_rel;
    for (auto& [acq, rel] : rows) {
        gaps.push_back(double(acq - prev_rel) / 1e6);
        if (std::getenv("LOKT_BENCH_VERBOSE")) std::printf("gap %.3f ms held %.3f ms\n", gaps.back(), double(rel - acq) / 1e6);
        prev_rel = rel;
    }
    std::sort(gaps.begin(), gaps.end());
    std::printf("handoffs=%zu median=%.3f ms p90=%.3f ms max=%.3f ms\n", gaps.size(),
                gaps[gaps.size() / 2], gaps[gaps.size() * 9 / 10], gaps.back());
}
