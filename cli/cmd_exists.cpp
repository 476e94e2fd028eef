// `lokt exists NAME [--fence N]`: silent; exit 0 for a held, unexpired lock (whose fencing
// token is N, with --fence), 3 otherwise (cache markers rely on the TTL ending them).

#include "cli.hpp"
#include "backend_open.hpp"
#include "output.hpp"

#include <charconv>

namespace lokt::cli {

namespace {

/// The --fence value: a positive integer, or nullopt when it is not one.
std::optional<int64_t> parse_fence(const std::string& s) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
    return v;
}

} // namespace

int cmd_exists(const Command& cmd, const Args& args) {
    if (auto bad = check_single_name(cmd, args)) return *bad;
    std::optional<int64_t> fence;
    if (auto v = args.value("fence")) {
        fence = parse_fence(*v);
        if (!fence) return usage_error(cmd, "--fence wants a positive integer, not \"" + printable(*v) + "\"");
    }
    auto backend = open_backend(false);
    if (!backend) return fail(backend.error());
    Backend& store = **backend;
    if (!store.present()) return to_int(ExitCode::not_found);
    auto read = store.read(args.positional[0]);
    if (!read) return fail(read.error());
    const bool live = read->status == DecodeStatus::ok && read->record && !read->record->expired(now());
    const bool match = live && (!fence || read->record->fence == *fence);
    return to_int(match ? ExitCode::ok : ExitCode::not_found);
}

} // namespace lokt::cli
