#include "lokt/sys.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

using namespace lokt;
using lokt::test::ScopedWriteFailure;
using lokt::test::TempDir;


TEST_CASE("fds created by the syscall layer are close-on-exec", "[sys]") {
    auto p = sys::pipe();
    REQUIRE(p);
    CHECK((::fcntl(p->read.get(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(p->write.get(), F_GETFD) & FD_CLOEXEC) != 0);
    auto f = sys::open("/dev/null", O_RDONLY);
    REQUIRE(f);
    CHECK((::fcntl(f->get(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("UniqueFd closes on destruction and release gives ownership away", "[sys]") {
    int raw;
    {
        auto f = sys::open("/dev/null", O_RDONLY);
        REQUIRE(f);
        raw = f->get();
    }
    CHECK(::fcntl(raw, F_GETFD) == -1);
    auto g = sys::open("/dev/null", O_RDONLY);
    REQUIRE(g);
    int kept = g->release();
    CHECK_FALSE(g->valid());
    CHECK(::fcntl(kept, F_GETFD) != -1);
    ::close(kept);
}

TEST_CASE("errors carry the syscall, the path and errno", "[sys]") {
    auto f = sys::open("/nonexistent/lokt/x", O_RDONLY);
    REQUIRE_FALSE(f);
    CHECK(f.error().sys_errno == ENOENT);
    CHECK(f.error().message == "open /nonexistent/lokt/x: No such file or directory");
}

TEST_CASE("mkdir_p creates nested directories and accepts existing ones", "[sys]") {
    TempDir tmp;
    const std::string& d = tmp.path;
    REQUIRE(sys::mkdir_p(d + "/a/b/c"));
    REQUIRE(sys::mkdir_p(d + "/a/b/c"));
    CHECK(sys::exists(d + "/a/b/c"));
    REQUIRE(sys::write_all(sys::open(d + "/file", O_WRONLY | O_CREAT)->get(), "x"));
    CHECK(sys::mkdir_p(d + "/file").error().sys_errno == ENOTDIR);
}

TEST_CASE("read_file returns what write_all wrote", "[sys]") {
    TempDir tmp;
    const std::string& d = tmp.path;
    {
        auto f = sys::open(d + "/f", O_WRONLY | O_CREAT | O_TRUNC);
        REQUIRE(f);
        REQUIRE(sys::write_all(f->get(), std::string(100000, 'z')));
    }
    auto data = sys::read_file(d + "/f");
    REQUIRE(data);
    CHECK(data->size() == 100000);
}

TEST_CASE("injected write failures surface as errors and can be switched off", "[sys]") {
    TempDir tmp;
    const std::string& d = tmp.path;
    auto f = sys::open(d + "/f", O_WRONLY | O_CREAT | O_TRUNC);
    REQUIRE(f);
    {
        ScopedWriteFailure fail(ENOSPC, 3);
        CHECK(sys::write_all(f->get(), "ab"));
        auto r = sys::write_all(f->get(), "cd");
        REQUIRE_FALSE(r);
        CHECK(r.error().sys_errno == ENOSPC);
    }
    CHECK(sys::write_all(f->get(), "cd"));
}

TEST_CASE("list_dir lists entries without dot entries", "[sys]") {
    TempDir tmp;
    const std::string& d = tmp.path;
    REQUIRE(sys::mkdir_p(d + "/x"));
    auto names = sys::list_dir(d);
    REQUIRE(names);
    REQUIRE(names->size() == 1);
    CHECK((*names)[0] == "x");
}

TEST_CASE("thread_count counts this process's threads", "[sys]") {
    auto before = lokt::sys::thread_count();
    REQUIRE(before.ok());
    REQUIRE(*before >= 1);
    auto listed = lokt::sys::list_dir("/proc/self/task");
    REQUIRE(listed.ok());
    CHECK(*before == listed->size());

    std::promise<void> started;
    std::promise<void> release;
    std::thread t([&] {
        started.set_value();
        release.get_future().wait();
    });
    started.get_future().wait();
    auto during = lokt::sys::thread_count();
    release.set_value();
    t.join();
    REQUIRE(during.ok());
    CHECK(*during == *before + 1);
}
