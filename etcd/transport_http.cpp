// The socket transport: HTTP/1.1 over plain TCP with keep-alive connections pooled across
// requests and threads. A pooled connection the server closed meanwhile is replaced and the
// request sent again, but only when nothing of its reply arrived: a request whose reply was
// partly read may have been applied, and is never sent twice.
#include "lokt/etcd/transport_http.hpp"

#include "lokt/etcd/http_connection.hpp"
#include "lokt/etcd/http_reply.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace lokt::etcd {
namespace {

using Io = HttpConnection::Io;

// Idle connections kept for reuse: one per thread that talks to etcd at once is plenty.
constexpr size_t kMaxIdle = 8;

Exchange::End end_of(Io io) {
    switch (io) {
    case Io::ok: return Exchange::End::complete;
    case Io::cancelled: return Exchange::End::cancelled;
    case Io::timed_out: return Exchange::End::timed_out;
    case Io::closed:
    case Io::failed: break;
    }
    return Exchange::End::failed;
}

/// True when an error on a reused connection means the server had closed it while idle.
bool closed_by_peer(const HttpConnection::Outcome& o) {
    return o.io == Io::closed || o.sys_errno == ECONNRESET || o.sys_errno == EPIPE;
}

/// How one attempt on one connection ended.
struct Attempt {
    Exchange x;
    bool stale = false;  // the connection was found closed before any byte of the reply
};

class HttpTransport final : public Transport {
public:
    using Transport::Transport;

protected:
    Exchange exchange(size_t ep, const HttpRequest& req, Deadline deadline, Cancel* cancel,
                      BodySink& sink) override;
    void exchange_pair(size_t ep, const HttpRequest& a, const HttpRequest& b, Deadline deadline, BodySink& sink_a,
                       BodySink& sink_b, Exchange& x_a, Exchange& x_b) override;

private:
    struct Idle {
        size_t ep;
        HttpConnection conn;
    };
    std::optional<HttpConnection> take_idle(size_t ep);
    void keep(size_t ep, HttpConnection conn);
    std::string request_text(size_t ep, const HttpRequest& req) const;
    Attempt attempt(HttpConnection& conn, const std::string& text, Deadline deadline, Cancel* cancel,
                    BodySink& sink, ReplyParser& reply) const;
    /// Reads the reply to a request already sent on `conn`.
    Attempt read_reply(HttpConnection& conn, Deadline deadline, Cancel* cancel, BodySink& sink,
                       ReplyParser& reply) const;
    /// A pooled connection to `ep`, or a new one; `reused` says which.
    std::optional<HttpConnection> connection(size_t ep, Deadline deadline, Cancel* cancel, bool pooled_ok,
                                             bool& reused, Exchange& failed);

    std::mutex mu_;
    std::vector<Idle> idle_;
};

std::optional<HttpConnection> HttpTransport::take_idle(size_t ep) {
    std::lock_guard lock(mu_);
    const pid_t self = ::getpid();
    while (true) {
        auto it = std::find_if(idle_.rbegin(), idle_.rend(), [&](const Idle& i) { return i.ep == ep; });
        if (it == idle_.rend()) return std::nullopt;
        HttpConnection c = std::move(it->conn);
        idle_.erase(std::next(it).base());
        // Checked before sending: most closed connections are noticed here, not by a retry.
        if (c.owner() == self && c.idle_alive()) return c;
    }
}

void HttpTransport::keep(size_t ep, HttpConnection conn) {
    std::lock_guard lock(mu_);
    if (idle_.size() >= kMaxIdle) idle_.erase(idle_.begin());  // the least recently used
    idle_.push_back(Idle{ep, std::move(conn)});
}

std::string HttpTransport::request_text(size_t ep, const HttpRequest& req) const {
    std::string t;
    t.reserve(160 + req.path.size() + req.token.size() + req.body.size());
    t += "POST " + req.path + " HTTP/1.1\r\nHost: " + where(ep) + "\r\n";
    t += "Content-Type: application/json\r\nContent-Length: " + std::to_string(req.body.size()) + "\r\n";
    if (!req.token.empty()) t += "Authorization: " + req.token + "\r\n";
    t += "\r\n";
    t += req.body;  // head and body in one send: one segment for a small request
    return t;
}

Attempt HttpTransport::attempt(HttpConnection& conn, const std::string& text, Deadline deadline, Cancel* cancel,
                               BodySink& sink, ReplyParser& reply) const {
    if (auto s = conn.send_all(text, deadline, cancel); s.io != Io::ok)
        return Attempt{Exchange{end_of(s.io), 0, std::nullopt, s.error}, closed_by_peer(s)};
    return read_reply(conn, deadline, cancel, sink, reply);
}

Attempt HttpTransport::read_reply(HttpConnection& conn, Deadline deadline, Cancel* cancel, BodySink& sink,
                                  ReplyParser& reply) const {
    const auto fail = [&](Exchange::End end, std::string error, bool stale = false) {
        return Attempt{Exchange{end, reply.status(), reply.date(), std::move(error)}, stale};
    };
    char buf[16 << 10];
    while (!reply.done()) {
        size_t n = 0;
        auto r = conn.receive(buf, sizeof buf, deadline, cancel, n);
        if (r.io == Io::closed) {
            if (auto f = reply.finish(); !f) return fail(Exchange::End::failed, f.error().message, !reply.started());
            break;
        }
        if (r.io != Io::ok) return fail(end_of(r.io), r.error, !reply.started() && closed_by_peer(r));
        auto fed = reply.feed(std::string_view(buf, n), [&](std::string_view piece) { return sink.append(piece); });
        if (!fed) return fail(Exchange::End::failed, fed.error().message);
        if (!*fed) return fail(Exchange::End::stopped, "stopped");
    }
    return Attempt{Exchange{Exchange::End::complete, reply.status(), reply.date(), {}}, false};
}

std::optional<HttpConnection> HttpTransport::connection(size_t ep, Deadline deadline, Cancel* cancel, bool pooled_ok,
                                                        bool& reused, Exchange& failed) {
    std::optional<HttpConnection> conn = pooled_ok ? take_idle(ep) : std::nullopt;
    reused = conn.has_value();
    if (reused) return conn;
    conn.emplace();
    auto o = HttpConnection::open(options().url.endpoints.at(ep), options().connect_timeout, deadline, cancel, *conn);
    if (o.io == Io::ok) return conn;
    failed = Exchange{end_of(o.io), 0, std::nullopt, o.error};
    return std::nullopt;
}

/// The exchange's end, with a timeout worded for messages.
Exchange ended(Attempt a, Steady::time_point started) {
    if (a.x.end == Exchange::End::timed_out)
        a.x.error = "timed out after " +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - started).count()) +
                    " ms";
    return a.x;
}

