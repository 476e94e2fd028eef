#pragma once
// Who is acting: owner, host, pid (with start time), agent id — written into lock files and
// audit events exactly as the original does.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace lokt {

struct Identity {
    std::string owner;     ///< $LOKT_OWNER, else the OS user name
    std::string host;      ///< gethostname()
    pid_t pid = 0;         ///< the process recorded as holder
    uint64_t pid_start = 0;  ///< field 22 (starttime, clock ticks since boot) of /proc/PID/stat
    std::string agent_id;  ///< $LOKT_AGENT_ID, else "agent-" + 4 random hex digits
    std::string boot_id;   ///< /proc/sys/kernel/random/boot_id (empty: unreadable)
    uint64_t pid_ns = 0;   ///< inode of /proc/self/ns/pid: the namespace our pids live in (0: unknown)
};

/// The identity of the current process, from the environment and the OS.
Identity current_identity();

/// starttime (field 22 of /proc/PID/stat), or nullopt if the process does not exist.
std::optional<uint64_t> process_start_time(pid_t pid);

/// This boot of the kernel (/proc/sys/kernel/random/boot_id); empty when unreadable.
std::string current_boot_id();
/// The inode of /proc/self/ns/pid, which names our pid namespace; 0 when unreadable.
uint64_t current_pid_ns();

/// 32 random lowercase hex characters (a lock_id).
std::string random_lock_id();

} // namespace lokt
