// `lokt status [NAME] [--json] [--prune-expired]`: list held locks and freezes, or show one.

#include "cli.hpp"
#include "backend_open.hpp"
#include "lock_json.hpp"
#include "output.hpp"

#include "lokt/name.hpp"
#include "lokt/sys.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

namespace lokt::cli {

namespace {

std::string state_of(const LockEntry& e, TimePoint at, const LocalView& host) {
    if (e.frozen) return "FROZEN";
    const std::string mode = mode_suffix(e.record);  // one line per shared or slot holder
    const std::string state = e.record.expired(at) ? "expired" : holder_state_text(e.record, host);
    return mode.empty() ? state : state + " (" + mode + ")";
}

std::string expiry_text(const LockRecord& r, TimePoint at) {
    if (!r.expires_at) return "no ttl";
    std::string s = "ttl " + short_duration(std::chrono::seconds(r.ttl_sec));
    if (r.expired(at)) return s + ", expired";
    return s + ", expires in " + format_duration(age_of(at, *r.expires_at));
}

void print_table(const std::vector<LockEntry>& entries, TimePoint at, const LocalView& host,
                 const std::string& root) {
    if (entries.empty()) {
        // Which root was looked at: a lock taken under another root (another worktree's
        // ./.lokt, a different LOKT_ROOT) is the usual reason for an unexpected "none".
        std::printf("no locks held (root %s)\n", printable(root).c_str());
        return;
    }
    size_t wname = 4, wwho = 5;
    for (const auto& e : entries) {
        wname = std::max(wname, e.record.name.size());
        wwho = std::max(wwho, holder_text(e.record).size());
    }
    std::printf("%-*s  %-*s  %-11s  %-12s  %-26s  %s\n", static_cast<int>(wname), "NAME",
                static_cast<int>(wwho), "OWNER", "PID", "AGE", "TTL", "STATE");
    for (const auto& e : entries) {
        const LockRecord& r = e.record;
        std::string who = holder_text(r);
        std::string when = e.frozen && r.expires_at ? "frozen until " + format_rfc3339(*r.expires_at)
                                                    : expiry_text(r, at);
        std::printf("%-*s  %-*s  pid %-7d  age %-8s  %-26s  %s\n", static_cast<int>(wname),
                    r.name.c_str(), static_cast<int>(wwho), who.c_str(), static_cast<int>(r.pid),
                    format_duration(age_of(r.acquired_ts, at)).c_str(), when.c_str(),
                    state_of(e, at, host).c_str());
    }
}

void print_details(const LockRecord& r, TimePoint at, const LocalView& host) {
    std::printf("name:      %s\n", r.name.c_str());
    std::printf("owner:     %s\n", holder_text(r).c_str());
    std::printf("pid:       %d (%s)\n", static_cast<int>(r.pid), holder_state_text(r, host).c_str());
    if (r.kind) std::printf("kind:      %s\n", std::string(to_string(*r.kind)).c_str());
    if (!r.command.empty()) std::printf("command:   %s\n", printable(r.command).c_str());
    std::printf("agent:     %s\n", printable(r.agent_id).c_str());
    std::printf("lock_id:   %s\n", printable(r.lock_id).c_str());
    if (r.fence > 0) std::printf("fence:     %lld\n", static_cast<long long>(r.fence));
    std::printf("acquired:  %s (%s ago)\n", format_rfc3339(r.acquired_ts).c_str(),
                format_duration(age_of(r.acquired_ts, at)).c_str());
    if (r.expires_at) {
        std::printf("ttl:       %s\n", short_duration(std::chrono::seconds(r.ttl_sec)).c_str());
        if (r.expired(at))
            std::printf("expires:   %s (EXPIRED)\n", format_rfc3339(*r.expires_at).c_str());
        else
            std::printf("expires:   %s (in %s)\n", format_rfc3339(*r.expires_at).c_str(),
                        format_duration(age_of(at, *r.expires_at)).c_str());
    } else {
        std::printf("ttl:       none\n");
    }
}

// A shared or slot lock: every holder's details, one block each.
void print_holders(const Backend& store, const std::string& name, TimePoint at, const LocalView& host) {
    auto holders = store.holders(name);
    if (!holders) {
        std::printf("lock \"%s\": %s\n", name.c_str(), printable(holders.error().message).c_str());
        return;
    }
    for (size_t i = 0; i < holders->size(); ++i) {
        if (i) std::printf("\n");
        print_details((*holders)[i], at, host);
        std::printf("mode:      %s\n", mode_suffix((*holders)[i]).c_str());
    }
}

// Lock files the backend could not decode (garbage, truncated, a newer version) are not
// entries, but a human listing should still show that something sits there.
void print_unreadable(const Backend& store, const std::vector<LockEntry>& entries) {
    for (const auto& u : store.unreadable(entries)) {
        if (u.is_error) std::printf("%s  %s\n", u.name.c_str(), printable(u.detail).c_str());
        else
            std::printf("%s  unreadable lock file (%s): see lokt why %s\n", u.name.c_str(),
                        printable(u.detail).c_str(), u.name.c_str());
    }
}

int show_one(const Backend& store, const std::string& name, bool json) {
    const TimePoint at = now();
    const LocalView& host = store.local_view();
    auto read = store.read(name);
    if (!read) return fail(read.error());
    switch (read->status) {
    case DecodeStatus::ok:
        break;
    case DecodeStatus::corrupt:
        return fail(ExitCode::error, "lock file of \"" + name + "\" is corrupt (" + read->detail +
                                         "); the next acquirer replaces it");
    case DecodeStatus::future_version:
        return fail(ExitCode::error, "lock file of \"" + name + "\" has a newer format (" +
                                         read->detail + "); upgrade lokt to read it");
    }
    auto freeze = store.peek_freeze(name, at);
    if (!read->record && !freeze)
        return refuse(ExitCode::not_found, "not_found", name, "lock \"" + name + "\" not found", json);

    if (json) {
        if (read->record) {
            OrderedJson j = lock_json(*read->record, false, at, host);
            if (is_group(*read->record)) {
                j["holders"] = OrderedJson::array();
                if (auto hs = store.holders(name))
                    for (const auto& h : *hs) j["holders"].push_back(lock_json(h, false, at, host));
            }
            if (freeze && freeze->expires_at) j["frozen_until"] = format_rfc3339(*freeze->expires_at);
            print_json(j);
        } else {
            print_json(lock_json(*freeze, true, at, host));
        }
        return to_int(ExitCode::ok);
    }
    if (read->record && is_group(*read->record)) {
        print_holders(store, name, at, host);
    } else if (read->record)
        print_details(*read->record, at, host);
    else
        std::printf("lock \"%s\" is not held\n", name.c_str());
    if (freeze)
        std::printf("FROZEN:    until %s by %s (lokt unfreeze %s)\n",
                    freeze->expires_at ? format_rfc3339(*freeze->expires_at).c_str() : "?",
                    holder_text(*freeze).c_str(), name.c_str());
    return to_int(ExitCode::ok);
}

} // namespace

int cmd_status(const Command& cmd, const Args& args) {
    if (args.positional.size() > 1)
        return usage_error(cmd, "expected at most one lock NAME, got " +
                                    std::to_string(args.positional.size()) + " arguments");
    if (args.positional.size() == 1) {
        if (auto ok = validate_name(args.positional[0]); !ok) return usage_error(cmd, ok.error().message);
    }
    const bool json = args.has("json");
    const bool prune = args.has("prune-expired");

    auto backend = open_backend(false);
    if (!backend) return fail(backend.error());
    Backend& store = **backend;

    std::vector<LockEntry> entries;
    if (store.present() && (prune || args.positional.empty())) {
        auto listed = store.list(prune);
        if (!listed) return fail(listed.error());
        entries = std::move(*listed);
    }
    if (args.positional.size() == 1) {
        if (!store.present())
            return refuse(ExitCode::not_found, "not_found", args.positional[0],
                          "lock \"" + args.positional[0] + "\" not found", json);
        return show_one(store, args.positional[0], json);
    }

    const TimePoint at = now();
    if (json) {
        std::string out;
        out.reserve(entries.size() * 420 + 4);
        out += entries.empty() ? "[" : "[\n";
        for (size_t i = 0; i < entries.size(); ++i) {
            if (i) out += ",\n";
            append_lock_json(out, entries[i].record, entries[i].frozen, at, store.local_view(), 2);
        }
        out += entries.empty() ? "]\n" : "\n]\n";
        std::fwrite(out.data(), 1, out.size(), stdout);
        return to_int(ExitCode::ok);
    }
    print_table(entries, at, store.local_view(), store.describe());
    if (store.present()) print_unreadable(store, entries);
    return to_int(ExitCode::ok);
}

} // namespace lokt::cli
