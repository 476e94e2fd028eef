#pragma once
// Process-level pieces of `lokt shim --seccomp` around the supervisor's loop: CMD's
// environment, the fork check, the background copy's stdio, and the wait without a filter.

#include "lokt/seccomp_shim.hpp"

#include <sys/types.h>

#include <string>
#include <vector>

namespace lokt::seccomp {

/// This process's environment with the shim's variables set for CMD (LOKT_SHIM=off, ...).
std::vector<std::string> child_environment(const SeccompShimOptions& opt);
/// True once /proc/self/task lists only this thread (waits up to 1 s for joined threads).
bool single_threaded();
/// Points stdin, stdout and stderr at /dev/null (the background copy).
void detach_stdio();
/// Without a filter: waits for `child`, passing on the signals read from `sigfd`.
int wait_plain(pid_t child, int sigfd);

} // namespace lokt::seccomp
