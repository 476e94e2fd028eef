// liblokt_preload.so: every libc exec entry point funnels into dispatch(), which either
// calls the real function (exact semantics, errno kept; envp doctored when it lost the shim's
// variables) or rewrites a matching exec into `lokt guard ... --exec RESOLVED -- argv`.
// Runs on the exec path, maybe in a vfork child: stack only (alloca), no heap, no stdio.

#include "shim.hpp"

#include <alloca.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace lokt::shim {

int call_real(const Call& c, char* const* envp, int saved_errno) {
    const RealFns& r = state().real;
    errno = saved_errno;
    const bool same_env = envp == c.envp;
    switch (c.fn) {
    case Fn::execve: return r.execve(c.file, c.argv, envp);
    case Fn::execv: return same_env ? r.execv(c.file, c.argv) : r.execve(c.file, c.argv, envp);
    case Fn::execvp: return same_env ? r.execvp(c.file, c.argv) : r.execvpe(c.file, c.argv, envp);
    case Fn::execvpe: return r.execvpe(c.file, c.argv, envp);
    case Fn::spawn: return r.posix_spawn(c.pid, c.file, c.actions, c.attr, c.argv, envp);
    case Fn::spawnp: return r.posix_spawnp(c.pid, c.file, c.actions, c.attr, c.argv, envp);
    case Fn::fexecve:
        if (r.fexecve) return r.fexecve(c.fd, c.argv, envp);
        break;
    case Fn::execveat:
        if (r.execveat) return r.execveat(c.fd, c.file, c.argv, envp, c.flags);
        break;
    }
    errno = ENOSYS;
    return -1;
}

