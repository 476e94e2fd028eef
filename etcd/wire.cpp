#include "lokt/etcd/wire.hpp"

#include "lokt/etcd/base64.hpp"

#include <charconv>

namespace lokt::etcd {
namespace {

using json = nlohmann::json;

const char* name_of(SortOrder o) {
    switch (o) {
    case SortOrder::none: return "NONE";
    case SortOrder::ascend: return "ASCEND";
    case SortOrder::descend: return "DESCEND";
    }
    return "NONE";
}

const char* name_of(SortTarget t) {
    switch (t) {
    case SortTarget::key: return "KEY";
    case SortTarget::version: return "VERSION";
    case SortTarget::create: return "CREATE";
    case SortTarget::mod: return "MOD";
    case SortTarget::value: return "VALUE";
    }
    return "KEY";
}

const char* name_of(CompareResult r) {
    switch (r) {
    case CompareResult::equal: return "EQUAL";
    case CompareResult::greater: return "GREATER";
    case CompareResult::less: return "LESS";
    case CompareResult::not_equal: return "NOT_EQUAL";
    }
    return "EQUAL";
}

// The field of Compare's target_union that carries the operand for each target.
std::pair<const char*, const char*> target_fields(CompareTarget t) {
    switch (t) {
    case CompareTarget::version: return {"VERSION", "version"};
    case CompareTarget::create: return {"CREATE", "create_revision"};
    case CompareTarget::mod: return {"MOD", "mod_revision"};
    case CompareTarget::value: return {"VALUE", "value"};
    case CompareTarget::lease: return {"LEASE", "lease"};
    }
    return {"VERSION", "version"};
}

json encode_op(const RequestOp& op) {
    return std::visit(
        [](const auto& r) -> json {
            using T = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<T, RangeRequest>) return {{"request_range", encode(r)}};
            else if constexpr (std::is_same_v<T, PutRequest>) return {{"request_put", encode(r)}};
            else return {{"request_delete_range", encode(r)}};
        },
        op);
}

Result<std::string> get_bytes(const json& j, const char* field) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return std::string();
    if (!it->is_string()) return Error{std::string("etcd reply: field ") + field + " is not a string"};
    auto r = base64_decode(it->get_ref<const std::string&>());
    if (!r) return Error{std::string("etcd reply: field ") + field + ": " + r.error().message};
    return r;
}

int64_t header_revision(const json& j) {
    auto h = j.find("header");
    if (h == j.end() || !h->is_object()) return 0;
    auto r = get_int64(*h, "revision");
    return r ? *r : 0;
}

Result<std::vector<KeyValue>> decode_kvs(const json& j, const char* field) {
    std::vector<KeyValue> out;
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return out;
    if (!it->is_array()) return Error{std::string("etcd reply: ") + field + " is not an array"};
    for (const auto& e : *it) {
        auto kv = decode_kv(e);
        if (!kv) return kv.error();
        out.push_back(std::move(*kv));
    }
    return out;
}

} // namespace

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        if (static_cast<unsigned char>(end.back()) < 0xff) {
            end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');  // etcd's "every key" range end
}

json encode(const RangeRequest& r) {
    json j = {{"key", base64_encode(r.key)}};
    if (!r.range_end.empty()) j["range_end"] = base64_encode(r.range_end);
    if (r.limit) j["limit"] = std::to_string(r.limit);
    if (r.revision) j["revision"] = std::to_string(r.revision);
    if (r.sort_order != SortOrder::none) {
        j["sort_order"] = name_of(r.sort_order);
        j["sort_target"] = name_of(r.sort_target);
    }
    if (r.count_only) j["count_only"] = true;
    if (r.max_create_revision) j["max_create_revision"] = std::to_string(r.max_create_revision);
    return j;
}

json encode(const PutRequest& r) {
    json j = {{"key", base64_encode(r.key)}, {"value", base64_encode(r.value)}};
    if (r.lease) j["lease"] = std::to_string(r.lease);
    return j;
}

json encode(const DeleteRangeRequest& r) {
    json j = {{"key", base64_encode(r.key)}};
    if (!r.range_end.empty()) j["range_end"] = base64_encode(r.range_end);
    if (r.prev_kv) j["prev_kv"] = true;
    return j;
}

json encode(const TxnRequest& r) {
    json cmp = json::array();
    for (const Compare& c : r.compare) {
        auto [target, field] = target_fields(c.target);
        json e = {{"result", name_of(c.result)}, {"target", target}, {"key", base64_encode(c.key)}};
        if (c.target == CompareTarget::value) e[field] = base64_encode(c.text);
        else e[field] = std::to_string(c.number);
        if (!c.range_end.empty()) e["range_end"] = base64_encode(c.range_end);
        cmp.push_back(std::move(e));
    }
    json success = json::array();
    for (const auto& op : r.success) success.push_back(encode_op(op));
    json failure = json::array();
    for (const auto& op : r.failure) failure.push_back(encode_op(op));
    return {{"compare", cmp}, {"success", success}, {"failure", failure}};
}

json encode_watch_create(const std::string& key, const std::string& range_end, int64_t start_revision) {
    json c = {{"key", base64_encode(key)}};
    if (!range_end.empty()) c["range_end"] = base64_encode(range_end);
    if (start_revision) c["start_revision"] = std::to_string(start_revision);
    return {{"create_request", c}};
}

