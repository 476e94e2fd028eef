// The front and supervisor loops with a fake LockKeeper, each run in a forked process (they
// change the process group, subreaper flag and signal mask of whoever runs them).
#include "lokt/supervisor.hpp"

#include "lokt/proc_stat.hpp"
#include "lokt/sys.hpp"
#include "support/process.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <string>

using namespace lokt;

namespace {

// Logs every call as one line to a pipe the test reads after the run. With `watched_pid_file`,
// a release also says whether the process named there was still alive at that moment.
class FakeKeeper final : public LockKeeper {
public:
    FakeKeeper(int log_fd, std::string watched_pid_file) : log_(log_fd), watched_(std::move(watched_pid_file)) {}
    Acquisition acquire(int, pid_t pgid, const std::function<bool()>&) override {
        note("acquire");
        if (pgid > 0) note("pgid");  // the command's group is known before any lock is written
        held_ = {{"x", "00000000000000000000000000000001"}};
        return {Acquisition::End::acquired, 0};
    }
    void renew() override { note("renew"); }
    void release(const ReleaseNote& n) override {
        if (held_.empty()) return;
        note("release:" + n.reason + watched_state());
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
    // Alive: /proc/PID exists and is not a zombie (an unreaped leftover is ended already).
    std::string watched_state() const {
        if (watched_.empty()) return "";
        std::ifstream f(watched_);
        pid_t pid = 0;
        if (!(f >> pid) || pid <= 0) return " (watched pid missing)";
        auto stat = read_proc_stat(pid);
        return stat && stat->state != 'Z' ? " (watched alive)" : " (watched gone)";
    }
    int log_;
    std::string watched_;
    std::vector<HeldLock> held_;
};

struct Run {
    int code = -1;
    std::string log;
};

// Runs run_guard in a child process; `during` runs in the test while it is going on.
Run run_guarded(GuardOptions opt, const std::function<void(pid_t)>& during = {},
                const std::string& watched_pid_file = "") {
    auto p = sys::pipe();
    REQUIRE(p);
    pid_t pid = lokt::test::fork_child([&] {
        p->read.reset();
        FakeKeeper k(p->write.get(), watched_pid_file);
        return run_guard(opt, k);
    });
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
    lokt::test::TempDir tmp;
    const std::string pid_file = tmp.path + "/leftover";
    // The leftover ignores SIGTERM and says so through a FIFO before the command exits, so the
    // grace period and SIGKILL are what end it; the keeper checks it is gone at the release.
    const std::string ready = tmp.path + "/ready";
    const std::string script = "mkfifo " + ready + " || exit 9; (trap '' TERM; exec sh -c 'echo $$ > " + pid_file +
                               "; echo > " + ready + "; exec sleep 30') & read x < " + ready + "; exit 0";
    auto t0 = std::chrono::steady_clock::now();
    Run r = run_guarded(sh(script), {}, pid_file);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(r.code == 0);
    CHECK(r.log == "acquire\npgid\nrelease:exited (watched gone)\n");
    CHECK(took >= std::chrono::milliseconds(300));  // the grace passed before SIGKILL
}

TEST_CASE("the heartbeat renews at ttl/2", "[supervisor][loop]") {
    GuardOptions o = sh("sleep 0.55");
    o.ttl = std::chrono::milliseconds(200);
    Run r = run_guarded(o);
    CHECK(r.code == 0);
    CHECK(r.log.find("renew\nrenew\nrenew\n") != std::string::npos);
}

TEST_CASE("a signal to the front reaches the command", "[supervisor][loop]") {
    lokt::test::TempDir tmp;
    // The command's own TERM handler exits 7 and leaves a file: a guard cancelled before the
    // command started would give 128+15 and no file. The signal goes only once it runs.
    const std::string script = "trap 'echo term > " + tmp.path + "/got; exit 7' TERM; : > " + tmp.path +
                               "/started; sleep 30 & wait";
    Run r = run_guarded(sh(script), [&](pid_t front) {
        REQUIRE(lokt::test::wait_for([&] { return sys::exists(tmp.path + "/started"); }));
        ::kill(front, SIGTERM);
    });
    CHECK(r.code == 7);
    CHECK(sys::exists(tmp.path + "/got"));
    CHECK(r.log == "acquire\npgid\nrelease:exited\n");
}
