#pragma once
// Paths: where this lokt binary is, the library directory installed beside it (lib/lokt),
// and paths made absolute before they are handed to processes that may change directory.

#include <string>

namespace lokt::cli {

/// The path of the running executable (/proc/self/exe); empty if it cannot be read.
std::string self_exe();
/// The directory part of `path` ("." without a slash).
std::string dir_of(const std::string& path);
/// PREFIX/lib/lokt for a binary installed as PREFIX/bin/lokt (empty if self_exe() is).
std::string installed_lib_dir();
/// `path` made absolute against the current directory (unchanged if it already is).
std::string absolute_path(const std::string& path);
/// The library `lokt shim` preloads: $LOKT_PRELOAD_LIB (made absolute), else
/// installed_lib_dir()/liblokt_preload.so.
std::string preload_lib_path();

} // namespace lokt::cli