namespace {

const char* fn_name(Fn f) {
    switch (f) {
    case Fn::execve: return "execve";
    case Fn::execv: return "execv";
    case Fn::execvp: return "execvp";
    case Fn::execvpe: return "execvpe";
    case Fn::spawn: return "posix_spawn";
    case Fn::spawnp: return "posix_spawnp";
    case Fn::fexecve: return "fexecve";
    case Fn::execveat: return "execveat";
    }
    return "exec";
}

size_t count(char* const* v) {
    size_t n = 0;
    if (v)
        while (v[n]) ++n;
    return n;
}

// Bytes the kernel charges for a string vector (strings + pointers).
size_t arg_bytes(char* const* v) {
    size_t n = 0;
    if (v)
        for (; *v; ++v) n += str_len(*v) + 1 + sizeof(char*);
    return n;
}

void debug(const Call& c, const char* what, const char* detail) {
    if (!state().debug) return;
    char line[900];
    size_t used = 0;
    append(line, sizeof line, &used, "[");
    append_num(line, sizeof line, &used, static_cast<long>(::getpid()));
    append(line, sizeof line, &used, "] ");
    append(line, sizeof line, &used, fn_name(c.fn));
    append(line, sizeof line, &used, " ");
    append(line, sizeof line, &used, c.file ? c.file : "(fd)");
    append(line, sizeof line, &used, ": ");
    append(line, sizeof line, &used, what);
    append(line, sizeof line, &used, detail);
    say(line);
}

bool is_spawn(const Call& c) { return c.fn == Fn::spawn || c.fn == Fn::spawnp; }

// Number of kept variables missing from envp (each gets one extra slot).
int missing_vars(char* const* envp, bool* missing) {
    const State& s = state();
    int n = 0;
    for (int i = 0; i < kKeptCount; ++i) {
        missing[i] = s.kept[i] && !env_lookup(envp, kKeptVars[i]);
        n += missing[i];
    }
    return n;
}

void fill_doctored(char** out, char* const* envp, const bool* missing) {
    size_t k = 0;
    if (envp)
        for (char* const* e = envp; *e; ++e) out[k++] = *e;
    for (int i = 0; i < kKeptCount; ++i)
        if (missing[i]) out[k++] = const_cast<char*>(state().kept[i]);
    out[k] = nullptr;
}

// Which rule names apply and whether to rewrite; fills `resolved`. Returns false to pass through.
bool plan(const Call& c, char* resolved, rules::Decision* d) {
    const State& s = state();
    const rules::RuleSet& rs = rule_set();
    const size_t argc = count(c.argv);
    if (argc == 0) return false;
    // Cheap prefilter on the name before any syscall: most execs stop here. When the string
    // given is the path that will run, every rule can judge it; otherwise (a PATH search, a
    // dirfd-relative execveat) only basename rules can, and fexecve names no file at all.
    const bool by_fd = c.fn == Fn::fexecve || (c.fn == Fn::execveat && c.file && !c.file[0]);
    const bool final_name = !by_fd && c.file &&
                            (c.fn == Fn::execveat ? c.file[0] == '/' || c.fd == AT_FDCWD : !searches_path(c));
    if ((final_name || (!by_fd && !rs.any_path_pattern)) && !rules::any_program_matches(rs, c.file)) {
        debug(c, "pass", " (no rule)");
        return false;
    }
    struct stat st;
    if (!resolve(c, resolved, &st)) {
        debug(c, "pass", " (not an existing executable file)");
        return false;
    }
    if (!rules::decide(rs, resolved, c.argv + 1, argc - 1, d)) {
        debug(c, "pass", " (no rule)");
        return false;
    }
    // Only now, with a rule matching: is this process lokt itself, or is the target lokt?
    const LoktIdentity lokt = may_rewrite();
    if (!lokt.may_rewrite) {
        debug(c, "pass", " (this process is lokt, or LOKT_BIN is gone)");
        return false;
    }
    if (st.st_dev == lokt.dev && st.st_ino == lokt.ino) {
        debug(c, "pass", " (lokt itself)");
        return false;
    }
    const char* held = env_lookup(environ, "LOKT_HELD");  // getenv is not async-signal-safe
    const char* held_at_start = s.kept[5] ? s.kept[5] + sizeof("LOKT_HELD") : nullptr;
    bool all_held = true;
    for (uint32_t i = 0; i < d->name_count; ++i) {
        const char* n = rs.str(d->name_offsets[i]);
        if (!held_lists(held, n) && !held_lists(held_at_start, n)) all_held = false;
    }
    if (all_held) {
        debug(c, "pass", " (lock held above: LOKT_HELD)");
        return false;
    }
    if (!absolutize(resolved)) {
        debug(c, "pass", " (cannot make the path absolute)");
        return false;
    }
    return true;
}

// The guard's command line for decision `d` (keep in step with rules::guard_argv in
// core/rules.cpp): how many words come before the command's own argv ...
size_t guard_prefix_words(const rules::Decision& d) {
    const bool wait = d.wait_ns > 0;
    const size_t mode_words = d.mode == rules::RuleMode::shared ? 1 : d.mode == rules::RuleMode::slots ? 2 : 0;
    return 2 + (wait ? 5 : 0) + (d.on_timeout == rules::OnTimeout::run ? 2 : 0) + mode_words + 2 + d.name_count + 3;
}

// ... and the words themselves, into `g` (guard_prefix_words(d) + argc + 1 entries).
void fill_guard_argv(char** g, const rules::Decision& d, char* resolved, char* const* argv) {
    const rules::RuleSet& rs = rule_set();
    auto word = [&g](const char* w) { *g++ = const_cast<char*>(w); };
    word("lokt");
    word("guard");
    if (d.wait_ns > 0) {
        word("--wait");
        word("--timeout");
        word(rs.str(d.wait_offset));
        // With a wait, the rule's on-frozen is always passed: guard's own default is fail.
        word("--on-frozen");
        word(d.on_frozen == rules::OnFrozen::fail ? "fail" : "wait");
    }
    if (d.on_timeout == rules::OnTimeout::run) {
        word("--on-timeout");
        word("run");
    }
    if (d.mode == rules::RuleMode::shared) word("--shared");
    if (d.mode == rules::RuleMode::slots) {
        word("--slots");
        word(rs.str(d.slots_offset));
    }
    word("--kind");
    word("shim");
    for (uint32_t i = 0; i < d.name_count; ++i) word(rs.str(d.name_offsets[i]));
    word("--exec");
    word(resolved);
    word("--");
    for (size_t i = 0; argv[i]; ++i) word(argv[i]);
    *g = nullptr;
}

// Whether the guard's command line and `envp` stay within ARG_MAX (with room to spare).
bool fits_arg_max(const rules::Decision& d, const char* resolved, char* const* argv, char* const* envp) {
    const rules::RuleSet& rs = rule_set();
    size_t bytes = arg_bytes(argv) + arg_bytes(envp) + str_len(resolved) + 64 * guard_prefix_words(d);
    for (uint32_t i = 0; i < d.name_count; ++i) bytes += str_len(rs.str(d.name_offsets[i]));
    long arg_max = ::sysconf(_SC_ARG_MAX);
    if (arg_max <= 0) arg_max = 128 * 1024;
    return bytes + 4096 <= static_cast<size_t>(arg_max);
}

// LOKT_SHIM_DEBUG: which locks the exec is about to take.
void debug_guard(const Call& c, const rules::Decision& d) {
    const rules::RuleSet& rs = rule_set();
    const bool wait = d.wait_ns > 0;
    char names[256];
    size_t used = 0;
    append(names, sizeof names, &used, " ");
    for (uint32_t i = 0; i < d.name_count; ++i) {
        if (i) append(names, sizeof names, &used, ",");
        append(names, sizeof names, &used, rs.str(d.name_offsets[i]));
    }
    append(names, sizeof names, &used, wait ? " (wait " : " (no wait");
    if (wait) append(names, sizeof names, &used, rs.str(d.wait_offset));
    append(names, sizeof names, &used, ")");
    debug(c, "guard", names);
}

// Starts lokt guard with argv `g`; on failure warns and runs the command without the lock.
int run_guard(const Call& c, char* const* g, char* const* envp, int saved) {
    const State& s = state();
    errno = saved;
    int rc;
    if (is_spawn(c)) {
        rc = s.real.posix_spawn(c.pid, s.lokt_bin, c.actions, c.attr, g, envp);
        if (rc == 0) return 0;
    } else {
        s.real.execve(s.lokt_bin, g, envp);
        rc = errno;
    }
    // lokt itself could not be started: never let that stop the command.
    char line[PATH_MAX + 96];
    size_t used = 0;
    append(line, sizeof line, &used, "warning: cannot start ");
    append(line, sizeof line, &used, s.lokt_bin);
    append(line, sizeof line, &used, " (");
    append(line, sizeof line, &used, rc == E2BIG ? "argument list too long" : rc == ENOENT ? "not found" : "exec failed");
    append(line, sizeof line, &used, "); running the command without the lock");
    say(line);
    return call_real(c, envp, saved);
}

// The exec under `lokt shim`: rewritten into `lokt guard` when a rule matches. Not inlined into
// dispatch(): its buffers (a path, the decision) stay off the stack of the other modes' execs,
// where every page a forked child touches for the first time is a page fault.
__attribute__((noinline)) int matching_call(const Call& c, char* const* envp, int saved) {
    const State& s = state();
    char resolved[PATH_MAX];
    rules::Decision d;
    if (!plan(c, resolved, &d)) return call_real(c, envp, saved);
    if (!fits_arg_max(d, resolved, c.argv, envp)) {
        say("warning: the command line is too long to run under lokt guard; running it without the lock");
        return call_real(c, envp, saved);
    }
    // Bounded by ARG_MAX, just checked (glibc's execl puts its argv on the stack alike).
    char** g = static_cast<char**>(alloca((guard_prefix_words(d) + count(c.argv) + 1) * sizeof(char*)));
    fill_guard_argv(g, d, resolved, c.argv);
    if (s.debug) debug_guard(c, d);
    return run_guard(c, g, envp, saved);
}

int dispatch(const Call& c) {
    const int saved = errno;
    ensure_init();
    State& s = state();
    if (!s.active) return call_real(c, c.envp, saved);
    // The kill switch also works per command: `LOKT_SHIM=off make` is neither doctored nor
    // rewritten, and the new program's constructor turns the shim off for its tree.
    if (const char* m = env_lookup(c.envp, "LOKT_SHIM"); m && (!std::strcmp(m, "off") || !std::strcmp(m, "0")))
        return call_real(c, c.envp, saved);

    // The stack copies below are alloca'd here, in the frame that makes the call.
    char* const* envp = c.envp;
    bool missing[kKeptCount];
    int extra = s.doctor ? missing_vars(c.envp, missing) : 0;
    // The copy lives on the stack, which may be a small thread's: an environment too large
    // to copy within kMaxDoctoredEnv entries goes on as it is (the shim may then lose the tree).
    const size_t env_entries = extra > 0 ? count(c.envp) + static_cast<size_t>(extra) + 1 : 0;
    if (env_entries > kMaxDoctoredEnv) {
        debug(c, "keep", " (environment too large to restore the shim's variables)");
    } else if (extra > 0) {
        char** doctored = static_cast<char**>(alloca(env_entries * sizeof(char*)));
        fill_doctored(doctored, c.envp, missing);
        envp = doctored;
    }
    if (s.screening) return screened_call(c, envp, saved);
    if (!s.matching) return call_real(c, envp, saved);
    return matching_call(c, envp, saved);
}

// Counts execl-style arguments: `first` and what follows it up to the terminating NULL.
size_t count_varargs(const char* first, va_list ap) {
    size_t n = first ? 1 : 0;
    if (first)
        while (va_arg(ap, const char*)) ++n;
    return n;
}

} // namespace
} // namespace lokt::shim

