// lokt audit [--since D|TIME] [--name NAME] [--event E[,E...]] [--owner O] [--tail]
//            [--json | --format text|jsonl]: the audit log, as aligned text lines (on a
// terminal) or as the stored JSON lines (otherwise, so `lokt audit | jq` works as with the
// original lokt).

#include "cli.hpp"
#include "backend_open.hpp"
#include "output.hpp"

#include "lokt/audit.hpp"
#include "lokt/name.hpp"
#include "lokt/root.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace lokt::cli {
namespace {

// Set by SIGINT/SIGTERM while following; the follow loop polls it.
volatile sig_atomic_t g_stop_requested = 0;

void on_stop_signal(int) { g_stop_requested = 1; }

void install_stop_handlers() {
    struct sigaction sa{};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the follow loop's poll() must return early
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
}

// "8h" / "1h30m" (that long ago), an RFC 3339 time, or a date (its midnight in UTC, the
// zone every audit time is written and shown in).
Result<TimePoint> parse_since(const std::string& s, TimePoint at) {
    if (auto d = parse_duration(s)) return saturating_add(at, -*d);
    if (auto t = parse_rfc3339(s)) return *t;
    const bool date = s.size() == 10 && s[4] == '-' && s[7] == '-';
    if (date)
        if (auto t = parse_rfc3339(s + "T00:00:00Z")) return *t;
    return Error{"invalid --since \"" + s + "\": want a duration (8h, 1h30m), an RFC 3339 time (2026-02-07T15:30:00Z) or a date (2026-02-07, UTC)"};
}

std::string scalar_text(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

// "agent-1@vm (pid 11442)" from the PREFIX_owner/_host/_pid keys of extra, if present.
std::optional<std::string> party(const nlohmann::json& extra, const std::string& prefix,
                                 std::set<std::string>& used) {
    auto owner = extra.find(prefix + "_owner");
    if (owner == extra.end()) return std::nullopt;
    std::string out = scalar_text(*owner);
    used.insert(prefix + "_owner");
    if (auto host = extra.find(prefix + "_host"); host != extra.end()) {
        out += "@" + scalar_text(*host);
        used.insert(prefix + "_host");
    }
    if (auto pid = extra.find(prefix + "_pid"); pid != extra.end()) {
        out += " (pid " + scalar_text(*pid) + ")";
        used.insert(prefix + "_pid");
    }
    return out;
}

// "held 1m12s" for a PREFIX_sec key of extra (held_sec, waited_sec), if present and a number.
std::optional<std::string> seconds_text(const nlohmann::json& extra, const std::string& prefix,
                                        std::set<std::string>& used) {
    auto v = extra.find(prefix + "_sec");
    if (v == extra.end() || !v->is_number()) return std::nullopt;
    used.insert(prefix + "_sec");
    const double secs = std::max(0.0, std::min(v->get<double>(), 1e9));
    const auto d = std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(secs));
    // Below a second the milliseconds matter (a quick command); above, whole seconds do.
    return prefix + " " + (secs < 1 ? short_duration(std::chrono::duration_cast<std::chrono::milliseconds>(d))
                                     : short_duration(std::chrono::duration_cast<std::chrono::seconds>(d)));
}

// "exit 143 (signal 15)" from the exit and signal keys of extra (a guard's release).
std::optional<std::string> exit_text(const nlohmann::json& extra, std::set<std::string>& used) {
    auto code = extra.find("exit");
    if (code == extra.end()) return std::nullopt;
    used.insert("exit");
    std::string out = "exit " + scalar_text(*code);
    if (auto sig = extra.find("signal"); sig != extra.end()) {
        out += " (signal " + scalar_text(*sig) + ")";
        used.insert("signal");
    }
    return out;
}

// The details of extra in words: who was pruned or held the freeze, how long, how a guarded
// command ended, its command line, then key=value pairs.
std::string extra_text(const nlohmann::json& extra) {
    if (!extra.is_object() || extra.empty()) return extra.is_null() ? "" : extra.dump();
    std::set<std::string> used;
    std::string out;
    auto add = [&](const std::string& s) {
        if (!out.empty()) out += "  ";
        out += s;
    };
    if (auto p = party(extra, "pruned", used)) add("pruned " + *p);
    if (auto p = party(extra, "freeze", used)) add("frozen by " + *p);
    if (auto p = party(extra, "holder", used)) add("held by " + *p);
    if (auto s = seconds_text(extra, "held", used)) add(*s);
    if (auto s = seconds_text(extra, "waited", used)) add(*s);
    if (auto x = exit_text(extra, used)) add(*x);
    // Last: a command line has spaces, so it reads best at the end of the line.
    const auto cmd = extra.find("command");
    const bool has_cmd = cmd != extra.end() && cmd->is_string();
    if (has_cmd) used.insert("command");
    for (const auto& [key, value] : extra.items()) {
        if (used.count(key)) continue;
        if (key.size() > 6 && key.compare(key.size() - 6, 6, "_owner") == 0) {
            if (auto p = party(extra, key.substr(0, key.size() - 6), used)) {
                add(key.substr(0, key.size() - 6) + " " + *p);
                continue;
            }
        }
        add(key + "=" + scalar_text(value));
    }
    if (has_cmd) add("command: " + cmd->get<std::string>());
    return out;
}

// One aligned human line: time, event, lock, who, then ttl and details.
std::string text_line(const AuditEvent& e) {
    char head[128];
    std::snprintf(head, sizeof head, "%s  %-14s %-16s ", format_rfc3339(e.ts).c_str(), e.event.c_str(),
                  e.name.c_str());
    std::string out = head;
    out += e.owner;
    if (!e.host.empty()) out += "@" + e.host;
    if (e.pid != 0) out += " (pid " + std::to_string(e.pid) + ")";
    if (e.ttl_sec > 0) out += "  ttl " + short_duration(std::chrono::seconds(e.ttl_sec));
    if (std::string x = extra_text(e.extra); !x.empty()) out += "  " + x;
    return printable(out);  // owner, host and extra come from other agents
}

// Which events to show beyond what AuditQuery filters: a set of event kinds and an owner.
struct EventFilter {
    std::set<std::string> events;
    std::optional<std::string> owner;

