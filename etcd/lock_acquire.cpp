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

    // The common case first: a free name, taken (enqueued and confirmed) in one transaction.
    if (auto fast = take_if_free(name, key, freeze, rec, session, try_only); !fast || *fast) {
        if (!fast) return fast.error();
        return **fast;
    }

    Joined joined;
    if (auto now = join_queue(name, key, freeze, rec, session, deadline, try_only, cancel, joined); !now || *now) {
        if (!now) return now.error();
        return std::move(**now);
    }
    const int64_t my_rev = joined.my_rev;

    // Exclusive: wait for the predecessor, confirm where the turn is checked. Shared and
    // slots: the turn rules of turn.hpp, judged on the keys ahead.
    Held ours{name, key, my_rev, session.lease(), rec};
    ours.record.fence = my_rev;
    std::optional<LockEntry> blocker;
    auto turn = want.mode == LockMode::exclusive
                    ? wait_turn(ours, joined.pred, joined.pred_known, deadline, cancel, on_queued)
                    : wait_shared_turn(ours, deadline, cancel, try_only, on_queued, &blocker);
    if (!turn || *turn == AcquireStatus::busy || *turn == AcquireStatus::timeout) {
        // Refused (the modes disagree), busy, timed out or cancelled: nobody must wait behind
        // our key.
        auto left = leave_queue(key, my_rev);
        if (!turn) return turn.error();
        if (*turn == AcquireStatus::timeout)
            return AcquireOutcome{session.lost() ? AcquireStatus::lost : AcquireStatus::timeout, {}, {}, {}};
        if (!left) return left.error();
        AcquireOutcome busy;
        busy.status = AcquireStatus::busy;
        busy.holder = std::move(blocker);
        return busy;
    }
    if (*turn == AcquireStatus::lost) return AcquireOutcome{AcquireStatus::lost, {}, {}, {}};
    AcquireOutcome out;
    out.held = std::move(ours);
    return out;
}

