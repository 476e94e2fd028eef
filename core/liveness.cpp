// The one place that decides whether a lock's holder lives (docs/design.md "Who is alive").
#include "lokt/liveness.hpp"

#include "lokt/held_file.hpp"
#include "lokt/log.hpp"
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

bool is_tree_kind(const LockRecord& r) {
    return r.kind && (*r.kind == LockKind::guard || *r.kind == LockKind::shim);
}

// Judged by pid and process group: only meaningful in PidSpace::same.
PidStatus by_pids(const LockRecord& r) {
    if (process_alive(r.pid, r.pid_start_ns)) return PidStatus::alive;
    if (is_tree_kind(r) && process_group_alive(r.pgid)) return PidStatus::alive;
    return PidStatus::dead;
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

PidSpace pid_space(const LockRecord& r, const LocalView& here) {
    if (r.host.empty() || r.host != here.host) return PidSpace::other_host;
    // Written by the original or an older lokt: today's rule, the hostname alone.
    if (r.boot_id.empty() && r.pid_ns == 0) return PidSpace::same;
    if (!r.boot_id.empty() && !here.boot_id.empty() && r.boot_id != here.boot_id)
        return PidSpace::other_boot;
    // Anything we cannot compare (a field missing on either side) is not "same".
    if (!r.boot_id.empty() && r.boot_id == here.boot_id && r.pid_ns != 0 && r.pid_ns == here.pid_ns)
        return PidSpace::same;
    return PidSpace::other_ns;
}

PidStatus holder_status(const LockRecord& r, const LocalView& here) {
    // Each judgement says why at debug level: "why is this lock held / gone?" is the
    // question -v is for.
    auto judged = [&r](PidStatus s, const char* why) {
        LOKT_LOG(debug, "lock \"", r.name, "\" holder pid ", r.pid, ": ", to_string(s), " (", why, ")");
        return s;
    };
    const PidSpace space = pid_space(r, here);
    if (space == PidSpace::other_host) return judged(PidStatus::unknown, "on another host; only its TTL can end it");
    if (space == PidSpace::other_boot) return judged(PidStatus::dead, "from an earlier boot");  // no process survives a reboot
    // The flock is the kernel's word and works across pid namespaces of one kernel.
    const HeldProof proof = is_tree_kind(r) ? probe_held(here.held_dir, r.lock_id) : HeldProof::none;
    if (proof == HeldProof::held) return judged(PidStatus::alive, "its guard's held/ proof is locked");
    // Front and supervisor are gone (free), or there is no proof: here the pids decide, so
    // members of the command's process group that outlive both still hold the lock.
    if (space == PidSpace::same) {
        const PidStatus s = by_pids(r);
        return judged(s, s == PidStatus::alive ? "its process (or its command's group) exists"
                                               : "no process with its pid and start time, nor its group");
    }
    // Another pid namespace: its pids mean nothing here; only the free proof says "gone".
    return proof == HeldProof::free ? judged(PidStatus::dead, "another pid namespace; its proof is free")
                                    : judged(PidStatus::unknown, "another pid namespace; no proof to ask");
}

bool provably_gone(const LockRecord& r, const LocalView& here) {
    if (r.kind && *r.kind == LockKind::lease) return false;  // P4: a lease's pid says nothing
    return holder_status(r, here) == PidStatus::dead;
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
