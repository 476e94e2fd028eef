// Reaping as the supervisor does it. Each case runs in a child of its own (run_isolated):
// reap_exited(0) and no_children_left() see every child of the calling process, and a test
// must never reap or count another test's children.
#include "../../supervisor/reaper.hpp"
#include "../../supervisor/teardown.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

using namespace lokt::sup;
using lokt::proc::ChildExit;
using lokt::proc::exit_code;
using lokt::test::Expect;
using lokt::test::fork_child;
using lokt::test::run_isolated;

namespace {
pid_t child_exiting(int code) {
    return fork_child([code] { return code; });
}

// Waits until `pid` is a zombie (exited, not reaped).
void wait_zombie(pid_t pid) {
    siginfo_t si{};
    ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT);
}
} // namespace

TEST_CASE("reap_exited leaves the held child a zombie and reaps the rest", "[supervisor][reaper]") {
    auto failures = run_isolated([](Expect& expect) {
        pid_t held_pid = child_exiting(3);
        pid_t other = child_exiting(0);
        wait_zombie(held_pid);
        wait_zombie(other);
        std::optional<ChildExit> held;
        ReapStop r = reap_exited(held_pid, held);
        // Either order is possible; loop as the supervisor does.
        while (r == ReapStop::held_exited) {
            LOKT_EXPECT(expect, held.has_value());
            LOKT_EXPECT(expect, held && exit_code(*held) == 3);
            LOKT_EXPECT(expect, ::kill(held_pid, 0) == 0);  // still a zombie: its pid is reserved
            reap_pid(held_pid);
            held_pid = 0;
            r = reap_exited(0, held);
        }
        LOKT_EXPECT(expect, r == ReapStop::none_left);
        LOKT_EXPECT(expect, no_children_left());
    });
    CHECK(failures == "");
}

TEST_CASE("reap_exited reports idle while a child runs", "[supervisor][reaper]") {
    auto failures = run_isolated([](Expect& expect) {
        pid_t pid = fork_child([] {
            ::pause();
            return 0;
        });
        std::optional<ChildExit> held;
        LOKT_EXPECT(expect, reap_exited(0, held) == ReapStop::idle);
        LOKT_EXPECT(expect, !no_children_left());
        ::kill(pid, SIGKILL);
        reap_pid(pid);
        LOKT_EXPECT(expect, no_children_left());
    });
    CHECK(failures == "");
}
