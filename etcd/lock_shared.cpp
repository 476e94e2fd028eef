// Shared and slot requests on etcd: waiting for one's turn behind the keys ahead (turn.hpp),
// and claiming a slot number that no other live holder has.
#include "lokt/etcd/locks.hpp"

#include "lokt/etcd/turn.hpp"

#include <algorithm>
#include <cstdlib>

namespace lokt::etcd {
namespace {

/// How often a slot claim is retried when other holders claim at the same moment.
constexpr int kClaimAttempts = 64;

} // namespace

Result<std::vector<LockEntry>> Locks::queue(const std::string& name) {
    RangeRequest all{keys_.lock_dir(name), prefix_end(keys_.lock_dir(name))};
    all.sort_order = SortOrder::ascend;
    all.sort_target = SortTarget::create;
    auto r = client_.range(all);
    if (!r) return r.error();
    std::vector<LockEntry> out;
    for (const auto& kv : r->kvs) out.push_back(decode_lock_entry(keys_, kv));
    return out;
}

Result<Locks::TurnEnd> Locks::wait_for_turn(const std::string& name, int64_t my_rev, const Sharing& want,
                                            Deadline deadline, Cancel& cancel, bool try_only,
                                            const std::function<void(int64_t)>& on_queued,
                                            std::optional<LockEntry>* blocker) {
    bool told = false;
    while (true) {
        RangeRequest older{keys_.lock_dir(name), prefix_end(keys_.lock_dir(name))};
        older.sort_order = SortOrder::ascend;
        older.sort_target = SortTarget::create;
        older.max_create_revision = my_rev - 1;
        auto r = client_.range(older);
        if (!r) return r.error();
        std::vector<LockEntry> ahead;
        for (const auto& kv : r->kvs) ahead.push_back(decode_lock_entry(keys_, kv));
        const Turn turn = judge_turn(name, want, ahead);
        if (turn.mismatch) return *turn.mismatch;
        if (turn.granted) return TurnEnd::granted;
        if (try_only) {
            *blocker = ahead.front();
            return TurnEnd::busy;
        }
        if (!told && on_queued) on_queued(my_rev);
        told = true;
        // From the revision just read, so a deletion between the read and the watch counts.
        auto gone = turn.watch_any
                        ? wait_deleted(keys_.lock_dir(name), r->revision, deadline, cancel,
                                       prefix_end(keys_.lock_dir(name)))
                        : wait_deleted(turn.watch_key, r->revision, deadline, cancel);
        if (!gone) return gone.error();
        if (!*gone) return TurnEnd::ended;
    }
}

Result<AcquireStatus> Locks::wait_shared_turn(Held& ours, Deadline deadline, Cancel& cancel, bool try_only,
                                              const std::function<void(int64_t)>& on_queued,
                                              std::optional<LockEntry>* blocker) {
    auto turn = wait_for_turn(ours.name, ours.fence, sharing_of(ours.record), deadline, cancel, try_only, on_queued,
                              blocker);
    if (!turn) return turn.error();
    if (*turn == TurnEnd::busy) return AcquireStatus::busy;
    if (*turn == TurnEnd::ended) return AcquireStatus::timeout;
    if (sharing_of(ours.record).mode == LockMode::slots) {
        auto claimed = confirm_slot(ours);
        if (!claimed) return claimed.error();
        return *claimed ? AcquireStatus::acquired : AcquireStatus::lost;
    }
    // A granted shared turn stays granted (keys ahead can only leave; a newer key is behind
    // ours), so unlike an exclusive one the confirmation need not check it again.
    auto c = client_.txn(confirm_txn(ours));
    if (!c) return c.error();
    return c->succeeded ? AcquireStatus::acquired : AcquireStatus::lost;
}

Result<bool> Locks::confirm_slot(Held& ours) {
    const std::string& name = ours.name;
    Sharing s = sharing_of(ours.record);
    for (int attempt = 0; attempt < kClaimAttempts; ++attempt) {
        // The claims and the keys at one revision: a claim whose holder key is gone (it
        // cannot outlive it, they share a lease, but a hand-made one might) is free.
        auto claims = client_.range(RangeRequest{keys_.slot_dir(name), prefix_end(keys_.slot_dir(name))});
        if (!claims) return claims.error();
        RangeRequest live{keys_.lock_dir(name), prefix_end(keys_.lock_dir(name))};
        live.revision = claims->revision;
        auto keys = client_.range(live);
        if (!keys) return keys.error();
        std::vector<int> taken;
        for (const auto& c : claims->kvs) {
            const bool held = std::any_of(keys->kvs.begin(), keys->kvs.end(),
                                          [&](const KeyValue& k) { return k.key == c.value && c.value != ours.key; });
            if (held) taken.push_back(std::atoi(c.key.substr(keys_.slot_dir(name).size()).c_str()));
        }
        const int slot = lowest_free_slot(taken, s.slots);
        // Fewer than N keys were ahead of ours, so a slot is free unless a newer key claimed
        // one meanwhile; its claim is then seen on the next round.
        if (slot < 0) return Error{"lock \"" + name + "\": no free slot among " + std::to_string(s.slots)};
        const std::string claim = keys_.slot_key(name, slot);
        int64_t claim_mod = 0;
        for (const auto& c : claims->kvs)
            if (c.key == claim) claim_mod = c.mod_revision;
        s.slot = slot;
        Held mine = ours;
        set_sharing(mine.record, s);
        // The claim goes only to the key still ours, and only if nobody claimed it since.
        TxnRequest t = confirm_txn(mine);
        t.compare.push_back(Compare{CompareResult::equal, CompareTarget::mod, claim, claim_mod, ""});
        auto r = client_.txn(t);
        if (!r) return r.error();
        if (r->succeeded) {
            ours = std::move(mine);
            return true;
        }
        const auto* k = r->responses.empty() ? nullptr : std::get_if<RangeResponse>(&r->responses.front());
        if (!k || k->kvs.empty() || k->kvs.front().create_revision != ours.fence) return false;  // lost
    }
    return Error{"lock \"" + name + "\": gave up claiming a slot after " + std::to_string(kClaimAttempts) +
                 " attempts (other holders kept claiming)"};
}

} // namespace lokt::etcd
