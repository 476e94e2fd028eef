#pragma once
// LOKT_HELD: the locks held by the guards above this process, "NAME:LOCK_ID[,NAME:LOCK_ID...]".
// A supervisor appends its locks for the command; a guard nested below runs its command
// directly when its NAME is listed and the lock file still carries that lock id.
// LOKT_FENCE: the fencing token of the guard's lock, "N"; for several locks "NAME:N[,NAME:N...]".

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lokt::proc {

/// The variables' names.
inline constexpr const char* kHeldEnv = "LOKT_HELD";
inline constexpr const char* kFenceEnv = "LOKT_FENCE";

/// Parses a LOKT_HELD value into name -> lock_id (malformed entries are skipped).
std::map<std::string, std::string> parse_held(std::string_view value);

/// `inherited` (may be empty) with `locks` (name, lock_id) appended.
std::string append_held(std::string_view inherited,
                        const std::vector<std::pair<std::string, std::string>>& locks);

/// LOKT_FENCE for `locks` (name, fence): the one fence alone, several as NAME:N pairs; empty
/// when there is none or one of them is unknown (0).
std::string fence_env(const std::vector<std::pair<std::string, int64_t>>& locks);

} // namespace lokt::proc
