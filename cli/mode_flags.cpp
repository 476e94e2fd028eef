// --shared and --slots N of `lokt lock` and `lokt guard`, and how a shared holder is named.

#include "output.hpp"

#include "lokt/sharing.hpp"

namespace lokt::cli {

Result<ModeFlags> parse_mode(const Args& args) {
    ModeFlags m;
    const auto slots = args.value("slots");
    if (args.has("shared") && slots) return Error{"--shared and --slots exclude each other"};
    if (args.has("shared")) m.mode = LockMode::shared;
    if (slots) {
        auto n = parse_slots(*slots);
        if (!n) return Error{"--" + n.error().message};
        m.mode = LockMode::slots;
        m.slots = *n;
    }
    return m;
}

std::string mode_suffix(const LockRecord& holder) {
    const Sharing s = sharing_of(holder);
    if (s.mode == LockMode::shared) return "shared";
    if (s.mode == LockMode::slots) return "slot " + std::to_string(s.slot) + " of " + std::to_string(s.slots);
    return {};
}

} // namespace lokt::cli
