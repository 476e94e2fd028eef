#include "lokt/result.hpp"

#include <cstring>

namespace lokt {

Error Error::from_errno(std::string what, int err) {
    return Error{std::move(what) + ": " + std::strerror(err), err};
}

} // namespace lokt
