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
    Cancel cancel;
    session.cancel_on_loss(&cancel);
    struct Forget {
        Session& s;
        Cancel* c;
        ~Forget() { s.forget(c); }
    } forget{session, &cancel};

    // The common case first: a free name, taken (enqueued and confirmed) in one transaction.
    if (auto fast = take_if_free(name, key, freeze, rec, session, try_only); !fast || *fast) {
        if (!fast) return fast.error();
        return **fast;
    }

    int64_t my_rev = 0;
    bool first = false;  // our key heads the queue already: no predecessor to look for
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
            if (h->create_revision != my_rev && try_only) {
                TxnRequest undo;
                undo.compare = {Compare{CompareResult::equal, CompareTarget::create, key, my_rev, ""}};
                undo.success = {DeleteRangeRequest{key, ""}};
                auto u = client_.txn(undo);
                if (!u) return u.error();
                AcquireOutcome busy;
                busy.status = AcquireStatus::busy;
                busy.holder = decode_lock_entry(keys_, *h);
                return busy;
            }
            first = h->create_revision == my_rev;
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

    auto waited = first ? Result<bool>(true) : wait_for_predecessors(name, my_rev, deadline, cancel, on_queued);
    if (!waited) return waited.error();
    if (!*waited) {
        // Timed out or lost: take our key out of the queue so nobody waits behind it.
        TxnRequest undo;
        undo.compare = {Compare{CompareResult::equal, CompareTarget::create, key, my_rev, ""}};
        undo.success = {DeleteRangeRequest{key, ""}};
        (void)client_.txn(undo);
        return AcquireOutcome{session.lost() ? AcquireStatus::lost : AcquireStatus::timeout, {}, {}, {}};
    }

    // Confirm with a compare on our create revision: if the lease expired while we waited,
    // the key is gone (or re-created) and we do not hold the lock, whatever the watch said.
    // The acquire event is written in this same transaction so it exists iff we won.
    TxnRequest confirm;
    confirm.compare = {Compare{CompareResult::equal, CompareTarget::create, key, my_rev, ""}};
    confirm.success = {PutRequest{key, encode_lock_value(rec, my_rev), session.lease()},
                       audit_put("acquire", name, rec, my_rev)};
    auto c = client_.txn(confirm);
    if (!c) return c.error();
    if (!c->succeeded) return AcquireOutcome{AcquireStatus::lost, {}, {}, {}};
    AcquireOutcome out;
    out.held = Held{name, key, my_rev, session.lease(), rec};
    return out;
}

Result<std::optional<AcquireOutcome>> Locks::take_if_free(const std::string& name, const std::string& key,
                                                          const std::string& freeze, const LockRecord& rec,
                                                          Session& session, bool try_only) {
    // No key in the queue and no freeze: put ours with its audited acquisition. Both keys are
    // created by this transaction, so its revision is the fence (decode_lock_entry and
    // audit_events read it back from the create revision; the value does not carry it).
    const std::string dir = keys_.lock_dir(name);
    RangeRequest head{dir, prefix_end(dir), 1};
    head.sort_order = SortOrder::ascend;
    head.sort_target = SortTarget::create;
    TxnRequest t;
    // Over the whole queue: holds for a range without keys only.
    Compare empty{CompareResult::equal, CompareTarget::create, dir, 0, "", prefix_end(dir)};
    t.compare = {empty, Compare{CompareResult::equal, CompareTarget::version, freeze, 0, ""}};
    t.success = {PutRequest{key, encode_lock_value(rec, 0), session.lease()}, audit_put("acquire", name, rec, 0)};
    t.failure = {RangeRequest{key, ""}, RangeRequest{freeze, ""}, head};
    auto r = client_.txn(t);
    if (!r) return r.error();
    if (r->succeeded) {
        AcquireOutcome out;
        out.held = Held{name, key, r->revision, session.lease(), rec};
        return std::optional<AcquireOutcome>(out);
    }
    if (r->responses.size() != 3) return Error{"etcd: unexpected transaction reply"};
    auto holder = first_kv(r->responses[2]);
    // Held by someone else, not frozen, and ours not queued: a try is refused without a write.
    if (try_only && holder && !first_kv(r->responses[0]) && !first_kv(r->responses[1])) {
        AcquireOutcome busy;
        busy.status = AcquireStatus::busy;
        busy.holder = decode_lock_entry(keys_, *holder);
        return std::optional<AcquireOutcome>(busy);
    }
    return std::optional<AcquireOutcome>();  // the queue decides
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

Result<bool> Locks::wait_deleted(const std::string& key, int64_t after_rev, Deadline deadline, Cancel& cancel) {
    bool deleted = false;
    auto w = client_.watch(key, "", after_rev + 1, deadline, &cancel, [&](const WatchMessage& m) {
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
