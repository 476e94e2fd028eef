#include "lokt/supervisor/reaper.hpp"
#include "lokt/supervisor/teardown.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <thread>

using namespace lokt::sup;

namespace {
pid_t child_exiting(int code) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(code);
    return pid;
}

// Waits until `pid` is a zombie (exited, not reaped).
void wait_zombie(pid_t pid) {
    siginfo_t si{};
    ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT);
}
} // namespace

TEST_CASE("reap_exited leaves the held child a zombie and reaps the rest", "[supervisor][reaper]") {
    pid_t held_pid = child_exiting(3);
    pid_t other = child_exiting(0);
    wait_zombie(held_pid);
    wait_zombie(other);
    std::optional<ChildExit> held;
    ReapStop r = reap_exited(held_pid, held);
    // Either order is possible; loop as the supervisor does.
    while (r == ReapStop::held_exited) {
        REQUIRE(held);
        CHECK(exit_code(*held) == 3);
        CHECK(::kill(held_pid, 0) == 0);  // still a zombie: its pid is reserved
        reap_pid(held_pid);
        held_pid = 0;
        r = reap_exited(0, held);
    }
    CHECK(r == ReapStop::none_left);
    CHECK(no_children_left());
}

TEST_CASE("reap_exited reports idle while a child runs", "[supervisor][reaper]") {
    pid_t pid = ::fork();
    if (pid == 0) {
        ::pause();
        ::_exit(0);
    }
    std::optional<ChildExit> held;
    CHECK(reap_exited(0, held) == ReapStop::idle);
    CHECK_FALSE(no_children_left());
    ::kill(pid, SIGKILL);
    reap_pid(pid);
    CHECK(no_children_left());
}
