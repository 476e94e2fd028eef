// The socket calls of the syscall layer (sys.hpp): what the etcd transport and its tests'
// loopback server need.
#include "lokt/sys.hpp"

#include "sys_retry.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

namespace lokt::sys {

using detail::retry_eintr;

Result<UniqueFd> socket(int domain, int type, int protocol) {
    int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) return Error::from_errno("socket", errno);
    return UniqueFd(fd);
}

Result<bool> connect(int fd, const struct sockaddr* addr, socklen_t len) {
    if (::connect(fd, addr, len) == 0) return true;
    // EINTR is not retried: the connection goes on being made in the background
    // (connect(2)), exactly as with EINPROGRESS.
    if (errno == EINPROGRESS || errno == EINTR) return false;
    return Error::from_errno("connect", errno);
}

Result<int> socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return Error::from_errno("getsockopt", errno);
    return err;
}

Result<void> setsockopt_int(int fd, int level, int name, int value) {
    if (::setsockopt(fd, level, name, &value, sizeof value) < 0) return Error::from_errno("setsockopt", errno);
    return {};
}

Result<void> bind_listen(int fd, const struct sockaddr* addr, socklen_t len, int backlog) {
    if (::bind(fd, addr, len) < 0) return Error::from_errno("bind", errno);
    if (::listen(fd, backlog) < 0) return Error::from_errno("listen", errno);
    return {};
}

Result<UniqueFd> accept(int fd, int extra_flags) {
    int c = retry_eintr([&] { return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | extra_flags); });
    if (c < 0) return Error::from_errno("accept", errno);
    return UniqueFd(c);
}

Result<uint16_t> local_port(int fd) {
    struct sockaddr_storage ss {};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) < 0)
        return Error::from_errno("getsockname", errno);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<struct sockaddr_in6*>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<struct sockaddr_in*>(&ss)->sin_port);
}

Result<size_t> send_some(int fd, std::string_view data, int flags) {
    ssize_t n = retry_eintr([&] { return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | flags); });
    if (n < 0) return Error::from_errno("send", errno);
    return static_cast<size_t>(n);
}

Result<UniqueFd> eventfd(unsigned initval, int extra_flags) {
    int fd = ::eventfd(initval, EFD_CLOEXEC | extra_flags);
    if (fd < 0) return Error::from_errno("eventfd", errno);
    return UniqueFd(fd);
}

Result<void> eventfd_signal(int fd) {
    const uint64_t one = 1;
    ssize_t n = retry_eintr([&] { return ::write(fd, &one, sizeof one); });
    // EAGAIN: the counter is at its maximum, so the fd is readable already.
    if (n < 0 && errno != EAGAIN) return Error::from_errno("eventfd write", errno);
    return {};
}

Result<std::vector<SockAddr>> resolve_tcp(const std::string& host, uint16_t port) {
    struct addrinfo hints {};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo* list = nullptr;
    const std::string service = std::to_string(port);
    int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
    if (rc != 0) {
        if (rc == EAI_SYSTEM) return Error::from_errno("getaddrinfo " + host, errno);
        return Error{"cannot resolve " + host + ": " + ::gai_strerror(rc)};
    }
    std::vector<SockAddr> out;
    for (auto* ai = list; ai; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(struct sockaddr_storage)) continue;
        SockAddr a;
        std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
        a.len = ai->ai_addrlen;
        a.family = ai->ai_family;
        out.push_back(a);
    }
    ::freeaddrinfo(list);
    return out;
}

} // namespace lokt::sys
