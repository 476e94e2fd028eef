// Saturating time: the monotonic Deadline, wall-clock addition, RFC 3339 past 2262, and the
// one duration parser's bounds (issue 8 §5: the 2.07M-2.56M hour band used to wrap).

#include "lokt/duration.hpp"
#include "lokt/rules.hpp"
#include "lokt/time.hpp"

#include <catch2/catch.hpp>

#include <climits>
#include <cstring>

using namespace lokt;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {

DurationError parse(const char* s, int64_t* ns) { return parse_go_duration(s, std::strlen(s), ns); }

} // namespace

TEST_CASE("durations up to 87600h parse, anything longer is too large", "[time][deadline]") {
    int64_t ns = -1;
    CHECK(parse("87600h", &ns) == DurationError::none);
    CHECK(ns == kMaxDurationNs);
    CHECK(parse("87599h59m59.999999999s", &ns) == DurationError::none);
    // 2.07M-2.56M hours: int64 nanoseconds still hold them, now() + them does not.
    auto band = GENERATE("87600h1ns", "87601h", "2070000h", "2562047h", "2562048h", "3000000h",
                         "9999999999h", "99999999999999999999h", "5256001m", "315360001s");
    INFO(band);
    ns = -1;
    CHECK(parse(band, &ns) == DurationError::too_large);
    CHECK(ns == -1);  // untouched on error
}

TEST_CASE("each malformed duration names its reason", "[time][deadline]") {
    int64_t ns = 0;
    CHECK(parse("", &ns) == DurationError::empty);
    CHECK(parse("-5s", &ns) == DurationError::sign);
    CHECK(parse("+5s", &ns) == DurationError::sign);
    CHECK(parse("s", &ns) == DurationError::missing_number);
    CHECK(parse("1h-5m", &ns) == DurationError::missing_number);
    CHECK(parse("1h30", &ns) == DurationError::missing_unit);
    CHECK(parse("5x", &ns) == DurationError::unknown_unit);
    CHECK(std::strlen(duration_error_text(DurationError::too_large)) > 0);
}

