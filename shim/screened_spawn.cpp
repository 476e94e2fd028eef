// posix_spawn and posix_spawnp for the seccomp filter's fast path. glibc's child makes its exec
// from inside libc, where no preloaded library can add the pass word; so under
// `lokt shim --seccomp` the library spawns the child itself, step by step as glibc 2.36 does
// (posix/spawni.c: signal dispositions, scheduling, session, process group, ids, file
// actions, signal mask, exec, errors through shared memory), with the execs made by
// screened_execve(). Anything it does not know (a new attribute flag or file-action kind) is
// left to the real function. Async-signal-safe; the child runs on its own stack, in the
// caller's memory, while the caller is suspended (CLONE_VM | CLONE_VFORK).

#include "shim.hpp"

#include "lokt/path_search.hpp"

#include <fcntl.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace lokt::shim {
namespace {

// The library itself is never instrumented, but the unit tests build these sources with
// AddressSanitizer: the child's frames leave their poison in the shadow of the stack we map,
// and the next mapping at that address would inherit it. Cleared before use and after.
void clear_stack_shadow([[maybe_unused]] void* stack, [[maybe_unused]] size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
    ASAN_UNPOISON_MEMORY_REGION(stack, bytes);
#endif
}

// glibc's private record of one file action (posix/spawn_int.h, struct __spawn_action): a tag,
// then a union. Kinds are only ever appended; 2.35 added the last one this code knows.
struct Action {
    enum Tag : int { close, dup2, open, chdir, fchdir, closefrom, tcsetpgrp };
    int tag;
    union {
        struct { int fd; } close_action;
        struct { int fd; int newfd; } dup2_action;
        struct { int fd; char* path; int oflag; mode_t mode; } open_action;
        struct { char* path; } chdir_action;
        struct { int fd; } fchdir_action;
        struct { int from; } closefrom_action;
        struct { int fd; } setpgrp_action;
    } action;
};

constexpr short kKnownFlags = POSIX_SPAWN_RESETIDS | POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                              POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSCHEDPARAM | POSIX_SPAWN_SETSCHEDULER |
                              POSIX_SPAWN_USEVFORK | POSIX_SPAWN_SETSID;
constexpr int kSpawnError = 127;       // the child's exit status when it fails (as glibc's)
constexpr size_t kStackBytes = 64 * 1024;  // the child: a PATH buffer and a few frames
constexpr int kSigsetBytes = _NSIG / 8;

// The kernel's struct sigaction (glibc's sigaction() refuses its two internal signals).
struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    uint64_t mask;
};

struct ChildArgs {
    const Call* call;
    char* const* envp;
    sigset_t oldmask;  // the caller's mask, restored in the child unless SETSIGMASK
    int err;           // set by the child when it fails; read by the caller after the vfork
};

const Action* actions_of(const posix_spawn_file_actions_t* fa, int* n) {
    *n = fa ? fa->__used : 0;
    return fa ? reinterpret_cast<const Action*>(fa->__actions) : nullptr;
}

bool known(const Call& c) {
    short flags = 0;
    if (c.attr && (posix_spawnattr_getflags(c.attr, &flags) != 0 || (flags & ~kKnownFlags) != 0)) return false;
    int n = 0;
    const Action* a = actions_of(c.actions, &n);
    for (int i = 0; i < n; ++i)
        if (a[i].tag < Action::close || a[i].tag > Action::tcsetpgrp) return false;
    return true;
}

bool is_internal_signal(int sig) { return sig == 32 || sig == 33; }  // SIGCANCEL, SIGSETXID

// Every handler that would run in the child (which shares the caller's memory) goes back to
// SIG_DFL; POSIX_SPAWN_SETSIGDEF's signals too; glibc's internal signals are ignored.
void reset_handlers(const posix_spawnattr_t* attr, short flags) {
    sigset_t sd;
    ::sigemptyset(&sd);
    if ((flags & POSIX_SPAWN_SETSIGDEF) && attr) posix_spawnattr_getsigdefault(attr, &sd);
    for (int sig = 1; sig < _NSIG; ++sig) {
        KernelSigaction sa{};
        if (::sigismember(&sd, sig) == 1) {
            sa.handler = SIG_DFL;
        } else if (is_internal_signal(sig)) {
            sa.handler = SIG_IGN;
        } else {
            KernelSigaction old{};
            if (::syscall(SYS_rt_sigaction, sig, nullptr, &old, kSigsetBytes) != 0) continue;
            if (old.handler == SIG_IGN || old.handler == SIG_DFL) continue;
            sa.handler = SIG_DFL;
        }
        ::syscall(SYS_rt_sigaction, sig, &sa, nullptr, kSigsetBytes);
    }
}

