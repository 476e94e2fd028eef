#include "lokt/repo_namespace.hpp"
#include "support/scoped.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

using namespace lokt;
using lokt::test::TempDir;

namespace {

void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

void sh(const std::string& cmd) {
    INFO(cmd);
    REQUIRE(std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()) == 0);
}

} // namespace

TEST_CASE("every clone URL of one repository normalizes alike", "[repo_namespace]") {
    const std::string want = "github.com/org/repo";
    for (const char* url : {"https://github.com/org/repo", "https://github.com/org/repo.git",
                            "https://user:token@GitHub.com/org/repo.git/", "git@github.com:org/repo.git",
                            "ssh://git@github.com:22/org/repo.git", "git://github.com/org/repo",
                            "github.com:org/repo", "  https://github.com/org/repo  "}) {
        INFO(url);
        CHECK(normalize_remote(url) == want);
    }
    CHECK(normalize_remote("https://gitlab.com/group/sub/repo.git") == "gitlab.com/group/sub/repo");
    CHECK(normalize_remote("ssh://git@[::1]:2222/srv/repo.git") == "[::1]/srv/repo");
    // Local remotes are paths; file:// is the same path.
    CHECK(normalize_remote("/srv/git/repo.git") == "srv/git/repo");
    CHECK(normalize_remote("file:///srv/git/repo.git") == "srv/git/repo");
    CHECK(normalize_remote("../repo") == "../repo");
    CHECK(normalize_remote("") == "");
    // Different repositories stay different.
    CHECK(normalize_remote("git@github.com:org/repo2.git") != want);
    CHECK(normalize_remote("git@gitlab.com:org/repo.git") != want);
}

TEST_CASE("a remote's prefix is one readable component below lokt-repo, told apart by a hash",
          "[repo_namespace]") {
    const std::string p = prefix_for_remote("github.com/org/repo");
    CHECK(p.starts_with("lokt-repo/github.com_org_repo-"));
    CHECK(p.size() == std::string("lokt-repo/github.com_org_repo-").size() + 8);
    CHECK(p.find('/', 10) == std::string::npos);
    CHECK(p == prefix_for_remote("github.com/org/repo"));  // stable
    // Names that read alike once sanitized still differ.
    CHECK(prefix_for_remote("github.com/org_repo") != p);
    CHECK(prefix_for_remote("github.com/org/repo").find('~') == std::string::npos);
    CHECK(prefix_for_remote("host/~user/r").find('~') == std::string::npos);
    // A long URL keeps a bounded readable part.
    CHECK(prefix_for_remote(std::string(500, 'a')).size() == std::string("lokt-repo/").size() + 64 + 1 + 8);
}

TEST_CASE("origin_url reads the first url of [remote \"origin\"] as git does", "[repo_namespace]") {
    TempDir t;
    const std::string cfg = t.path + "/config";
    write(cfg,
          "[core]\n\tbare = false\n"
          "[remote \"upstream\"]\n\turl = https://example.com/up/repo\n"
          "[Remote \"origin\"]   ; a comment\n"
          "\t# url = https://example.com/commented\n"
          "\tURL = \"git@example.com:org/my repo.git\"  # trailing comment\n"
          "\turl = https://example.com/second\n"
          "\tfetch = +refs/heads/*:refs/remotes/origin/*\n");
    CHECK(origin_url(t.path) == std::optional<std::string>("git@example.com:org/my repo.git"));

    write(cfg, "[remote.origin]\nurl=https://example.com/old/style\n");
    CHECK(origin_url(t.path) == std::optional<std::string>("https://example.com/old/style"));

    write(cfg, "[remote \"Origin\"]\n\turl = https://example.com/not-origin\n");
    CHECK_FALSE(origin_url(t.path).has_value());  // the subsection name is case-sensitive

    write(cfg, "[remote \"origin\"] url = https://example.com/same-line\n");
    CHECK(origin_url(t.path) == std::optional<std::string>("https://example.com/same-line"));
}

TEST_CASE("origin_url refuses a symlinked or non-regular config", "[repo_namespace]") {
    TempDir t, elsewhere;
    write(elsewhere.path + "/config", "[remote \"origin\"]\n\turl = https://example.com/planted\n");
    REQUIRE(::symlink((elsewhere.path + "/config").c_str(), (t.path + "/config").c_str()) == 0);
    CHECK_FALSE(origin_url(t.path).has_value());
    TempDir fifo_dir;
    REQUIRE(::mkfifo((fifo_dir.path + "/config").c_str(), 0600) == 0);
    CHECK_FALSE(origin_url(fifo_dir.path).has_value());  // and does not block on it
}

TEST_CASE("default_backend_prefix: clones of one origin agree, others and origin-less repos do not",
          "[repo_namespace]") {
    TempDir t;
    sh("cd '" + t.path + "' && git init -q a && git -C a remote add origin https://example.com/org/repo.git");
    sh("cd '" + t.path + "' && git init -q b && git -C b remote add origin git@example.com:org/repo");
    sh("cd '" + t.path + "' && git init -q c && git -C c remote add origin git@example.com:org/other");
    sh("cd '" + t.path + "' && git init -q d && mkdir -p none a/sub/dir");
    const std::string a = default_backend_prefix(t.path + "/a/sub/dir");
    CHECK(a == prefix_for_remote("example.com/org/repo"));
    CHECK(default_backend_prefix(t.path + "/b") == a);
    CHECK(default_backend_prefix(t.path + "/c") != a);
    CHECK(default_backend_prefix(t.path + "/d") == std::string(kSharedPrefix));
    CHECK(default_backend_prefix(t.path + "/none") == std::string(kSharedPrefix));
    // A linked worktree reads its main repository's config.
    sh("cd '" + t.path + "/a' && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m x && "
       "git worktree add -q ../wt");
    CHECK(default_backend_prefix(t.path + "/wt") == a);
}
