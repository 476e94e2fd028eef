// The test helpers themselves: forked children start without the runner's signal handlers,
// and an isolated body's failures reach the test.
#include "support/process.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

using namespace lokt::test;

namespace {
// The SigCgt mask (caught signals) from /proc/self/status, without the signals glibc
// reserves for itself (32 .. SIGRTMIN-1: thread cancellation and setxid), which no program
// can catch or reset.
unsigned long long caught_signals() {
    std::ifstream f("/proc/self/status");
    for (std::string line; std::getline(f, line);) {
        if (line.rfind("SigCgt:", 0) != 0) continue;
        unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
        for (int sig = 32; sig < SIGRTMIN; ++sig) mask &= ~(1ull << (sig - 1));
        return mask;
    }
    return ~0ull;
}
} // namespace

TEST_CASE("a forked test child catches no signal, whatever the runner installed", "[support]") {
    struct sigaction sa {}, old {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    REQUIRE(::sigaction(SIGUSR1, &sa, &old) == 0);
    CHECK(caught_signals() != 0);
    pid_t pid = fork_child([] { return caught_signals() == 0 ? 0 : 1; });
    ::sigaction(SIGUSR1, &old, nullptr);
    CHECK(reap(pid) == 0);
}

TEST_CASE("a forked test child starts with the caller's signal mask", "[support]") {
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, &old) == 0);
    pid_t pid = fork_child([] {
        sigset_t now;
        ::pthread_sigmask(SIG_SETMASK, nullptr, &now);
        return sigismember(&now, SIGUSR2) == 1 && sigismember(&now, SIGTERM) == 0 ? 0 : 1;
    });
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    CHECK(reap(pid) == 0);
}

TEST_CASE("run_isolated reports failed expectations and a child that dies", "[support]") {
    CHECK(run_isolated([](Expect& expect) { LOKT_EXPECT(expect, 1 + 1 == 2); }) == "");
    CHECK(run_isolated([](Expect& expect) { LOKT_EXPECT(expect, 1 + 1 == 3); }) == "1 + 1 == 3\n");
    CHECK(run_isolated([](Expect&) { throw std::runtime_error("boom"); }) == "exception: boom\n");
    CHECK(run_isolated([](Expect&) { ::_exit(4); }) == "isolated child exited with 4\n");
}
