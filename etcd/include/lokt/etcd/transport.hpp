#pragma once
// HTTP to the etcd JSON gateway over libcurl: POSTs with per-request timeouts, streamed
// replies, failover across the cluster's endpoints, TLS client certificates, the auth token
// header, and cancellation from another thread that never blocks the canceller.

#include "lokt/etcd/url.hpp"
#include "lokt/result.hpp"
#include "lokt/time.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
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

/// Stops a request or stream running in another thread; cancel() only sets a flag and wakes
/// the transfer's poll, so it never waits for the network.
class Cancel {
public:
    void cancel();
    bool cancelled() const { return flag_.load(); }

private:
    friend class Transport;
    void attach(void* multi);
    void detach();
    std::atomic<bool> flag_{false};
    std::mutex mu_;
    void* multi_ = nullptr;
};

/// What one endpoint answered to a probe (`lokt doctor`).
struct Probe {
    nlohmann::json reply;                   ///< the decoded answer
    Nanos round_trip{0};                    ///< request sent to answer read, monotonic
    std::optional<Nanos> clock_skew;        ///< the server's HTTP Date minus our wall clock at
                                            ///< the round trip's midpoint (1 s resolution)
};

/// Connection pool and request engine for one cluster. Thread-safe.
class Transport {
public:
    explicit Transport(ClientOptions options);
    ~Transport();
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
    /// POSTs `body` to `path` on endpoint `ep` only (no failover), timing the round trip.
    Result<Probe> probe(size_t ep, const std::string& path, const nlohmann::json& body);
    /// Makes the next requests use the next endpoint (after a stream broke).
    void fail_over();
    /// Sets the Authorization token sent with every request.
    void set_token(std::string token);
    const ClientOptions& options() const { return options_; }
    /// The unreachable error for `detail`.
    Error unreachable(const std::string& detail) const;

private:
    struct Slot;
    std::unique_ptr<Slot> take_slot();
    void give_back(std::unique_ptr<Slot> slot);
    std::string token() const;

    ClientOptions options_;
    std::atomic<size_t> current_{0};
    mutable std::mutex mu_;
    std::string token_;
    std::vector<std::unique_ptr<Slot>> idle_;
};

} // namespace lokt::etcd
