#include "notify.hpp"

#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

// Linux 6.6 (commit "seccomp: add the synchronous mode for seccomp_unotify"); Debian 12's
// headers predate it. The flag is passed by value, as in the kernel's selftest.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace lokt::seccomp {

Result<Listener> Listener::adopt(sys::UniqueFd fd) {
    seccomp_notif_sizes sizes{};
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
        return Error::from_errno("seccomp(GET_NOTIF_SIZES)", errno);
    // A newer kernel may use larger structs than our headers: size buffers for both.
    const size_t resp = std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp));
    if (resp > kMaxResp) return Error::from_errno("seccomp notify response size", EOVERFLOW);
    return Listener(std::move(fd), std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)), resp);
}

Listener::Listener(sys::UniqueFd fd, size_t notif_size, size_t resp_size)
    : fd_(std::move(fd)), notif_size_(notif_size), resp_size_(resp_size), notif_buf_(notif_size) {}

Result<Listener::Got> Listener::receive_into(unsigned char* buf) {
    // The kernel rejects a receive buffer that is not zeroed (EINVAL).
    std::memset(buf, 0, notif_size_);
    if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_RECV, buf) == 0) return Got::notification;
    if (errno == EINTR) return Got::interrupted;
    if (errno == ENOENT) return Got::none;
    return Error::from_errno("seccomp notify receive", errno);
}

Result<const seccomp_notif*> Listener::receive() {
    for (;;) {
        auto got = receive_into(notif_buf_.data());
        if (!got) return got.error();
        if (*got == Got::notification) return reinterpret_cast<const seccomp_notif*>(notif_buf_.data());
        if (*got == Got::none) return static_cast<const seccomp_notif*>(nullptr);
    }
}

bool Listener::valid(uint64_t id) {
    return ::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

bool Listener::send(uint64_t id, int err, uint32_t flags) {
    // On the stack: several receiver threads answer at once, and the fast path allocates nothing.
    alignas(seccomp_notif_resp) unsigned char buf[kMaxResp];
    std::memset(buf, 0, resp_size_);
    auto* resp = reinterpret_cast<seccomp_notif_resp*>(buf);
    resp->id = id;
    resp->error = err ? -err : 0;
    resp->val = 0;
    resp->flags = flags;
    for (;;) {
        if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, resp) == 0) return true;
        if (errno != EINTR) return false;
    }
}

bool Listener::prefer_sync_wakeups() {
    return ::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
}

bool Listener::allow(uint64_t id) { return send(id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE); }

bool Listener::deny(uint64_t id, int err) { return send(id, err, 0); }

} // namespace lokt::seccomp
