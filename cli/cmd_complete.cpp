// `lokt __complete -- WORD... CURRENT`: the candidates for shell completion, one per line, so
// the bash, zsh and fish scripts stay thin and never drift from the command table. Instead of
// candidates, one line ":files" or ":commands" asks the shell to complete a path or a program.

#include "cli.hpp"

#include "lokt/root.hpp"
#include "lokt/root_fs.hpp"
#include "lokt/sys.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace lokt::cli {
namespace {

// Values of flags that take one of a few words, or a kind of value the shell completes.
const std::map<std::string, std::vector<std::string>>& flag_values() {
    static const std::map<std::string, std::vector<std::string>> v = {
        {"on-exit", {"term", "wait"}},
        {"on-timeout", {"fail", "run"}},
        {"on-frozen", {"wait", "fail"}},
        {"on-lost", {"warn", "term"}},
        {"kind", {"guard", "shim"}},
        {"ttl", {"30s", "5m", "10m", "1h"}},
        {"timeout", {"30s", "5m", "10m", "1h"}},
        {"kill-after", {"2s", "5s", "30s"}},
        {"since", {"1h", "8h", "24h"}},
        {"rules", {":files"}},
        {"exec", {":files"}},
    };
    return v;
}

// Commands whose positional words are lock names.
bool takes_lock_names(const std::string& cmd) {
    static const std::set<std::string> s = {"guard", "lock", "unlock", "status", "exists",
                                            "freeze", "unfreeze", "why"};
    return s.count(cmd) != 0;
}

// The names of held locks and freezes under the root lokt would use here; nothing if none.
std::vector<std::string> lock_names() {
    std::set<std::string> names;
    auto root = discover_root();
    if (!root) return {};
    for (const auto& dir : {root->locks_dir(), root->freezes_dir()}) {
        // Through the checked root: a planted symlink at locks/ is not followed, even here.
        auto d = rootfs::Dir::open(root->path, dir, /*create=*/false);
        if (!d) continue;
        auto files = d->list();
        if (!files) continue;
        for (const auto& f : *files)
            if (f.size() > 5 && f.compare(f.size() - 5, 5, ".json") == 0 && f[0] != '.')
                names.insert(f.substr(0, f.size() - 5));
    }
    return {names.begin(), names.end()};
}

std::vector<std::string> command_names() {
    std::vector<std::string> out;
    for (const auto& c : commands())
        if (c.name.rfind("__", 0) != 0) out.push_back(c.name);
    return out;
}

const Command* find_command(const std::string& name) {
    for (const auto& c : commands())
        if (c.name == name) return &c;
    return nullptr;
}

const FlagSpec* find_flag(const Command& cmd, const std::string& word) {
    for (const auto& f : cmd.flags) {
        if ("--" + f.name == word) return &f;
        if (f.short_name != 0 && word.size() == 2 && word[0] == '-' && word[1] == f.short_name) return &f;
    }
    return nullptr;
}

// The candidates for `cur`, the last word, after `before` (the words between "lokt" and it).
std::vector<std::string> candidates(const std::vector<std::string>& before, const std::string& cur) {
    if (before.empty()) return command_names();
    const Command* cmd = find_command(before[0]);
    if (!cmd) return {};
    auto dashdash = std::find(before.begin() + 1, before.end(), "--");
    if (dashdash != before.end()) {
        if (!cmd->takes_rest) return {};
        return {dashdash + 1 == before.end() ? ":commands" : ":files"};
    }
    if (before.size() > 1) {
        if (const FlagSpec* f = find_flag(*cmd, before.back()); f && f->takes_value) {
            if (f->name == "name") return lock_names();
            auto it = flag_values().find(f->name);
            if (it != flag_values().end()) return it->second;
            if (f->name == "format")
                return cmd->name == "prime"
                           ? std::vector<std::string>{"claude-md", "agents-md", "cursorrules", "plain"}
                           : std::vector<std::string>{"text", "jsonl"};
            return {};
        }
    }
    if (cur.rfind("-", 0) == 0) {
        std::vector<std::string> out;
        for (const auto& f : cmd->flags) out.push_back("--" + f.name);
        out.push_back("--help");
        return out;
    }
    if (cmd->name == "help") return before.size() == 1 ? command_names() : std::vector<std::string>{};
    if (cmd->name == "rules") return {"check", "match"};
    if (takes_lock_names(cmd->name)) return lock_names();
    return {};
}

} // namespace

int cmd_complete(const Command&, const Args& args) {
    // Everything after "--" is the command line; its last word is the one being completed.
    std::vector<std::string> words = args.rest;
    std::string cur;
    if (!words.empty()) {
        cur = words.back();
        words.pop_back();
    }
    for (const auto& c : candidates(words, cur)) {
        if (c[0] == ':' || c.rfind(cur, 0) == 0) std::printf("%s\n", c.c_str());
    }
    return to_int(ExitCode::ok);
}

} // namespace lokt::cli
