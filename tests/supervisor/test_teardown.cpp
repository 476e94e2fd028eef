#include "lokt/identity.hpp"
#include "lokt/supervisor/proctree.hpp"
#include "lokt/supervisor/reaper.hpp"
#include "lokt/supervisor/teardown.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

using namespace lokt::sup;

TEST_CASE("descendants lists children and grandchildren", "[supervisor][teardown]") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t child = ::fork();
    if (child == 0) {
        pid_t grand = ::fork();
        if (grand == 0) {
            ::pause();
            ::_exit(0);
        }
        ssize_t n = ::write(fds[1], &grand, sizeof grand);
        (void)n;
        ::pause();
        ::_exit(0);
    }
    pid_t grand = 0;
    REQUIRE(::read(fds[0], &grand, sizeof grand) == sizeof grand);
    ::close(fds[0]);
    ::close(fds[1]);
    auto tree = descendants(::getpid());
    auto has = [&](pid_t p) {
        return std::any_of(tree.begin(), tree.end(), [&](const ProcInfo& i) { return i.pid == p; });
    };
    CHECK(has(child));
    CHECK(has(grand));
    auto info = read_proc(grand);
    REQUIRE(info);
    CHECK(info->ppid == child);

    // SIGKILL to the whole tree: the grandchild dies too (re-parented to init/subreaper).
    signal_tree(0, SIGKILL, false);
    auto end = reap_pid(child);
    CHECK(end.signaled);
    for (int i = 0; i < 200 && ::kill(grand, 0) == 0; ++i) {
        auto g = read_proc(grand);
        if (!g || g->state == 'Z') break;
        ::usleep(5000);
    }
    auto g = read_proc(grand);
    CHECK((!g || g->state == 'Z'));
}

TEST_CASE("a stopped process gets SIGCONT with a terminating signal", "[supervisor][teardown]") {
    pid_t child = ::fork();
    if (child == 0) {
        ::signal(SIGTERM, SIG_DFL);  // Catch2's handler would report a failure
        ::setpgid(0, 0);
        ::pause();
        ::_exit(0);
    }
    ::setpgid(child, child);
    ::kill(child, SIGSTOP);
    siginfo_t si{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(child), &si, WSTOPPED) == 0);
    signal_tree(child, SIGTERM, true);
    auto end = reap_pid(child);
    CHECK(end.signaled);
    CHECK(end.value == SIGTERM);
}

TEST_CASE("read_proc reports the start time that identifies a pid", "[supervisor]") {
    auto me = lokt::sup::read_proc(::getpid());
    REQUIRE(me);
    CHECK(me->ppid == ::getppid());
    CHECK(me->pgid == ::getpgrp());
    CHECK(me->start == lokt::process_start_time(::getpid()).value());
}
