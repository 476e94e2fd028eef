// Following the audit log like `tail -F`: new lines as they are appended, across rotations.

#include "audit_scan.hpp"
#include "lokt/root_fs.hpp"

#include <fcntl.h>
#include <sys/inotify.h>

#include <cerrno>
#include <thread>

namespace lokt {
namespace {

using namespace std::chrono_literals;

constexpr int kTickMs = 200;  // stop() latency, and the polling period without inotify

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// Watches the log's directory: appends show up as IN_MODIFY, a rotation as a rename and a
// new audit.log as IN_CREATE. Invalid when inotify is unavailable (then we poll).
sys::UniqueFd watch_dir(const std::string& dir) {
    auto in = sys::inotify_init(IN_NONBLOCK);
    if (!in) return {};
    auto wd = sys::inotify_add_watch(in->get(), dir,
                                     IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
    if (!wd) return {};
    return std::move(*in);
}

void drain(int fd) {
    char buf[4096];
    for (;;) {
        auto n = sys::read_some(fd, buf, sizeof buf);
        if (!n || *n == 0) return;
    }
}

// Opens the live file positioned after its last complete line (where "the end" is).
Result<void> open_at_end(const std::string& path, audit_detail::LivePosition& pos) {
    auto fd = rootfs::open_file(dir_of(path), path, O_RDONLY);
    if (!fd) return fd.error().sys_errno == ENOENT ? Result<void>() : Result<void>(fd.error());
    auto st = sys::fstat(fd->get());
    if (!st) return st.error();
    uint64_t size = static_cast<uint64_t>(st->st_size);
    // Start after the last newline, so a line being copied right now is shown whole.
    char buf[4096];
    uint64_t from = size > sizeof buf ? size - sizeof buf : 0;
    auto n = sys::pread(fd->get(), buf, static_cast<size_t>(size - from), static_cast<off_t>(from));
    if (!n) return n.error();
    uint64_t offset = size;
    std::string_view tail(buf, *n);
    if (!tail.empty() && tail.back() != '\n') {
        auto nl = tail.rfind('\n');
        offset = nl == std::string_view::npos ? from : from + nl + 1;
    }
    pos.dev = st->st_dev;
    pos.ino = st->st_ino;
    pos.offset = offset;
    pos.fd = std::move(*fd);
    return {};
}

// After a rotation: finish the old file (late writers that still had it open append there),
// then every generation rotated in after it (several rotations can pass between two
// looks), then continue with the new live file from its start. Until a new live file
// exists, the newest file read stays `pos`, so the next look finds its place again.
Result<void> catch_up_rotation(const AuditLog& log, const AuditQuery& q, const AuditSink& sink,
                               AuditReadStats& st, audit_detail::LivePosition& pos) {
    if (pos.fd.valid()) {
        auto end = audit_detail::scan(pos.fd.get(), pos.offset, true, q, sink, st);
        if (!end) return end.error();
        pos.offset = *end;
    }
    auto files = audit_detail::open_generations(log);
    if (!files) return files.error();
    // Without the old file among the generations (deleted, or we had none) only the new
    // live file is new: showing the older generations again would repeat history.
    size_t first_new = files->size() - 1;
    for (size_t i = 0; i + 1 < files->size(); ++i)
        if (pos.fd.valid() && (*files)[i].ino == pos.ino && (*files)[i].dev == pos.dev) first_new = i + 1;
    auto take = [&](audit_detail::GenFile& f, uint64_t offset) {
        pos.fd = std::move(f.fd);
        pos.dev = f.dev;
        pos.ino = f.ino;
        pos.offset = offset;
    };
    for (size_t i = first_new; i + 1 < files->size(); ++i) {
        auto end = audit_detail::scan((*files)[i].fd.get(), 0, true, q, sink, st);
        if (!end) return end.error();
        take((*files)[i], *end);
    }
    if (files->back().fd.valid()) take(files->back(), 0);
    return {};
}

} // namespace

Result<AuditReadStats> AuditLog::follow(const AuditQuery& q, const AuditSink& sink,
                                        const std::function<bool()>& stop) const {
    AuditReadStats st;
    audit_detail::LivePosition pos;
    // Watch before reading, so nothing appended in between goes unnoticed.
    sys::UniqueFd watch = watch_dir(dir_of(path_));
    if (q.since) LOKT_TRY(audit_detail::read_history(*this, q, sink, st, &pos));
    else LOKT_TRY(open_at_end(path_, pos));

    while (!stop()) {
        if (pos.fd.valid()) {
            auto end = audit_detail::scan(pos.fd.get(), pos.offset, false, q, sink, st);
            if (!end) return end.error();
            pos.offset = *end;
        }
        auto now = sys::stat(path_);
        if (now && (!pos.fd.valid() || now->st_ino != pos.ino || now->st_dev != pos.dev)) {
            LOKT_TRY(catch_up_rotation(*this, q, sink, st, pos));
            continue;
        }
        if (watch.valid()) {
            auto ready = sys::wait_readable(watch.get(), kTickMs);
            if (!ready) return ready.error();
            if (*ready) drain(watch.get());
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
        }
    }
    return st;
}

} // namespace lokt
