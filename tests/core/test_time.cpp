#include "lokt/time.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <ctime>
#include <vector>

using namespace lokt;
using namespace std::chrono;

TEST_CASE("durations parse like the original's", "[time]") {
    struct Case { const char* text; int64_t ns; };
    auto c = GENERATE(values<Case>({
        {"300ms", 300'000'000}, {"5s", 5'000'000'000}, {"10m", 600'000'000'000},
        {"1h30m", 5'400'000'000'000}, {"1.5h", 5'400'000'000'000}, {"2us", 2'000},
        {"100ns", 100}, {"0", 0}, {"0s", 0}, {"1h0m0s", 3'600'000'000'000}, {".5s", 500'000'000},
    }));
    auto d = parse_duration(c.text);
    INFO(c.text);
    REQUIRE(d);
    CHECK(d->count() == c.ns);
}

TEST_CASE("bad durations are rejected with a message", "[time]") {
    auto text = GENERATE("", "-5s", "+5s", "5m3", "abc", "5x", "1h-3m", "s", ".", "99999999999999999999h",
                         "3000000h");
    INFO(text);
    auto d = parse_duration(text);
    REQUIRE_FALSE(d);
    CHECK(d.error().message.rfind("invalid duration", 0) == 0);
}

TEST_CASE("durations format like Go's Duration.String for messages", "[time]") {
    CHECK(format_duration(seconds(12)) == "12s");
    CHECK(format_duration(seconds(65)) == "1m5s");
    CHECK(format_duration(hours(2)) == "2h0m0s");
    CHECK(format_duration(milliseconds(300)) == "300ms");
    CHECK(format_duration(Nanos(0)) == "0s");
    CHECK(format_duration(milliseconds(12'900)) == "12s");
}

TEST_CASE("RFC 3339 round-trips with nanoseconds and trims trailing zeros", "[time]") {
    auto t = parse_rfc3339("2026-11-27T15:51:26.76229111Z");
    REQUIRE(t);
    CHECK(format_rfc3339_nano(*t) == "2026-11-27T15:51:26.76229111Z");
    CHECK(format_rfc3339(*t) == "2026-11-27T15:51:26Z");
    auto whole = parse_rfc3339("2026-02-07T15:30:00Z");
    REQUIRE(whole);
    CHECK(format_rfc3339_nano(*whole) == "2026-02-07T15:30:00Z");
}

TEST_CASE("RFC 3339 offsets are converted to UTC", "[time]") {
    auto a = parse_rfc3339("2026-02-07T17:30:00+02:00");
    auto b = parse_rfc3339("2026-02-07T15:30:00Z");
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a == *b);
}

TEST_CASE("malformed times are rejected", "[time]") {
    auto text = GENERATE("", "2026-02-07", "2026-02-07T15:30:00", "2026-13-07T15:30:00Z",
                         "2026-02-07T15:30:00.Z", "2026-02-07T15:30:00Zjunk", "yesterday");
    INFO(text);
    CHECK_FALSE(parse_rfc3339(text));
}

TEST_CASE("now() is a sane wall-clock time", "[time]") {
    auto t = now();
    CHECK(t > *parse_rfc3339("2020-01-01T00:00:00Z"));
}

TEST_CASE("UTC formatting agrees with gmtime_r across eras and leap days", "[time]") {
    // Every ~3.7 days from 1900 to 2200, plus the edges around leap days and the epoch.
    std::vector<int64_t> secs;
    for (int64_t s = -2'208'988'800; s < 7'258'118'400; s += 319'993) secs.push_back(s);
    for (int64_t s : {int64_t{-1}, int64_t{0}, int64_t{951'782'399}, int64_t{951'782'400},
                      int64_t{951'868'800}, int64_t{4'107'542'399}, int64_t{4'107'542'400}})
        secs.push_back(s);
    for (int64_t s : secs) {
        std::time_t tt = static_cast<std::time_t>(s);
        std::tm tm{};
        REQUIRE(::gmtime_r(&tt, &tm) != nullptr);
        char want[64];
        std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        lokt::TimePoint t{std::chrono::seconds(s)};
        INFO("seconds since the epoch: " << s);
        CHECK(lokt::format_rfc3339(t) == want);
    }
}

TEST_CASE("HTTP dates parse to whole seconds; anything else is no date", "[time]") {
    auto t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
    REQUIRE(t);
    CHECK(format_rfc3339(*t) == "1994-11-06T08:49:37Z");
    CHECK(format_rfc3339(*parse_http_date("Tue, 01 Dec 2026 01:02:03 GMT")) == "2026-12-01T01:02:03Z");
    for (const char* bad : {"", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
                            "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Foo 1994 08:49:37 GMT",
                            "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 9999 08:49:37 GMT"})
        CHECK_FALSE(parse_http_date(bad));
}
