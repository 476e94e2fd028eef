#include "lifecycle.hpp"

namespace lokt::sup {

Step step(Phase phase, Event event, LeftoverPolicy leftovers) {
    // The tree's end wins from every phase; nothing leaves `done`.
    if (phase == Phase::done) return {Phase::done, Action::none};
    if (event == Event::tree_empty) return {Phase::done, Action::finish};
    switch (phase) {
    case Phase::running:
        switch (event) {
        case Event::cancel_signal: return {Phase::grace, Action::start_grace};
        case Event::leader_exit_alone: return {Phase::running, Action::none};
        case Event::leader_exit_rest:
            // --on-exit wait: the leftovers run on; the guard waits for them (and relays).
            if (leftovers == LeftoverPolicy::wait) return {Phase::running, Action::none};
            return {Phase::grace, Action::term_and_grace};
        case Event::front_gone: return {Phase::grace, Action::term_and_grace};
        case Event::grace_over: return {Phase::running, Action::none};  // no timer runs
        case Event::tree_empty: break;
        }
        break;
    case Phase::grace:
        switch (event) {
        case Event::cancel_signal: return {Phase::grace, Action::none};  // the timer runs already
        case Event::leader_exit_alone: return {Phase::grace, Action::none};
        // Once asked to end, the leftovers of a command that exited are ended too, whatever
        // --on-exit says: the cancel was for the whole tree.
        case Event::leader_exit_rest: return {Phase::grace, Action::term_rest};
        case Event::front_gone: return {Phase::grace, Action::none};
        case Event::grace_over: return {Phase::killing, Action::kill_tree};
        case Event::tree_empty: break;
        }
        break;
    case Phase::killing:
        switch (event) {
        case Event::grace_over: return {Phase::killing, Action::kill_tree};  // rescan for forks
        case Event::cancel_signal:
        case Event::leader_exit_alone:
        case Event::leader_exit_rest:
        case Event::front_gone: return {Phase::killing, Action::none};
        case Event::tree_empty: break;
        }
        break;
    case Phase::done: break;
    }
    return {Phase::done, Action::finish};  // tree_empty, handled above
}

bool relay_allowed(Phase phase) { return phase == Phase::running || phase == Phase::grace; }

std::string_view to_string(Phase phase) {
    switch (phase) {
    case Phase::running: return "running";
    case Phase::grace: return "grace";
    case Phase::killing: return "killing";
    case Phase::done: return "done";
    }
    return "?";
}

std::string_view to_string(Event event) {
    switch (event) {
    case Event::cancel_signal: return "cancel-signal";
    case Event::leader_exit_alone: return "leader-exit-alone";
    case Event::leader_exit_rest: return "leader-exit-rest";
    case Event::front_gone: return "front-gone";
    case Event::grace_over: return "grace-over";
    case Event::tree_empty: return "tree-empty";
    }
    return "?";
}

} // namespace lokt::sup
