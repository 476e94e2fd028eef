#include "launch.hpp"

#include "lokt/proc/exec_image.hpp"
#include "lokt/proc/exit_status.hpp"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lokt::seccomp {
namespace {

void put(int fd, const char* s) {
    ssize_t n = ::write(fd, s, ::strlen(s));
    (void)n;
}

// The child: never returns.
[[noreturn]] void child(const LaunchSpec& spec, int sock, sock_fprog* prog, const proc::ExecImage& image,
                        char* const* envp, const char* err_prefix) {
    if (prog) {
        InstallReport report;
        int listener = install_filter(prog, spec.set_nnp, spec.wait_killable, &report);
        msghdr msg{};
        iovec iov{&report, sizeof report};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        if (listener >= 0) {
            std::memset(control, 0, sizeof control);
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            std::memcpy(CMSG_DATA(c), &listener, sizeof(int));
        }
        // The fd in flight keeps the listener open after we close ours.
        while (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {
        }
        if (listener >= 0) ::close(listener);
    }
    ::close(sock);
    proc::apply_signal_state(spec.signals);
    const int err = image.exec(envp);
    put(2, err_prefix);
    put(2, ::strerrordesc_np(err) ? ::strerrordesc_np(err) : "exec failed");
    put(2, "\n");
    ::_exit(proc::exec_failure_code(err));
}

} // namespace

Result<Launched> launch(const LaunchSpec& spec) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return Error::from_errno("socketpair", errno);
    sys::UniqueFd ours(sv[0]), theirs(sv[1]);

    // Everything the child touches is built here: after fork it may only make syscalls.
    const proc::ExecImage image(spec.path, spec.argv);
    auto envp = proc::c_array(spec.env);
    const std::string err_prefix = "error: cannot run \"" + (spec.argv.empty() ? spec.path : spec.argv[0]) + "\": ";
    sock_fprog prog{};
    if (spec.filter) prog = spec.filter->fprog();

    const pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno("fork", errno);
    if (pid == 0)
        child(spec, theirs.get(), spec.filter ? &prog : nullptr, image, envp.data(), err_prefix.c_str());
    theirs.reset();

    Launched out;
    out.pid = pid;
    if (!spec.filter) return out;
    InstallReport report{};
    msghdr msg{};
    iovec iov{&report, sizeof report};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(ours.get(), &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof report)) {
        // The child died before reporting (e.g. killed): nothing to supervise.
        out.report.err = n < 0 ? errno : ECHILD;
        return out;
    }
    out.report = report;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            out.listener.reset(fd);
        }
    }
    if (!out.listener.valid() && out.report.err == 0) out.report.err = EPROTO;
    return out;
}

} // namespace lokt::seccomp
