#pragma once
// Whose turn it is in a lock's queue of keys, and how the queue shows to the commands
// (docs/distributed.md "Shared locks and slot pools"). Every holder and waiter of NAME, whatever it asks for, is one key under
// PREFIX/NAME/, ordered by create revision; the mode it asks for is in its value (a key
// etcdctl wrote has an empty value: exclusive). Pure functions of the keys read.

#include "lokt/etcd/locks.hpp"
#include "lokt/sharing.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lokt::etcd {

/// What a queued key does next.
struct Turn {
    bool granted = false;
    std::optional<Error> mismatch;  ///< a key ahead is shared or slots with another N
    std::string watch_key;          ///< not granted: wait for this key to be deleted
    bool watch_any = false;         ///< not granted (slots): wait for any key ahead to go
};

/// The mode a queue key holds or asks for (a foreign key: exclusive).
Sharing mode_of(const LockEntry& e);

/// The turn of a key asking for `want` behind `ahead` (every older key of NAME, oldest
/// first): an exclusive key goes first; a shared key when no key ahead is exclusive (so a
/// shared request behind a queued exclusive one waits for it: writer preference); a slot key
/// when no key ahead is exclusive and fewer than N are ahead.
Turn judge_turn(const std::string& name, const Sharing& want, const std::vector<LockEntry>& ahead);

/// How many keys at the front of `queue` (oldest first) hold NAME now: the head alone for
/// an exclusive one; the leading shared keys; at most N leading slot keys.
size_t holding_count(const std::vector<LockEntry>& queue);

/// The record the commands see for a queue key (a key etcdctl wrote: owner "etcdctl").
LockRecord shown(const LockEntry& e);
/// What NAME's lock looks like when `head` is its oldest key: its record, or for a shared or
/// slot head the group record standing for all holders (is_group(); it mirrors the head).
LockRecord lock_view(const LockEntry& head);

/// The lowest slot number 0..slots-1 that no entry of `taken` has (-1: all taken).
int lowest_free_slot(const std::vector<int>& taken, int slots);

} // namespace lokt::etcd
