#pragma once
// The supervisor process: one single-threaded Boost.Asio loop over a signalfd (SIGCHLD and
// the relayed signals), the life pipe from the front, the heartbeat and the grace timer.

#include "lokt/supervisor.hpp"
#include "lokt/proc/signals.hpp"
#include "lokt/sys.hpp"

namespace lokt::sup {

/// The supervisor's ends of the pipes and what it inherited from the front.
struct SupervisorIo {
    sys::UniqueFd life;    ///< read end of the life pipe (relayed signal numbers; EOF: front gone)
    sys::UniqueFd status;  ///< write end of the status pipe (channel.hpp messages)
    int tty_fd = -1;       ///< the terminal to hand to the command, or -1
    proc::SignalState caller;  ///< the caller's signal state, for the command
    std::vector<HeldLock> planned;  ///< the locks the front prepared (LockKeeper::prepare)
};

/// Runs the supervisor to the end (locks released, tree gone) and returns the exit code the
/// front must return. Call in the forked supervisor process only.
int run_supervisor(const GuardOptions& opt, LockKeeper& locks, SupervisorIo io);

} // namespace lokt::sup
