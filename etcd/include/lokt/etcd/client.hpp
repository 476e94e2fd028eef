#pragma once
// A small etcd v3 client over the JSON gateway: KV (range, put, delete, txn), leases
// (grant, keepalive, revoke, timetolive), auth, and watch streams. Thread-safe.

#include "lokt/etcd/transport.hpp"
#include "lokt/etcd/wire.hpp"

#include <functional>

namespace lokt::etcd {

/// A lease granted ahead of the Session that will keep it alive (etcd/session.hpp).
struct GrantAhead {
    LeaseGrant grant;
    int64_t requested_ttl = 0;     ///< what was asked for (etcd may have raised it)
    Steady::time_point sent;       ///< when the grant was sent: its TTL ran from no earlier
};

class Client {
public:
    /// A client that talks through `transport` (never null).
    explicit Client(std::unique_ptr<Transport> transport) : transport_(std::move(transport)) {}

    /// Authenticates when a user is configured (user/password → token); Ok otherwise.
    Result<void> connect();

    Result<RangeResponse> range(const RangeRequest& r);
    Result<PutResponse> put(const PutRequest& r);
    Result<DeleteRangeResponse> delete_range(const DeleteRangeRequest& r);
    Result<TxnResponse> txn(const TxnRequest& r);

    /// range(r) with the grant of a `ttl_sec` lease sent beside it, served side by side where
    /// the transport can; `grant` is set when the grant came back whole. A range whose reply
    /// did not come back is sent again on its own (a read may be repeated); the grant never is.
    Result<RangeResponse> range_beside_grant(const RangeRequest& r, int64_t ttl_sec, std::optional<GrantAhead>& grant);
    /// Grants a lease of `ttl_sec` seconds (etcd may raise it to its minimum TTL).
    Result<LeaseGrant> lease_grant(int64_t ttl_sec);
    /// One keepalive round trip; ttl <= 0 in the answer means the lease is gone.
    Result<LeaseTtl> lease_keepalive(int64_t id, Nanos timeout, Cancel* cancel = nullptr);
    /// Revokes a lease, deleting every key attached to it; a lease already gone is Ok.
    Result<void> lease_revoke(int64_t id);
    /// The remaining TTL of a lease (ttl -1: gone).
    Result<LeaseTtl> lease_timetolive(int64_t id);

    /// Watches [key, range_end) from `start_revision` and calls `on_message` for each message
    /// until it returns false (Ok), the deadline passes or `cancel` fires (Ok), or the watch
    /// fails. A broken stream resumes on the next endpoint after the last revision seen.
    Result<void> watch(const std::string& key, const std::string& range_end, int64_t start_revision,
                       Deadline deadline, Cancel* cancel,
                       const std::function<bool(const WatchMessage&)>& on_message);

    /// The maintenance status of endpoint `ep` alone (no failover), timed.
    Result<Probe> endpoint_status(size_t ep) { return transport_->probe(ep, "/v3/maintenance/status", nlohmann::json::object()); }

    const ClientOptions& options() const { return transport_->options(); }
    /// The error an unreachable cluster gives, for callers that detect it themselves.
    Error unreachable(const std::string& detail) const { return transport_->unreachable(detail); }

private:
    Result<nlohmann::json> call(const std::string& path, const nlohmann::json& body, Nanos timeout,
                                Cancel* cancel = nullptr);
    std::unique_ptr<Transport> transport_;
};

} // namespace lokt::etcd
