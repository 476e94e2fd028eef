// `lokt exists NAME`: silent; exit 0 for a held, unexpired lock, 3 otherwise (cache markers
// rely on the TTL ending them).

#include "cli.hpp"
#include "output.hpp"

namespace lokt::cli {

int cmd_exists(const Command& cmd, const Args& args) {
    if (auto bad = check_single_name(cmd, args)) return *bad;
    auto store = open_store(false);
    if (!store) return fail(store.error());
    if (!store_present(*store)) return to_int(ExitCode::not_found);
    auto read = store->read(args.positional[0]);
    if (!read) return fail(read.error());
    const bool live = read->status == DecodeStatus::ok && read->record && !read->record->expired(now());
    return to_int(live ? ExitCode::ok : ExitCode::not_found);
}

} // namespace lokt::cli
