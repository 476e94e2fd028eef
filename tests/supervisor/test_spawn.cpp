#include "../../supervisor/spawn.hpp"
#include "lokt/proc/resolve_command.hpp"

#include "../../supervisor/reaper.hpp"
#include "../../supervisor/teardown.hpp"
#include "lokt/sys.hpp"
#include "support/process.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>

using namespace lokt;
using namespace lokt::sup;
using lokt::proc::capture_signal_state;
using lokt::proc::exit_code;
using lokt::proc::resolve_command;
using lokt::test::Expect;
using lokt::test::run_isolated;
using lokt::test::TempDir;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

SpawnSpec sh(const std::string& script) {
    SpawnSpec s;
    s.path = "/bin/sh";
    s.argv = {"sh", "-c", script};
    s.env = environment_with("LOKT_SPAWN_TEST", "1");
    s.signals = capture_signal_state();
    s.parent_death_kill = false;
    return s;
}

} // namespace

TEST_CASE("resolve_command searches PATH and tells 127 from 126", "[supervisor][spawn]") {
    auto sh_path = resolve_command("sh", "/nonexistent:/bin:/usr/bin");
    REQUIRE(sh_path);
    CHECK(*sh_path == "/bin/sh");

    auto missing = resolve_command("no-such-cmd-lokt", "/bin:/usr/bin");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().sys_errno == ENOENT);
    CHECK(missing.error().message == "command not found: no-such-cmd-lokt");

    TempDir tmp("lokt-spawn");
    const std::string& dir = tmp.path;
    std::string file = dir + "/plain";
    std::ofstream(file) << "data\n";
    auto not_exec = resolve_command("plain", dir.c_str());
    REQUIRE_FALSE(not_exec);
    CHECK(not_exec.error().sys_errno == EACCES);

    auto is_dir = resolve_command(dir, nullptr);
    REQUIRE_FALSE(is_dir);
    CHECK(is_dir.error().sys_errno == EISDIR);

    auto slash = resolve_command(dir + "/nope", nullptr);
    REQUIRE_FALSE(slash);
    CHECK(slash.error().sys_errno == ENOENT);
}

TEST_CASE("spawn starts the command in a process group of its own", "[supervisor][spawn]") {
    TempDir tmp("lokt-spawn");
    const std::string& dir = tmp.path;
    auto pid = spawn(sh("ps -o pgid= -p $$ > " + dir + "/pgid; echo $LOKT_SPAWN_TEST > " + dir + "/env"));
    REQUIRE(pid);
    auto end = reap_pid(*pid);
    CHECK(exit_code(end) == 0);
    CHECK(std::stoi(slurp(dir + "/pgid")) == *pid);
    CHECK(slurp(dir + "/env") == "1\n");
}

TEST_CASE("opening the gate with a slot sets LOKT_SLOT, replacing an inherited one", "[supervisor][spawn][shared]") {
    TempDir tmp("lokt-spawn");
    const std::string& dir = tmp.path;
    for (int slot : {-1, 0, 7, 1023}) {
        SpawnSpec s = sh("env | grep -c '^LOKT_SLOT=' > " + dir + "/n; echo \"$LOKT_SLOT\" > " + dir + "/slot");
        s.env.push_back("LOKT_SLOT=99");  // a slot of an outer guard
        s.alt_env = s.env;
        s.gate_vars = {"LOKT_FENCE", kSlotEnv};
        auto child = spawn_gated(s);
        REQUIRE(child);
        child->open(false, {"", slot < 0 ? std::string() : std::to_string(slot)});
        CHECK(child->exec_errno(true) == 0);
        CHECK(exit_code(reap_pid(child->pid())) == 0);
        CHECK(slurp(dir + "/n") == "1\n");
        CHECK(slurp(dir + "/slot") == (slot < 0 ? "99" : std::to_string(slot)) + "\n");
    }
}

TEST_CASE("an exec failure comes back as errno and the child is reaped", "[supervisor][spawn]") {
    // In a child of its own: "no child left" must not see (or reap) other tests' children.
    auto failures = run_isolated([](Expect& expect) {
        SpawnSpec s = sh("true");
        s.path = "/nonexistent/binary";
        auto pid = spawn(s);
        LOKT_EXPECT(expect, !pid);
        LOKT_EXPECT(expect, !pid && pid.error().sys_errno == ENOENT);
        LOKT_EXPECT(expect, no_children_left());
    });
    CHECK(failures == "");
}

