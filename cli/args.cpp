#include "cli.hpp"
#include "suggest.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace lokt::cli {

std::optional<std::string> Args::value(const std::string& flag) const {
    auto it = values.find(flag);
    if (it == values.end()) return std::nullopt;
    return it->second;
}

namespace {

// The flag of `cmd` whose one-letter form `a` starts with ("-q", "-E3"), if any.
const FlagSpec* short_flag(const Command& cmd, const std::string& a) {
    if (a.size() < 2 || a[0] != '-' || a[1] == '-') return nullptr;
    for (const auto& f : cmd.flags)
        if (f.short_name != 0 && f.short_name == a[1]) return &f;
    return nullptr;
}

} // namespace

Result<Args> parse_args(const Command& cmd, const std::vector<std::string>& argv) {
    Args out;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "--") {
            out.saw_dashdash = true;
            out.rest.assign(argv.begin() + static_cast<long>(i) + 1, argv.end());
            break;
        }
        if (a == "-h" || a == "--help") {
            out.switches["help"]++;
            continue;
        }
        // Diagnostics (lokt::log) for every command: -v says what lokt decides, -vv everything.
        if (a == "-v" || a == "--verbose" || a == "-vv") {
            out.switches["verbose"] += a == "-vv" ? 2 : 1;
            continue;
        }
        if (const FlagSpec* s = short_flag(cmd, a)) {
            if (!s->takes_value) {
                if (a.size() > 2) return Error{"flag -" + std::string(1, a[1]) + " takes no value"};
                out.switches[s->name]++;
            } else if (a.size() > 2) {
                out.values[s->name] = a.substr(2);  // "-E3", as flock and getopt accept
            } else {
                if (i + 1 >= argv.size() || argv[i + 1] == "--")
                    return Error{"flag -" + std::string(1, a[1]) + " needs a value"};
                out.values[s->name] = argv[++i];
            }
            continue;
        }
        if (a.size() < 2 || a[0] != '-' ) {
            out.positional.push_back(a);
            continue;
        }
        if (a.rfind("--", 0) != 0) return Error{"unknown flag \"" + a + "\""};
        std::string name = a.substr(2);
        std::optional<std::string> inline_value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            inline_value = name.substr(eq + 1);
            name.resize(eq);
        }
        const FlagSpec* spec = nullptr;
        for (const auto& f : cmd.flags)
            if (f.name == name) spec = &f;
        if (!spec) {
            std::vector<std::string> names;
            for (const auto& f : cmd.flags) names.push_back(f.name);
            return Error{"unknown flag \"--" + name + "\" for \"" + cmd.name + "\"" +
                         did_you_mean(name, names, "--")};
        }
        if (!spec->takes_value) {
            if (inline_value) return Error{"flag --" + name + " takes no value"};
            out.switches[name]++;
            continue;
        }
        if (inline_value) {
            out.values[name] = *inline_value;
        } else {
            if (i + 1 >= argv.size() || argv[i + 1] == "--")
                return Error{"flag --" + name + " needs a value"};
            out.values[name] = argv[++i];
        }
    }
    return out;
}

int fail(ExitCode code, const std::string& message) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return to_int(code);
}

void warn(const std::string& message) { std::fprintf(stderr, "warning: %s\n", message.c_str()); }

int usage_error(const Command& cmd, const std::string& message) {
    std::fprintf(stderr, "error: %s\nusage: lokt %s\n", message.c_str(), cmd.synopsis.c_str());
    return to_int(ExitCode::usage);
}

int fail(const Error& e) { return fail(ExitCode::error, e.message); }

} // namespace lokt::cli
