#pragma once
// Reaping: SIGCHLD coalesces, so every wake-up reaps in a loop until nothing is ready.

#include "lokt/proc/exit_status.hpp"

#include <sys/types.h>

#include <optional>

namespace lokt::sup {

/// Why reap_exited() stopped.
enum class ReapStop {
    idle,          ///< children remain, none has exited now
    none_left,     ///< ECHILD: no child at all (for a subreaper: the whole tree is gone)
    held_exited,   ///< `hold` has exited; it is left a zombie, its end is in `held`
};

/// Reaps every exited child except `hold` (0: none). A held child that has exited is not
/// reaped, so its pid — and so its process group id — cannot be reused while the caller
/// still signals that group (coreutils 8.27's recycled-pid race).
ReapStop reap_exited(pid_t hold, std::optional<proc::ChildExit>& held);

/// Reaps `pid` (blocking); its end.
proc::ChildExit reap_pid(pid_t pid);

} // namespace lokt::sup
