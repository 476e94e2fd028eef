// The Go-style duration parser. Freestanding like the rules parser it serves: compiled into
// liblokt_preload.so with -fno-exceptions, so no heap, no stdio and no __int128 (which would
// pull libgcc_s into the preload library).

#include "lokt/duration.hpp"

namespace lokt {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool starts_with(const char* s, size_t n, const char* lit) {
    size_t i = 0;
    for (; lit[i] != '\0'; ++i)
        if (i >= n || s[i] != lit[i]) return false;
    return true;
}

// The unit at the start of `u` (longest match first: "ms" before "m"); 0 when unknown.
uint64_t unit_ns(const char* u, size_t rest, size_t* ulen) {
    struct Unit { const char* text; uint64_t ns; };
    static constexpr Unit kUnits[] = {
        {"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000}, {"ms", 1000000},
        {"s", 1000000000ULL}, {"m", 60ULL * 1000000000ULL}, {"h", 3600ULL * 1000000000ULL},
        {"d", 24ULL * 3600ULL * 1000000000ULL},
    };
    for (const Unit& unit : kUnits) {
        if (starts_with(u, rest, unit.text)) {
            size_t n = 0;
            while (unit.text[n] != '\0') ++n;
            *ulen = n;
            return unit.ns;
        }
    }
    return 0;
}

} // namespace

DurationError parse_go_duration(const char* s, size_t len, int64_t* out_ns) noexcept {
    if (len == 0) return DurationError::empty;
    if (s[0] == '+' || s[0] == '-') return DurationError::sign;
    if (len == 1 && s[0] == '0') {
        *out_ns = 0;
        return DurationError::none;
    }
    const uint64_t limit = static_cast<uint64_t>(kMaxDurationNs);
    uint64_t total = 0;
    size_t i = 0;
    while (i < len) {
        size_t int_begin = i;
        while (i < len && is_digit(s[i])) ++i;
        size_t int_end = i, frac_begin = i, frac_end = i;
        if (i < len && s[i] == '.') {
            frac_begin = ++i;
            while (i < len && is_digit(s[i])) ++i;
            frac_end = i;
        }
        if (int_end == int_begin && frac_end == frac_begin) return DurationError::missing_number;
        size_t ulen = 0;
        uint64_t mult = 0;
        if (i < len) {
            mult = unit_ns(s + i, len - i, &ulen);
        } else if (int_begin == 0) {
            mult = 1000000000ULL;  // a bare number is seconds, as flock -w and timeout(1) read it
        } else {
            return DurationError::missing_unit;  // "1h30": the unit of a later part is not implied
        }
        if (mult == 0) return DurationError::unknown_unit;
        i += ulen;
        uint64_t whole = 0;
        for (size_t k = int_begin; k < int_end; ++k) {
            uint64_t d = static_cast<uint64_t>(s[k] - '0');
            if (whole > (limit - d) / 10) return DurationError::too_large;
            whole = whole * 10 + d;
        }
        if (whole > limit / mult) return DurationError::too_large;
        uint64_t value = whole * mult;
        uint64_t step = mult;  // the unit's share of each fractional digit
        for (size_t k = frac_begin; k < frac_end && step > 0; ++k) {
            step /= 10;
            value += static_cast<uint64_t>(s[k] - '0') * step;
        }
        if (value > limit - total) return DurationError::too_large;
        total += value;
    }
    *out_ns = static_cast<int64_t>(total);
    return DurationError::none;
}

const char* duration_error_text(DurationError e) noexcept {
    switch (e) {
    case DurationError::none: return "";
    case DurationError::empty: return "empty";
    case DurationError::sign: return "must not be signed";
    case DurationError::missing_number: return "missing number";
    case DurationError::missing_unit: return "missing unit";
    case DurationError::unknown_unit: return "unknown unit";
    case DurationError::too_large: return "too large (at most 87600h, 10 years)";
    }
    return "invalid";
}

} // namespace lokt
