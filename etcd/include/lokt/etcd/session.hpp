#pragma once
// A lease kept alive from a background thread, with loss detection: the lease is lost when
// a keepalive answers TTL 0, or when no keepalive succeeded within the TTL on the local
// monotonic clock (a paused or partitioned holder must assume etcd expired its lease).

#include "lokt/etcd/client.hpp"
#include "lokt/sys.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lokt::etcd {

class Session {
public:
    /// Grants a lease of `ttl_sec` and keeps it alive every TTL/3 until stop() or revoke().
    static Result<std::unique_ptr<Session>> open(Client& client, int64_t ttl_sec);
    /// A session on a lease granted ahead (Client::range_beside_grant): no round trip.
    static Result<std::unique_ptr<Session>> adopt(Client& client, const GrantAhead& ahead);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    int64_t lease() const { return lease_; }
    /// The TTL etcd granted (it may raise a small one to its minimum).
    int64_t ttl_sec() const { return ttl_sec_; }
    /// True once the lease is known or presumed lost.
    bool lost() const;
    /// Why it was lost ("" while it is not).
    std::string lost_reason() const;
    /// An fd that becomes readable once the lease is lost, for poll loops.
    int lost_fd() const { return lost_pipe_.read.get(); }
    /// Cancels `c` when the lease is lost (at once if it already is), so a wait ends.
    void cancel_on_loss(Cancel* c);
    /// Forgets a Cancel registered with cancel_on_loss.
    void forget(Cancel* c);
    /// Marks the session lost with `reason` (ending every wait on it), e.g. when the user
    /// cancels a wait; the caller then revokes the lease.
    void abandon(std::string reason) { mark_lost(std::move(reason)); }
    /// Stops the keepalives without revoking (the lease then expires after its TTL).
    void stop();
    /// Stops the keepalives and revokes the lease, deleting every key attached to it.
    Result<void> revoke();

private:
    Session(Client& client, int64_t lease, int64_t ttl_sec, Steady::time_point granted, sys::Pipe lost_pipe,
            sys::Pipe stop_pipe);
    void run();
    void mark_lost(std::string reason);

    Client& client_;
    const int64_t lease_;
    const int64_t ttl_sec_;
    Steady::time_point last_ok_;  // when the last successful keepalive (or the grant) was sent
    sys::Pipe lost_pipe_;
    sys::Pipe stop_pipe_;
    Cancel inflight_;
    mutable std::mutex mu_;
    std::string lost_reason_;
    bool lost_ = false;
    std::vector<Cancel*> waiters_;
    std::thread thread_;
};

} // namespace lokt::etcd
