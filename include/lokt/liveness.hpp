#pragma once
// Is a lock's holder provably gone? (DESIGN P4). Same host only; another host: TTL only.

#include "lokt/lock_file.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace lokt {

/// The `pid_status` of `lokt status --json`.
enum class PidStatus {
    alive,
    dead,
    unknown,  ///< another host: we cannot tell
};

/// The process exists and, if `start` is non-zero, its starttime equals `start`.
bool process_alive(pid_t pid, uint64_t start);
/// Some process is still in process group `pgid`.
bool process_group_alive(pid_t pgid);

/// Holder status as reported: pid (with start time) and, for guard/shim locks, the process group.
PidStatus holder_status(const LockRecord& r, std::string_view this_host);

/// True when dead-PID pruning may remove this lock: same host, holder dead or recycled, its
/// process group empty — and the lock is not a lease (a lease's PID says nothing, P4).
/// Files written by the original (no `kind`) follow the original's rule: dead PID → prunable.
bool provably_gone(const LockRecord& r, std::string_view this_host);

std::string_view to_string(PidStatus s);

} // namespace lokt
