#pragma once
// The controlling terminal: handed to the command's process group only when the caller's
// group was the foreground one, and given back before `lokt guard` exits (research
// must-have 9; tini never checks, and nobody gives it back).

#include "lokt/sys.hpp"

#include <sys/types.h>

namespace lokt::sup {

class Terminal {
public:
    /// Opens /dev/tty; `active()` is true when our group is its foreground group.
    static Terminal detect();

    /// The caller was in the foreground: the command gets the terminal.
    bool active() const { return active_; }
    /// The terminal fd (close-on-exec), or -1 when not active.
    int fd() const { return active_ ? fd_.get() : -1; }
    /// Makes `pgid` the foreground group (SIGTTOU is blocked around the call).
    void give_to(pid_t pgid) const;
    /// Makes our own group the foreground group again.
    void take_back() const;
    /// Our group is the foreground group right now (e.g. after `fg`, not after `bg`).
    bool we_are_foreground() const;

private:
    sys::UniqueFd fd_;
    bool active_ = false;
};

} // namespace lokt::sup
