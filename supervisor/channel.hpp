#pragma once
// The two pipes between the front and the supervisor.
//
// status pipe (supervisor -> front), one text line per message:
//   "P PGID"          the command runs in process group PGID
//   "S"               the command's group stopped (job control: the front stops too)
// life pipe (front -> supervisor): one byte per signal the front relays (its number). EOF
// means the front is gone — it is the only holder of the write end.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lokt::sup {

/// One decoded status-pipe message.
struct StatusMessage {
    char kind = 0;        ///< 'P' or 'S'
    pid_t pgid = 0;       ///< P: the command's process group
};

std::string encode_pgid_message(pid_t pgid);
std::string encode_stopped_message();

/// Splits a byte stream into complete lines and decodes them (unknown lines are skipped).
class StatusReader {
public:
    /// Feeds bytes; returns the messages completed by them.
    std::vector<StatusMessage> feed(std::string_view bytes);

private:
    std::string pending_;
};

} // namespace lokt::sup
