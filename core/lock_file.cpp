#include "lokt/lock_file.hpp"

#include "json_reader.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace lokt {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::array<const char*, 17> kKnownFields = {
    "version", "name", "lock_id", "owner", "host", "pid", "pid_start_ns", "agent_id",
    "acquired_ts", "ttl_sec", "expires_at", "kind", "pgid", "command", "boot_id", "pid_ns", "fence"};

bool is_known(const std::string& key) {
    for (const char* k : kKnownFields)
        if (key == k) return true;
    return false;
}

ojson to_ordered(const LockRecord& r) {
    ojson j;
    j["version"] = r.version;
    j["name"] = r.name;
    j["lock_id"] = r.lock_id;
    j["owner"] = r.owner;
    j["host"] = r.host;
    j["pid"] = r.pid;
    j["pid_start_ns"] = r.pid_start_ns;
    j["agent_id"] = r.agent_id;
    j["acquired_ts"] = format_rfc3339_nano(r.acquired_ts);
    if (r.ttl_sec > 0) j["ttl_sec"] = r.ttl_sec;
    if (r.expires_at) j["expires_at"] = format_rfc3339_nano(*r.expires_at);
    if (r.kind) j["kind"] = std::string(to_string(*r.kind));
    if (r.pgid > 0) j["pgid"] = r.pgid;
    if (!r.command.empty()) j["command"] = r.command;
    if (!r.boot_id.empty()) j["boot_id"] = r.boot_id;
    if (r.pid_ns != 0) j["pid_ns"] = r.pid_ns;
    if (r.fence > 0) j["fence"] = r.fence;
    if (r.unknown.is_object())
        for (auto it = r.unknown.begin(); it != r.unknown.end(); ++it)
            if (!is_known(it.key())) j[it.key()] = it.value();
    return j;
}

// A JSON integer in range for T (a pid is 32 bits): never a silently wrapped value.
template <class T>
bool fits(const nlohmann::json& v) {
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max());
    const int64_t x = v.get<int64_t>();
    if (x < 0) return std::is_signed_v<T> && x >= int64_t(std::numeric_limits<T>::min());
    return uint64_t(x) <= uint64_t(std::numeric_limits<T>::max());
}

Decoded corrupt(std::string why) {
    Decoded d;
    d.status = DecodeStatus::corrupt;
    d.detail = std::move(why);
    return d;
}

} // namespace

std::string_view to_string(LockKind k) {
    switch (k) {
    case LockKind::lease: return "lease";
    case LockKind::guard: return "guard";
    case LockKind::shim: return "shim";
    }
    return "lease";
}

std::optional<LockKind> parse_lock_kind(std::string_view s) {
    if (s == "lease") return LockKind::lease;
    if (s == "guard") return LockKind::guard;
    if (s == "shim") return LockKind::shim;
    return std::nullopt;
}

