// `lokt lock NAME [--shared | --slots N] [--ttl D] [--wait [--timeout D]] [-q] [--json]`:
// take a lease and exit.

#include "cli.hpp"
#include "backend_open.hpp"
#include "lock_json.hpp"
#include "output.hpp"

#include "lokt/proc/signals.hpp"
#include "lokt/wait.hpp"
#include "lokt/wait_report.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>

namespace lokt::cli {

namespace {

void print_acquired(const Acquired& a, bool json, const LocalView& this_host) {
    if (json) {
        // The lock object every command prints, flat, between status and refreshed.
        OrderedJson j;
        j["status"] = "acquired";
        const OrderedJson rec = lock_json(a.record, false, now(), this_host);
        for (const auto& [key, value] : rec.items()) j[key] = value;
        j["refreshed"] = a.refreshed;
        print_json(j);
        return;
    }
    std::string details = mode_suffix(a.record);
    if (a.record.ttl_sec > 0)
        details += (details.empty() ? "ttl " : ", ttl ") + short_duration(std::chrono::seconds(a.record.ttl_sec));
    if (a.refreshed) details += details.empty() ? "refreshed" : ", refreshed";
    std::printf("acquired lock \"%s\"%s\n", a.record.name.c_str(),
                details.empty() ? "" : (" (" + details + ")").c_str());
}

/// SIGINT, SIGTERM and SIGHUP during a wait: blocked and read from a signalfd, so that the
/// wait ends as cancelled (reported and audited) instead of the process dying silently.
class CancelSignals {
public:
    CancelSignals() {
        ::sigemptyset(&set_);
        for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
            struct sigaction sa {};
            // A signal the caller ignores stays ignored (nohup).
            if (::sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler != SIG_IGN) ::sigaddset(&set_, sig);
        }
        ::sigprocmask(SIG_BLOCK, &set_, &old_);
        if (auto fd = proc::make_signalfd(set_)) fd_ = std::move(*fd);
    }
    ~CancelSignals() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
    CancelSignals(const CancelSignals&) = delete;
    CancelSignals& operator=(const CancelSignals&) = delete;

    int fd() const { return fd_.get(); }
    /// The signal that cancelled the wait (SIGTERM if it cannot be read).
    int which() const {
        auto got = proc::read_signals(fd_.get());
        return got.empty() ? SIGTERM : static_cast<int>(got.front().ssi_signo);
    }

private:
    sigset_t set_{}, old_{};
    sys::UniqueFd fd_;
};

} // namespace

int cmd_lock(const Command& cmd, const Args& args) {
    if (auto bad = check_single_name(cmd, args)) return *bad;
    auto timing = parse_timing(args);
    if (!timing) return usage_error(cmd, timing.error().message);
    auto mode = parse_mode(args);
    if (!mode) return usage_error(cmd, mode.error().message);
    auto conflict_code = conflict_exit_code(args);
    if (!conflict_code) return usage_error(cmd, conflict_code.error().message);
    const std::string& name = args.positional[0];
    const bool json = args.has("json");

    auto backend = open_backend(true);
    if (!backend) return fail(backend.error());
    Backend& store = **backend;

    AcquireRequest req;
    req.name = name;
    req.kind = LockKind::lease;
    req.mode = mode->mode;
    req.slots = mode->slots;
    req.ttl = timing->ttl;
    req.who = store.self();

    std::optional<AcquireOutcome> outcome;
    std::string prefix;
    if (timing->wait) {
        WaitOptions opt;
        opt.timeout = timing->timeout;
        WaitReporter reporter(STDERR_FILENO, wait_display(STDERR_FILENO, args.has("quiet")));
        reporter.attach(opt);
        CancelSignals cancel;
        opt.cancel_fd = cancel.fd();
        auto r = store.acquire_waiting(req, opt);
        if (!r) return fail(r.error());
        if (r->end == WaitEnd::cancelled) return to_int(ExitCode::signal_base) + cancel.which();
        outcome = r->outcome;
        if (r->end != WaitEnd::acquired)
            prefix = "timed out after " + short_duration(timing->timeout) + " waiting: ";
    } else {
        auto r = store.try_acquire(req);
        if (!r) return fail(r.error());
        outcome = *r;
    }

    if (const auto* a = std::get_if<Acquired>(&*outcome)) {
        print_acquired(*a, json, store.local_view());
        return to_int(ExitCode::ok);
    }
    store.audit_denial(req, *outcome);
    print_denial(name, *outcome, json, prefix, store.local_view());
    return *conflict_code;
}

} // namespace lokt::cli