using lokt::shim::Call;
using lokt::shim::dispatch;
using lokt::shim::Fn;

#define LOKT_EXPORT extern "C" __attribute__((visibility("default")))

LOKT_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
    return dispatch(Call{Fn::execve, path, argv, envp});
}

LOKT_EXPORT int execv(const char* path, char* const argv[]) {
    return dispatch(Call{Fn::execv, path, argv, environ});
}

LOKT_EXPORT int execvp(const char* file, char* const argv[]) {
    return dispatch(Call{Fn::execvp, file, argv, environ});
}

LOKT_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
    return dispatch(Call{Fn::execvpe, file, argv, envp});
}

LOKT_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
    Call c{Fn::fexecve, nullptr, argv, envp};
    c.fd = fd;
    return dispatch(c);
}

LOKT_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int flags) {
    Call c{Fn::execveat, path, argv, envp};
    c.fd = dirfd;
    c.flags = flags;
    // AT_SYMLINK_NOFOLLOW changes which file runs; leave those exact calls alone.
    if (flags & AT_SYMLINK_NOFOLLOW) {
        lokt::shim::ensure_init();
        if (auto real = lokt::shim::state().real.execveat) return real(dirfd, path, argv, envp, flags);
        errno = ENOSYS;
        return -1;
    }
    return dispatch(c);
}

