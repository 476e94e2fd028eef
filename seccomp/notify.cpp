#include "notify.hpp"

#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace lokt::seccomp {

Result<Listener> Listener::adopt(sys::UniqueFd fd) {
    seccomp_notif_sizes sizes{};
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
        return Error::from_errno("seccomp(GET_NOTIF_SIZES)", errno);
    // A newer kernel may use larger structs than our headers: size buffers for both.
    return Listener(std::move(fd), std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)),
                    std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
}

Listener::Listener(sys::UniqueFd fd, size_t notif_size, size_t resp_size)
    : fd_(std::move(fd)), notif_buf_(notif_size), resp_buf_(resp_size) {}

Result<const seccomp_notif*> Listener::receive() {
    for (;;) {
        // The kernel rejects a receive buffer that is not zeroed (EINVAL).
        std::fill(notif_buf_.begin(), notif_buf_.end(), 0);
        if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_RECV, notif_buf_.data()) == 0)
            return reinterpret_cast<const seccomp_notif*>(notif_buf_.data());
        if (errno == EINTR) continue;
        if (errno == ENOENT) return static_cast<const seccomp_notif*>(nullptr);
        return Error::from_errno("seccomp notify receive", errno);
    }
}

bool Listener::valid(uint64_t id) {
    return ::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

bool Listener::send(uint64_t id, int err, uint32_t flags) {
    std::fill(resp_buf_.begin(), resp_buf_.end(), 0);
    auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf_.data());
    resp->id = id;
    resp->error = err ? -err : 0;
    resp->val = 0;
    resp->flags = flags;
    for (;;) {
        if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, resp) == 0) return true;
        if (errno != EINTR) return false;
    }
}

bool Listener::allow(uint64_t id) { return send(id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE); }

bool Listener::deny(uint64_t id, int err) { return send(id, err, 0); }

} // namespace lokt::seccomp
