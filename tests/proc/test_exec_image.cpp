// ExecImage, the one exec-with-/bin/sh-fallback of the guard, the seccomp shim and a nested
// guard: run in forked children, which report what the exec'd program saw.
#include "lokt/proc/exec_image.hpp"
#include "support/process.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

using lokt::proc::ExecImage;
using lokt::test::TempDir;
using namespace lokt::test;

extern char** environ;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

TEST_CASE("ExecImage runs the file with argv byte for byte, a script without #! through /bin/sh",
          "[proc][exec_image]") {
    TempDir tmp("lokt-exec-image");
    const std::string out = tmp.path + "/out";
    const std::string script = tmp.path + "/script";
    // No "#!": the kernel says ENOEXEC and the shell runs it as `/bin/sh script ARGS`.
    std::ofstream(script) << "printf '%s|' \"$0\" \"$@\" > \"$OUT\"; exit 6\n";
    REQUIRE(::chmod(script.c_str(), 0755) == 0);
    ScopedEnv env("OUT", out);
    const ExecImage image(script, {"argv0-is-not-used", "a b", "", "c"});
    pid_t pid = fork_child([&] { return 100 + image.exec(environ); });
    CHECK(reap(pid) == 6);
    CHECK(slurp(out) == script + "|a b||c|");

    const ExecImage direct("/bin/sh", {"sh-name", "-c", "printf '%s' \"$0\" > \"$OUT\"; exit 3", "zero"});
    pid = fork_child([&] { return 100 + direct.exec(environ); });
    CHECK(reap(pid) == 3);
    CHECK(slurp(out) == "zero");
}

TEST_CASE("ExecImage returns the first exec's errno", "[proc][exec_image]") {
    TempDir tmp("lokt-exec-image");
    const ExecImage missing(tmp.path + "/nope", {"nope"});
    CHECK(missing.exec(environ) == ENOENT);
    const std::string plain = tmp.path + "/plain";
    std::ofstream(plain) << "exit 0\n";
    REQUIRE(::chmod(plain.c_str(), 0644) == 0);
    CHECK(ExecImage(plain, {"plain"}).exec(environ) == EACCES);
}
