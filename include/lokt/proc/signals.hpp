#pragma once
// Signal plumbing shared by the front and the supervisor: which signals are relayed to the
// command, the caller's signal state (restored exactly in the command), and signalfd reads.

#include "lokt/result.hpp"
#include "lokt/sys.hpp"

#include <signal.h>
#include <sys/signalfd.h>

#include <vector>

namespace lokt::proc {

/// The mask and the ignored dispositions a process started with.
struct SignalState {
    sigset_t mask;
    sigset_t ignored;
};

/// The current thread's mask and every signal whose disposition is SIG_IGN.
SignalState capture_signal_state();

/// Signals `lokt guard` relays to the command: every catchable one except SIGCHLD, the
/// synchronous faults (ILL, TRAP, ABRT, BUS, FPE, SEGV, SYS) and TTIN/TTOU; minus `except`
/// (the caller's ignored set: a signal the caller ignores is not relayed either).
sigset_t relayed_signals(const sigset_t& except);

/// True when the default action of `sig` ends the process (TERM, INT, HUP, ...): a stopped
/// command must then be continued so it can act on it.
bool terminates_by_default(int sig);

/// True for the signals that cancel a guard the way `timeout -k` handles them: SIGTERM,
/// SIGHUP and SIGQUIT (what CI runners and closing terminals send). Once one is relayed, a
/// tree still alive after --kill-after gets SIGKILL. Not SIGINT: interactive programs catch
/// it to do something other than exit.
bool escalates_to_kill(int sig);

/// Sets every disposition to SIG_DFL, except those in `s.ignored` (SIG_IGN), then installs
/// `s.mask`. Async-signal-safe: meant for a forked child right before exec.
void apply_signal_state(const SignalState& s);

/// A non-blocking, close-on-exec signalfd for `set` (the caller blocks `set`).
Result<sys::UniqueFd> make_signalfd(const sigset_t& set);

/// Every siginfo queued on signalfd `fd` right now (non-blocking read until EAGAIN).
std::vector<signalfd_siginfo> read_signals(int fd);

/// "SIGTERM" for 15; "SIG<n>" for numbers without a name.
const char* signal_name(int sig);

} // namespace lokt::proc
