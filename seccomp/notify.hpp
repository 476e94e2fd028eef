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

/// The listener fd of an installed filter. valid/allow/deny and receive_into may be called
/// from several threads at once (the kernel serialises them per notification).
class Listener final : public Responder {
public:
    /// Takes ownership of `fd`; asks the kernel for the notification struct sizes.
    static Result<Listener> adopt(sys::UniqueFd fd);

    int fd() const { return fd_.get(); }
    /// Bytes a receive buffer needs (the kernel's struct may be larger than our header's).
    size_t notif_size() const { return notif_size_; }
    /// Receives one notification into an internal buffer (one thread only). nullptr when
    /// there was none after all (the target died between poll and receive); an Error for
    /// anything else.
    Result<const seccomp_notif*> receive();
    /// What receive_into() got.
    enum class Got : uint8_t { notification, none, interrupted };
    /// Receives one notification into `buf` (notif_size() bytes), blocking until one comes;
    /// thread-safe. `none`: the target died first; `interrupted`: a signal ended the wait.
    Result<Got> receive_into(unsigned char* buf);

    bool valid(uint64_t id) override;
    bool allow(uint64_t id) override;
    bool deny(uint64_t id, int err) override;

    /// Asks for synchronous wake-ups (Linux 6.6+): a receiver blocked in RECV runs on the
    /// notifying task's CPU and the task resumes on the receiver's. False on older kernels.
    bool prefer_sync_wakeups();

private:
    /// Largest response struct we can send from a stack buffer.
    static constexpr size_t kMaxResp = 256;

    Listener(sys::UniqueFd fd, size_t notif_size, size_t resp_size);
    bool send(uint64_t id, int err, uint32_t flags);

    sys::UniqueFd fd_;
    size_t notif_size_;
    size_t resp_size_;
    std::vector<unsigned char> notif_buf_;
};

} // namespace lokt::seccomp
