#pragma once
// The checks of `lokt doctor` about how lokt is set up, beside the root directory's own:
// how the root was found, the preload library, the rules file, and seccomp mode. Each
// problem's line says what to do about it.

#include "lokt/root.hpp"

#include <string>
#include <vector>

namespace lokt::cli::doctor {

/// A check's verdict: ok, warn (works, but probably not as meant), fail (doctor exits 1).
enum class Status { ok, warn, fail };

/// One line of `lokt doctor`.
struct Check {
    std::string name;
    Status status;
    std::string detail;
};

/// Warnings about where the root came from: the per-directory ./.lokt, a relative $LOKT_ROOT.
std::vector<Check> check_root_source(const Root& root);
/// Whether the library `lokt shim` preloads is there.
Check check_preload();
/// Whether the rules file (if any) parses and its test lines pass; a parse error fails.
Check check_rules(const Root& root);
/// Whether `lokt shim --seccomp` can install its filter here.
Check check_seccomp();

/// All of the above, in that order.
std::vector<Check> setup_checks(const Root& root);

} // namespace lokt::cli::doctor
