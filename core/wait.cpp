// Waiting for a lock: a FIFO ticket queue (queue.cpp) in front of try_acquire. Only the head
// of the queue tries; it sleeps on exactly the events that can end its wait (the lock file or
// the freeze going away, the holder's death, the TTL or freeze expiry). The others each sleep
// on their predecessor's ticket (and its pidfd), so a release wakes one process, not all.
#include "lokt/wait.hpp"

#include "lokt/liveness.hpp"
#include "lokt/name.hpp"
#include "lokt/sys.hpp"
#include "lokt/queue.hpp"
#include "wait_watch.hpp"

#include <poll.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace lokt {
namespace {

using detail::Steady;
using detail::TicketWatch;
using detail::Wake;

/// Processes whose pidfd already fired. One that still looks alive afterwards is a zombie
/// nobody has reaped yet (/proc still lists it): waiting on its pidfd again would spin, so
/// for it we fall back to polling until it is reaped.
struct Exited {
    std::vector<std::pair<pid_t, uint64_t>> seen;
    bool contains(pid_t pid, uint64_t start) const {
        return std::find(seen.begin(), seen.end(), std::pair{pid, start}) != seen.end();
    }
};

/// A pidfd for `pid` if it is (still) the process that started at `start`; else invalid.
sys::UniqueFd pidfd_if_alive(pid_t pid, uint64_t start, const Exited& exited) {
    if (pid <= 0 || exited.contains(pid, start)) return {};
    auto fd = sys::pidfd_open(pid);
    if (!fd) return {};
    // Checked after opening: the pidfd pins this exact process, so a recycled pid cannot
    // slip in between the check and the wait.
    if (!process_alive(pid, start)) return {};
    return std::move(*fd);
}

/// Whether the holder's death may free the lock (a lease's pid says nothing, P4).
bool death_matters(const LockRecord& holder, const std::string& host) {
    return holder.host == host && holder.pid > 0 && (!holder.kind || *holder.kind != LockKind::lease);
}

/// What blocks `req` right now (to report when giving up); with `may_acquire`, a lock that
/// turns out to be free is taken instead.
Result<AcquireOutcome> current_outcome(Store& store, const AcquireRequest& req, bool may_acquire) {
    auto fz = store.active_freeze(req.name);
    if (!fz) return fz.error();
    if (*fz) return AcquireOutcome{Frozen{**fz}};
    auto rd = store.read(req.name);
    if (!rd) return rd.error();
    if (rd->record) return AcquireOutcome{Held{*rd->record}};
    if (may_acquire) return store.try_acquire(req);
    return AcquireOutcome{Held{}};
}

} // namespace

Result<WaitResult> acquire_waiting(Store& store, const AcquireRequest& req, const WaitOptions& opt) {
    LOKT_TRY(validate_name(req.name));
    const auto deadline = Deadline::after(opt.timeout).when();  // saturates: never wraps
    if (opt.cancel_fd >= 0) {
        struct pollfd p {opt.cancel_fd, POLLIN, 0};
        auto r = sys::poll(&p, 1, Nanos(0));
        if (r && *r > 0) {
            auto cur = current_outcome(store, req, false);
            if (!cur) return cur.error();
            return WaitResult{WaitEnd::cancelled, *cur};
        }
    }
    const std::string& host = store.self().host;
    detail::Watcher watcher(store.root(), req.name, detail::inotify_wanted(store.root(), opt));

    // Without a ticket (queue directory not writable) we still wait, just not in order.
    std::optional<detail::Ticket> ticket;
    if (auto t = detail::Ticket::enter(store.root(), req.name, host)) ticket.emplace(std::move(*t));

    std::optional<AcquireOutcome> last;
    detail::Backoff backoff;
    Exited exited;
    bool head = false;

    auto give_up = [&](Wake w) -> Result<WaitResult> {
        ticket.reset();  // leave the queue before the final look
        if (w == Wake::cancelled) {
            if (!last) {
                auto cur = current_outcome(store, req, false);
                if (!cur) return cur.error();
                last = *cur;
            }
            return WaitResult{WaitEnd::cancelled, *last};
        }
        // Timed out: one last look. If the lock fell free just now, take it rather than
        // report a holder that is gone.
        auto cur = current_outcome(store, req, true);
        if (!cur) return cur.error();
        if (std::holds_alternative<Acquired>(*cur)) return WaitResult{WaitEnd::acquired, *cur};
        const auto* h = std::get_if<Held>(&*cur);
        if (!last || !h || !h->holder.lock_id.empty()) last = *cur;
        return WaitResult{WaitEnd::timed_out, *last};
    };

    for (;;) {
        if (ticket) {
            auto pred = ticket->predecessor();
            if (!pred) {
                ticket.reset();  // the queue is unreadable: degrade to unordered waiting
                continue;
            }
            if (*pred) {
                head = false;
                auto watch = watcher.watch_ticket(ticket->path_of(**pred));
                if (watch == TicketWatch::gone) continue;
                sys::UniqueFd pidfd = pidfd_if_alive((*pred)->pid, (*pred)->start, exited);
                std::optional<Nanos> poll_every;
                if (watch == TicketWatch::failed || !pidfd.valid()) poll_every = backoff.next();
                auto w = watcher.wait(pidfd.get(), {}, poll_every, deadline, opt.cancel_fd);
                if (!w) return w.error();
                if (*w == Wake::pid_exited) exited.seen.emplace_back((*pred)->pid, (*pred)->start);
                else if (*w != Wake::changed) return give_up(*w);
                continue;
            }
            watcher.unwatch_ticket();
        }
        if (!head) {
            head = true;
            backoff.reset();
            watcher.watch_lock_dirs();  // before trying, so a release right after is not missed
        }

        auto out = store.try_acquire(req);
        if (!out) return out.error();
        if (std::holds_alternative<Acquired>(*out)) return WaitResult{WaitEnd::acquired, *out};
        last = *out;

        std::optional<TimePoint> expiry;
        sys::UniqueFd pidfd;
        std::pair<pid_t, uint64_t> watched{0, 0};
        std::optional<Nanos> poll_every;
        if (const auto* h = std::get_if<Held>(&*out)) {
            expiry = h->holder.expires_at;
            if (death_matters(h->holder, host)) {
                pidfd = pidfd_if_alive(h->holder.pid, h->holder.pid_start_ns, exited);
                if (pidfd.valid()) watched = {h->holder.pid, h->holder.pid_start_ns};
                // Holder dead but its process group lives on (or no pidfds): nothing will
                // notify us when the group empties, so look again now and then.
                if (!pidfd.valid()) poll_every = backoff.next();
            }
        } else if (const auto* f = std::get_if<Frozen>(&*out)) {
            expiry = f->freeze.expires_at;
        }
        if (!watcher.active()) poll_every = backoff.next();
        auto w = watcher.wait(pidfd.get(), expiry, poll_every, deadline, opt.cancel_fd);
        if (!w) return w.error();
        if (*w == Wake::pid_exited) exited.seen.push_back(watched);
        else if (*w != Wake::changed) return give_up(*w);
    }
}

} // namespace lokt
