// A guard notices a broken lock at once (issue 8 §10): the lock-directory watch wakes it, and
// BackendKeeper::check_held finds, audits and drops the lock that is no longer ours.

#include "../core/store_fixture.hpp"

#include "lokt/loss_watch.hpp"
#include "lokt/backend_keeper.hpp"

#include <catch2/catch.hpp>

#include <poll.h>

using namespace lokt;
using namespace lokt::sup;
using namespace lokt::test;
using namespace std::chrono_literals;

namespace {

bool readable(int fd) {
    struct pollfd p {fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

// Waits (bounded) for fd to become readable.
bool becomes_readable(int fd) {
    struct pollfd p {fd, POLLIN, 0};
    return ::poll(&p, 1, 10'000) == 1;
}

KeeperConfig guard_config() {
    KeeperConfig cfg;
    cfg.names = {"g"};
    cfg.refusal = [](const AcquireOutcome&, bool) { return std::string("held"); };
    return cfg;
}

// A guard's keeper on the file backend of `t`, acting as owner "guard".
struct GuardKeeper {
    explicit GuardKeeper(const TempRoot& t) : backend(t.store("guard")), keeper(backend, backend.self(), guard_config()) {}
    FileBackend backend;
    BackendKeeper keeper;
};

} // namespace

TEST_CASE("the loss watch wakes on a removal and is quiet after a drain", "[loss_watch]") {
    TempRoot t;
    REQUIRE(ensure_root_dirs(t.root));
    t.write(t.root.lock_path("g"), "{}");
    LossWatch w(t.root.locks_dir());
    REQUIRE(w.fd() >= 0);
    CHECK_FALSE(readable(w.fd()));
    REQUIRE(sys::unlink(t.root.lock_path("g")));
    REQUIRE(becomes_readable(w.fd()));
    w.drain();
    CHECK_FALSE(readable(w.fd()));
}

TEST_CASE("a watch on a missing directory is inactive, not an error", "[loss_watch]") {
    LossWatch w("/nonexistent/lokt-locks");
    CHECK(w.fd() == -1);
    w.drain();  // harmless
}

TEST_CASE("a force-broken lock is found at once, audited lost and dropped", "[loss_watch]") {
    TempRoot t;
    GuardKeeper g(t);
    BackendKeeper& keeper = g.keeper;
    REQUIRE(keeper.acquire(-1, 0, {}).end == Acquisition::End::acquired);
    REQUIRE(keeper.held().size() == 1);
    const int fd = keeper.loss_fd();
    REQUIRE(fd >= 0);
    keeper.check_held();  // nothing happened yet: still ours
    CHECK(keeper.lost_count() == 0);
    CHECK(keeper.held().size() == 1);

    Store human = t.store("human");
    REQUIRE(human.force_break("g"));
    REQUIRE(becomes_readable(fd));
    keeper.check_held();
    CHECK(keeper.lost_count() == 1);
    CHECK(keeper.held().empty());
    CHECK_FALSE(readable(fd));  // drained
    // Written once the supervisor has acted on the loss (an unreachable backend would make
    // the write wait, and the --on-lost SIGTERM with it).
    CHECK(t.events("lost").empty());
    keeper.audit_losses();
    auto lost = t.events("lost");
    REQUIRE(lost.size() == 1);
    CHECK(lost[0].name == "g");
    keeper.release("exited");  // nothing left to release: no event
    CHECK(t.events("release").empty());
}

TEST_CASE("a lock replaced by another holder counts as lost too", "[loss_watch]") {
    TempRoot t;
    GuardKeeper g(t);
    BackendKeeper& keeper = g.keeper;
    REQUIRE(keeper.acquire(-1, 0, {}).end == Acquisition::End::acquired);
    REQUIRE(keeper.loss_fd() >= 0);
    Store human = t.store("human");
    REQUIRE(human.force_break("g"));
    auto r = human.try_acquire(request(human, "g"));
    REQUIRE(r);
    REQUIRE(std::holds_alternative<Acquired>(*r));
    keeper.check_held();
    CHECK(keeper.lost_count() == 1);
    CHECK(human.read("g")->record->owner == "human");  // the new holder is left alone
    keeper.release("exited");  // a loss not yet written goes to the audit log on the way out
    CHECK(t.events("lost").size() == 1);
    CHECK(t.events("release").empty());
}