bool apply_attributes(const posix_spawnattr_t* attr, short flags) {
    if (!attr) return true;
    sched_param sp{};
    posix_spawnattr_getschedparam(attr, &sp);
    if ((flags & (POSIX_SPAWN_SETSCHEDPARAM | POSIX_SPAWN_SETSCHEDULER)) == POSIX_SPAWN_SETSCHEDPARAM) {
        if (::sched_setparam(0, &sp) == -1) return false;
    } else if (flags & POSIX_SPAWN_SETSCHEDULER) {
        int policy = 0;
        posix_spawnattr_getschedpolicy(attr, &policy);
        if (::sched_setscheduler(0, policy, &sp) == -1) return false;
    }
    if ((flags & POSIX_SPAWN_SETSID) && ::setsid() < 0) return false;
    if (flags & POSIX_SPAWN_SETPGROUP) {
        pid_t pgrp = 0;
        posix_spawnattr_getpgroup(attr, &pgrp);
        if (::setpgid(0, pgrp) != 0) return false;
    }
    // Raw calls: glibc's seteuid() would signal the caller's other threads.
    if ((flags & POSIX_SPAWN_RESETIDS) &&
        (::syscall(SYS_setresuid, -1, ::getuid(), -1) != 0 || ::syscall(SYS_setresgid, -1, ::getgid(), -1) != 0))
        return false;
    return true;
}

bool close_from(int low) {
    if (::syscall(SYS_close_range, low, ~0U, 0) == 0) return true;
    struct rlimit lim {};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
    for (rlim_t fd = static_cast<rlim_t>(low); fd < lim.rlim_cur; ++fd) ::close(static_cast<int>(fd));
    return true;
}

bool apply_file_actions(const Call& c, const posix_spawnattr_t* attr, short flags) {
    int n = 0;
    const Action* actions = actions_of(c.actions, &n);
    for (int i = 0; i < n; ++i) {
        const Action& a = actions[i];
        switch (a.tag) {
        case Action::close:
            if (::close(a.action.close_action.fd) != 0) {
                // Only a descriptor out of range is an error.
                struct rlimit lim {};
                ::getrlimit(RLIMIT_NOFILE, &lim);
                const int fd = a.action.close_action.fd;
                if (fd < 0 || static_cast<rlim_t>(fd) >= lim.rlim_cur) return false;
            }
            break;
        case Action::open: {
            const auto& o = a.action.open_action;
            ::close(o.fd);  // POSIX: an open descriptor is closed before the open
            const int fd = ::open(o.path, o.oflag | O_LARGEFILE, o.mode);
            if (fd == -1) return false;
            if (fd != o.fd && (::dup2(fd, o.fd) != o.fd || ::close(fd) != 0)) return false;
            break;
        }
        case Action::dup2: {
            const auto& d = a.action.dup2_action;
            if (d.fd == d.newfd) {  // Austin Group issue 411: clears close-on-exec
                const int fl = ::fcntl(d.fd, F_GETFD, 0);
                if (fl == -1 || ::fcntl(d.fd, F_SETFD, fl & ~FD_CLOEXEC) == -1) return false;
            } else if (::dup2(d.fd, d.newfd) != d.newfd) {
                return false;
            }
            break;
        }
        case Action::chdir:
            if (::chdir(a.action.chdir_action.path) != 0) return false;
            break;
        case Action::fchdir:
            if (::fchdir(a.action.fchdir_action.fd) != 0) return false;
            break;
        case Action::closefrom:
            if (!close_from(a.action.closefrom_action.from)) return false;
            break;
        case Action::tcsetpgrp: {
            pid_t pgrp = 0;
            if (attr) posix_spawnattr_getpgroup(attr, &pgrp);
            const pid_t pgid = (flags & POSIX_SPAWN_SETPGROUP) && pgrp != 0 ? pgrp : ::getpgid(0);
            if (::tcsetpgrp(a.action.setpgrp_action.fd, pgid) != 0) return false;
            break;
        }
        }
    }
    return true;
}

