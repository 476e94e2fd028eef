// The exec filter itself, installed for real in a forked child whose listener is closed at
// once: the kernel then fails every exec that would stop for a notification with ENOSYS, and
// one the filter lets through reaches the file system (ENOENT for a missing file). So the
// errno tells which way the filter sent each call.
#include "../../seccomp/filter.hpp"
#include "support/process.hpp"

#include "lokt/seccomp_pass.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

using namespace lokt::seccomp;
using lokt::test::fork_child;
using lokt::test::reap;

namespace {

// In a child: installs `prog` and closes its listener; the exit status is 0 when every
// expectation held, else the number of the first one that failed.
int with_filter_without_supervisor(FilterProgram& prog, uint64_t word) {
    return reap(fork_child([&prog, word] {
        sock_fprog fp = prog.fprog();
        InstallReport report;
        const int fd = install_filter(&fp, true, false, &report);
        if (fd < 0) return 90;
        ::close(fd);
        char* argv[] = {const_cast<char*>("x"), nullptr};
        const char* missing = "/nonexistent/lokt-filter-test";
        auto execve_with = [&](uint64_t arg3) {
            errno = 0;
            ::syscall(SYS_execve, missing, argv, environ, arg3, 0, 0);
            return errno;
        };
        if (execve_with(0) != ENOSYS) return 1;
        if (word && execve_with(word) != ENOENT) return 2;
        if (word && execve_with(word + 1) != ENOSYS) return 3;
        if (word && execve_with(word ^ 0xffffffff00000000ull) != ENOSYS) return 4;  // the high half counts
        errno = 0;
        ::syscall(SYS_execveat, AT_FDCWD, missing, argv, environ, 0, word);
        if (errno != ENOSYS) return 5;  // execveat always stops
        return 0;
    }));
}

} // namespace

TEST_CASE("seccomp filter: a native execve with the pass word skips the notification", "[seccomp]") {
    const uint64_t word = 0x5a5a1234deadbeefull;
    auto prog = build_exec_filter(word);
    REQUIRE(prog);
    CHECK(with_filter_without_supervisor(*prog, word) == 0);
}

TEST_CASE("seccomp filter: without a pass word every exec stops", "[seccomp]") {
    auto prog = build_exec_filter();
    REQUIRE(prog);
    CHECK(with_filter_without_supervisor(*prog, 0) == 0);
}

TEST_CASE("seccomp pass: the variable's value round-trips; malformed ones are refused", "[seccomp]") {
    using namespace lokt::seccomp_pass;
    char text[kTextBytes];
    format({0x0123456789abcdefull, 0xfedcba9876543210ull}, text);
    CHECK(std::string(text) == "0123456789abcdef:fedcba9876543210");
    Pass p;
    REQUIRE(parse(text, &p));
    CHECK(p.word == 0x0123456789abcdefull);
    CHECK(p.fingerprint == 0xfedcba9876543210ull);
    for (const char* bad : {"", "0123456789abcdef", "0123456789abcdef:fedcba987654321",
                            "0123456789abcdef:fedcba98765432100", "0123456789ABCDEF:fedcba9876543210",
                            "0000000000000000:fedcba9876543210", "0123456789abcdef-fedcba9876543210"})
        CHECK_FALSE(parse(bad, &p));
    CHECK_FALSE(parse(nullptr, &p));
}
