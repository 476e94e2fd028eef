#include "lokt/held_file.hpp"

#include "lokt/root_fs.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <cstring>

namespace lokt {

std::string held_dir(const Root& root) { return root.path + "/held"; }

bool valid_lock_id(std::string_view id) {
    if (id.size() != 32) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

Result<HeldFile> HeldFile::create(const Root& root, const std::string& lock_id) {
    if (!valid_lock_id(lock_id)) return Error{"invalid lock id \"" + lock_id + "\""};
    const std::string dir = held_dir(root);
    const std::string path = dir + "/" + lock_id;
    // O_EXCL, through the root's checked directories: a file or symlink planted under our
    // (random) name is never used, and held/ and the file get the root's sharing mode (group
    // members must be able to test it; held/ is sticky so they cannot delete it).
    auto fd = rootfs::open_file(root.path, path, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK,
                                /*create_dirs=*/true);
    if (!fd) return fd.error();
    // Nobody else can hold a file we just created: this never waits.
    LOKT_TRY(sys::flock(fd->get(), LOCK_EX | LOCK_NB));
    return HeldFile(std::move(*fd), lock_id);
}

HeldProof probe_held(const std::string& dir, std::string_view lock_id) {
    if (dir.empty() || !valid_lock_id(lock_id)) return HeldProof::none;
    // O_NONBLOCK: a FIFO planted here must not hang the judge; it is rejected below.
    auto fd = sys::open(dir + "/" + std::string(lock_id), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (!fd) return HeldProof::none;
    auto st = sys::fstat(fd->get());
    if (!st || !S_ISREG(st->st_mode)) return HeldProof::none;
    // Shared: two judges testing at once never see each other as the holder.
    auto r = sys::flock(fd->get(), LOCK_SH | LOCK_NB);
    if (r) return HeldProof::free;  // closing the fd drops our shared lock at once
    return r.error().sys_errno == EWOULDBLOCK ? HeldProof::held : HeldProof::none;
}

void remove_held(const std::string& dir, std::string_view lock_id) {
    if (dir.empty() || !valid_lock_id(lock_id)) return;
    (void)sys::unlink(dir + "/" + std::string(lock_id));
}

} // namespace lokt
