#pragma once
// A tiny HTTP/1.1 server on loopback for the socket transport's tests: a thread accepts, and
// each connection runs the test's handler in a thread of its own, so a test scripts exactly
// what the client sees (split replies, closed connections, silence). Every request read is
// recorded. The destructor stops the handlers (their waits end) and joins everything.

#include "lokt/sys.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace lokt::etcd::test {

/// A request as the server read it.
struct SeenRequest {
    std::string head;   ///< request line and headers, CRLFs included
    std::string body;
    size_t connection;  ///< which accepted connection it came on (0, 1, …)
};

class HttpTestServer;

/// One accepted connection, as a handler sees it.
class ServerConn {
public:
    /// The next request; nullopt when the client closed the connection or the server stops.
    std::optional<SeenRequest> read_request();
    /// Sends `data` (all of it; a peer that went away is ignored).
    void send(std::string_view data);
    /// Sends a complete 200 reply with Content-Length and `body`, plus `headers` (CRLF-ended lines).
    void reply(std::string_view body, std::string_view headers = "");
    /// Closes the connection now.
    void close() { fd_.reset(); }
    /// Returns once the server stops (a handler that never answers).
    void wait_stop();
    size_t index() const { return index_; }

private:
    friend class HttpTestServer;
    ServerConn(HttpTestServer& server, sys::UniqueFd fd, size_t index)
        : server_(server), fd_(std::move(fd)), index_(index) {}
    /// Waits for the connection to be readable; false when the server stops.
    bool wait_readable();

    HttpTestServer& server_;
    sys::UniqueFd fd_;
    size_t index_;
    std::string buffered_;
};

class HttpTestServer {
public:
    using Handler = std::function<void(ServerConn&)>;
    /// Listens on `address` ("127.0.0.1" or "::1"), port chosen by the kernel.
    explicit HttpTestServer(Handler handler, const std::string& address = "127.0.0.1");
    ~HttpTestServer();
    HttpTestServer(const HttpTestServer&) = delete;
    HttpTestServer& operator=(const HttpTestServer&) = delete;

    uint16_t port() const { return port_; }
    /// "etcd://127.0.0.1:PORT" (or etcd://[::1]:PORT).
    std::string url() const;
    /// Connections accepted so far.
    size_t connections() const;
    /// Requests read so far, in order of arrival.
    std::vector<SeenRequest> requests() const;
    /// Waits until `n` requests have arrived (10 s backstop); false if they did not.
    bool wait_requests(size_t n) const;

    /// A handler that answers every request on its connection with `body`.
    static Handler always(std::string body);

private:
    friend class ServerConn;
    void accept_loop();
    void record(const SeenRequest& r);

    Handler handler_;
    std::string address_;
    sys::UniqueFd listen_;
    sys::UniqueFd stop_;  // an eventfd made readable by the destructor
    uint16_t port_ = 0;
    mutable std::mutex mu_;
    mutable std::condition_variable changed_;
    size_t accepted_ = 0;
    std::vector<SeenRequest> seen_;
    std::vector<std::thread> handlers_;
    std::thread acceptor_;
};

/// `body` as a chunked reply's body: one chunk per piece.
std::string chunked(const std::vector<std::string>& pieces);

} // namespace lokt::etcd::test
