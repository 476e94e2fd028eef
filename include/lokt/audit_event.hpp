#pragma once
// The one way to build and write an audit event. Every writer — the file store, the guard's
// keeper, the seccomp broker, the etcd backend — builds its events here, so that the same
// event has the same fields whoever writes it, and writes them through write_event(), so that
// a failing audit log is never silent.

#include "lokt/audit.hpp"
#include "lokt/identity.hpp"
#include "lokt/lock_file.hpp"
#include "lokt/time.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace lokt {

class Backend;

/// Why a lock is given back, for its `release` event: a reason and, for a guard, how the
/// command ended. Converts from a plain reason ("aborted", "cancelled", ...).
struct ReleaseNote {
    std::string reason;            ///< omitted when empty
    std::optional<int> exit;       ///< the guarded command's exit status (128+N after signal N)
    std::optional<int> signal;     ///< the signal that ended it, if one did

    ReleaseNote() = default;
    ReleaseNote(std::string why) : reason(std::move(why)) {}  // NOLINT: a reason is a note
    ReleaseNote(const char* why) : reason(why) {}             // NOLINT
};

/// Longest `command` an event carries; longer command lines are cut and end in "...".
inline constexpr size_t kAuditCommandMax = 200;

/// An event stamped now: `event` by `actor` about lock `name`; with `lock`, its lock_id, and
/// its ttl_sec when `with_ttl`.
AuditEvent make_event(std::string_view event, const Identity& actor, const std::string& name,
                      const LockRecord* lock = nullptr, bool with_ttl = false);
/// `acquire` of `lock` by `actor`: make_event plus the lock's `command` (shortened).
AuditEvent acquire_event(const Identity& actor, const std::string& name, const LockRecord& lock);
/// `release` of `lock` by `actor`: make_event plus `held_sec` and what `note` says
/// (`reason`, `exit`, `signal`).
AuditEvent release_event(const Identity& actor, const std::string& name, const LockRecord& lock,
                         const ReleaseNote& note);
/// The actor a lock or freeze record names (owner, host, pid, agent id).
Identity actor_of(const LockRecord& r);

/// A duration as the audit log's seconds: a number with millisecond precision.
double audit_seconds(Nanos d);
/// `s` cut to at most `max` bytes (ending in "...", never inside a UTF-8 character).
std::string shorten(std::string_view s, size_t max);

/// Appends `e` to `log`. A failing audit log never fails the operation that happened, but it
/// is never silent either: the first failure in a process prints one warning on stderr.
void write_event(const AuditLog& log, const AuditEvent& e);
/// The same through `backend`'s record() (the file store's log, or etcd).
void write_event(Backend& backend, const AuditEvent& e);
/// The warning write_event prints for the first failure in a process (for writers that put
/// the event into a transaction of their own); `why` is the failure.
void warn_unaudited(const AuditEvent& e, const std::string& why);

} // namespace lokt