Exchange HttpTransport::exchange(size_t ep, const HttpRequest& req, Deadline deadline, Cancel* cancel,
                                 BodySink& sink) {
    const std::string text = request_text(ep, req);
    const auto started = Steady::now();
    for (bool first = true;; first = false) {
        // The retry (first == false) always takes a fresh connection.
        bool reused = false;
        Exchange failed;
        auto conn = connection(ep, deadline, cancel, first, reused, failed);
        if (!conn) return failed;
        ReplyParser reply;
        Attempt a = attempt(*conn, text, deadline, cancel, sink, reply);
        if (a.stale && reused) continue;
        // Only a reply read to its end leaves the connection ready for the next request.
        if (a.x.end == Exchange::End::complete && reply.reusable()) keep(ep, std::move(*conn));
        return ended(std::move(a), started);
    }
}

void HttpTransport::exchange_pair(size_t ep, const HttpRequest& a, const HttpRequest& b, Deadline deadline,
                                  BodySink& sink_a, BodySink& sink_b, Exchange& x_a, Exchange& x_b) {
    struct Leg {
        const HttpRequest& req;
        BodySink& sink;
        Exchange& x;
        std::optional<HttpConnection> conn;
        bool reused = false;
        bool again = false;  // a pooled connection found closed before any reply: exchange() anew
    };
    Leg legs[2] = {{a, sink_a, x_a, {}, false, false}, {b, sink_b, x_b, {}, false, false}};
    const auto started = Steady::now();
    // Both requests go out before either reply is read, each on its own connection.
    for (Leg& l : legs) {
        l.conn = connection(ep, deadline, nullptr, true, l.reused, l.x);
        if (!l.conn) continue;
        if (auto s = l.conn->send_all(request_text(ep, l.req), deadline, nullptr); s.io != Io::ok) {
            l.again = l.reused && closed_by_peer(s);
            l.x = Exchange{end_of(s.io), 0, std::nullopt, s.error};
            l.conn.reset();
        }
    }
    for (Leg& l : legs) {
        if (l.conn) {
            ReplyParser reply;
            Attempt got = read_reply(*l.conn, deadline, nullptr, l.sink, reply);
            l.again = got.stale && l.reused;
            if (got.x.end == Exchange::End::complete && reply.reusable()) keep(ep, std::move(*l.conn));
            l.x = ended(std::move(got), started);
        }
        // Nothing of its reply was read, so the request may go again, by the single path.
        if (l.again) l.x = exchange(ep, l.req, deadline, nullptr, l.sink);
    }
}

} // namespace

Result<std::unique_ptr<Transport>> http_transport(ClientOptions options) {
    if (options.url.tls)
        return Error{"lock backend " + options.url.display() +
                     " unavailable: this module has no TLS (https:// needs liblokt_backend_etcd_tls.so)"};
    return std::unique_ptr<Transport>(new HttpTransport(std::move(options)));
}

} // namespace lokt::etcd
