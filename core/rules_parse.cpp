// The rules parser over fixed storage (and rule names; durations are lokt/duration.hpp's). Freestanding like the
// matcher: liblokt_preload.so parses the file once in its constructor, without heap or stdio.

#include "lokt/rules_match.hpp"
#include "lokt/slot_count.hpp"

#include <cstring>

namespace lokt::rules {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Bounded message building into ParseError::message.
struct Msg {
    char* buf;
    size_t used = 0;
    void add(const char* s, size_t n) {
        for (size_t i = 0; i < n && used + 1 < kMaxMessage; ++i) buf[used++] = s[i];
        buf[used] = '\0';
    }
    Msg& operator<<(const char* s) { add(s, std::strlen(s)); return *this; }
    Msg& quoted(const char* s, size_t n) {
        add("\"", 1);
        add(s, n > 60 ? 60 : n);
        if (n > 60) add("...", 3);
        add("\"", 1);
        return *this;
    }
    Msg& number(uint64_t v) {
        char tmp[24];
        size_t n = 0;
        do { tmp[n++] = static_cast<char>('0' + v % 10); v /= 10; } while (v);
        while (n) add(&tmp[--n], 1);
        return *this;
    }
};

bool equals(const char* s, size_t n, const char* lit) {
    size_t l = std::strlen(lit);
    return n == l && std::memcmp(s, lit, n) == 0;
}

bool starts_with(const char* s, size_t n, const char* lit) {
    size_t l = std::strlen(lit);
    return n >= l && std::memcmp(s, lit, l) == 0;
}

bool has_slash(const char* s, size_t n) { return std::memchr(s, '/', n) != nullptr; }

bool is_word_start_comment(const char* line, size_t i) { return line[i] == '#' && (i == 0 || is_space(line[i - 1])); }

// Splits [b, e) into whitespace-separated words, NUL-terminating each; returns the count
// (up to `cap`; one more than cap means "too many").
size_t split_words(char* text, size_t b, size_t e, uint32_t* offs, uint32_t* lens, size_t cap) {
    size_t n = 0;
    size_t i = b;
    while (i < e) {
        while (i < e && is_space(text[i])) ++i;
        if (i >= e) break;
        size_t start = i;
        while (i < e && !is_space(text[i])) ++i;
        if (n == cap) return cap + 1;
        offs[n] = static_cast<uint32_t>(start);
        lens[n] = static_cast<uint32_t>(i - start);
        ++n;
        if (i < e) text[i++] = '\0';
    }
    return n;
}

} // namespace

bool valid_rule_name(const char* s, size_t len) noexcept {
    if (len == 0 || len > 250 || s[0] == '-') return false;
    for (size_t i = 0; i < len; ++i) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
        if (c == '.' && i + 1 < len && s[i + 1] == '.') return false;
    }
    return true;
}

