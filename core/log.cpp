#include "lokt/log.hpp"

#include "lokt/sys.hpp"

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <memory>

namespace lokt::log {
namespace {

// Set once by configure(), before any fork; read by enabled() on every call site.
Level g_level = Level::off;
std::shared_ptr<spdlog::logger> g_logger;

spdlog::level::level_enum to_spdlog(Level l) {
    switch (l) {
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::off: return spdlog::level::off;
    }
    return spdlog::level::off;
}

// Writes each formatted line with one write() to a descriptor: stderr, or a file opened with
// O_APPEND so that lines of the front and its supervisor never interleave. No mutex: lokt is
// single-threaded.
class FdSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
public:
    FdSink(int fd, sys::UniqueFd owned) : fd_(fd), owned_(std::move(owned)) {}

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t line;
        formatter_->format(msg, line);
        (void)sys::write_all(fd_, std::string_view(line.data(), line.size()));
    }
    void flush_() override {}

private:
    int fd_;
    sys::UniqueFd owned_;
};

Result<Level> parse_level(std::string_view word) {
    if (word == "debug") return Level::debug;
    if (word == "info") return Level::info;
    if (word == "warn" || word == "warning") return Level::warn;
    if (word == "off" || word.empty()) return Level::off;
    return Error{"LOKT_LOG: unknown level \"" + std::string(word) + "\" (want debug, info, warn or off)"};
}

} // namespace

Result<void> configure(std::string_view env_value, int verbosity) {
    std::string_view level_word = env_value;
    std::string file;
    if (auto comma = env_value.find(','); comma != std::string_view::npos) {
        level_word = env_value.substr(0, comma);
        std::string_view opt = env_value.substr(comma + 1);
        if (!opt.starts_with("file=") || opt.size() == 5)
            return Error{"LOKT_LOG: unknown option \"" + std::string(opt) + "\" (want file=PATH)"};
        file = std::string(opt.substr(5));
    }
    auto level = parse_level(level_word);
    if (!level) return level.error();
    Level wanted = *level;
    Level from_flags = verbosity >= 2 ? Level::debug : verbosity == 1 ? Level::info : Level::off;
    if (from_flags < wanted) wanted = from_flags;
    if (wanted == Level::off) {
        g_level = Level::off;
        return {};
    }
    spdlog::sink_ptr sink;
    if (file.empty()) {
        sink = std::make_shared<FdSink>(STDERR_FILENO, sys::UniqueFd{});
    } else {
        auto fd = sys::open(file, O_WRONLY | O_APPEND | O_CREAT);
        if (!fd) return Error{"LOKT_LOG: cannot open log file: " + fd.error().message};
        int raw = fd->get();
        sink = std::make_shared<FdSink>(raw, std::move(*fd));
    }
    g_logger = std::make_shared<spdlog::logger>("lokt", std::move(sink));
    // The pid is taken when the line is written: the front and its supervisor share a sink.
    g_logger->set_pattern(file.empty() ? "%v" : "%Y-%m-%dT%H:%M:%S.%fZ %v", spdlog::pattern_time_type::utc);
    g_logger->set_level(to_spdlog(wanted));
    g_level = wanted;
    return {};
}

bool enabled(Level level) { return level != Level::off && level >= g_level && g_level != Level::off; }

void write(Level level, std::string_view message) {
    if (!g_logger || !enabled(level)) return;
    const char* name = level == Level::debug ? "debug" : level == Level::info ? "info" : "warn";
    try {
        g_logger->log(to_spdlog(level), "lokt[{}]: {}: {}", ::getpid(), name, message);
    } catch (const std::exception&) {
        // A diagnostic that cannot be written must never change what lokt does.
    }
}

} // namespace lokt::log
