#include "output.hpp"

#include "lock_json.hpp"

#include "lokt/identity.hpp"
#include "lokt/liveness.hpp"
#include "lokt/log.hpp"
#include "lokt/name.hpp"
#include "lokt/own_lease.hpp"
#include "lokt/root.hpp"
#include "lokt/root_fs.hpp"
#include "lokt/sys.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <type_traits>

namespace lokt::cli {

Result<Store> open_store(bool create) {
    auto root = discover_root();
    if (!root) return root.error();
    LOKT_LOG(info, "lock root ", root->path, " (from ", to_string(root->source), ")");
    if (create) {
        auto made = ensure_root_dirs(*root);
        if (!made) return made.error();
    } else if (auto st = sys::stat(root->path); st && !S_ISDIR(st->st_mode)) {
        return Error{"lock directory " + root->path + " is not a directory"};
    }
    AuditLog audit(root->audit_path());
    return Store(*root, std::move(audit), current_identity());
}

Result<std::optional<Nanos>> duration_flag(const Args& args, const std::string& flag,
                                           const DurationBounds& bounds) {
    auto text = args.value(flag);
    if (!text) return std::optional<Nanos>{};
    auto bad = [&](const std::string& why) {
        return Error{"invalid duration \"" + *text + "\" for --" + flag + ": " + why};
    };
    int64_t ns = 0;
    const DurationError e = parse_go_duration(text->data(), text->size(), &ns);
    if (e == DurationError::too_large || (e == DurationError::none && Nanos(ns) > bounds.max))
        return bad("above the maximum of " + short_duration(bounds.max));
    if (e != DurationError::none)
        return bad(std::string(duration_error_text(e)) + " (use e.g. 300ms, 5s, 10m, 1h30m)");
    if (Nanos(ns) < bounds.min)
        return bad("below the minimum of " + short_duration(bounds.min) + bounds.hint);
    return std::optional<Nanos>{Nanos(ns)};
}

Result<TimingFlags> parse_timing(const Args& args) {
    TimingFlags t;
    auto ttl = duration_flag(args, "ttl", kTtlBounds);
    if (!ttl) return ttl.error();
    if (*ttl) t.ttl = **ttl;
    t.wait = args.switches.count("wait") > 0;
    auto timeout = duration_flag(args, "timeout", kTimeoutBounds);
    if (!timeout) return timeout.error();
    if (*timeout) {
        if (!t.wait) return Error{"--timeout requires --wait"};
        t.timeout = **timeout;
    }
    return t;
}

Result<int> conflict_exit_code(const Args& args) {
    auto text = args.value("conflict-exit-code");
    if (!text) return to_int(ExitCode::held);
    int n = 0;
    // Digits only (no sign, no spaces): an exit status is one byte, so 256 would read as 0.
    const bool digits = !text->empty() && text->size() <= 3 &&
                        std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) n = std::stoi(*text);
    if (!digits || n > 255)
        return Error{"--conflict-exit-code must be a number from 0 to 255, not \"" + *text + "\""};
    return n;
}

std::optional<int> check_single_name(const Command& cmd, const Args& args) {
    if (args.positional.empty()) return usage_error(cmd, "missing lock NAME");
    if (args.positional.size() > 1)
        return usage_error(cmd, "expected one lock NAME, got " +
                                    std::to_string(args.positional.size()) + " arguments");
    if (auto ok = validate_name(args.positional[0]); !ok) return usage_error(cmd, ok.error().message);
    return std::nullopt;
}

std::string short_duration(Nanos d) {
    std::string s = format_duration(d);
    // Go's "2h0m0s" / "10m0s" read better as "2h" / "10m"; keep "0s" itself.
    auto strip = [&](std::string_view tail) {
        if (s.size() > tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0 &&
            !std::isdigit(static_cast<unsigned char>(s[s.size() - tail.size() - 1])))
            s.resize(s.size() - tail.size());
    };
    strip("0s");
    strip("0m");
    return s;
}

Nanos age_of(TimePoint since, TimePoint at) {
    if (at <= since) return Nanos{0};
    return std::chrono::duration_cast<std::chrono::seconds>(at - since);
}

std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        const bool c1 = c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                        static_cast<unsigned char>(s[i + 1]) <= 0x9F;
        if (c >= 0x20 && c != 0x7F && !c1) {
            out += static_cast<char>(c);
            continue;
        }
        switch (c) {
        case '\n': out += "\\n"; continue;
        case '\t': out += "\\t"; continue;
        case '\r': out += "\\r"; continue;
        default: break;
        }
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c1 ? static_cast<unsigned char>(s[++i]) : c);
        out += buf;
    }
    return out;
}

