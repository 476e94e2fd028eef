#include "teardown.hpp"

#include "lokt/log.hpp"
#include "lokt/proc/event_poll.hpp"
#include "proctree.hpp"
#include "reaper.hpp"
#include "lokt/proc/signals.hpp"
#include "lokt/sys.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace lokt::sup {
using proc::ChildExit;
using proc::PollHealth;
using proc::poll_events;
using proc::read_signals;
namespace {

// After SIGKILL, how often the tree is scanned again for processes forked in between.
constexpr auto kKillRescan = std::chrono::milliseconds(20);

bool stopped(const ProcInfo& p) { return p.state == 'T' || p.state == 't'; }

// Signals one scanned process unless its pid now names another process.
void signal_one(const ProcInfo& p, int sig, bool cont) {
    auto fd = sys::pidfd_open(p.pid);
    if (!fd) {
        if (fd.error().sys_errno == ESRCH) return;
        // No pidfd (kernel < 5.3, old seccomp profile): plain kill, the race is microseconds.
        ::kill(p.pid, sig);
        if (cont) ::kill(p.pid, SIGCONT);
        return;
    }
    auto now = read_proc(p.pid);
    if (now && now->start == p.start) {
        (void)sys::pidfd_send_signal(fd->get(), sig);  // ESRCH: it has just exited
        if (cont) (void)sys::pidfd_send_signal(fd->get(), SIGCONT);
    }
}

} // namespace

size_t signal_tree(pid_t pgid, int sig, bool cont) {
    auto tree = descendants(::getpid());
    if (pgid > 0) {
        // The group as a whole, atomically: nothing forked meanwhile escapes it.
        ::kill(-pgid, sig);
        if (cont) {
            for (const auto& p : tree) {
                if (p.pgid == pgid && stopped(p)) {
                    ::kill(-pgid, SIGCONT);
                    break;
                }
            }
        }
    }
    for (const auto& p : tree) {
        if (pgid > 0 && p.pgid == pgid) continue;
        signal_one(p, sig, cont && stopped(p));
    }
    return tree.size();
}

void log_teardown(std::chrono::nanoseconds grace) {
    if (!log::enabled(log::Level::info)) return;  // no /proc scan when nobody reads it
    const auto tree = descendants(::getpid());
    std::string pids;
    for (const auto& p : tree) pids += (pids.empty() ? "pid " : ", pid ") + std::to_string(p.pid);
    LOKT_LOG(info, "stopping ", tree.size(), " leftover process(es) (", pids, "): SIGTERM, SIGKILL in ",
             std::chrono::duration_cast<std::chrono::milliseconds>(grace).count(), "ms");
}

void continue_if_stopped(pid_t pgid) {
    for (const auto& p : descendants(::getpid())) {
        if (p.pgid == pgid && stopped(p)) {
            ::kill(-pgid, SIGCONT);
            return;
        }
    }
}

void drain_tree(int sigfd, pid_t pgid, std::chrono::nanoseconds grace,
                const std::function<void()>& tick, std::chrono::nanoseconds every) {
    log_teardown(grace);
    // Signal before reaping: an unreaped zombie leader keeps `pgid` from being reused.
    signal_tree(pgid, SIGTERM, true);
    const Deadline kill_at = Deadline::after(grace);
    const bool ticking = tick && every.count() > 0;
    Deadline next_tick = ticking ? Deadline::after(every) : Deadline::forever();
    PollHealth health;
    for (;;) {
        std::optional<ChildExit> unused;
        if (reap_exited(0, unused) == ReapStop::none_left) return;
        if (next_tick.passed()) {
            tick();  // the front renews a TTL lock: it must not expire under a live tree
            next_tick = Deadline::after(every);
        }
        const bool killing = kill_at.passed();
        if (killing) signal_tree(0, SIGKILL, false);
        // While killing, rescan often for processes forked in between; before, sleep until
        // a SIGCHLD, the next renewal or the grace deadline.
        Deadline wake = killing ? Deadline::after(kKillRescan) : kill_at;
        if (next_tick.when() < wake.when()) wake = next_tick;
        struct pollfd p {sigfd, POLLIN, 0};
        poll_events(&p, 1, wake, health, "tearing down the command");
        read_signals(sigfd);  // SIGCHLD wakes us; relayed signals are moot now
    }
}

bool no_children_left() {
    siginfo_t si{};
    for (;;) {
        int r = ::waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT);
        if (r == 0) return false;
        if (errno != EINTR) return errno == ECHILD;
    }
}

} // namespace lokt::sup
