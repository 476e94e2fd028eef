#include "lokt/proc/signals.hpp"

#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace lokt::proc {

SignalState capture_signal_state() {
    SignalState s;
    ::sigemptyset(&s.ignored);
    ::pthread_sigmask(SIG_SETMASK, nullptr, &s.mask);
    for (int sig = 1; sig < NSIG; ++sig) {
        struct sigaction sa {};
        if (::sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler == SIG_IGN)
            ::sigaddset(&s.ignored, sig);
    }
    return s;
}

sigset_t relayed_signals(const sigset_t& except) {
    static constexpr int kRelayed[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE,
                                       SIGALRM, SIGTERM, SIGCONT, SIGTSTP, SIGWINCH, SIGURG,
                                       SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO, SIGPWR};
    sigset_t set;
    ::sigemptyset(&set);
    for (int sig : kRelayed)
        if (!::sigismember(&except, sig)) ::sigaddset(&set, sig);
    return set;
}

bool terminates_by_default(int sig) {
    switch (sig) {
    case SIGHUP: case SIGINT: case SIGQUIT: case SIGUSR1: case SIGUSR2: case SIGPIPE:
    case SIGALRM: case SIGTERM: case SIGXCPU: case SIGXFSZ: case SIGVTALRM: case SIGPROF:
    case SIGIO: case SIGPWR: case SIGKILL:
        return true;
    default:
        return false;
    }
}

bool escalates_to_kill(int sig) { return sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT; }

void apply_signal_state(const SignalState& s) {
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct sigaction sa;
        ::memset(&sa, 0, sizeof sa);
        sa.sa_handler = ::sigismember(&s.ignored, sig) ? SIG_IGN : SIG_DFL;
        ::sigemptyset(&sa.sa_mask);
        ::sigaction(sig, &sa, nullptr);  // EINVAL for glibc's reserved signals: harmless
    }
    ::sigprocmask(SIG_SETMASK, &s.mask, nullptr);
}

Result<sys::UniqueFd> make_signalfd(const sigset_t& set) {
    int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return Error::from_errno("signalfd", errno);
    return sys::UniqueFd(fd);
}

std::vector<signalfd_siginfo> read_signals(int fd) {
    std::vector<signalfd_siginfo> out;
    signalfd_siginfo buf[16];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t count = static_cast<size_t>(n) / sizeof(signalfd_siginfo);
        out.insert(out.end(), buf, buf + count);
    }
    return out;
}

const char* signal_name(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    static thread_local char buf[24];
    if (abbrev)
        ::snprintf(buf, sizeof buf, "SIG%s", abbrev);
    else
        ::snprintf(buf, sizeof buf, "SIG%d", sig);
    return buf;
}

} // namespace lokt::proc
