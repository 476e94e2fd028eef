#include "broker.hpp"

#include "remote.hpp"

#include "lokt/proc_stat.hpp"
#include "lokt/audit_event.hpp"
#include "lokt/wait.hpp"
#include "lokt/wait_report.hpp"

#include <algorithm>
#include <cstring>
#include <cerrno>

namespace lokt::seccomp {
namespace {

// A notification lost to a signal (kernels without WAIT_KILLABLE_RECV) is restarted by the
// kernel at once; its place in the queue and its locks are kept this long for the restart.
constexpr auto kDetachGrace = std::chrono::seconds(2);
// After CONTINUE, the first look whether the exec went through (broker_running.cpp).
constexpr auto kFirstExecCheck = std::chrono::milliseconds(2);

Steady steady_now() { return std::chrono::steady_clock::now(); }

// The name the caller typed for the program ("git"), which a refusal names.
std::string tool_of(const ExecRequest& req) {
    const std::string& p = req.argv.empty() || req.argv[0].empty() ? req.path : req.argv[0];
    return p.substr(p.rfind('/') == std::string::npos ? 0 : p.rfind('/') + 1);
}

} // namespace

Broker::Broker(Backend& backend, const rules::RuleSet& rs, BrokerConfig cfg, Responder& resp)
    : backend_(backend), rs_(rs), cfg_(std::move(cfg)), resp_(resp) {}

std::string Broker::command_of(const ExecRequest& req) const {
    std::string out;
    for (const auto& a : req.argv) {
        if (!out.empty()) out += ' ';
        out += a;
        if (out.size() > 4096) break;  // for humans only; argv may be huge
    }
    return out;
}

AcquireRequest Broker::request_for(const Pending& p, const std::string& name) const {
    AcquireRequest r;
    r.name = name;
    r.kind = LockKind::shim;
    // A rule's `shared` / `slots=N` (rules::decide settles disagreements as exclusive).
    const rules::Decision& d = p.req.decision;
    if (d.mode == rules::RuleMode::shared) r.mode = LockMode::shared;
    if (d.mode == rules::RuleMode::slots && parse_slot_count(rs_.str(d.slots_offset), std::strlen(rs_.str(d.slots_offset)), &r.slots))
        r.mode = LockMode::slots;
    r.ttl = cfg_.ttl;
    r.who = backend_.self();
    r.who.pid = p.req.tgid;
    r.who.pid_start = p.req.tgid_start;
    // The anchor's group keeps the lock alive between the tool's exit and our release
    // (seccomp/anchor.hpp); without it a waiter woken by the tool's death pruned the lock.
    r.pgid = cfg_.anchor_pgid;
    r.command = command_of(p.req);
    return r;
}

void Broker::submit(ExecRequest req) {
    // A thread has one exec in flight at most: an entry of the same thread belongs to a
    // notification a signal took away (kernels without WAIT_KILLABLE_RECV), and this is its
    // restart. It keeps its place in the queue, its deadline and the locks it already got.
    for (auto& p : pending_) {
        if (p.done || p.req.tid != req.tid || p.req.file != req.file) continue;
        p.req.id = req.id;
        p.detached = false;
        attempt(p);
        sweep();
        return;
    }

    Pending p;
    p.seq = next_seq_++;
    const auto& d = req.decision;
    const std::string& host = backend_.self().host;
    for (uint32_t i = 0; i < d.name_count; ++i) {
        std::string name = rs_.str(d.name_offsets[i]);
        // Re-entrancy: a lock held by this process or one of its ancestors (a guard above
        // it, or a tool we locked that runs a nested match) is not taken again. A lease's pid
        // is the `lokt lock` that already exited: it says nothing (P4).
        if (auto cur = backend_.read(name); cur && cur->record && cur->record->host == host &&
                                          cur->record->kind && *cur->record->kind != LockKind::lease &&
                                          is_self_or_ancestor(cur->record->pid,
                                                              cur->record->pid_start_ns, req.tgid))
            continue;
        p.names.push_back(std::move(name));
    }
    if (p.names.empty()) {
        resp_.allow(req.id);
        return;
    }
    std::sort(p.names.begin(), p.names.end());
    auto fd = sys::pidfd_open(req.tgid);
    if (!fd) return;  // it died: the notification is gone with it
    p.pidfd = std::move(*fd);
    p.started = steady_now();
    p.until = Deadline::after(Nanos(d.wait_ns), p.started);
    p.deadline = p.until.when();
    p.req = std::move(req);
    pending_.push_back(std::move(p));
    attempt(pending_.back());
    sweep();
}

bool Broker::blocked_by_earlier(const Pending& p, const std::string& name) const {
    for (const auto& q : pending_) {
        if (q.seq >= p.seq) break;
        if (!q.done && q.got.size() < q.names.size() && q.names[q.got.size()] == name) return true;
    }
    return false;
}

void Broker::attempt(Pending& p) {
    while (!p.done && p.got.size() < p.names.size()) {
        const std::string& name = p.names[p.got.size()];
        const bool expired = steady_now() >= p.deadline;
        if (!expired && blocked_by_earlier(p, name)) return report_waiting(p, name);
        // First come, first served among every waiter of the name (guards with --wait, other
        // supervisors, other hosts on etcd): the backend's queue keeps our place.
        if (!p.acq) {
            auto a = backend_.enqueue(request_for(p, name), p.until);
            if (!a) return broken(p, name, a.error());
            p.acq = std::move(*a);
        }
        auto r = p.acq->step(expired);
        if (!r) return broken(p, name, r.error());
        p.awaiting = !*r;
        if (p.awaiting) return;  // its fd says when the answer is in
        if (const auto* a = std::get_if<Acquired>(&**r)) {
            p.got.push_back({{name, a->record.lock_id, -1, a->record.fence}, std::move(p.acq)});
            continue;
        }
        p.last = **r;
        const bool frozen = std::holds_alternative<Frozen>(**r);
        if (frozen && p.req.decision.on_frozen == rules::OnFrozen::fail) return refuse(p, false);
        if (expired) {
            if (!frozen && p.req.decision.on_timeout == rules::OnTimeout::run) return run_unlocked(p);
            return refuse(p, p.req.decision.wait_ns > 0);
        }
        report_waiting(p, name);
        return;
    }
    if (!p.done) grant(p);
}

void Broker::broken(Pending& p, const std::string& name, const Error& e) {
    // A broken store must not stop the agent's tools: run the exec unlocked.
    if (cfg_.warn) cfg_.warn("lock \"" + name + "\": " + e.message + "; running \"" + p.req.path + "\" without it");
    p.acq.reset();
    release(p.got, "aborted");
    if (!p.detached) resp_.allow(p.req.id);
    p.done = true;
}

void Broker::grant(Pending& p) {
    if (p.detached) return;  // keep the locks for the restarted syscall
    auto fd = sys::pidfd_open(p.req.tgid);
    // allow() fails when the notification is gone, so a pidfd opened before a successful
    // allow() is the target's and not a recycled pid's.
    if (!fd || !resp_.allow(p.req.id)) {
        if (fd && resp_.valid(p.req.id)) return;  // cannot happen; retried on the next pass
        p.detached = true;
        p.detached_until = steady_now() + kDetachGrace;
        return;
    }
    wait_ended(p, WaitEnd::acquired, p.got.empty() ? "" : p.got.back().lock.lock_id);
    Running r;
    r.req = std::move(p.req);
    r.pidfd = std::move(*fd);
    r.locks = std::move(p.got);
    const Steady at = steady_now();
    // The image cannot be told apart when a process execs its own program again.
    r.confirmed = !r.req.old_exe || *r.req.old_exe == r.req.file;
    r.check_started = at;
    r.check_step = kFirstExecCheck;
    r.next_check = at + r.check_step;
    if (cfg_.ttl.count() > 0) r.next_renew = Deadline::after(cfg_.ttl / 2, at).when();
    running_.push_back(std::move(r));
    p.done = true;
}

void Broker::refuse(Pending& p, bool timed_out) {
    const AcquireRequest req = request_for(p, p.names[std::min(p.got.size(), p.names.size() - 1)]);
    wait_ended(p, WaitEnd::timed_out, "");
    p.acq.reset();
    release(p.got, "aborted");
    p.done = true;
    if (!p.last) return;
    if (!p.detached) {
        // The message first, so it precedes whatever the caller prints about EAGAIN. The
        // caller typed e.g. "git push", not lokt: "lokt:" says who speaks, as in preload mode.
        const std::string waited = timed_out ? rs_.str(p.req.decision.wait_offset) : "";
        if (cfg_.refusal)
            write_to_stderr_of(p.req.tgid, "lokt: " + cfg_.refusal(tool_of(p.req), *p.last, waited) + "\n");
        resp_.deny(p.req.id, EAGAIN);
    }
    AcquireRequest named = req;
    if (const auto* h = std::get_if<Held>(&*p.last)) named.name = h->holder.name;
    if (const auto* f = std::get_if<Frozen>(&*p.last)) named.name = f->freeze.name;
    backend_.audit_denial(named, *p.last);
}

void Broker::run_unlocked(Pending& p) {
    const std::string blocked = p.names[std::min(p.got.size(), p.names.size() - 1)];
    p.acq.reset();
    release(p.got, "aborted");
    p.done = true;
    if (p.detached) return;
    const std::string why =
        cfg_.refusal && p.last ? cfg_.refusal("", *p.last, rs_.str(p.req.decision.wait_offset)) : "lock not acquired";
    write_to_stderr_of(p.req.tgid, "warning: " + why + "; running it without the lock (on-timeout=run)\n");
    Identity who = backend_.self();
    who.pid = p.req.tgid;
    AuditEvent e = make_event("unlocked-run", who, blocked);
    e.extra = {{"command", shorten(command_of(p.req), kAuditCommandMax)}, {"kind", "shim"}};
    write_event(backend_, e);
    resp_.allow(p.req.id);
}

void Broker::report_waiting(Pending& p, const std::string& name) {
    p.waited = true;
    const Steady at = steady_now();
    if (cfg_.report_every.count() <= 0 || p.detached || (p.next_report && at < *p.next_report)) return;
    p.next_report = at + cfg_.report_every;
    WaitProgress w;
    w.name = name;
    w.blocker = p.last;
    w.waited = std::chrono::duration_cast<Nanos>(at - p.started);
    write_to_stderr_of(p.req.tgid, wait_report_text(w, now()) + "\n");
}

void Broker::wait_ended(Pending& p, WaitEnd end, const std::string& lock_id) {
    if (!p.waited) return;
    p.waited = false;
    const Nanos waited = std::chrono::duration_cast<Nanos>(steady_now() - p.started);
    const std::string& name = p.names[std::min(p.got.size(), p.names.size() - 1)];
    Identity waiter = backend_.self();
    waiter.pid = p.req.tgid;
    write_event(backend_, wait_end_event(waiter, name, lock_id, waited, end));
    if (end != WaitEnd::acquired || !p.next_report || p.detached) return;
    WaitProgress w;
    w.phase = WaitProgress::Phase::acquired;
    w.name = name;
    w.waited = waited;
    write_to_stderr_of(p.req.tgid, wait_report_text(w, now()) + "\n");
}

void Broker::retry() {
    next_retry_ = steady_now() + cfg_.retry_every;
    for (auto& p : pending_) {
        if (p.done) continue;
        if (!p.detached && !resp_.valid(p.req.id)) {
            p.detached = true;
            p.detached_until = steady_now() + kDetachGrace;
        }
        attempt(p);
    }
    sweep();
}

void Broker::tick() {
    const Steady at = steady_now();
    bool due = at >= next_retry_;
    for (auto& p : pending_) {
        if (p.done) continue;
        if (p.detached && at >= p.detached_until) {
            p.acq.reset();
            release(p.got, "aborted");
            p.done = true;
        } else if (!p.detached && !p.awaiting && at >= p.deadline) {
            due = true;
        }
    }
    if (due && !pending_.empty()) retry();
    for (auto& r : running_) {
        if (r.done) continue;
        if (!r.confirmed && at >= r.next_check) check_exec(r, at);
        if (!r.done && cfg_.ttl.count() > 0 && at >= r.next_renew) renew(r);
    }
    sweep();
}

void Broker::fill_pollfds(std::vector<pollfd>& out) const {
    for (const auto& p : pending_) {
        out.push_back({p.pidfd.get(), POLLIN, 0});
        if (p.acq && p.acq->fd() >= 0) out.push_back({p.acq->fd(), POLLIN, 0});
    }
    for (const auto& r : running_) {
        out.push_back({r.pidfd.get(), POLLIN, 0});
        for (const auto& h : r.locks)
            if (h.keeper && h.keeper->fd() >= 0) out.push_back({h.keeper->fd(), POLLIN, 0});
    }
}

void Broker::on_polled(const pollfd* fds, size_t n) {
    // Found by fd rather than by position: handling one entry may change what the next
    // contributed (a grant moves a pending exec to running_). A stale match only causes a
    // spurious look, which finds nothing new.
    auto ready = [&](int fd) {
        for (size_t i = 0; fd >= 0 && i < n; ++i)
            if (fds[i].fd == fd) return (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        return false;
    };
    for (auto& p : pending_) {
        if (p.done) continue;
        if (ready(p.pidfd.get())) {
            wait_ended(p, WaitEnd::cancelled, "");
            p.acq.reset();
            release(p.got, "exited");
            p.done = true;
        } else if (p.acq && ready(p.acq->fd())) {
            attempt(p);
        }
    }
    for (auto& r : running_) {
        if (r.done) continue;
        if (ready(r.pidfd.get())) {
            release(r.locks, "exited");
            r.done = true;
            continue;
        }
        for (const auto& h : r.locks)
            if (h.keeper && ready(h.keeper->fd())) {
                check_lost(r);
                break;
            }
    }
    sweep();
}

std::optional<Steady> Broker::next_wake() const {
    std::optional<Steady> best;
    auto consider = [&](Steady t) {
        if (!best || t < *best) best = t;
    };
    for (const auto& p : pending_) {
        if (p.done) continue;
        consider(next_retry_);
        // Past its deadline but without an answer yet: the pending's fd wakes us.
        if (p.detached) consider(p.detached_until);
        else if (!p.awaiting || steady_now() < p.deadline) consider(p.deadline);
    }
    for (const auto& r : running_) {
        if (!r.confirmed) consider(r.next_check);
        if (cfg_.ttl.count() > 0) consider(r.next_renew);
    }
    return best;
}

void Broker::forget_tickets() {
    for (auto& p : pending_)
        if (p.acq) p.acq->forget();
}

void Broker::rehome_tickets() {
    for (auto& p : pending_)
        if (p.acq) p.acq->rehome();
}

void Broker::sweep() {
    pending_.remove_if([](const Pending& p) { return p.done; });
    running_.remove_if([](const Running& r) { return r.done; });
}

} // namespace lokt::seccomp
