#pragma once
// The one parser of Go-style durations ("300ms", "10m", "1h30m", "1.5h"), for flags and for
// rules files alike. Freestanding (no heap, exceptions or stdio): liblokt_preload.so parses
// rules files with it inside its constructor.

#include <cstddef>
#include <cstdint>

namespace lokt {

/// Why a duration did not parse.
enum class DurationError : uint8_t {
    none,            ///< parsed
    empty,           ///< ""
    sign,            ///< "+5s" / "-5s": durations are never signed
    missing_number,  ///< "s", "5s.m"
    missing_unit,    ///< "1h30" (a bare number alone is seconds; a later part needs a unit)
    unknown_unit,    ///< "5x"
    too_large,       ///< above kMaxDurationNs
};

/// The longest duration lokt accepts anywhere: 87600h (10 years), in nanoseconds. Far inside
/// the int64 range, so the current time plus any parsed duration cannot overflow.
inline constexpr int64_t kMaxDurationNs = 87600LL * 3600LL * 1000000000LL;

/// Parses `s[0, len)` as a sequence of NUMBER UNIT pairs (ns, us, µs, ms, s, m, h, d = 24h;
/// a number may have a fraction) into `*out_ns`, which is left alone on error. A bare number
/// alone ("30", "1.5") is seconds. Digits below one nanosecond are dropped.
DurationError parse_go_duration(const char* s, size_t len, int64_t* out_ns) noexcept;

/// A short reason for `e` ("unknown unit"), for messages; "" for none.
const char* duration_error_text(DurationError e) noexcept;

/// The yes/no form of parse_go_duration, for the rules parser.
inline bool parse_duration_ns(const char* s, size_t len, int64_t* out_ns) noexcept {
    return parse_go_duration(s, len, out_ns) == DurationError::none;
}

} // namespace lokt