std::string holder_text(const LockRecord& r) { return printable(r.owner + "@" + r.host); }

std::string held_message(const std::string& name, const Held& held, TimePoint at) {
    const LockRecord& holder = held.holder;
    if (held.being_written)
        return "lock \"" + name + "\" is being written by another process (its lock file is still empty or incomplete)";
    return "lock \"" + name + "\" held by " + holder_text(holder) + " (pid " + std::to_string(holder.pid) +
           ") for " + format_duration(age_of(holder.acquired_ts, at));
}

std::string refusal_message(const AcquireOutcome& outcome, const std::string& waited, const Identity& self) {
    const std::string prefix = waited.empty() ? "" : "timed out after " + waited + " waiting: ";
    const TimePoint at = now();
    if (const auto* h = std::get_if<Held>(&outcome)) {
        const LockRecord& r = h->holder;
        if (h->being_written || !is_own_lease(r, self)) return prefix + held_message(r.name, *h, at);
        // A pid here is the exited `lokt lock`: the lease's age and owner are what matter.
        return prefix + "lock \"" + r.name + "\" is held by you (" + printable(r.owner) +
               ", lease from lokt lock " + short_duration(age_of(r.acquired_ts, at)) +
               " ago); run lokt unlock " + r.name + " first";
    }
    if (const auto* f = std::get_if<Frozen>(&outcome)) return prefix + frozen_message(f->freeze.name, f->freeze);
    return prefix + "lock not acquired";
}

std::string shim_refusal_message(const std::string& tool, const AcquireOutcome& outcome,
                                 const std::string& refusal) {
    std::string name;
    if (const auto* h = std::get_if<Held>(&outcome)) name = h->holder.name;
    if (const auto* f = std::get_if<Frozen>(&outcome)) name = f->freeze.name;
    return printable(tool) + " needs lock \"" + name + "\": " + refusal + " (ask: lokt why " + name + ")";
}

std::string frozen_message(const std::string& name, const LockRecord& freeze) {
    std::string until = freeze.expires_at ? format_rfc3339(*freeze.expires_at) : "it is lifted";
    return "lock \"" + name + "\" is frozen until " + until;
}

std::string holder_state(const LockRecord& r, const LocalView& this_host) {
    return std::string(to_string(holder_status(r, this_host)));
}

std::string holder_state_text(const LockRecord& r, const LocalView& this_host) {
    if (r.kind && *r.kind == LockKind::lease) return "lease";
    return holder_state(r, this_host);
}

void print_json(const OrderedJson& j) {
    // replace: an owner string with invalid UTF-8 must not abort the command
    std::string s = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    s += '\n';
    std::fwrite(s.data(), 1, s.size(), stdout);
}

void print_denial(const std::string& name, const AcquireOutcome& outcome, bool json,
                  const std::string& prefix, const LocalView& this_host) {
    const TimePoint at = now();
    std::visit(
        [&](const auto& o) {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, Held>) {
                if (!json) {
                    std::fprintf(stderr, "error: %s%s\n", prefix.c_str(), held_message(name, o, at).c_str());
                    return;
                }
                OrderedJson j;
                j["status"] = "held";
                j["name"] = name;
                if (o.being_written) j["being_written"] = true;
                const OrderedJson h = lock_json(o.holder, false, at, this_host);
                j["holder"] = h;
                // The original's flat fields, for scripts written against it.
                j["holder_owner"] = o.holder.owner;
                j["holder_host"] = o.holder.host;
                j["holder_pid"] = o.holder.pid;
                j["holder_age_sec"] = h["age_sec"];
                if (!prefix.empty()) j["timed_out"] = true;
                print_json(j);
            } else if constexpr (std::is_same_v<T, Frozen>) {
                if (!json) {
                    std::fprintf(stderr, "error: %s%s\n", prefix.c_str(),
                                 frozen_message(name, o.freeze).c_str());
                    return;
                }
                OrderedJson j;
                j["status"] = "frozen";
                j["name"] = name;
                if (o.freeze.expires_at) j["frozen_until"] = format_rfc3339(*o.freeze.expires_at);
                j["freeze"] = lock_json(o.freeze, true, at, this_host);
                if (!prefix.empty()) j["timed_out"] = true;
                print_json(j);
            } else {
                // Acquired is not a denial; nothing to print.
            }
        },
        outcome);
}

} // namespace lokt::cli
