// The lock object of every --json output, written without a JSON tree (status lists
// thousands of locks), and the JSON form of refusals.

#include "lock_json.hpp"

#include "lokt/sharing.hpp"

#include <chrono>
#include <cstdio>
#include <string_view>

namespace lokt::cli {

namespace {

void append_escaped(std::string& out, std::string_view v) {
    out += '"';
    size_t run = 0;  // start of the pending run of bytes that need no escaping
    for (size_t i = 0; i < v.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(v[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(v, run, i - run);
        run = i + 1;
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default: {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            out += buf;
        }
        }
    }
    out.append(v, run, v.size() - run);
    out += '"';
}

// Writes `"key": value` members of one pretty-printed object, commas included.
class ObjectWriter {
public:
    ObjectWriter(std::string& out, int indent) : out_(out), indent_(indent) {
        out_.append(static_cast<size_t>(indent_), ' ');
        out_ += '{';
    }
    void str(std::string_view key, std::string_view v) { append_escaped(start(key), v); }
    void num(std::string_view key, long long v) { start(key) += std::to_string(v); }
    void unum(std::string_view key, unsigned long long v) { start(key) += std::to_string(v); }
    void boolean(std::string_view key, bool v) { start(key) += v ? "true" : "false"; }
    void null(std::string_view key) { start(key) += "null"; }
    void close() {
        out_ += '\n';
        out_.append(static_cast<size_t>(indent_), ' ');
        out_ += '}';
    }

private:
    std::string& start(std::string_view key) {
        out_ += first_ ? "\n" : ",\n";
        first_ = false;
        out_.append(static_cast<size_t>(indent_ + 2), ' ');
        append_escaped(out_, key);
        out_ += ": ";
        return out_;
    }
    std::string& out_;
    int indent_;
    bool first_ = true;
};

} // namespace

void append_lock_json(std::string& out, const LockRecord& r, bool freeze, TimePoint at,
                      const LocalView& this_host, int indent) {
    ObjectWriter w(out, indent);
    w.num("version", r.version);
    w.str("name", r.name);
    w.str("owner", r.owner);
    w.str("host", r.host);
    w.num("pid", r.pid);
    if (r.pid_start_ns) w.unum("pid_start_ns", r.pid_start_ns);
    w.str("agent_id", r.agent_id);
    // Whole seconds, as the original's status --json prints them (lock files keep nanoseconds).
    w.str("acquired_ts", format_rfc3339(r.acquired_ts));
    if (r.ttl_sec > 0) w.num("ttl_sec", r.ttl_sec);
    else w.null("ttl_sec");
    if (r.expires_at) w.str("expires_at", format_rfc3339(*r.expires_at));
    w.num("age_sec", std::chrono::duration_cast<std::chrono::seconds>(age_of(r.acquired_ts, at)).count());
    w.boolean("expired", r.expired(at));
    w.str("pid_status", holder_state(r, this_host));
    // What pid_status "dead" meant to the original: safe to break (a lease's pid never is).
    w.boolean("stale", r.expired(at) || (!freeze && provably_gone(r, this_host)));
    if (freeze) w.boolean("freeze", true);
    w.str("lock_id", r.lock_id);
    if (r.kind) w.str("kind", to_string(*r.kind));
    if (!r.command.empty()) w.str("command", r.command);
    else w.null("command");
    if (r.fence > 0) w.num("fence", r.fence);
    else w.null("fence");
    // Shared and slot holders: the mode, and N and the slot for a pool (absent when exclusive).
    if (const Sharing sh = sharing_of(r); sh.mode != LockMode::exclusive) {
        w.str("mode", to_string(sh.mode));
        if (sh.mode == LockMode::slots) w.num("slots", sh.slots);
        if (sh.slot >= 0) w.num("slot", sh.slot);
    }
    w.close();
}

OrderedJson lock_json(const LockRecord& r, bool freeze, TimePoint at, const LocalView& this_host) {
    std::string s;
    append_lock_json(s, r, freeze, at, this_host, 0);
    return OrderedJson::parse(s, nullptr, /*allow_exceptions=*/false);
}

int refuse(ExitCode code, const char* status, const std::string& name, const std::string& message,
           bool json, const std::optional<InTheWay>& in_the_way) {
    if (json) {
        OrderedJson j;
        j["status"] = status;
        j["name"] = name;
        j["error"] = message;
        if (in_the_way)
            j["lock"] = lock_json(in_the_way->record, in_the_way->freeze, now(), in_the_way->this_host);
        print_json(j);
    }
    return fail(code, message);
}

} // namespace lokt::cli
