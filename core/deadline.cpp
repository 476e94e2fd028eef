// Saturating time arithmetic: the monotonic Deadline and wall-clock addition.

#include "lokt/time.hpp"

#include <climits>
#include <limits>

namespace lokt {
namespace {

// a + b on the underlying counts, clamped to the type's range.
template <class Rep>
Rep saturating_sum(Rep a, Rep b) {
    Rep out;
    if (!__builtin_add_overflow(a, b, &out)) return out;
    return b > 0 ? std::numeric_limits<Rep>::max() : std::numeric_limits<Rep>::min();
}

} // namespace

TimePoint saturating_add(TimePoint t, Nanos d) {
    return TimePoint(Nanos(saturating_sum(t.time_since_epoch().count(), d.count())));
}

Deadline Deadline::after(Nanos d, Steady::time_point from) {
    if (d <= Nanos(0)) return Deadline(from);
    const auto step = std::chrono::duration_cast<Steady::duration>(d);
    const auto sum = saturating_sum(from.time_since_epoch().count(), step.count());
    return Deadline(Steady::time_point(Steady::duration(sum)));
}

Nanos Deadline::remaining(Steady::time_point at) const {
    if (is_forever()) return Nanos::max();
    if (at >= at_) return Nanos(0);
    return std::chrono::duration_cast<Nanos>(at_ - at);
}

int Deadline::poll_ms(Steady::time_point at) const {
    if (is_forever()) return -1;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(remaining(at)).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

std::optional<Nanos> Deadline::poll_timeout(Steady::time_point at) const {
    if (is_forever()) return std::nullopt;
    return remaining(at);
}

} // namespace lokt
