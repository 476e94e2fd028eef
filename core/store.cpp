// The lock store: acquiring (create, judge, prune, replace, refresh), renewing and updating.
// Releases and breaks are in store_release.cpp, freezes in store_freeze.cpp, listing in
// store_list.cpp.
#include "lokt/store.hpp"

#include "lokt/held_file.hpp"
#include "lokt/liveness.hpp"
#include "lokt/name.hpp"
#include "lokt/own_lease.hpp"
#include "lokt/duration.hpp"
#include "store_io.hpp"

#include <algorithm>
#include <cerrno>
#include <type_traits>

namespace lokt {
namespace {

// Each round ends with the lock file changed by someone else (released, replaced); a handful
// of rounds only happens under heavy churn, so this bound is never reached in practice.
constexpr int kMaxAttempts = 64;

/// What an acquirer may do with the lock currently on disk.
enum class Verdict { held, expired, dead, refresh };

Verdict judge(const LockRecord& cur, const AcquireRequest& req, const LocalView& here, TimePoint at) {
    if (cur.expired(at)) return Verdict::expired;
    if (provably_gone(cur, here)) return Verdict::dead;
    // Idempotent re-lock of one's own lease. A guard or shim never takes over anything.
    if (req.kind == LockKind::lease && is_own_lease(cur, req.who)) return Verdict::refresh;
    return Verdict::held;
}

} // namespace

LockRecord make_lock_record(const AcquireRequest& req, TimePoint at) {
    LockRecord r;
    r.version = 1;
    r.name = req.name;
    r.lock_id = req.lock_id.empty() ? random_lock_id() : req.lock_id;
    r.owner = req.who.owner;
    r.host = req.who.host;
    r.pid = req.who.pid;
    r.pid_start_ns = req.who.pid_start;
    r.agent_id = req.who.agent_id;
    r.acquired_ts = at;
    detail::set_ttl(r, req.ttl, at);
    r.kind = req.kind;
    r.pgid = req.pgid;
    r.command = req.command;
    // What makes pid and pgid meaningful (liveness.hpp): judges elsewhere fall back to proofs.
    r.boot_id = req.who.boot_id;
    r.pid_ns = req.who.pid_ns;
    return r;
}

Store::Store(Root root, AuditLog audit, Identity self)
    : root_(std::move(root)), audit_(std::move(audit)), self_(std::move(self)),
      view_{self_.host, self_.boot_id, self_.pid_ns, held_dir(root_)} {}

namespace {

/// Our lock with the next fence, complete in a temp file before it gets its real name (nobody
/// sees a partial lock). The fence lock is held until the caller has put the file in place, so
/// fences are issued in the order in which holdings begin.
struct Fenced {
    detail::NameLock lock;
    detail::TempFile tmp;
};

Result<Fenced> prepare_fenced(const Root& root, LockRecord& mine, int64_t floor) {
    auto lk = detail::NameLock::acquire_fence(root, mine.name);
    if (!lk) return lk.error();
    auto fence = lk->next_fence(floor);
    if (!fence) return fence.error();
    mine.fence = *fence;
    auto tmp = detail::TempFile::write(root, root.locks_dir(), encode_lock(mine));
    if (!tmp) return tmp.error();
    return Fenced{std::move(*lk), std::move(*tmp)};
}

AcquireOutcome acquired(AuditLog& audit, const AcquireRequest& req, const LockRecord& mine) {
    write_event(audit, acquire_event(req.who, req.name, mine));
    return Acquired{mine, false};
}

} // namespace

Result<AcquireOutcome> Store::try_acquire(const AcquireRequest& req) {
    LOKT_TRY(validate_name(req.name));
    if (req.mode != LockMode::exclusive) return try_acquire_shared(req);
    const std::string& name = req.name;
    auto frozen = detail::active_freeze(root_, audit_, req.who, name);
    if (!frozen) return frozen.error();
    if (*frozen) return AcquireOutcome{Frozen{**frozen}};

    const std::string path = root_.lock_path(name);
    LockRecord mine = make_lock_record(req, now());
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
        // Fast path without the per-name lock: a live holder is simply reported, and a free
        // name is created by link() (EEXIST: someone was faster, the original lokt included).
        auto seen = detail::read_state(root_, path);
        if (!seen) return seen.error();
        if (!seen->exists) {
            auto f = prepare_fenced(root_, mine, 0);
            if (!f) return f.error();
            auto linked = f->tmp.link_to(path);
            if (linked) return acquired(audit_, req, mine);
            if (linked.error().sys_errno != EEXIST) return linked.error();
            continue;  // a gap in the fences, never a repeat
        }
        if (seen->decoded.status == DecodeStatus::future_version)
            return detail::future_version_error("lock", name, *seen);
        if (detail::being_written(*seen, now())) return AcquireOutcome{detail::held_by_writer(name, *seen)};
        if (seen->ok() && judge(seen->record(), req, view_, now()) == Verdict::held)
            return AcquireOutcome{Held{seen->record()}};

        // Anything else changes the file: decide again under the per-name lock.
        auto decided = acquire_locked(req, mine);
        if (!decided) return decided.error();
        if (*decided) return std::move(**decided);
    }
    return Error{"lock \"" + name + "\": gave up after " + std::to_string(kMaxAttempts) +
                 " attempts (the lock file kept changing)"};
}

