// The library constructor: resolve the real exec functions, snapshot the shim's variables,
// decide whether this process may rewrite execs, and parse the rules once.

#include "shim.hpp"

#include "lokt/seccomp_pass.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace lokt::shim {
namespace {

State g_state;
rules::RuleSet g_rules;

template <class Fn>
Fn next_symbol(const char* name) {
    return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

bool flag_is(const char* v, const char* want) { return v && std::strcmp(v, want) == 0; }

// Copies "a" + "b" into the arena; nullptr when it does not fit.
const char* keep(State& s, const char* a, const char* b = "") {
    const size_t la = std::strlen(a), lb = std::strlen(b);
    if (s.arena_used + la + lb + 1 > kKeptArena) return nullptr;
    char* dst = s.arena + s.arena_used;
    std::memcpy(dst, a, la);
    std::memcpy(dst + la, b, lb + 1);
    s.arena_used += la + lb + 1;
    return dst;
}

void snapshot(State& s) {
    for (int i = 0; i < kKeptCount; ++i) {
        s.kept[i] = nullptr;
        const char* v = env_lookup(environ, kKeptVars[i]);
        // Copied, not pointed to: programs may overwrite their initial environment block
        // (setproctitle). Too long to carry: leave it alone rather than truncate it.
        if (v) s.kept[i] = keep(s, kKeptVars[i], v - 1);  // v - 1 is the '='
    }
}

void set_problem(State& s, Problem p, const char* a, const char* b) {
    s.problem = p;
    size_t used = 0;
    append(s.problem_text, sizeof s.problem_text, &used, a);
    append(s.problem_text, sizeof s.problem_text, &used, b);
    append(s.problem_text, sizeof s.problem_text, &used, "; transparent locking is off in this process");
}

// Which rules file applies: LOKT_RULES, else ROOT/rules (nullptr: none at all).
void find_rules(State& s) {
    const char* env_rules = std::getenv("LOKT_RULES");
    if (env_rules && *env_rules) s.rules_path = keep(s, env_rules);
    else if (s.root) s.rules_path = keep(s, s.root, "/rules");
}

// Reads the rules file with raw syscalls into static storage; false with `problem` set.
// Async-signal-safe (the screen loads the rules at the first exec, maybe in a vfork child).
bool load_rules(State& s) {
    if (!s.rules_path) return false;  // no configuration at all: nothing to match
    int fd;
    do { fd = ::open(s.rules_path, O_RDONLY | O_CLOEXEC); } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        if (errno != ENOENT) set_problem(s, Problem::rules_unreadable, "cannot read ", s.rules_path);
        return false;
    }
    // Read straight into the rule set's text buffer; parse() works in place.
    char* buf = g_rules.text;
    const size_t cap = rules::kMaxFileBytes + 1;
    size_t len = 0;
    for (;;) {
        ssize_t r = ::read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            ::close(fd);
            set_problem(s, Problem::rules_unreadable, "cannot read ", s.rules_path);
            return false;
        }
        if (r == 0 || len + static_cast<size_t>(r) == cap) {
            len += static_cast<size_t>(r);
            break;
        }
        len += static_cast<size_t>(r);
    }
    ::close(fd);
    rules::ParseError err;
    if (!rules::parse(buf, len, &g_rules, &err)) {
        char where[PATH_MAX + 48];
        size_t w = 0;
        append(where, sizeof where, &w, s.rules_path);
        if (err.line) {
            append(where, sizeof where, &w, ":");
            append_num(where, sizeof where, &w, static_cast<long>(err.line));
        }
        append(where, sizeof where, &w, ": ");
        set_problem(s, Problem::rules_invalid, where, err.message);
        return false;
    }
    return g_rules.rule_count > 0;
}

