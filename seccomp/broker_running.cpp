// The seccomp broker's running processes: confirming their exec, renewing, noticing a lost
// lock, and releasing what they hold.
#include "broker.hpp"

#include "remote.hpp"

#include "lokt/audit_event.hpp"

#include <signal.h>

#include <algorithm>

namespace lokt::seccomp {
namespace {

// After CONTINUE: how long an exec may take before an unchanged image counts as failed
// when /proc cannot say whether the thread is still inside execve.
constexpr auto kExecVerdictAfter = std::chrono::seconds(1);
constexpr auto kMaxExecCheckStep = std::chrono::milliseconds(50);

} // namespace

void Broker::release(std::vector<Hold>& locks, const std::string& reason) {
    for (auto it = locks.rbegin(); it != locks.rend(); ++it) {
        auto r = backend_.release_id(it->lock.name, it->lock.lock_id, reason);
        if (!r && cfg_.warn) cfg_.warn("releasing lock \"" + it->lock.name + "\": " + r.error().message);
    }
    locks.clear();  // what kept them (an etcd lease) goes with them
}

void Broker::check_exec(Running& r, Steady at) {
    const std::string exe_path = "/proc/" + std::to_string(r.req.tgid) + "/exe";
    auto exe = file_id(exe_path);
    // A new image (the program, or the interpreter of a script, or /bin/sh running a file
    // without #! after glibc's ENOEXEC fallback) means the exec went through.
    if (!exe || *exe != *r.req.old_exe) {
        r.confirmed = true;
        return;
    }
    auto sc = blocked_syscall(r.req.tid);
    const bool left_exec = sc && *sc != static_cast<long>(r.req.nr);
    if (!left_exec && at - r.check_started < kExecVerdictAfter) {
        r.check_step = std::min<Nanos>(r.check_step * 2, kMaxExecCheckStep);
        r.next_check = at + r.check_step;
        return;
    }
    Identity who = backend_.self();
    who.pid = r.req.tgid;
    for (const auto& l : r.locks) {
        AuditEvent e = make_event("exec-failed", who, l.lock.name);
        e.lock_id = l.lock.lock_id;
        e.extra = {{"path", r.req.path}, {"kind", "shim"}};
        write_event(backend_, e);
    }
    release(r.locks, "exec-failed");
    r.done = true;
}

void Broker::renew(Running& r) {
    std::vector<Hold> kept;
    for (auto& l : r.locks) {
        auto res = backend_.renew(l.lock.name, l.lock.lock_id, cfg_.ttl, SyncWait::bounded);
        if (!res || *res) {
            kept.push_back(std::move(l));  // an I/O error is retried on the next tick
            continue;
        }
        if (cfg_.warn) cfg_.warn("lock \"" + l.lock.name + "\" held for pid " + std::to_string(r.req.tgid) +
                                 " was broken by someone else");
    }
    r.locks = std::move(kept);
    r.next_renew = Deadline::after(cfg_.ttl / 2).when();
}

void Broker::check_lost(Running& r) {
    // As a guard's --on-lost default: on etcd another machine may hold the lock by now, so
    // the tool stops (through its pidfd: never a later process with its pid).
    const bool end = backend_.loss_ends_command();
    std::vector<Hold> kept;
    Identity who = backend_.self();
    who.pid = r.req.tgid;
    for (auto& l : r.locks) {
        if (!l.keeper || !l.keeper->lost()) {
            kept.push_back(std::move(l));
            continue;
        }
        AuditEvent e = make_event("lost", who, l.lock.name);
        e.lock_id = l.lock.lock_id;
        e.extra = {{"kind", "shim"}};
        write_event(backend_, e);
        if (cfg_.warn)
            cfg_.warn("lock \"" + l.lock.name + "\" held for pid " + std::to_string(r.req.tgid) + " was lost; " +
                      (end ? "ending it (SIGTERM)" : "it keeps running without it"));
    }
    if (kept.size() == r.locks.size()) return;
    r.locks = std::move(kept);
    if (end) (void)sys::pidfd_send_signal(r.pidfd.get(), SIGTERM);
}

} // namespace lokt::seccomp
