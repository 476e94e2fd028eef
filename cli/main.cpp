// lokt: argv handling and dispatch only; every command lives in cli/cmd_<name>.cpp.

#include "cli.hpp"
#include "suggest.hpp"
#include "lokt_version.hpp"

#include "lokt/log.hpp"
#include "lokt/proc/proc_title.hpp"
#include "lokt/root.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace lokt::cli {

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"guard", "guard NAME... [--shared | --slots N] [--ttl D] [--wait [--timeout D]] [--kill-after D] [--on-exit term|wait] "
                  "[--on-lost warn|term] [--on-timeout fail|run] [--on-frozen wait|fail] [-E N] -- CMD [ARG...]",
         "run a command while holding a lock; release when its whole process tree is gone",
         "Acquires NAME, runs CMD, and releases the lock once CMD and every process it started\n"
         "are gone (also when CMD fails, is signalled, or lokt itself is killed). Several\n"
         "NAMEs are taken in sorted order and all released at the end.\n\n"
         "  --shared         hold NAME together with other --shared holders (never with an\n"
         "                   exclusive one; a queued exclusive waiter goes first)\n"
         "  --slots N        one of N slots of NAME (one NAME; all callers must agree on N);\n"
         "                   CMD sees its slot, 0..N-1, as LOKT_SLOT\n"
         "  --ttl D          lock expires after D unless renewed; renewed every D/2 while CMD runs\n"
         "                   (1s to 87600h)\n"
         "  --wait           wait for the lock instead of exiting 2 (not for a freeze, nor for\n"
         "                   your own lease: only lokt unlock ends that)\n"
         "  --timeout D      give up waiting after D (default 10m, at most 87600h; needs --wait)\n"
         "  --kill-after D   grace between SIGTERM and SIGKILL for what CMD leaves, and after a\n"
         "                   relayed SIGTERM/SIGHUP/SIGQUIT (default 5s, at most 24h)\n"
         "  --on-exit MODE   term (default): end leftovers when CMD exits; wait: let them finish\n"
         "  --on-lost MODE   when someone breaks the lock: warn (default): audit lost, warn, run\n"
         "                   on; term: also end CMD's tree as a SIGTERM to lokt guard would\n"
         "  --on-timeout M   fail (default): exit 2 when the lock stays held; run: warn and run\n"
         "                   CMD without the lock (audit unlocked-run; a freeze still exits 2)\n"
         "  --on-frozen M    fail (default): a freeze exits 2 at once, also one set during the\n"
         "                   wait; wait: --wait waits a freeze out too\n"
         "  --exec PATH      run PATH with the words after -- as its argv (argv[0] included)\n"
         "  --kind KIND      guard (default) or shim, recorded in the lock and audit\n"
         "  -E, --conflict-exit-code N\n"
         "                   exit N (0-255) instead of 2 when the lock is held or frozen; use\n"
         "                   it when CMD can exit 2 itself (make, diff, grep do)\n"
         "  -q, --quiet      say nothing while waiting\n\n"
         "While it waits, a status line on stderr names the holder and the waiters ahead\n"
         "(rewritten in place on a terminal; otherwise one line at the start, one a minute,\n"
         "and \"lokt: acquired NAME after T\" at the end).\n\n"
         "Under lokt shim, a refusal starts with \"lokt:\" and names the tool and the lock.\n\n"
         "Signals sent to lokt guard reach CMD's process group once; after SIGTERM, SIGHUP or\n"
         "SIGQUIT, whatever is still alive after --kill-after gets SIGKILL (not after SIGINT).\n"
         "Inside CMD, a nested guard of a NAME already held above it runs its command\n"
         "directly (LOKT_HELD, or the lock's supervisor is an ancestor, e.g. across env -i).\n\n"
         "Exit: CMD's own status; 2 (or -E N) held or frozen; 126/127 CMD not runnable; 128+N killed by\n"
         "signal N (143 also when a relayed SIGTERM had to be followed by SIGKILL); 64 bad\n"
         "usage. Durations: 300ms, 5s, 10m, 1h30m, 1d; a bare number is seconds.",
         {{"ttl", true}, {"wait", false}, {"timeout", true}, {"kill-after", true},
          {"on-exit", true}, {"on-lost", true}, {"on-timeout", true}, {"on-frozen", true}, {"exec", true},
          {"kind", true}, {"conflict-exit-code", true, 'E'}, {"quiet", false, 'q'}, {"shared", false}, {"slots", true}},
         true, cmd_guard},
        {"lock", "lock NAME [--shared | --slots N] [--ttl D] [--wait [--timeout D]] [-E N] [--json]",
         "acquire a lock (a lease that outlives this command) and exit",
         "Takes NAME as a lease: it stays held after this command exits, until lokt unlock,\n"
         "its TTL, or a break. Locking again as the same owner refreshes the TTL (without\n"
         "--ttl, the lease keeps the TTL it has). A guard of your own lease is refused.\n\n"
         "  --shared      a shared lease: any number of shared holders, never an exclusive one\n"
         "  --slots N     one of N slots of NAME (all callers must agree on N)\n"
         "  --ttl D       the lease expires after D (e.g. 5s, 10m, 1h30m; 1s to 87600h)\n"
         "  --wait        wait for the lock instead of exiting 2\n"
         "  --timeout D   give up waiting after D (default 10m, at most 87600h; needs --wait)\n"
         "  -E, --conflict-exit-code N\n"
         "                exit N (0-255) instead of 2 when the lock is held or frozen\n"
         "  -q, --quiet   say nothing while waiting (see lokt guard --help)\n"
         "  --json        print the lock (or the holder on denial) as JSON on stdout\n\n"
         "Exit: 0 acquired, 2 (or -E N) held by another owner or frozen, 1 error, 64 bad usage.",
         {{"ttl", true}, {"wait", false}, {"timeout", true}, {"json", false},
          {"conflict-exit-code", true, 'E'}, {"quiet", false, 'q'}, {"shared", false}, {"slots", true}},
         false, cmd_lock},
        {"unlock", "unlock [NAME] [--force | --break-stale] [--all] [--owner NAME] [--json]",
         "release a lock you own, or break a stale/any lock",
         "  (no flag)       release NAME if you own it (3 not found, 4 someone else's,\n"
         "                  2 held by a running guard)\n"
         "  --break-stale   remove NAME only if its TTL passed or its holder is gone (2 if not)\n"
         "  --force         remove NAME whoever holds it (break-glass); with no lock, lifts\n"
         "                  NAME's freeze, so status --json names can be piped in\n"
         "  --all           release every lock of the current owner (LOKT_OWNER or user),\n"
         "                  naming each one it released\n"
         "  --owner NAME    with --all or without a lock NAME: release NAME's locks;\n"
         "                  with a lock NAME: release it if it belongs to owner NAME\n"
         "  --json          print the result as JSON; a refusal too, as {status: not_found,\n"
         "                  not_owner, guarded or not_stale, name, error, lock}",
         {{"force", false}, {"break-stale", false}, {"all", false}, {"owner", true}, {"json", false}},
         false, cmd_unlock},
        {"status", "status [NAME] [--json] [--prune-expired]",
         "list held locks and freezes, or show one",
         "Without NAME: a header row, then one line per lock or freeze (owner@host, pid, age,\n"
         "TTL, state: alive, dead, unknown, expired or FROZEN), or \"no locks held (root\n"
         "PATH)\" naming the root it looked at. With NAME: its\n"
         "details and freeze (exit 3 if neither exists).\n\n"
         "  --json            a JSON array (one object with NAME), fields as the original lokt,\n"
         "                    plus stale (true: expired or holder provably gone, so safe to\n"
         "                    break; a lease's pid_status is \"dead\" once lokt lock exits)\n"
         "  --prune-expired   remove expired locks first (audited as auto-prune)",
         {{"json", false}, {"prune-expired", false}}, false, cmd_status},
        {"exists", "exists NAME [--fence N]",
         "exit 0 if NAME is held and not expired, 3 otherwise (prints nothing)",
         "For cache markers: lokt exists \"tests-passed-$COMMIT\" && exit 0, then\n"
         "lokt lock \"tests-passed-$COMMIT\" --ttl 24h once the tests pass.\n\n"
         "  --fence N   exit 0 only while N is a current holder's fencing token\n"
         "              ($LOKT_FENCE in a guarded command); 3 once the holding is over",
         {{"fence", true}}, false, cmd_exists},
        {"freeze", "freeze NAME --ttl D [--json]",
         "block every acquisition of NAME for a while (human override)",
         "While frozen, lokt lock/guard of NAME exit 2 with \"lock NAME is frozen until T\".\n"
         "The TTL is required, so a forgotten freeze ends by itself. Freezing again replaces it.\n\n"
         "  --ttl D   how long the freeze lasts (required; 1s to 87600h)\n"
         "  --json    print the freeze as JSON",
         {{"ttl", true}, {"json", false}}, false, cmd_freeze},
        {"unfreeze", "unfreeze NAME [--force] [--json]",
         "lift a freeze",
         "  --force   lift a freeze someone else set (otherwise exit 4)\n"
         "  --json    print the lifted freeze as JSON\n\n"
         "Exit: 0 lifted, 3 not frozen, 4 frozen by someone else.",
         {{"force", false}, {"json", false}}, false, cmd_unfreeze},
        {"audit", "audit [--since D|TIME] [--name NAME] [--event E[,E...]] [--owner O] [--tail] "
                  "[--json | --format text|jsonl]",
         "show the audit log",
         "Every lock operation is one line of ROOT/audit.log; rotated files (audit.log.1 ..)\n"
         "are read too, oldest first. On a terminal each event is an aligned text line (time\n"
         "(UTC), event, lock, who, TTL, details); into a pipe or file the stored JSON lines are\n"
         "printed unchanged (JSONL), as the original lokt does, so lokt audit | jq works.\n\n"
         "  --since D|TIME  only events since D ago (8h, 1h30m, 1d) or since an RFC 3339 TIME\n"
         "                  or a date (2026-02-07: its midnight, UTC)\n"
         "  --name NAME     only events of lock NAME\n"
         "  --event E,...   only these events (acquire, deny, release, renew, force-break,\n"
         "                  stale-break, auto-prune, freeze, unfreeze, lost, ...)\n"
         "  --owner O       only events by owner O\n"
         "  --tail          keep printing events as they are appended (after the --since history,\n"
         "                  if given) until Ctrl-C or SIGTERM, then exit 0\n"
         "  --json          the stored JSON lines, unchanged (JSONL), also on a terminal\n"
         "  --format F      text (the aligned lines, also into a pipe) or jsonl (as --json)\n\n"
         "The log rotates at 64 MiB ($LOKT_AUDIT_MAX_BYTES) and keeps 3 old files.",
         {{"since", true}, {"name", true}, {"event", true}, {"owner", true}, {"tail", false},
          {"json", false}, {"format", true}},
         false, cmd_audit},
        {"why", "why NAME [--json]",
         "explain why NAME cannot be acquired right now",
         "Says whether NAME is free, held (by whom, alive or not, since when, until when),\n"
         "stale (and how to break it), frozen, or has a corrupt lock file.\n\n"
         "  --json   {name, acquirable, reason: free|held|stale|frozen|corrupt, holder, freeze}\n\n"
         "Exit: 0 acquirable now, 2 held or frozen, 1 unreadable lock file.",
         {{"json", false}}, false, cmd_why},
        {"doctor", "doctor [--json]",
         "check the setup: lock directory, filesystem, inotify, clock",
         "One line per check (ok, warn or FAIL): where the root is and why, whether it is a\n"
         "writable directory, the filesystem type (network filesystems break flock/inotify),\n"
         "inotify, the clock, the audit log, and the number of locks and freezes; then the\n"
         "setup: a per-directory ./.lokt or relative LOKT_ROOT, the preload library, the\n"
         "rules file (one that does not parse fails) and whether lokt shim --seccomp can run.\n"
         "Exit 0 when nothing failed, 1 otherwise.\n\n"
         "  --json  {\"root\", \"root_source\", \"checks\": [{\"name\", \"status\", \"detail\"}], \"ok\"}",
         {{"json", false}}, false, cmd_doctor},
        {"shim", "shim [--rules FILE] [--seccomp [--no-preload]] -- CMD [ARG...]",
         "run CMD so that every matching exec beneath it runs under lokt guard",
         "Runs CMD (an agent, a shell, a CI script) with liblokt_preload.so preloaded. Any exec\n"
         "anywhere in its tree whose argv matches a rule of the rules file runs as\n"
         "  lokt guard [--wait --timeout W] --kind shim NAME... --exec PATH -- ARGV...\n"
         "Other execs run untouched. The rules file is --rules FILE, else $LOKT_RULES, else\n"
         "ROOT/rules (see lokt rules). A missing rules file is reported once and CMD runs\n"
         "without transparent locking; one that does not parse is refused (exit 1, FILE:LINE)\n"
         "unless LOKT_SHIM=off, which runs CMD without it.\n\n"
         "  --rules FILE   the rules file to use\n"
         "  --seccomp      also lock execs the preload cannot see (static and Go tools, raw\n"
         "                 execve, stripped environments) through a seccomp exec filter;\n"
         "                 the preload still screens the execs of programs that load it, so\n"
         "                 that those no rule can match skip the filter's round trip\n"
         "  --no-preload   with --seccomp: load no library into CMD's tree (LOKT_SHIM=off);\n"
         "                 every exec then stops in the filter\n\n"
         "Environment set for CMD: LD_PRELOAD (library prepended), LOKT_SHIM=1, LOKT_BIN,\n"
         "LOKT_RULES, LOKT_ROOT, ASAN_OPTIONS+=verify_asan_link_order=0 (with --seccomp:\n"
         "LOKT_SHIM=seccomp and LOKT_SECCOMP_PASS, the run's pass word). LOKT_SHIM=off turns\n"
         "the shim off for a command and its tree; LOKT_SHIM_DEBUG=1 logs each decision.\n"
         "Without --seccomp, statically linked programs (e.g. Go tools) are not seen.\n"
         "See docs/shim.md.",
         {{"rules", true}, {"seccomp", false}, {"no-preload", false}}, true, cmd_shim},
        {"rules", "rules check|match [--rules FILE] [-- CMD [ARG...]]",
         "check the rules file, or show which rule a command matches",
         "  check          list the rules and run the file's test lines (exit 1 on a parse\n"
         "                 error or a failing test, with line numbers)\n"
         "  match -- CMD   say which rule(s) CMD ARG... matches and why (exit 0 match, 1 none)\n"
         "  --rules FILE   the rules file (default $LOKT_RULES, else ROOT/rules)\n\n"
         "Format, one per line:  NAME [wait=DUR] [on-frozen=fail|wait] [on-timeout=fail|run] : TOKENS\n"
         "                       test NAME match|not-match : COMMAND ARGS...\n"
         "Token 0 matches the program's basename (its path if the pattern has a '/'); each\n"
         "token is a glob (* ? [...]) with a|b alternatives; a last \"*\" or any \"**\" matches\n"
         "zero or more arguments, otherwise the argument count must match exactly.",
         {{"rules", true}}, true, cmd_rules},
        {"prime", "prime [--format claude-md|agents-md|cursorrules|plain]",
         "print instructions for an AI agent's context file",
         "Prints what an agent needs to know to share this repository's locks: run risky\n"
         "operations through lokt guard --wait, what exit 2 means, how to ask who holds a lock,\n"
         "and never to break other agents' locks. Append it to the agent's instructions:\n"
         "  lokt prime --format claude-md >> CLAUDE.md\n"
         "  lokt prime --format agents-md >> AGENTS.md\n"
         "  lokt prime --format cursorrules >> .cursorrules\n\n"
         "  --format F   claude-md, agents-md (Markdown section), cursorrules or plain (default)",
         {{"format", true}}, false, cmd_prime},
        {"version", "version", "print the version", "", {}, false, cmd_version},
        {"__complete", "__complete -- WORD... CURRENT",
         "(for shell completion scripts) print the candidates for the last word",
         "", {}, true, cmd_complete},
        {"help", "help [COMMAND]", "show help", "", {}, false, cmd_help},
    };
    return table;
}