bool parse(const char* data, size_t len, RuleSet* out, ParseError* err) noexcept {
    out->token_count = out->rule_count = out->test_count = 0;
    out->any_path_pattern = false;
    err->line = 0;
    err->message[0] = '\0';
    Msg msg{err->message};
    if (len > kMaxFileBytes) {
        msg << "rules file is larger than " ;
        msg.number(kMaxFileBytes) << " bytes";
        return false;
    }
    if (data != out->text) std::memmove(out->text, data, len);  // in place is allowed
    out->text[len] = '\0';
    const uint32_t default_wait = static_cast<uint32_t>(len + 1);
    std::memcpy(out->text + default_wait, "10m", 4);
    char* text = out->text;

    auto error = [&](uint32_t line) {
        err->line = line;
        out->token_count = out->rule_count = out->test_count = 0;
        out->any_path_pattern = false;
        return false;
    };

    uint32_t line = 0;
    size_t pos = 0;
    while (pos < len) {
        ++line;
        size_t end = pos;
        while (end < len && text[end] != '\n') ++end;
        const size_t next = end + 1;
        text[end] = '\0';
        for (size_t i = pos; i < end; ++i) {
            if (text[i] == '\0') {
                msg << "NUL byte in the rules file";
                return error(line);
            }
            if (is_word_start_comment(text + pos, i - pos)) { end = i; break; }
        }
        text[end] = '\0';  // the last word ends here (newline or comment start)
        size_t colon = pos;
        while (colon < end && text[colon] != ':') ++colon;
        size_t first = pos;
        while (first < end && is_space(text[first])) ++first;
        if (first == end) { pos = next; continue; }
        if (colon == end) {
            msg << "missing ':' between the lock name and the command pattern";
            return error(line);
        }
        text[colon] = '\0';

        uint32_t woffs[8], wlens[8];
        size_t nw = split_words(text, pos, colon, woffs, wlens, 6);
        if (nw == 0) {
            msg << "missing lock name before ':'";
            return error(line);
        }
        if (nw > 6) {
            msg << "too many words before ':'";
            return error(line);
        }
        const char* w0 = text + woffs[0];
        const bool is_test = equals(w0, wlens[0], "test") && nw >= 2 &&
                             std::memchr(text + woffs[1], '=', wlens[1]) == nullptr;

        uint32_t toffs[kMaxRuleTokens], tlens[kMaxRuleTokens];
        size_t nt = split_words(text, colon + 1, end, toffs, tlens, kMaxRuleTokens);
        if (nt > kMaxRuleTokens) {
            msg << "more than ";
            msg.number(kMaxRuleTokens) << " tokens in one pattern";
            return error(line);
        }
        if (nt == 0) {
            msg << "missing command pattern after ':'";
            return error(line);
        }
        if (out->token_count + nt > kMaxTokens) {
            msg << "more than ";
            msg.number(kMaxTokens) << " pattern tokens in the file";
            return error(line);
        }
        const uint32_t first_token = out->token_count;
        for (size_t k = 0; k < nt; ++k) {
            Token& t = out->tokens[out->token_count++];
            t.offset = toffs[k];
            t.length = tlens[k];
            const char* w = text + toffs[k];
            t.kind = TokenKind::glob;
            if (!is_test && k > 0 && (equals(w, tlens[k], "**") || (k + 1 == nt && equals(w, tlens[k], "*"))))
                t.kind = TokenKind::any_rest;
        }

        if (is_test) {
            if (nw != 3 || !(equals(text + woffs[2], wlens[2], "match") ||
                             equals(text + woffs[2], wlens[2], "not-match"))) {
                msg << "a test line is: test NAME match|not-match : COMMAND ARGS...";
                return error(line);
            }
            if (!valid_rule_name(text + woffs[1], wlens[1])) {
                msg << "invalid lock name ";
                msg.quoted(text + woffs[1], wlens[1]);
                return error(line);
            }
            if (out->test_count == kMaxTests) {
                msg << "more than ";
                msg.number(kMaxTests) << " test lines";
                return error(line);
            }
            Test& t = out->tests[out->test_count++];
            t.line = line;
            t.name_offset = woffs[1];
            t.first_token = first_token;
            t.token_count = static_cast<uint32_t>(nt);
            t.expect_match = equals(text + woffs[2], wlens[2], "match");
            pos = next;
            continue;
        }

        if (!valid_rule_name(w0, wlens[0])) {
            msg << "invalid lock name ";
            msg.quoted(w0, wlens[0]);
            msg << " (letters, digits, '.', '_', '-'; no \"..\"; not starting with '-')";
            return error(line);
        }
        if (out->tokens[first_token].length == 2 && equals(text + toffs[0], 2, "**")) {
            msg << "the program token cannot be \"**\"";
            return error(line);
        }
        if (out->rule_count == kMaxRules) {
            msg << "more than ";
            msg.number(kMaxRules) << " rules";
            return error(line);
        }
        Rule& r = out->rules[out->rule_count];
        r.line = line;
        r.name_offset = woffs[0];
        r.first_token = first_token;
        r.token_count = static_cast<uint32_t>(nt);
        r.wait_offset = default_wait;
        r.wait_ns = 600LL * 1000000000LL;
        r.on_frozen = OnFrozen::fail;
        r.on_timeout = OnTimeout::fail;
        r.mode = RuleMode::exclusive;
        r.slots_offset = 0;
        r.slots = 0;
        for (size_t k = 1; k < nw; ++k) {
            const char* o = text + woffs[k];
            const size_t ol = wlens[k];
            if (starts_with(o, ol, "wait=")) {
                if (!parse_duration_ns(o + 5, ol - 5, &r.wait_ns)) {
                    msg << "bad duration in ";
                    msg.quoted(o, ol);
                    msg << " (e.g. wait=0, wait=30s, wait=10m, wait=1h30m)";
                    return error(line);
                }
                r.wait_offset = woffs[k] + 5;
            } else if (equals(o, ol, "on-frozen=fail")) {
                r.on_frozen = OnFrozen::fail;
            } else if (equals(o, ol, "on-frozen=wait")) {
                r.on_frozen = OnFrozen::wait;
            } else if (equals(o, ol, "on-timeout=fail")) {
                r.on_timeout = OnTimeout::fail;
            } else if (equals(o, ol, "on-timeout=run")) {
                r.on_timeout = OnTimeout::run;
            } else if ((equals(o, ol, "shared") || starts_with(o, ol, "slots=")) && r.mode != RuleMode::exclusive) {
                msg << "more than one of shared and slots=N at ";
                msg.quoted(o, ol);
                return error(line);
            } else if (equals(o, ol, "shared")) {
                r.mode = RuleMode::shared;
            } else if (starts_with(o, ol, "slots=")) {
                int n = 0;
                if (!parse_slot_count(o + 6, ol - 6, &n)) {
                    msg << "bad slot count in ";
                    msg.quoted(o, ol);
                    msg << " (a whole number from 1 to ";
                    msg.number(kMaxSlots) << ")";
                    return error(line);
                }
                r.mode = RuleMode::slots;
                r.slots = n;
                r.slots_offset = woffs[k] + 6;
            } else {
                msg << "unknown option ";
                msg.quoted(o, ol);
                msg << " (expected wait=DUR, on-frozen=fail|wait, on-timeout=fail|run, shared, slots=N)";
                return error(line);
            }
        }
        const Token& t0 = out->tokens[first_token];
        if (has_slash(text + t0.offset, t0.length)) out->any_path_pattern = true;
        ++out->rule_count;
        pos = next;
    }
    return true;
}

} // namespace lokt::rules
