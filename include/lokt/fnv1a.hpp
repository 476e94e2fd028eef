#pragma once
// FNV-1a, 64 bits: a stable, dependency-free hash of bytes (the same on every build and
// machine). Freestanding: the preload library uses it too.

#include <cstddef>
#include <cstdint>

namespace lokt {

inline uint64_t fnv1a(const void* data, size_t len) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

} // namespace lokt
