#pragma once
// What the syscall layer's files share (core/sys*.cpp only; not a public header).

#include <cerrno>

namespace lokt::sys::detail {

/// Retries a syscall interrupted by a signal (bubblewrap's TEMP_FAILURE_RETRY).
template <class F>
auto retry_eintr(F f) {
    decltype(f()) r;
    do {
        r = f();
    } while (r == -1 && errno == EINTR);
    return r;
}

} // namespace lokt::sys::detail
