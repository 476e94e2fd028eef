#include "lokt/loss_watch.hpp"

#include <sys/inotify.h>

#include <cerrno>

namespace lokt {

LossWatch::LossWatch(const std::string& locks_dir) {
    auto fd = sys::inotify_init(IN_NONBLOCK);
    if (!fd) return;
    // A break unlinks the file (IN_DELETE); a replacement renames over it (IN_MOVED_TO).
    // Any event is only a cue to re-read our own files, so other names' events are harmless.
    if (!sys::inotify_add_watch(fd->get(), locks_dir, IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM)) return;
    fd_ = std::move(*fd);
}

void LossWatch::drain() {
    if (!fd_.valid()) return;
    alignas(struct inotify_event) char buf[4096];
    for (;;) {
        auto got = sys::read_some(fd_.get(), buf, sizeof buf);
        if (got && *got > 0) continue;
        if (!got && got.error().sys_errno != EAGAIN) fd_.reset();  // broken: stop watching
        return;
    }
}

} // namespace lokt
