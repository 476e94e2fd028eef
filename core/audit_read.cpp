// Reading the audit log: generations oldest first, and `since` found by binary search on
// byte offsets instead of a scan, so the cost does not grow with the history before it.

#include "audit_scan.hpp"
#include "lokt/root_fs.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace lokt::audit_detail {
namespace {

using namespace std::chrono_literals;

// Appenders take their timestamp before their write(), so two concurrent appenders can land
// slightly out of order. The search aims this much earlier and the exact filter does the rest.
constexpr Nanos kOrderSlack = 2s;
// Below this window the search stops and the scan filters line by line.
constexpr uint64_t kLinearWindow = 64 << 10;
constexpr size_t kChunk = 1 << 20;
// A "line" longer than this is garbage (the longest real event is well under 4 KiB).
constexpr size_t kMaxLine = 16 << 20;
constexpr size_t kProbe = 4096;

std::string generation_path(const std::string& path, int n) {
    return n == 0 ? path : path + "." + std::to_string(n);
}

} // namespace

// Opened newest first: a rotation during the sweep only moves files to higher numbers, so
// none is missed, but one can be met twice; the later (older-named) copy is dropped.
Result<std::vector<GenFile>> open_generations(const AuditLog& log) {
    std::vector<GenFile> files;
    for (int n = 0; n <= log.generations(); ++n) {
        auto fd = rootfs::open_file(rootfs::split(log.path()).first, generation_path(log.path(), n), O_RDONLY);
        if (!fd) {
            if (fd.error().sys_errno != ENOENT) return fd.error();
            if (n == 0) files.emplace_back();  // no live file (yet)
            continue;
        }
        auto st = sys::fstat(fd->get());
        if (!st) return st.error();
        bool seen = std::any_of(files.begin(), files.end(), [&](const GenFile& f) {
            return f.fd.valid() && f.ino == st->st_ino && f.dev == st->st_dev;
        });
        if (!seen) files.push_back({std::move(*fd), st->st_dev, st->st_ino, static_cast<uint64_t>(st->st_size)});
    }
    std::reverse(files.begin(), files.end());
    return files;
}

namespace {

// The offset just past the first '\n' at or after `from`, if one comes before `limit`.
std::optional<uint64_t> next_line_start(int fd, uint64_t from, uint64_t limit) {
    char buf[kProbe];
    while (from < limit) {
        auto n = sys::pread(fd, buf, std::min<uint64_t>(sizeof buf, limit - from), static_cast<off_t>(from));
        if (!n || *n == 0) return std::nullopt;
        if (auto* nl = static_cast<char*>(std::memchr(buf, '\n', *n))) return from + static_cast<uint64_t>(nl - buf) + 1;
        from += *n;
    }
    return std::nullopt;
}

// The ts of the line starting at `at` (only the first kProbe bytes are looked at).
std::optional<TimePoint> ts_at(int fd, uint64_t at) {
    char buf[kProbe];
    auto n = sys::pread(fd, buf, sizeof buf, static_cast<off_t>(at));
    if (!n || *n == 0) return std::nullopt;
    std::string_view line(buf, *n);
    if (auto nl = line.find('\n'); nl != std::string_view::npos) line = line.substr(0, nl);
    return peek_event_ts(line);
}

// The ts of the last line of a file, or nullopt when it cannot be read cheaply.
std::optional<TimePoint> last_ts(int fd, uint64_t size) {
    if (size == 0) return std::nullopt;
    char buf[kProbe];
    uint64_t from = size > sizeof buf ? size - sizeof buf : 0;
    auto n = sys::pread(fd, buf, static_cast<size_t>(size - from), static_cast<off_t>(from));
    if (!n || *n == 0) return std::nullopt;
    std::string_view tail(buf, *n);
    while (!tail.empty() && tail.back() == '\n') tail.remove_suffix(1);
    auto nl = tail.rfind('\n');
    if (nl == std::string_view::npos && from > 0) return std::nullopt;  // a very long last line
    return peek_event_ts(nl == std::string_view::npos ? tail : tail.substr(nl + 1));
}

// The offset of a line start at or before the first line with ts >= target. The log is
// appended in time order, so the lines' timestamps grow with their offsets.
uint64_t find_start(int fd, uint64_t size, TimePoint target) {
    uint64_t lo = 0, hi = size;  // the first line with ts >= target starts in [lo, hi]
    while (hi - lo > kLinearWindow) {
        uint64_t mid = lo + (hi - lo) / 2;
        auto p = next_line_start(fd, mid, hi);
        if (!p || *p >= hi) break;
        // Garbage lines have no ts: probe the next few lines instead.
        uint64_t at = *p;
        std::optional<TimePoint> ts;
        for (int tries = 0; tries < 8 && at < hi && !(ts = ts_at(fd, at)); ++tries) {
            auto next = next_line_start(fd, at, hi);
            if (!next) break;
            at = *next;
        }
        if (!ts || at >= hi) break;
        if (*ts < target) lo = at;
        else hi = *p;
    }
    return lo;
}

} // namespace

