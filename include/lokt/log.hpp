#pragma once
// Diagnostics: what lokt decides and why, for `-v/--verbose` and LOKT_LOG. Off by default, so
// a normal run pays one branch per call site. Backed by spdlog with synchronous sinks only
// (spdlog starts no thread: lokt forks without exec). Never used by the preload library, nor
// by the seccomp receiver threads (only the thread that forks may log).

#include "lokt/result.hpp"

#include <sstream>
#include <string>
#include <string_view>

namespace lokt::log {

/// How much to say: debug (every decision), info (state changes), warn (problems), off.
enum class Level { debug, info, warn, off };

/// Sets the level and sink from LOKT_LOG's value (`debug|info|warn|off[,file=PATH]`) and the
/// command line's -v count (1: info, 2 or more: debug; the more verbose of the two wins).
/// A malformed value is an Error and changes nothing.
Result<void> configure(std::string_view env_value, int verbosity);

/// True when messages of `level` are written.
bool enabled(Level level);

/// Writes one line "lokt[PID]: LEVEL: message" to stderr or the LOKT_LOG file.
void write(Level level, std::string_view message);

/// The words of a message, streamed together ("root ", path, " from ", source).
template <class... Parts>
std::string cat(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
}

} // namespace lokt::log

/// Logs the streamed parts at `level` (a lokt::log::Level member); the parts are only
/// evaluated when that level is enabled.
#define LOKT_LOG(level, ...)                                                              \
    do {                                                                                  \
        if (::lokt::log::enabled(::lokt::log::Level::level))                              \
            ::lokt::log::write(::lokt::log::Level::level, ::lokt::log::cat(__VA_ARGS__)); \
    } while (0)
