#pragma once
// Process-level pieces of `lokt shim --seccomp` around the supervisor's loop: CMD's
// environment, the fork check, the background copy's stdio, and the wait without a filter.

#include "lokt/seccomp_shim.hpp"

#include <sys/types.h>

#include <cstdint>

#include <string>
#include <vector>

namespace lokt::seccomp {

/// A random non-zero word for the filter and the preload (lokt/seccomp_pass.hpp).
uint64_t new_pass_word();
/// This process's environment with the shim's variables set for CMD: LOKT_BIN, LOKT_ROOT,
/// LOKT_RULES, LOKT_BACKEND; and either the preload as the filter's fast path (`pass_word`
/// non-zero: LD_PRELOAD, LOKT_SHIM=seccomp, LOKT_SECCOMP_PASS) or LOKT_SHIM=off.
std::vector<std::string> child_environment(const SeccompShimOptions& opt, uint64_t pass_word);
/// True once /proc/self/task lists only this thread (waits up to 1 s for joined threads).
bool single_threaded();
/// Points stdin, stdout and stderr at /dev/null (the background copy).
void detach_stdio();
/// Without a filter: waits for `child`, passing on the signals read from `sigfd`.
int wait_plain(pid_t child, int sigfd);

} // namespace lokt::seccomp
