#pragma once
// Private helpers of the lock store for shared and slot holders (not installed): the holder
// files under ROOT/holders/NAME/ and the group record in ROOT/locks/NAME.json.

#include "lokt/lock_file.hpp"
#include "lokt/result.hpp"
#include "lokt/root.hpp"
#include "lokt/sharing.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lokt::detail {

/// ROOT/holders/NAME/LOCK_ID.json.
std::string holder_path(const Root& root, const std::string& name, const std::string& lock_id);
/// Every readable holder file of NAME (none when the directory is missing), oldest first.
Result<std::vector<LockRecord>> read_holders(const Root& root, const std::string& name);
/// One holder's file; nullopt when it is missing (or the id cannot name a file).
Result<std::optional<LockRecord>> read_holder(const Root& root, const std::string& name,
                                              const std::string& lock_id);
/// Writes (creates or replaces) the holder file of `holder` as a complete file.
Result<void> write_holder(const Root& root, const LockRecord& holder);
/// Removes a holder file; a missing one is fine.
Result<void> remove_holder(const Root& root, const std::string& name, const std::string& lock_id);

struct FileState;

/// What a shared or slot acquirer found under NAME's flock: the lock file, the group's live
/// holders, the group record it joins (none: it starts one), whether a file is replaced.
struct GroupScan {
    const FileState& cur;
    std::vector<LockRecord> live;
    std::optional<LockRecord> group;
    bool replace = false;  ///< the lock file is stale or corrupt: renamed over
};

/// The group record of NAME mirroring `rep` (its owner, pid, kind, TTL...): `group_id` is the
/// group's own lock id, `s` its mode and N.
LockRecord group_mirroring(const LockRecord& rep, const std::string& group_id, const Sharing& s);
/// Writes the group record: `link` creates it (EEXIST when anyone holds NAME), otherwise it
/// replaces what is there.
Result<void> write_group(const Root& root, const LockRecord& group, bool link);

} // namespace lokt::detail
