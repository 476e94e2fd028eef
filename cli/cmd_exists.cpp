// `lokt exists NAME [--fence N]`: silent; exit 0 for a held, unexpired lock (with --fence:
// whose fencing token, or a shared or slot holder's, is N), 3 otherwise (cache markers rely
// on the TTL ending them).

#include "cli.hpp"
#include "backend_open.hpp"
#include "output.hpp"

#include <algorithm>
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

/// Whether `fence` belongs to a current holder of `lock`: the lock itself, or for a shared or
/// slot lock any unexpired holder (each has a fence of its own).
Result<bool> holds_fence(const Backend& store, const LockRecord& lock, int64_t fence) {
    if (!is_group(lock)) return lock.fence == fence;
    auto holders = store.holders(lock.name);
    if (!holders) return holders.error();
    const TimePoint at = now();
    return std::any_of(holders->begin(), holders->end(),
                       [&](const LockRecord& h) { return h.fence == fence && !h.expired(at); });
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
    if (!live) return to_int(ExitCode::not_found);
    if (!fence) return to_int(ExitCode::ok);
    auto match = holds_fence(store, *read->record, *fence);
    if (!match) return fail(match.error());
    return to_int(*match ? ExitCode::ok : ExitCode::not_found);
}

} // namespace lokt::cli
