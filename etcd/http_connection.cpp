#include "lokt/etcd/http_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>

namespace lokt::etcd {
namespace {

using Io = HttpConnection::Io;
using Outcome = HttpConnection::Outcome;

Outcome failure(const Error& e) { return Outcome{Io::failed, e.message, e.sys_errno}; }

std::string ms_text(Nanos d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

/// The host as the resolver takes it: "[::1]" is "::1".
std::string bare_host(const std::string& host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
    return host;
}

} // namespace

Outcome HttpConnection::wait(short events, Deadline deadline, Cancel* cancel) const {
    struct pollfd fds[2] = {{fd_.get(), events, 0}, {cancel ? cancel->wake_fd() : -1, POLLIN, 0}};
    while (true) {
        if (cancel && cancel->cancelled()) return Outcome{Io::cancelled, "cancelled"};
        if (deadline.passed()) return Outcome{Io::timed_out, "timed out"};
        auto timeout = deadline.poll_timeout();
        // A Cancel without an eventfd is looked at every 50 ms instead (poll skips fd -1).
        if (cancel && cancel->wake_fd() < 0 && (!timeout || *timeout > std::chrono::milliseconds(50)))
            timeout = std::chrono::milliseconds(50);
        auto n = sys::poll(fds, 2, timeout);
        if (!n) return failure(n.error());
        // POLLERR and POLLHUP count as ready: the call that follows reports them.
        if (fds[0].revents) return {};
    }
}

Outcome HttpConnection::open(const Endpoint& e, Nanos connect_timeout, Deadline deadline, Cancel* cancel,
                             HttpConnection& out) {
    auto addrs = sys::resolve_tcp(bare_host(e.host), e.port);
    if (!addrs) return failure(addrs.error());
    const auto started = Steady::now();
    const Deadline by = Deadline::earliest(deadline, Deadline::after(connect_timeout, started));
    Outcome last{Io::failed, "no address for " + e.host};
    for (const sys::SockAddr& a : *addrs) {
        HttpConnection c;
        auto fd = sys::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK);
        if (!fd) return failure(fd.error());
        c.fd_ = std::move(*fd);
        c.owner_ = ::getpid();
        // Requests are one write each and replies are awaited: Nagle would only add delay.
        if (auto r = sys::setsockopt_int(c.fd_.get(), IPPROTO_TCP, TCP_NODELAY, 1); !r) return failure(r.error());
        auto now = sys::connect(c.fd_.get(), a.get(), a.len);
        if (!now) {
            last = failure(now.error());  // refused at once (or unroutable): the next address
            continue;
        }
        if (!*now) {
            Outcome w = c.wait(POLLOUT, by, cancel);
            if (w.io == Io::timed_out) w.error = "connection timed out after " + ms_text(Steady::now() - started);
            if (w.io != Io::ok) return w;
            auto err = sys::socket_error(c.fd_.get());
            if (!err) return failure(err.error());
            if (*err != 0) {
                last = failure(Error::from_errno("connect", *err));
                continue;
            }
        }
        out = std::move(c);
        return {};
    }
    return last;
}

Outcome HttpConnection::send_all(std::string_view data, Deadline deadline, Cancel* cancel) {
    while (!data.empty()) {
        auto n = sys::send_some(fd_.get(), data);
        if (n) {
            data.remove_prefix(*n);
            continue;
        }
        if (n.error().sys_errno != EAGAIN) return failure(n.error());
        if (Outcome w = wait(POLLOUT, deadline, cancel); w.io != Io::ok) return w;
    }
    return {};
}

Outcome HttpConnection::receive(char* buf, size_t len, Deadline deadline, Cancel* cancel, size_t& n) {
    n = 0;
    while (true) {
        if (Outcome w = wait(POLLIN, deadline, cancel); w.io != Io::ok) return w;
        auto got = sys::read_some(fd_.get(), buf, len);
        if (!got) {
            if (got.error().sys_errno == EAGAIN) continue;  // woken without data (spurious)
            return failure(got.error());
        }
        if (*got == 0) return Outcome{Io::closed, "connection closed"};
        n = *got;
        return {};
    }
}

bool HttpConnection::idle_alive() const {
    struct pollfd p{fd_.get(), POLLIN, 0};
    auto n = sys::poll(&p, 1, Nanos(0));
    return n && *n == 0;
}

} // namespace lokt::etcd
