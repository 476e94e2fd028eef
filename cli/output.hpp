#pragma once
// What the lock commands share: opening the store, the timing flags (--ttl/--wait/--timeout,
// also used by guard), and the wording/JSON of held, frozen and status outputs.

#include "cli.hpp"

#include "lokt/lock_file.hpp"
#include "lokt/duration.hpp"
#include "lokt/store.hpp"
#include "lokt/time.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace lokt::cli {

using OrderedJson = nlohmann::ordered_json;

/// Root discovery, identity and audit log for one command. With `create`, the root and its
/// locks/ and freezes/ directories are created (an Error if that is impossible); without it,
/// nothing is created (read-only commands on a missing root see no locks).
Result<Store> open_store(bool create);

/// --ttl, --wait and --timeout as given on a command line.
struct TimingFlags {
    Nanos ttl{0};                                ///< 0: no TTL
    bool wait = false;
    Nanos timeout = std::chrono::minutes(10);    ///< the original's default for --wait
};

/// The values a duration flag accepts, both ends included; `hint` follows a "below the
/// minimum" message.
struct DurationBounds {
    Nanos min{0};
    Nanos max{kMaxDurationNs};
    const char* hint = "";
};
/// --ttl (guard, lock, freeze): at least 1s, so a renewal at TTL/2 can land before expiry.
inline constexpr DurationBounds kTtlBounds{std::chrono::seconds(1), Nanos(kMaxDurationNs),
                                           " (leave out --ttl for a lock without expiry)"};
/// --timeout: 0 (one try) up to the general maximum of 87600h.
inline constexpr DurationBounds kTimeoutBounds{Nanos(0), Nanos(kMaxDurationNs), ""};
/// --kill-after: 0 (SIGKILL at once) up to 24h.
inline constexpr DurationBounds kKillAfterBounds{Nanos(0), std::chrono::hours(24), ""};

/// Parses duration flag `flag` (e.g. "ttl"); nullopt when absent, an Error naming the flag
/// for garbage, signed values, or a value outside `bounds`.
Result<std::optional<Nanos>> duration_flag(const Args& args, const std::string& flag,
                                           const DurationBounds& bounds);
/// Parses --ttl/--wait/--timeout; an Error for bad durations or --timeout without --wait.
/// Callers turn an Error into usage_error().
Result<TimingFlags> parse_timing(const Args& args);

/// --shared / --slots N (lock, guard).
struct ModeFlags {
    LockMode mode = LockMode::exclusive;
    int slots = 0;
};
/// Parses --shared and --slots N; an Error for a bad N or both flags at once (a usage error).
Result<ModeFlags> parse_mode(const Args& args);
/// "shared" / "slot 2 of 3" for a shared or slot holder; empty for an exclusive one.
std::string mode_suffix(const LockRecord& holder);
/// -E/--conflict-exit-code N (guard, lock; flock's name): the exit code when the lock is held
/// by someone else or frozen; 2 when absent; an Error unless N is a whole number 0..255.
Result<int> conflict_exit_code(const Args& args);

/// Checks the positional count and the lock name; returns the exit code of the usage error
/// printed, or nullopt when `args` has exactly one valid NAME.
std::optional<int> check_single_name(const Command& cmd, const Args& args);

/// A duration without zero tails for humans: "10m", "1h30m", "45s", "300ms".
std::string short_duration(Nanos d);
/// now - since, truncated to whole seconds, never negative.
Nanos age_of(TimePoint since, TimePoint at);

/// `s` safe to print on a terminal: control characters (C0, DEL, UTF-8 C1) become \n, \t,
/// \r or \xNN, so text from other agents (owner, agent id, command) cannot drive it.
std::string printable(std::string_view s);
/// `owner@host` of a lock or freeze, printable.
std::string holder_text(const LockRecord& r);

/// `lock "build" held by agent-1@macbook (pid 48201) for 12s` (no "error: "); for a lock file
/// another tool is still writing, says so.
std::string held_message(const std::string& name, const Held& held, TimePoint at);
/// `lock "deploy" is frozen until 2026-02-07T15:30:00Z` (no "error: ").
std::string frozen_message(const std::string& name, const LockRecord& freeze);

/// The text after "error: " refusing an acquire (held or frozen); `waited` is the --timeout
/// that ran out ("" when none did). One's own lease says so and names the way out.
std::string refusal_message(const AcquireOutcome& outcome, const std::string& waited, const Identity& self);
/// A refusal for a command the shim put under a lock, to follow "lokt: ": names the tool,
/// the lock, and how to ask about it (the caller never typed lokt).
std::string shim_refusal_message(const std::string& tool, const AcquireOutcome& outcome,
                                 const std::string& refusal);

/// Prints the denial of an acquire (held or frozen) as text on stderr or, with `json`, as an
/// object on stdout; `prefix` goes before the text message (e.g. "timed out after 5s: ").
void print_denial(const std::string& name, const AcquireOutcome& outcome, bool json,
                  const std::string& prefix, const LocalView& this_host);

/// Prints `j` indented by two spaces with a trailing newline on stdout.
void print_json(const OrderedJson& j);

/// "alive" / "dead" / "unknown" for the holder of `r` (pid_status of status --json).
std::string holder_state(const LockRecord& r, const LocalView& this_host);
/// holder_state for humans: "lease" for a lease, whose pid (the exited `lokt lock`) means nothing.
std::string holder_state_text(const LockRecord& r, const LocalView& this_host);

} // namespace lokt::cli
