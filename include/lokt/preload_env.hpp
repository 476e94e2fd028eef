#pragma once
// The environment values that load liblokt_preload.so into a tree, shared by `lokt shim`
// and `lokt shim --seccomp` (which loads it as its filter's fast path).

#include <string>

namespace lokt {

/// LD_PRELOAD's new value: `lib` first, then what `old` (may be null) listed; `old` unchanged
/// when it already names `lib` (entries are separated by ':' or spaces).
std::string preload_list_with(const char* old, const std::string& lib);

/// ASAN_OPTIONS's new value: sanitizer runtimes abort when they are not first in the library
/// list, so verify_asan_link_order=0 is added unless `old` (may be null) already sets it.
std::string asan_options_for_preload(const char* old);

} // namespace lokt
