#include "lokt/liveness.hpp"

#include "lokt/identity.hpp"

#include <signal.h>

#include <cerrno>

namespace lokt {

bool process_alive(pid_t pid, uint64_t start) {
    if (pid <= 0) return false;
    auto actual = process_start_time(pid);
    if (!actual) {
        // /proc unreadable for this pid: fall back to kill(0); EPERM still means it exists.
        return ::kill(pid, 0) == 0 || errno == EPERM;
    }
    // A recycled pid has a different start time: the holder we recorded is gone.
    return start == 0 || *actual == start;
}

bool process_group_alive(pid_t pgid) {
    if (pgid <= 1) return false;
    // kill(-pgid, 0) succeeds (or EPERM) while any member of the group exists, zombies included.
    return ::kill(-pgid, 0) == 0 || errno == EPERM;
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
