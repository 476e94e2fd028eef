#pragma once
// Internals of liblokt_preload.so (not installed). Everything here may run on the exec path,
// possibly in a vfork child: no heap, no stdio, no exceptions, errno saved by the callers.
// State is plain static data filled once by the library constructor (init.cpp).

#include "lokt/rules_match.hpp"

#include <limits.h>
#include <stdint.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>

namespace lokt::shim {

using ExecveFn = int (*)(const char*, char* const[], char* const[]);
using ExecvFn = int (*)(const char*, char* const[]);
using ExecvpeFn = int (*)(const char*, char* const[], char* const[]);
using SpawnFn = int (*)(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                        char* const[], char* const[]);
using FexecveFn = int (*)(int, char* const[], char* const[]);
using ExecveatFn = int (*)(int, const char*, char* const[], char* const[], int);
using ForkFn = pid_t (*)();

/// The real libc functions, resolved with dlsym(RTLD_NEXT) in the constructor.
struct RealFns {
    ExecveFn execve;
    ExecvFn execv;
    ExecvFn execvp;
    ExecvpeFn execvpe;
    SpawnFn posix_spawn;
    SpawnFn posix_spawnp;
    FexecveFn fexecve;
    ExecveatFn execveat;
    ForkFn fork;  ///< hooked only to read the screen's rules before a shell's fork
};

/// The variables the shim puts back into an envp that lost them.
inline constexpr const char* kKeptVars[] = {"LD_PRELOAD", "LOKT_SHIM", "LOKT_BIN", "LOKT_RULES",
                                            "LOKT_ROOT",  "LOKT_HELD", "LOKT_SECCOMP_PASS"};
inline constexpr int kKeptCount = 7;
/// The most environment entries the shim copies onto the stack to restore its variables (64 KiB).
inline constexpr size_t kMaxDoctoredEnv = 8192;
inline constexpr size_t kKeptArena = 3 * PATH_MAX + 4096;  ///< snapshots and paths; what does not fit is skipped

/// Whether this process may rewrite execs: unknown until the first exec that matches;
/// `lokt` when it is lokt itself or LOKT_BIN is gone (then it never rewrites). `settling`
/// while one thread publishes the answer (others work it out for themselves meanwhile).
enum class Identity : uint8_t { unknown, settling, other, lokt };

/// What may_rewrite() found: whether to rewrite, and LOKT_BIN's file (to leave execs of lokt be).
struct LoktIdentity {
    bool may_rewrite;
    dev_t dev;
    ino_t ino;
};

/// Why a process's matching is off (reported once, by the constructor).
enum class Problem : uint8_t { none, rules_unreadable, rules_invalid, lokt_bin_missing };

/// The screen's rules, read at the first exec: not yet, being read (by one thread), read and
/// the broker's (usable), or not (missing, broken or changed since the broker read them).
enum class ScreenRules : uint8_t { unread, reading, usable, unusable };

/// Everything the constructor learned; read-only afterwards (but for the __atomic fields).
struct State {
    bool spawn_ok;      ///< screening: screened_spawn may run (spawn_layout_known())
    bool initialised;
    bool active;        ///< LOKT_SHIM set and not "off": doctoring (and maybe matching) on
    bool matching;      ///< rules loaded and this process may rewrite
    bool screening;     ///< LOKT_SHIM=seccomp with a valid pass: screen execs for the filter
    ScreenRules screen_rules;  ///< screening: the rules' state; __atomic builtins only
    uint64_t pass_word;        ///< screening: the word an exec no rule can match carries
    uint64_t pass_fingerprint; ///< screening: the broker's rules (RuleSet::fingerprint)
    bool doctor;        ///< LOKT_SHIM_DOCTOR != "0"
    bool debug;         ///< LOKT_SHIM_DEBUG=1
    Identity identity;  ///< see may_rewrite(); accessed with __atomic builtins only
    Problem problem;
    RealFns real;
    dev_t lokt_dev;     ///< LOKT_BIN's identity, once may_rewrite() ran
    ino_t lokt_ino;
    // Strings live packed in `arena`, so that starting a program touches few pages.
    const char* lokt_bin;          ///< LOKT_BIN (absolute), or nullptr
    const char* root;              ///< LOKT_ROOT, or nullptr
    const char* rules_path;        ///< the rules file read, or nullptr
    const char* kept[kKeptCount];  ///< "NAME=value" snapshots, nullptr when unset
    size_t arena_used;
    char arena[kKeptArena];
    char problem_text[rules::kMaxMessage + PATH_MAX + 32];
};

/// The process's shim state (zero-initialised static storage).
State& state();
/// The process's parsed rules (static storage).
const rules::RuleSet& rule_set();
/// Runs the constructor's work if it has not run yet (a hook called before our constructor).
void ensure_init();
/// may_rewrite false in lokt's own processes and when LOKT_BIN is gone (warned once);
/// settles lazily, on the first exec that matches, and is safe to call from any thread.
LoktIdentity may_rewrite();

// --- the file an exec would run (resolve.cpp) ---

/// Which libc entry point a hooked call came through.
enum class Fn : uint8_t { execve, execv, execvp, execvpe, spawn, spawnp, fexecve, execveat };

/// One intercepted exec: the arguments of whichever entry point was called.
struct Call {
    Fn fn;
    const char* file;  // path or name (fexecve: unused)
    char* const* argv;
    char* const* envp;  // the environment the new program gets
    pid_t* pid = nullptr;
    const posix_spawn_file_actions_t* actions = nullptr;
    const posix_spawnattr_t* attr = nullptr;
    int fd = -1;  // fexecve fd, execveat dirfd
    int flags = 0;
};

/// The real libc function of `c`, with environment `envp` and errno set to `saved_errno`.
int call_real(const Call& c, char* const* envp, int saved_errno);

/// True for the *p calls given a bare name (they search PATH).
bool searches_path(const Call& c);
/// The file the call would run, into buf (PATH_MAX), if it is an existing executable
/// regular file (st filled); false otherwise (the real call then reports its own error).
bool resolve(const Call& c, char* buf, struct stat* st);
/// Makes buf absolute against the working directory.
bool absolutize(char* buf);

// --- the seccomp filter's fast path (screened_exec.cpp, screened_spawn.cpp) ---

/// Screening, and the rules are the broker's: loads them on the first call (async-signal-
/// safe, any thread; false while another thread loads them).
bool screen_ready();
/// Under `lokt shim --seccomp` (state().screening): makes the exec `c` with environment
/// `envp` itself when no rule can match it, carrying the pass word so that the filter lets it
/// through (lokt/seccomp_pass.hpp); otherwise, or when that fails, the real call. Same results
/// and errno as the real call.
int screened_call(const Call& c, char* const* envp, int saved_errno);
/// execve(path) as a raw system call; with the pass word when no rule can match `path`.
int screened_execve(const char* path, char* const* argv, char* const* envp);
/// posix_spawn(p) as glibc does it, except that the child's execs go through screened_execve.
/// Returns posix_spawn's result; *handled false (nothing done) for attribute flags or file
/// actions this glibc's layout is not known to have.
int screened_spawn(const Call& c, char* const* envp, bool* handled);
/// What screened_spawn needs to know about this glibc: whether its file-action layout is the
/// one spawn.cpp mirrors (checked once, by the constructor, when screening).
bool spawn_layout_known();

// --- small async-signal-safe helpers (util.cpp) ---

/// strlen / strcmp-like helpers that never touch locale or heap.
size_t str_len(const char* s);
/// Appends `s` to buf (capacity cap, NUL-terminated); false if it did not fit.
bool append(char* buf, size_t cap, size_t* used, const char* s);
/// Appends the decimal `v`.
bool append_num(char* buf, size_t cap, size_t* used, long v);
/// The value of NAME in a NULL-terminated env array (nullptr when absent).
const char* env_lookup(char* const* envp, const char* name);
/// Writes one line "lokt shim: <text>\n" to stderr with a single write(2).
void say(const char* text);
/// True if `name` is listed in a LOKT_HELD value ("NAME:ID,NAME:ID").
bool held_lists(const char* held, const char* name);

} // namespace lokt::shim
