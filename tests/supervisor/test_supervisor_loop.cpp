// The front and supervisor loops with a fake LockKeeper, each run in a forked process (they
// change the process group, subreaper flag and signal mask of whoever runs them).
#include "lokt/supervisor.hpp"

#include "lokt/sys.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

using namespace lokt;

namespace {

// Logs every call as one line to a pipe the test reads after the run.
class FakeKeeper final : public LockKeeper {
public:
    explicit FakeKeeper(int log_fd) : log_(log_fd) {}
    Acquisition acquire(int, pid_t pgid, const std::function<bool()>&) override {
        note("acquire");
        if (pgid > 0) note("pgid");  // the command's group is known before any lock is written
        held_ = {{"x", "00000000000000000000000000000001"}};
        return {Acquisition::End::acquired, 0};
    }
    void renew() override { note("renew"); }
    void release(const std::string& reason) override {
        if (held_.empty()) return;
        note("release:" + reason);
        held_.clear();
    }
    std::vector<HeldLock> held() const override { return held_; }
    void adopt(const std::vector<HeldLock>& l) override {
        note("adopt");
        held_ = l;
    }

private:
    void note(const std::string& s) {
        std::string line = s + "\n";
        ssize_t n = ::write(log_, line.data(), line.size());
        (void)n;
    }
    int log_;
    std::vector<HeldLock> held_;
};

struct Run {
    int code = -1;
    std::string log;
};

// Runs run_guard in a child process; `during` runs in the test while it is going on.
Run run_guarded(GuardOptions opt, void (*during)(pid_t) = nullptr) {
    auto p = sys::pipe();
    REQUIRE(p);
    pid_t pid = ::fork();
    if (pid == 0) {
        p->read.reset();
        FakeKeeper k(p->write.get());
        ::_exit(run_guard(opt, k));
    }
    p->write.reset();
    if (during) during(pid);
    Run r;
    auto log = sys::read_all(p->read.get());
    int st = 0;
    ::waitpid(pid, &st, 0);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (log) r.log = *log;
    return r;
}

GuardOptions sh(const std::string& script) {
    GuardOptions o;
    o.path = "/bin/sh";
    o.argv = {"sh", "-c", script};
    o.kill_after = std::chrono::milliseconds(300);
    return o;
}

} // namespace

TEST_CASE("guard returns the command's code and releases as exited", "[supervisor][loop]") {
    Run r = run_guarded(sh("exit 3"));
    CHECK(r.code == 3);
    CHECK(r.log == "acquire\npgid\nrelease:exited\n");
}

TEST_CASE("guard reports a command killed by a signal", "[supervisor][loop]") {
    Run r = run_guarded(sh("kill -KILL $$"));
    CHECK(r.code == 128 + SIGKILL);
    CHECK(r.log == "acquire\npgid\nrelease:signaled\n");
}

TEST_CASE("an exec failure releases and returns 127", "[supervisor][loop]") {
    GuardOptions o = sh("");
    o.path = "/nonexistent/cmd";
    Run r = run_guarded(o);
    CHECK(r.code == 127);
    // The command was forked (gated) before the lock was taken; its exec fails afterwards.
    CHECK(r.log == "acquire\npgid\nrelease:exec-failed\n");
}

TEST_CASE("leftovers are ended before the release", "[supervisor][loop]") {
    auto t0 = std::chrono::steady_clock::now();
    Run r = run_guarded(sh("(trap '' TERM; sleep 30) & sleep 0.2; exit 0"));
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(r.code == 0);
    CHECK(r.log == "acquire\npgid\nrelease:exited\n");
    CHECK(took >= std::chrono::milliseconds(450));  // 0.2 s + the 300 ms grace, then SIGKILL
    CHECK(took < std::chrono::seconds(10));
}

TEST_CASE("the heartbeat renews at ttl/2", "[supervisor][loop]") {
    GuardOptions o = sh("sleep 0.55");
    o.ttl = std::chrono::milliseconds(200);
    Run r = run_guarded(o);
    CHECK(r.code == 0);
    CHECK(r.log.find("renew\nrenew\nrenew\n") != std::string::npos);
}

TEST_CASE("a signal to the front reaches the command", "[supervisor][loop]") {
    Run r = run_guarded(sh("sleep 30"), [](pid_t front) {
        // Give the supervisor time to start the command; the signal is relayed either way.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        ::kill(front, SIGTERM);
    });
    CHECK(r.code == 128 + SIGTERM);
}
