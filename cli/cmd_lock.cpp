// `lokt lock NAME [--ttl D] [--wait [--timeout D]] [--json]`: take a lease and exit.

#include "cli.hpp"
#include "output.hpp"

#include "lokt/wait.hpp"

#include <cstdio>

namespace lokt::cli {

namespace {

void print_acquired(const Acquired& a, bool json) {
    if (json) {
        OrderedJson j;
        j["status"] = "acquired";
        const OrderedJson rec = record_json(a.record);
        for (const auto& [key, value] : rec.items()) j[key] = value;
        j["refreshed"] = a.refreshed;
        print_json(j);
        return;
    }
    std::string details;
    if (a.record.ttl_sec > 0) details = "ttl " + short_duration(std::chrono::seconds(a.record.ttl_sec));
    if (a.refreshed) details += details.empty() ? "refreshed" : ", refreshed";
    std::printf("acquired lock \"%s\"%s\n", a.record.name.c_str(),
                details.empty() ? "" : (" (" + details + ")").c_str());
}

} // namespace

int cmd_lock(const Command& cmd, const Args& args) {
    if (auto bad = check_single_name(cmd, args)) return *bad;
    auto timing = parse_timing(args);
    if (!timing) return usage_error(cmd, timing.error().message);
    const std::string& name = args.positional[0];
    const bool json = args.has("json");

    auto store = open_store(true);
    if (!store) return fail(store.error());

    AcquireRequest req;
    req.name = name;
    req.kind = LockKind::lease;
    req.ttl = timing->ttl;
    req.who = store->self();

    std::optional<AcquireOutcome> outcome;
    std::string prefix;
    if (timing->wait) {
        WaitOptions opt;
        opt.timeout = timing->timeout;
        auto r = acquire_waiting(*store, req, opt);
        if (!r) return fail(r.error());
        outcome = r->outcome;
        if (r->end != WaitEnd::acquired)
            prefix = "timed out after " + short_duration(timing->timeout) + " waiting: ";
    } else {
        auto r = store->try_acquire(req);
        if (!r) return fail(r.error());
        outcome = *r;
    }

    if (const auto* a = std::get_if<Acquired>(&*outcome)) {
        print_acquired(*a, json);
        return to_int(ExitCode::ok);
    }
    store->audit_denial(req, *outcome);
    print_denial(name, *outcome, json, prefix, store->self().host);
    return to_int(ExitCode::held);
}

} // namespace lokt::cli
