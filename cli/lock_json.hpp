#pragma once
// The one JSON object for a lock or freeze holder: what `lock --json`, `status --json`, a
// denial with --json, `why --json`, `unlock --json` and `freeze --json` print for it.

#include "output.hpp"

#include "lokt/exit_code.hpp"
#include "lokt/liveness.hpp"
#include "lokt/lock_file.hpp"
#include "lokt/time.hpp"

#include <optional>
#include <string>

namespace lokt::cli {

/// A holder as JSON (golden status-json-v1.json's fields first, in its order): times in RFC
/// 3339 with whole seconds, `ttl_sec`, `command` and `fence` always present (null when
/// none), `stale`, and `freeze: true` for a freeze.
OrderedJson lock_json(const LockRecord& r, bool freeze, TimePoint at, const LocalView& this_host);
/// Appends lock_json(r, ...) as pretty JSON whose lines are indented by `indent` spaces,
/// without building a JSON tree (status --json lists thousands of locks).
void append_lock_json(std::string& out, const LockRecord& r, bool freeze, TimePoint at,
                      const LocalView& this_host, int indent);

/// The lock (or freeze, with `freeze`) in the way of a refused operation.
struct InTheWay {
    const LockRecord& record;
    bool freeze;
    const LocalView& this_host;
};
/// A refusal (not found, not owner, ...): with `json` (--json given), first
/// `{status, name, error[, lock]}` on stdout (`lock`: what is in the way, as lock_json), so a
/// script reading stdout sees every outcome; then the `error:` line on stderr. Returns `code`.
int refuse(ExitCode code, const char* status, const std::string& name, const std::string& message,
           bool json, const std::optional<InTheWay>& in_the_way = std::nullopt);

} // namespace lokt::cli
