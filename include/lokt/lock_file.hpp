#pragma once
// The lock/freeze file codec: version 1 JSON, field-compatible with the original Go lokt
// (../shared/spec/golden/lock-v1.json), plus our own fields that the original ignores.

#include "lokt/time.hpp"

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lokt {

/// How a lock is held. Absent in files written by the original (`kind` is our field).
enum class LockKind {
    lease,  ///< `lokt lock`: ends by unlock, TTL or break; never by dead-PID pruning (P4)
    guard,  ///< held by a guard supervisor for a process tree
    shim,   ///< held on behalf of a tool by the shim
};

/// One lock (locks/NAME.json) or freeze (freezes/NAME.json).
struct LockRecord {
    int version = 1;
    std::string name;
    std::string lock_id;            ///< 32 hex chars
    std::string owner;
    std::string host;
    pid_t pid = 0;
    uint64_t pid_start_ns = 0;      ///< raw starttime of /proc/PID/stat (the original's naming)
    std::string agent_id;
    TimePoint acquired_ts{};
    int64_t ttl_sec = 0;            ///< 0: no TTL (field omitted, as the original)
    std::optional<TimePoint> expires_at;  ///< present iff ttl_sec > 0
    // Ours; omitted when unset.
    std::optional<LockKind> kind;
    pid_t pgid = 0;                 ///< the guarded command's process group (0: none)
    std::string command;            ///< the guarded command line, for humans
    std::string boot_id;            ///< the holder's kernel boot (liveness: another boot is gone)
    uint64_t pid_ns = 0;            ///< the holder's pid namespace inode (pid/pgid mean nothing elsewhere)
    int64_t fence = 0;              ///< fencing token: greater than every earlier holder's (0: none)
    nlohmann::json unknown = nlohmann::json::object();  ///< fields we do not know, kept on rewrite

    /// True when a TTL is set and has passed at `at`.
    bool expired(TimePoint at) const { return expires_at && at >= *expires_at; }
};

/// Outcome of decoding a lock file.
enum class DecodeStatus {
    ok,
    corrupt,         ///< not JSON, truncated, empty, or required fields missing/mistyped
    future_version,  ///< version > 1: never touched (the original refuses these too)
};

struct Decoded {
    DecodeStatus status = DecodeStatus::corrupt;
    LockRecord record;   ///< valid when status == ok
    std::string detail;  ///< why it is corrupt / which version
};

/// Pretty JSON (2-space indent, trailing newline), fields in the original's order.
std::string encode_lock(const LockRecord& r);
/// Parses a lock file's bytes.
Decoded decode_lock(std::string_view bytes);
/// The two decoders decode_lock combines, exposed for the test that they agree on every
/// input: the fast one (a record, or nullopt for anything unusual) and the strict one.
namespace detail {
std::optional<LockRecord> decode_lock_fast(std::string_view bytes);
Decoded decode_lock_strict(std::string_view bytes);
} // namespace detail

/// The JSON object (same fields and order as encode_lock), for --json outputs.
nlohmann::ordered_json lock_to_json(const LockRecord& r);

std::string_view to_string(LockKind k);
std::optional<LockKind> parse_lock_kind(std::string_view s);

} // namespace lokt
