#pragma once
// HTTP to the etcd JSON gateway: POSTs with per-request timeouts, streamed replies, failover
// across the cluster's endpoints, the auth token header, and cancellation from another
// thread that never blocks the canceller. Transport holds all of that; a subclass only moves
// one request and its reply: transport_http.hpp over a plain TCP socket (etcd://), and
// transport_curl.hpp over libcurl (https://, in the TLS module only).

#include "lokt/etcd/url.hpp"
#include "lokt/result.hpp"
#include "lokt/sys.hpp"
#include "lokt/time.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lokt::etcd {

/// TLS files (PEM paths); empty members are not used.
struct TlsFiles {
    std::string ca_cert;      ///< LOKT_ETCD_CACERT
    std::string client_cert;  ///< LOKT_ETCD_CERT
    std::string client_key;   ///< LOKT_ETCD_KEY
};

/// Everything a client needs to reach a cluster.
struct ClientOptions {
    BackendUrl url;
    TlsFiles tls;
    std::string user;      ///< etcd auth user; empty: no auth
    std::string password;
    Nanos request_timeout = std::chrono::seconds(5);
    Nanos connect_timeout = std::chrono::seconds(1);
};

/// Options for `url` with TLS files from LOKT_ETCD_CACERT/_CERT/_KEY and auth from
/// LOKT_ETCD_USER/LOKT_ETCD_PASSWORD.
ClientOptions options_from_env(BackendUrl url);

/// Stops a request or stream running in another thread. cancel() sets a flag and makes an
/// eventfd readable that the transfer polls beside its socket, so it never waits for the
/// network. Once cancelled, it stays cancelled.
class Cancel {
public:
    Cancel();
    void cancel();
    bool cancelled() const { return flag_.load(); }
    /// The fd that becomes readable on cancel(), or -1 when none could be made (then
    /// transfers look at cancelled() at least every 50 ms).
    int wake_fd() const { return wake_.get(); }

private:
    std::atomic<bool> flag_{false};
    sys::UniqueFd wake_;
};

/// What one endpoint answered to a probe (`lokt doctor`).
struct Probe {
    nlohmann::json reply;                   ///< the decoded answer
    Nanos round_trip{0};                    ///< request sent to answer read, monotonic
    std::optional<Nanos> clock_skew;        ///< the server's HTTP Date minus our wall clock at
                                            ///< the round trip's midpoint (1 s resolution)
};

/// Collects a reply's body: whole, or (streaming) as newline-delimited JSON messages handed
/// to a consumer as each line completes.
class BodySink {
public:
    /// Collects the whole body.
    BodySink() = default;
    /// Hands each message to `on_message` until it returns false.
    explicit BodySink(const std::function<bool(const nlohmann::json&)>& on_message) : on_message_(&on_message) {}
    /// Takes the next bytes of the body; false once reading should stop (the consumer has
    /// what it waited for, or a line was not JSON).
    bool append(std::string_view data);
    /// The body so far (streaming: the part after the last complete line).
    const std::string& body() const { return body_; }
    /// True when the consumer asked to stop.
    bool stopped() const { return stopped_; }
    /// A streamed line that is not JSON (its first 200 bytes), or "".
    const std::string& bad_message() const { return bad_message_; }

private:
    const std::function<bool(const nlohmann::json&)>* on_message_ = nullptr;
    std::string body_;
    bool stopped_ = false;
    std::string bad_message_;
};

/// One POST as a transport sends it.
struct HttpRequest {
    std::string path;   ///< "/v3/kv/range"
    std::string body;   ///< JSON text
    std::string token;  ///< Authorization header value; empty: none
};

/// How one request/reply exchange with one endpoint ended.
struct Exchange {
    enum class End { complete, stopped, cancelled, timed_out, failed };
    End end = End::failed;
    int status = 0;                     ///< HTTP status (0 if none was read)
    std::optional<TimePoint> date;      ///< the reply's Date header
    std::string error;                  ///< timed_out/failed: what happened, for messages
};

/// Connection pool and request engine for one cluster. Thread-safe: the supervisor's keeper
/// thread, watch threads and the main loop share one.
class Transport {
public:
    explicit Transport(ClientOptions options) : options_(std::move(options)) {}
    virtual ~Transport() = default;
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    /// POSTs `body` to `path` and returns the decoded JSON reply. Fails over to the next
    /// endpoint when one cannot be reached; when none can, the Error reads
    /// `lock backend etcd://HOST:PORT unreachable: …`.
    Result<nlohmann::json> post(const std::string& path, const nlohmann::json& body,
                                Nanos timeout, Cancel* cancel = nullptr);
    /// POSTs `body` and hands each newline-delimited JSON message of the streamed reply to
    /// `on_message` until it returns false (then Ok), the deadline passes or `cancel` fires
    /// (then Ok with no more calls), or the stream breaks (an Error). One endpoint, no failover.
    Result<void> stream(const std::string& path, const nlohmann::json& body, Deadline deadline,
                        Cancel* cancel, const std::function<bool(const nlohmann::json&)>& on_message);
    /// POSTs two requests to the current endpoint at once (each on a connection of its own,
    /// where the transport can: then etcd serves them side by side) and returns each decoded
    /// reply. No failover and no second attempt: an Error for a request that did not come back
    /// whole with HTTP 200, which the caller may send again if that is safe.
    std::pair<Result<nlohmann::json>, Result<nlohmann::json>> post_pair(
        const std::string& path_a, const nlohmann::json& body_a, const std::string& path_b,
        const nlohmann::json& body_b, Nanos timeout);
    /// POSTs `body` to `path` on endpoint `ep` only (no failover), timing the round trip.
    Result<Probe> probe(size_t ep, const std::string& path, const nlohmann::json& body);
    /// Makes the next requests use the next endpoint (after a stream broke).
    void fail_over();
    /// Sets the Authorization token sent with every request.
    void set_token(std::string token);
    const ClientOptions& options() const { return options_; }
    /// The unreachable error for `detail`.
    Error unreachable(const std::string& detail) const;

protected:
    /// Sends `request` to endpoint `ep` and feeds the reply's body to `sink`, all by
    /// `deadline`; `cancel` (may be null) ends it early. Never fails over.
    virtual Exchange exchange(size_t ep, const HttpRequest& request, Deadline deadline, Cancel* cancel,
                              BodySink& sink) = 0;
    /// exchange() of `a` and of `b`; a transport that can send both before reading either
    /// overrides it. This one sends them one after the other.
    virtual void exchange_pair(size_t ep, const HttpRequest& a, const HttpRequest& b, Deadline deadline,
                               BodySink& sink_a, BodySink& sink_b, Exchange& x_a, Exchange& x_b);
    /// "HOST:PORT" of endpoint `ep`, as errors name it.
    std::string where(size_t ep) const;

private:
    HttpRequest request(const std::string& path, const nlohmann::json& body) const;

    ClientOptions options_;
    std::atomic<size_t> current_{0};
    mutable std::mutex mu_;
    std::string token_;
};

/// Makes the transport for a client (transport_http.hpp's or transport_curl.hpp's).
using TransportFactory = Result<std::unique_ptr<Transport>> (*)(ClientOptions options);

} // namespace lokt::etcd