Result<std::optional<AcquireOutcome>> Store::acquire_locked(const AcquireRequest& req, LockRecord& mine) {
    const std::string& name = req.name;
    const std::string path = root_.lock_path(name);
    auto lk = detail::NameLock::acquire(root_, name);
    if (!lk) return lk.error();
    // What is there now: a renewal may have landed since the fast read.
    auto cur = detail::read_state(root_, path);
    if (!cur) return cur.error();
    if (!cur->exists) return std::optional<AcquireOutcome>{};
    switch (cur->decoded.status) {
    case DecodeStatus::future_version:
        return detail::future_version_error("lock", name, *cur);
    case DecodeStatus::corrupt: {
        // The original creates the file empty and renames its content in a moment later.
        if (detail::being_written(*cur, now()))
            return std::optional<AcquireOutcome>{detail::held_by_writer(name, *cur)};
        auto f = prepare_fenced(root_, mine, 0);
        if (!f) return f.error();
        LOKT_TRY(f->tmp.rename_to(path));
        auto ev = make_event("corrupt-break", req.who, name, nullptr, false);
        ev.extra = {{"reason", cur->decoded.detail}};
        write_event(audit_, ev);
        return std::optional<AcquireOutcome>{acquired(audit_, req, mine)};
    }
    case DecodeStatus::ok:
        break;
    }
    const LockRecord& old = cur->record();
    if (is_group(old)) {
        // Shared holders: judged one by one, never by the holder the record mirrors.
        auto group = settle_group(name, old);
        if (!group) return group.error();
        if (*group) return std::optional<AcquireOutcome>{Held{**group}};
        return std::optional<AcquireOutcome>{};  // the last holder was gone: the lock file is too
    }
    switch (judge(old, req, view_, now())) {
    case Verdict::held:
        return std::optional<AcquireOutcome>{Held{old}};
    case Verdict::expired:
    case Verdict::dead: {
        bool expired = old.expired(now());
        auto f = prepare_fenced(root_, mine, old.fence);
        if (!f) return f.error();
        LOKT_TRY(f->tmp.rename_to(path));
        remove_held(view_.held_dir, old.lock_id);
        auto ev = make_event("auto-prune", req.who, name, &old, false);
        ev.extra = {{"pruned_owner", old.owner},
                    {"pruned_host", old.host},
                    {"pruned_pid", old.pid},
                    {"reason", expired ? "expired" : "dead"}};
        write_event(audit_, ev);
        return std::optional<AcquireOutcome>{acquired(audit_, req, mine)};
    }
    case Verdict::refresh: {
        auto refreshed = refresh_lease(req, old);
        if (!refreshed) return refreshed.error();
        return std::optional<AcquireOutcome>{std::move(*refreshed)};
    }
    }
    return std::optional<AcquireOutcome>{};
}

