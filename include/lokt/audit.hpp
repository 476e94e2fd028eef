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
#include <string_view>
#include <vector>

namespace lokt {
namespace rootfs { class Dir; }

/// One event, with the original's fields (golden audit-v1.log); empty/zero fields are omitted.
struct AuditEvent {
    TimePoint ts{};
    std::string event;      ///< acquire, deny, release, renew, force-break, stale-break, ...
    std::string name;
    std::string lock_id;    ///< omitted when empty
    std::string owner;
    std::string host;
    pid_t pid = 0;
    std::string agent_id;   ///< omitted when empty
    int64_t ttl_sec = 0;    ///< omitted when 0
    nlohmann::json extra;   ///< null or an object; omitted when null or empty
};

/// One JSON line (no trailing newline), fields and escaping as the original's encoder.
std::string encode_event(const AuditEvent& e);
/// Parses one line (unknown fields are ignored); an Error for garbage or a missing ts/event.
Result<AuditEvent> decode_event(std::string_view line);
/// The ts of a line without decoding the rest; nullopt when the line has no readable ts.
std::optional<TimePoint> peek_event_ts(std::string_view line);

/// Filters for reading the log.
struct AuditQuery {
    std::optional<TimePoint> since;   ///< events with ts >= since
    std::optional<std::string> name;  ///< only this lock name
    /// false: the sink's events carry only ts, event and name (lines are still validated);
    /// enough for printing the raw lines, and much cheaper.
    bool full_events = true;
};

/// What a read saw besides the matching events.
struct AuditReadStats {
    uint64_t matched = 0;   ///< events passed to the sink
    uint64_t garbage = 0;   ///< lines that are not events (skipped)
};

/// Receives each matching event: the line exactly as stored (no newline) and its decoding.
using AuditSink = std::function<void(std::string_view line, const AuditEvent& event)>;

/// Size of audit.log at which it is rotated, unless LOKT_AUDIT_MAX_BYTES overrides it.
inline constexpr uint64_t kAuditDefaultMaxBytes = 64ull << 20;
/// Rotated generations kept (audit.log.1 .. audit.log.3).
inline constexpr int kAuditDefaultGenerations = 3;

class AuditLog {
public:
    /// `path` is ROOT/audit.log. Rotation keeps `generations` old files of about `max_bytes`
    /// each; 0 means the default (max_bytes: $LOKT_AUDIT_MAX_BYTES, else 64 MiB).
    explicit AuditLog(std::string path, uint64_t max_bytes = 0, int generations = 0);

    /// Appends one event as one O_APPEND write; rotates first when the file is full.
    /// A short write (full disk) is an Error; an append that finds itself glued to such a
    /// fragment writes its line again on a line of its own, so the fragment never swallows
    /// the event after it. Never follows a symlink or opens a FIFO.
    Result<void> append(const AuditEvent& e) const;

    /// Matching events in log order, oldest generation first. `since` is found by binary
    /// search on byte offsets (the log is time-ordered), so the part before it is not read.
    Result<AuditReadStats> read(const AuditQuery& q, const AuditSink& sink) const;

    /// Like `tail -f`: with q.since, first the history as read() gives it, then every new
    /// matching event as it is appended (inotify, with a polling fallback), until `stop()`
    /// returns true (checked at least every 200 ms). Survives rotation.
    Result<AuditReadStats> follow(const AuditQuery& q, const AuditSink& sink,
                                  const std::function<bool()>& stop) const;

    /// The files of the log that exist now, oldest first (audit.log.N .. audit.log).
    std::vector<std::string> existing_files() const;

    const std::string& path() const { return path_; }
    uint64_t max_bytes() const { return max_bytes_; }
    int generations() const { return generations_; }

private:
    Result<void> rotate_if_full(const rootfs::Dir& dir) const;

    std::string path_;
    uint64_t max_bytes_;
    int generations_;
};

} // namespace lokt
