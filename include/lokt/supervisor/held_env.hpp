#pragma once
// LOKT_HELD: the locks held by the guards above this process, "NAME:LOCK_ID[,NAME:LOCK_ID...]".
// A supervisor appends its locks for the command; a guard nested below runs its command
// directly when its NAME is listed and the lock file still carries that lock id.

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lokt::sup {

/// The variable's name.
inline constexpr const char* kHeldEnv = "LOKT_HELD";

/// Parses a LOKT_HELD value into name -> lock_id (malformed entries are skipped).
std::map<std::string, std::string> parse_held(std::string_view value);

/// `inherited` (may be empty) with `locks` (name, lock_id) appended.
std::string append_held(std::string_view inherited,
                        const std::vector<std::pair<std::string, std::string>>& locks);

} // namespace lokt::sup
