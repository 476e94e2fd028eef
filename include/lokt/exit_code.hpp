#pragma once
// The process exit codes lokt returns. 0-4 are the spec's table (quickstart "Exit Codes");
// 64 is EX_USAGE from sysexits.h, as the original uses for bad usage; 126/127/128+N are the
// shell's convention for a guarded command (POSIX sh "Exit Status for Commands", tini, bash).

namespace lokt {

enum class ExitCode : int {
    ok = 0,
    error = 1,          ///< general error
    held = 2,           ///< lock held by another owner, or frozen
    not_found = 3,      ///< lock not found
    not_owner = 4,      ///< not the lock's owner
    usage = 64,         ///< EX_USAGE: bad command line
    cannot_execute = 126,  ///< guarded command found but not executable
    command_not_found = 127,
    signal_base = 128,  ///< guarded command died of signal N: 128 + N
};

constexpr int to_int(ExitCode c) { return static_cast<int>(c); }

} // namespace lokt
