// Acquiring a lock: etcd's concurrency.Mutex recipe (enqueue a key under our lease, then
// wait for the deletion of each older key), plus freezes, fences and an audited confirmation.
#include "lokt/etcd/locks.hpp"

namespace lokt::etcd {
namespace {

std::optional<KeyValue> first_kv(const ResponseOp& op) {
    const auto* r = std::get_if<RangeResponse>(&op);
    if (!r || r->kvs.empty()) return std::nullopt;
    return r->kvs.front();
}

} // namespace

Result<AcquireOutcome> Locks::acquire(const std::string& name, const LockRecord& record, Session& session,
                                      Deadline deadline, const std::function<void(int64_t)>& on_queued) {
    return enqueue(name, record, session, deadline, false, on_queued);
}

Result<AcquireOutcome> Locks::try_acquire(const std::string& name, const LockRecord& record, Session& session) {
    return enqueue(name, record, session, Deadline::after(Nanos(0)), true, {});
}

Result<AcquireOutcome> Locks::enqueue(const std::string& name, const LockRecord& record, Session& session,
                                      Deadline deadline, bool try_only,
                                      const std::function<void(int64_t)>& on_queued) {
    const std::string key = keys_.holder_key(name, session.lease());
    const std::string freeze = keys_.freeze_key(name);
    LockRecord rec = record;
    rec.name = name;
    const Sharing want = sharing_of(rec);
    Cancel cancel;
    session.cancel_on_loss(&cancel);
    struct Forget {
        Session& s;
        Cancel* c;
        ~Forget() { s.forget(c); }
    } forget{session, &cancel};

    int64_t my_rev = 0;
    while (true) {
        // Enqueue and read the head in one step; a frozen name enqueues nothing.
        RangeRequest head{keys_.lock_dir(name), prefix_end(keys_.lock_dir(name)), 1};
        head.sort_order = SortOrder::ascend;
        head.sort_target = SortTarget::create;
        TxnRequest t;
        t.compare = {Compare{CompareResult::equal, CompareTarget::create, key, 0, ""},
                     Compare{CompareResult::equal, CompareTarget::version, freeze, 0, ""}};
        t.success = {PutRequest{key, encode_lock_value(rec, 0), session.lease()}, head};
        t.failure = {RangeRequest{key, ""}, RangeRequest{freeze, ""}, head};
        auto r = client_.txn(t);
        if (!r) return r.error();
        if (r->responses.size() != 3 && r->responses.size() != 2)
            return Error{"etcd: unexpected transaction reply"};
        if (r->succeeded) {
            my_rev = r->revision;
            auto h = first_kv(r->responses[1]);
            if (!h) return Error{"etcd: our queue key vanished at once (lease " + std::to_string(session.lease()) + ")"};
            // A shared or slot request judges every key ahead (wait_for_turn), not the head.
            if (h->create_revision != my_rev && try_only && want.mode == LockMode::exclusive) {
                LOKT_TRY(leave_queue(key, my_rev));
                AcquireOutcome busy;
                busy.status = AcquireStatus::busy;
                busy.holder = decode_lock_entry(keys_, *h);
                return busy;
            }
            break;
        }
        if (auto f = first_kv(r->responses[1])) {
            if (try_only || deadline.passed()) {
                AcquireOutcome out;
                out.status = AcquireStatus::frozen;
                auto entry = decode_lock_entry(keys_, *f);
                out.freeze = FreezeEntry{name, entry.record, f->lease};
                return out;
            }
            auto gone = wait_deleted(freeze, r->revision, deadline, cancel);
            if (!gone) return gone.error();
            if (session.lost()) return AcquireOutcome{AcquireStatus::lost, {}, {}, {}};
            continue;  // timeout is noticed by the next round's frozen branch
        }
        auto mine = first_kv(r->responses[0]);
        if (!mine) return Error{"etcd: lock transaction failed without a cause"};
        my_rev = mine->create_revision;  // our key already exists (the same session again)
        break;
    }

    Result<bool> waited = false;
    if (want.mode == LockMode::exclusive) {
        waited = wait_for_predecessors(name, my_rev, deadline, cancel, on_queued);
    } else {
        std::optional<LockEntry> blocker;
        auto turn = wait_for_turn(name, my_rev, want, deadline, cancel, try_only, on_queued, &blocker);
        if (!turn || *turn == TurnEnd::busy) {
            // Refused (the modes disagree) or busy: nobody must wait behind our key.
            auto left = leave_queue(key, my_rev);
            if (!turn) return turn.error();
            if (!left) return left.error();
            AcquireOutcome busy;
            busy.status = AcquireStatus::busy;
            busy.holder = std::move(blocker);
            return busy;
        }
        waited = *turn == TurnEnd::granted;
    }
    if (!waited) return waited.error();
    if (!*waited) {
        // Timed out or lost: take our key out of the queue so nobody waits behind it.
        (void)leave_queue(key, my_rev);
        return AcquireOutcome{session.lost() ? AcquireStatus::lost : AcquireStatus::timeout, {}, {}, {}};
    }

    auto confirmed = confirm(key, my_rev, rec, session);
    if (!confirmed) return confirmed.error();
    if (!*confirmed) return AcquireOutcome{AcquireStatus::lost, {}, {}, {}};
    AcquireOutcome out;
    out.held = Held{name, key, my_rev, session.lease(), rec};
    return out;
}

Result<void> Locks::leave_queue(const std::string& key, int64_t my_rev) {
    // Only the key we enqueued: a later key of the same lease (a new acquire) stays.
    TxnRequest t;
    t.compare = {Compare{CompareResult::equal, CompareTarget::create, key, my_rev, ""}};
    t.success = {DeleteRangeRequest{key, ""}};
    auto r = client_.txn(t);
    if (!r) return r.error();
    return {};
}

Result<bool> Locks::confirm(const std::string& key, int64_t my_rev, LockRecord& rec, Session& session) {
    if (sharing_of(rec).mode == LockMode::slots) return confirm_slot(key, my_rev, rec, session);
    // Confirm with a compare on our create revision: if the lease expired while we waited,
    // the key is gone (or re-created) and we do not hold the lock, whatever the watch said.
    // The acquire event is written in this same transaction so it exists iff we won.
    TxnRequest t;
    t.compare = {Compare{CompareResult::equal, CompareTarget::create, key, my_rev, ""}};
    t.success = {PutRequest{key, encode_lock_value(rec, my_rev), session.lease()},
                 audit_put("acquire", rec.name, rec, my_rev)};
    auto c = client_.txn(t);
    if (!c) return c.error();
    return c->succeeded;
}

Result<bool> Locks::wait_for_predecessors(const std::string& name, int64_t my_rev, Deadline deadline,
                                          Cancel& cancel, const std::function<void(int64_t)>& on_queued) {
    bool told = false;
    while (true) {
        // The newest key older than ours: when it goes, either we hold or a new predecessor
        // (an older waiter whose own predecessor left) is found here (mutex.go waitDeletes).
        RangeRequest pred{keys_.lock_dir(name), prefix_end(keys_.lock_dir(name)), 1};
        pred.sort_order = SortOrder::descend;
        pred.sort_target = SortTarget::create;
        pred.max_create_revision = my_rev - 1;
        auto r = client_.range(pred);
        if (!r) return r.error();
        if (r->kvs.empty()) return true;
        if (!told && on_queued) on_queued(my_rev);
        told = true;
        auto gone = wait_deleted(r->kvs.front().key, r->revision, deadline, cancel);
        if (!gone) return gone.error();
        if (!*gone) return false;
    }
}

Result<bool> Locks::wait_deleted(const std::string& key, int64_t after_rev, Deadline deadline, Cancel& cancel,
                                 const std::string& range_end) {
    bool deleted = false;
    auto w = client_.watch(key, range_end, after_rev + 1, deadline, &cancel, [&](const WatchMessage& m) {
        // A compacted start revision cancels the watch; the caller re-reads and watches again.
        if (m.canceled) {
            deleted = true;
            return false;
        }
        for (const auto& e : m.events)
            if (e.type == EventType::del) deleted = true;
        return !deleted;
    });
    if (!w) return w.error();
    return deleted;
}

} // namespace lokt::etcd
