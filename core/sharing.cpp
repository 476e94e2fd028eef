#include "lokt/sharing.hpp"


namespace lokt {
namespace {

// Our field names in the lock file; kept in LockRecord::unknown (the codec keeps unknown
// fields in order when it rewrites a file, and the original ignores them).
constexpr const char* kMode = "mode";
constexpr const char* kSlots = "slots";
constexpr const char* kSlot = "slot";
constexpr const char* kRep = "rep";

int int_field(const nlohmann::json& j, const char* key, int fallback) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return fallback;
    auto v = it->get<long long>();
    return v < -1 || v > kMaxSlots ? fallback : static_cast<int>(v);
}

} // namespace

Sharing sharing_of(const LockRecord& r) {
    Sharing s;
    if (!r.unknown.is_object()) return s;
    auto it = r.unknown.find(kMode);
    if (it == r.unknown.end() || !it->is_string()) return s;
    const auto& mode = it->get_ref<const std::string&>();
    if (mode == "shared") s.mode = LockMode::shared;
    else if (mode == "slots") s.mode = LockMode::slots;
    else return s;
    s.slots = int_field(r.unknown, kSlots, 0);
    s.slot = int_field(r.unknown, kSlot, -1);
    if (s.mode == LockMode::slots && s.slots < 1) return Sharing{};  // a pool of nothing: not ours
    if (auto rep = r.unknown.find(kRep); rep != r.unknown.end() && rep->is_string()) s.rep = rep->get<std::string>();
    return s;
}

void set_sharing(LockRecord& r, const Sharing& s) {
    if (!r.unknown.is_object()) r.unknown = nlohmann::json::object();
    for (const char* key : {kMode, kSlots, kSlot, kRep}) r.unknown.erase(key);
    if (s.mode == LockMode::exclusive) return;
    r.unknown[kMode] = std::string(to_string(s.mode));
    if (s.mode == LockMode::slots) r.unknown[kSlots] = s.slots;
    if (s.slot >= 0) r.unknown[kSlot] = s.slot;
    if (!s.rep.empty()) r.unknown[kRep] = s.rep;
}

bool is_group(const LockRecord& r) {
    Sharing s = sharing_of(r);
    return s.mode != LockMode::exclusive && !s.rep.empty();
}

Result<int> parse_slots(std::string_view text) {
    int n = 0;
    if (!parse_slot_count(text.data(), text.size(), &n))
        return Error{"slots must be a whole number from 1 to " + std::to_string(kMaxSlots) + ", not \"" +
                     std::string(text) + "\""};
    return n;
}

std::string_view to_string(LockMode m) {
    switch (m) {
    case LockMode::shared: return "shared";
    case LockMode::slots: return "slots";
    case LockMode::exclusive: break;
    }
    return "exclusive";
}

std::string describe_mode(LockMode mode, int slots) {
    if (mode == LockMode::slots) return std::to_string(slots) + (slots == 1 ? " slot" : " slots");
    return std::string(to_string(mode));
}

Error mode_mismatch(const std::string& name, const Sharing& group, LockMode mode, int slots) {
    return Error{"lock \"" + name + "\" is held as " + describe_mode(group.mode, group.slots) +
                 ", not as " + describe_mode(mode, slots) + " (all holders must agree)"};
}

} // namespace lokt
