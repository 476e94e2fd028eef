#pragma once
// `lokt shim --seccomp -- CMD` (DESIGN §6): CMD runs under a seccomp user-notification filter
// on execve/execveat, and this process stays its supervisor: every exec in CMD's tree is
// reported to it, and an exec matching a rule waits for its locks, which are then held on
// behalf of the exec'ing process (kind shim, pid = its thread group id) until it exits.
// It sees what the preload shim cannot: static and Go binaries, raw syscall(SYS_execve),
// setuid targets, and children whose environment lost LD_PRELOAD.

#include "lokt/backend.hpp"
#include "lokt/identity.hpp"
#include "lokt/root.hpp"
#include "lokt/rules_match.hpp"
#include "lokt/store.hpp"
#include "lokt/time.hpp"

#include <functional>
#include <string>
#include <vector>

namespace lokt {

/// Everything `lokt shim --seccomp` needs; the CLI fills it.
struct SeccompShimOptions {
    Root root;                            ///< the lock root (watched for changes to the files)
    Identity who;                         ///< owner, host and agent id of the locks taken
    const rules::RuleSet* rules = nullptr;  ///< null: nothing can match, no filter is installed
    std::string rules_path;               ///< exported to CMD as LOKT_RULES
    std::string backend_url;              ///< exported to CMD as LOKT_BACKEND (cli pinned_backend)
    std::string lokt_bin;                 ///< lokt itself: its execs are never locked
    /// liblokt_preload.so, loaded into CMD's tree as the filter's fast path (LOKT_SHIM=seccomp,
    /// lokt/seccomp_pass.hpp); empty: no preload, CMD gets LOKT_SHIM=off.
    std::string preload_lib;
    Nanos ttl{0};                         ///< > 0: shim locks expire unless renewed (every ttl/2)
    /// The text after "lokt: " for a refusal (held or frozen), written to the stderr of the
    /// process whose exec is refused; `tool` is the program's name (empty: not about one exec),
    /// `waited` the rule's wait ("2s") when it ran out, empty for an immediate refusal.
    std::function<std::string(const std::string& tool, const AcquireOutcome&, const std::string& waited)> refusal;
    /// Prints one warning line for the user (text without "warning: ").
    std::function<void(const std::string&)> warn;
    /// > 0: waiting execs get progress lines on their stderr at this interval (0: none).
    Nanos report_every{0};
    /// False: never ask for SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (tests of the fallback).
    bool wait_killable = true;
};

/// What the kernel lets `lokt shim --seccomp` do here (`lokt doctor`).
struct SeccompSupport {
    int err = 0;                 ///< errno when the exec filter cannot be installed; 0: it can
    bool wait_killable = false;  ///< SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV accepted (Linux 5.19)
    bool pidfd = false;          ///< pidfd_open() works (Linux 5.3)
};

/// Installs the exec filter in a throw-away child and reports how it went. Forks: call it
/// only from a single-threaded process.
Result<SeccompSupport> probe_seccomp();

/// Runs `cmd` (argv; argv[0] searched in PATH) under the exec filter and supervises it,
/// taking the locks on `backend` (acting as this process from now on).
/// Returns what `lokt shim --seccomp` exits with: CMD's status, 128+N when CMD was killed by
/// signal N, 126/127 when it could not be run. If CMD leaves processes behind, a copy of the
/// supervisor keeps serving them in the background (without it their execs would fail with
/// ENOSYS) and exits when the last of them is gone.
int run_seccomp_shim(const SeccompShimOptions& opt, Backend& backend, const std::vector<std::string>& cmd);

} // namespace lokt
