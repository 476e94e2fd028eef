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

TEST_CASE("a relative LOKT_ROOT is pinned to the directory it was given in", "[root]") {
    TempDir tmp("lokt-root");
    std::string d = real_path(tmp);
    sh("mkdir -p " + d + "/sub");
    char old_cwd[PATH_MAX];
    REQUIRE(::getcwd(old_cwd, sizeof old_cwd));
    ScopedEnv env("LOKT_ROOT", std::string(".locks"));
    REQUIRE(::chdir(d.c_str()) == 0);
    auto pinned = pin_env_root();
    // A later chdir (a supervisor, a child) no longer moves the root.
    REQUIRE(::chdir((d + "/sub").c_str()) == 0);
    auto r = discover_root();
    REQUIRE(::chdir(old_cwd) == 0);
    REQUIRE(pinned);
    CHECK(std::string(std::getenv("LOKT_ROOT")) == d + "/.locks");
    REQUIRE(r);
    CHECK(r->path == d + "/.locks");
    CHECK(pinned_relative_root() == ".locks");
    ScopedEnv abs("LOKT_ROOT", std::string("/var/x"));
    REQUIRE(pin_env_root());
    CHECK(std::string(std::getenv("LOKT_ROOT")) == "/var/x");
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

TEST_CASE("only what git accepts as a git dir counts", "[root][git]") {
    ScopedEnv no_git_dir("GIT_DIR", std::nullopt);
    TempDir tmp("lokt-root");
    std::string d = real_path(tmp);
    std::string g = kGit;
    sh("cd " + d + " && " + g + " init -q repo && cd repo && echo x > f && " + g + " add . && " + g +
       " commit -qm init && mkdir -p sub/deeper");
    std::string repo = d + "/repo";
    CHECK(is_git_dir(repo + "/.git"));
    CHECK_FALSE(is_git_dir(repo));

    SECTION("an empty .git directory in a subdirectory is not a repository") {
        sh("mkdir -p " + repo + "/sub/.git/lokt");
        CHECK(find_git_common_dir(repo + "/sub/deeper") == git_common_dir(repo + "/sub/deeper"));
        CHECK(*find_git_common_dir(repo + "/sub") == repo + "/.git");
    }
    SECTION("a .git directory with a bad HEAD, or without objects/ or refs/, is not one either") {
        sh("cd " + d + " && " + g + " init -q repo/sub && echo garbage > repo/sub/.git/HEAD");
        CHECK(*find_git_common_dir(repo + "/sub") == repo + "/.git");
        sh("cd " + d + " && echo 'ref: refs/heads/main' > repo/sub/.git/HEAD && rm -rf repo/sub/.git/objects");
        CHECK(*find_git_common_dir(repo + "/sub") == repo + "/.git");
        sh("cd " + d + " && mkdir repo/sub/.git/objects");
        CHECK(*find_git_common_dir(repo + "/sub") == repo + "/sub/.git");
        CHECK(git_common_dir(repo + "/sub") == repo + "/sub/.git");
    }
    SECTION("a .git file must name a git dir") {
        sh("echo 'not a gitdir line' > " + repo + "/sub/.git");
        CHECK(*find_git_common_dir(repo + "/sub") == repo + "/.git");
        sh("echo 'gitdir: ../nowhere' > " + repo + "/sub/.git");
        CHECK(*find_git_common_dir(repo + "/sub") == repo + "/.git");
        sh("mkdir " + repo + "/nowhere && echo 'gitdir: ../nowhere' > " + repo + "/sub/.git");
        CHECK(*find_git_common_dir(repo + "/sub") == repo + "/.git");
    }
    SECTION("inside the git dir itself, or a bare repository, the git dir is the one") {
        CHECK(*find_git_common_dir(repo + "/.git/refs") == repo + "/.git");
        sh("cd " + d + " && " + g + " clone -q --bare repo bare.git");
        CHECK(*find_git_common_dir(d + "/bare.git") == git_common_dir(d + "/bare.git"));
        CHECK(*find_git_common_dir(d + "/bare.git") == d + "/bare.git");
    }
    SECTION("a HEAD that is a detached object id or a symlink into refs/ is valid") {
        sh("cd " + repo + " && " + g + " checkout -q --detach");
        CHECK(is_git_dir(repo + "/.git"));
        sh("cd " + repo + "/.git && rm HEAD && ln -s refs/heads/main HEAD");
        CHECK(is_git_dir(repo + "/.git"));
        sh("cd " + repo + "/.git && rm HEAD && ln -s ../elsewhere HEAD");
        CHECK_FALSE(is_git_dir(repo + "/.git"));
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
