#include "anchor.hpp"

#include <unistd.h>

#include <cerrno>

namespace lokt::seccomp {

Result<Anchor> Anchor::start() {
    auto p = sys::pipe();
    if (!p) return p.error();
    const pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno("fork", errno);
    if (pid == 0) {
        // The copy only makes async-signal-safe calls, then _exit()s (a forked child never
        // returns through the parent's stack). Its own group, so that nothing else ever
        // keeps that group alive; no stdio, so that it never keeps a caller's pipe open.
        p->write.reset();
        ::setpgid(0, 0);
        for (int fd = 0; fd < 3; ++fd) ::close(fd);
        char c;
        for (;;) {
            ssize_t n = ::read(p->read.get(), &c, 1);
            if (n == 0 || (n < 0 && errno != EINTR)) ::_exit(0);
        }
    }
    // Set from both sides, so that the group exists before the first lock records it.
    ::setpgid(pid, pid);
    return Anchor(pid, std::move(p->write));
}

} // namespace lokt::seccomp