Result<std::optional<AcquireOutcome>> Locks::join_queue(const std::string& name, const std::string& key,
                                                      const std::string& freeze, const LockRecord& rec,
                                                      Session& session, Deadline deadline, bool try_only,
                                                      Cancel& cancel, Joined& out) {
    const Sharing want = sharing_of(rec);
    while (true) {
        // Enqueue and read the head and our predecessor in one step (right after our put, the
        // newest key but one is the predecessor); a frozen name enqueues nothing.
        const std::string dir = keys_.lock_dir(name);
        RangeRequest head{dir, prefix_end(dir), 1};
        head.sort_order = SortOrder::ascend;
        head.sort_target = SortTarget::create;
        RangeRequest newest{dir, prefix_end(dir), 2};
        newest.sort_order = SortOrder::descend;
        newest.sort_target = SortTarget::create;
        TxnRequest t;
        t.compare = {Compare{CompareResult::equal, CompareTarget::create, key, 0, ""},
                     Compare{CompareResult::equal, CompareTarget::version, freeze, 0, ""}};
        t.success = {PutRequest{key, encode_lock_value(rec), session.lease()}, head, newest};
        t.failure = {RangeRequest{key, ""}, RangeRequest{freeze, ""}, head};
        auto r = client_.txn(t);
        if (!r) return r.error();
        if (r->responses.size() != 3) return Error{"etcd: unexpected transaction reply"};
        if (r->succeeded) {
            out.my_rev = r->revision;
            auto h = first_kv(r->responses[1]);
            if (!h) return Error{"etcd: our queue key vanished at once (lease " + std::to_string(session.lease()) + ")"};
            // A shared or slot request judges every key ahead (wait_for_turn), not the head.
            if (h->create_revision != out.my_rev && try_only && want.mode == LockMode::exclusive) {
                LOKT_TRY(leave_queue(key, out.my_rev));
                AcquireOutcome busy;
                busy.status = AcquireStatus::busy;
                busy.holder = decode_lock_entry(keys_, *h);
                return std::optional<AcquireOutcome>(std::move(busy));
            }
            const auto* n = std::get_if<RangeResponse>(&r->responses[2]);
            if (n && n->kvs.size() > 1) out.pred = {n->kvs[1].key, r->revision};
            return std::optional<AcquireOutcome>();
        }
        if (auto f = first_kv(r->responses[1])) {
            if (try_only || deadline.passed()) {
                AcquireOutcome frozen;
                frozen.status = AcquireStatus::frozen;
                auto entry = decode_lock_entry(keys_, *f);
                frozen.freeze = FreezeEntry{name, entry.record, f->lease};
                return std::optional<AcquireOutcome>(std::move(frozen));
            }
            auto gone = wait_deleted(freeze, r->revision, deadline, cancel);
            if (!gone) return gone.error();
            if (session.lost()) return std::optional<AcquireOutcome>(AcquireOutcome{AcquireStatus::lost, {}, {}, {}});
            continue;  // timeout is noticed by the next round's frozen branch
        }
        auto mine = first_kv(r->responses[0]);
        if (!mine) return Error{"etcd: lock transaction failed without a cause"};
        out.my_rev = mine->create_revision;  // our key already exists (the same session again)
        out.pred_known = false;               // so its predecessor is read first
        return std::optional<AcquireOutcome>();
    }
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

std::vector<RequestOp> Locks::holding_writes(const Held& ours) const {
    // The value carries no fence: decode_lock_entry takes it from the key's create revision.
    // The event carries it unless this transaction creates the key (fence 0): the revision of
    // both keys is then the fence, and audit_events reads it back from the event's key.
    std::vector<RequestOp> w{PutRequest{ours.key, encode_lock_value(ours.record), ours.lease},
                             audit_put("acquire", ours.name, ours.record, ours.fence)};
    // A slot holder's claim lives under the holder's lease, so it cannot outlive the key.
    if (auto claim = keys_.claim_of(ours.record); !claim.empty()) w.push_back(PutRequest{claim, ours.key, ours.lease});
    return w;
}

TxnRequest Locks::confirm_txn(const Held& ours) const {
    // The compare on our create revision: if the lease expired while we waited, the key is
    // gone (or re-created) and we do not hold the lock, whatever the watch said. The acquire
    // event is written in this same transaction, so it exists iff we won.
    TxnRequest t;
    t.compare = {Compare{CompareResult::equal, CompareTarget::create, ours.key, ours.fence, ""}};
    t.success = holding_writes(ours);
    t.failure = {RangeRequest{ours.key, ""}};
    return t;
}

Result<AcquireStatus> Locks::wait_turn(Held& ours, Predecessor pred, bool pred_known, Deadline deadline,
                                       Cancel& cancel, const std::function<void(int64_t)>& on_queued) {
    const std::string dir = keys_.lock_dir(ours.name);
    bool told = false;
    while (true) {
        if (!pred.key.empty()) {
            if (!told && on_queued) on_queued(ours.fence);
            told = true;
            auto gone = wait_deleted(pred.key, pred.seen_at, deadline, cancel);
            if (!gone) return gone.error();
            if (!*gone) return AcquireStatus::timeout;
        }
        // Confirm in the step that checks our turn (mutex.go's waitDeletes re-reads instead):
        // our key still there and no older key left (an exclusive key's turn rule). When an
        // older key is left (a waiter behind the one we watched gave up), the failure names
        // the newest of them, which we wait for next.
        RangeRequest older{dir, prefix_end(dir), 1};
        older.sort_order = SortOrder::descend;
        older.sort_target = SortTarget::create;
        older.max_create_revision = ours.fence - 1;
        TxnRequest confirm = confirm_txn(ours);
        // Over the whole queue (etcd 3.3+ range compare): every key was created at our
        // revision or later.
        confirm.compare.push_back(
            Compare{CompareResult::greater, CompareTarget::create, dir, ours.fence - 1, "", prefix_end(dir)});
        confirm.failure.push_back(older);
        // Unless told otherwise, a predecessor was seen: one read is cheaper than a failed write.
        if (!pred_known) {
            auto r = client_.range(older);
            if (!r) return r.error();
            pred_known = true;
            if (!r->kvs.empty()) {
                pred = {r->kvs.front().key, r->revision};
                continue;
            }
        }
        auto c = client_.txn(confirm);
        if (!c) return c.error();
        if (c->succeeded) return AcquireStatus::acquired;
        if (c->responses.size() != 2) return Error{"etcd: unexpected transaction reply"};
        if (!first_kv(c->responses[0])) return AcquireStatus::lost;
        auto next = first_kv(c->responses[1]);
        pred = next ? Predecessor{next->key, c->revision} : Predecessor{};
    }
}

Result<std::optional<AcquireOutcome>> Locks::take_if_free(const std::string& name, const std::string& key,
                                                          const std::string& freeze, const LockRecord& rec,
                                                          Session& session, bool try_only) {
    // No key in the queue and no freeze: put ours with its audited acquisition (and, for a
    // pool, the claim of slot 0: with no key queued no claim is live). Both keys are created
    // by this transaction, so its revision is the fence.
    const std::string dir = keys_.lock_dir(name);
    RangeRequest head{dir, prefix_end(dir), 1};
    head.sort_order = SortOrder::ascend;
    head.sort_target = SortTarget::create;
    LockRecord mine = rec;
    Sharing want = sharing_of(rec);
    if (want.mode == LockMode::slots) {
        want.slot = 0;
        set_sharing(mine, want);
    }
    Held ours{name, key, 0, session.lease(), mine};
    TxnRequest t;
    // Over the whole queue: holds for a range without keys only.
    Compare empty{CompareResult::equal, CompareTarget::create, dir, 0, "", prefix_end(dir)};
    t.compare = {empty, Compare{CompareResult::equal, CompareTarget::version, freeze, 0, ""}};
    t.success = holding_writes(ours);
    t.failure = {RangeRequest{key, ""}, RangeRequest{freeze, ""}, head};
    auto r = client_.txn(t);
    if (!r) return r.error();
    if (r->succeeded) {
        ours.fence = ours.record.fence = r->revision;
        AcquireOutcome out;
        out.held = std::move(ours);
        return std::optional<AcquireOutcome>(out);
    }
    if (r->responses.size() != 3) return Error{"etcd: unexpected transaction reply"};
    auto holder = first_kv(r->responses[2]);
    // Held by someone else, not frozen, and ours not queued: an exclusive try is refused
    // without a write. A shared or slot try may still share it: its turn rules decide.
    if (try_only && want.mode == LockMode::exclusive && holder && !first_kv(r->responses[0]) &&
        !first_kv(r->responses[1])) {
        AcquireOutcome busy;
        busy.status = AcquireStatus::busy;
        busy.holder = decode_lock_entry(keys_, *holder);
        return std::optional<AcquireOutcome>(busy);
    }
    return std::optional<AcquireOutcome>();  // the queue decides
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
