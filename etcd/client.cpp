#include "lokt/etcd/client.hpp"

namespace lokt::etcd {
namespace {

using json = nlohmann::json;

bool auth_expired(const Error& e) {
    return e.message.find("invalid auth token") != std::string::npos ||
           e.message.find("user name is empty") != std::string::npos;
}

} // namespace

Result<void> Client::connect() {
    const ClientOptions& o = transport_->options();
    if (o.user.empty()) return {};
    auto reply = transport_->post("/v3/auth/authenticate", json{{"name", o.user}, {"password", o.password}},
                                 o.request_timeout);
    if (!reply) return reply.error();
    auto token = reply->find("token");
    if (token == reply->end() || !token->is_string()) return Error{"etcd: authentication gave no token"};
    transport_->set_token(token->get<std::string>());
    return {};
}

Result<json> Client::call(const std::string& path, const json& body, Nanos timeout, Cancel* cancel) {
    auto reply = transport_->post(path, body, timeout, cancel);
    // Tokens expire (etcd's simple tokens after 5 minutes idle): authenticate again, once.
    if (!reply && !transport_->options().user.empty() && auth_expired(reply.error())) {
        LOKT_TRY(connect());
        reply = transport_->post(path, body, timeout, cancel);
    }
    return reply;
}

Result<RangeResponse> Client::range(const RangeRequest& r) {
    auto reply = call("/v3/kv/range", encode(r), options().request_timeout);
    if (!reply) return reply.error();
    return decode_range(*reply);
}

Result<RangeResponse> Client::range_beside_grant(const RangeRequest& r, int64_t ttl_sec,
                                                 std::optional<GrantAhead>& grant) {
    const auto sent = Steady::now();
    auto [range_reply, grant_reply] = transport_->post_pair("/v3/kv/range", encode(r), "/v3/lease/grant",
                                                            json{{"TTL", std::to_string(ttl_sec)}},
                                                            options().request_timeout);
    if (grant_reply)
        if (auto g = decode_lease_grant(*grant_reply)) grant = GrantAhead{*g, ttl_sec, sent};
    // Anything else (an expired auth token, a member that failed) goes the usual way, which
    // authenticates again or fails over.
    if (!range_reply) return range(r);
    auto decoded = decode_range(*range_reply);
    if (!decoded) return range(r);
    return decoded;
}

Result<PutResponse> Client::put(const PutRequest& r) {
    auto reply = call("/v3/kv/put", encode(r), options().request_timeout);
    if (!reply) return reply.error();
    auto rev = reply->contains("header") ? get_int64((*reply)["header"], "revision") : Result<int64_t>(0);
    if (!rev) return rev.error();
    return PutResponse{*rev};
}

Result<DeleteRangeResponse> Client::delete_range(const DeleteRangeRequest& r) {
    auto reply = call("/v3/kv/deleterange", encode(r), options().request_timeout);
    if (!reply) return reply.error();
    return decode_delete(*reply);
}

Result<TxnResponse> Client::txn(const TxnRequest& r) {
    auto reply = call("/v3/kv/txn", encode(r), options().request_timeout);
    if (!reply) return reply.error();
    return decode_txn(*reply);
}

Result<LeaseGrant> Client::lease_grant(int64_t ttl_sec) {
    auto reply = call("/v3/lease/grant", json{{"TTL", std::to_string(ttl_sec)}}, options().request_timeout);
    if (!reply) return reply.error();
    return decode_lease_grant(*reply);
}

Result<LeaseTtl> Client::lease_keepalive(int64_t id, Nanos timeout, Cancel* cancel) {
    auto reply = call("/v3/lease/keepalive", json{{"ID", std::to_string(id)}}, timeout, cancel);
    if (!reply) return reply.error();
    return decode_lease_ttl(*reply);
}

Result<void> Client::lease_revoke(int64_t id) {
    auto reply = call("/v3/lease/revoke", json{{"ID", std::to_string(id)}}, options().request_timeout);
    if (!reply && reply.error().message.find("lease not found") == std::string::npos) return reply.error();
    return {};
}

Result<LeaseTtl> Client::lease_timetolive(int64_t id) {
    auto reply = call("/v3/lease/timetolive", json{{"ID", std::to_string(id)}}, options().request_timeout);
    if (!reply) return reply.error();
    return decode_lease_ttl(*reply);
}

Result<void> Client::watch(const std::string& key, const std::string& range_end, int64_t start_revision,
                           Deadline deadline, Cancel* cancel,
                           const std::function<bool(const WatchMessage&)>& on_message) {
    int64_t next = start_revision;
    size_t failures = 0;
    while (true) {
        Error decode_error;
        bool failed_decode = false;
        auto r = transport_->stream("/v3/watch", encode_watch_create(key, range_end, next), deadline, cancel,
                                   [&](const json& j) {
                                       auto m = decode_watch(j);
                                       if (!m) {
                                           decode_error = m.error();
                                           failed_decode = true;
                                           return false;
                                       }
                                       if (m->canceled)
                                           return on_message(*m);
                                       failures = 0;
                                       if (!m->events.empty()) next = m->events.back().kv.mod_revision + 1;
                                       else if (m->revision && !next) next = m->revision + 1;
                                       return on_message(*m);
                                   });
        if (failed_decode) return decode_error;
        if (r) return {};
        // A broken stream (the member died): resume from the next revision on another member.
        if (++failures >= options().url.endpoints.size()) return r.error();
        transport_->fail_over();
    }
}

} // namespace lokt::etcd
