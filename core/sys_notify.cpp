// The waiting primitives of the syscall layer (sys.hpp): pidfds, inotify watch removal, ppoll.
#include "lokt/sys.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <string>

namespace lokt::sys {

void inotify_rm_watch(int fd, int wd) {
    // EINVAL: the kernel already dropped the watch (its file was deleted); nothing to undo.
    int saved = errno;
    (void)::inotify_rm_watch(fd, wd);
    errno = saved;
}

Result<UniqueFd> pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    // pidfds are always close-on-exec; glibc 2.36 has no wrapper, so use the raw syscall.
    long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return Error::from_errno("pidfd_open " + std::to_string(pid), errno);
    return UniqueFd(static_cast<int>(fd));
#else
    return Error::from_errno("pidfd_open " + std::to_string(pid), ENOSYS);
#endif
}

Result<void> pidfd_send_signal(int pidfd, int sig) {
#ifdef SYS_pidfd_send_signal
    if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0)
        return Error::from_errno("pidfd_send_signal", errno);
    return {};
#else
    return Error::from_errno("pidfd_send_signal", ENOSYS);
#endif
}

Result<UniqueFd> pidfd_getfd(int pidfd, int target_fd) {
#ifdef SYS_pidfd_getfd
    // The kernel sets close-on-exec on the new fd; glibc 2.36 has no wrapper.
    long fd = ::syscall(SYS_pidfd_getfd, pidfd, target_fd, 0);
    if (fd < 0) return Error::from_errno("pidfd_getfd " + std::to_string(target_fd), errno);
    return UniqueFd(static_cast<int>(fd));
#else
    return Error::from_errno("pidfd_getfd " + std::to_string(target_fd), ENOSYS);
#endif
}

Result<int> poll(struct pollfd* fds, size_t nfds, std::optional<std::chrono::nanoseconds> timeout) {
    struct timespec ts {};
    struct timespec* tsp = nullptr;
    if (timeout) {
        auto ns = std::max<int64_t>(0, timeout->count());
        ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        tsp = &ts;
    }
    // Not retried on EINTR with the same timeout (it would stretch the wait): callers loop
    // and recompute their deadlines anyway, so an interruption is reported as "nothing ready".
    int n = ::ppoll(fds, static_cast<nfds_t>(nfds), tsp, nullptr);
    if (n < 0) {
        if (errno == EINTR) return 0;
        return Error::from_errno("ppoll", errno);
    }
    return n;
}

} // namespace lokt::sys