void init() {
    State& s = g_state;
    if (s.initialised) return;
    const int saved = errno;
    s.real.execve = next_symbol<ExecveFn>("execve");
    s.real.execv = next_symbol<ExecvFn>("execv");
    s.real.execvp = next_symbol<ExecvFn>("execvp");
    s.real.execvpe = next_symbol<ExecvpeFn>("execvpe");
    s.real.posix_spawn = next_symbol<SpawnFn>("posix_spawn");
    s.real.posix_spawnp = next_symbol<SpawnFn>("posix_spawnp");
    s.real.fexecve = next_symbol<FexecveFn>("fexecve");
    s.real.execveat = next_symbol<ExecveatFn>("execveat");
    s.real.fork = next_symbol<ForkFn>("fork");

    const char* mode = std::getenv("LOKT_SHIM");
    s.active = mode && *mode && !flag_is(mode, "off") && !flag_is(mode, "0");
    s.debug = flag_is(std::getenv("LOKT_SHIM_DEBUG"), "1");
    s.doctor = !flag_is(std::getenv("LOKT_SHIM_DOCTOR"), "0");
    if (s.active) snapshot(s);
    if (s.active && flag_is(mode, "seccomp")) {
        // Under `lokt shim --seccomp` the broker locks; this library only screens execs for
        // its filter, with the rules the broker parsed. A rules file that changed since (or
        // any other doubt) turns the screen off, so that every exec stops in the filter: the
        // broker reports problems with the rules, not each process.
        // The rules are read at the first exec or fork (screen_ready()): most processes never
        // get there.
        seccomp_pass::Pass pass;
        if (seccomp_pass::parse(std::getenv(seccomp_pass::kEnv), &pass)) {
            find_rules(s);
            s.screening = s.rules_path != nullptr;
            s.pass_word = pass.word;
            s.pass_fingerprint = pass.fingerprint;
            s.spawn_ok = spawn_layout_known();
        }
    } else if (s.active) {
        if (const char* r = std::getenv("LOKT_ROOT"); r && *r) s.root = keep(s, r);
        const char* bin = std::getenv("LOKT_BIN");
        if (bin && bin[0] == '/' && (s.lokt_bin = keep(s, bin))) {
            // Whether this process is lokt itself (stat of /proc/self/exe costs ~10 µs) is
            // settled at the first exec that matches a rule: most processes never get there.
            find_rules(s);
            s.matching = load_rules(s);
        } else {
            set_problem(s, Problem::lokt_bin_missing, "LOKT_BIN is not an absolute path to lokt: ",
                        bin ? bin : "(unset)");
        }
    }
    s.initialised = true;
    // One line per process, from its constructor: also processes that never exec learn
    // that they run unguarded, and a fork of an already-warned process stays quiet.
    if (s.problem != Problem::none) say(s.problem_text);
    errno = saved;
}

} // namespace

State& state() { return g_state; }

LoktIdentity may_rewrite() {
    State& s = g_state;
    // Any thread, or a vfork child sharing this memory, may get here at once: the answer is
    // published by whoever claims it (unknown -> settling), with release/acquire order so that
    // lokt_dev/lokt_ino are complete before `identity` says so; the others compute their own.
    if (Identity id = __atomic_load_n(&s.identity, __ATOMIC_ACQUIRE); id == Identity::other || id == Identity::lokt)
        return {id == Identity::other, s.lokt_dev, s.lokt_ino};
    LoktIdentity found{false, 0, 0};
    struct stat bin {}, self {};
    const bool bin_exists = ::stat(s.lokt_bin, &bin) == 0;
    if (bin_exists) {
        found.dev = bin.st_dev;
        found.ino = bin.st_ino;
        found.may_rewrite = !(::stat("/proc/self/exe", &self) == 0 && self.st_dev == bin.st_dev &&
                              self.st_ino == bin.st_ino);
    }
    Identity expected = Identity::unknown;
    if (__atomic_compare_exchange_n(&s.identity, &expected, Identity::settling, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        if (!bin_exists) {
            set_problem(s, Problem::lokt_bin_missing, "LOKT_BIN does not exist: ", s.lokt_bin);
            say(s.problem_text);  // once per process: only the claiming thread gets here
        }
        s.lokt_dev = found.dev;
        s.lokt_ino = found.ino;
        __atomic_store_n(&s.identity, found.may_rewrite ? Identity::other : Identity::lokt, __ATOMIC_RELEASE);
    }
    return found;
}
const rules::RuleSet& rule_set() { return g_rules; }

bool screen_ready() {
    State& s = g_state;
    ScreenRules now = __atomic_load_n(&s.screen_rules, __ATOMIC_ACQUIRE);
    if (now == ScreenRules::unread) {
        // One thread (or a signal handler that interrupted it) reads; any exec meanwhile is
        // simply not screened: it stops in the filter, as it would without this library.
        ScreenRules expected = ScreenRules::unread;
        if (!__atomic_compare_exchange_n(&s.screen_rules, &expected, ScreenRules::reading, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return false;
        const int saved = errno;
        // The broker's rules or none: a file changed since it started must not decide.
        now = load_rules(s) && g_rules.fingerprint == s.pass_fingerprint ? ScreenRules::usable
                                                                           : ScreenRules::unusable;
        errno = saved;
        __atomic_store_n(&s.screen_rules, now, __ATOMIC_RELEASE);
    }
    return now == ScreenRules::usable;
}
void ensure_init() {
    if (!g_state.initialised) init();
}

// Runs before main() of every program the library is loaded into.
__attribute__((constructor)) static void lokt_shim_constructor() { init(); }

} // namespace lokt::shim
