#pragma once
// The guard supervisor's teardown protocol as one table (s6-supervise's model): where the
// command's tree stands, what can happen to it, and what the supervisor does about each.
// supervisor_loop.cpp only reports events and carries out the actions.

#include <string_view>

namespace lokt::sup {

/// Where the command's tree stands.
enum class Phase {
    running,  ///< the command runs; signals are relayed
    grace,    ///< asked to end (SIGTERM went out, or a TERM/HUP/QUIT was relayed); --kill-after runs
    killing,  ///< the grace is over: SIGKILL to the tree, again every rescan tick, no more relays
    done,     ///< nothing of the tree is left: release the locks and return
};

/// What happened.
enum class Event {
    cancel_signal,         ///< a relayed TERM/HUP/QUIT (what CI runners' cancels send)
    leader_exit_alone,     ///< the command exited and nothing else of its tree is left
    leader_exit_rest,      ///< the command exited; other processes of its tree remain
    front_gone,            ///< the front (the caller's process) died
    grace_over,            ///< the grace timer fired (or the next SIGKILL rescan tick)
    tree_empty,            ///< the last process of the tree was reaped
};

/// What to do about it (besides relaying the signal, which relay_allowed() decides).
enum class Action {
    none,
    start_grace,     ///< arm the --kill-after timer
    term_and_grace,  ///< SIGTERM to what is left of the tree, then arm the timer
    term_rest,       ///< SIGTERM to the leftovers (the timer already runs)
    kill_tree,       ///< SIGKILL to the whole tree and arm the rescan tick
    finish,          ///< stop the loop
};

/// One row of the table.
struct Step {
    Phase next;
    Action action;
};

/// How leftovers are treated once the command has exited (guard --on-exit).
enum class LeftoverPolicy {
    term,  ///< ended: SIGTERM, then SIGKILL after --kill-after
    wait,  ///< waited for, as long as they run
};

/// The transition for `event` in `phase`.
Step step(Phase phase, Event event, LeftoverPolicy leftovers);

/// True when a signal may still be relayed to the tree in `phase` (not while killing).
bool relay_allowed(Phase phase);

/// "running", "grace", ... for diagnostics.
std::string_view to_string(Phase phase);
std::string_view to_string(Event event);

} // namespace lokt::sup
