#pragma once
// Lock names: [A-Za-z0-9._-]+, no "..", at most 255 bytes with the ".json" suffix.

#include "lokt/result.hpp"

#include <string_view>

namespace lokt {

/// Ok for a valid lock name; otherwise an Error whose message says what is wrong,
/// e.g. `invalid lock name "../x": must not contain ".."`.
Result<void> validate_name(std::string_view name);

} // namespace lokt
