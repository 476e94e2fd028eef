#include "lokt/proc/held_env.hpp"

namespace lokt::proc {

std::map<std::string, std::string> parse_held(std::string_view value) {
    std::map<std::string, std::string> out;
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view item = value.substr(0, comma);
        size_t colon = item.rfind(':');
        if (colon != std::string_view::npos && colon > 0 && colon + 1 < item.size())
            out[std::string(item.substr(0, colon))] = std::string(item.substr(colon + 1));
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return out;
}

std::string append_held(std::string_view inherited,
                        const std::vector<std::pair<std::string, std::string>>& locks) {
    std::string out(inherited);
    for (const auto& [name, id] : locks) {
        if (!out.empty()) out += ',';
        out += name + ":" + id;
    }
    return out;
}

std::string fence_env(const std::vector<std::pair<std::string, int64_t>>& locks) {
    for (const auto& l : locks)
        if (l.second <= 0) return {};  // a partial list would look complete to a script
    if (locks.size() == 1) return std::to_string(locks[0].second);
    std::string out;
    for (const auto& [name, fence] : locks) {
        if (!out.empty()) out += ',';
        out += name + ":" + std::to_string(fence);
    }
    return out;
}

} // namespace lokt::proc