TEST_CASE("a script without #! runs with /bin/sh", "[supervisor][spawn]") {
    TempDir tmp("lokt-spawn");
    const std::string& dir = tmp.path;
    std::string script = dir + "/script";
    std::ofstream(script) << "exit 6\n";
    ::chmod(script.c_str(), 0755);
    SpawnSpec s = sh("");
    s.path = script;
    s.argv = {"script"};
    auto pid = spawn(s);
    REQUIRE(pid);
    CHECK(exit_code(reap_pid(*pid)) == 6);
}

TEST_CASE("the command gets the given signal state, not ours", "[supervisor][spawn]") {
    TempDir tmp("lokt-spawn");
    const std::string& dir = tmp.path;
    // grep itself, not through sh: dash clears its signal mask at startup.
    SpawnSpec s = sh("");
    auto grep = resolve_command("grep", "/usr/bin:/bin");
    REQUIRE(grep);
    s.path = *grep;
    s.argv = {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"};
    sigemptyset(&s.signals.mask);
    sigaddset(&s.signals.mask, SIGUSR2);
    sigemptyset(&s.signals.ignored);
    sigaddset(&s.signals.ignored, SIGHUP);
    auto out_fd = sys::open(dir + "/sig", O_WRONLY | O_CREAT | O_TRUNC);
    REQUIRE(out_fd);
    int saved_stdout = ::dup(1);
    ::dup2(out_fd->get(), 1);
    // What we change in ourselves must not leak: a blocked and an ignored signal of ours.
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigset_t old;
    ::pthread_sigmask(SIG_BLOCK, &block, &old);
    auto prev = ::signal(SIGPIPE, SIG_IGN);
    auto pid = spawn(s);
    ::signal(SIGPIPE, prev);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::dup2(saved_stdout, 1);
    ::close(saved_stdout);
    REQUIRE(pid);
    CHECK(exit_code(reap_pid(*pid)) == 0);
    char want[128];
    std::snprintf(want, sizeof want, "SigBlk:\t%016llx\nSigIgn:\t%016llx\n",
                  1ull << (SIGUSR2 - 1), 1ull << (SIGHUP - 1));
    CHECK(slurp(dir + "/sig") == want);
}

TEST_CASE("close-on-exec fds do not reach the command", "[supervisor][spawn]") {
    TempDir tmp("lokt-spawn");
    const std::string& dir = tmp.path;
    // High numbers, so the fd `ls` opens for the listing cannot be mistaken for ours.
    sys::UniqueFd ours(::fcntl(0, F_DUPFD_CLOEXEC, 150));
    sys::UniqueFd plain(::fcntl(0, F_DUPFD, 160));
    REQUIRE(ours.valid());
    REQUIRE(plain.valid());
    auto pid = spawn(sh("ls /proc/self/fd > " + dir + "/fds"));
    REQUIRE(pid);
    reap_pid(*pid);
    std::string fds = "\n" + slurp(dir + "/fds");
    INFO(fds);
    CHECK(fds.find("\n" + std::to_string(ours.get()) + "\n") == std::string::npos);
    CHECK(fds.find("\n" + std::to_string(plain.get()) + "\n") != std::string::npos);
}

TEST_CASE("the gate variable gets the value open() passes, or is left out", "[supervisor][spawn]") {
    TempDir tmp("lokt-spawn");
    const std::string& dir = tmp.path;
    struct Case {
        bool alt;
        std::string value;
        std::string seen;
    };
    auto which = GENERATE(0, 1, 2);
    const Case c = std::vector<Case>{{false, "17", "17\n"}, {false, "", "unset\n"}, {true, "17", "unset\n"}}[which];
    SpawnSpec s = sh("echo ${LOKT_GATE_TEST-unset} > " + dir + "/v; echo $LOKT_SPAWN_TEST >> " + dir + "/v");
    s.env = environment_without(s.env, "LOKT_GATE_TEST");
    s.alt_env = s.env;
    s.gate_vars = {"LOKT_GATE_TEST"};
    auto child = spawn_gated(s);
    REQUIRE(child);
    child->open(c.alt, {c.value});
    CHECK(child->exec_errno(true) == 0);
    CHECK(exit_code(reap_pid(child->pid())) == 0);
    CHECK(slurp(dir + "/v") == c.seen + "1\n");  // the rest of the environment is intact
}

TEST_CASE("environment_without drops every entry of the key and nothing else", "[supervisor][spawn]") {
    auto env = environment_without({"A=1", "LOKT_FENCE=3", "B=LOKT_FENCE=4", "LOKT_FENCE=5", "LOKT_FENCEX=6"},
                                   "LOKT_FENCE");
    CHECK(env == std::vector<std::string>{"A=1", "B=LOKT_FENCE=4", "LOKT_FENCEX=6"});
}