Result<int64_t> get_int64(const json& j, const char* field) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return int64_t{0};
    if (it->is_number_integer()) return it->get<int64_t>();
    if (it->is_string()) {
        const std::string& s = it->get_ref<const std::string&>();
        int64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec == std::errc{} && p == s.data() + s.size()) return v;
    }
    return Error{std::string("etcd reply: field ") + field + " is not an int64"};
}

Result<KeyValue> decode_kv(const json& j) {
    if (!j.is_object()) return Error{"etcd reply: key-value is not an object"};
    KeyValue kv;
    auto key = get_bytes(j, "key");
    if (!key) return key.error();
    auto value = get_bytes(j, "value");
    if (!value) return value.error();
    kv.key = std::move(*key);
    kv.value = std::move(*value);
    for (auto [field, dst] : {std::pair{"create_revision", &kv.create_revision},
                              std::pair{"mod_revision", &kv.mod_revision},
                              std::pair{"version", &kv.version}, std::pair{"lease", &kv.lease}}) {
        auto v = get_int64(j, field);
        if (!v) return v.error();
        *dst = *v;
    }
    return kv;
}

Result<RangeResponse> decode_range(const json& j) {
    RangeResponse r;
    r.revision = header_revision(j);
    auto kvs = decode_kvs(j, "kvs");
    if (!kvs) return kvs.error();
    r.kvs = std::move(*kvs);
    auto count = get_int64(j, "count");
    if (!count) return count.error();
    r.count = *count;
    return r;
}

Result<DeleteRangeResponse> decode_delete(const json& j) {
    DeleteRangeResponse r;
    r.revision = header_revision(j);
    auto deleted = get_int64(j, "deleted");
    if (!deleted) return deleted.error();
    r.deleted = *deleted;
    auto kvs = decode_kvs(j, "prev_kvs");
    if (!kvs) return kvs.error();
    r.prev_kvs = std::move(*kvs);
    return r;
}

Result<TxnResponse> decode_txn(const json& j) {
    TxnResponse r;
    r.revision = header_revision(j);
    auto s = j.find("succeeded");
    r.succeeded = s != j.end() && s->is_boolean() && s->get<bool>();
    auto ops = j.find("responses");
    if (ops == j.end() || ops->is_null()) return r;
    if (!ops->is_array()) return Error{"etcd reply: responses is not an array"};
    for (const auto& op : *ops) {
        if (auto it = op.find("response_range"); it != op.end()) {
            auto rr = decode_range(*it);
            if (!rr) return rr.error();
            r.responses.emplace_back(std::move(*rr));
        } else if (auto pt = op.find("response_put"); pt != op.end()) {
            r.responses.emplace_back(PutResponse{header_revision(*pt)});
        } else if (auto dr = op.find("response_delete_range"); dr != op.end()) {
            auto d = decode_delete(*dr);
            if (!d) return d.error();
            r.responses.emplace_back(std::move(*d));
        } else {
            return Error{"etcd reply: unknown response op"};
        }
    }
    return r;
}

Result<LeaseGrant> decode_lease_grant(const json& j) {
    auto id = get_int64(j, "ID");
    if (!id) return id.error();
    auto ttl = get_int64(j, "TTL");
    if (!ttl) return ttl.error();
    if (*id == 0) return Error{"etcd reply: lease grant without an ID"};
    return LeaseGrant{*id, *ttl};
}

Result<LeaseTtl> decode_lease_ttl(const json& j) {
    const json& body = j.contains("result") ? j["result"] : j;
    LeaseTtl t;
    for (auto [field, dst] : {std::pair{"ID", &t.id}, std::pair{"TTL", &t.ttl},
                              std::pair{"grantedTTL", &t.granted_ttl}}) {
        auto v = get_int64(body, field);
        if (!v) return v.error();
        *dst = *v;
    }
    return t;
}

Result<WatchMessage> decode_watch(const json& j) {
    if (auto e = j.find("error"); e != j.end()) {
        std::string msg = e->is_object() ? e->value("message", std::string("unknown error")) : e->dump();
        return Error{"etcd watch: " + msg};
    }
    auto res = j.find("result");
    if (res == j.end() || !res->is_object()) return Error{"etcd watch: message without result"};
    WatchMessage m;
    m.revision = header_revision(*res);
    m.created = res->value("created", false);
    m.canceled = res->value("canceled", false);
    m.cancel_reason = res->value("cancel_reason", std::string());
    auto compact = get_int64(*res, "compact_revision");
    if (!compact) return compact.error();
    m.compact_revision = *compact;
    if (auto ev = res->find("events"); ev != res->end() && ev->is_array()) {
        for (const auto& e : *ev) {
            WatchEvent we;
            we.type = e.value("type", std::string("PUT")) == "DELETE" ? EventType::del : EventType::put;
            if (auto kv = e.find("kv"); kv != e.end()) {
                auto d = decode_kv(*kv);
                if (!d) return d.error();
                we.kv = std::move(*d);
            }
            m.events.push_back(std::move(we));
        }
    }
    return m;
}

std::string gateway_error(const json& j) {
    if (!j.is_object()) return "";
    if (auto m = j.find("message"); m != j.end() && m->is_string() && !m->get<std::string>().empty())
        return m->get<std::string>();
    if (auto e = j.find("error"); e != j.end()) {
        if (e->is_string()) return e->get<std::string>();
        if (e->is_object()) return e->value("message", std::string());
    }
    return "";
}

} // namespace lokt::etcd
