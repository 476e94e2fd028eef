#pragma once
// The process tree below us, read from /proc. With PR_SET_CHILD_SUBREAPER every process the
// command started is in this tree (orphans are re-parented to us, setsid does not change
// parentage), so "our descendants" is exactly "what is left of the guarded tree".

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace lokt::sup {

/// One process as /proc/PID/stat describes it.
struct ProcInfo {
    pid_t pid = 0;
    pid_t ppid = 0;
    pid_t pgid = 0;
    char state = '?';
    uint64_t start = 0;  ///< starttime (field 22)
};

/// Parses /proc/PID/stat; nullopt if the process is gone.
std::optional<ProcInfo> read_proc(pid_t pid);

/// Every live (non-zombie) descendant of `root`, parents before children.
std::vector<ProcInfo> descendants(pid_t root);

/// The direct children of this (single-threaded) process, zombies included, from
/// /proc/self/task/TID/children; nullopt where the kernel lacks CONFIG_PROC_CHILDREN.
std::optional<std::vector<pid_t>> own_children();

} // namespace lokt::sup
