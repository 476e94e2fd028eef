#include "lokt/liveness.hpp"

#include "lokt/proc_stat.hpp"
#include "lokt/sys.hpp"

#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace lokt {
namespace {

bool live_member(pid_t pid, pid_t pgid) {
    auto st = read_proc_stat(pid);
    return st && st->state != 'Z' && st->pgrp == pgid;
}

} // namespace

bool process_alive(pid_t pid, uint64_t start) {
    if (pid <= 0) return false;
    // Cheap first test: most stale holders are simply gone, and kill(0) is far cheaper
    // than a failing open of /proc/PID/stat (status judges thousands of locks).
    if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
    auto st = read_proc_stat(pid);
    if (!st) {
        // /proc unreadable for this pid: fall back to kill(0); EPERM still means it exists.
        return ::kill(pid, 0) == 0 || errno == EPERM;
    }
    // A recycled pid has a different start time: the holder we recorded is gone.
    if (start != 0 && st->start != start) return false;
    // A zombie has finished; it only waits for its parent to collect the status.
    return st->state != 'Z';
}

bool process_group_alive(pid_t pgid) {
    if (pgid <= 1) return false;
    // kill(-pgid, 0) fails with ESRCH once no member exists at all: the common, cheap answer.
    if (::kill(-pgid, 0) != 0 && errno != EPERM) return false;
    // It also counts zombies, which have finished and only wait to be reaped (where no init
    // reaps orphans, they can wait forever). Look for a member that still runs: the leader
    // first, then every process (rare: only when the holder itself is already gone).
    if (live_member(pgid, pgid)) return true;
    auto names = sys::list_dir("/proc");
    if (!names) return true;  // cannot tell: keep the lock
    for (const auto& n : *names) {
        if (n.empty() || n[0] < '1' || n[0] > '9') continue;
        if (live_member(static_cast<pid_t>(std::strtol(n.c_str(), nullptr, 10)), pgid)) return true;
    }
    return false;
}

PidStatus holder_status(const LockRecord& r, std::string_view this_host) {
    if (!r.host.empty() && r.host != this_host) return PidStatus::unknown;
    if (process_alive(r.pid, r.pid_start_ns)) return PidStatus::alive;
    bool tree_kind = r.kind && (*r.kind == LockKind::guard || *r.kind == LockKind::shim);
    if (tree_kind && process_group_alive(r.pgid)) return PidStatus::alive;
    return PidStatus::dead;
}

bool provably_gone(const LockRecord& r, std::string_view this_host) {
    if (r.kind && *r.kind == LockKind::lease) return false;  // P4: a lease's pid says nothing
    if (r.host.empty() || r.host != this_host) return false;
    return holder_status(r, this_host) == PidStatus::dead;
}

std::string_view to_string(PidStatus s) {
    switch (s) {
    case PidStatus::alive: return "alive";
    case PidStatus::dead: return "dead";
    case PidStatus::unknown: return "unknown";
    }
    return "unknown";
}

} // namespace lokt
