#include "lokt/proc/resolve_command.hpp"

#include "lokt/path_search.hpp"

#include <limits.h>
#include <sys/stat.h>

#include <cerrno>

namespace lokt::proc {

Result<std::string> resolve_command(const std::string& name, const char* path_env) {
    if (name.empty()) return Error{"empty command name", ENOENT};
    struct stat st;
    if (name.find('/') != std::string::npos) {
        // execve's own verdicts, so that the exit status tells 127 (absent) from 126 (cannot run).
        int err = ::stat(name.c_str(), &st) != 0 ? errno
                  : S_ISDIR(st.st_mode)          ? EISDIR
                  : !is_executable_file(name.c_str(), &st) ? EACCES
                                                            : 0;
        if (err) return Error::from_errno("cannot run \"" + name + "\"", err);
        return name;
    }
    char buf[PATH_MAX];
    int err = search_path(name.c_str(), path_env, buf, sizeof buf, &st);
    if (err == 0) return std::string(buf);
    if (err == EACCES) return Error::from_errno("cannot run \"" + name + "\"", err);
    return Error{"command not found: " + name, ENOENT};
}

} // namespace lokt::proc
