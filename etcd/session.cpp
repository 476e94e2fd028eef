#include "lokt/etcd/session.hpp"

#include <algorithm>

namespace lokt::etcd {

Result<std::unique_ptr<Session>> Session::open(Client& client, int64_t ttl_sec) {
    // Taken before the request: etcd starts the TTL when it receives it, never earlier.
    auto sent = Steady::now();
    auto grant = client.lease_grant(ttl_sec);
    if (!grant) return grant.error();
    return adopt(client, GrantAhead{*grant, ttl_sec, sent});
}

Result<std::unique_ptr<Session>> Session::adopt(Client& client, const GrantAhead& ahead) {
    auto lost = sys::pipe();
    if (!lost) return lost.error();
    auto stop = sys::pipe();
    if (!stop) return stop.error();
    return std::unique_ptr<Session>(new Session(client, ahead.grant.id, ahead.grant.ttl, ahead.sent,
                                                std::move(*lost), std::move(*stop)));
}

Session::Session(Client& client, int64_t lease, int64_t ttl_sec, Steady::time_point granted, sys::Pipe lost_pipe,
                 sys::Pipe stop_pipe)
    : client_(client), lease_(lease), ttl_sec_(ttl_sec), last_ok_(granted), lost_pipe_(std::move(lost_pipe)),
      stop_pipe_(std::move(stop_pipe)) {
    thread_ = std::thread([this] { run(); });
}

Session::~Session() { stop(); }

bool Session::lost() const {
    std::lock_guard lock(mu_);
    return lost_;
}

std::string Session::lost_reason() const {
    std::lock_guard lock(mu_);
    return lost_reason_;
}

void Session::cancel_on_loss(Cancel* c) {
    std::lock_guard lock(mu_);
    if (lost_) c->cancel();
    else waiters_.push_back(c);
}

void Session::forget(Cancel* c) {
    std::lock_guard lock(mu_);
    waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), c), waiters_.end());
}

void Session::mark_lost(std::string reason) {
    std::lock_guard lock(mu_);
    if (lost_) return;
    lost_ = true;
    lost_reason_ = std::move(reason);
    for (Cancel* c : waiters_) c->cancel();
    waiters_.clear();
    (void)sys::write_all(lost_pipe_.write.get(), "x");
}

void Session::stop() {
    if (!thread_.joinable()) return;
    (void)sys::write_all(stop_pipe_.write.get(), "x");
    inflight_.cancel();
    thread_.join();
}

Result<void> Session::revoke() {
    stop();
    return client_.lease_revoke(lease_);
}

void Session::run() {
    const Nanos ttl = std::chrono::seconds(ttl_sec_);
    // The Go client renews at TTL/3; a failed attempt is retried sooner, still inside the TTL.
    const Nanos period = std::max<Nanos>(ttl / 3, std::chrono::milliseconds(100));
    Nanos wait = period;
    while (true) {
        auto stopped = sys::wait_readable(stop_pipe_.read.get(), Deadline::after(wait).poll_ms());
        if (!stopped || *stopped) return;
        auto now = Steady::now();
        // After a pause (SIGSTOP, a suspended VM) the TTL may have run out without us:
        // etcd has expired the lease and another holder may already have the lock.
        if (now - last_ok_ >= ttl) {
            mark_lost("no keepalive answer within the lease TTL (" + std::to_string(ttl_sec_) + "s)");
            return;
        }
        Nanos left = ttl - (now - last_ok_);
        auto r = client_.lease_keepalive(lease_, std::min(left, client_.options().request_timeout), &inflight_);
        if (inflight_.cancelled()) return;
        if (!r) {
            wait = std::min(period, std::max<Nanos>(left / 4, std::chrono::milliseconds(50)));
            continue;
        }
        if (r->ttl <= 0) {
            mark_lost("the lease expired (keepalive answered TTL 0)");
            return;
        }
        last_ok_ = now;
        wait = period;
    }
}

} // namespace lokt::etcd
