#pragma once
// Where this lokt binary is, and the library directory installed beside it (lib/lokt).

#include <string>

namespace lokt::cli {

/// The path of the running executable (/proc/self/exe); empty if it cannot be read.
std::string self_exe();
/// The directory part of `path` ("." without a slash).
std::string dir_of(const std::string& path);
/// PREFIX/lib/lokt for a binary installed as PREFIX/bin/lokt (empty if self_exe() is).
std::string installed_lib_dir();
/// The library `lokt shim` preloads: $LOKT_PRELOAD_LIB (made absolute), else
/// installed_lib_dir()/liblokt_preload.so.
std::string preload_lib_path();

} // namespace lokt::cli
