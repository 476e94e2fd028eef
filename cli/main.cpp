// lokt: argv handling and dispatch only; every command lives in cli/cmd_<name>.cpp.

#include "cli.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace lokt::cli {

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"guard", "guard NAME [--ttl D] [--wait [--timeout D]] [--kill-after D] [--on-exit term|wait] -- CMD [ARG...]",
         "run a command while holding a lock; release when its whole process tree is gone",
         "",
         {{"ttl", true}, {"wait", false}, {"timeout", true}, {"kill-after", true},
          {"on-exit", true}, {"exec", true}, {"kind", true}, {"json", false}},
         true, cmd_guard},
        {"lock", "lock NAME [--ttl D] [--wait [--timeout D]] [--json]",
         "acquire a lock (a lease that outlives this command) and exit", "",
         {{"ttl", true}, {"wait", false}, {"timeout", true}, {"json", false}}, false, cmd_lock},
        {"unlock", "unlock [NAME] [--force | --break-stale] [--all] [--owner NAME] [--json]",
         "release a lock you own, or break a stale/any lock", "",
         {{"force", false}, {"break-stale", false}, {"all", false}, {"owner", true}, {"json", false}},
         false, cmd_unlock},
        {"status", "status [NAME] [--json] [--prune-expired]",
         "list held locks and freezes, or show one", "",
         {{"json", false}, {"prune-expired", false}}, false, cmd_status},
        {"exists", "exists NAME",
         "exit 0 if NAME is held and not expired, 3 otherwise (prints nothing)", "",
         {}, false, cmd_exists},
        {"freeze", "freeze NAME --ttl D [--json]",
         "block every acquisition of NAME for a while (human override)", "",
         {{"ttl", true}, {"json", false}}, false, cmd_freeze},
        {"unfreeze", "unfreeze NAME [--force] [--json]",
         "lift a freeze", "",
         {{"force", false}, {"json", false}}, false, cmd_unfreeze},
        {"audit", "audit [--since D|TIME] [--name NAME] [--tail] [--json]",
         "show the audit log", "",
         {{"since", true}, {"name", true}, {"tail", false}, {"json", false}}, false, cmd_audit},
        {"why", "why NAME [--json]",
         "explain why NAME cannot be acquired right now", "",
         {{"json", false}}, false, cmd_why},
        {"doctor", "doctor [--json]",
         "check the setup: lock directory, filesystem, inotify, clock", "",
         {{"json", false}}, false, cmd_doctor},
        {"version", "version", "print the version", "", {}, false, cmd_version},
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
        return fail(ExitCode::usage, "unknown command \"" + args.positional[0] + "\"");
    }
    std::printf("lokt: one agent at a time — locks for AI agents, humans and CI sharing a repo\n\n"
                "usage: lokt COMMAND [ARGS...]\n\ncommands:\n");
    for (const auto& c : commands()) std::printf("  %-9s %s\n", c.name.c_str(), c.summary.c_str());
    std::printf("\nRun \"lokt COMMAND --help\" for a command's flags.\n"
                "Exit codes: 0 ok, 1 error, 2 held or frozen, 3 not found, 4 not owner, 64 usage.\n");
    return 0;
}

int cmd_version(const Command&, const Args&) {
    std::printf("lokt %s\n", LOKT_VERSION);
    return 0;
}

} // namespace lokt::cli

int main(int argc, char** argv) {
    using namespace lokt::cli;
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
        if (args->switches.count("help")) {
            Args h;
            h.positional.push_back(cmd.name);
            return cmd_help(cmd, h);
        }
        if (args->saw_dashdash && !cmd.takes_rest)
            return usage_error(cmd, "\"" + cmd.name + "\" takes no command after \"--\"");
        return cmd.run(cmd, *args);
    }
    std::fprintf(stderr, "error: unknown command \"%s\"\nRun \"lokt help\" for the list of commands.\n",
                 name.c_str());
    return lokt::to_int(lokt::ExitCode::usage);
}
