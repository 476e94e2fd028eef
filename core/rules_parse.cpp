// The rules parser over fixed storage (and rule names; durations are lokt/duration.hpp's). Freestanding like the
// matcher: liblokt_preload.so parses the file once in its constructor, without heap or stdio.

#include "lokt/rules_match.hpp"

#include "lokt/fnv1a.hpp"
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

namespace {

/// One line's words: before the ':' (name, options) and after it (the pattern's tokens).
struct LineWords {
    uint32_t woffs[8], wlens[8];
    size_t nw = 0;
    uint32_t first_token = 0;
    size_t nt = 0;
};

/// The parse of one rules file into `out`, line by line; each step returns false with the
/// message in `msg` on the first error.
struct Parser {
    RuleSet* out;
    char* text;
    Msg msg;
    uint32_t default_wait;

    /// Cuts the line [pos, *end) at a comment and checks for NUL bytes.
    bool cut_line(size_t pos, size_t* end) {
        text[*end] = '\0';
        for (size_t i = pos; i < *end; ++i) {
            if (text[i] == '\0') {
                msg << "NUL byte in the rules file";
                return false;
            }
            if (is_word_start_comment(text + pos, i - pos)) {
                *end = i;
                break;
            }
        }
        text[*end] = '\0';  // the last word ends here (newline or comment start)
        return true;
    }

    /// Splits the words before the colon and the pattern after it (tokens appended to `out`).
    bool split_line(size_t pos, size_t colon, size_t end, LineWords* w) {
        text[colon] = '\0';
        w->nw = split_words(text, pos, colon, w->woffs, w->wlens, 6);
        if (w->nw == 0) return fail("missing lock name before ':'");
        if (w->nw > 6) return fail("too many words before ':'");
        const bool is_test = is_test_line(*w);
        uint32_t toffs[kMaxRuleTokens], tlens[kMaxRuleTokens];
        w->nt = split_words(text, colon + 1, end, toffs, tlens, kMaxRuleTokens);
        if (w->nt > kMaxRuleTokens) {
            msg << "more than ";
            msg.number(kMaxRuleTokens) << " tokens in one pattern";
            return false;
        }
        if (w->nt == 0) return fail("missing command pattern after ':'");
        if (out->token_count + w->nt > kMaxTokens) {
            msg << "more than ";
            msg.number(kMaxTokens) << " pattern tokens in the file";
            return false;
        }
        w->first_token = out->token_count;
        for (size_t k = 0; k < w->nt; ++k) {
            Token& t = out->tokens[out->token_count++];
            t.offset = toffs[k];
            t.length = tlens[k];
            const char* word = text + toffs[k];
            t.kind = TokenKind::glob;
            if (!is_test && k > 0 && (equals(word, tlens[k], "**") || (k + 1 == w->nt && equals(word, tlens[k], "*"))))
                t.kind = TokenKind::any_rest;
        }
        return true;
    }

    bool is_test_line(const LineWords& w) const {
        return equals(text + w.woffs[0], w.wlens[0], "test") && w.nw >= 2 &&
               std::memchr(text + w.woffs[1], '=', w.wlens[1]) == nullptr;
    }

    /// `test NAME match|not-match : COMMAND ARGS...`
    bool add_test(const LineWords& w, uint32_t line) {
        const char* verdict = text + w.woffs[2];
        if (w.nw != 3 || !(equals(verdict, w.wlens[2], "match") || equals(verdict, w.wlens[2], "not-match")))
            return fail("a test line is: test NAME match|not-match : COMMAND ARGS...");
        if (!valid_rule_name(text + w.woffs[1], w.wlens[1])) {
            msg << "invalid lock name ";
            msg.quoted(text + w.woffs[1], w.wlens[1]);
            return false;
        }
        if (out->test_count == kMaxTests) {
            msg << "more than ";
            msg.number(kMaxTests) << " test lines";
            return false;
        }
        Test& t = out->tests[out->test_count++];
        t.line = line;
        t.name_offset = w.woffs[1];
        t.first_token = w.first_token;
        t.token_count = static_cast<uint32_t>(w.nt);
        t.expect_match = equals(verdict, w.wlens[2], "match");
        return true;
    }

