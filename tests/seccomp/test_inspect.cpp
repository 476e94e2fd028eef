// Turning a notification into an exec request, with this very process as the "target": its
// memory holds the path and argv the fake notification points at.
#include "../../seccomp/filter.hpp"
#include "../../seccomp/request.hpp"

#include "lokt/rules.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/audit.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

using namespace lokt;
using namespace lokt::seccomp;

namespace {

struct AlwaysValid final : Responder {
    bool valid(uint64_t) override { return true; }
    bool allow(uint64_t) override { return true; }
    bool deny(uint64_t, int) override { return true; }
};

struct Dir {
    lokt::test::TempDir tmp{"lokt-inspect"};
    std::string path = tmp.path;
    std::string file(const std::string& name, mode_t mode) {
        std::string p = path + "/" + name;
        std::ofstream(p) << "#!/bin/sh\n";
        ::chmod(p.c_str(), mode);
        return p;
    }
};

seccomp_notif notif(const char* path, char* const* argv) {
    seccomp_notif n{};
    n.id = 42;
    n.pid = static_cast<uint32_t>(::getpid());
    n.data.arch = AUDIT_ARCH_X86_64;
    n.data.nr = SYS_execve;
    n.data.args[0] = reinterpret_cast<uint64_t>(path);
    n.data.args[1] = reinterpret_cast<uint64_t>(argv);
    return n;
}

std::unique_ptr<rules::RuleSet> rules_of(const char* text) {
    auto r = rules::parse_text(text);
    REQUIRE(r);
    return std::move(*r);
}

} // namespace

#if defined(__x86_64__)
TEST_CASE("seccomp inspect: a matching exec becomes a request with path, argv and tgid", "[seccomp]") {
    Dir d;
    std::string tool = d.file("fake-git", 0755);
    auto rs = rules_of("git-push : fake-git push *\n");
    char a0[] = "fake-git", a1[] = "push", a2[] = "origin";
    char* argv[] = {a0, a1, a2, nullptr};
    AlwaysValid v;
    Inspector in(*rs, std::nullopt);
    ExecRequest req;
    auto n = notif(tool.c_str(), argv);
    REQUIRE(in.inspect(n, v, &req) == Verdict::lock);
    CHECK(req.path == tool);
    CHECK(req.argv == std::vector<std::string>{"fake-git", "push", "origin"});
    CHECK(req.tgid == ::getpid());
    CHECK(req.decision.name_count == 1);
    CHECK(req.old_exe);
}

TEST_CASE("seccomp inspect: non-matching, missing, non-executable and lokt's own execs pass", "[seccomp]") {
    Dir d;
    auto rs = rules_of("git-push : fake-git push *\n");
    AlwaysValid v;
    ExecRequest req;
    char a0[] = "fake-git", a1[] = "push";
    char* push[] = {a0, a1, nullptr};
    char s1[] = "status";
    char* status[] = {a0, s1, nullptr};
    std::string tool = d.file("fake-git", 0755);
    Inspector in(*rs, std::nullopt);

    auto n = notif(tool.c_str(), status);
    CHECK(in.inspect(n, v, &req) == Verdict::pass);          // no rule for "status"
    std::string missing = d.path + "/nope/fake-git";
    n = notif(missing.c_str(), push);
    CHECK(in.inspect(n, v, &req) == Verdict::pass);          // a failing PATH candidate
    std::string plain = d.file("sub-fake-git", 0644);
    std::filesystem::create_directory(d.path + "/noexec");
    std::string noexec = d.path + "/noexec/fake-git";
    std::filesystem::copy_file(plain, noexec);
    n = notif(noexec.c_str(), push);
    CHECK(in.inspect(n, v, &req) == Verdict::pass);          // not executable
    Inspector self(*rs, file_id(tool));
    n = notif(tool.c_str(), push);
    CHECK(self.inspect(n, v, &req) == Verdict::pass);        // lokt itself
}

TEST_CASE("seccomp inspect: a relative path resolves against the target's cwd", "[seccomp]") {
    Dir d;
    d.file("fake-git", 0755);
    auto rs = rules_of("git-push : fake-git push *\n");
    char a0[] = "./fake-git", a1[] = "push";
    char* argv[] = {a0, a1, nullptr};
    char old[4096];
    REQUIRE(::getcwd(old, sizeof old));
    REQUIRE(::chdir(d.path.c_str()) == 0);
    AlwaysValid v;
    ExecRequest req;
    Inspector in(*rs, std::nullopt);
    auto n = notif("./fake-git", argv);
    auto verdict = in.inspect(n, v, &req);
    REQUIRE(::chdir(old) == 0);
    REQUIRE(verdict == Verdict::lock);
    CHECK(req.path == std::filesystem::canonical(d.path).string() + "/./fake-git");
}

TEST_CASE("seccomp inspect: execveat with AT_EMPTY_PATH names the fd's file", "[seccomp]") {
    Dir d;
    std::string tool = d.file("fake-git", 0755);
    auto rs = rules_of("git-push : fake-git push *\n");
    int fd = ::open(tool.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    char a0[] = "x", a1[] = "push";
    char* argv[] = {a0, a1, nullptr};
    seccomp_notif n{};
    n.id = 1;
    n.pid = static_cast<uint32_t>(::getpid());
    n.data.arch = AUDIT_ARCH_X86_64;
    n.data.nr = SYS_execveat;
    n.data.args[0] = static_cast<uint64_t>(fd);
    n.data.args[1] = reinterpret_cast<uint64_t>("");
    n.data.args[2] = reinterpret_cast<uint64_t>(argv);
    n.data.args[4] = AT_EMPTY_PATH;
    AlwaysValid v;
    ExecRequest req;
    Inspector in(*rs, std::nullopt);
    CHECK(in.inspect(n, v, &req) == Verdict::lock);
    CHECK(req.path == tool);
    ::close(fd);
}

TEST_CASE("seccomp filter: exports a BPF program and classifies exec syscalls", "[seccomp]") {
    auto prog = build_exec_filter();
    REQUIRE(prog);
    CHECK(prog->insns.size() > 4);
    int w = 0;
    CHECK(classify_call(AUDIT_ARCH_X86_64, SYS_execve, &w) == ExecCall::execve);
    CHECK(w == 8);
    CHECK(classify_call(AUDIT_ARCH_X86_64, SYS_execveat, &w) == ExecCall::execveat);
    CHECK(classify_call(AUDIT_ARCH_I386, 11, &w) == ExecCall::execve);
    CHECK(w == 4);
    CHECK(classify_call(AUDIT_ARCH_X86_64, SYS_getpid, &w) == ExecCall::other);
}
#endif
