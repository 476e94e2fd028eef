#include "terminal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

namespace lokt::sup {
namespace {

// tcsetpgrp from a background group raises SIGTTOU unless it is blocked (tcsetpgrp(3)).
void set_foreground(int fd, pid_t pgid) {
    sigset_t ttou, old;
    ::sigemptyset(&ttou);
    ::sigaddset(&ttou, SIGTTOU);
    ::pthread_sigmask(SIG_BLOCK, &ttou, &old);
    ::tcsetpgrp(fd, pgid);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

} // namespace

Terminal Terminal::detect() {
    Terminal t;
    auto fd = sys::open("/dev/tty", O_RDWR | O_NOCTTY);
    if (!fd) return t;
    t.fd_ = std::move(*fd);
    t.active_ = ::tcgetpgrp(t.fd_.get()) == ::getpgrp();
    return t;
}

void Terminal::give_to(pid_t pgid) const {
    if (active_ && pgid > 0) set_foreground(fd_.get(), pgid);
}

void Terminal::take_back() const {
    if (active_) set_foreground(fd_.get(), ::getpgrp());
}

bool Terminal::we_are_foreground() const {
    return active_ && ::tcgetpgrp(fd_.get()) == ::getpgrp();
}

} // namespace lokt::sup
