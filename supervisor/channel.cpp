#include "channel.hpp"

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

} // namespace lokt::sup
