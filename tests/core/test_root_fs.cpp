#include "lokt/root_fs.hpp"

#include "../../core/store_io.hpp"
#include "audit_test_util.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>

using namespace lokt;

namespace {

using TempRoot = test::TempDir;

mode_t mode_of(const std::string& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode;
}

} // namespace

TEST_CASE("a FIFO where a file belongs is refused at once, naming it", "[root_fs]") {
    TempRoot r;
    const std::string fifo = r.path + "/audit.log";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (int flags : {O_RDONLY, O_WRONLY | O_APPEND | O_CREAT, O_RDWR}) {
        auto fd = rootfs::open_file(r.path, fifo, flags);
        REQUIRE_FALSE(fd);
        CHECK(fd.error().sys_errno == rootfs::kNotRegularErrno);
        CHECK(fd.error().message.find(fifo) != std::string::npos);
        CHECK(fd.error().message.find("a FIFO") != std::string::npos);
    }
}

TEST_CASE("a symlink is never followed, not even a dangling one to create its target", "[root_fs]") {
    TempRoot r;
    const std::string target = r.path + "/target";
    const std::string link = r.path + "/file";
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    auto fd = rootfs::open_file(r.path, link, O_WRONLY | O_CREAT);
    REQUIRE_FALSE(fd);
    CHECK(fd.error().message.find("a symbolic link") != std::string::npos);
    CHECK(::access(target.c_str(), F_OK) != 0);
}

TEST_CASE("a symlinked directory below the root is refused; the root itself may be one", "[root_fs]") {
    TempRoot r;
    const std::string real = r.path + "/real";
    REQUIRE(::mkdir(real.c_str(), 0700) == 0);
    REQUIRE(::symlink((real).c_str(), (r.path + "/root").c_str()) == 0);
    // ROOT as a symlink the user chose: fine, and subdirectories are created inside it
    auto d = rootfs::Dir::open(r.path + "/root", r.path + "/root/locks", true);
    REQUIRE(d);
    CHECK(S_ISDIR(mode_of(real + "/locks")));
    // a symlink in place of locks/: refused, nothing created through it
    REQUIRE(::rename((real + "/locks").c_str(), (real + "/old").c_str()) == 0);
    REQUIRE(::symlink((real + "/old").c_str(), (real + "/locks").c_str()) == 0);
    auto bad = rootfs::open_file(real, real + "/locks/x.json", O_WRONLY | O_CREAT | O_EXCL, true);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find(real + "/locks is a symbolic link") != std::string::npos);
    CHECK(::access((real + "/old/x.json").c_str(), F_OK) != 0);
}

TEST_CASE("a group-writable root is shared: group modes whatever the umask", "[root_fs]") {
    TempRoot r;
    const std::string root = r.path + "/root";
    REQUIRE(::mkdir(root.c_str(), 0700) == 0);
    REQUIRE(::chmod(root.c_str(), 02770) == 0);
    mode_t old = ::umask(077);
    auto d = rootfs::Dir::open(root, root + "/sync", true);
    auto f = d ? d->open_file("x", O_RDONLY | O_CREAT) : Result<sys::UniqueFd>(Error{"no dir"});
    auto l = rootfs::Dir::open(root, root + "/locks", true);
    ::umask(old);
    REQUIRE(d);
    REQUIRE(f);
    REQUIRE(l);
    CHECK(d->sharing() == rootfs::Sharing::group);
    CHECK((mode_of(root + "/sync") & 07777) == (02775 | S_ISVTX));
    CHECK((mode_of(root + "/locks") & 07777) == 02775);
    CHECK((mode_of(root + "/sync/x") & 07777) == 0664);
}

TEST_CASE("a single-user root leaves modes to the umask", "[root_fs]") {
    TempRoot r;
    const std::string root = r.path + "/root";
    mode_t old = ::umask(022);
    auto d = rootfs::Dir::open(root, root + "/locks", true);
    auto f = d ? d->open_file("a", O_WRONLY | O_CREAT) : Result<sys::UniqueFd>(Error{"no dir"});
    ::umask(old);
    REQUIRE(f);
    CHECK(d->sharing() == rootfs::Sharing::single);
    CHECK((mode_of(root + "/locks") & 07777) == 0755);
    CHECK((mode_of(root + "/locks/a") & 07777) == 0644);
}

TEST_CASE("the per-name flock is bounded and names its holder", "[root_fs][store]") {
    TempRoot r;
    Root root{r.path + "/root", RootSource::env};
    REQUIRE(ensure_root_dirs(root));
    { auto first = detail::NameLock::acquire(root, "x"); REQUIRE(first); }  // creates sync/x
    int held = ::open((root.path + "/sync/x").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(held >= 0);
    pid_t child = ::fork();
    if (child == 0) {
        ::flock(held, LOCK_EX);
        ::pause();
        ::_exit(0);
    }
    // wait until the child holds it (a non-blocking probe of our own)
    int probe = ::open((root.path + "/sync/x").c_str(), O_RDONLY | O_CLOEXEC);
    while (::flock(probe, LOCK_EX | LOCK_NB) == 0) ::flock(probe, LOCK_UN);
    ::close(probe);

    auto none = detail::NameLock::acquire(root, "x", SyncWait::none);
    REQUIRE_FALSE(none);
    CHECK(none.error().sys_errno == EWOULDBLOCK);
    CHECK(none.error().message.find("pid " + std::to_string(child)) != std::string::npos);

    auto t0 = std::chrono::steady_clock::now();
    auto bounded = detail::NameLock::acquire(root, "x");
    REQUIRE_FALSE(bounded);
    CHECK(std::chrono::steady_clock::now() - t0 >= detail::kSyncWaitBound);
    CHECK(bounded.error().message.find(root.path + "/sync/x") != std::string::npos);

    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(held);
    CHECK(detail::NameLock::acquire(root, "x", SyncWait::none));
}
