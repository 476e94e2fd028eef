#pragma once
// Shared locks and slot pools (docs/design.md "Shared locks and slot pools"): how a lock is
// shared, recorded in our own fields of a lock file (`mode`, `slots`, `slot`, `rep`), which
// the original ignores and which are kept when a file is rewritten.

#include "lokt/lock_file.hpp"
#include "lokt/result.hpp"
#include "lokt/slot_count.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace lokt {

/// How a lock is asked for or held.
enum class LockMode {
    exclusive,  ///< one holder (the original's only mode)
    shared,     ///< any number of holders together, never with an exclusive one
    slots,      ///< at most `slots` holders together
};

/// The sharing fields of a group record or a holder file.
struct Sharing {
    LockMode mode = LockMode::exclusive;
    int slots = 0;    ///< mode == slots: the pool size N
    int slot = -1;    ///< a slot holder's number, 0..N-1 (-1: none)
    std::string rep;  ///< a group record: the lock_id of the holder it mirrors
};

/// The sharing fields of `r` (mode exclusive when it has none or they are malformed).
Sharing sharing_of(const LockRecord& r);
/// Writes `s` into `r`'s own fields (an exclusive `s` removes them).
void set_sharing(LockRecord& r, const Sharing& s);
/// True for a group record (locks/NAME.json standing for shared or slot holders).
bool is_group(const LockRecord& r);

/// Parses the N of `--slots N` / `slots=N`: a whole number 1..kMaxSlots, or an Error
/// ("slots must be a whole number from 1 to 1024, not \"x\"").
Result<int> parse_slots(std::string_view text);

/// "shared", "slots" or "exclusive".
std::string_view to_string(LockMode m);
/// "shared" / "3 slots" for messages.
std::string describe_mode(LockMode mode, int slots);
/// The error when a request's mode or N differs from the group's, naming both.
Error mode_mismatch(const std::string& name, const Sharing& group, LockMode mode, int slots);

} // namespace lokt
