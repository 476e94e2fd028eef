// The seccomp-mode lock broker without a filter: a fake responder stands in for the listener,
// real processes (forked children) for the exec'ing targets, a real file backend for the locks.
#include "../../seccomp/broker.hpp"
#include "../core/store_fixture.hpp"
#include "scripted_backend.hpp"

#include "lokt/backend.hpp"
#include "lokt/rules.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <set>

using namespace lokt;
using namespace lokt::test;
using namespace lokt::seccomp;

namespace {

struct FakeResponder final : Responder {
    std::set<uint64_t> gone;
    std::vector<uint64_t> allowed;
    std::map<uint64_t, int> denied;
    bool valid(uint64_t id) override { return !gone.count(id); }
    bool allow(uint64_t id) override {
        if (gone.count(id)) return false;
        allowed.push_back(id);
        return true;
    }
    bool deny(uint64_t id, int err) override {
        if (gone.count(id)) return false;
        denied[id] = err;
        return true;
    }
    bool was_allowed(uint64_t id) const {
        return std::find(allowed.begin(), allowed.end(), id) != allowed.end();
    }
};

/// A process that waits (blocked in pause) until it is killed.
struct Target {
    pid_t pid = fork_child([] {
        for (;;) ::pause();
        return 0;
    });
    ~Target() { stop(); }
    void stop() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            reap(pid);
            pid = 0;
        }
    }
};

struct Rig {
    TempRoot tr;
    Store store = tr.store("agent-a");
    FileBackend backend{tr.store("agent-a")};
    std::unique_ptr<rules::RuleSet> rs;
    FakeResponder resp;
    std::unique_ptr<Broker> broker;

    explicit Rig(const char* rules_text = "terraform wait=10s : terraform apply *\n"
                                          "quick wait=0 : quick *\n") {
        REQUIRE(ensure_root_dirs(tr.root));
        auto parsed = rules::parse_text(rules_text);
        REQUIRE(parsed);
        rs = std::move(*parsed);
        BrokerConfig cfg;
        cfg.refusal = [](const std::string&, const AcquireOutcome&, const std::string&) { return std::string("refused"); };
        cfg.retry_every = std::chrono::milliseconds(5);
        broker = std::make_unique<Broker>(backend, *rs, cfg, resp);
    }

    ExecRequest request(uint64_t id, pid_t pid, std::vector<std::string> argv) {
        ExecRequest r;
        r.id = id;
        r.nr = 59;
        r.tid = r.tgid = pid;
        r.tgid_start = process_start_time(pid).value_or(0);
        r.path = "/usr/bin/" + argv[0];
        r.argv = argv;
        r.file = FileId{1, 2};
        r.old_exe = r.file;  // nothing to confirm unless a test says so
        std::vector<const char*> args;
        for (size_t i = 1; i < argv.size(); ++i) args.push_back(argv[i].c_str());
        REQUIRE(rules::decide(*rs, r.path.c_str(), args.data(), args.size(), &r.decision));
        return r;
    }

    /// One pass of the supervisor loop without a listener: pidfds, then timers.
    void turn() {
        std::vector<pollfd> fds;
        broker->fill_pollfds(fds);
        if (!fds.empty()) ::poll(fds.data(), fds.size(), 0);
        broker->on_polled(fds.data(), fds.size());
        broker->tick();
    }
    bool turn_until(const std::function<bool()>& pred) {
        return wait_for([&] {
            turn();
            return pred();
        });
    }
    std::optional<LockRecord> lock(const std::string& name) {
        auto r = store.read(name);
        REQUIRE(r);
        return r->record;
    }
};

} // namespace

TEST_CASE("seccomp broker: a free lock is taken for the process and released at its exit", "[seccomp]") {
    Rig rig;
    Target t;
    rig.broker->submit(rig.request(1, t.pid, {"terraform", "apply", "-auto-approve"}));
    CHECK(rig.resp.was_allowed(1));
    auto rec = rig.lock("terraform");
    REQUIRE(rec);
    CHECK(rec->pid == t.pid);
    CHECK(rec->kind == LockKind::shim);
    CHECK(rec->owner == "agent-a");
    CHECK(rec->command == "terraform apply -auto-approve");
    CHECK(rig.broker->holding() == 1);
    t.stop();
    CHECK(rig.turn_until([&] { return rig.broker->idle(); }));
    CHECK_FALSE(rig.lock("terraform"));
    auto rel = rig.tr.events("release");
    REQUIRE(rel.size() == 1);
    CHECK(rel[0].extra["reason"] == "exited");
}