int cmd_help(const Command&, const Args& args) {
    if (!args.positional.empty()) {
        for (const auto& c : commands()) {
            if (c.name == args.positional[0]) {
                std::printf("usage: lokt %s\n\n%s\n", c.synopsis.c_str(), c.summary.c_str());
                if (!c.help.empty()) std::printf("\n%s\n", c.help.c_str());
                return 0;
            }
        }
        std::vector<std::string> names;
        for (const auto& c : commands()) names.push_back(c.name);
        return fail(ExitCode::usage, "unknown command \"" + args.positional[0] + "\"" +
                                         did_you_mean(args.positional[0], names));
    }
    std::printf("lokt: one agent at a time — locks for AI agents, humans and CI sharing a repo\n\n"
                "usage: lokt COMMAND [ARGS...]\n\ncommands:\n");
    for (const auto& c : commands())
        if (c.name.rfind("__", 0) != 0) std::printf("  %-9s %s\n", c.name.c_str(), c.summary.c_str());
    std::printf("\nRun \"lokt COMMAND --help\" for a command's flags. Every command takes -v/--verbose\n"
                "(-vv for more) to say what lokt decides; LOKT_LOG=debug|info|warn[,file=PATH] too.\n"
                "Exit codes: 0 ok, 1 error, 2 held or frozen, 3 not found, 4 not owner, 64 usage.\n");
    return 0;
}