    bool active() const { return !events.empty() || owner; }
    bool keeps(const AuditEvent& e) const {
        if (!events.empty() && !events.count(e.event)) return false;
        return !owner || e.owner == *owner;
    }
};

std::set<std::string> split_events(const std::string& list) {
    std::set<std::string> out;
    size_t start = 0;
    while (start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        if (comma > start) out.insert(list.substr(start, comma - start));
        start = comma + 1;
    }
    return out;
}

// --json and --format jsonl: the stored lines; --format text: the table; neither: the table
// for a person at a terminal, the stored lines for a pipe or a file.
Result<bool> wants_json(const Args& args) {
    auto format = args.value("format");
    if (format && *format != "text" && *format != "jsonl")
        return Error{"--format must be \"text\" or \"jsonl\", not \"" + *format + "\""};
    if (args.has("json")) {
        if (format && *format == "text") return Error{"--json and --format text contradict each other"};
        return true;
    }
    if (format) return *format == "jsonl";
    return ::isatty(STDOUT_FILENO) == 0;
}

// The events the backend stores itself (etcd) that `q` selects, each with its JSON line.
// Whether an event the backend stored passes --since and --name (the local log's reader
// applies the same two while it parses).
bool admitted(const AuditQuery& q, const AuditEvent& e) {
    return !(q.since && e.ts < *q.since) && !(q.name && e.name != *q.name);
}

Result<std::vector<std::pair<std::string, AuditEvent>>> backend_events(const AuditQuery& q) {
    auto backend = open_backend(false);
    if (!backend) return backend.error();
    auto stored = (*backend)->stored_events();
    if (!stored) return stored.error();
    std::vector<std::pair<std::string, AuditEvent>> out;
    for (auto& e : *stored) {
        if (!admitted(q, e)) continue;
        std::string line = encode_event(e);
        out.emplace_back(std::move(line), std::move(e));
    }
    return out;
}

// The local log's history and the backend's stored events, merged by time; a follower
// (--tail) then follows the local log only.
Result<AuditReadStats> read_history(const AuditLog& log, const AuditQuery& q, const AuditSink& sink) {
    auto events = backend_events(q);
    if (!events) return events.error();
    if (events->empty()) return log.read(q, sink);  // files: as before, streamed
    auto r = log.read(q, [&](std::string_view line, const AuditEvent& e) { events->emplace_back(line, e); });
    if (!r) return r.error();
    std::stable_sort(events->begin(), events->end(),
                     [](const auto& a, const auto& b) { return a.second.ts < b.second.ts; });
    for (const auto& [line, e] : *events) sink(line, e);
    return r;
}

// --tail: what the backend stored comes first, then the local log's history; then both are
// followed as they grow (the backend's events, on etcd a watch, from a thread of their own).
Result<AuditReadStats> follow_both(const AuditLog& log, const AuditQuery& q, const AuditSink& sink) {
    auto backend = open_backend(false);
    if (!backend) return backend.error();
    std::mutex out;  // one event at a time on stdout, whichever source it comes from
    std::promise<void> history;
    std::atomic<bool> backend_ended{false};
    Result<void> followed;
    std::thread from_backend([&] {
        bool told = false;
        followed = (*backend)->follow_events(
            [&](const AuditEvent& e) {
                if (!admitted(q, e)) return;
                std::lock_guard lock(out);
                sink(encode_event(e), e);
            },
            [&] {
                told = true;
                history.set_value();
            },
            [] { return g_stop_requested != 0; });
        if (!told) history.set_value();
        backend_ended = !followed;  // a backend that only has history (files) is not an end
    });
    history.get_future().wait();
    auto r = log.follow(
        q,
        [&](std::string_view line, const AuditEvent& e) {
            std::lock_guard lock(out);
            sink(line, e);
        },
        [&] { return g_stop_requested != 0 || backend_ended.load(); });
    from_backend.join();
    if (!followed) return followed.error();
    return r;
}

} // namespace

