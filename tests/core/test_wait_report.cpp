// The text of wait reports, and which display a stream gets.
#include "lokt/wait_report.hpp"

#include "lokt/sys.hpp"

#include <catch2/catch.hpp>

using namespace lokt;
using namespace std::chrono_literals;

namespace {

LockRecord holder(TimePoint acquired) {
    LockRecord r;
    r.name = "build";
    r.lock_id = "0123456789abcdef0123456789abcdef";
    r.owner = "agent-1";
    r.host = "devbox";
    r.pid = 48201;
    r.acquired_ts = acquired;
    r.command = "make build";
    return r;
}

} // namespace

TEST_CASE("a waiting report names the holder, its command, its age and the queue", "[wait_report]") {
    const TimePoint at = now();
    WaitProgress p;
    p.name = "build";
    p.blocker = AcquireOutcome{Held{holder(at - 72s)}};
    CHECK(wait_report_text(p, at) ==
          "lokt: waiting for \"build\" \u2014 held by agent-1@devbox (pid 48201, make build) for 1m12s");
    p.ahead = 2;
    CHECK(wait_report_text(p, at) ==
          "lokt: waiting for \"build\" \u2014 held by agent-1@devbox (pid 48201, make build) for 1m12s; 2 ahead of you");
    SECTION("free, but others are ahead") {
        p.blocker = AcquireOutcome{Held{}};
        CHECK(wait_report_text(p, at) == "lokt: waiting for \"build\" \u2014 2 ahead of you");
    }
    SECTION("a long command is shortened") {
        LockRecord h = holder(at - 3h - 5min);
        h.command = std::string(100, 'x');
        p.blocker = AcquireOutcome{Held{h}};
        p.ahead = 0;
        CHECK(wait_report_text(p, at) == "lokt: waiting for \"build\" \u2014 held by agent-1@devbox (pid 48201, " +
                                             std::string(37, 'x') + "...) for 3h5m");
    }
}

TEST_CASE("a frozen name is reported with the freeze's owner and end", "[wait_report]") {
    LockRecord f = holder(now());
    f.expires_at = parse_rfc3339("2026-02-07T15:30:00Z").value();
    WaitProgress p;
    p.name = "deploy";
    p.blocker = AcquireOutcome{Frozen{f}};
    CHECK(wait_report_text(p, now()) ==
          "lokt: waiting for \"deploy\" \u2014 frozen by agent-1@devbox until 2026-02-07T15:30:00Z");
}

TEST_CASE("the end of a wait is reported with its length", "[wait_report]") {
    WaitProgress p;
    p.name = "build";
    p.waited = 192s + 400ms;
    p.phase = WaitProgress::Phase::acquired;
    CHECK(wait_report_text(p, now()) == "lokt: acquired \"build\" after 3m12s");
    p.phase = WaitProgress::Phase::cancelled;
    p.waited = 12s;
    CHECK(wait_report_text(p, now()) == "lokt: gave up waiting for \"build\" after 12s (cancelled)");
    p.waited = 0s;
    p.phase = WaitProgress::Phase::acquired;
    CHECK(wait_report_text(p, now()) == "lokt: acquired \"build\" after 0s");
}

TEST_CASE("a pipe gets whole lines, -q gets nothing", "[wait_report]") {
    auto p = sys::pipe();
    REQUIRE(p);
    CHECK(wait_display(p->write.get(), false) == WaitDisplay::lines);
    CHECK(wait_display(p->write.get(), true) == WaitDisplay::quiet);
    CHECK(report_interval(WaitDisplay::tty) == 1s);
}

TEST_CASE("the reporter writes lines to a pipe and nothing when quiet", "[wait_report]") {
    auto pipe = sys::pipe();
    REQUIRE(pipe);
    WaitProgress w;
    w.name = "build";
    WaitReporter(pipe->write.get(), WaitDisplay::lines).show(w);
    w.phase = WaitProgress::Phase::timed_out;  // the caller's error line says it
    WaitReporter(pipe->write.get(), WaitDisplay::lines).show(w);
    WaitOptions o;
    WaitReporter quiet(pipe->write.get(), WaitDisplay::quiet);
    quiet.attach(o);
    CHECK_FALSE(o.progress);
    pipe->write.reset();
    auto got = sys::read_all(pipe->read.get(), 4096);
    REQUIRE(got);
    CHECK(*got == "lokt: waiting for \"build\"\n");
}
