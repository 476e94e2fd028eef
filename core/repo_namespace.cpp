#include "lokt/repo_namespace.hpp"

#include "lokt/fnv1a.hpp"
#include "lokt/root.hpp"
#include "lokt/root_fs.hpp"
#include "lokt/sys.hpp"
#include "lokt/text.hpp"

#include <fcntl.h>

#include <cctype>
#include <cstdint>
#include <cstdio>

namespace lokt {
namespace {

constexpr size_t kConfigMax = 1 << 20;   // a git config larger than this is not read
constexpr size_t kReadableMax = 64;      // of the namespace's readable part

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

using text::trim;

/// A git config value as git reads it: quotes group, backslash escapes, '#' or ';' outside
/// quotes starts a comment, unquoted surrounding blanks are dropped.
std::string config_value(std::string_view raw) {
    std::string out;
    bool quoted = false;
    size_t kept = 0;  // out's length up to its last character that is not an unquoted blank
    for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '"') {
            quoted = !quoted;
            kept = out.size();
            continue;
        }
        if (c == '\\' && i + 1 < raw.size()) {
            char e = raw[++i];
            out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'b' ? '\b' : e;
            kept = out.size();
            continue;
        }
        if (!quoted && (c == '#' || c == ';')) break;
        if (!quoted && is_space(c)) {
            if (!out.empty()) out += c;
            continue;
        }
        out += c;
        kept = out.size();
    }
    out.resize(kept);
    return out;
}

/// Whether a section header's text (between '[' and ']') is the origin remote's.
bool is_origin_section(std::string_view header) {
    header = trim(header);
    // [remote "origin"]: the section name is case-insensitive, the subsection is not.
    if (auto q = header.find('"'); q != std::string_view::npos) {
        std::string_view rest = header.substr(q + 1);
        if (!rest.ends_with('"')) return false;
        return text::iequals(trim(header.substr(0, q)), "remote") && rest.substr(0, rest.size() - 1) == "origin";
    }
    // [remote.origin], the old spelling (its subsection is case-insensitive).
    return text::iequals(header, "remote.origin");
}

/// The first `url` of the origin section in a config file's content.
std::optional<std::string> origin_in(std::string_view config) {
    bool in_origin = false;
    while (!config.empty()) {
        auto nl = config.find('\n');
        std::string_view line = trim(config.substr(0, nl));
        config = nl == std::string_view::npos ? std::string_view() : config.substr(nl + 1);
        if (line.starts_with('[')) {
            auto close = line.find(']');
            if (close == std::string_view::npos) return std::nullopt;  // git refuses such a file too
            in_origin = is_origin_section(line.substr(1, close - 1));
            line = trim(line.substr(close + 1));  // `[remote "origin"] url = x` is allowed
        }
        if (!in_origin || line.empty() || line[0] == '#' || line[0] == ';') continue;
        auto eq = line.find('=');
        if (eq == std::string_view::npos || !text::iequals(trim(line.substr(0, eq)), "url")) continue;
        std::string url = config_value(line.substr(eq + 1));
        if (!url.empty()) return url;
    }
    return std::nullopt;
}

std::string_view strip_path_ends(std::string_view path) {
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    if (path.ends_with(".git")) path.remove_suffix(4);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    return path;
}

/// "host[:port]" with any "user@" before it: the host alone, lowercased.
std::string host_of(std::string_view authority) {
    if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
    if (authority.starts_with('[')) {  // [v6 address]:port
        auto close = authority.find(']');
        return text::ascii_lower(authority.substr(0, close == std::string_view::npos ? authority.size() : close + 1));
    }
    return text::ascii_lower(authority.substr(0, authority.find(':')));
}

std::string joined(const std::string& host, std::string_view path) {
    path = strip_path_ends(path);
    return path.empty() ? host : host + "/" + std::string(path);
}

} // namespace

std::optional<std::string> origin_url(const std::string& git_common_dir) {
    auto fd = rootfs::open_file(git_common_dir, git_common_dir + "/config", O_RDONLY);
    if (!fd) return std::nullopt;
    auto content = sys::read_all(fd->get(), kConfigMax);
    if (!content) return std::nullopt;
    return origin_in(*content);
}

std::string normalize_remote(std::string_view url) {
    url = trim(url);
    if (url.empty()) return "";
    if (auto scheme = url.find("://"); scheme != std::string_view::npos) {
        std::string_view rest = url.substr(scheme + 3);
        if (text::iequals(url.substr(0, scheme), "file")) return std::string(strip_path_ends(rest));
        auto slash = rest.find('/');
        return joined(host_of(rest.substr(0, slash)), slash == std::string_view::npos ? "" : rest.substr(slash));
    }
    // scp-like [user@]host:path — a ':' before any '/' (git's own test for it).
    auto colon = url.find(':');
    if (colon != std::string_view::npos && url.substr(0, colon).find('/') == std::string_view::npos)
        return joined(host_of(url.substr(0, colon)), url.substr(colon + 1));
    return std::string(strip_path_ends(url));
}

std::string prefix_for_remote(std::string_view normalized) {
    std::string readable;
    for (char c : normalized) {
        if (readable.size() == kReadableMax) break;
        const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
        readable += keep ? c : '_';
    }
    char hash[9];
    // FNV-1a: stable across builds and machines, which is all the namespace needs.
    const uint64_t h = fnv1a(normalized.data(), normalized.size());
    std::snprintf(hash, sizeof hash, "%08x", static_cast<unsigned>(h >> 32));
    return "lokt-repo/" + readable + "-" + hash;
}

std::string default_backend_prefix(const std::string& cwd) {
    auto common = find_git_common_dir(cwd);
    if (!common) return std::string(kSharedPrefix);
    auto url = origin_url(*common);
    const std::string normalized = url ? normalize_remote(*url) : "";
    return normalized.empty() ? std::string(kSharedPrefix) : prefix_for_remote(normalized);
}

} // namespace lokt
