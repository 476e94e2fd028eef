#include "lokt/identity.hpp"
#include "../../supervisor/proctree.hpp"
#include "../../supervisor/reaper.hpp"
#include "../../supervisor/teardown.hpp"
#include "lokt/sys.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <stdexcept>

using namespace lokt::sup;
using lokt::test::Expect;
using lokt::test::fork_child;
using lokt::test::run_isolated;

TEST_CASE("descendants lists children and grandchildren", "[supervisor][teardown]") {
    // In a subreaper child: descendants() and signal_tree(0, …) cover every descendant of the
    // caller, which must be this test's tree only; the orphaned grandchild comes back to it.
    auto failures = run_isolated([](Expect& expect) {
        auto grand_pipe = lokt::sys::pipe();
        if (!grand_pipe) throw std::runtime_error("pipe");
        pid_t child = fork_child([&] {
            pid_t grand = fork_child([] {
                ::pause();
                return 0;
            });
            (void)!::write(grand_pipe->write.get(), &grand, sizeof grand);
            ::pause();
            return 0;
        });
        grand_pipe->write.reset();
        pid_t grand = 0;
        LOKT_EXPECT(expect, ::read(grand_pipe->read.get(), &grand, sizeof grand) == sizeof grand);
        auto tree = descendants(::getpid());
        auto has = [&](pid_t p) {
            return std::any_of(tree.begin(), tree.end(), [&](const ProcInfo& i) { return i.pid == p; });
        };
        LOKT_EXPECT(expect, has(child));
        LOKT_EXPECT(expect, has(grand));
        auto info = read_proc(grand);
        LOKT_EXPECT(expect, info && info->ppid == child);

        // SIGKILL to the whole tree: the grandchild dies too (re-parented to us, the subreaper).
        signal_tree(0, SIGKILL, false);
        auto end = reap_pid(child);
        LOKT_EXPECT(expect, end.signaled);
        auto g = reap_pid(grand);
        LOKT_EXPECT(expect, g.signaled && g.value == SIGKILL);
    });
    CHECK(failures == "");
}

TEST_CASE("a stopped process gets SIGCONT with a terminating signal", "[supervisor][teardown]") {
    auto failures = run_isolated([](Expect& expect) {
        auto ready = lokt::sys::pipe();
        if (!ready) throw std::runtime_error("pipe");
        pid_t child = fork_child([&] {
            ::setpgid(0, 0);
            (void)!::write(ready->write.get(), "r", 1);
            ::pause();
            return 0;
        });
        ::setpgid(child, child);
        // Stop it only once it waits in pause(), so the SIGCONT is what lets SIGTERM act.
        char c = 0;
        LOKT_EXPECT(expect, ::read(ready->read.get(), &c, 1) == 1);
        ::kill(child, SIGSTOP);
        siginfo_t si{};
        LOKT_EXPECT(expect, ::waitid(P_PID, static_cast<id_t>(child), &si, WSTOPPED) == 0);
        signal_tree(child, SIGTERM, true);
        auto end = reap_pid(child);
        LOKT_EXPECT(expect, end.signaled);
        LOKT_EXPECT(expect, end.value == SIGTERM);
    });
    CHECK(failures == "");
}

TEST_CASE("read_proc reports the start time that identifies a pid", "[supervisor]") {
    auto me = lokt::sup::read_proc(::getpid());
    REQUIRE(me);
    CHECK(me->ppid == ::getppid());
    CHECK(me->pgid == ::getpgrp());
    CHECK(me->start == lokt::process_start_time(::getpid()).value());
}
