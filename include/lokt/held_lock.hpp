#pragma once
// A lock a guard or the seccomp broker holds for a command it runs.

#include <cstdint>
#include <string>

namespace lokt {

/// One lock held for the command.
struct HeldLock {
    std::string name;
    std::string lock_id;
    int slot = -1;  ///< a `--slots N` holder's slot (LOKT_SLOT for the command); -1: none
    int64_t fence = 0;  ///< the holding's fencing token (0: unknown, e.g. after a takeover)
};

} // namespace lokt
