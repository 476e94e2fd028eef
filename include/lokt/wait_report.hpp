#pragma once
// Making waits visible (issue 10 §1): what a waiter prints on stderr while it waits for a
// lock. On a terminal one status line is rewritten in place (every second) and erased before
// the command starts; otherwise one line when the wait starts, one every minute, and one when
// it ends, so an agent's tool timeout or a CI no-output watchdog sees why nothing happens.

#include "lokt/wait.hpp"

#include <string>
#include <string_view>

namespace lokt {

/// How waits are shown.
enum class WaitDisplay {
    quiet,  ///< -q/--quiet: nothing
    lines,  ///< not a terminal (or TERM=dumb): whole lines, one a minute
    tty,    ///< a terminal: one line rewritten in place
};

/// The display for `fd`: quiet when asked, tty when it is a terminal and TERM is not "dumb",
/// else lines.
WaitDisplay wait_display(int fd, bool quiet);

/// Between reports: 1 s on a terminal, 60 s as lines (LOKT_TEST_WAIT_REPORT_MS overrides the
/// latter, so tests need not wait a minute).
Nanos report_interval(WaitDisplay d);

/// One report without a line end, e.g. `lokt: waiting for "build" — held by a@h (pid 4,
/// make) for 1m12s; 2 ahead of you`, `lokt: acquired "build" after 3m12s`.
std::string wait_report_text(const WaitProgress& p, TimePoint at);

/// Prints reports to an fd, never blocking (a report that does not fit is dropped).
class WaitReporter {
public:
    WaitReporter(int fd, WaitDisplay display) : fd_(fd), display_(display) {}
    /// Sets opt.progress and opt.progress_every to report here (nothing when quiet).
    void attach(WaitOptions& opt);
    /// Shows one report.
    void show(const WaitProgress& p);

private:
    void put(std::string_view text);
    int fd_;
    WaitDisplay display_;
    bool line_shown_ = false;  // tty: our status line is on the screen
};

} // namespace lokt
