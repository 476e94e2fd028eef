// `lokt prime [--format F]`: instructions an agent can keep in its context (CLAUDE.md,
// AGENTS.md, .cursorrules), so it knows what lokt's messages and exit codes mean and what
// it must never do (break other agents' locks).

#include "cli.hpp"
#include "suggest.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace lokt::cli {
namespace {

struct Rule {
    const char* text;  ///< one instruction; `code` spans are shown as is in every format
};

// The instructions, in the order an agent needs them. Kept format-neutral: the formats only
// differ in the heading and the bullet style around them.
const std::vector<Rule>& rules() {
    static const std::vector<Rule> r = {
        {"Operations that must not run twice at once (builds, pushes, migrations, deploys) are "
         "run through lokt, which lets one holder at a time run each named operation: "
         "`lokt guard NAME --wait -- COMMAND`, e.g. `lokt guard build --wait -- make build`."},
        {"The lock is released by itself when COMMAND and everything it started have ended, "
         "also when COMMAND fails or is killed. There is nothing to clean up afterwards."},
        {"Exit code 2 with `error: lock \"NAME\" held by OWNER@HOST (pid N) for T` means another "
         "agent holds the lock; `... is frozen until T` means a human paused it. Neither is a "
         "failure of your command. Do not retry in a loop: use `--wait` (it waits in line, first "
         "come first served; `--timeout 5m` bounds it) or do other work first."},
        {"To see who holds a lock and why you cannot have it: `lokt why NAME`; all locks: "
         "`lokt status`."},
        {"Never run `lokt unlock --force` or `lokt unlock --break-stale` on a lock you did not "
         "take, and never delete files under the lock directory. Locks of crashed agents are "
         "recovered automatically; a lock that looks stuck is a question for a human."},
        {"A guard covers one command: in `lokt guard push -- git pull --rebase && git push` only "
         "`git pull` is guarded. Guard several steps as one: "
         "`lokt guard push --wait -- sh -c 'git pull --rebase && git push'`."},
        {"Set `LOKT_OWNER` to your agent's name (e.g. `export LOKT_OWNER=agent-1`) so locks and "
         "the audit log say who you are."},
        {"Exit codes of lokt itself: 0 ok, 1 error, 2 held by another or frozen, 3 not found, "
         "4 not yours. `lokt guard` otherwise returns COMMAND's own exit code."},
    };
    return r;
}

// Claude Code's Bash tool stops a command after 2 minutes by default; a wait longer than that
// is cut off with it.
const char* kClaudeTimeout =
    "Your Bash tool stops commands after 2 minutes by default: keep `--timeout` below that "
    "(`--wait --timeout 90s`), or run a long wait in the background.";

void print_markdown(const char* heading, bool claude) {
    std::printf("%s\n\n", heading);
    for (const auto& r : rules()) std::printf("- %s\n", r.text);
    if (claude) std::printf("- %s\n", kClaudeTimeout);
}

void print_plain() {
    std::printf("Shared locks (lokt): this repository is shared with other agents and people.\n");
    for (const auto& r : rules()) std::printf("- %s\n", r.text);
}

} // namespace

int cmd_prime(const Command& cmd, const Args& args) {
    if (!args.positional.empty())
        return usage_error(cmd, "\"prime\" takes no NAME (got \"" + args.positional[0] + "\")");
    std::string format = args.value("format").value_or("plain");
    if (format == "claude-md") {
        print_markdown("## Shared locks (lokt)", true);
    } else if (format == "agents-md") {
        print_markdown("## Shared locks (lokt)", false);
    } else if (format == "cursorrules" || format == "plain") {
        print_plain();
    } else {
        std::vector<std::string> formats = {"claude-md", "agents-md", "cursorrules", "plain"};
        return usage_error(cmd, "unknown format \"" + format + "\"" + did_you_mean(format, formats) +
                                    "; use claude-md, agents-md, cursorrules or plain");
    }
    return to_int(ExitCode::ok);
}

} // namespace lokt::cli