TEST_CASE("a bare number is seconds, and d is 24 hours", "[time][deadline]") {
    int64_t ns = -1;
    REQUIRE(parse("30", &ns) == DurationError::none);
    CHECK(ns == 30'000'000'000LL);
    REQUIRE(parse("1.5", &ns) == DurationError::none);
    CHECK(ns == 1'500'000'000LL);
    REQUIRE(parse("1d", &ns) == DurationError::none);
    CHECK(ns == 86'400'000'000'000LL);
    REQUIRE(parse("1d12h", &ns) == DurationError::none);
    CHECK(ns == 129'600'000'000'000LL);
    REQUIRE(parse("3650d", &ns) == DurationError::none);  // 87600h: the ceiling itself
    CHECK(parse("3651d", &ns) == DurationError::too_large);
    CHECK(parse("315360001", &ns) == DurationError::too_large);
}

TEST_CASE("the time.hpp and rules parsers are one parser", "[time][deadline]") {
    auto text = GENERATE("300ms", "1.5h", "2m30s", "10us", "0", "87600h", "87601h", "5x", "");
    INFO(text);
    int64_t ns = 0;
    const bool ok = parse_duration_ns(text, std::strlen(text), &ns);
    auto d = parse_duration(text);
    REQUIRE(ok == static_cast<bool>(d));
    if (ok) CHECK(d->count() == ns);
}

TEST_CASE("a rules file's wait= has the same ceiling as the flags", "[time][deadline]") {
    CHECK(rules::parse_text("build wait=87600h : make\n"));
    auto bad = rules::parse_text("build wait=87601h : make\n");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.rfind("line 1: bad duration in \"wait=87601h\"", 0) == 0);
}

TEST_CASE("wall-clock addition saturates at both ends", "[time][deadline]") {
    const TimePoint t = now();
    CHECK(saturating_add(t, 1s) == t + 1s);
    CHECK(saturating_add(t, Nanos::max()) == TimePoint::max());
    CHECK(saturating_add(t, Nanos(hours(2'562'047))) == TimePoint::max());  // fits Nanos, not now()+it
    CHECK(saturating_add(t, Nanos(hours(2'070'000))) == TimePoint::max());
    CHECK(saturating_add(TimePoint::max(), 1ns) == TimePoint::max());
    CHECK(saturating_add(TimePoint::min(), -1ns) == TimePoint::min());
    CHECK(saturating_add(TimePoint(-hours(1)), -Nanos(hours(2'562'047))) == TimePoint::min());
    CHECK(saturating_add(t, Nanos(kMaxDurationNs)) > t);  // the longest TTL never wraps
}

TEST_CASE("RFC 3339 times past 2262 or before 1677 saturate instead of wrapping", "[time][deadline]") {
    const TimePoint t = now();
    auto late = GENERATE("2262-04-12T00:00:00Z", "2263-01-01T00:00:00Z", "9999-01-01T00:00:00Z",
                         "9999-12-31T23:59:59.999999999Z");
    INFO(late);
    auto p = parse_rfc3339(late);
    REQUIRE(p);
    CHECK(*p == TimePoint::max());
    CHECK(*p > t);
    auto early = parse_rfc3339("1600-01-01T00:00:00Z");
    REQUIRE(early);
    CHECK(*early == TimePoint::min());
    auto last = parse_rfc3339("2262-04-11T23:47:16Z");  // the last whole second that fits
    REQUIRE(last);
    CHECK(*last < TimePoint::max());
    CHECK(*last > t);
}

TEST_CASE("a deadline is the given time after its start", "[deadline]") {
    const Steady::time_point from = Steady::now();
    const Deadline d = Deadline::after(2s, from);
    CHECK_FALSE(d.is_forever());
    CHECK(d.when() == from + 2s);
    CHECK_FALSE(d.passed(from));
    CHECK(d.passed(from + 2s));
    CHECK(d.remaining(from) == 2s);
    CHECK(d.remaining(from + 3s) == 0s);
    CHECK(d.poll_ms(from) == 2000);
    CHECK(d.poll_ms(from + 1999999999ns) == 1);  // rounded up: never wakes early
    CHECK(d.poll_timeout(from) == std::optional<Nanos>(2s));
    CHECK(Deadline::after(-5s, from).passed(from));
    CHECK(Deadline::after(0s, from).remaining(from) == 0s);
}

TEST_CASE("a deadline past the clock's range is forever, never in the past", "[deadline]") {
    const Steady::time_point from = Steady::now();
    // (2'562'048h does not even fit in int64 nanoseconds; the parser rejects it first.)
    auto big = GENERATE(Nanos(hours(2'070'000)), Nanos(hours(2'300'000)), Nanos(hours(2'562'047)), Nanos::max());
    const Deadline d = Deadline::after(big, from);
    CHECK_FALSE(d.passed(from));
    CHECK(d.remaining(from) > hours(2'000'000));
    CHECK(d.poll_ms(from) != 0);
    // Near the top of the clock the sum saturates to forever rather than wrapping.
    const Deadline late = Deadline::after(big, Steady::time_point::max() - 1h);
    CHECK(late.is_forever());
    CHECK_FALSE(late.passed(Steady::time_point::max() - 1ns));
}

TEST_CASE("forever never passes and polls without a timeout", "[deadline]") {
    const Deadline f = Deadline::forever();
    CHECK(f.is_forever());
    CHECK_FALSE(f.passed());
    CHECK(f.remaining() == Nanos::max());
    CHECK(f.poll_ms() == -1);
    CHECK_FALSE(f.poll_timeout());
}

TEST_CASE("a long deadline clamps poll(2)'s int milliseconds instead of wrapping", "[deadline]") {
    // 597 h is INT_MAX ms: the old drain_tree cast turned --kill-after 600h negative.
    const Steady::time_point from = Steady::now();
    CHECK(Deadline::after(600h, from).poll_ms(from) == INT_MAX);
    CHECK(Deadline::after(Nanos(kMaxDurationNs), from).poll_ms(from) == INT_MAX);
    CHECK(Deadline::after(596h, from).poll_ms(from) == 596LL * 3600 * 1000);
}
