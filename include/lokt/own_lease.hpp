#pragma once
// Whether a lock is the caller's own lease: `lokt lock` refreshes it, and a guard must say
// "held by you" instead of waiting on it (only lokt unlock ends a lease).

#include "lokt/identity.hpp"
#include "lokt/lock_file.hpp"

namespace lokt {

/// `holder` is a lease (lokt lock, or the original's kindless lock) of `who`'s owner on
/// `who`'s host.
inline bool is_own_lease(const LockRecord& holder, const Identity& who) {
    const bool lease = !holder.kind || *holder.kind == LockKind::lease;
    return lease && holder.owner == who.owner && holder.host == who.host;
}

} // namespace lokt