// A shell forks, then execs in the child: the screen's rules, read at the first exec, would
// be read again in every child. Read them in the parent, before its first fork, instead.
LOKT_EXPORT pid_t fork() {
    lokt::shim::ensure_init();
    auto& s = lokt::shim::state();
    if (s.screening) lokt::shim::screen_ready();
    return s.real.fork();
}

LOKT_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                            const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
    Call c{Fn::spawn, path, argv, envp};
    c.pid = pid;
    c.actions = actions;
    c.attr = attr;
    return dispatch(c);
}

LOKT_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                             const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
    Call c{Fn::spawnp, file, argv, envp};
    c.pid = pid;
    c.actions = actions;
    c.attr = attr;
    return dispatch(c);
}

// The execl family: gather the arguments on the stack (two passes over a va_copy, inside the
// variadic function itself, as va_list cannot be handed around portably), then dispatch.
#define LOKT_COLLECT_ARGS(first, args)                                                  \
    va_list ap;                                                                        \
    va_start(ap, first);                                                               \
    va_list counting;                                                                  \
    va_copy(counting, ap);                                                             \
    size_t n_ = lokt::shim::count_varargs(first, counting);                            \
    va_end(counting);                                                                  \
    char** args = static_cast<char**>(alloca((n_ + 1) * sizeof(char*)));               \
    args[0] = const_cast<char*>(first);                                                \
    for (size_t i_ = 1; i_ < n_; ++i_) args[i_] = va_arg(ap, char*);                   \
    if (n_ > 0) static_cast<void>(va_arg(ap, char*));                                  \
    args[n_] = nullptr

LOKT_EXPORT int execl(const char* path, const char* arg, ...) {
    LOKT_COLLECT_ARGS(arg, argv);
    va_end(ap);
    return dispatch(Call{Fn::execv, path, argv, environ});
}

LOKT_EXPORT int execlp(const char* file, const char* arg, ...) {
    LOKT_COLLECT_ARGS(arg, argv);
    va_end(ap);
    return dispatch(Call{Fn::execvp, file, argv, environ});
}

LOKT_EXPORT int execle(const char* path, const char* arg, ...) {
    LOKT_COLLECT_ARGS(arg, argv);
    char* const* envp = va_arg(ap, char* const*);
    va_end(ap);
    return dispatch(Call{Fn::execve, path, argv, envp});
}
