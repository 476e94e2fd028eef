#include "lokt/supervisor/spawn.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace lokt::sup {
namespace {

// The exec-error pipe carries one int (errno) if the child fails before or at exec.
[[noreturn]] void child_fail(int report_fd, int err) {
    ssize_t ignored = ::write(report_fd, &err, sizeof err);
    (void)ignored;
    ::_exit(127);
}

std::vector<char*> c_array(const std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

} // namespace

Result<std::string> resolve_command(const std::string& name, const char* path_env) {
    if (name.empty()) return Error{"empty command name", ENOENT};
    auto check = [](const std::string& p) -> int {
        struct stat st;
        if (::stat(p.c_str(), &st) != 0) return errno;
        if (S_ISDIR(st.st_mode)) return EISDIR;
        if (::access(p.c_str(), X_OK) != 0) return errno;
        return 0;
    };
    if (name.find('/') != std::string::npos) {
        if (int err = check(name)) return Error::from_errno("cannot run \"" + name + "\"", err);
        return name;
    }
    std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
    int found_err = 0;  // like execvp: remember EACCES, keep looking
    size_t start = 0;
    for (;;) {
        size_t end = path.find(':', start);
        std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
        std::string cand = (dir.empty() ? std::string(".") : dir) + "/" + name;
        int err = check(cand);
        if (err == 0) return cand;
        if (err == EACCES || err == EISDIR) found_err = err;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    if (found_err) return Error::from_errno("cannot run \"" + name + "\"", found_err);
    return Error{"command not found: " + name, ENOENT};
}

std::vector<std::string> environment_with(const std::string& key, const std::string& value) {
    std::vector<std::string> env;
    std::string prefix = key + "=";
    bool replaced = false;
    for (char** e = environ; e && *e; ++e) {
        if (std::strncmp(*e, prefix.c_str(), prefix.size()) == 0) {
            if (!replaced) env.push_back(prefix + value);
            replaced = true;
            continue;
        }
        env.emplace_back(*e);
    }
    if (!replaced) env.push_back(prefix + value);
    return env;
}

Result<pid_t> spawn(const SpawnSpec& spec) {
    // Everything the child touches is prepared here: after fork it only makes syscalls.
    std::vector<char*> argv = c_array(spec.argv);
    std::vector<char*> envp = c_array(spec.env);
    std::vector<std::string> sh_args{"/bin/sh", spec.path};
    for (size_t i = 1; i < spec.argv.size(); ++i) sh_args.push_back(spec.argv[i]);
    std::vector<char*> sh_argv = c_array(sh_args);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Error::from_errno("pipe2", errno);
    sys::UniqueFd report_read(fds[0]), report_write(fds[1]);

    // Block everything around fork: a signal caught between fork and exec would run the
    // parent's handling in the child (research pitfall 11). The child restores the caller's mask.
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int rfd = report_write.get();
        if (spec.parent_death_kill) {
            if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(rfd, errno);
            // The parent may have died before prctl: compare with the saved pid, not with 1
            // (a subreaper or an init parent would fool "== 1"; coreutils 9.11).
            if (::getppid() != parent) ::_exit(128 + SIGKILL);
        }
        if (::setpgid(0, 0) != 0) child_fail(rfd, errno);
        // SIGTTOU is blocked here, so a tcsetpgrp from what is still a background group works.
        if (spec.tty_fd >= 0) ::tcsetpgrp(spec.tty_fd, ::getpid());
        apply_signal_state(spec.signals);
        ::execve(spec.path.c_str(), argv.data(), envp.data());
        if (errno == ENOEXEC) {
            ::execve(sh_argv[0], sh_argv.data(), envp.data());
            errno = ENOEXEC;
        }
        child_fail(rfd, errno);
    }
    int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return Error::from_errno("fork", fork_errno);
    report_write.reset();

    int child_errno = 0;
    ssize_t n;
    do {
        n = ::read(report_read.get(), &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        int st;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        return Error::from_errno("cannot run \"" + spec.path + "\"", child_errno);
    }
    return pid;
}

} // namespace lokt::sup
