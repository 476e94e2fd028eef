// The preload library's exec path (shim/preload.cpp) without loading it: this binary links
// the shim's sources, so its libc exec entry points are the shim's; State::real is filled with
// fakes that record each call. A faked exec "succeeds" by jumping back into the test, as a
// real one never returns. Modelled on Bear's ExecutorTest: the exact argv and environment
// the real function gets, for every entry point.
#include "../../shim/shim.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

using namespace lokt::shim;
using lokt::test::ScopedEnv;
using lokt::test::TempDir;
using Strings = std::vector<std::string>;

namespace {

struct RealCall {
    std::string fn;
    std::string path;  // or "fd N"
    Strings argv;
    Strings envp;      // empty for execv/execvp (they use environ)
    const void* argv_at = nullptr;  // the arrays themselves, to tell a copy from the caller's
    const void* envp_at = nullptr;
    int errno_at = 0;               // errno as the real function found it
};

std::vector<RealCall> g_calls;
sigjmp_buf g_exec_done;

Strings strings(char* const* v) {
    Strings out;
    if (v)
        for (; *v; ++v) out.emplace_back(*v);
    return out;
}

[[noreturn]] void exec_done(RealCall c, const void* a = nullptr, const void* e = nullptr) {
    c.errno_at = errno;
    c.argv_at = a;
    c.envp_at = e;
    g_calls.push_back(std::move(c));
    siglongjmp(g_exec_done, 1);
}

int fake_execve(const char* p, char* const a[], char* const e[]) { exec_done({"execve", p, strings(a), strings(e)}, a, e); }
int fake_execv(const char* p, char* const a[]) { exec_done({"execv", p, strings(a), {}}, a); }
int fake_execvp(const char* p, char* const a[]) { exec_done({"execvp", p, strings(a), {}}, a); }
int fake_execvpe(const char* p, char* const a[], char* const e[]) {
    exec_done({"execvpe", p, strings(a), strings(e)}, a, e);
}
int fake_fexecve(int fd, char* const a[], char* const e[]) {
    exec_done({"fexecve", "fd " + std::to_string(fd), strings(a), strings(e)});
}
int fake_execveat(int fd, const char* p, char* const a[], char* const e[], int) {
    exec_done({"execveat", "fd " + std::to_string(fd) + " " + p, strings(a), strings(e)});
}
int fake_spawn(pid_t* pid, const char* p, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
               char* const a[], char* const e[]) {
    g_calls.push_back({"posix_spawn", p, strings(a), strings(e)});
    *pid = 4242;
    return 0;
}
int fake_spawnp(pid_t* pid, const char* p, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                char* const a[], char* const e[]) {
    g_calls.push_back({"posix_spawnp", p, strings(a), strings(e), a, e, errno});
    *pid = 4242;
    return 0;
}

const char* kLokt = "/opt/lokt/bin/lokt";

// An active shim in this process: `rules` parsed, the fakes as the real functions, and the
// shim's variables snapshotted as a `lokt shim` parent would have set them.
struct Shim {
    TempDir dir{"lokt-preload"};
    std::string tool = dir.path + "/fake-make";
    ScopedEnv path{"PATH", dir.path + ":/usr/bin:/bin"};