std::string encode_lock(const LockRecord& r) {
    // Command lines may hold any bytes; invalid UTF-8 is replaced rather than thrown on.
    return to_ordered(r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

nlohmann::ordered_json lock_to_json(const LockRecord& r) {
    return to_ordered(r);
}

namespace {

// True for well-formed UTF-8 with no escaped UTF-16 surrogate (\uD800-\uDFFF, paired or
// not). The strict decoder rejects invalid UTF-8 and lone surrogates, the fast reader
// would pass the bytes through or substitute U+FFFD: such files go the strict way.
bool plain_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\\' && i + 2 < s.size() && s[i + 1] == 'u' && (s[i + 2] == 'd' || s[i + 2] == 'D')) {
            const char h = i + 3 < s.size() ? s[i + 3] : '0';
            if ((h >= '8' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')) return false;
        }
        if (c == '\\') {
            i += 2;  // an escaped backslash must not start a \u of its own
            continue;
        }
        if (c < 0x80) {
            ++i;
            continue;
        }
        const size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (len == 0 || c > 0xF4 || i + len > s.size()) return false;
        for (size_t k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        const auto c1 = static_cast<unsigned char>(s[i + 1]);
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
            (c == 0xF4 && c1 >= 0x90))
            return false;  // overlong, surrogate or beyond U+10FFFF
        i += len;
    }
    return true;
}

} // namespace

namespace detail {

// The common case — a flat object of known fields with the expected types, as both we and
// the original write — decoded without building a JSON tree: `status` lists thousands of
// files, and a tree costs ~10 us each. Anything unusual returns nullopt and takes the
// full, strict path below, which also produces the error details.
std::optional<LockRecord> decode_lock_fast(std::string_view bytes) {
    if (!plain_utf8(bytes)) return std::nullopt;
    audit_detail::JsonReader in(bytes);
    if (!in.eat('{')) return std::nullopt;
    LockRecord r;
    bool have_name = false, have_owner = false, have_pid = false, have_ts = false, have_exp = false;
    std::string key, ts, exp, kind;
    int64_t v = 0;
    if (!in.peek('}')) {
        do {
            if (!in.string(key) || !in.eat(':')) return std::nullopt;
            if (key == "version") {
                if (!in.integer(v) || v != 1) return std::nullopt;
                r.version = 1;
            } else if (key == "name") {
                if (!in.string(r.name)) return std::nullopt;
                have_name = true;
            } else if (key == "lock_id") {
                if (!in.string(r.lock_id)) return std::nullopt;
            } else if (key == "owner") {
                if (!in.string(r.owner)) return std::nullopt;
                have_owner = true;
            } else if (key == "host") {
                if (!in.string(r.host)) return std::nullopt;
            } else if (key == "pid") {
                if (!in.integer(v) || v < INT32_MIN || v > INT32_MAX) return std::nullopt;
                r.pid = static_cast<pid_t>(v);
                have_pid = true;
            } else if (key == "pid_start_ns") {
                if (!in.integer(v) || v < 0) return std::nullopt;
                r.pid_start_ns = static_cast<uint64_t>(v);
            } else if (key == "agent_id") {
                if (!in.string(r.agent_id)) return std::nullopt;
            } else if (key == "acquired_ts") {
                if (!in.string(ts)) return std::nullopt;
                have_ts = true;
            } else if (key == "ttl_sec") {
                if (!in.integer(v) || v < 0) return std::nullopt;
                r.ttl_sec = v;
            } else if (key == "expires_at") {
                if (!in.string(exp)) return std::nullopt;
                have_exp = true;
            } else if (key == "kind") {
                if (!in.string(kind)) return std::nullopt;
            } else if (key == "pgid") {
                if (!in.integer(v) || v < INT32_MIN || v > INT32_MAX) return std::nullopt;
                r.pgid = static_cast<pid_t>(v);
            } else if (key == "command") {
                if (!in.string(r.command)) return std::nullopt;
            } else if (key == "boot_id") {
                if (!in.string(r.boot_id)) return std::nullopt;
            } else if (key == "pid_ns") {
                if (!in.integer(v) || v < 0) return std::nullopt;
                r.pid_ns = static_cast<uint64_t>(v);
            } else if (key == "fence") {
                if (!in.integer(v) || v < 0) return std::nullopt;
                r.fence = v;
            } else {
                return std::nullopt;  // unknown field: the full path keeps it
            }
        } while (in.eat(','));
    }
    if (!in.eat('}') || !in.at_end()) return std::nullopt;
    if (!have_name || !have_owner || !have_pid || !have_ts) return std::nullopt;
    auto acquired = parse_rfc3339(ts);
    if (!acquired) return std::nullopt;
    r.acquired_ts = *acquired;
    if (have_exp) {  // "" too: the strict decoder (and Go) reject an empty time
        auto e = parse_rfc3339(exp);
        if (!e) return std::nullopt;
        r.expires_at = *e;
    } else if (r.ttl_sec > 0) {
        r.expires_at = r.acquired_ts + std::chrono::seconds(r.ttl_sec);
    }
    if (!kind.empty()) r.kind = parse_lock_kind(kind);
    return r;
}

Decoded decode_lock_strict(std::string_view bytes) {
    if (bytes.empty()) return corrupt("empty file");
    nlohmann::json j = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return corrupt("not valid JSON (truncated or garbage)");
    if (!j.is_object()) return corrupt("not a JSON object");

    Decoded d;
    LockRecord& r = d.record;
    if (auto it = j.find("version"); it != j.end()) {
        if (!it->is_number_integer()) return corrupt("\"version\" is not an integer");
        r.version = it->get<int>();
        if (r.version > 1) {
            d.status = DecodeStatus::future_version;
            d.detail = "file version " + std::to_string(r.version);
            return d;
        }
        if (r.version < 1) return corrupt("\"version\" " + std::to_string(r.version) + " is invalid");
    }

    auto get_string = [&](const char* key, std::string& out, bool required) -> bool {
        auto it = j.find(key);
        if (it == j.end()) return !required;
        if (!it->is_string()) return false;
        out = it->get<std::string>();
        return true;
    };
    auto get_int = [&](const char* key, auto& out, bool required) -> bool {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) return !required;
        if (!it->is_number_integer()) return false;
        using T = std::remove_reference_t<decltype(out)>;
        if (!fits<T>(*it)) return false;
        out = it->get<T>();
        return true;
    };

    if (!get_string("name", r.name, true)) return corrupt("\"name\" missing or not a string");
    if (!get_string("lock_id", r.lock_id, false)) return corrupt("\"lock_id\" is not a string");
    if (!get_string("owner", r.owner, true)) return corrupt("\"owner\" missing or not a string");
    if (!get_string("host", r.host, false)) return corrupt("\"host\" is not a string");
    if (!get_int("pid", r.pid, true)) return corrupt("\"pid\" missing or not an integer");
    if (!get_int("pid_start_ns", r.pid_start_ns, false)) return corrupt("\"pid_start_ns\" is not an integer");
    if (!get_string("agent_id", r.agent_id, false)) return corrupt("\"agent_id\" is not a string");
    if (!get_int("ttl_sec", r.ttl_sec, false) || r.ttl_sec < 0) return corrupt("\"ttl_sec\" is not a valid integer");
    if (!get_int("pgid", r.pgid, false)) return corrupt("\"pgid\" is not an integer");
    if (!get_string("command", r.command, false)) return corrupt("\"command\" is not a string");
    if (!get_string("boot_id", r.boot_id, false)) return corrupt("\"boot_id\" is not a string");
    if (auto it = j.find("pid_ns"); it != j.end() && it->is_number_integer() && it->get<int64_t>() < 0)
        return corrupt("\"pid_ns\" is negative");
    if (!get_int("pid_ns", r.pid_ns, false)) return corrupt("\"pid_ns\" is not an integer");
    if (!get_int("fence", r.fence, false) || r.fence < 0) return corrupt("\"fence\" is not a valid integer");

    std::string ts;
    if (!get_string("acquired_ts", ts, true)) return corrupt("\"acquired_ts\" missing or not a string");
    auto acquired = parse_rfc3339(ts);
    if (!acquired) return corrupt("\"acquired_ts\": " + acquired.error().message);
    r.acquired_ts = *acquired;

    if (auto it = j.find("expires_at"); it != j.end() && !it->is_null()) {
        if (!it->is_string()) return corrupt("\"expires_at\" is not a string");
        auto e = parse_rfc3339(it->get<std::string>());
        if (!e) return corrupt("\"expires_at\": " + e.error().message);
        r.expires_at = *e;
    } else if (r.ttl_sec > 0) {
        r.expires_at = r.acquired_ts + std::chrono::seconds(r.ttl_sec);
    }

    std::string kind;
    if (!get_string("kind", kind, false)) return corrupt("\"kind\" is not a string");
    // A kind from a newer lokt is treated like a file of the original (no kind).
    if (!kind.empty()) r.kind = parse_lock_kind(kind);

    r.unknown = nlohmann::json::object();
    for (auto it = j.begin(); it != j.end(); ++it)
        if (!is_known(it.key())) r.unknown[it.key()] = it.value();

    d.status = DecodeStatus::ok;
    return d;
}

} // namespace detail

Decoded decode_lock(std::string_view bytes) {
    if (auto fast = detail::decode_lock_fast(bytes)) {
        Decoded d;
        d.status = DecodeStatus::ok;
        d.record = std::move(*fast);
        return d;
    }
    return detail::decode_lock_strict(bytes);
}

} // namespace lokt
