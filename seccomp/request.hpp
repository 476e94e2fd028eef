#pragma once
// From a notification to a decision: which program the exec would run, with which argv, and
// whether a rule wants a lock for it. Everything that is not a lockable exec passes at once.

#include "notify.hpp"
#include "remote.hpp"

#include "lokt/rules_match.hpp"

#include <linux/seccomp.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace lokt::seccomp {

/// One exec that matched a rule and waits for its locks.
struct ExecRequest {
    uint64_t id = 0;             ///< the notification
    int32_t nr = 0;              ///< its syscall number (to tell when the thread left it)
    pid_t tid = 0;               ///< the calling thread
    pid_t tgid = 0;              ///< its process: the holder recorded in the lock
    uint64_t tgid_start = 0;     ///< starttime of tgid
    std::string path;            ///< the program, absolute as the process sees it
    std::vector<std::string> argv;
    FileId file;                 ///< the program file
    std::optional<FileId> old_exe;  ///< the process's image before the exec
    rules::Decision decision{};
};

/// What to do with a notification.
enum class Verdict {
    pass,  ///< not ours to lock: CONTINUE now
    gone,  ///< the notification is no longer valid: nothing to reply
    lock,  ///< a rule matched: hand the request to the broker
};

/// Inspects notifications against one rule set.
class Inspector {
public:
    /// `lokt_bin`: lokt's own executable, whose execs are never locked.
    Inspector(const rules::RuleSet& rs, std::optional<FileId> lokt_bin)
        : rs_(rs), lokt_bin_(lokt_bin) {}

    /// Reads the exec's path (and argv, only when a rule could match), validating the
    /// notification after every read. Fills `out` for Verdict::lock.
    Verdict inspect(const seccomp_notif& n, Responder& resp, ExecRequest* out) const;

private:
    const rules::RuleSet& rs_;
    std::optional<FileId> lokt_bin_;
};

} // namespace lokt::seccomp
