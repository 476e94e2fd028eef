#pragma once
// The one parser of a pool size N (`--slots N`, `slots=N` in a rules file). Freestanding:
// the preload library's rules parser uses it, so it neither allocates nor throws.

#include <cstddef>

namespace lokt {

/// The largest pool `--slots N` / `slots=N` accepts.
inline constexpr int kMaxSlots = 1024;

/// Parses `len` bytes at `s` as a whole number 1..kMaxSlots (digits only); false otherwise.
inline bool parse_slot_count(const char* s, size_t len, int* out) noexcept {
    if (len == 0 || len > 4) return false;
    int n = 0;
    for (size_t i = 0; i < len; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        n = n * 10 + (s[i] - '0');
    }
    if (n < 1 || n > kMaxSlots) return false;
    *out = n;
    return true;
}

} // namespace lokt