int cmd_version(const Command&, const Args&) {
    std::printf("lokt %s (commit %s, %s)\n", LOKT_VERSION, LOKT_COMMIT, LOKT_COMMIT_DATE);
    return 0;
}

void configure_logging(const Args& args) {
    auto it = args.switches.find("verbose");
    const char* env = std::getenv("LOKT_LOG");
    auto r = lokt::log::configure(env ? env : "", it == args.switches.end() ? 0 : it->second);
    // A typo in the environment must not stop the agent's work: say so, and log nothing.
    if (!r) std::fprintf(stderr, "lokt: warning: %s; diagnostics are off\n", r.error().message.c_str());
}

} // namespace lokt::cli

int main(int argc, char** argv) {
    using namespace lokt::cli;
    lokt::proc::remember_argv(argc, argv);  // the guard supervisor renames itself for ps
    if (argc < 2) {
        cmd_help(commands().back(), Args{});
        return lokt::to_int(lokt::ExitCode::usage);
    }
    std::string name = argv[1];
    if (name == "--help" || name == "-h") name = "help";
    if (name == "--version") name = "version";
    for (const auto& cmd : commands()) {
        if (cmd.name != name) continue;
        std::vector<std::string> rest(argv + 2, argv + argc);
        auto args = parse_args(cmd, rest);
        if (!args) return usage_error(cmd, args.error().message);
        configure_logging(*args);
        LOKT_LOG(debug, "command ", cmd.name, ", ", rest.size(), " argument(s)");
        // Without a working directory there is nothing to resolve against; discover_root()
        // reports that itself when the command needs the root.
        if (auto pinned = lokt::pin_env_root(); !pinned)
            LOKT_LOG(debug, "LOKT_ROOT stays relative: ", pinned.error().message);
        if (args->switches.count("help")) {
            Args h;
            h.positional.push_back(cmd.name);
            return cmd_help(cmd, h);
        }
        if (args->saw_dashdash && !cmd.takes_rest)
            return usage_error(cmd, "\"" + cmd.name + "\" takes no command after \"--\"");
        return cmd.run(cmd, *args);
    }
    std::vector<std::string> names;
    for (const auto& cmd : commands()) names.push_back(cmd.name);
    std::fprintf(stderr, "error: unknown command \"%s\"%s\nRun \"lokt help\" for the list of commands.\n",
                 name.c_str(), did_you_mean(name, names).c_str());
    return lokt::to_int(lokt::ExitCode::usage);
}
