#include "lokt/time.hpp"

#include "lokt/duration.hpp"

#include <cstdint>
#include <cstdio>

namespace lokt {
namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
    int64_t y;
    unsigned m, d;
};

// The inverse of days_from_civil (same source).
Civil civil_from_days(int64_t z) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

bool parse_digits(std::string_view s, size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

std::string format_base(TimePoint t, int64_t& frac_ns) {
    auto ns = t.time_since_epoch().count();
    int64_t secs = ns / 1'000'000'000;
    frac_ns = ns % 1'000'000'000;
    if (frac_ns < 0) {
        frac_ns += 1'000'000'000;
        --secs;
    }
    // Pure arithmetic, not gmtime_r: glibc's gmtime_r reads /etc/localtime on first use (a
    // file open and four more syscalls on every guard's path), though UTC needs no zone data.
    int64_t days = secs / 86'400;
    int64_t rem = secs % 86'400;
    if (rem < 0) {
        rem += 86'400;
        --days;
    }
    const Civil c = civil_from_days(days);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d", static_cast<long long>(c.y),
                  c.m, c.d, static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                  static_cast<int>(rem % 60));
    return buf;
}

} // namespace

TimePoint now() {
    return std::chrono::time_point_cast<Nanos>(WallClock::now());
}

std::string format_rfc3339_nano(TimePoint t) {
    int64_t frac = 0;
    std::string out = format_base(t, frac);
    if (frac != 0) {
        char buf[16];
        std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(frac));
        std::string f = buf;
        while (f.back() == '0') f.pop_back();
        out += f;
    }
    return out + "Z";
}

std::string format_rfc3339(TimePoint t) {
    int64_t frac = 0;
    return format_base(t, frac) + "Z";
}

Result<TimePoint> parse_rfc3339(std::string_view s) {
    auto bad = [&] { return Error{"invalid time \"" + std::string(s) + "\" (want RFC 3339, e.g. 2026-02-07T15:30:00Z)"}; };
    int y, mo, d, h, mi, se;
    if (s.size() < 20 || !parse_digits(s, 0, 4, y) || s[4] != '-' || !parse_digits(s, 5, 2, mo) ||
        s[7] != '-' || !parse_digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !parse_digits(s, 11, 2, h) || s[13] != ':' || !parse_digits(s, 14, 2, mi) || s[16] != ':' ||
        !parse_digits(s, 17, 2, se))
        return bad();
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return bad();
    size_t pos = 19;
    int64_t frac = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        size_t digits = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (digits < 9) frac = frac * 10 + (s[pos] - '0');
            ++digits;
            ++pos;
        }
        if (digits == 0) return bad();
        for (size_t i = digits; i < 9; ++i) frac *= 10;
    }
    int64_t offset_sec = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh, om;
        if (!parse_digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !parse_digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
            return bad();
        offset_sec = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return bad();
    }
    if (pos != s.size()) return bad();
    // Years 0000-9999 fit in int64 seconds; only the nanosecond count can overflow (past
    // 2262 or before 1677), and then the time saturates instead of wrapping.
    int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_sec;
    int64_t ns = 0;
    if (__builtin_mul_overflow(secs, int64_t{1'000'000'000}, &ns))
        return secs > 0 ? TimePoint::max() : TimePoint::min();
    return saturating_add(TimePoint(Nanos(ns)), Nanos(frac));
}

std::optional<TimePoint> parse_http_date(std::string_view s) {
    // "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 7231 section 7.1.1.1): fixed width after the comma.
    static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const auto comma = s.find(", ");
    if (comma == std::string_view::npos) return std::nullopt;
    s.remove_prefix(comma + 2);
    int d, y, h, mi, se;
    if (s.size() != 24 || !parse_digits(s, 0, 2, d) || s[2] != ' ' || s[6] != ' ' || !parse_digits(s, 7, 4, y) ||
        s[11] != ' ' || !parse_digits(s, 12, 2, h) || s[14] != ':' || !parse_digits(s, 15, 2, mi) ||
        s[17] != ':' || !parse_digits(s, 18, 2, se) || s.substr(20) != " GMT")
        return std::nullopt;
    const auto month = months.find(s.substr(3, 3));
    // Years past 2262 would overflow the nanoseconds; no server's clock is there.
    if (month == std::string_view::npos || month % 3 || y < 1900 || y > 2200 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return std::nullopt;
    const int64_t days = days_from_civil(y, static_cast<unsigned>(month / 3 + 1), static_cast<unsigned>(d));
    return TimePoint(std::chrono::seconds(days * 86400 + h * 3600 + mi * 60 + se));
}

Result<Nanos> parse_duration(std::string_view s) {
    int64_t ns = 0;
    const DurationError e = parse_go_duration(s.data(), s.size(), &ns);
    if (e != DurationError::none)
        return Error{"invalid duration \"" + std::string(s) + "\": " + duration_error_text(e) +
                     " (examples: 300ms, 5s, 10m, 1h30m)"};
    return Nanos(ns);
}

std::string format_duration(Nanos d) {
    int64_t ns = d.count();
    bool neg = ns < 0;
    if (neg) ns = -ns;
    std::string sign = neg ? "-" : "";
    if (ns == 0) return "0s";
    if (ns < 1'000'000'000) {
        char buf[32];
        if (ns % 1'000'000 == 0) std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ns / 1'000'000));
        else if (ns % 1'000 == 0) std::snprintf(buf, sizeof buf, "%lldus", static_cast<long long>(ns / 1'000));
        else std::snprintf(buf, sizeof buf, "%lldns", static_cast<long long>(ns));
        return sign + buf;
    }
    int64_t secs = ns / 1'000'000'000;  // whole seconds: what messages and status show
    int64_t h = secs / 3600, m = (secs % 3600) / 60, s = secs % 60;
    char buf[64];
    if (h > 0) std::snprintf(buf, sizeof buf, "%lldh%lldm%llds", static_cast<long long>(h),
                             static_cast<long long>(m), static_cast<long long>(s));
    else if (m > 0) std::snprintf(buf, sizeof buf, "%lldm%llds", static_cast<long long>(m),
                                  static_cast<long long>(s));
    else std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
    return sign + buf;
}

} // namespace lokt
