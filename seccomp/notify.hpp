#pragma once
// The supervisor's side of the listener fd: SECCOMP_IOCTL_NOTIF_RECV / ID_VALID / SEND.
// The raw ioctls live here and nowhere else.

#include "lokt/result.hpp"
#include "lokt/sys.hpp"

#include <linux/seccomp.h>

#include <cstdint>
#include <vector>

namespace lokt::seccomp {

/// Replies to pending notifications; abstract so the lock broker can be tested without a
/// filter.
class Responder {
public:
    virtual ~Responder() = default;
    /// True while notification `id` is still waiting for its reply (the target is alive and
    /// still in that syscall).
    virtual bool valid(uint64_t id) = 0;
    /// Lets the syscall run; false when the notification is gone (ENOENT).
    virtual bool allow(uint64_t id) = 0;
    /// Fails the syscall with `err`; false when the notification is gone.
    virtual bool deny(uint64_t id, int err) = 0;
};

/// The listener fd of an installed filter.
class Listener final : public Responder {
public:
    /// Takes ownership of `fd`; asks the kernel for the notification struct sizes.
    static Result<Listener> adopt(sys::UniqueFd fd);

    int fd() const { return fd_.get(); }
    /// Receives one notification into an internal buffer. nullptr when there was none after
    /// all (the target died between poll and receive); an Error for anything else.
    Result<const seccomp_notif*> receive();

    bool valid(uint64_t id) override;
    bool allow(uint64_t id) override;
    bool deny(uint64_t id, int err) override;

private:
    Listener(sys::UniqueFd fd, size_t notif_size, size_t resp_size);
    bool send(uint64_t id, int err, uint32_t flags);

    sys::UniqueFd fd_;
    std::vector<unsigned char> notif_buf_;
    std::vector<unsigned char> resp_buf_;
};

} // namespace lokt::seccomp
