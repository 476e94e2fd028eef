#pragma once
// The one way lokt execs a command it starts (the guard's child, the seccomp shim's CMD, a
// nested guard replacing itself): every array built before fork, so the child only makes
// syscalls; a file the kernel cannot run (ENOEXEC, a script without "#!") runs through
// /bin/sh, as execvp does.

#include <string>
#include <vector>

namespace lokt::proc {

/// A command ready to exec: the path, its argv and the /bin/sh fallback's argv.
class ExecImage {
public:
    /// `argv` is passed byte for byte; argv[0] may differ from `path`.
    ExecImage(std::string path, std::vector<std::string> argv);
    ExecImage(const ExecImage&) = delete;
    ExecImage& operator=(const ExecImage&) = delete;

    /// execve with `envp`; on ENOEXEC `/bin/sh PATH ARG1...`. Returns only on failure, with
    /// the first exec's errno. Async-signal-safe: usable in a forked child.
    int exec(char* const envp[]) const noexcept;

    const std::string& path() const { return path_; }
    char* const* argv() const { return argv_.data(); }

private:
    std::string path_;
    std::vector<std::string> words_;  ///< argv, then "/bin/sh"
    std::vector<char*> argv_, sh_argv_;
};

/// A NULL-terminated array of pointers into `words` (which must outlive it).
std::vector<char*> c_array(const std::vector<std::string>& words);

} // namespace lokt::proc
