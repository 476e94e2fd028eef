#pragma once
// Reading /proc/PID/stat: the one parser of it, for liveness, identity, the supervisor's
// tree walk and the re-entrancy (ancestry) test of guard and seccomp mode.

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace lokt {

/// The fields of /proc/PID/stat that lokt uses.
struct ProcStat {
    char state = '?';     ///< field 3: R, S, D, Z, T ...
    pid_t ppid = 0;       ///< field 4
    pid_t pgrp = 0;       ///< field 5
    uint64_t start = 0;   ///< field 22, starttime in clock ticks since boot
};

/// Parses /proc/PID/stat; nullopt if the process does not exist (or the file is unreadable).
std::optional<ProcStat> read_proc_stat(pid_t pid);

/// True if `ancestor` — with start time `start` (0: any) so a reused pid does not count —
/// is `pid` itself or one of its ancestors (a walk of at most `max_depth` ppid steps).
bool is_self_or_ancestor(pid_t ancestor, uint64_t start, pid_t pid, int max_depth = 256);

} // namespace lokt
