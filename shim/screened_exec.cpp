// The seccomp filter's fast path for the exec calls that name their file or search PATH:
// an exec no rule can match is made here, as the raw system call with the pass word, so that
// it skips the broker's round trip. Async-signal-safe (it may run in a vfork child).

#include "shim.hpp"

#include "lokt/rules_match.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace lokt::shim {

namespace {

// LOKT_SHIM_DEBUG: which way the exec goes.
void debug(const char* path, bool passes) {
    char line[PATH_MAX + 96];
    size_t used = 0;
    append(line, sizeof line, &used, "[");
    append_num(line, sizeof line, &used, static_cast<long>(::getpid()));
    append(line, sizeof line, &used, "] execve ");
    append(line, sizeof line, &used, path ? path : "(null)");
    append(line, sizeof line, &used, passes ? ": pass (screened: no rule can match)" : ": to the seccomp filter");
    say(line);
}

} // namespace

int screened_execve(const char* path, char* const* argv, char* const* envp) {
    const bool passes = path && rules::exec_cannot_match(rule_set(), path);
    if (state().debug) debug(path, passes);
    // The unused arguments are passed as 0 when there is no word: never the word by chance.
    const uint64_t word = passes ? state().pass_word : 0;
    return static_cast<int>(::syscall(SYS_execve, path, argv, envp, word, 0, 0));
}

namespace {

// glibc's search, done by resolve(), then the exec of what it found; returns only if that
// failed (the real function then searches again and reports its own error, or runs a script
// through sh). Not inlined: its path buffer stays off the stack of the other execs.
__attribute__((noinline)) void execve_searched(const Call& c, char* const* envp) {
    char path[PATH_MAX];
    struct stat st;
    if (resolve(c, path, &st) && rules::exec_cannot_match(rule_set(), path)) screened_execve(path, c.argv, envp);
}

} // namespace

int screened_call(const Call& c, char* const* envp, int saved_errno) {
    if (!screen_ready()) return call_real(c, envp, saved_errno);
    switch (c.fn) {
    case Fn::execve:
    case Fn::execv:
        // The same system call the real function makes: its failure is the answer.
        errno = saved_errno;
        return screened_execve(c.file, c.argv, envp);
    case Fn::execvp:
    case Fn::execvpe:
        execve_searched(c, envp);
        break;
    case Fn::spawn:
    case Fn::spawnp: {
        bool handled = false;
        errno = saved_errno;
        const int rc = state().spawn_ok ? screened_spawn(c, envp, &handled) : 0;
        if (handled) return rc;
        break;
    }
    case Fn::fexecve:
    case Fn::execveat:
        break;  // rare: reported to the broker
    }
    return call_real(c, envp, saved_errno);
}

} // namespace lokt::shim
