#pragma once
// ASCII text helpers shared by the small parsers: ROOT/config lines, git config, HTTP heads.
// Locale-free on purpose: what they read is protocol and config text, never prose.

#include <string>
#include <string_view>

namespace lokt::text {

/// `s` without its leading and trailing blanks (space, tab, CR, LF).
std::string_view trim(std::string_view s);
/// `s` with A-Z lowered.
std::string ascii_lower(std::string_view s);
/// Whether `a` and `b` are equal, ignoring the case of A-Z.
bool iequals(std::string_view a, std::string_view b);

} // namespace lokt::text
