// Encoding and decoding of one audit line. The encoder reproduces the bytes of the original's
// Go encoding/json output (field order, omitempty, HTML-safe escaping, sorted map keys); the
// decoder is a small hand-written parser because `audit --since` decodes tens of thousands of
// lines per call and a DOM parse costs several microseconds per line.

#include "audit_scan.hpp"
#include "json_reader.hpp"

#include <cstdio>
#include <cstring>

namespace lokt {
namespace {

using audit_detail::JsonReader;

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
size_t utf8_len(std::string_view s, size_t i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(i + 1) || !cont(i + 2)) return 0;
        if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
        if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // UTF-16 surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
        if (c == 0xF0 && b(i + 1) < 0x90) return 0;
        if (c == 0xF4 && b(i + 1) >= 0x90) return 0;
        return 4;
    }
    return 0;
}

// Go's encoding/json string escaping with escapeHTML (what json.Marshal does).
void put_string(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c < 0x80) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xF];
            }
            ++i;
            continue;
        }
        size_t n = utf8_len(s, i);
        if (n == 0) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        // U+2028 and U+2029 break JavaScript string literals; Go escapes them.
        if (n == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
            (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
            out += (s[i + 2] == '\xa8') ? "\\u2028" : "\\u2029";
        } else {
            out.append(s.substr(i, n));
        }
        i += n;
    }
    out += '"';
}

void put_value(std::string& out, const nlohmann::json& v) {
    using T = nlohmann::json::value_t;
    switch (v.type()) {
    case T::object: {
        // nlohmann's object is a std::map: keys already sorted bytewise, as Go sorts map keys.
        out += '{';
        bool first = true;
        for (const auto& [k, item] : v.items()) {
            if (!first) out += ',';
            first = false;
            put_string(out, k);
            out += ':';
            put_value(out, item);
        }
        out += '}';
        break;
    }
    case T::array: {
        out += '[';
        bool first = true;
        for (const auto& item : v) {
            if (!first) out += ',';
            first = false;
            put_value(out, item);
        }
        out += ']';
        break;
    }
    case T::string: put_string(out, v.get_ref<const std::string&>()); break;
    case T::null:
    case T::discarded: out += "null"; break;
    case T::boolean:
    case T::number_integer:
    case T::number_unsigned:
    case T::number_float:
    case T::binary: out += v.dump(); break;
    }
}

void put_int(std::string& out, long long v) {
    char buf[24];
    int n = std::snprintf(buf, sizeof buf, "%lld", v);
    out.append(buf, static_cast<size_t>(n));
}

Error garbage() { return Error{"not an audit event"}; }

// Reads a string field that the original always writes as a string; null reads as empty.
bool string_field(JsonReader& r, std::string& out) {
    if (r.peek('n')) {
        out.clear();
        return r.literal("null");
    }
    return r.string(out);
}

} // namespace

std::string encode_event(const AuditEvent& e) {
    std::string out;
    out.reserve(256);
    out += "{\"ts\":\"";
    out += format_rfc3339_nano(e.ts);
    out += "\",\"event\":";
    put_string(out, e.event);
    out += ",\"name\":";
    put_string(out, e.name);
    if (!e.lock_id.empty()) {
        out += ",\"lock_id\":";
        put_string(out, e.lock_id);
    }
    out += ",\"owner\":";
    put_string(out, e.owner);
    out += ",\"host\":";
    put_string(out, e.host);
    out += ",\"pid\":";
    put_int(out, e.pid);
    if (!e.agent_id.empty()) {
        out += ",\"agent_id\":";
        put_string(out, e.agent_id);
    }
    if (e.ttl_sec != 0) {
        out += ",\"ttl_sec\":";
        put_int(out, e.ttl_sec);
    }
    if (!e.extra.is_null() && !(e.extra.is_object() && e.extra.empty())) {
        out += ",\"extra\":";
        put_value(out, e.extra);
    }
    out += '}';
    return out;
}

namespace audit_detail {

Result<AuditEvent> decode_event(std::string_view line, bool full) {
    JsonReader r(line);
    AuditEvent e;
    bool have_ts = false, have_event = false;
    std::string key_scratch, value_scratch;
    std::string_view key, value;
    if (!r.eat('{')) return garbage();
    if (!r.eat('}')) {
        do {
            if (!r.string(key, key_scratch) || !r.eat(':')) return garbage();
            bool ok = true;
            int64_t n = 0;
            if (key == "ts") {
                ok = r.string(value, value_scratch);
                if (ok) {
                    auto t = parse_rfc3339(value);
                    if (!t) return garbage();
                    e.ts = *t;
                    have_ts = true;
                }
            } else if (key == "event") {
                ok = string_field(r, e.event);
                have_event = ok && !e.event.empty();
            } else if (key == "name") {
                ok = string_field(r, e.name);
            } else if (key == "lock_id") {
                ok = full ? string_field(r, e.lock_id) : r.skip_value();
            } else if (key == "owner") {
                ok = full ? string_field(r, e.owner) : r.skip_value();
            } else if (key == "host") {
                ok = full ? string_field(r, e.host) : r.skip_value();
            } else if (key == "pid") {
                ok = r.integer(n) && n >= INT32_MIN && n <= INT32_MAX;
                e.pid = static_cast<pid_t>(n);
            } else if (key == "agent_id") {
                ok = full ? string_field(r, e.agent_id) : r.skip_value();
            } else if (key == "ttl_sec") {
                ok = r.integer(n);
                e.ttl_sec = n;
            } else if (key == "extra" && !full) {
                ok = r.skip_value();
            } else if (key == "extra") {
                r.ws();
                size_t from = r.pos();
                ok = r.skip_value();
                if (ok) {
                    e.extra = nlohmann::json::parse(r.text(from, r.pos()), nullptr, false);
                    ok = !e.extra.is_discarded();
                }
            } else {
                ok = r.skip_value();  // a field from a newer writer
            }
            if (!ok) return garbage();
        } while (r.eat(','));
        if (!r.eat('}')) return garbage();
    }
    if (!r.at_end() || !have_ts || !have_event) return garbage();
    return e;
}

} // namespace audit_detail

Result<AuditEvent> decode_event(std::string_view line) { return audit_detail::decode_event(line, true); }

std::optional<TimePoint> peek_event_ts(std::string_view line) {
    static constexpr std::string_view prefix = "{\"ts\":\"";
    if (line.substr(0, prefix.size()) == prefix) {
        size_t end = line.find('"', prefix.size());
        if (end != std::string_view::npos && end - prefix.size() <= 40) {
            auto t = parse_rfc3339(line.substr(prefix.size(), end - prefix.size()));
            if (t) return *t;
        }
        return std::nullopt;
    }
    // Not our canonical shape (another writer's field order): decode it all.
    auto e = decode_event(line);
    if (!e) return std::nullopt;
    return e->ts;
}

} // namespace lokt