// posix_spawnp's search (glibc's __execvpex): every PATH entry in turn, no script fallback;
// EACCES from any entry is reported if none runs.
void exec_searching(const char* file, char* const* argv, char* const* envp) {
    if (!file[0]) {
        errno = ENOENT;
        return;
    }
    if (std::strchr(file, '/')) {
        screened_execve(file, argv, envp);
        return;
    }
    char fallback[256];
    const char* path = env_lookup(environ, "PATH");
    if (!path) path = default_search_path(fallback, sizeof fallback);
    const size_t file_len = ::strnlen(file, NAME_MAX + 1);
    if (file_len > NAME_MAX) {
        errno = ENAMETOOLONG;
        return;
    }
    char buf[PATH_MAX + NAME_MAX + 2];
    bool got_eacces = false;
    for (const char* p = path;;) {
        const char* end = ::strchrnul(p, ':');
        const size_t dir_len = static_cast<size_t>(end - p);
        if (dir_len < PATH_MAX) {
            std::memcpy(buf, p, dir_len);
            size_t at = dir_len;
            if (dir_len) buf[at++] = '/';
            std::memcpy(buf + at, file, file_len + 1);
            screened_execve(buf, argv, envp);
            switch (errno) {
            case EACCES: got_eacces = true; break;
            case ENOENT:
            case ESTALE:
            case ENOTDIR:
            case ENODEV:
            case ETIMEDOUT: break;
            default: return;
            }
        }
        if (!*end) break;
        p = end + 1;
    }
    if (got_eacces) errno = EACCES;
}

int child_main(void* p) {
    auto* args = static_cast<ChildArgs*>(p);
    const Call& c = *args->call;
    short flags = 0;
    if (c.attr) posix_spawnattr_getflags(c.attr, &flags);
    reset_handlers(c.attr, flags);
    if (apply_attributes(c.attr, flags) && apply_file_actions(c, c.attr, flags)) {
        sigset_t mask = args->oldmask;
        if ((flags & POSIX_SPAWN_SETSIGMASK) && c.attr) posix_spawnattr_getsigmask(c.attr, &mask);
        ::sigprocmask(SIG_SETMASK, &mask, nullptr);
        if (c.fn == Fn::spawnp) exec_searching(c.file, c.argv, args->envp);
        else screened_execve(c.file, c.argv, args->envp);
    }
    args->err = errno ? errno : ECHILD;
    ::_exit(kSpawnError);
}

} // namespace

bool spawn_layout_known() {
    // Built and run against the same glibc, from 2.35 (the last file-action kind) on.
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
    const char* v = ::gnu_get_libc_version();
    char built[16];
    size_t used = 0;
    append(built, sizeof built, &used, "2.");
    append_num(built, sizeof built, &used, __GLIBC_MINOR__);
    return __GLIBC__ == 2 && std::strcmp(v, built) == 0;
#else
    return false;
#endif
}

int screened_spawn(const Call& c, char* const* envp, bool* handled) {
    *handled = false;
    if (!c.file || !known(c)) return 0;
    *handled = true;
    void* stack = ::mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return errno;
    clear_stack_shadow(stack, kStackBytes);
    int cancel_state = 0;
    ::pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    ChildArgs args{&c, envp, {}, 0};
    // Every signal blocked, glibc's internal ones too, until the child has reset its handlers.
    sigset_t all;
    ::sigfillset(&all);
    ::syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &args.oldmask, kSigsetBytes);
    const pid_t pid = ::clone(child_main, static_cast<char*>(stack) + kStackBytes, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    int ec;
    if (pid > 0) {
        ec = args.err;
        if (ec > 0) ::waitpid(pid, nullptr, 0);  // it failed before or in its exec: reaped here
    } else {
        ec = errno;
    }
    clear_stack_shadow(stack, kStackBytes);
    ::munmap(stack, kStackBytes);
    if (ec == 0 && c.pid) *c.pid = pid;
    ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &args.oldmask, nullptr, kSigsetBytes);
    ::pthread_setcancelstate(cancel_state, nullptr);
    return ec;
}

} // namespace lokt::shim
