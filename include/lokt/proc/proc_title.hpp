#pragma once
// The supervisor's name in ps: `lokt guard NAME [supervisor]` instead of a second copy of the
// front's command line, so the pid in "held by ... (pid N)" can be told apart at a glance.

#include <string>

namespace lokt::proc {

/// Remembers the bytes main's argv strings occupy (call first thing in main, before anything
/// keeps a char* into argv; lokt copies its arguments into std::strings at once).
void remember_argv(int argc, char** argv);

/// Renames this process: its comm (PR_SET_NAME, at most 15 bytes: `ps -o comm`, top) and,
/// within the bytes of the remembered argv, its command line (`ps -o args`, /proc/PID/cmdline).
/// A title longer than that area is cut; without remember_argv only comm changes.
void set_process_title(const std::string& comm, const std::string& title);

} // namespace lokt::proc
