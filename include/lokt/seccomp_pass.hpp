#pragma once
// The pass word between `lokt shim --seccomp` and the preload library it loads into CMD's tree.
// The library screens each exec by its path (rules::exec_cannot_match, the broker's own fast
// path) with the rules the broker parsed; an exec no rule can match is made with a random
// per-run word in a system-call argument that execve ignores, and the filter lets such an exec
// through without stopping it for a notification. Every other exec (the library missing, a
// static binary, a rules file changed since the start) is reported to the broker as before.
// Freestanding and async-signal-safe: the library parses it in its constructor.

#include <cstddef>
#include <cstdint>

namespace lokt::seccomp_pass {

/// The variable CMD's tree gets: "<word>:<rules fingerprint>", each 16 lowercase hex digits.
inline constexpr const char* kEnv = "LOKT_SECCOMP_PASS";
/// execve takes three arguments; the word travels in the fourth (index 3), which it ignores.
inline constexpr int kArgIndex = 3;
inline constexpr size_t kTextBytes = 34;  ///< 16 + 1 + 16 + NUL

struct Pass {
    uint64_t word = 0;         ///< never 0 when valid (0 is what unused registers often hold)
    uint64_t fingerprint = 0;  ///< rules::RuleSet::fingerprint of the broker's rules
};

/// Writes the variable's value into `out` (kTextBytes).
inline void format(const Pass& p, char* out) noexcept {
    const char* hex = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) out[i] = hex[(p.word >> (60 - 4 * i)) & 0xf];
    out[16] = ':';
    for (int i = 0; i < 16; ++i) out[17 + i] = hex[(p.fingerprint >> (60 - 4 * i)) & 0xf];
    out[33] = '\0';
}

/// Parses a value written by format(); false when malformed or the word is 0.
inline bool parse(const char* s, Pass* out) noexcept {
    if (!s) return false;
    uint64_t v[2] = {0, 0};
    for (int part = 0; part < 2; ++part) {
        for (int i = 0; i < 16; ++i) {
            const char c = *s++;
            const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return false;
            v[part] = (v[part] << 4) | static_cast<uint64_t>(d);
        }
        if (*s++ != (part == 0 ? ':' : '\0')) return false;
    }
    if (v[0] == 0) return false;
    out->word = v[0];
    out->fingerprint = v[1];
    return true;
}

} // namespace lokt::seccomp_pass