    /// `NAME [OPTIONS...] : PROGRAM ARGS...`
    bool add_rule(const LineWords& w, uint32_t line) {
        const char* w0 = text + w.woffs[0];
        if (!valid_rule_name(w0, w.wlens[0])) {
            msg << "invalid lock name ";
            msg.quoted(w0, w.wlens[0]);
            msg << " (letters, digits, '.', '_', '-'; no \"..\"; not starting with '-')";
            return false;
        }
        const Token& t0 = out->tokens[w.first_token];
        if (t0.length == 2 && equals(text + t0.offset, 2, "**")) return fail("the program token cannot be \"**\"");
        if (out->rule_count == kMaxRules) {
            msg << "more than ";
            msg.number(kMaxRules) << " rules";
            return false;
        }
        Rule& r = out->rules[out->rule_count];
        r.line = line;
        r.name_offset = w.woffs[0];
        r.first_token = w.first_token;
        r.token_count = static_cast<uint32_t>(w.nt);
        r.wait_offset = default_wait;
        r.wait_ns = 600LL * 1000000000LL;
        r.on_frozen = OnFrozen::fail;
        r.on_timeout = OnTimeout::fail;
        r.mode = RuleMode::exclusive;
        r.slots_offset = 0;
        r.slots = 0;
        for (size_t k = 1; k < w.nw; ++k)
            if (!apply_option(w.woffs[k], w.wlens[k], &r)) return false;
        if (has_slash(text + t0.offset, t0.length)) out->any_path_pattern = true;
        ++out->rule_count;
        return true;
    }

    /// One option word of a rule (`wait=DUR`, `on-frozen=…`, `on-timeout=…`, `shared`, `slots=N`).
    bool apply_option(uint32_t offset, size_t ol, Rule* r) {
        const char* o = text + offset;
        if (starts_with(o, ol, "wait=")) {
            if (!parse_duration_ns(o + 5, ol - 5, &r->wait_ns)) {
                msg << "bad duration in ";
                msg.quoted(o, ol);
                msg << " (e.g. wait=0, wait=30s, wait=10m, wait=1h30m)";
                return false;
            }
            r->wait_offset = offset + 5;
        } else if (equals(o, ol, "on-frozen=fail") || equals(o, ol, "on-frozen=wait")) {
            r->on_frozen = equals(o, ol, "on-frozen=wait") ? OnFrozen::wait : OnFrozen::fail;
        } else if (equals(o, ol, "on-timeout=fail") || equals(o, ol, "on-timeout=run")) {
            r->on_timeout = equals(o, ol, "on-timeout=run") ? OnTimeout::run : OnTimeout::fail;
        } else if ((equals(o, ol, "shared") || starts_with(o, ol, "slots=")) && r->mode != RuleMode::exclusive) {
            msg << "more than one of shared and slots=N at ";
            msg.quoted(o, ol);
            return false;
        } else if (equals(o, ol, "shared")) {
            r->mode = RuleMode::shared;
        } else if (starts_with(o, ol, "slots=")) {
            int n = 0;
            if (!parse_slot_count(o + 6, ol - 6, &n)) {
                msg << "bad slot count in ";
                msg.quoted(o, ol);
                msg << " (a whole number from 1 to ";
                msg.number(kMaxSlots) << ")";
                return false;
            }
            r->mode = RuleMode::slots;
            r->slots = n;
            r->slots_offset = offset + 6;
        } else {
            msg << "unknown option ";
            msg.quoted(o, ol);
            msg << " (expected wait=DUR, on-frozen=fail|wait, on-timeout=fail|run, shared, slots=N)";
            return false;
        }
        return true;
    }

    /// Parses the line [pos, end); blank and comment-only lines add nothing.
    bool parse_line(size_t pos, size_t end, uint32_t line) {
        if (!cut_line(pos, &end)) return false;
        size_t first = pos;
        while (first < end && is_space(text[first])) ++first;
        if (first == end) return true;
        size_t colon = pos;
        while (colon < end && text[colon] != ':') ++colon;
        if (colon == end) return fail("missing ':' between the lock name and the command pattern");
        LineWords w;
        if (!split_line(pos, colon, end, &w)) return false;
        return is_test_line(w) ? add_test(w, line) : add_rule(w, line);
    }

    bool fail(const char* what) {
        msg << what;
        return false;
    }
};

} // namespace

bool parse(const char* data, size_t len, RuleSet* out, ParseError* err) noexcept {
    out->token_count = out->rule_count = out->test_count = 0;
    out->any_path_pattern = false;
    out->fingerprint = fnv1a(data, len);
    err->line = 0;
    err->message[0] = '\0';
    Msg msg{err->message};
    if (len > kMaxFileBytes) {
        msg << "rules file is larger than ";
        msg.number(kMaxFileBytes) << " bytes";
        return false;
    }
    if (data != out->text) std::memmove(out->text, data, len);  // in place is allowed
    out->text[len] = '\0';
    const uint32_t default_wait = static_cast<uint32_t>(len + 1);
    std::memcpy(out->text + default_wait, "10m", 4);
    Parser parser{out, out->text, msg, default_wait};

    uint32_t line = 0;
    for (size_t pos = 0; pos < len;) {
        ++line;
        size_t end = pos;
        while (end < len && out->text[end] != '\n') ++end;
        if (!parser.parse_line(pos, end, line)) {
            err->line = line;
            out->token_count = out->rule_count = out->test_count = 0;
            out->any_path_pattern = false;
            return false;
        }
        pos = end + 1;
    }
    return true;
}

} // namespace lokt::rules
