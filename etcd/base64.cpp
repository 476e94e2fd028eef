#include "lokt/etcd/base64.hpp"

#include <array>
#include <cstdint>

namespace lokt::etcd {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

} // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                     uint8_t(bytes[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
    }
    size_t left = bytes.size() - i;
    if (left > 0) {
        uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
        if (left == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += left == 2 ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

Result<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return Error{"invalid base64: length is not a multiple of 4"};
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (size_t i = 0; i < text.size(); i += 4) {
        std::array<int, 4> v{};
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            char c = text[i + k];
            bool last_quad = i + 4 == text.size();
            if (c == '=' && last_quad && k >= 2 && (k == 3 || text[i + 3] == '=')) {
                ++pad;
                v[k] = 0;
                continue;
            }
            if (pad > 0 || (v[k] = value_of(c)) < 0) return Error{"invalid base64: bad character"};
        }
        uint32_t w = uint32_t(v[0]) << 18 | uint32_t(v[1]) << 12 | uint32_t(v[2]) << 6 | uint32_t(v[3]);
        out += char((w >> 16) & 0xff);
        if (pad < 2) out += char((w >> 8) & 0xff);
        if (pad < 1) out += char(w & 0xff);
    }
    return out;
}

} // namespace lokt::etcd
