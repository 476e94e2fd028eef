// lokt::search_path, the one PATH search, and the callers that must agree with it.

#include "lokt/path_search.hpp"
#include "lokt/rules.hpp"
#include "lokt/proc/resolve_command.hpp"

#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

using lokt::search_path;
using lokt::test::TempDir;

namespace {

void write_file(const std::string& path, mode_t mode) {
    std::ofstream(path) << "#!/bin/sh\nexit 0\n";
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

/// search_path's answer as a string ("" when not found) and its code.
std::pair<int, std::string> find(const char* name, const char* path_list) {
    char buf[PATH_MAX];
    struct stat st;
    int rc = search_path(name, path_list, buf, sizeof buf, &st);
    return {rc, rc == 0 ? std::string(buf) : std::string()};
}

/// Changes the working directory for one test and back.
struct ScopedCwd {
    std::string old;
    explicit ScopedCwd(const std::string& dir) {
        char buf[PATH_MAX];
        REQUIRE(::getcwd(buf, sizeof buf) != nullptr);
        old = buf;
        REQUIRE(::chdir(dir.c_str()) == 0);
    }
    ~ScopedCwd() { (void)!::chdir(old.c_str()); }
};

} // namespace

TEST_CASE("search_path takes the first executable file in PATH order", "[core][path]") {
    TempDir a("lokt-path-a"), b("lokt-path-b");
    write_file(b.path + "/tool", 0755);
    CHECK(find("tool", ("/nonexistent:" + a.path + ":" + b.path).c_str()) == std::pair{0, b.path + "/tool"});
    write_file(a.path + "/tool", 0755);
    CHECK(find("tool", (a.path + ":" + b.path).c_str()).second == a.path + "/tool");
}

TEST_CASE("search_path skips what cannot run, as execvp does, and says EACCES if nothing can", "[core][path]") {
    TempDir a("lokt-path-a"), b("lokt-path-b");
    write_file(a.path + "/tool", 0644);                        // not executable
    REQUIRE(::mkdir((a.path + "/dir").c_str(), 0755) == 0);    // a directory
    write_file(b.path + "/tool", 0755);
    CHECK(find("tool", (a.path + ":" + b.path).c_str()).second == b.path + "/tool");
    CHECK(find("tool", a.path.c_str()).first == EACCES);
    CHECK(find("dir", a.path.c_str()).first == EACCES);
    CHECK(find("absent", (a.path + ":" + b.path).c_str()).first == ENOENT);
}

TEST_CASE("an empty PATH element is the current directory", "[core][path]") {
    TempDir a("lokt-path-a");
    write_file(a.path + "/here", 0755);
    ScopedCwd cwd(a.path);
    CHECK(find("here", "/nonexistent:").second == "here");
    CHECK(find("here", ":/nonexistent").second == "here");
    CHECK(find("here", "/nonexistent").first == ENOENT);
}

TEST_CASE("an unset PATH searches confstr(_CS_PATH), as execvp does", "[core][path]") {
    char def[256];
    std::string list = lokt::default_search_path(def, sizeof def);
    REQUIRE_FALSE(list.empty());
    // The first directory of the default list that has sh is where the search must end.
    std::string expected;
    for (size_t start = 0; expected.empty();) {
        size_t colon = list.find(':', start);
        std::string dir = list.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        struct stat st;
        if (lokt::is_executable_file((dir + "/sh").c_str(), &st)) expected = dir + "/sh";
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    REQUIRE_FALSE(expected.empty());
    CHECK(find("sh", nullptr).second == expected);
}

TEST_CASE("search_path refuses names it cannot search and candidates that do not fit", "[core][path]") {
    CHECK(find("", "/bin").first == EINVAL);
    CHECK(find("bin/sh", "/").first == EINVAL);
    struct stat st;
    char exact[8];  // "/bin/sh" and its NUL
    CHECK(search_path("sh", "/bin", exact, sizeof exact, &st) == 0);
    char short_by_one[7];
    CHECK(search_path("sh", "/bin", short_by_one, sizeof short_by_one, &st) == ENOENT);
}

TEST_CASE("the rules check and the guard resolve a command alike, PATH set or not", "[core][path]") {
    TempDir a("lokt-path-a"), b("lokt-path-b");
    write_file(a.path + "/tool", 0644);
    write_file(b.path + "/tool", 0755);
    const std::string list = a.path + "::" + b.path;
    for (const char* path_list : {list.c_str(), static_cast<const char*>(nullptr), "/usr/bin:/bin"}) {
        for (const char* name : {"tool", "sh", "true", "no-such-cmd-lokt"}) {
            auto from_rules = lokt::rules::resolve_program(name, path_list);
            auto from_guard = lokt::proc::resolve_command(name, path_list);
            INFO("name " << name << ", PATH " << (path_list ? path_list : "(unset)"));
            REQUIRE(from_rules.has_value() == static_cast<bool>(from_guard));
            if (from_rules) CHECK(*from_rules == *from_guard);
        }
    }
}
