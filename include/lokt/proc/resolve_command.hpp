#pragma once
// The program a command line names, resolved before it is started (the guard, the seccomp
// mode), with execve's verdicts so that the exit status tells 127 from 126.

#include "lokt/result.hpp"

#include <string>

namespace lokt::proc {

/// Finds `name` like execvp does: a name with '/' is used as is, otherwise lokt::search_path
/// on `path_env` (unset: confstr(_CS_PATH), as execvp). The Error's sys_errno is ENOENT (not
/// found: 127), or EACCES/EISDIR (found but not executable: 126).
Result<std::string> resolve_command(const std::string& name, const char* path_env);

} // namespace lokt::proc