int cmd_audit(const Command& cmd, const Args& args) {
    if (!args.positional.empty())
        return usage_error(cmd, "unexpected argument \"" + args.positional[0] + "\" (filter by lock with --name)");
    AuditQuery q;
    if (auto s = args.value("since")) {
        auto t = parse_since(*s, now());
        if (!t) return usage_error(cmd, t.error().message);
        q.since = *t;
    }
    if (auto n = args.value("name")) {
        if (auto ok = validate_name(*n); !ok) return usage_error(cmd, ok.error().message);
        q.name = *n;
    }
    EventFilter filter;
    if (auto e = args.value("event")) {
        filter.events = split_events(*e);
        if (filter.events.empty()) return usage_error(cmd, "--event needs an event name (acquire, deny, release, ...)");
    }
    filter.owner = args.value("owner");
    auto json = wants_json(args);
    if (!json) return usage_error(cmd, json.error().message);
    const bool tail = args.has("tail");
    // JSON output prints the stored lines: only the fields the filters look at are decoded.
    q.full_events = !*json || filter.active();

    auto root = discover_root();
    if (!root) return fail(root.error());
    AuditLog log(root->audit_path());

    // History goes out in big buffered writes; a follower flushes each event as it comes.
    static char outbuf[1 << 16];
    std::setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    auto sink = [&](std::string_view line, const AuditEvent& e) {
        if (!filter.keeps(e)) return;
        if (*json) {
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fputc('\n', stdout);
        } else {
            std::string t = text_line(e);
            t += '\n';
            std::fwrite(t.data(), 1, t.size(), stdout);
        }
        if (tail) std::fflush(stdout);
    };

    Result<AuditReadStats> r = AuditReadStats{};
    if (tail) {
        install_stop_handlers();
        auto followed = follow_both(log, q, sink);
        if (!followed) return fail(followed.error());
        r = *followed;
    } else {
        r = read_history(log, q, sink);
    }
    std::fflush(stdout);
    if (!r) return fail(r.error());
    if (r->garbage > 0)
        std::fprintf(stderr, "warning: skipped %llu unreadable line%s in %s\n",
                     static_cast<unsigned long long>(r->garbage), r->garbage == 1 ? "" : "s",
                     log.path().c_str());
    // Stopping a follower with Ctrl-C or SIGTERM is how it is meant to end: success.
    return to_int(ExitCode::ok);
}

} // namespace lokt::cli
