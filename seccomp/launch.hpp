#pragma once
// Starting CMD under the filter: fork; the child installs the filter, hands the listener fd
// to the supervisor over a socketpair (SCM_RIGHTS), closes its own copy and execs. The
// child does only async-signal-safe syscalls; everything is prepared before the fork.

#include "filter.hpp"

#include "lokt/result.hpp"
#include "lokt/proc/signals.hpp"
#include "lokt/sys.hpp"

#include <sys/types.h>

#include <string>
#include <vector>

namespace lokt::seccomp {

/// What to start.
struct LaunchSpec {
    std::string path;               ///< the file to execute (ENOEXEC: run by /bin/sh)
    std::vector<std::string> argv;  ///< argv[0] included
    std::vector<std::string> env;   ///< "KEY=VALUE"
    proc::SignalState signals;       ///< the caller's signal state, restored in CMD
    FilterProgram* filter = nullptr;  ///< null: no filter (CMD runs unsupervised)
    bool set_nnp = true;            ///< PR_SET_NO_NEW_PRIVS before installing
    bool wait_killable = true;      ///< ask for WAIT_KILLABLE_RECV
};

/// The started child.
struct Launched {
    pid_t pid = 0;
    sys::UniqueFd listener;  ///< invalid when no filter was installed
    InstallReport report;    ///< how installing went (err != 0: CMD runs without the filter)
};

/// Forks and execs. If the filter cannot be installed, CMD still runs (report.err says why).
/// If the exec itself fails the child prints "error: cannot run ..." and exits 126/127.
Result<Launched> launch(const LaunchSpec& spec);

} // namespace lokt::seccomp
