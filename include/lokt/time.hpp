#pragma once
// Wall-clock instants and durations in the formats the original Go lokt reads and writes,
// and the monotonic Deadline every wait and timeout runs on. All arithmetic saturates.

#include "lokt/result.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace lokt {

using WallClock = std::chrono::system_clock;
/// A wall-clock instant with nanosecond precision (lock files and audit carry ns).
using TimePoint = std::chrono::time_point<WallClock, std::chrono::nanoseconds>;
using Nanos = std::chrono::nanoseconds;
/// The monotonic clock: waits, timeouts and grace periods (immune to NTP steps).
using Steady = std::chrono::steady_clock;

/// The current wall-clock time.
TimePoint now();

/// Go's RFC3339Nano in UTC: "2026-11-27T15:51:26.76229111Z" (trailing zeros of the
/// fraction trimmed, no fraction at all when it is zero).
std::string format_rfc3339_nano(TimePoint t);
/// RFC 3339 in UTC truncated to seconds: "2026-11-27T15:51:33Z".
std::string format_rfc3339(TimePoint t);
/// Parses RFC 3339 with optional fraction (up to 9 digits) and "Z" or "+hh:mm"/"-hh:mm".
/// A time outside the representable range (before 1677 or after 2262) saturates to
/// TimePoint::min() / TimePoint::max() instead of wrapping.
Result<TimePoint> parse_rfc3339(std::string_view s);

/// An HTTP date (RFC 7231 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"); nullopt if it is not one.
std::optional<TimePoint> parse_http_date(std::string_view s);

/// `t + d`, clamped to [TimePoint::min(), TimePoint::max()] instead of overflowing.
TimePoint saturating_add(TimePoint t, Nanos d);

/// Parses a Go-style duration: "300ms", "5s", "10m", "1h30m", "1.5h", "2us", "100ns" (the
/// one parser of lokt/duration.hpp). Rejects empty input, a sign, unknown units and values
/// above kMaxDurationNs (87600h).
Result<Nanos> parse_duration(std::string_view s);

/// A moment on the monotonic clock by which something must happen, or "forever". Built
/// with saturating arithmetic: no duration, however large, wraps it into the past.
class Deadline {
public:
    /// A deadline that never passes.
    static Deadline forever() { return Deadline(Steady::time_point::max()); }
    /// `d` after `from` (`from` itself when d <= 0); past the clock's range it is forever.
    static Deadline after(Nanos d, Steady::time_point from = Steady::now());
    /// Whichever of `a` and `b` passes first.
    static Deadline earliest(const Deadline& a, const Deadline& b) { return a.at_ <= b.at_ ? a : b; }

    bool is_forever() const { return at_ == Steady::time_point::max(); }
    /// True once `at` reached the deadline (never for forever).
    bool passed(Steady::time_point at = Steady::now()) const { return !is_forever() && at >= at_; }
    /// The time left at `at`: zero once passed, Nanos::max() for forever.
    Nanos remaining(Steady::time_point at = Steady::now()) const;
    /// remaining() as poll(2) takes it: whole milliseconds rounded up (so a poll never
    /// wakes just before the deadline), at most INT_MAX; -1 for forever.
    int poll_ms(Steady::time_point at = Steady::now()) const;
    /// remaining() as sys::poll takes it: nullopt for forever.
    std::optional<Nanos> poll_timeout(Steady::time_point at = Steady::now()) const;
    /// The instant itself (Steady::time_point::max() for forever).
    Steady::time_point when() const { return at_; }

private:
    explicit Deadline(Steady::time_point at) : at_(at) {}
    Steady::time_point at_;
};
/// Formats like Go's time.Duration.String() for whole seconds and up:
/// "0s", "12s", "1m5s", "2h0m0s"; sub-second values as "300ms".
std::string format_duration(Nanos d);

} // namespace lokt
