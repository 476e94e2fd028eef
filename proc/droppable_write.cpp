#include "lokt/proc/droppable_write.hpp"

#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace lokt::proc {

bool write_droppable(int fd, std::string_view text) {
    if (text.size() > PIPE_BUF) text = text.substr(0, PIPE_BUF);
    struct pollfd p {fd, POLLOUT, 0};
    int r;
    do {
        r = ::poll(&p, 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r != 1 || !(p.revents & POLLOUT)) return false;
    ssize_t n;
    do {
        n = ::write(fd, text.data(), text.size());
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(text.size());
}

} // namespace lokt::proc
