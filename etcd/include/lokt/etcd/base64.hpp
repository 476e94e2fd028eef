#pragma once
// Standard base64 (RFC 4648, with padding): how the etcd JSON gateway carries keys and values.

#include "lokt/result.hpp"

#include <string>
#include <string_view>

namespace lokt::etcd {

/// Encodes bytes as padded base64.
std::string base64_encode(std::string_view bytes);
/// Decodes padded base64; an Error for a bad character or length.
Result<std::string> base64_decode(std::string_view text);

} // namespace lokt::etcd
