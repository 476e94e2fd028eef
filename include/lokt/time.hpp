#pragma once
// Wall-clock instants and durations in the formats the original Go lokt reads and writes.

#include "lokt/result.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace lokt {

using WallClock = std::chrono::system_clock;
/// A wall-clock instant with nanosecond precision (lock files and audit carry ns).
using TimePoint = std::chrono::time_point<WallClock, std::chrono::nanoseconds>;
using Nanos = std::chrono::nanoseconds;

/// The current wall-clock time.
TimePoint now();

/// Go's RFC3339Nano in UTC: "2026-11-27T15:51:26.76229111Z" (trailing zeros of the
/// fraction trimmed, no fraction at all when it is zero).
std::string format_rfc3339_nano(TimePoint t);
/// RFC 3339 in UTC truncated to seconds: "2026-11-27T15:51:33Z".
std::string format_rfc3339(TimePoint t);
/// Parses RFC 3339 with optional fraction (up to 9 digits) and "Z" or "+hh:mm"/"-hh:mm".
Result<TimePoint> parse_rfc3339(std::string_view s);

/// Parses a Go-style duration: "300ms", "5s", "10m", "1h30m", "1.5h", "2us", "100ns".
/// Rejects empty input, a sign, negative values, unknown units and overflow.
Result<Nanos> parse_duration(std::string_view s);
/// Formats like Go's time.Duration.String() for whole seconds and up:
/// "0s", "12s", "1m5s", "2h0m0s"; sub-second values as "300ms".
std::string format_duration(Nanos d);

} // namespace lokt
