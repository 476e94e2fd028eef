// `lokt why NAME [--json]`: explain whether NAME can be acquired now, and if not, why and what
// to do about it.

#include "cli.hpp"
#include "backend_open.hpp"
#include "lock_json.hpp"
#include "output.hpp"

#include "lokt/liveness.hpp"

#include <cstdio>

namespace lokt::cli {

namespace {

struct Verdict {
    std::string reason;  // free | held | frozen | stale | corrupt
    bool acquirable = false;
    ExitCode code = ExitCode::ok;
    std::vector<std::string> lines;  // human explanation, first line is the headline
};

std::string holder_line(const LockRecord& r, TimePoint at, const LocalView& host) {
    return holder_text(r) + " (pid " + std::to_string(r.pid) + ", " + holder_state_text(r, host) +
           ") for " + format_duration(age_of(r.acquired_ts, at));
}

std::string expiry_line(const LockRecord& r, TimePoint at) {
    std::string s = "acquired " + format_rfc3339(r.acquired_ts);
    if (r.kind) s = std::string(to_string(*r.kind)) + ", " + s;
    if (!r.expires_at) return s + ", no TTL";
    if (r.expired(at)) return s + ", TTL expired at " + format_rfc3339(*r.expires_at);
    return s + ", expires " + format_rfc3339(*r.expires_at) + " (in " +
           format_duration(age_of(at, *r.expires_at)) + ")";
}

Verdict judge_lock(const std::string& name, const LockRecord& r, TimePoint at, const Identity& self,
                   const LocalView& here) {
    Verdict v;
    const std::string q = "lock \"" + name + "\"";
    const bool expired = r.expired(at);
    const bool gone = provably_gone(r, here);
    if (expired || gone) {
        v.reason = "stale";
        v.acquirable = true;
        v.lines.push_back(q + " is stale: held by " + holder_line(r, at, here));
        v.lines.push_back(expiry_line(r, at));
        v.lines.push_back(expired ? "its TTL has passed" : "its holder process is gone");
        v.lines.push_back("the next lokt lock/guard removes it; or now: lokt unlock " + name +
                          " --break-stale");
        return v;
    }
    v.reason = "held";
    v.code = ExitCode::held;
    const bool mine = r.owner == self.owner;
    v.lines.push_back(q + " is held by " + holder_line(r, at, here) + (mine ? " (that is you)" : ""));
    v.lines.push_back(expiry_line(r, at));
    const bool lease = r.kind && *r.kind == LockKind::lease;
    if (r.host != self.host) {
        v.lines.push_back("not stale: the holder is on another host, so only its TTL can end it");
    } else if (lease) {
        v.lines.push_back("not stale: a lease outlives the lokt lock process that took it; it ends "
                          "with lokt unlock " + name + (r.expires_at ? " or at its TTL" : ""));
    } else {
        v.lines.push_back("not stale: the holder process is alive" +
                          std::string(r.expires_at ? " and its TTL has not passed" : ""));
    }
    if (mine && lease)
        v.lines.push_back("lokt lock " + name + " again refreshes it; lokt unlock " + name + " releases it");
    else  // no --force hint: the holder is live, and agents follow printed hints literally
        v.lines.push_back("wait for it: lokt guard " + name + " --wait -- CMD (or lokt lock " + name +
                          " --wait)");
    return v;
}

// A shared or slot lock: judged by its holders, not by the one its lock file mirrors.
Verdict judge_group(const std::string& name, const LockRecord& group, const std::vector<LockRecord>& holders,
                    TimePoint at, const Identity& self, const LocalView& here) {
    std::vector<const LockRecord*> live;
    for (const auto& h : holders)
        if (!h.expired(at) && !provably_gone(h, here)) live.push_back(&h);
    if (live.empty()) return judge_lock(name, group, at, self, here);
    Verdict v;
    v.reason = "held";
    v.code = ExitCode::held;
    const Sharing s = sharing_of(group);
    const std::string n = std::to_string(live.size());
    if (s.mode == LockMode::slots)
        v.lines.push_back("lock \"" + name + "\" is a pool of " + describe_mode(s.mode, s.slots) + ", " + n +
                          " in use:");
    else
        v.lines.push_back("lock \"" + name + "\" is held shared by " + n + (live.size() == 1 ? " holder:" : " holders:"));
    for (const LockRecord* h : live)
        v.lines.push_back(holder_line(*h, at, here) + (h->owner == self.owner ? " (that is you)" : "") +
                          (sharing_of(*h).slot >= 0 ? ", slot " + std::to_string(sharing_of(*h).slot) : ""));
    v.lines.push_back("an exclusive lock/guard waits until every holder is gone");
    if (s.mode == LockMode::shared)
        v.lines.push_back("--shared joins them now, unless an exclusive request is already waiting");
    else if (live.size() < static_cast<size_t>(s.slots))
        v.lines.push_back("--slots " + std::to_string(s.slots) + " takes a free slot now");
    else
        v.lines.push_back("--slots " + std::to_string(s.slots) + " waits for a slot with --wait");
    return v;
}

// The verdict on what is stored for NAME (free, held, stale, corrupt, a newer version).
Result<Verdict> judge_stored(Backend& store, const std::string& name, const ReadOutcome& read, TimePoint at) {
    Verdict v;
    switch (read.status) {
    case DecodeStatus::ok:
        if (read.record && is_group(*read.record)) {
            auto holders = store.holders(name);
            if (!holders) return holders.error();
            return judge_group(name, *read.record, *holders, at, store.self(), store.local_view());
        }
        if (read.record) return judge_lock(name, *read.record, at, store.self(), store.local_view());
        v.reason = "free";
        v.acquirable = true;
        v.lines.push_back("lock \"" + name + "\" is free: lokt lock/guard would acquire it now");
        break;
    case DecodeStatus::corrupt:
        v.reason = "corrupt";
        v.acquirable = true;
        v.lines.push_back("the lock file of \"" + name + "\" is corrupt (" + read.detail + ")");
        v.lines.push_back("the next lokt lock/guard replaces it (audited as corrupt-break)");
        break;
    case DecodeStatus::future_version:
        v.reason = "corrupt";
        v.code = ExitCode::error;
        v.lines.push_back("the lock file of \"" + name + "\" was written by a newer lokt (" + read.detail + ")");
        v.lines.push_back("this lokt leaves it alone; upgrade lokt to use this lock");
        break;
    }
    return v;
}

// A freeze is the answer whatever is held; what is held follows as "also:".
Verdict frozen_verdict(const std::string& name, const LockRecord& freeze, const Verdict& held, bool has_record,
                       TimePoint at) {
    Verdict f;
    f.reason = "frozen";
    f.code = ExitCode::held;
    f.lines.push_back("lock \"" + name + "\" is frozen until " +
                      (freeze.expires_at ? format_rfc3339(*freeze.expires_at) : std::string("?")) + " by " +
                      holder_text(freeze) +
                      (freeze.expires_at ? " (" + format_duration(age_of(at, *freeze.expires_at)) + " left)"
                                         : std::string()));
    f.lines.push_back("every lokt lock/guard of \"" + name + "\" is refused until then; lift it with: "
                      "lokt unfreeze " + name);
    if (has_record && held.reason != "free") {
        f.lines.push_back("also:");
        for (const auto& l : held.lines) f.lines.push_back("  " + l);
    }
    return f;
}

// why --json: the verdict with the holder(s) and the freeze as lock objects.
void print_why_json(Backend& store, const std::string& name, const ReadOutcome& read,
                    const std::optional<LockRecord>& freeze, const Verdict& v, TimePoint at) {
    OrderedJson j;
    j["name"] = name;
    j["acquirable"] = v.acquirable;
    j["reason"] = v.reason;
    j["explanation"] = v.lines;
    if (read.record) {
        j["holder"] = lock_json(*read.record, false, at, store.local_view());
        j["stale"] = read.record->expired(at) || provably_gone(*read.record, store.local_view());
        if (is_group(*read.record)) {
            j["stale"] = v.reason == "stale";  // a group is stale only when all its holders are
            j["holders"] = OrderedJson::array();
            if (auto hs = store.holders(name))
                for (const auto& h : *hs) j["holders"].push_back(lock_json(h, false, at, store.local_view()));
        }
    }
    if (freeze) j["freeze"] = lock_json(*freeze, true, at, store.local_view());
    if (read.status != DecodeStatus::ok) {
        j["detail"] = read.detail;
        j["future_version"] = read.status == DecodeStatus::future_version;
    }
    print_json(j);
}

} // namespace

int cmd_why(const Command& cmd, const Args& args) {
    if (auto bad = check_single_name(cmd, args)) return *bad;
    const std::string& name = args.positional[0];
    auto backend = open_backend(false);
    if (!backend) return fail(backend.error());
    Backend& store = **backend;
    const TimePoint at = now();

    ReadOutcome read;
    if (store.present()) {
        auto r = store.read(name);
        if (!r) return fail(r.error());
        read = std::move(*r);
    }
    const auto freeze = store.peek_freeze(name, at);
    auto v = judge_stored(store, name, read, at);
    if (!v) return fail(v.error());
    if (freeze) *v = frozen_verdict(name, *freeze, *v, read.record.has_value(), at);

    if (args.has("json")) {
        print_why_json(store, name, read, freeze, *v, at);
    } else {
        for (size_t i = 0; i < v->lines.size(); ++i)
            std::printf("%s%s\n", i == 0 ? "" : "  ", printable(v->lines[i]).c_str());
    }
    return to_int(v->code);
}

} // namespace lokt::cli
