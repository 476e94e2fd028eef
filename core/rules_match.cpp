// The rules matcher: globs within a token, a|b alternatives, and argv matching with "*"/"**".
// Freestanding (compiled into liblokt_preload.so and run on the exec path, maybe in a vfork
// child): no heap, no exceptions, no stdio, no locale-dependent calls, no fnmatch.

#include "lokt/rules_match.hpp"

#include <cstring>

namespace lokt::rules {
namespace {

// Index just past the bracket expression starting at p[i] == '[', or 0 if it is unclosed
// (then '[' is an ordinary character, as in shells).
size_t class_end(const char* p, size_t plen, size_t i) {
    size_t j = i + 1;
    if (j < plen && (p[j] == '!' || p[j] == '^')) ++j;
    if (j < plen && p[j] == ']') ++j;  // a ']' first is literal
    for (; j < plen; ++j) {
        if (p[j] == '\\' && j + 1 < plen) { ++j; continue; }
        if (p[j] == ']') return j + 1;
    }
    return 0;
}

bool class_matches(const char* p, size_t begin, size_t end, unsigned char c) {
    size_t j = begin + 1;
    bool negate = false;
    if (j < end - 1 && (p[j] == '!' || p[j] == '^')) { negate = true; ++j; }
    bool hit = false;
    bool first = true;
    while (j < end - 1) {
        if (p[j] == ']' && !first) break;
        first = false;
        unsigned char lo = static_cast<unsigned char>(p[j]);
        if (lo == '\\' && j + 1 < end - 1) lo = static_cast<unsigned char>(p[++j]);
        ++j;
        unsigned char hi = lo;
        if (j + 1 < end - 1 && p[j] == '-' && p[j + 1] != ']') {
            hi = static_cast<unsigned char>(p[j + 1]);
            if (hi == '\\' && j + 2 < end - 1) { hi = static_cast<unsigned char>(p[j + 2]); ++j; }
            j += 2;
        }
        if (c >= lo && c <= hi) hit = true;
    }
    return hit != negate;
}

// Matches one pattern element at p[*pi] against c; advances *pi past the element.
bool element_matches(const char* p, size_t plen, size_t* pi, unsigned char c) {
    size_t i = *pi;
    if (p[i] == '?') { *pi = i + 1; return true; }
    if (p[i] == '[') {
        if (size_t e = class_end(p, plen, i)) {
            *pi = e;
            return class_matches(p, i, e, c);
        }
    }
    if (p[i] == '\\' && i + 1 < plen) {
        *pi = i + 2;
        return static_cast<unsigned char>(p[i + 1]) == c;
    }
    *pi = i + 1;
    return static_cast<unsigned char>(p[i]) == c;
}

// One glob without alternatives; '*' matches any bytes (also '/': tokens are not paths).
bool glob(const char* p, size_t plen, const char* s, size_t slen) {
    size_t pi = 0, si = 0, star_p = static_cast<size_t>(-1), star_s = 0;
    while (si < slen) {
        if (pi < plen && p[pi] == '*') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        size_t next = pi;
        if (pi < plen && element_matches(p, plen, &next, static_cast<unsigned char>(s[si]))) {
            pi = next;
            ++si;
            continue;
        }
        if (star_p == static_cast<size_t>(-1)) return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*') ++pi;
    return pi == plen;
}

// End of the alternative starting at p[i]: the next '|' outside brackets and escapes.
size_t alt_end(const char* p, size_t plen, size_t i) {
    while (i < plen) {
        if (p[i] == '\\' && i + 1 < plen) { i += 2; continue; }
        if (p[i] == '[') {
            if (size_t e = class_end(p, plen, i)) { i = e; continue; }
        }
        if (p[i] == '|') return i;
        ++i;
    }
    return plen;
}

const char* basename_of(const char* path) {
    const char* b = path;
    for (const char* c = path; *c; ++c)
        if (*c == '/' && c[1]) b = c + 1;
    return b;
}

bool has_slash(const char* s, size_t n) { return std::memchr(s, '/', n) != nullptr; }

} // namespace

bool token_matches(const char* pattern, size_t plen, const char* str, size_t slen) noexcept {
    size_t i = 0;
    for (;;) {
        size_t e = alt_end(pattern, plen, i);
        if (glob(pattern + i, e - i, str, slen)) return true;
        if (e >= plen) return false;
        i = e + 1;
    }
}

bool program_matches(const RuleSet& rs, const Rule& rule, const char* path) noexcept {
    const Token& t = rs.tokens[rule.first_token];
    const char* p = rs.str(t.offset);
    const char* base = basename_of(path);
    size_t blen = std::strlen(base), plen_path = std::strlen(path);
    size_t i = 0;
    for (;;) {
        size_t e = alt_end(p, t.length, i);
        bool full = has_slash(p + i, e - i);
        if (full ? glob(p + i, e - i, path, plen_path) : glob(p + i, e - i, base, blen)) return true;
        if (e >= t.length) return false;
        i = e + 1;
    }
}

bool rule_matches(const RuleSet& rs, const Rule& rule, const char* path, const char* const* args,
                  size_t nargs, int32_t* where) noexcept {
    if (!program_matches(rs, rule, path)) return false;
    if (where) where[0] = -1;
    const Token* toks = rs.tokens + rule.first_token + 1;
    const size_t m = rule.token_count - 1;
    // Wildcard matching over tokens: any_rest is '*', a glob token is one element. The
    // greedy "backtrack to the last star" walk is exact for this pattern class.
    size_t p = 0, a = 0, star_p = static_cast<size_t>(-1), star_a = 0;
    while (a < nargs) {
        if (p < m && toks[p].kind == TokenKind::any_rest) {
            if (where) where[p + 1] = static_cast<int32_t>(a);
            star_p = ++p;
            star_a = a;
            continue;
        }
        if (p < m && token_matches(rs.str(toks[p].offset), toks[p].length, args[a], std::strlen(args[a]))) {
            if (where) where[p + 1] = static_cast<int32_t>(a);
            ++p;
            ++a;
            continue;
        }
        if (star_p == static_cast<size_t>(-1)) return false;
        p = star_p;
        a = ++star_a;
    }
    while (p < m && toks[p].kind == TokenKind::any_rest) {
        if (where) where[p + 1] = static_cast<int32_t>(a);
        ++p;
    }
    return p == m;
}

bool any_program_matches(const RuleSet& rs, const char* path) noexcept {
    for (uint32_t r = 0; r < rs.rule_count; ++r)
        if (program_matches(rs, rs.rules[r], path)) return true;
    return false;
}

bool exec_cannot_match(const RuleSet& rs, const char* path) noexcept {
    return (path[0] == '/' || !rs.any_path_pattern) && !any_program_matches(rs, path);
}

bool decide(const RuleSet& rs, const char* path, const char* const* args, size_t nargs,
            Decision* out) noexcept {
    out->name_count = 0;
    out->rule_count = 0;
    out->truncated = false;
    out->on_frozen = OnFrozen::wait;
    out->on_timeout = OnTimeout::run;
    out->wait_ns = -1;
    out->wait_offset = 0;
    out->mode = RuleMode::exclusive;
    out->slots_offset = 0;
    bool mode_mixed = false;
    for (uint32_t r = 0; r < rs.rule_count; ++r) {
        const Rule& rule = rs.rules[r];
        if (!rule_matches(rs, rule, path, args, nargs)) continue;
        if (out->rule_count == 0) {
            out->mode = rule.mode;
            out->slots_offset = rule.slots_offset;
        } else if (rule.mode != out->mode || (rule.mode == RuleMode::slots &&
                                              std::strcmp(rs.str(rule.slots_offset), rs.str(out->slots_offset)) != 0)) {
            mode_mixed = true;
        }
        if (out->rule_count < kMaxMatches) out->rule_indexes[out->rule_count++] = r;
        else out->truncated = true;
        if (out->wait_ns < 0 || rule.wait_ns < out->wait_ns) {
            out->wait_ns = rule.wait_ns;
            out->wait_offset = rule.wait_offset;
        }
        if (rule.on_frozen == OnFrozen::fail) out->on_frozen = OnFrozen::fail;
        if (rule.on_timeout == OnTimeout::fail) out->on_timeout = OnTimeout::fail;
        const char* name = rs.str(rule.name_offset);
        // Insert in sorted position, skipping duplicates: the guard takes them in this order.
        uint32_t pos = 0;
        bool dup = false;
        for (; pos < out->name_count; ++pos) {
            int c = std::strcmp(name, rs.str(out->name_offsets[pos]));
            if (c == 0) { dup = true; break; }
            if (c < 0) break;
        }
        if (dup) continue;
        if (out->name_count == kMaxMatches) { out->truncated = true; continue; }
        for (uint32_t k = out->name_count; k > pos; --k) out->name_offsets[k] = out->name_offsets[k - 1];
        out->name_offsets[pos] = rule.name_offset;
        ++out->name_count;
    }
    // One guard holds all names in one mode: rules that disagree get the strictest.
    if (mode_mixed || (out->mode == RuleMode::slots && out->name_count > 1)) {
        out->mode = RuleMode::exclusive;
        out->slots_offset = 0;
    }
    return out->rule_count > 0;
}

} // namespace lokt::rules
