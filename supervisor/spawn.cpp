#include "spawn.hpp"

#include "lokt/proc/exec_image.hpp"


#include <fcntl.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

extern char** environ;

namespace lokt::sup {
using proc::ExecImage;
using proc::apply_signal_state;
using proc::c_array;
namespace {

// The exec-error pipe carries one int (errno) if the child fails before or at exec.
[[noreturn]] void child_fail(int report_fd, int err) {
    ssize_t ignored = ::write(report_fd, &err, sizeof err);
    (void)ignored;
    ::_exit(127);
}

// In the forked child (syscalls and plain stores only): reads one gate value, up to '\n' or
// EOF, into `value` (kGateValueMax + 1 bytes of zeros); its length (0: none given).
size_t read_gate_value(int fd, char* value) {
    size_t len = 0;
    for (;;) {
        char c;
        ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n != 1 || c == '\n') break;
        if (len < kGateValueMax) value[len++] = c;
    }
    value[len] = '\0';
    return len;
}

/// The command's environment with its gate variables, prepared before fork so that the child
/// only stores pointers: each gate variable's "KEY=" entry with room for its value, which
/// entries of `env` set which gate variable, and the array the child fills.
struct GateEnv {
    explicit GateEnv(const SpawnSpec& spec) {
        for (const auto& var : spec.gate_vars) entries.push_back(var + "=" + std::string(kGateValueMax + 1, '\0'));
        for (size_t i = 0; i < entries.size(); ++i) values.push_back(entries[i].data() + spec.gate_vars[i].size() + 1);
        given.assign(entries.size(), 0);
        for (const auto& e : spec.env) {
            env.push_back(const_cast<char*>(e.c_str()));
            int owner = -1;
            for (size_t i = 0; i < spec.gate_vars.size(); ++i)
                if (e.size() > spec.gate_vars[i].size() && e.starts_with(spec.gate_vars[i]) &&
                    e[spec.gate_vars[i].size()] == '=')
                    owner = static_cast<int>(i);
            env_owner.push_back(owner);
        }
        out.assign(env.size() + entries.size() + 1, nullptr);
    }
    /// In the child: reads the values from the gate and fills `out`.
    char** fill(int gate_fd) {
        size_t n = 0;
        for (size_t i = 0; i < entries.size(); ++i) {
            given[i] = read_gate_value(gate_fd, values[i]) > 0;
            if (given[i]) out[n++] = entries[i].data();
        }
        for (size_t j = 0; j < env.size(); ++j)
            if (env_owner[j] < 0 || !given[static_cast<size_t>(env_owner[j])]) out[n++] = env[j];
        out[n] = nullptr;
        return out.data();
    }

    std::vector<std::string> entries;
    std::vector<char*> values;
    std::vector<char> given;
    std::vector<char*> env;
    std::vector<int> env_owner;
    std::vector<char*> out;
};

} // namespace

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

std::vector<std::string> environment_without(std::vector<std::string> env, const std::string& key) {
    const std::string prefix = key + "=";
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(prefix); });
    return env;
}

Result<GatedChild> spawn_gated(const SpawnSpec& spec) {
    // Everything the child touches is prepared here: after fork it only makes syscalls.
    const ExecImage image(spec.path, spec.argv);
    if (spec.gate_vars.size() > kGateVarsMax) return Error{"too many gate variables"};
    GateEnv gate_env(spec);
    std::vector<char*> alt_envp = c_array(spec.alt_env);

    auto gate = sys::pipe();
    if (!gate) return gate.error();
    // Non-blocking read end: the supervisor looks at it without waiting for the exec.
    auto report = sys::pipe(O_NONBLOCK);
    if (!report) return report.error();

    // Block everything around fork: a signal caught between fork and exec would run the
    // parent's handling in the child (research pitfall 11). The child restores the caller's mask.
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int rfd = report->write.get();
        if (spec.parent_death_kill) {
            if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(rfd, errno);
            // The parent may have died before prctl: compare with the saved pid, not with 1
            // (a subreaper or an init parent would fool "== 1"; coreutils 9.11).
            if (::getppid() != parent) ::_exit(128 + SIGKILL);
        }
        if (::setpgid(0, 0) != 0) child_fail(rfd, errno);
        // Our copy of the write end would keep the gate from ever reading EOF.
        ::close(gate->write.get());
        char which = 0;
        ssize_t n;
        do {
            n = ::read(gate->read.get(), &which, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) ::_exit(0);  // cancelled: never exec
        char** env = which == 'A' ? alt_envp.data() : gate_env.fill(gate->read.get());
        // SIGTTOU is blocked here, so a tcsetpgrp from what is still a background group works.
        if (spec.tty_fd >= 0) ::tcsetpgrp(spec.tty_fd, ::getpid());
        apply_signal_state(spec.signals);
        child_fail(rfd, image.exec(env));
    }
    int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return Error::from_errno("fork", fork_errno);
    // Also from here (the shells' way): the group exists before anything names it.
    ::setpgid(pid, pid);
    return GatedChild(pid, std::move(gate->write), std::move(report->read));
}

void GatedChild::open(bool alt, const std::vector<std::string>& values) {
    if (!gate_.valid()) return;
    // One write below PIPE_BUF: the child never sees half of it.
    std::string msg(1, alt ? 'A' : 'E');
    if (!alt)
        for (size_t i = 0; i < values.size() && i < kGateVarsMax; ++i)
            msg.append(values[i].substr(0, kGateValueMax)).push_back('\n');
    ssize_t n;
    do {
        n = ::write(gate_.get(), msg.data(), msg.size());
    } while (n < 0 && errno == EINTR);
    gate_.reset();
}

int GatedChild::exec_errno(bool wait) {
    while (report_.valid()) {
        int err = 0;
        auto n = sys::read_some(report_.get(), &err, sizeof err);
        if (!n && n.error().sys_errno == EAGAIN) {
            if (!wait) return 0;
            (void)sys::wait_readable(report_.get(), -1);
            continue;
        }
        report_.reset();
        // EOF: the close-on-exec write end went with a successful exec.
        return n && *n == sizeof err ? err : 0;
    }
    return 0;
}

void GatedChild::cancel() {
    if (!gate_.valid()) return;
    gate_.reset();
    // Still our unreaped child, so the pid cannot name anyone else.
    ::kill(pid_, SIGKILL);
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {}
}

Result<pid_t> spawn(const SpawnSpec& spec) {
    auto child = spawn_gated(spec);
    if (!child) return child.error();
    child->open(false);
    if (int err = child->exec_errno(true)) {
        int st;
        while (::waitpid(child->pid(), &st, 0) < 0 && errno == EINTR) {}
        return Error::from_errno("cannot run \"" + spec.path + "\"", err);
    }
    return child->pid();
}

} // namespace lokt::sup
