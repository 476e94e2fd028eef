#pragma once
// etcd v3 messages as its JSON gateway speaks them: keys and values base64, int64 as JSON
// strings, zero/false fields omitted. Encoders build request bodies; decoders read
// responses and treat a missing field as its zero value, as the gateway means it.

#include "lokt/result.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace lokt::etcd {

/// One key with its revisions (mvccpb.KeyValue).
struct KeyValue {
    std::string key;
    std::string value;
    int64_t create_revision = 0;
    int64_t mod_revision = 0;
    int64_t version = 0;
    int64_t lease = 0;
};

enum class SortOrder { none, ascend, descend };
enum class SortTarget { key, version, create, mod, value };

/// A read of one key or of [key, range_end).
struct RangeRequest {
    std::string key;
    std::string range_end;  ///< empty: the single key `key`
    int64_t limit = 0;
    int64_t revision = 0;   ///< 0: the newest
    SortOrder sort_order = SortOrder::none;
    SortTarget sort_target = SortTarget::key;
    bool count_only = false;
    int64_t max_create_revision = 0;  ///< 0: no bound
};

struct PutRequest {
    std::string key;
    std::string value;
    int64_t lease = 0;
};

struct DeleteRangeRequest {
    std::string key;
    std::string range_end;
    bool prev_kv = false;
};

enum class CompareResult { equal, greater, less, not_equal };
enum class CompareTarget { version, create, mod, value, lease };

/// One condition of a transaction; `number` for version/create/mod/lease, `text` for value.
struct Compare {
    Compare() = default;
    // A constructor rather than aggregate initialisation, so range_end may be left out.
    Compare(CompareResult r, CompareTarget t, std::string k, int64_t n, std::string v, std::string end = {})
        : result(r), target(t), key(std::move(k)), number(n), text(std::move(v)), range_end(std::move(end)) {}

    CompareResult result = CompareResult::equal;
    CompareTarget target = CompareTarget::version;
    std::string key;
    int64_t number = 0;
    std::string text;
    /// Non-empty: the compare holds for every key in [key, range_end), and for a range with
    /// no key when the zero value satisfies it (etcd 3.3+).
    std::string range_end;
};

using RequestOp = std::variant<RangeRequest, PutRequest, DeleteRangeRequest>;

struct TxnRequest {
    std::vector<Compare> compare;
    std::vector<RequestOp> success;
    std::vector<RequestOp> failure;
};

struct RangeResponse {
    int64_t revision = 0;  ///< header.revision
    std::vector<KeyValue> kvs;
    int64_t count = 0;
};

struct DeleteRangeResponse {
    int64_t revision = 0;
    int64_t deleted = 0;
    std::vector<KeyValue> prev_kvs;
};

struct PutResponse {
    int64_t revision = 0;
};

using ResponseOp = std::variant<RangeResponse, PutResponse, DeleteRangeResponse>;

struct TxnResponse {
    int64_t revision = 0;
    bool succeeded = false;
    std::vector<ResponseOp> responses;
};

struct LeaseGrant {
    int64_t id = 0;
    int64_t ttl = 0;
};

/// A keepalive or timetolive answer; ttl <= 0 means the lease is gone.
struct LeaseTtl {
    int64_t id = 0;
    int64_t ttl = 0;
    int64_t granted_ttl = 0;
};

enum class EventType { put, del };

struct WatchEvent {
    EventType type = EventType::put;
    KeyValue kv;
};

/// One message of a watch stream.
struct WatchMessage {
    int64_t revision = 0;
    bool created = false;
    bool canceled = false;
    int64_t compact_revision = 0;
    std::string cancel_reason;
    std::vector<WatchEvent> events;
};

/// The key just past every key that starts with `prefix` (etcd's clientv3.GetPrefixRangeEnd).
std::string prefix_end(std::string_view prefix);

nlohmann::json encode(const RangeRequest& r);
nlohmann::json encode(const PutRequest& r);
nlohmann::json encode(const DeleteRangeRequest& r);
nlohmann::json encode(const TxnRequest& r);
/// The body of POST /v3/watch that creates a watch from `start_revision` (0: now).
nlohmann::json encode_watch_create(const std::string& key, const std::string& range_end,
                                   int64_t start_revision);

/// Reads an int64 the gateway sends as a string (or a number); missing is 0.
Result<int64_t> get_int64(const nlohmann::json& j, const char* field);

Result<KeyValue> decode_kv(const nlohmann::json& j);
Result<RangeResponse> decode_range(const nlohmann::json& j);
Result<DeleteRangeResponse> decode_delete(const nlohmann::json& j);
Result<TxnResponse> decode_txn(const nlohmann::json& j);
Result<LeaseGrant> decode_lease_grant(const nlohmann::json& j);
/// A keepalive reply ({"result":{…}}) or a timetolive reply (the fields at the top).
Result<LeaseTtl> decode_lease_ttl(const nlohmann::json& j);
/// One line of the watch stream ({"result":{…}} or {"error":{…}}).
Result<WatchMessage> decode_watch(const nlohmann::json& j);
/// The message of a gateway error body ({"error":"…","message":"…","code":N}), or "".
std::string gateway_error(const nlohmann::json& j);

} // namespace lokt::etcd
