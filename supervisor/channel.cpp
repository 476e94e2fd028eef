#include "lokt/supervisor/channel.hpp"

#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace lokt::sup {

std::string encode_pgid_message(pid_t pgid) { return "P " + std::to_string(pgid) + "\n"; }

std::string encode_stopped_message() { return "S\n"; }

std::vector<StatusMessage> StatusReader::feed(std::string_view bytes) {
    pending_.append(bytes);
    std::vector<StatusMessage> out;
    size_t start = 0;
    for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(pending_.data() + start, nl - start);
        if (line.empty()) continue;
        StatusMessage m;
        m.kind = line[0];
        std::string_view rest = line.size() > 2 ? line.substr(2) : std::string_view{};
        if (m.kind == 'P') {
            m.pgid = static_cast<pid_t>(std::atol(std::string(rest).c_str()));
            if (m.pgid <= 0) continue;
        } else if (m.kind != 'S') {
            continue;
        }
        out.push_back(std::move(m));
    }
    pending_.erase(0, start);
    return out;
}

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

} // namespace lokt::sup
