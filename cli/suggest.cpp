#include "suggest.hpp"

#include <algorithm>
#include <numeric>

namespace lokt::cli {
namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbours ("gaurd") each cost one edit.
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

} // namespace

std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates) {
    std::optional<std::string> best;
    size_t best_d = 0;
    for (const auto& c : candidates) {
        size_t dist = edit_distance(word, c);
        if (!best || dist < best_d) {
            best = c;
            best_d = dist;
        }
    }
    // A prefix of a candidate ("stat" for "status") is a likely intent too.
    if (best && best_d > 0 && best_d <= 2 && best_d * 2 < std::max<size_t>(word.size(), 2)) return best;
    for (const auto& c : candidates)
        if (word.size() >= 3 && c.size() > word.size() && c.compare(0, word.size(), word) == 0) return c;
    return std::nullopt;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates,
                         std::string_view prefix) {
    auto c = closest(word, candidates);
    if (!c) return "";
    return " (did you mean \"" + std::string(prefix) + *c + "\"?)";
}

} // namespace lokt::cli
