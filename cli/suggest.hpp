#pragma once
// "did you mean …?" for mistyped commands, flags and flag values.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lokt::cli {

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo
/// (at most 2 edits, and fewer than half of `word`'s length).
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

/// " (did you mean \"X\"?)" for the closest candidate, or "" when none is close.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates,
                         std::string_view prefix = "");

} // namespace lokt::cli
