#pragma once
// One non-blocking TCP connection to an etcd member, for the socket transport
// (transport_http.cpp): every wait polls the socket beside the Cancel's eventfd, by a deadline.

#include "lokt/etcd/transport.hpp"
#include "lokt/sys.hpp"

#include <string>
#include <string_view>
#include <sys/types.h>

namespace lokt::etcd {

class HttpConnection {
public:
    /// How an operation ended.
    enum class Io { ok, closed, cancelled, timed_out, failed };
    /// The end of an operation; `error` (and `sys_errno`, when an OS call failed) say why.
    struct Outcome {
        Io io = Io::ok;
        std::string error;
        int sys_errno = 0;
    };

    /// Connects to `e` (each address its host resolves to, in turn) within `connect_timeout`
    /// and by `deadline`, with TCP_NODELAY; `out` is the connection when Io::ok.
    static Outcome open(const Endpoint& e, Nanos connect_timeout, Deadline deadline, Cancel* cancel,
                        HttpConnection& out);

    /// Sends all of `data` by `deadline`.
    Outcome send_all(std::string_view data, Deadline deadline, Cancel* cancel);
    /// Reads what has arrived into `buf` (waiting for something by `deadline`); `n` is its
    /// length. Io::closed at the end of the stream.
    Outcome receive(char* buf, size_t len, Deadline deadline, Cancel* cancel, size_t& n);
    /// True if an idle connection still looks usable: nothing to read and no hang-up (a
    /// server that closed it, or a reply nobody asked for, shows as readable).
    bool idle_alive() const;
    /// The process that opened it: a connection inherited through fork() is not reused, since
    /// the other copy may have a request in flight on it.
    pid_t owner() const { return owner_; }

private:
    /// Waits until the socket has `events` (or an error), the deadline passes or `cancel` fires.
    Outcome wait(short events, Deadline deadline, Cancel* cancel) const;

    sys::UniqueFd fd_;
    pid_t owner_ = 0;
};

} // namespace lokt::etcd
