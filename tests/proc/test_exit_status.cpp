#include "lokt/proc/exit_status.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

using namespace lokt::proc;

namespace {
int status_of_child(void (*body)()) {
    pid_t pid = lokt::test::fork_child([body] {
        body();
        return 0;
    });
    int st = 0;
    ::waitpid(pid, &st, 0);
    return st;
}
} // namespace

TEST_CASE("an exit code is passed through", "[proc][exit_status]") {
    int st = status_of_child([] { ::_exit(42); });
    auto e = exit_from_wait_status(st);
    CHECK_FALSE(e.signaled);
    CHECK(exit_code(e) == 42);
    CHECK(release_reason(e) == "exited");
}

TEST_CASE("death by signal N gives 128+N", "[proc][exit_status]") {
    int st = status_of_child([] { ::raise(SIGTERM); });
    auto e = exit_from_wait_status(st);
    CHECK(e.signaled);
    CHECK(exit_code(e) == 128 + SIGTERM);
    CHECK(release_reason(e) == "signaled");
    CHECK(exit_code(ChildExit{true, SIGKILL}) == 137);
}

TEST_CASE("exec failures map to 127 and 126", "[proc][exit_status]") {
    CHECK(exec_failure_code(ENOENT) == 127);
    CHECK(exec_failure_code(ENOTDIR) == 127);
    CHECK(exec_failure_code(EACCES) == 126);
    CHECK(exec_failure_code(EISDIR) == 126);
    CHECK(exec_failure_code(ENOEXEC) == 126);
}

TEST_CASE("siginfo of a killed child reads as signaled", "[proc][exit_status]") {
    pid_t pid = lokt::test::fork_child([] {
        ::pause();
        return 0;
    });
    ::kill(pid, SIGKILL);
    siginfo_t si{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED) == 0);
    auto e = exit_from_siginfo(si);
    CHECK(e.signaled);
    CHECK(e.value == SIGKILL);
}
