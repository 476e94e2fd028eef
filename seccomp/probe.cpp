// Whether `lokt shim --seccomp` can work here: a throw-away child installs the real exec
// filter exactly as launch() does and reports how it went. Asking the kernel in any other way
// (its version, SECCOMP_GET_NOTIF_SIZES) misses containers whose seccomp policy forbids
// nested filters or listeners.

#include "filter.hpp"

#include "lokt/seccomp_shim.hpp"
#include "lokt/sys.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lokt {

Result<SeccompSupport> probe_seccomp() {
    auto filter = seccomp::build_exec_filter();
    if (!filter) return filter.error();
    // fork() without exec, as the seccomp shim's background copy does (coding guidelines).
    auto threads = sys::thread_count();
    if (!threads) return threads.error();
    if (*threads != 1) return Error{"cannot probe seccomp from a multi-threaded process", EDEADLK};
    auto p = sys::pipe();
    if (!p) return p.error();
    sock_fprog prog = filter->fprog();
    const pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno("fork", errno);
    if (pid == 0) {
        // Async-signal-safe only: the filter makes this child's execs wait for a listener
        // nobody reads, so it never execs; it reports and exits.
        seccomp::InstallReport report{};
        int fd = seccomp::install_filter(&prog, true, true, &report);
        if (fd >= 0) ::close(fd);
        ssize_t ignored = ::write(p->write.get(), &report, sizeof report);
        (void)ignored;
        ::_exit(0);
    }
    p->write.reset();
    seccomp::InstallReport report{};
    auto n = sys::read_all(p->read.get(), sizeof report);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (!n) return n.error();
    if (n->size() != sizeof report) return Error{"the seccomp probe died before reporting", ECHILD};
    std::memcpy(&report, n->data(), sizeof report);
    SeccompSupport out;
    out.err = report.err;
    out.wait_killable = report.wait_killable;
    out.pidfd = static_cast<bool>(sys::pidfd_open(::getpid()));
    return out;
}

} // namespace lokt
