#pragma once
// The `lokt` executable's shared pieces: parsed arguments, the command table, and the one
// place where errors become "error: ..." lines and exit codes.

#include "lokt/exit_code.hpp"
#include "lokt/result.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lokt::rules {
struct RuleSet;
}

namespace lokt::cli {

/// One flag a command accepts, e.g. {"ttl", true} for "--ttl D" / "--ttl=D".
struct FlagSpec {
    std::string name;      ///< without the leading "--"
    bool takes_value = false;
    char short_name = 0;   ///< e.g. 'q' for "-q", 'E' for "-E N" / "-EN"; 0: none
};

/// A subcommand's arguments after parsing. Flags may come before or after positionals;
/// everything after "--" is `rest`.
struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> values;  ///< flags with a value (last one wins)
    std::map<std::string, int> switches;        ///< flags without a value, with a count
    std::vector<std::string> rest;
    bool saw_dashdash = false;

    bool has(const std::string& flag) const { return switches.count(flag) || values.count(flag); }
    std::optional<std::string> value(const std::string& flag) const;
};

struct Command;
/// A command's implementation: returns the process exit code.
using RunFn = int (*)(const Command& self, const Args& args);

/// One entry of the command table.
struct Command {
    std::string name;
    std::string synopsis;   ///< "lock NAME [--ttl D] [--wait [--timeout D]] [--json]"
    std::string summary;    ///< one line for `lokt help`
    std::string help;       ///< the text of `lokt CMD --help` after the usage line
    std::vector<FlagSpec> flags;
    bool takes_rest = false;  ///< accepts "-- CMD..." (guard, shim)
    RunFn run = nullptr;
};

/// Parses `argv` (after the command name) against `cmd`'s flags. "--help"/"-h" set the
/// "help" switch. An Error names the bad flag.
Result<Args> parse_args(const Command& cmd, const std::vector<std::string>& argv);

/// Prints "error: <message>" to stderr; returns `code` as int.
int fail(ExitCode code, const std::string& message);
/// Prints "error: <message>" and "usage: lokt <synopsis>" to stderr; returns 64.
int usage_error(const Command& cmd, const std::string& message);
/// Prints "warning: MESSAGE" to stderr.
void warn(const std::string& message);
/// Maps a library Error to "error: ..." and exit 1.
int fail(const Error& e);

/// Turns on diagnostics from -v/--verbose (the "verbose" switch) and $LOKT_LOG.
void configure_logging(const Args& args);

/// The command table (cli/main.cpp).
const std::vector<Command>& commands();

// Each command lives in cli/cmd_<name>.cpp.
int cmd_lock(const Command&, const Args&);
int cmd_unlock(const Command&, const Args&);
int cmd_guard(const Command&, const Args&);
int cmd_status(const Command&, const Args&);
int cmd_exists(const Command&, const Args&);
int cmd_freeze(const Command&, const Args&);
int cmd_unfreeze(const Command&, const Args&);
int cmd_audit(const Command&, const Args&);
int cmd_why(const Command&, const Args&);
int cmd_doctor(const Command&, const Args&);
int cmd_shim(const Command&, const Args&);
/// `lokt shim --seccomp` (cli/cmd_seccomp.cpp), called by cmd_shim.
int cmd_seccomp_shim(const Command&, const Args&);
int cmd_rules(const Command&, const Args&);
int cmd_prime(const Command&, const Args&);
/// `lokt __complete -- WORDS`: shell completion candidates (cli/cmd_complete.cpp).
int cmd_complete(const Command&, const Args&);
/// LOKT_SHIM is "off" (or "0") in our environment.
bool shim_switched_off();
/// The rules `lokt shim` runs with (cli/cmd_rules.cpp): null after a warning when there is no
/// rules file, or when it does not parse and LOKT_SHIM=off says to run without it; an Error
/// ("PATH:LINE: ...") when it does not parse.
Result<std::unique_ptr<rules::RuleSet>> load_shim_rules(const std::string& path);
int cmd_version(const Command&, const Args&);
int cmd_help(const Command&, const Args&);

} // namespace lokt::cli
