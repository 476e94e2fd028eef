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
};

/// The identity of the current process, from the environment and the OS.
Identity current_identity();

/// starttime (field 22 of /proc/PID/stat), or nullopt if the process does not exist.
std::optional<uint64_t> process_start_time(pid_t pid);

/// 32 random lowercase hex characters (a lock_id).
std::string random_lock_id();

} // namespace lokt
