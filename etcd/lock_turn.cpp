// Whose turn it is in a lock's queue: the rules of etcd's RWMutex recipe (a reader waits for
// the newest older writer, a writer for every older key), extended to pools of N slots.
#include "lokt/etcd/turn.hpp"

#include <algorithm>

namespace lokt::etcd {

Sharing mode_of(const LockEntry& e) {
    if (e.foreign) return Sharing{};
    return sharing_of(e.record);
}

Turn judge_turn(const std::string& name, const Sharing& want, const std::vector<LockEntry>& ahead) {
    Turn t;
    if (want.mode == LockMode::exclusive) {
        t.granted = ahead.empty();
        if (!t.granted) t.watch_key = ahead.back().key;
        return t;
    }
    for (const auto& e : ahead) {
        const Sharing has = mode_of(e);
        if (has.mode == LockMode::exclusive) continue;  // it waits its turn, or we wait for it
        if (has.mode != want.mode || has.slots != want.slots) {
            t.mismatch = mode_mismatch(name, has, want.mode, want.slots);
            return t;
        }
    }
    // The newest exclusive key ahead: nothing behind it goes before it has gone.
    auto excl = std::find_if(ahead.rbegin(), ahead.rend(),
                             [](const LockEntry& e) { return mode_of(e).mode == LockMode::exclusive; });
    if (excl != ahead.rend()) {
        t.watch_key = excl->key;
        return t;
    }
    if (want.mode == LockMode::shared || ahead.size() < static_cast<size_t>(want.slots)) {
        t.granted = true;
        return t;
    }
    // A full pool: any one of the keys ahead going may make room.
    t.watch_any = true;
    return t;
}

size_t holding_count(const std::vector<LockEntry>& queue) {
    if (queue.empty()) return 0;
    const Sharing head = mode_of(queue.front());
    if (head.mode == LockMode::exclusive) return 1;
    size_t n = 0;
    while (n < queue.size()) {
        const Sharing s = mode_of(queue[n]);
        if (s.mode != head.mode || s.slots != head.slots) break;
        if (head.mode == LockMode::slots && n >= static_cast<size_t>(head.slots)) break;
        ++n;
    }
    return n;
}

LockRecord shown(const LockEntry& e) {
    LockRecord r = e.record;
    r.name = e.name;
    r.fence = e.fence;
    if (e.foreign && r.owner.empty()) r.owner = "etcdctl";
    return r;
}

LockRecord lock_view(const LockEntry& head) {
    LockRecord r = shown(head);
    Sharing s = mode_of(head);
    if (s.mode == LockMode::exclusive) return r;
    s.slot = -1;
    s.rep = r.lock_id;
    set_sharing(r, s);
    return r;
}

int lowest_free_slot(const std::vector<int>& taken, int slots) {
    for (int n = 0; n < slots; ++n)
        if (std::find(taken.begin(), taken.end(), n) == taken.end()) return n;
    return -1;
}

} // namespace lokt::etcd
