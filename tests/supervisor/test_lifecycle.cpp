// supervisor/lifecycle.cpp: the guard supervisor's teardown protocol, row by row, and the
// properties every row must keep.
#include "../../supervisor/lifecycle.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace lokt::sup;

namespace {

const std::vector<Phase> kPhases{Phase::running, Phase::grace, Phase::killing, Phase::done};
const std::vector<Event> kEvents{Event::cancel_signal,  Event::leader_exit_alone,
                                 Event::leader_exit_rest, Event::front_gone,
                                 Event::grace_over,     Event::tree_empty};
const std::vector<LeftoverPolicy> kPolicies{LeftoverPolicy::term, LeftoverPolicy::wait};

bool same(Step a, Step b) { return a.next == b.next && a.action == b.action; }

} // namespace

TEST_CASE("a running command: a cancel starts the grace, the front's death ends the tree", "[lifecycle]") {
    for (auto pol : kPolicies) {
        CHECK(same(step(Phase::running, Event::cancel_signal, pol), {Phase::grace, Action::start_grace}));
        CHECK(same(step(Phase::running, Event::front_gone, pol), {Phase::grace, Action::term_and_grace}));
        CHECK(same(step(Phase::running, Event::leader_exit_alone, pol), {Phase::running, Action::none}));
        CHECK(same(step(Phase::running, Event::grace_over, pol), {Phase::running, Action::none}));
        CHECK(same(step(Phase::running, Event::tree_empty, pol), {Phase::done, Action::finish}));
    }
}

TEST_CASE("leftovers of an exited command: ended with --on-exit term, waited for with wait", "[lifecycle]") {
    CHECK(same(step(Phase::running, Event::leader_exit_rest, LeftoverPolicy::term),
               {Phase::grace, Action::term_and_grace}));
    CHECK(same(step(Phase::running, Event::leader_exit_rest, LeftoverPolicy::wait),
               {Phase::running, Action::none}));
    // A cancel already asked the whole tree to end: leftovers are ended under either policy.
    for (auto pol : kPolicies)
        CHECK(same(step(Phase::grace, Event::leader_exit_rest, pol), {Phase::grace, Action::term_rest}));
}

TEST_CASE("the grace ends in SIGKILL, repeated until the tree is gone", "[lifecycle]") {
    for (auto pol : kPolicies) {
        CHECK(same(step(Phase::grace, Event::grace_over, pol), {Phase::killing, Action::kill_tree}));
        CHECK(same(step(Phase::killing, Event::grace_over, pol), {Phase::killing, Action::kill_tree}));
        CHECK(same(step(Phase::grace, Event::cancel_signal, pol), {Phase::grace, Action::none}));
        CHECK(same(step(Phase::grace, Event::front_gone, pol), {Phase::grace, Action::none}));
        for (auto ev : {Event::cancel_signal, Event::leader_exit_alone, Event::leader_exit_rest,
                        Event::front_gone})
            CHECK(same(step(Phase::killing, ev, pol), {Phase::killing, Action::none}));
    }
}

TEST_CASE("every phase ends when the tree is empty, and nothing leaves done", "[lifecycle]") {
    for (auto pol : kPolicies) {
        for (auto ph : kPhases) {
            INFO("phase " << to_string(ph));
            if (ph != Phase::done)
                CHECK(same(step(ph, Event::tree_empty, pol), {Phase::done, Action::finish}));
            for (auto ev : kEvents)
                if (ph == Phase::done) CHECK(same(step(ph, ev, pol), {Phase::done, Action::none}));
        }
    }
}

TEST_CASE("the protocol only moves forward: running, grace, killing, done", "[lifecycle]") {
    auto rank = [](Phase p) { return static_cast<int>(p); };
    for (auto pol : kPolicies)
        for (auto ph : kPhases)
            for (auto ev : kEvents) {
                INFO(to_string(ph) << " + " << to_string(ev));
                const Step s = step(ph, ev, pol);
                CHECK(rank(s.next) >= rank(ph));
                // SIGKILL goes out only once the grace is over; the loop stops only at the end.
                if (s.action == Action::kill_tree) CHECK(ev == Event::grace_over);
                if (s.action == Action::finish) CHECK(s.next == Phase::done);
                if (s.next == Phase::killing) CHECK((ph == Phase::killing || ev == Event::grace_over));
            }
}

TEST_CASE("signals are relayed until the killing starts", "[lifecycle]") {
    CHECK(relay_allowed(Phase::running));
    CHECK(relay_allowed(Phase::grace));
    CHECK_FALSE(relay_allowed(Phase::killing));
    CHECK_FALSE(relay_allowed(Phase::done));
    CHECK(to_string(Phase::grace) == "grace");
    CHECK(to_string(Event::front_gone) == "front-gone");
}
