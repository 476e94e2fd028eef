// The seccomp fast path: a notification decided from the path alone, with this very process
// as the "target" (process_vm_readv of our own memory).
#include "../../seccomp/filter.hpp"
#include "../../seccomp/remote.hpp"
#include "../../seccomp/screen.hpp"

#include "lokt/rules.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/audit.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

using namespace lokt;
using namespace lokt::seccomp;

namespace {

seccomp_notif exec_of(const char* path, int nr = SYS_execve) {
    seccomp_notif n{};
    n.id = 7;
    n.pid = static_cast<uint32_t>(::getpid());
    n.data.arch = AUDIT_ARCH_X86_64;
    n.data.nr = nr;
    if (nr == SYS_execveat) {
        n.data.args[0] = static_cast<uint64_t>(AT_FDCWD);
        n.data.args[1] = reinterpret_cast<uint64_t>(path);
    } else {
        n.data.args[0] = reinterpret_cast<uint64_t>(path);
    }
    return n;
}

std::unique_ptr<rules::RuleSet> rules_of(const char* text) {
    auto r = rules::parse_text(text);
    REQUIRE(r);
    return std::move(*r);
}

// Two pages, the second inaccessible: a string placed to end right before it.
struct EdgeOfMapping {
    long page = ::sysconf(_SC_PAGESIZE);
    char* base = static_cast<char*>(::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EdgeOfMapping() {
        REQUIRE(base != MAP_FAILED);
        REQUIRE(::mprotect(base + page, page, PROT_NONE) == 0);
    }
    ~EdgeOfMapping() { ::munmap(base, 2 * page); }
    const char* place(const std::string& s) {
        char* at = base + page - s.size() - 1;
        std::memcpy(at, s.c_str(), s.size() + 1);
        return at;
    }
};

} // namespace

TEST_CASE("read_string_into: one read, up to a NUL, never past the buffer", "[seccomp][screen]") {
    char buf[64];
    const char* s = "/usr/bin/true";
    REQUIRE(read_string_into(::getpid(), reinterpret_cast<uint64_t>(s), buf, sizeof buf));
    CHECK(std::string(buf) == s);
    const std::string longer(100, 'x');
    CHECK_FALSE(read_string_into(::getpid(), reinterpret_cast<uint64_t>(longer.c_str()), buf, sizeof buf));
    CHECK_FALSE(read_string_into(::getpid(), 0, buf, sizeof buf));
    // The string ends right before an unreadable page: the page split still finds it.
    EdgeOfMapping edge;
    const char* at = edge.place("/bin/sh");
    REQUIRE(read_string_into(::getpid(), reinterpret_cast<uint64_t>(at), buf, sizeof buf));
    CHECK(std::string(buf) == "/bin/sh");
    // No NUL before the unreadable page: not a string.
    std::memset(edge.base + edge.page - 8, 'y', 8);
    CHECK_FALSE(read_string_into(::getpid(), reinterpret_cast<uint64_t>(edge.base + edge.page - 8), buf, sizeof buf));
}

#if defined(__x86_64__)
TEST_CASE("screen: execs no rule can match pass, the rest go to the inspector", "[seccomp][screen]") {
    auto rs = rules_of("git-push : git push *\nbuild : make install *\n");
    CHECK(screen(exec_of("/usr/bin/true"), *rs) == Screen::pass);
    CHECK(screen(exec_of("/usr/local/sbin/true"), *rs) == Screen::pass);  // a PATH candidate
    CHECK(screen(exec_of("true", SYS_execveat), *rs) == Screen::pass);
    CHECK(screen(exec_of("./cc1plus"), *rs) == Screen::pass);
    CHECK(screen(exec_of("/usr/bin/git"), *rs) == Screen::inspect);  // arguments decide
    CHECK(screen(exec_of("make", SYS_execveat), *rs) == Screen::inspect);
    CHECK(screen(exec_of(""), *rs) == Screen::inspect);  // execveat(fd, "", AT_EMPTY_PATH)
    const std::string deep = "/" + std::string(kScreenBytes, 'd') + "/true";
    CHECK(screen(exec_of(deep.c_str()), *rs) == Screen::inspect);  // too long for one read
    CHECK(screen(exec_of(nullptr), *rs) == Screen::inspect);       // EFAULT: decided there
    seccomp_notif other = exec_of("/usr/bin/git");
    other.data.nr = SYS_getpid;
    CHECK(screen(other, *rs) == Screen::pass);
}

TEST_CASE("screen: with a full-path rule only absolute paths are decided early", "[seccomp][screen]") {
    auto rs = rules_of("deploy : /srv/*/deploy.sh *\n");
    CHECK(screen(exec_of("/usr/bin/true"), *rs) == Screen::pass);
    CHECK(screen(exec_of("/srv/app/deploy.sh"), *rs) == Screen::inspect);
    // Relative to a cwd only /proc can tell: the inspector resolves it.
    CHECK(screen(exec_of("deploy.sh"), *rs) == Screen::inspect);
    CHECK(screen(exec_of("./true"), *rs) == Screen::inspect);
}
#endif
