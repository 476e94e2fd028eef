#pragma once
// The rules file (DESIGN §6) in fixed storage: a parser and an async-signal-safe matcher.
// Freestanding on purpose: no heap, no exceptions, no stdio, no locale, no fnmatch, so that
// liblokt_preload.so can compile it in and call the matcher on the exec path (possibly in a
// vfork child). The C++ layer for the CLI (file loading, messages, test lines) is rules.hpp.
//
// Format, one entry per line:
//   NAME [wait=DUR] [on-frozen=fail|wait] [on-timeout=fail|run] [shared|slots=N] : TOKENS
//   test NAME match|not-match : TOKENS
//   # comment (also after the tokens, when '#' starts a word)
// Token 0 matches the program's basename (its full path when the pattern has a '/');
// each token is a glob within the token (* ? [..] [!..], \ escapes) with a|b alternatives;
// a last token "*" and any "**" stand for zero or more arguments; otherwise the argument
// count must match exactly.

#include "lokt/duration.hpp"

#include <cstddef>
#include <cstdint>

namespace lokt::rules {

using lokt::parse_duration_ns;  // wait=DUR goes through the one duration parser

inline constexpr size_t kMaxFileBytes = 64 * 1024;  ///< larger rules files are an error
inline constexpr size_t kMaxRules = 512;            ///< rule lines per file
inline constexpr size_t kMaxTests = 256;            ///< test lines per file
inline constexpr size_t kMaxTokens = 4096;          ///< pattern tokens in the whole file
inline constexpr size_t kMaxRuleTokens = 64;        ///< pattern tokens in one line
inline constexpr size_t kMaxMessage = 160;          ///< parse error message bytes
inline constexpr size_t kMaxMatches = 32;           ///< distinct lock names one exec may hit

/// What happens when the lock is frozen at the time of the exec.
enum class OnFrozen : uint8_t { fail, wait };
/// What happens when the wait for the lock runs out.
enum class OnTimeout : uint8_t { fail, run };

/// How a rule's lock is held (`shared`, `slots=N`; exclusive when neither is given).
enum class RuleMode : uint8_t { exclusive, shared, slots };

/// How one pattern token matches.
enum class TokenKind : uint8_t {
    glob,      ///< exactly one argument matching the glob (with alternatives)
    any_rest,  ///< "**" anywhere, or "*" as the last token: zero or more arguments
};

/// One pattern token; its text is NUL-terminated inside RuleSet::text.
struct Token {
    uint32_t offset;
    uint32_t length;
    TokenKind kind;
};

/// One `NAME [options] : TOKENS` line.
struct Rule {
    uint32_t line;
    uint32_t name_offset;      ///< NUL-terminated lock name in RuleSet::text
    uint32_t first_token;      ///< index into RuleSet::tokens
    uint32_t token_count;
    uint32_t wait_offset;      ///< NUL-terminated duration text ("10m" when not given)
    int64_t wait_ns;           ///< 0: fail at once when held
    OnFrozen on_frozen;
    OnTimeout on_timeout;
    RuleMode mode;
    uint32_t slots_offset;     ///< mode == slots: NUL-terminated N in RuleSet::text
    int32_t slots;             ///< mode == slots: N
};

/// One `test NAME match|not-match : TOKENS` line (tokens are literal words).
struct Test {
    uint32_t line;
    uint32_t name_offset;
    uint32_t first_token;
    uint32_t token_count;
    bool expect_match;
};

/// A parsed rules file. Plain data (zero-initialisable, no constructors): the preload library
/// keeps one in static storage and fills it once at load time.
struct RuleSet {
    uint32_t token_count;
    uint32_t rule_count;
    uint32_t test_count;
    bool any_path_pattern;  ///< some token 0 contains '/': basename prefilter is not enough
    uint64_t fingerprint;   ///< FNV-1a of the text parse() was given: same file, same value
    Rule rules[kMaxRules];
    Token tokens[kMaxTokens];
    Test tests[kMaxTests];
    char text[kMaxFileBytes + 64];  ///< the file, with separators replaced by NULs

    const char* str(uint32_t offset) const { return text + offset; }
};

/// Where and why parsing failed.
struct ParseError {
    uint32_t line;             ///< 1-based; 0 when not tied to a line (file too large)
    char message[kMaxMessage];
};

/// Parses `len` bytes of rules text into `out` (which is overwritten; `data` may be
/// `out->text` itself). On failure returns false, fills `err`, and leaves `out` with no rules.
bool parse(const char* data, size_t len, RuleSet* out, ParseError* err) noexcept;

/// Glob match of one pattern alternative-list against `str` (byte-wise ASCII semantics).
bool token_matches(const char* pattern, size_t plen, const char* str, size_t slen) noexcept;

/// True if token 0 of `rule` matches the program: `path` is the file that would run.
bool program_matches(const RuleSet& rs, const Rule& rule, const char* path) noexcept;

/// Matches `rule` against the program `path` and its arguments `args[0..nargs)` (argv
/// without argv[0]). When `where` is given (rule.token_count entries), it receives for each
/// pattern token the index into `args` where its match starts (token 0: -1).
bool rule_matches(const RuleSet& rs, const Rule& rule, const char* path, const char* const* args,
                  size_t nargs, int32_t* where = nullptr) noexcept;

/// A quick test on the program alone: could any rule match `path`? (false lets the exec path
/// skip PATH search and stat when nothing can match).
bool any_program_matches(const RuleSet& rs, const char* path) noexcept;

/// The screen of an exec by the path string the kernel is given (what the seccomp broker reads
/// and what the preload library passes): true when no rule can match that exec. A relative
/// path can be judged only while no rule names a full path.
bool exec_cannot_match(const RuleSet& rs, const char* path) noexcept;

/// The combined decision for one exec: the distinct lock names (sorted, ascending) of every
/// matching rule, and the strictest options among those rules.
struct Decision {
    uint32_t name_offsets[kMaxMatches];
    uint32_t name_count;
    uint32_t rule_indexes[kMaxMatches];  ///< the matching rules (up to kMaxMatches)
    uint32_t rule_count;
    uint32_t wait_offset;  ///< the shortest wait of the matching rules
    int64_t wait_ns;
    OnFrozen on_frozen;    ///< fail if any matching rule says fail
    OnTimeout on_timeout;  ///< run only if every matching rule says run
    /// shared / slots only if every matching rule says so with the same N (and slots only
    /// for a single name); otherwise exclusive, the strictest.
    RuleMode mode;
    uint32_t slots_offset;
    bool truncated;        ///< more than kMaxMatches names or rules matched
};

/// Fills `out` for the program `path` with `args` (argv without argv[0]); false when no rule
/// matches.
bool decide(const RuleSet& rs, const char* path, const char* const* args, size_t nargs,
            Decision* out) noexcept;

/// A valid lock name for rules: [A-Za-z0-9._-]+, not starting with '-', no "..", ≤ 250 bytes.
bool valid_rule_name(const char* s, size_t len) noexcept;

} // namespace lokt::rules
