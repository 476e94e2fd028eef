#include "lokt/identity.hpp"
#include "lokt/liveness.hpp"
#include "support/process.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace lokt;
using namespace lokt::test;

namespace {

LockRecord record_for(pid_t pid, uint64_t start, std::optional<LockKind> kind, const std::string& host) {
    LockRecord r;
    r.name = "x";
    r.owner = "o";
    r.host = host;
    r.pid = pid;
    r.pid_start_ns = start;
    r.kind = kind;
    r.acquired_ts = now();
    return r;
}

// Where this process judges from; records without boot_id/pid_ns follow the pid rule.
LocalView view_here() {
    LocalView v;
    v.host = current_identity().host;
    return v;
}

} // namespace

TEST_CASE("identity comes from LOKT_OWNER and LOKT_AGENT_ID when set", "[identity]") {
    {
        ScopedEnv owner("LOKT_OWNER", "agent-7");
        ScopedEnv agent("LOKT_AGENT_ID", "agent-fixed");
        Identity id = current_identity();
        CHECK(id.owner == "agent-7");
        CHECK(id.agent_id == "agent-fixed");
        CHECK(id.pid == ::getpid());
        CHECK(id.pid_start == process_start_time(::getpid()).value());
        CHECK_FALSE(id.host.empty());
    }
    ScopedEnv no_owner("LOKT_OWNER", std::nullopt);
    ScopedEnv no_agent("LOKT_AGENT_ID", std::nullopt);
    Identity dflt = current_identity();
    CHECK_FALSE(dflt.owner.empty());
    CHECK(dflt.agent_id.rfind("agent-", 0) == 0);
    CHECK(dflt.agent_id.size() == 10);
}

TEST_CASE("lock ids are 32 random hex characters", "[identity]") {
    std::string a = random_lock_id(), b = random_lock_id();
    CHECK(a.size() == 32);
    CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(a != b);
}

TEST_CASE("a live process with the recorded start time is alive", "[liveness]") {
    auto start = process_start_time(::getpid());
    REQUIRE(start);
    CHECK(process_alive(::getpid(), *start));
    CHECK_FALSE(process_alive(::getpid(), *start + 1));  // recycled pid: not our holder
    CHECK_FALSE(process_alive(dead_pid(), 0));
}

TEST_CASE("a guard lock stays alive while its process group has members", "[liveness]") {
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    pid_t leader = fork_child([&] {
        ::setpgid(0, 0);
        ::close(pipefd[1]);
        char c;
        (void)!::read(pipefd[0], &c, 1);  // lives until the test closes the pipe
        return 0;
    });
    ::setpgid(leader, leader);
    ::close(pipefd[0]);
    const LocalView host = view_here();
    LockRecord r = record_for(dead_pid(), 0, LockKind::guard, host.host);
    r.pgid = leader;
    CHECK(holder_status(r, host) == PidStatus::alive);
    CHECK_FALSE(provably_gone(r, host));
    ::close(pipefd[1]);
    int st;
    REQUIRE(::waitpid(leader, &st, 0) == leader);
    CHECK(holder_status(r, host) == PidStatus::dead);
    CHECK(provably_gone(r, host));
}

TEST_CASE("a lease is never provably gone by its pid", "[liveness]") {
    const LocalView host = view_here();
    LockRecord lease = record_for(dead_pid(), 0, LockKind::lease, host.host);
    CHECK(holder_status(lease, host) == PidStatus::dead);
    CHECK_FALSE(provably_gone(lease, host));
}

TEST_CASE("files of the original (no kind) follow its dead-pid rule", "[liveness]") {
    const LocalView host = view_here();
    CHECK(provably_gone(record_for(dead_pid(), 0, std::nullopt, host.host), host));
    CHECK_FALSE(provably_gone(record_for(::getpid(), 0, std::nullopt, host.host), host));
}

TEST_CASE("another host's lock is never judged by pid", "[liveness]") {
    const LocalView host = view_here();
    LockRecord r = record_for(dead_pid(), 0, LockKind::guard, "some-other-host");
    CHECK(holder_status(r, host) == PidStatus::unknown);
    CHECK_FALSE(provably_gone(r, host));
}

TEST_CASE("an unreaped zombie holder counts as dead", "[liveness]") {
    pid_t p = fork_child([] { return 0; });
    // Wait until it is a zombie without reaping it.
    siginfo_t si{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(p), &si, WEXITED | WNOWAIT) == 0);
    auto start = process_start_time(p);
    REQUIRE(start);
    CHECK_FALSE(process_alive(p, *start));
    int st;
    REQUIRE(::waitpid(p, &st, 0) == p);
}

TEST_CASE("a process group whose members are all zombies is gone", "[liveness]") {
    pid_t leader = fork_child([] {
        ::setpgid(0, 0);
        return 0;
    });
    ::setpgid(leader, leader);
    siginfo_t si{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(leader), &si, WEXITED | WNOWAIT) == 0);
    CHECK(::kill(-leader, 0) == 0);  // the kernel still counts the zombie
    CHECK_FALSE(process_group_alive(leader));
    int st;
    REQUIRE(::waitpid(leader, &st, 0) == leader);
}

TEST_CASE("a group stays alive through a live member when its leader is a zombie", "[liveness]") {
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    pid_t leader = fork_child([&] {
        ::setpgid(0, 0);
        fork_child([&] {  // a member that lives until the test closes the pipe
            ::close(pipefd[1]);
            char c;
            (void)!::read(pipefd[0], &c, 1);
            return 0;
        });
        return 0;
    });
    ::setpgid(leader, leader);
    ::close(pipefd[0]);
    siginfo_t si{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(leader), &si, WEXITED | WNOWAIT) == 0);
    CHECK(process_group_alive(leader));
    ::close(pipefd[1]);
    int st;
    REQUIRE(::waitpid(leader, &st, 0) == leader);
}
