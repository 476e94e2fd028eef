// `lokt freeze NAME --ttl D` and `lokt unfreeze NAME [--force]`: the human override.

#include "cli.hpp"
#include "backend_open.hpp"
#include "lock_json.hpp"
#include "output.hpp"

#include "lokt/sys.hpp"

#include <cstdio>

namespace lokt::cli {

int cmd_freeze(const Command& cmd, const Args& args) {
    if (auto bad = check_single_name(cmd, args)) return *bad;
    auto ttl = duration_flag(args, "ttl", DurationBounds{std::chrono::seconds(1), Nanos(kMaxDurationNs), ""});
    if (!ttl) return usage_error(cmd, ttl.error().message);
    if (!*ttl) return usage_error(cmd, "freeze requires --ttl (a forgotten freeze must end by itself)");
    const std::string& name = args.positional[0];

    auto backend = open_backend(true);
    if (!backend) return fail(backend.error());
    Backend& store = **backend;
    auto rec = store.freeze(name, **ttl);
    if (!rec) return fail(rec.error());
    const std::string until = rec->expires_at ? format_rfc3339(*rec->expires_at) : "?";
    if (args.has("json")) {
        OrderedJson j;
        j["status"] = "frozen";
        j["name"] = name;
        j["frozen_until"] = until;
        j["freeze"] = lock_json(*rec, true, now(), store.local_view());
        print_json(j);
    } else {
        std::printf("frozen \"%s\" until %s\n", name.c_str(), until.c_str());
    }
    return to_int(ExitCode::ok);
}

int cmd_unfreeze(const Command& cmd, const Args& args) {
    if (auto bad = check_single_name(cmd, args)) return *bad;
    const std::string& name = args.positional[0];
    auto backend = open_backend(false);
    if (!backend) return fail(backend.error());
    Backend& store = **backend;
    const bool json = args.has("json");
    if (!store.present())
        return refuse(ExitCode::not_found, "not_found", name, "lock \"" + name + "\" is not frozen", json);
    auto r = store.unfreeze(name, args.has("force"));
    if (!r) return fail(r.error());
    switch (r->status) {
    case ReleaseStatus::released:
        break;
    case ReleaseStatus::not_found:
        return refuse(ExitCode::not_found, "not_found", name, "lock \"" + name + "\" is not frozen", json);
    case ReleaseStatus::not_owner: {
        std::string by = r->record ? holder_text(*r->record) : "someone else";
        return refuse(ExitCode::not_owner, "not_owner", name,
                      "\"" + name + "\" was frozen by " + by + ", not by you (use --force to lift it)",
                      json, r->record ? std::optional<InTheWay>(InTheWay{*r->record, true, store.local_view()})
                                      : std::nullopt);
    }
    case ReleaseStatus::not_stale:
    case ReleaseStatus::guarded:
        return fail(ExitCode::error, "unexpected outcome lifting the freeze of \"" + name + "\"");
    }
    if (args.has("json")) {
        OrderedJson j;
        j["status"] = "unfrozen";
        j["name"] = name;
        if (r->record) j["freeze"] = lock_json(*r->record, true, now(), store.local_view());
        print_json(j);
    } else {
        std::printf("unfrozen \"%s\"\n", name.c_str());
    }
    return to_int(ExitCode::ok);
}

} // namespace lokt::cli
