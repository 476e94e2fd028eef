#pragma once
// Tearing the guarded tree down: signal its process group and every remaining descendant.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>

namespace lokt::sup {

/// Sends `sig` to process group `pgid` (if > 0) and to every live descendant of this
/// process; with `cont`, a stopped one also gets SIGCONT so it can act on `sig` (never a
/// running one: a SIGCONT it did not ask for is a signal too). A descendant is signalled
/// through a pidfd opened after the scan and checked against the scanned start time, so a
/// pid recycled in between is never hit. Returns the number of descendants found.
size_t signal_tree(pid_t pgid, int sig, bool cont);

/// At info level, logs that the leftovers of the command (this process's descendants) are
/// being stopped: "stopping N leftover process(es) (pid 12, ...): SIGTERM, SIGKILL in 5000ms".
void log_teardown(std::chrono::nanoseconds grace);

/// SIGCONT to group `pgid` if one of its members (all our descendants) is stopped.
void continue_if_stopped(pid_t pgid);

/// Blocking teardown, for a process whose own event loop is over (the front after the
/// supervisor died): SIGTERM+SIGCONT to `pgid` and every descendant, reap on each SIGCHLD
/// read from `sigfd` (which must include SIGCHLD), SIGKILL after `grace`, until ECHILD.
/// `tick` (if set) runs every `every` meanwhile: the front renews a TTL lock with it.
void drain_tree(int sigfd, pid_t pgid, std::chrono::nanoseconds grace,
                const std::function<void()>& tick = {},
                std::chrono::nanoseconds every = std::chrono::nanoseconds(0));

/// True when this process has no child left (ECHILD), without reaping anything.
bool no_children_left();

} // namespace lokt::sup
