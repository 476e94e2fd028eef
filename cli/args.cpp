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
        if (a == "-q" && std::any_of(cmd.flags.begin(), cmd.flags.end(),
                                     [](const FlagSpec& f) { return f.name == "quiet"; })) {
            out.switches["quiet"]++;
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

int usage_error(const Command& cmd, const std::string& message) {
    std::fprintf(stderr, "error: %s\nusage: lokt %s\n", message.c_str(), cmd.synopsis.c_str());
    return to_int(ExitCode::usage);
}

int fail(const Error& e) { return fail(ExitCode::error, e.message); }

} // namespace lokt::cli
