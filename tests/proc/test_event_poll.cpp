// F11: an event loop's poll that keeps failing is reported and paced, never a spin.

#include "lokt/proc/event_poll.hpp"
#include "lokt/sys.hpp"

#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <unistd.h>

#include <vector>

using namespace lokt;
using namespace lokt::proc;
using namespace std::chrono_literals;

TEST_CASE("a failing poll pauses for the backoff and counts the failure", "[event_poll]") {
    struct rlimit rl {};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
    // More fds than RLIMIT_NOFILE: poll fails with EINVAL. The array is really that long
    // (ignored entries, fd -1), because a sanitizer's poll interceptor reads all of it.
    std::vector<struct pollfd> p(static_cast<size_t>(rl.rlim_cur) + 1, pollfd{-1, 0, 0});
    PollHealth health;
    health.backoff = 50ms;
    const auto t0 = Steady::now();
    for (int i = 0; i < 3; ++i)
        CHECK(poll_events(p.data(), p.size(), Deadline::forever(), health, "test") == 0);
    CHECK(health.failures == 3);
    CHECK(Steady::now() - t0 >= 150ms);  // paced: three turns took three backoffs
}

TEST_CASE("a failing poll never sleeps past its deadline", "[event_poll]") {
    struct rlimit rl {};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
    std::vector<struct pollfd> p(static_cast<size_t>(rl.rlim_cur) + 1, pollfd{-1, 0, 0});
    PollHealth health;
    health.backoff = 1h;  // the deadline, not the backoff, bounds the pause
    CHECK(poll_events(p.data(), p.size(), Deadline::after(10ms), health, "test") == 0);
    CHECK(health.failures == 1);
}

TEST_CASE("a ready fd is reported as ready, a quiet one times out", "[event_poll]") {
    auto pipe = sys::pipe();
    REQUIRE(pipe);
    struct pollfd p {pipe->read.get(), POLLIN, 0};
    PollHealth health;
    CHECK(poll_events(&p, 1, Deadline::after(1ms), health, "test") == 0);
    REQUIRE(::write(pipe->write.get(), "x", 1) == 1);
    CHECK(poll_events(&p, 1, Deadline::after(10s), health, "test") == 1);
    CHECK((p.revents & POLLIN) != 0);
    CHECK(health.failures == 0);
}