void deliver(std::string_view line, const AuditQuery& q, const AuditSink& sink, AuditReadStats& st) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    auto e = decode_event(line, q.full_events);
    if (!e) {
        ++st.garbage;
        return;
    }
    if (q.since && e->ts < *q.since) return;
    if (q.name && e->name != *q.name) return;
    ++st.matched;
    sink(line, *e);
}

Result<uint64_t> scan(int fd, uint64_t offset, bool take_fragment, const AuditQuery& q,
                      const AuditSink& sink, AuditReadStats& st) {
    std::string buf(kChunk, '\0');
    size_t have = 0;            // bytes in buf, starting at file offset `offset`
    bool skipping = false;      // inside an over-long garbage line: drop up to its newline
    for (;;) {
        if (have == buf.size()) {
            if (buf.size() < kMaxLine) {
                buf.resize(buf.size() * 2);
            } else {
                ++st.garbage;
                offset += have;
                have = 0;
                skipping = true;
            }
        }
        auto n = sys::pread(fd, buf.data() + have, buf.size() - have, static_cast<off_t>(offset + have));
        if (!n) return n.error();
        if (*n == 0) break;
        have += *n;
        size_t start = 0;
        while (auto* nl = static_cast<char*>(std::memchr(buf.data() + start, '\n', have - start))) {
            size_t end = static_cast<size_t>(nl - buf.data());
            if (!skipping) deliver(std::string_view(buf.data() + start, end - start), q, sink, st);
            skipping = false;
            start = end + 1;
        }
        if (start > 0) {
            std::memmove(buf.data(), buf.data() + start, have - start);
            have -= start;
            offset += start;
        }
    }
    if (have > 0 && take_fragment) {
        if (!skipping) deliver(std::string_view(buf.data(), have), q, sink, st);
        offset += have;
    }
    return offset;
}

Result<void> read_history(const AuditLog& log, const AuditQuery& q, const AuditSink& sink,
                          AuditReadStats& st, LivePosition* live) {
    auto files = open_generations(log);
    if (!files) return files.error();
    std::optional<TimePoint> target;
    if (q.since) target = saturating_add(*q.since, -kOrderSlack);
    for (size_t i = 0; i < files->size(); ++i) {
        GenFile& f = (*files)[i];
        bool is_live = i + 1 == files->size();
        if (!f.fd.valid()) continue;
        uint64_t start = 0;
        if (target) {
            if (!is_live) {
                auto last = last_ts(f.fd.get(), f.size);
                if (last && *last < *target) continue;  // the whole generation is older
            }
            start = find_start(f.fd.get(), f.size, *target);
        }
        auto end = scan(f.fd.get(), start, !(is_live && live), q, sink, st);
        if (!end) return end.error();
        if (is_live && live) {
            live->dev = f.dev;
            live->ino = f.ino;
            live->offset = *end;
            live->fd = std::move(f.fd);
        }
    }
    return {};
}

} // namespace lokt::audit_detail

namespace lokt {

Result<AuditReadStats> AuditLog::read(const AuditQuery& q, const AuditSink& sink) const {
    AuditReadStats st;
    LOKT_TRY(audit_detail::read_history(*this, q, sink, st, nullptr));
    return st;
}

} // namespace lokt