TEST_CASE("seccomp broker: held with wait=0 fails the exec with EAGAIN", "[seccomp]") {
    Rig rig;
    Store other = rig.tr.store("other");
    REQUIRE(other.try_acquire(request(other, "quick")));
    Target t;
    rig.broker->submit(rig.request(7, t.pid, {"quick", "x"}));
    REQUIRE(rig.resp.denied.count(7));
    CHECK(rig.resp.denied[7] == EAGAIN);
    CHECK(rig.broker->idle());
    CHECK(rig.tr.events("deny").size() == 1);
}

TEST_CASE("seccomp broker: frozen fails at once with freeze-deny", "[seccomp]") {
    Rig rig;
    Store human = rig.tr.store("human");
    REQUIRE(human.freeze("terraform", std::chrono::minutes(5)));
    Target t;
    rig.broker->submit(rig.request(3, t.pid, {"terraform", "apply"}));
    REQUIRE(rig.resp.denied.count(3));
    CHECK(rig.resp.denied[3] == EAGAIN);
    CHECK(rig.tr.events("freeze-deny").size() == 1);
    CHECK_FALSE(rig.lock("terraform"));
}

TEST_CASE("seccomp broker: waiters get the lock in arrival order, one at a time", "[seccomp]") {
    Rig rig;
    Store other = rig.tr.store("other");
    REQUIRE(other.try_acquire(request(other, "terraform")));
    Target a, b;
    rig.broker->submit(rig.request(1, a.pid, {"terraform", "apply"}));
    rig.broker->submit(rig.request(2, b.pid, {"terraform", "apply"}));
    CHECK(rig.broker->waiting() == 2);
    CHECK(rig.resp.allowed.empty());
    REQUIRE(other.release_id("terraform", rig.lock("terraform")->lock_id));
    CHECK(rig.turn_until([&] { return rig.resp.was_allowed(1); }));
    CHECK_FALSE(rig.resp.was_allowed(2));
    CHECK(rig.lock("terraform")->pid == a.pid);
    a.stop();
    CHECK(rig.turn_until([&] { return rig.resp.was_allowed(2); }));
    CHECK(rig.lock("terraform")->pid == b.pid);
}

TEST_CASE("seccomp broker: a lock held by the process or an ancestor is not taken again", "[seccomp]") {
    Rig rig;
    // This test process holds it (as a guard would): a child's matching exec runs at once.
    Identity me = rig.store.self();
    Store guard(rig.tr.root, AuditLog(rig.tr.root.audit_path()), me);
    REQUIRE(guard.try_acquire(request(guard, "terraform", Nanos(0), LockKind::guard)));
    const auto before = rig.lock("terraform")->lock_id;
    Target t;
    rig.broker->submit(rig.request(5, t.pid, {"terraform", "apply"}));
    CHECK(rig.resp.was_allowed(5));
    CHECK(rig.broker->idle());
    CHECK(rig.lock("terraform")->lock_id == before);
}

TEST_CASE("seccomp broker: a target that dies while waiting is dropped", "[seccomp]") {
    Rig rig;
    Store other = rig.tr.store("other");
    REQUIRE(other.try_acquire(request(other, "terraform")));
    Target t;
    rig.broker->submit(rig.request(9, t.pid, {"terraform", "apply"}));
    rig.resp.gone.insert(9);
    t.stop();
    CHECK(rig.turn_until([&] { return rig.broker->idle(); }));
    CHECK(rig.lock("terraform")->owner == "other");
}

TEST_CASE("seccomp broker: an exec that failed after CONTINUE releases, audited exec-failed", "[seccomp]") {
    Rig rig;
    Target t;
    auto req = rig.request(4, t.pid, {"terraform", "apply"});
    req.old_exe = file_id("/proc/" + std::to_string(t.pid) + "/exe");  // the image stays this
    req.file = FileId{12345, 67890};                                   // what it tried to run
    rig.broker->submit(std::move(req));
    CHECK(rig.resp.was_allowed(4));
    REQUIRE(rig.lock("terraform"));
    // The child sits in pause(), not in execve: the broker concludes the exec failed.
    CHECK(rig.turn_until([&] { return rig.broker->idle(); }));
    CHECK_FALSE(rig.lock("terraform"));
    CHECK(rig.tr.events("exec-failed").size() == 1);
    auto rel = rig.tr.events("release");
    REQUIRE(rel.size() == 1);
    CHECK(rel[0].extra["reason"] == "exec-failed");
}

TEST_CASE("seccomp broker: a restarted notification keeps its place and its locks", "[seccomp]") {
    Rig rig;
    Store other = rig.tr.store("other");
    REQUIRE(other.try_acquire(request(other, "terraform")));
    Target a, b;
    rig.broker->submit(rig.request(1, a.pid, {"terraform", "apply"}));
    rig.broker->submit(rig.request(2, b.pid, {"terraform", "apply"}));
    // A signal takes notification 1 away; the kernel restarts the exec as notification 11.
    rig.resp.gone.insert(1);
    rig.turn();
    rig.broker->submit(rig.request(11, a.pid, {"terraform", "apply"}));
    REQUIRE(other.release_id("terraform", rig.lock("terraform")->lock_id));
    CHECK(rig.turn_until([&] { return rig.resp.was_allowed(11); }));
    CHECK_FALSE(rig.resp.was_allowed(2));
    CHECK(rig.lock("terraform")->pid == a.pid);
}

