// `lokt unlock [NAME] [--force | --break-stale] [--all] [--owner NAME] [--json]`.

#include "cli.hpp"
#include "backend_open.hpp"
#include "lock_json.hpp"
#include "output.hpp"

#include "lokt/liveness.hpp"

#include <cstdio>

namespace lokt::cli {

namespace {

enum class Mode { release, force, break_stale };

std::string who(const LockRecord& r) { return holder_text(r); }

int print_done(const std::string& verb, const std::string& name, const ReleaseOutcome& o,
               bool json, const Backend& store) {
    if (json) {
        OrderedJson j;
        j["status"] = verb;
        j["name"] = name;
        if (o.record) j["lock"] = lock_json(*o.record, false, now(), store.local_view());
        print_json(j);
    } else if (verb == "released" || !o.record) {
        std::printf("%s lock \"%s\"\n", verb.c_str(), name.c_str());
    } else {
        std::printf("%s lock \"%s\" held by %s (pid %d, %s)\n", verb.c_str(), name.c_str(),
                    who(*o.record).c_str(), static_cast<int>(o.record->pid),
                    holder_state_text(*o.record, store.local_view()).c_str());
    }
    return to_int(ExitCode::ok);
}

// --force on a name with no lock lifts its freeze instead, so that
// `lokt status --json | jq -r '.[].name' | xargs -n1 lokt unlock --force` clears everything
// status listed (freezes included) and every call exits 0.
int force_freeze_fallback(Backend& store, const std::string& name, bool json) {
    auto lifted = store.unfreeze(name, true);
    if (!lifted) return fail(lifted.error());
    if (lifted->status != ReleaseStatus::released)
        return refuse(ExitCode::not_found, "not_found", name, "lock \"" + name + "\" not found", json);
    if (json) {
        OrderedJson j;
        j["status"] = "unfrozen";
        j["name"] = name;
        if (lifted->record) j["freeze"] = lock_json(*lifted->record, true, now(), store.local_view());
        print_json(j);
    } else {
        std::printf("no lock \"%s\"; lifted its freeze\n", name.c_str());
    }
    return to_int(ExitCode::ok);
}

// A refusal (status: not_found, not_owner, guarded, not_stale), with --json also on stdout.
int refused(ExitCode code, const char* status, const std::string& name, const std::string& message,
            const std::optional<LockRecord>& record, bool json, const Backend& store) {
    if (!record) return refuse(code, status, name, message, json);
    return refuse(code, status, name, message, json, InTheWay{*record, false, store.local_view()});
}

int refuse_release(const std::string& name, const ReleaseOutcome& o, const Backend& store,
           const std::optional<std::string>& as_owner, bool json) {
    const std::string q = "lock \"" + name + "\"";
    switch (o.status) {
    case ReleaseStatus::released:
        break;
    case ReleaseStatus::not_found:
        return refused(ExitCode::not_found, "not_found", name, q + " not found", o.record, json, store);
    case ReleaseStatus::not_owner: {
        std::string holder = o.record ? who(*o.record) : "someone else";
        std::string me = as_owner ? printable(*as_owner) : "you";
        // A hint only where breaking is safe: a live, unexpired holder is waited for, not broken.
        const bool stale = o.record && (o.record->expired(now()) || provably_gone(*o.record, store.local_view()));
        return refused(ExitCode::not_owner, "not_owner", name, q + " is held by " + holder + ", not by " + me +
                                             (stale ? " (it is stale: lokt unlock " + name + " --break-stale)" : ""), o.record, json, store);
    }
    case ReleaseStatus::guarded: {
        std::string pid = o.record ? " (pid " + std::to_string(o.record->pid) + ")" : "";
        return refused(ExitCode::held, "guarded", name, q + " is held by a running guard" + pid +
                                        "; it releases when its command ends", o.record, json, store);
    }
    case ReleaseStatus::not_stale: {
        std::string detail;
        if (o.record)
            detail = ": held by " + who(*o.record) + " (pid " + std::to_string(o.record->pid) + ", " +
                     holder_state_text(*o.record, store.local_view()) + ") for " +
                     format_duration(age_of(o.record->acquired_ts, now())) + " and not expired";
        return refused(ExitCode::held, "not_stale", name, q + " is not stale" + detail, o.record, json, store);
    }
    }
    return fail(ExitCode::error, q + ": unexpected release outcome");
}

int unlock_one(const Command& cmd, const Args& args, Mode mode, bool json) {
    if (auto bad = check_single_name(cmd, args)) return *bad;
    const std::string& name = args.positional[0];
    const auto as_owner = args.value("owner");
    if (as_owner && mode != Mode::release)
        return usage_error(cmd, "--owner cannot be combined with --force or --break-stale");

    auto backend = open_backend(false);
    if (!backend) return fail(backend.error());
    Backend& store = **backend;
    if (!store.present())
        return refused(ExitCode::not_found, "not_found", name, "lock \"" + name + "\" not found", std::nullopt, json, store);

    Result<ReleaseOutcome> r = Error{};
    switch (mode) {
    case Mode::release: r = store.release_owned(name, as_owner); break;
    case Mode::force: r = store.force_break(name); break;
    case Mode::break_stale: r = store.break_stale(name); break;
    }
    if (!r) return fail(r.error());
    if (r->status == ReleaseStatus::released) {
        const char* verb = mode == Mode::release ? "released" : mode == Mode::force ? "broke" : "broke stale";
        return print_done(verb, name, *r, json, store);
    }
    if (mode == Mode::force && r->status == ReleaseStatus::not_found)
        return force_freeze_fallback(store, name, json);
    return refuse_release(name, *r, store, as_owner, json);
}

int unlock_all(const std::string& owner, bool json) {
    auto backend = open_backend(false);
    if (!backend) return fail(backend.error());
    Backend& store = **backend;
    std::vector<std::string> released;
    std::vector<std::string> kept;
    if (store.present()) {
        auto entries = store.list(false);
        if (!entries) return fail(entries.error());
        for (const auto& e : *entries) {
            if (e.frozen || e.record.owner != owner) continue;
            auto r = store.release_owned(e.record.name, owner);
            if (!r) return fail(r.error());
            if (r->status == ReleaseStatus::released) {
                released.push_back(e.record.name);
            } else if (r->status == ReleaseStatus::guarded) {
                kept.push_back(e.record.name);
                std::fprintf(stderr, "note: kept lock \"%s\": a running guard (pid %d) holds it\n",
                             e.record.name.c_str(), static_cast<int>(e.record.pid));
            }
        }
    }
    if (json) {
        OrderedJson j;
        j["released"] = released;
        j["count"] = released.size();
        j["owner"] = owner;
        if (!kept.empty()) j["kept"] = kept;
        print_json(j);
    } else {
        std::string names;
        for (const auto& n : released) names += (names.empty() ? ": " : ", ") + n;
        std::printf("released %zu lock%s of %s%s\n", released.size(), released.size() == 1 ? "" : "s",
                    printable(owner).c_str(), names.c_str());
    }
    return to_int(ExitCode::ok);
}

} // namespace

int cmd_unlock(const Command& cmd, const Args& args) {
    const bool force = args.has("force");
    const bool stale = args.has("break-stale");
    const bool all = args.has("all");
    const bool json = args.has("json");
    if (force && stale) return usage_error(cmd, "--force and --break-stale cannot be combined");
    const Mode mode = force ? Mode::force : stale ? Mode::break_stale : Mode::release;

    if (all || (args.has("owner") && args.positional.empty())) {
        if (!args.positional.empty())
            return usage_error(cmd, "--all cannot be combined with a lock NAME");
        if (force || stale)
            return usage_error(cmd, "--all/--owner cannot be combined with --force or --break-stale");
        auto owner = args.value("owner");
        if (owner && owner->empty()) return usage_error(cmd, "--owner needs a non-empty NAME");
        if (owner) return unlock_all(*owner, json);
        return unlock_all(current_identity().owner, json);
    }
    return unlock_one(cmd, args, mode, json);
}

} // namespace lokt::cli
