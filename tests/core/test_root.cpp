#include "lokt/root.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace lokt;
using lokt::test::ScopedEnv;
using lokt::test::TempDir;

namespace {

// The canonical path of a test's temp dir (git reports canonical paths).
std::string real_path(const TempDir& t) {
    char real[PATH_MAX];
    REQUIRE(::realpath(t.path.c_str(), real) != nullptr);
    return real;
}

void sh(const std::string& cmd) {
    INFO(cmd);
    REQUIRE(std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()) == 0);
}

// What git itself says the common dir is, made absolute and canonical.
std::string git_common_dir(const std::string& cwd) {
    std::string cmd = "cd '" + cwd + "' && cd \"$(git rev-parse --git-common-dir)\" && pwd -P";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[PATH_MAX] = {};
    REQUIRE(std::fgets(buf, sizeof buf, p) != nullptr);
    ::pclose(p);
    std::string s = buf;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

const char* kGit = "git -c init.defaultBranch=main -c user.email=t@t -c user.name=t "
                   "-c protocol.file.allow=always";

} // namespace

TEST_CASE("LOKT_ROOT wins over everything", "[root]") {
    auto r = discover_root("/tmp", "/var/lokt-x");
    REQUIRE(r);
    CHECK(r->path == "/var/lokt-x");
    CHECK(r->source == RootSource::env);
    auto rel = discover_root("/srv/repo", "locks-here");
    REQUIRE(rel);
    CHECK(rel->path == "/srv/repo/locks-here");
}

TEST_CASE("outside a repository the root is ./.lokt", "[root]") {
    TempDir tmp("lokt-root");
    std::string d = real_path(tmp);
    ScopedEnv no_git_dir("GIT_DIR", std::nullopt);
    auto r = discover_root(d, nullptr);
    REQUIRE(r);
    CHECK(r->path == d + "/.lokt");
    CHECK(r->source == RootSource::cwd);
}

TEST_CASE("git common dir is found without forking git and matches git's answer", "[root][git]") {
    ScopedEnv no_git_dir("GIT_DIR", std::nullopt);
    TempDir tmp("lokt-root");
    std::string d = real_path(tmp);
    std::string g = kGit;
    sh("cd " + d + " && " + g + " init -q repo && cd repo && mkdir -p a/b && echo x > a/f && " + g +
       " add . && " + g + " commit -qm init");
    std::string repo = d + "/repo";

    SECTION("at the top and in a subdirectory") {
        for (const std::string& cwd : {repo, repo + "/a/b"}) {
            auto common = find_git_common_dir(cwd);
            REQUIRE(common);
            CHECK(*common == git_common_dir(cwd));
            auto r = discover_root(cwd, nullptr);
            REQUIRE(r);
            CHECK(r->path == *common + "/lokt");
            CHECK(r->source == RootSource::git);
        }
    }
    SECTION("a linked worktree shares the main repository's lock directory") {
        sh("cd " + repo + " && " + g + " worktree add -q " + d + "/wt");
        auto common = find_git_common_dir(d + "/wt");
        REQUIRE(common);
        CHECK(*common == git_common_dir(d + "/wt"));
        CHECK(*common == repo + "/.git");
    }
    SECTION("a submodule has its own common dir, as git says") {
        sh("cd " + d + " && " + g + " init -q sub && cd sub && echo y > y && " + g + " add . && " + g +
           " commit -qm s");
        sh("cd " + repo + " && " + g + " submodule add -q " + d + "/sub sub");
        auto common = find_git_common_dir(repo + "/sub");
        REQUIRE(common);
        CHECK(*common == git_common_dir(repo + "/sub"));
    }
}

TEST_CASE("ensure_root_dirs creates the layout and reports an unusable root", "[root]") {
    TempDir tmp("lokt-root");
    std::string d = real_path(tmp);
    Root r{d + "/x/lokt", RootSource::env};
    REQUIRE(ensure_root_dirs(r));
    CHECK(::access(r.locks_dir().c_str(), W_OK) == 0);
    CHECK(::access(r.freezes_dir().c_str(), W_OK) == 0);
    Root bad{"/proc/lokt-cannot-exist", RootSource::env};
    auto e = ensure_root_dirs(bad);
    REQUIRE_FALSE(e);
    CHECK(e.error().message.find("/proc/lokt-cannot-exist") != std::string::npos);
}
