#pragma once
// The audit log: ROOT/audit.log, JSONL, append-only, one write() per event (P6), rotated by
// size into audit.log.1 .. audit.log.N; queries read across generations, oldest first.

#include "lokt/result.hpp"
#include "lokt/time.hpp"

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lokt {

/// One event, with the original's fields (golden audit-v1.log); empty/zero fields are omitted.
struct AuditEvent {
    TimePoint ts{};
    std::string event;      ///< acquire, deny, release, renew, force-break, stale-break, ...
    std::string name;
    std::string lock_id;
    std::string owner;
    std::string host;
    pid_t pid = 0;
    std::string agent_id;
    int64_t ttl_sec = 0;
    nlohmann::json extra;   ///< null or an object
};

/// One JSON line (no trailing newline), fields in the original's order.
std::string encode_event(const AuditEvent& e);
/// Parses one line; an Error for garbage.
Result<AuditEvent> decode_event(std::string_view line);

/// Filters for reading the log.
struct AuditQuery {
    std::optional<TimePoint> since;   ///< events with ts >= since
    std::optional<std::string> name;  ///< only this lock name
};

class AuditLog {
public:
    /// `path` is ROOT/audit.log. Rotation keeps `generations` old files of `max_bytes` each.
    explicit AuditLog(std::string path, uint64_t max_bytes = 64ull << 20, int generations = 3);

    /// Appends one event as one O_APPEND write; rotates first when the file is full.
    Result<void> append(const AuditEvent& e) const;

    /// Matching events in log order. `since` is found by binary search on byte offsets
    /// (the log is time-ordered), so the cost does not grow with the part before it.
    Result<void> read(const AuditQuery& q, const std::function<void(const std::string& line,
                                                                    const AuditEvent&)>& sink) const;

    /// Follows the log like `tail -f`, calling `sink` for each new matching event, until
    /// `stop()` returns true (checked at least every `poll`). Survives rotation.
    Result<void> follow(const AuditQuery& q,
                        const std::function<void(const std::string&, const AuditEvent&)>& sink,
                        const std::function<bool()>& stop) const;

    const std::string& path() const { return path_; }

private:
    std::string path_;
    uint64_t max_bytes_;
    int generations_;
};

} // namespace lokt