Result<AcquireOutcome> Store::refresh_lease(const AcquireRequest& req, const LockRecord& old) {
    LockRecord refreshed = old;  // the same holding: it keeps its fence
    // Without --ttl the lease keeps the TTL it has (re-armed from now); a refresh must never
    // turn an expiring lease into one that never ends. (Saturated: a foreign file's ttl_sec
    // may be anything.)
    const int64_t keep_sec = std::clamp<int64_t>(old.ttl_sec, 0, kMaxDurationNs / 1'000'000'000);
    const Nanos ttl = req.ttl.count() > 0 ? req.ttl : Nanos(std::chrono::seconds(keep_sec));
    detail::set_ttl(refreshed, ttl, now());
    auto tmp = detail::TempFile::write(root_, root_.locks_dir(), encode_lock(refreshed));
    if (!tmp) return tmp.error();
    LOKT_TRY(tmp->rename_to(root_.lock_path(req.name)));
    write_event(audit_, make_event("renew", req.who, req.name, &refreshed, true));
    return AcquireOutcome{Acquired{refreshed, true}};
}

void Store::audit_denial(const AcquireRequest& req, const AcquireOutcome& outcome) {
    if (const auto* h = std::get_if<Held>(&outcome)) {
        auto ev = make_event("deny", req.who, req.name, &h->holder, false);
        ev.extra = {{"holder_owner", h->holder.owner},
                    {"holder_host", h->holder.host},
                    {"holder_pid", h->holder.pid}};
        write_event(audit_, ev);
    } else if (const auto* f = std::get_if<Frozen>(&outcome)) {
        auto ev = make_event("freeze-deny", req.who, req.name, &f->freeze, false);
        ev.extra = {{"freeze_owner", f->freeze.owner},
                    {"freeze_host", f->freeze.host},
                    {"freeze_pid", f->freeze.pid}};
        write_event(audit_, ev);
    }
}

Result<std::optional<LockRecord>> Store::renew(const std::string& name, const std::string& lock_id,
                                               Nanos ttl, SyncWait wait) {
    auto locked = detail::lock_and_read(root_, name, root_.lock_path(name), detail::Foreign::refuse, wait);
    if (!locked) return locked.error();
    const std::string& path = locked->path;
    auto* cur = &locked->state;
    if (cur->ok() && is_group(cur->record())) return renew_holder(cur->record(), lock_id, ttl);
    if (!cur->ok() || cur->record().lock_id != lock_id) return std::optional<LockRecord>{};
    LockRecord renewed = cur->record();
    detail::set_ttl(renewed, ttl, now());
    auto tmp = detail::TempFile::write(root_, root_.locks_dir(), encode_lock(renewed));
    if (!tmp) return tmp.error();
    LOKT_TRY(tmp->rename_to(path));
    if (renew_audit_due(lock_id, Steady::now()))
        write_event(audit_, make_event("renew", self_, name, &renewed, true));
    return std::optional<LockRecord>{renewed};
}

bool Store::renew_audit_due(const std::string& lock_id, Steady::time_point at) {
    // A 1s TTL renews twice a second; the audit must show the holder is alive, not fill the
    // disk with each write. Entries older than the period are due anyway, so dropping them
    // keeps the map as small as the set of locks renewed in the last minute.
    std::erase_if(renew_audited_, [&](const auto& e) { return at - e.second >= kRenewAuditEvery; });
    return renew_audited_.try_emplace(lock_id, at).second;
}

Result<bool> Store::update(const LockRecord& updated, SyncWait wait) {
    auto locked = detail::lock_and_read(root_, updated.name, root_.lock_path(updated.name),
                                        detail::Foreign::refuse, wait);
    if (!locked) return locked.error();
    const std::string& path = locked->path;
    auto* cur = &locked->state;
    if (cur->ok() && is_group(cur->record())) return update_holder(cur->record(), updated);
    if (!cur->ok() || cur->record().lock_id != updated.lock_id) return false;
    LockRecord r = updated;
    r.fence = cur->record().fence;  // the holding's token, whatever the caller's copy says
    r.version = 1;  // we only ever write version 1 (the original refuses higher ones)
    auto tmp = detail::TempFile::write(root_, root_.locks_dir(), encode_lock(r));
    if (!tmp) return tmp.error();
    LOKT_TRY(tmp->rename_to(path));
    return true;
}

Result<ReadOutcome> Store::read(const std::string& name) const {
    LOKT_TRY(validate_name(name));
    auto st = detail::read_state(root_, root_.lock_path(name));
    if (!st) return st.error();
    ReadOutcome out;
    if (!st->exists) return out;
    out.status = st->decoded.status;
    out.detail = st->decoded.detail;
    if (st->ok()) out.record = st->record();
    return out;
}

} // namespace lokt
