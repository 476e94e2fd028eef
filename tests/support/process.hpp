#pragma once
// Child processes for unit tests: forked children that never run the test runner's signal
// handlers, reaping, polling with a deadline, and test bodies isolated in a child of their own.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace lokt::test {

/// Polls `pred` every millisecond until it holds or `timeout` passes.
inline bool wait_for(const std::function<bool()>& pred,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return pred();
}

/// Sets every caught signal back to SIG_DFL (ignored ones stay ignored). Async-signal-safe.
inline void reset_caught_signals() {
    for (int sig = 1; sig < NSIG; ++sig) {
        struct sigaction sa {};
        if (::sigaction(sig, nullptr, &sa) != 0) continue;
        const bool caught = (sa.sa_flags & SA_SIGINFO) != 0 ||
                            (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
        if (!caught) continue;
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        ::sigaction(sig, &dfl, nullptr);
    }
}

/// Forks a child running `body`; its return value is the exit status (99 if it throws). The
/// child never returns into Catch2: it _exit()s. Every signal is blocked across fork() and the
/// child drops the runner's handlers before unblocking: a signal that arrives while the child
/// is still inside fork() must not run Catch2's handler there (it allocates, and after any
/// thread has existed glibc's fork holds the malloc locks in that window: a deadlock).
inline pid_t fork_child(const std::function<int()>& body) {
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = ::fork();
    if (pid == 0) {
        reset_caught_signals();
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
        int rc = 99;
        try {
            rc = body();
        } catch (...) {
        }
        ::_exit(rc);
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    REQUIRE(pid >= 0);
    return pid;
}

/// Reaps `pid` and returns its exit status (-1 if it did not exit normally).
inline int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The pid of a process that has exited and been reaped (dead for sure, unless recycled).
inline pid_t dead_pid() {
    pid_t pid = fork_child([] { return 0; });
    reap(pid);
    return pid;
}

/// Collects failed expectations inside an isolated child (Catch2's own assertions would be
/// recorded in the child's copy of the runner and lost).
struct Expect {
    std::string failures;
    void operator()(bool ok, const char* what) {
        if (ok) return;
        failures.append(what);
        failures.push_back('\n');
    }
};
#define LOKT_EXPECT(expect, cond) (expect)((cond), #cond)

/// Runs `body` in a forked child that is a subreaper, so that whatever it signals, reaps or
/// waits for is its own tree and never another test's process; orphans of its tree are
/// reaped by it. Returns the failed expectations ("" when all held).
inline std::string run_isolated(const std::function<void(Expect&)>& body) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    pid_t pid = fork_child([&] {
        ::close(fds[0]);
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        Expect expect;
        try {
            body(expect);
        } catch (const std::exception& e) {
            expect.failures += std::string("exception: ") + e.what() + "\n";
        } catch (...) {
            expect.failures += "exception\n";
        }
        while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
        }
        size_t off = 0;
        while (off < expect.failures.size()) {
            ssize_t n = ::write(fds[1], expect.failures.data() + off, expect.failures.size() - off);
            if (n <= 0) return 2;
            off += static_cast<size_t>(n);
        }
        return 0;
    });
    ::close(fds[1]);
    std::string out;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    int rc = reap(pid);
    if (rc != 0) out += "isolated child exited with " + std::to_string(rc) + "\n";
    return out;
}

} // namespace lokt::test
