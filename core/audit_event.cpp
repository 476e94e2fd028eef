// Building audit events and writing them without ever failing (or silencing) the caller.

#include "lokt/audit_event.hpp"

#include "lokt/backend.hpp"
#include "lokt/sys.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>

namespace lokt {
namespace {

// Whether this process has already said that its audit log fails (one warning is enough:
// a guard renewing every few seconds must not repeat it).
bool g_warned = false;

// Runs one append; its Error, or an exception the JSON encoder threw (e.g. invalid UTF-8 in
// an owner), becomes the warning.
void guarded_append(const AuditEvent& e, const std::function<Result<void>()>& append) {
    std::string why;
    try {
        if (auto r = append(); !r) why = r.error().message;
    } catch (const std::exception& ex) {
        why = "audit log: cannot encode the event: " + std::string(ex.what());
    }
    if (!why.empty()) warn_unaudited(e, why);
}

} // namespace

AuditEvent make_event(std::string_view event, const Identity& actor, const std::string& name,
                      const LockRecord* lock, bool with_ttl) {
    AuditEvent e;
    e.ts = now();
    e.event = std::string(event);
    e.name = name;
    if (lock) e.lock_id = lock->lock_id;
    e.owner = actor.owner;
    e.host = actor.host;
    e.pid = actor.pid;
    e.agent_id = actor.agent_id;
    if (with_ttl && lock) e.ttl_sec = lock->ttl_sec;
    return e;
}

AuditEvent acquire_event(const Identity& actor, const std::string& name, const LockRecord& lock) {
    AuditEvent e = make_event("acquire", actor, name, &lock, true);
    if (!lock.command.empty()) e.extra["command"] = shorten(lock.command, kAuditCommandMax);
    return e;
}

AuditEvent release_event(const Identity& actor, const std::string& name, const LockRecord& lock,
                         const ReleaseNote& note) {
    AuditEvent e = make_event("release", actor, name, &lock, true);
    if (!note.reason.empty()) e.extra["reason"] = note.reason;
    // A record without its acquisition time (another tool's) has no meaningful duration.
    if (lock.acquired_ts != TimePoint{})
        e.extra["held_sec"] = audit_seconds(std::max(Nanos(0), std::chrono::duration_cast<Nanos>(e.ts - lock.acquired_ts)));
    if (note.exit) e.extra["exit"] = *note.exit;
    if (note.signal) e.extra["signal"] = *note.signal;
    return e;
}

Identity actor_of(const LockRecord& r) {
    Identity who;
    who.owner = r.owner;
    who.host = r.host;
    who.pid = r.pid;
    who.agent_id = r.agent_id;
    return who;
}

double audit_seconds(Nanos d) {
    return std::round(std::chrono::duration<double>(d).count() * 1000) / 1000;
}

std::string shorten(std::string_view s, size_t max) {
    if (s.size() <= max) return std::string(s);
    constexpr std::string_view kEllipsis = "...";
    size_t keep = max > kEllipsis.size() ? max - kEllipsis.size() : 0;
    // Back up over UTF-8 continuation bytes (10xxxxxx) so no character is cut in half.
    while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
    return std::string(s.substr(0, keep)) + std::string(kEllipsis);
}

void write_event(const AuditLog& log, const AuditEvent& e) {
    guarded_append(e, [&] { return log.append(e); });
}

void write_event(Backend& backend, const AuditEvent& e) {
    guarded_append(e, [&] { return backend.record(e); });
}

void warn_unaudited(const AuditEvent& e, const std::string& why) {
    if (g_warned) return;
    g_warned = true;
    const std::string line = "lokt: warning: " + why + " (\"" + e.event + "\" of \"" + e.name + "\" is not audited)\n";
    (void)sys::write_once(STDERR_FILENO, line);
}

} // namespace lokt
