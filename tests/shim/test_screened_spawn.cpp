// screened_spawn() (shim/screened_spawn.cpp) against glibc's own posix_spawn/posix_spawnp: the
// same file actions and attributes must leave the child in the same state and report the same
// errors. Each scenario runs twice, once through each, with a child shell that prints what it
// sees (working directory, open descriptors, process group, session, ignored signals; the
// signal mask is read by grep); the two reports must be equal, and each scenario also checks
// that it did something.
#include "../../shim/shim.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

extern char** environ;

using namespace lokt::shim;
using lokt::test::ScopedEnv;
using lokt::test::TempDir;

namespace {

using SpawnFn = int (*)(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                        char* const[], char* const[]);

// What one spawn gave: its return value, and (when it started) the child's report and status.
struct Outcome {
    int rc = -1;
    bool pid_set = false;
    std::string report;
    int status = -1;
    bool operator==(const Outcome& o) const {
        return rc == o.rc && pid_set == o.pid_set && report == o.report && status == o.status;
    }
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    return os << "rc=" << o.rc << " pid_set=" << o.pid_set << " status=" << o.status << " report:\n" << o.report;
}

// Builds the file actions and attributes of one scenario; `out` is the pipe's write end the
// child's stdout should go to, `in` its read end.
using Setup = std::function<void(posix_spawn_file_actions_t*, posix_spawnattr_t*, int out, int in)>;

const char* kReport =
    "cd_now=$(pwd); echo \"cwd=${cd_now##*/}\"; "
    "fds=; for f in /proc/$$/fd/*; do fds=\"$fds ${f##*/}\"; done; echo \"fds=$fds\"; "
    "set -- $(cut -d' ' -f5,6 /proc/$$/stat); "
    "[ \"$1\" = $$ ] && echo own-group; [ \"$2\" = $$ ] && echo own-session; "
    "grep -E '^SigIgn' /proc/$$/status; "  // (no SigBlk: the shell changes its mask as it forks)
    "[ -n \"$SPAWN_MARK\" ] && echo \"mark=$SPAWN_MARK\"; exit 7";

Outcome run(bool ours, bool search, const char* file, std::vector<std::string> args, const Setup& setup) {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    REQUIRE(posix_spawn_file_actions_init(&fa) == 0);
    REQUIRE(posix_spawnattr_init(&attr) == 0);
    REQUIRE(posix_spawn_file_actions_adddup2(&fa, p[1], 1) == 0);
    setup(&fa, &attr, p[1], p[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string mark = "SPAWN_MARK=envp-given";
    std::vector<char*> envp;
    for (char** e = environ; *e; ++e) envp.push_back(*e);
    envp.push_back(mark.data());
    envp.push_back(nullptr);

    Outcome o;
    pid_t pid = -12345;
    if (ours) {
        Call c{search ? Fn::spawnp : Fn::spawn, file, argv.data(), envp.data()};
        c.pid = &pid;
        c.actions = &fa;
        c.attr = &attr;
        bool handled = false;
        o.rc = screened_spawn(c, envp.data(), &handled);
        REQUIRE(handled);
    } else {
        auto real = reinterpret_cast<SpawnFn>(::dlsym(RTLD_NEXT, search ? "posix_spawnp" : "posix_spawn"));
        REQUIRE(real != nullptr);
        o.rc = real(&pid, file, &fa, &attr, argv.data(), envp.data());
    }
    ::close(p[1]);
    o.pid_set = pid != -12345;
    char buf[4096];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) o.report.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    if (o.rc == 0) REQUIRE(::waitpid(pid, &o.status, 0) == pid);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    // Nothing left behind: a failed spawn reaps its child itself.
    REQUIRE(::waitpid(-1, nullptr, WNOHANG) <= 0);
    return o;
}

// Both ways, compared; returns ours for the scenario's own checks.
Outcome both(bool search, const char* file, std::vector<std::string> args, const Setup& setup) {
    const Outcome theirs = run(false, search, file, args, setup);
    const Outcome mine = run(true, search, file, args, setup);
    CHECK(mine == theirs);
    return mine;
}

std::vector<std::string> report_argv() { return {"sh", "-c", kReport}; }

void no_setup(posix_spawn_file_actions_t*, posix_spawnattr_t*, int, int) {}

bool has_line(const std::string& report, const std::string& line) {
    return ("\n" + report).find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST_CASE("screened spawn: glibc's layout is the one mirrored", "[shim][spawn]") {
    CHECK(spawn_layout_known());
}

TEST_CASE("screened spawn: plain spawn runs the program with argv and envp", "[shim][spawn]") {
    const Outcome o = both(false, "/bin/sh", report_argv(), no_setup);
    REQUIRE(o.rc == 0);
    CHECK(o.pid_set);
    CHECK(WIFEXITED(o.status));
    CHECK(WEXITSTATUS(o.status) == 7);
    CHECK(has_line(o.report, "mark=envp-given"));
}

TEST_CASE("screened spawn: every kind of file action", "[shim][spawn]") {
    TempDir dir{"lokt-spawn"};
    const std::string file = dir.path + "/opened";
    const int dirfd = ::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(dirfd >= 0);
    const int keep = ::open("/dev/null", O_RDONLY);  // not close-on-exec: closed by the action
    const int cloexec = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // kept by dup2(fd, fd)
    REQUIRE(keep >= 0);
    REQUIRE(cloexec >= 0);

    SECTION("open, dup2, close, dup2 onto itself") {
        const Outcome o = both(false, "/bin/sh", report_argv(), [&](auto* fa, auto*, int, int in) {
            REQUIRE(posix_spawn_file_actions_addclose(fa, in) == 0);
            REQUIRE(posix_spawn_file_actions_addopen(fa, 50, file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600) == 0);
            REQUIRE(posix_spawn_file_actions_adddup2(fa, 50, 51) == 0);
            REQUIRE(posix_spawn_file_actions_addclose(fa, keep) == 0);
            REQUIRE(posix_spawn_file_actions_adddup2(fa, cloexec, cloexec) == 0);
        });
        REQUIRE(o.rc == 0);
        const std::string fds = o.report.substr(o.report.find("fds="));
        CHECK(fds.find(" 50") != std::string::npos);
        CHECK(fds.find(" 51") != std::string::npos);
        CHECK(fds.find(" " + std::to_string(cloexec)) != std::string::npos);
        CHECK(fds.find(" " + std::to_string(keep) + " ") == std::string::npos);
        struct stat st {};
        CHECK(::stat(file.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
    }
    SECTION("chdir, fchdir") {
        const Outcome a = both(false, "/bin/sh", report_argv(), [&](auto* fa, auto*, int, int) {
            REQUIRE(posix_spawn_file_actions_addchdir_np(fa, dir.path.c_str()) == 0);
        });
        CHECK(has_line(a.report, "cwd=" + dir.path.substr(5)));
        const Outcome b = both(false, "/bin/sh", report_argv(), [&](auto* fa, auto*, int, int) {
            REQUIRE(posix_spawn_file_actions_addfchdir_np(fa, dirfd) == 0);
        });
        CHECK(has_line(b.report, "cwd=" + dir.path.substr(5)));
    }
    SECTION("closefrom") {
        const Outcome o = both(false, "/bin/sh", report_argv(), [&](auto* fa, auto*, int, int) {
            REQUIRE(posix_spawn_file_actions_addclosefrom_np(fa, 3) == 0);
        });
        INFO(o.report);
        CHECK(o.report.find("fds= 0 1 2 ") != std::string::npos);  // and the shell's own, if any
    }
    SECTION("tcsetpgrp on a descriptor that is no terminal fails the same way") {
        const Outcome o = both(false, "/bin/sh", report_argv(), [&](auto* fa, auto*, int, int) {
            REQUIRE(posix_spawn_file_actions_addtcsetpgrp_np(fa, keep) == 0);
        });
        CHECK(o.rc == ENOTTY);
        CHECK_FALSE(o.pid_set);
    }
    SECTION("a failing action: its error, no child left") {
        const Outcome o = both(false, "/bin/sh", report_argv(), [&](auto* fa, auto*, int, int) {
            REQUIRE(posix_spawn_file_actions_addopen(fa, 50, (dir.path + "/no/such").c_str(), O_RDONLY, 0) == 0);
        });
        CHECK(o.rc == ENOENT);
        CHECK_FALSE(o.pid_set);
    }
    SECTION("closing a descriptor that is not open is no error") {
        const Outcome o = both(false, "/bin/sh", report_argv(), [&](auto* fa, auto*, int, int) {
            REQUIRE(posix_spawn_file_actions_addclose(fa, 900) == 0);
        });
        CHECK(o.rc == 0);
    }
    ::close(dirfd);
    ::close(keep);
    ::close(cloexec);
}

TEST_CASE("screened spawn: attributes and signal dispositions", "[shim][spawn]") {
    struct sigaction ign {}, old_term {}, old_usr2 {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGTERM, &ign, &old_term);  // ignored in the caller: stays ignored ...
    ::sigaction(SIGUSR2, &ign, &old_usr2);  // ... unless SETSIGDEF names it
    sigset_t caller_mask, old_mask;
    ::sigemptyset(&caller_mask);
    ::sigaddset(&caller_mask, SIGHUP);
    ::pthread_sigmask(SIG_BLOCK, &caller_mask, &old_mask);

    SECTION("defaults: the caller's mask and ignored signals carry over") {
        const Outcome o = both(false, "/bin/sh", report_argv(), no_setup);
        CHECK(o.report.find("own-group") == std::string::npos);
    }
    SECTION("SETSIGMASK, SETSIGDEF, SETPGROUP") {
        // Read by grep, not the shell: a shell clears its signal mask when it starts.
        const Outcome o = both(false, "/bin/grep", {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"},
                               [](auto*, auto* attr, int, int) {
            sigset_t mask, def;
            ::sigemptyset(&mask);
            ::sigaddset(&mask, SIGUSR1);
            ::sigemptyset(&def);
            ::sigaddset(&def, SIGUSR2);
            REQUIRE(posix_spawnattr_setsigmask(attr, &mask) == 0);
            REQUIRE(posix_spawnattr_setsigdefault(attr, &def) == 0);
            REQUIRE(posix_spawnattr_setpgroup(attr, 0) == 0);
            REQUIRE(posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                       POSIX_SPAWN_SETPGROUP) == 0);
        });
        REQUIRE(o.rc == 0);
        INFO(o.report);
        CHECK(has_line(o.report, "SigBlk:\t0000000000000200"));  // SIGUSR1 only
        // SIGTERM still ignored, SIGUSR2 back to default (glibc's internal 32 and 33 ignored).
        CHECK(has_line(o.report, "SigIgn:\t0000000180004000"));
        const Outcome group = both(false, "/bin/sh", report_argv(), [](auto*, auto* attr, int, int) {
            REQUIRE(posix_spawnattr_setpgroup(attr, 0) == 0);
            REQUIRE(posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP) == 0);
        });
        CHECK(has_line(group.report, "own-group"));
    }
    SECTION("SETSID") {
        const Outcome o = both(false, "/bin/sh", report_argv(), [](auto*, auto* attr, int, int) {
            REQUIRE(posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID) == 0);
        });
        REQUIRE(o.rc == 0);
        CHECK(has_line(o.report, "own-session"));
    }
    SECTION("RESETIDS and SETSCHEDPARAM with this process's own values") {
        const Outcome o = both(false, "/bin/sh", report_argv(), [](auto*, auto* attr, int, int) {
            sched_param sp{};
            REQUIRE(posix_spawnattr_setschedparam(attr, &sp) == 0);
            REQUIRE(posix_spawnattr_setflags(attr, POSIX_SPAWN_RESETIDS | POSIX_SPAWN_SETSCHEDPARAM) == 0);
        });
        CHECK(o.rc == 0);
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    ::sigaction(SIGUSR2, &old_usr2, nullptr);
}

TEST_CASE("screened spawn: a flag it does not know is left to glibc", "[shim][spawn]") {
    posix_spawnattr_t attr;
    REQUIRE(posix_spawnattr_init(&attr) == 0);
    // Set behind the API's back: a flag from a future glibc.
    reinterpret_cast<short*>(&attr)[0] = static_cast<short>(0x4000);
    std::string sh = "sh";
    char* argv[] = {sh.data(), nullptr};
    pid_t pid = 0;
    Call c{Fn::spawn, "/bin/true", argv, environ};
    c.pid = &pid;
    c.attr = &attr;
    bool handled = true;
    screened_spawn(c, environ, &handled);
    CHECK_FALSE(handled);
    CHECK(pid == 0);
    posix_spawnattr_destroy(&attr);
}

TEST_CASE("screened spawn: errors of the exec itself", "[shim][spawn]") {
    TempDir dir{"lokt-spawn"};
    const std::string plain = dir.path + "/not-executable";
    std::ofstream(plain) << "#!/bin/sh\necho hi\n";
    const std::string script = dir.path + "/no-shebang";
    std::ofstream(script) << "echo hi\n";
    REQUIRE(::chmod(script.c_str(), 0755) == 0);

    CHECK(both(false, (dir.path + "/missing").c_str(), {"x"}, no_setup).rc == ENOENT);
    CHECK(both(false, plain.c_str(), {"x"}, no_setup).rc == EACCES);
    CHECK(both(false, dir.path.c_str(), {"x"}, no_setup).rc == EACCES);
    // posix_spawn runs no script without #! through the shell (glibc since 2.15 for new binaries).
    CHECK(both(false, script.c_str(), {"x"}, no_setup).rc == ENOEXEC);
}

TEST_CASE("screened spawn: posix_spawnp searches PATH as glibc does", "[shim][spawn]") {
    TempDir dir{"lokt-spawnp"};
    const std::string a = dir.path + "/a", b = dir.path + "/b";
    REQUIRE(::mkdir(a.c_str(), 0755) == 0);
    REQUIRE(::mkdir(b.c_str(), 0755) == 0);
    std::ofstream(a + "/tool") << "#!/bin/sh\necho from-a; exit 3\n";  // not executable
    std::ofstream(b + "/tool") << "#!/bin/sh\necho from-b; exit 4\n";
    REQUIRE(::chmod((b + "/tool").c_str(), 0755) == 0);
    std::ofstream(a + "/only-here") << "#!/bin/sh\n";  // not executable, nowhere else

    ScopedEnv path{"PATH", dir.path + "/missing:" + a + ":" + b};
    const Outcome found = both(true, "tool", {"tool"}, no_setup);
    REQUIRE(found.rc == 0);
    CHECK(found.report == "from-b\n");
    CHECK(WEXITSTATUS(found.status) == 4);
    CHECK(both(true, "only-here", {"only-here"}, no_setup).rc == EACCES);
    CHECK(both(true, "nowhere", {"nowhere"}, no_setup).rc == ENOENT);
    CHECK(both(true, "", {"x"}, no_setup).rc == ENOENT);
    // A name with a slash is not searched.
    CHECK(both(true, (b + "/tool").c_str(), {"tool"}, no_setup).report == "from-b\n");
    {
        ScopedEnv none{"PATH", std::nullopt};  // the default path: /bin:/usr/bin
        CHECK(both(true, "sh", {"sh", "-c", "echo default"}, no_setup).report == "default\n");
    }
    {
        // An empty entry is the working directory.
        ScopedEnv cwd_first{"PATH", ":/usr/bin"};
        const Outcome o = both(true, "tool", {"tool"}, [&](auto* fa, auto*, int, int) {
            REQUIRE(posix_spawn_file_actions_addchdir_np(fa, b.c_str()) == 0);
        });
        CHECK(o.report == "from-b\n");
    }
}

TEST_CASE("screened spawn: the caller's signal mask and errno-free result", "[shim][spawn]") {
    sigset_t before, after;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &before);
    CHECK(run(true, false, "/bin/sh", report_argv(), no_setup).rc == 0);
    ::pthread_sigmask(SIG_SETMASK, nullptr, &after);
    for (int sig = 1; sig < 32; ++sig) CHECK(::sigismember(&before, sig) == ::sigismember(&after, sig));
}
