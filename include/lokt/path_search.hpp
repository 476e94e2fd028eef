#pragma once
// The one PATH search of lokt, as glibc's execvp does it: used by the preload shim (inside
// exec calls, so freestanding: no heap, exceptions or stdio, async-signal-safe), by the rules
// check of `lokt shim`/`lokt rules`, and by the guard and the seccomp mode before they exec.

#include <sys/stat.h>

#include <cstddef>

namespace lokt {

/// The directories searched when PATH is unset: confstr(_CS_PATH), as execvp uses
/// ("/bin:/usr/bin" if confstr fails). `buf` must hold `cap` bytes; returns `buf`.
const char* default_search_path(char* buf, size_t cap) noexcept;

/// True if `path` names a regular file this process may execute (effective ids).
bool is_executable_file(const char* path, struct stat* st) noexcept;

/// Searches `path_list` (a PATH value; nullptr: the default above) for the program `name`,
/// which must not contain '/'. An empty element means the current directory, as in execvp.
/// Returns 0 with the candidate in `buf` (`cap` bytes; PATH_MAX suffices) and its stat in
/// `*st`; EACCES if some candidate exists but cannot be executed (a directory, no x bit) and
/// none can; ENOENT if none exists; EINVAL for an empty name or one with '/'.
int search_path(const char* name, const char* path_list, char* buf, size_t cap, struct stat* st) noexcept;

} // namespace lokt