namespace {

/// The broker on a backend whose acquisitions answer from elsewhere (as etcd's thread does).
struct ScriptedRig {
    TempRoot tr;
    std::unique_ptr<rules::RuleSet> rs;
    FakeResponder resp;
    ScriptedBackend backend{tr.store("agent-a")};
    std::vector<std::string> warnings;
    std::unique_ptr<Broker> broker;

    ScriptedRig() {
        REQUIRE(ensure_root_dirs(tr.root));
        auto parsed = rules::parse_text("quick wait=0 : quick *\n");
        REQUIRE(parsed);
        rs = std::move(*parsed);
        BrokerConfig cfg;
        cfg.refusal = [](const std::string&, const AcquireOutcome&, const std::string&) { return std::string("refused"); };
        cfg.warn = [this](const std::string& w) { warnings.push_back(w); };
        cfg.retry_every = std::chrono::milliseconds(5);
        broker = std::make_unique<Broker>(backend, *rs, cfg, resp);
    }
    /// `quick x` exec'd by `pid`.
    ExecRequest quick(uint64_t id, pid_t pid) {
        ExecRequest r;
        r.id = id;
        r.nr = 59;
        r.tid = r.tgid = pid;
        r.tgid_start = process_start_time(pid).value_or(0);
        r.path = "/usr/bin/quick";
        r.argv = {"quick", "x"};
        r.file = r.old_exe.emplace(FileId{1, 2});
        const char* args[] = {"x"};
        REQUIRE(rules::decide(*rs, r.path.c_str(), args, 1, &r.decision));
        return r;
    }
    /// One pass of the loop that sleeps in poll as the supervisor does (bounded here).
    void turn() {
        std::vector<pollfd> fds;
        broker->fill_pollfds(fds);
        ::poll(fds.data(), fds.size(), 5);
        broker->on_polled(fds.data(), fds.size());
        broker->tick();
    }
};

} // namespace

TEST_CASE("seccomp broker: an acquisition without an answer waits for it, even past its deadline", "[seccomp]") {
    ScriptedRig rig;
    Target t;
    rig.broker->submit(rig.quick(1, t.pid));
    // wait=0 has run out already, but no answer is in: neither allowed nor refused.
    for (int i = 0; i < 5; ++i) rig.turn();
    CHECK(rig.resp.allowed.empty());
    CHECK(rig.resp.denied.empty());
    CHECK(rig.broker->waiting() == 1);
    // Past the deadline the broker sleeps on the pending's fd, not on a timer in the past.
    auto wake = rig.broker->next_wake();
    CHECK((!wake || *wake > std::chrono::steady_clock::now() - std::chrono::milliseconds(1)));
    rig.backend.script.open_gate();
    CHECK(wait_for([&] {
        rig.turn();
        return rig.resp.was_allowed(1);
    }));
    auto rec = rig.backend.read("quick");
    REQUIRE(rec);
    REQUIRE(rec->record);
    CHECK(rec->record->pid == t.pid);
}

TEST_CASE("seccomp broker: a lost lock is audited, warned, and its process is ended", "[seccomp]") {
    for (const bool ends : {true, false}) {
        ScriptedRig rig;
        rig.backend.script.loss_ends_command = ends;
        rig.backend.script.open_gate();
        Target t;
        rig.broker->submit(rig.quick(2, t.pid));
        REQUIRE(rig.resp.was_allowed(2));
        rig.backend.script.lose();
        CHECK(wait_for([&] {
            rig.turn();
            return !rig.tr.events("lost").empty();
        }));
        REQUIRE(rig.warnings.size() == 1);
        CHECK(rig.warnings[0].find("lock \"quick\" held for pid " + std::to_string(t.pid) + " was lost") == 0);
        if (ends) {
            // SIGTERM through its pidfd ends the target (it sits in pause()).
            int st = 0;
            CHECK(wait_for([&] { return ::waitpid(t.pid, &st, WNOHANG) == t.pid; }));
            CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM));
            t.pid = 0;
        } else {
            CHECK(::kill(t.pid, 0) == 0);
        }
        // The lost lock is not released as ours later.
        t.stop();
        CHECK(wait_for([&] {
            rig.turn();
            return rig.broker->idle();
        }));
        CHECK(rig.tr.events("release").empty());
    }
}
