#include "lokt/preload_env.hpp"

namespace lokt {
namespace {

bool lists_entry(const std::string& list, const std::string& lib) {
    size_t i = 0;
    while (i < list.size()) {
        size_t e = list.find_first_of(": ", i);
        if (e == std::string::npos) e = list.size();
        if (e - i == lib.size() && list.compare(i, e - i, lib) == 0) return true;
        i = e + 1;
    }
    return false;
}

} // namespace

std::string preload_list_with(const char* old, const std::string& lib) {
    const std::string list = old ? old : "";
    if (lists_entry(list, lib)) return list;
    return list.empty() ? lib : lib + ":" + list;
}

std::string asan_options_for_preload(const char* old) {
    const std::string opts = old ? old : "";
    if (opts.find("verify_asan_link_order") != std::string::npos) return opts;
    return opts.empty() ? "verify_asan_link_order=0" : opts + ":verify_asan_link_order=0";
}

} // namespace lokt
