#pragma once
// The liveness anchor of seccomp mode's locks. A shim lock names the exec'ing tool as its
// holder, and the supervisor releases it when the tool exits; but a waiter woken by the
// tool's death would prune the lock as dead before that release (P4: a tool lock is gone when
// its pid is dead and its process group empty). So the locks record, as their pgid, the
// process group of a tiny anchor process that lives exactly as long as some copy of the
// supervisor: it sits in a group of its own and exits at EOF on a pipe whose write end only
// the supervisor (and its background copy) hold. Supervisor alive: the lock stays held until
// it is released; every supervisor killed: the anchor exits and the lock can be pruned.

#include "lokt/result.hpp"
#include "lokt/sys.hpp"

#include <sys/types.h>

namespace lokt::seccomp {

/// The anchor process, seen from the supervisor.
class Anchor {
public:
    /// Forks the anchor; call while single-threaded, before any other fd is opened that the
    /// anchor must not keep (it closes stdin, stdout and stderr, and keeps nothing else open
    /// but its pipe and what is already open now).
    static Result<Anchor> start();
    /// The anchor's process group (its pid): what the locks record as pgid.
    pid_t pgid() const { return pid_; }

private:
    Anchor(pid_t pid, sys::UniqueFd hold) : pid_(pid), hold_(std::move(hold)) {}
    pid_t pid_ = 0;
    sys::UniqueFd hold_;  // the write end: the anchor lives while a copy of it is open
};

} // namespace lokt::seccomp
