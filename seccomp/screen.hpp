#pragma once
// The fast path of every exec notification: from the program path alone (one bounded read
// of the target's memory, no allocation, no /proc), can any rule match this exec at all?
// Nearly every exec of a build answers no and is let through without going further.

#include "lokt/rules_match.hpp"

#include <linux/seccomp.h>

#include <cstddef>
#include <cstdint>

namespace lokt::seccomp {

/// Path bytes the fast path reads; a longer path goes to the Inspector.
inline constexpr size_t kScreenBytes = 512;

/// What the fast path decided.
enum class Screen : uint8_t {
    pass,     ///< no rule can match (or not an exec): CONTINUE at once
    inspect,  ///< a rule may match, or the path needs /proc to judge: ask the Inspector
};

/// Screens notification `n` against `rs`. Async-signal-safe and thread-safe.
Screen screen(const seccomp_notif& n, const rules::RuleSet& rs) noexcept;

} // namespace lokt::seccomp