    explicit Shim(const std::string& rules_text) {
        std::ofstream(tool) << "#!/bin/sh\n";
        REQUIRE(::chmod(tool.c_str(), 0755) == 0);
        State& s = state();
        std::memset(static_cast<void*>(&s), 0, sizeof s);
        s.initialised = s.active = s.doctor = s.matching = true;
        s.identity = Identity::other;
        s.real = {fake_execve, fake_execv, fake_execvp, fake_execvpe, fake_spawn, fake_spawnp, fake_fexecve,
                  fake_execveat, reinterpret_cast<ForkFn>(::dlsym(RTLD_NEXT, "fork"))};
        s.lokt_bin = kLokt;
        s.kept[0] = "LD_PRELOAD=/opt/lokt/lib/liblokt_preload.so";
        s.kept[1] = "LOKT_SHIM=1";
        s.kept[2] = "LOKT_BIN=/opt/lokt/bin/lokt";
        auto& rs = const_cast<lokt::rules::RuleSet&>(rule_set());
        lokt::rules::ParseError err{};
        REQUIRE(lokt::rules::parse(rules_text.data(), rules_text.size(), &rs, &err));
        g_calls.clear();
    }
    ~Shim() { state().initialised = false; }  // the next use re-reads this process's (empty) setup
};

// Calls `f` (which execs through the shim) with the landing point set for a faked exec.
template <class F>
void exec_through(F f) {
    if (sigsetjmp(g_exec_done, 1) == 0) f();
}

// The argv a matching exec of `tool args...` becomes (rule `build wait=0`).
Strings guarded(const std::string& resolved, const Strings& argv) {
    Strings g = {"lokt", "guard", "--kind", "shim", "build", "--exec", resolved, "--"};
    g.insert(g.end(), argv.begin(), argv.end());
    return g;
}

// A NULL-terminated char* array over `v` (kept alive by the caller).
std::vector<char*> cargv(Strings& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// A complete environment, as `lokt shim` leaves it.
Strings full_env() {
    return {"HOME=/root", "LD_PRELOAD=/opt/lokt/lib/liblokt_preload.so", "LOKT_SHIM=1", "LOKT_BIN=/opt/lokt/bin/lokt"};
}

} // namespace

extern char** environ;

TEST_CASE("every exec entry point rewrites a matching command into lokt guard", "[shim][preload]") {
    Shim shim("build wait=0 : fake-make *\n");
    Strings argv = {"fake-make", "-j8"};
    auto a = cargv(argv);
    Strings env = full_env();
    auto e = cargv(env);
    const std::string entry = GENERATE("execve", "execv", "execvp", "execvpe", "execl", "execle", "execlp",
                                       "posix_spawn", "posix_spawnp", "fexecve", "execveat");
    INFO(entry);
    // What the real function gets: the environment given, or the caller's for the calls without one.
    char** const caller_env = environ;
    const bool uses_environ = entry == "execv" || entry == "execvp" || entry == "execl" || entry == "execlp";
    Strings want_env = uses_environ ? strings(caller_env) : env;
    pid_t pid = 0;
    exec_through([&] {
        const char* t = shim.tool.c_str();
        if (entry == "execve") execve(t, a.data(), e.data());
        else if (entry == "execv") execv(t, a.data());
        else if (entry == "execvp") execvp("fake-make", a.data());
        else if (entry == "execvpe") execvpe("fake-make", a.data(), e.data());
        else if (entry == "execl") execl(t, "fake-make", "-j8", static_cast<char*>(nullptr));
        else if (entry == "execle") execle(t, "fake-make", "-j8", static_cast<char*>(nullptr), e.data());
        else if (entry == "execlp") execlp("fake-make", "fake-make", "-j8", static_cast<char*>(nullptr));
        else if (entry == "posix_spawn") REQUIRE(posix_spawn(&pid, t, nullptr, nullptr, a.data(), e.data()) == 0);
        else if (entry == "posix_spawnp") REQUIRE(posix_spawnp(&pid, "fake-make", nullptr, nullptr, a.data(), e.data()) == 0);
        else if (entry == "fexecve" || entry == "execveat") {
            int fd = ::open(t, O_RDONLY | O_CLOEXEC);
            REQUIRE(fd >= 0);
            if (entry == "fexecve") fexecve(fd, a.data(), e.data());
            else execveat(fd, "", a.data(), e.data(), AT_EMPTY_PATH);
            ::close(fd);
        }
    });
    // The caller's environment lacks the shim's variables (unless the runner itself runs
    // under lokt shim): the doctored envp gets the missing snapshots appended, in this order.
    if (uses_environ)
        for (std::string k : {"LD_PRELOAD=/opt/lokt/lib/liblokt_preload.so", "LOKT_SHIM=1", "LOKT_BIN=/opt/lokt/bin/lokt"})
            if (!env_lookup(caller_env, k.substr(0, k.find('=')).c_str())) want_env.push_back(k);
    REQUIRE(g_calls.size() == 1);
    const bool spawn = entry == "posix_spawn" || entry == "posix_spawnp";
    CHECK(g_calls[0].fn == (spawn ? "posix_spawn" : "execve"));
    CHECK(g_calls[0].path == kLokt);
    CHECK(g_calls[0].argv == guarded(shim.tool, argv));
    CHECK(g_calls[0].envp == want_env);
    if (spawn) CHECK(pid == 4242);
}

TEST_CASE("a command no rule matches reaches the same entry point unchanged", "[shim][preload]") {
    Shim shim("build wait=0 : fake-make *\n");
    // Nothing for the environment doctor to add to ours, so execv stays execv.
    ScopedEnv preload("LD_PRELOAD", "/opt/lokt/lib/liblokt_preload.so");
    ScopedEnv active("LOKT_SHIM", "1");
    ScopedEnv bin("LOKT_BIN", "/opt/lokt/bin/lokt");
    Strings argv = {"true", "x"};
    auto a = cargv(argv);
    Strings env = full_env();
    auto e = cargv(env);
    errno = EXDEV;
    exec_through([&] { execvpe("true", a.data(), e.data()); });
    errno = EXDEV;
    exec_through([&] { execv("/bin/true", a.data()); });
    pid_t pid = 0;
    errno = EXDEV;
    REQUIRE(posix_spawnp(&pid, "true", nullptr, nullptr, a.data(), e.data()) == 0);
    errno = EXDEV;
    exec_through([&] { execve("/bin/true", a.data(), e.data()); });
    REQUIRE(g_calls.size() == 4);
    CHECK((g_calls[0].fn == "execvpe" && g_calls[0].path == "true" && g_calls[0].argv == argv && g_calls[0].envp == env));
    CHECK((g_calls[1].fn == "execv" && g_calls[1].path == "/bin/true" && g_calls[1].argv == argv));
    CHECK((g_calls[2].fn == "posix_spawnp" && g_calls[2].path == "true" && g_calls[2].envp == env));
    CHECK(g_calls[3].fn == "execve");
    // Issue 13: nothing but the rule match and the real call. A copied argv or environment
    // (even an identical one) shows as a different array; errno arrives as the caller left it.
    for (const auto& c : g_calls) {
        INFO(c.fn);
        CHECK(c.argv_at == a.data());
        CHECK(c.errno_at == EXDEV);
        if (c.fn != "execv") CHECK(c.envp_at == e.data());
    }
}

TEST_CASE("an environment that lost the shim's variables gets them back", "[shim][preload]") {
    Shim shim("build wait=0 : fake-make *\n");
    Strings argv = {"true"};
    auto a = cargv(argv);
    Strings env = {"HOME=/root", "LOKT_SHIM=1"};  // as after `env -i LOKT_SHIM=1 ...`
    auto e = cargv(env);
    exec_through([&] { execve("/bin/true", a.data(), e.data()); });
    REQUIRE(g_calls.size() == 1);
    CHECK(g_calls[0].envp ==
          Strings{"HOME=/root", "LOKT_SHIM=1", "LD_PRELOAD=/opt/lokt/lib/liblokt_preload.so", "LOKT_BIN=/opt/lokt/bin/lokt"});
}

TEST_CASE("an environment too large to copy on the stack is passed on as it is", "[shim][preload]") {
    Shim shim("build wait=0 : fake-make *\n");
    Strings argv = {"true"};
    auto a = cargv(argv);
    Strings env;
    for (size_t i = 0; i < kMaxDoctoredEnv; ++i) env.push_back("V" + std::to_string(i) + "=x");
    auto e = cargv(env);
    exec_through([&] { execve("/bin/true", a.data(), e.data()); });
    REQUIRE(g_calls.size() == 1);
    CHECK(g_calls[0].envp == env);  // no copy: the shim's variables could not be restored
    env.resize(kMaxDoctoredEnv - 4);  // with the 3 missing variables and the NULL: just fits
    auto f = cargv(env);
    g_calls.clear();
    exec_through([&] { execve("/bin/true", a.data(), f.data()); });
    REQUIRE(g_calls.size() == 1);
    CHECK(g_calls[0].envp.size() == kMaxDoctoredEnv - 1);
}

TEST_CASE("LOKT_SHIM=off in the new environment passes the exec through untouched", "[shim][preload]") {
    Shim shim("build wait=0 : fake-make *\n");
    Strings argv = {"fake-make"};
    auto a = cargv(argv);
    Strings env = {"LOKT_SHIM=off"};
    auto e = cargv(env);
    exec_through([&] { execve(shim.tool.c_str(), a.data(), e.data()); });
    REQUIRE(g_calls.size() == 1);
    CHECK(g_calls[0].fn == "execve");
    CHECK(g_calls[0].path == shim.tool);
    CHECK(g_calls[0].envp == env);
}

namespace {

/// Execs the shim's tool with `argv` and the full environment, through the preload.
void exec_tool(const Shim& shim, Strings argv) {
    auto a = cargv(argv);
    Strings env = full_env();
    auto e = cargv(env);
    exec_through([&] { execve(shim.tool.c_str(), a.data(), e.data()); });
}

} // namespace

TEST_CASE("a lock already held above (LOKT_HELD) is not taken again", "[shim][preload]") {
    Shim shim("build wait=0 : fake-make *\n");
    ScopedEnv held("LOKT_HELD", "build:00000000000000000000000000000001");
    Strings argv = {"fake-make"};
    auto a = cargv(argv);
    Strings env = full_env();
    auto e = cargv(env);
    exec_through([&] { execve(shim.tool.c_str(), a.data(), e.data()); });
    REQUIRE(g_calls.size() == 1);
    CHECK(g_calls[0].path == shim.tool);
    CHECK(g_calls[0].argv == argv);
}

TEST_CASE("rule options become guard flags", "[shim][preload]") {
    Shim shim("build wait=30s on-frozen=fail on-timeout=run : fake-make *\ndeploy wait=0 : fake-make deploy\n");
    Strings argv = {"fake-make", "deploy"};
    auto a = cargv(argv);
    Strings env = full_env();
    auto e = cargv(env);
    exec_through([&] { execve(shim.tool.c_str(), a.data(), e.data()); });
    REQUIRE(g_calls.size() == 1);
    // Both rules match: both names, the shortest wait (0 s: no wait at all) and fail on frozen.
    CHECK(g_calls[0].argv == Strings{"lokt", "guard", "--kind", "shim", "build", "deploy", "--exec", shim.tool,
                                     "--", "fake-make", "deploy"});
    g_calls.clear();
    Strings other = {"fake-make", "all"};
    auto o = cargv(other);
    exec_through([&] { execve(shim.tool.c_str(), o.data(), e.data()); });
    REQUIRE(g_calls.size() == 1);
    CHECK(g_calls[0].argv == Strings{"lokt", "guard", "--wait", "--timeout", "30s", "--on-frozen", "fail",
                                     "--on-timeout", "run", "--kind", "shim", "build", "--exec", shim.tool, "--",
                                     "fake-make", "all"});
}

TEST_CASE("a rule's on-frozen=wait is passed on, since guard's own default is fail", "[shim][preload]") {
    Shim shim("ship wait=5s on-frozen=wait : fake-make *\n");
    exec_tool(shim, {"fake-make", "ship"});
    REQUIRE(g_calls.size() == 1);
    CHECK(g_calls[0].argv == Strings{"lokt", "guard", "--wait", "--timeout", "5s", "--on-frozen", "wait",
                                     "--kind", "shim", "ship", "--exec", shim.tool, "--", "fake-make", "ship"});
}

namespace {

// The library under `lokt shim --seccomp`: screening with `rules` (as read at the first exec),
// the fakes as the real functions. Only execs that fail are made for real here: a raw execve
// that succeeded would replace the test runner.
struct Screening : Shim {
    explicit Screening(const std::string& rules_text, bool spawn_ok = true) : Shim(rules_text) {
        State& s = state();
        s.matching = false;
        s.screening = true;
        s.screen_rules = ScreenRules::usable;
        s.pass_word = 0x1234;
        s.spawn_ok = spawn_ok;
        s.kept[1] = "LOKT_SHIM=seccomp";
    }
};

} // namespace

TEST_CASE("screening: an exec no rule can match is made here, its failure reported as the real call's",
          "[shim][preload][screen]") {
    Screening shim("build wait=0 : fake-make *\n");
    Strings argv = {"x"};
    auto a = cargv(argv);
    Strings env = full_env();
    auto e = cargv(env);
    const std::string missing = shim.dir.path + "/missing";
    errno = 0;
    CHECK(execve(missing.c_str(), a.data(), e.data()) == -1);
    CHECK(errno == ENOENT);
    errno = 0;
    CHECK(execv(shim.dir.path.c_str(), a.data()) == -1);  // a directory
    CHECK(errno == EACCES);
    CHECK(g_calls.empty());  // never the real function: the same system call was the answer
}

TEST_CASE("screening: what a rule may match, and what the library cannot screen, goes to the real call",
          "[shim][preload][screen]") {
    Screening shim("build wait=0 : fake-make *\n", /*spawn_ok=*/false);
    Strings argv = {"fake-make"};
    auto a = cargv(argv);
    Strings env = full_env();
    auto e = cargv(env);
    // A rule may match: the real function, never a rewrite into lokt guard (the broker locks).
    exec_through([&] { execvpe("fake-make", a.data(), e.data()); });
    // A script without #!: the screened exec fails with ENOEXEC, then the real execvp runs it.
    const std::string script = shim.dir.path + "/plain-script";
    std::ofstream(script) << "echo hi\n";
    REQUIRE(::chmod(script.c_str(), 0755) == 0);
    Strings sargv = {"plain-script"};
    auto sa = cargv(sargv);
    exec_through([&] { execvpe("plain-script", sa.data(), e.data()); });
    // A glibc whose spawn layout is not known: its own posix_spawn.
    pid_t pid = 0;
    REQUIRE(posix_spawn(&pid, "/bin/true", nullptr, nullptr, a.data(), e.data()) == 0);
    // fexecve names no path: reported to the broker.
    const int fd = ::open("/bin/true", O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    exec_through([&] { fexecve(fd, a.data(), e.data()); });
    ::close(fd);
    REQUIRE(g_calls.size() == 4);
    CHECK((g_calls[0].fn == "execvpe" && g_calls[0].path == "fake-make" && g_calls[0].argv == argv));
    CHECK((g_calls[1].fn == "execvpe" && g_calls[1].path == "plain-script"));
    CHECK(g_calls[2].fn == "posix_spawn");
    CHECK(g_calls[3].fn == "fexecve");
}

TEST_CASE("screening: rules that are not the broker's screen nothing", "[shim][preload][screen]") {
    Screening shim("build wait=0 : fake-make *\n");
    state().screen_rules = ScreenRules::unusable;
    Strings argv = {"x"};
    auto a = cargv(argv);
    Strings env = full_env();
    auto e = cargv(env);
    exec_through([&] { execve("/nonexistent/x", a.data(), e.data()); });
    REQUIRE(g_calls.size() == 1);
    CHECK(g_calls[0].fn == "execve");
}
