"""Where lokt finds its root: only a real git dir counts (as git decides), worktrees share the
main repository's root, and a relative LOKT_ROOT is resolved once, where lokt was started."""
import os
import shutil
import subprocess

import pytest

GIT = ["git", "-c", "init.defaultBranch=main", "-c", "user.email=t@t", "-c", "user.name=t"]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def no_root_env(lokt):
    env = lokt.env()
    del env["LOKT_ROOT"]
    for k in ("GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE"):
        env.pop(k, None)
    return env


def run(lokt, cwd, *args, env=None):
    return subprocess.run([lokt.bin, *args], cwd=cwd, env=env or no_root_env(lokt), capture_output=True,
                          text=True, timeout=60)


def doctor_root(lokt, cwd, env=None):
    import json
    r = run(lokt, cwd, "doctor", "--json", env=env)
    out = json.loads(r.stdout)
    return out["root"], out["root_source"]


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run([*GIT, "init", "-q", str(repo)], check=True)
    (repo / "f").write_text("x\n")
    subprocess.run([*GIT, "add", "."], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "init"], cwd=repo, check=True)
    return repo


def test_an_empty_dot_git_directory_in_a_subdirectory_is_not_a_repository(lokt, repo):
    # What a pasted `mkdir -p .git/lokt` in a subdirectory leaves behind: git ignores it.
    sub = repo / "sub"
    (sub / ".git" / "lokt").mkdir(parents=True)
    assert run(lokt, sub, "lock", "split", "--ttl", "1m").returncode == 0
    assert (repo / ".git" / "lokt" / "locks" / "split.json").exists()
    assert not (sub / ".git" / "lokt" / "locks").exists()
    assert run(lokt, repo, "exists", "split").returncode == 0
    assert doctor_root(lokt, sub) == (str(repo / ".git" / "lokt"), "git")


def test_a_dot_git_file_must_name_a_git_dir(lokt, repo):
    sub = repo / "sub"
    sub.mkdir()
    (sub / ".git").write_text("gitdir: ../nowhere\n")
    assert doctor_root(lokt, sub) == (str(repo / ".git" / "lokt"), "git")
    (repo / "nowhere").mkdir()
    assert doctor_root(lokt, sub) == (str(repo / ".git" / "lokt"), "git")


def test_a_linked_worktree_shares_the_main_repository_root(lokt, repo, tmp_path):
    wt = tmp_path / "wt"
    subprocess.run([*GIT, "worktree", "add", "-q", str(wt)], cwd=repo, check=True)
    assert doctor_root(lokt, wt) == (str(repo / ".git" / "lokt"), "git")
    assert run(lokt, wt, "lock", "deploy", "--ttl", "1m").returncode == 0
    assert run(lokt, repo, "exists", "deploy").returncode == 0


def test_a_relative_root_is_resolved_once_where_lokt_started(lokt, tmp_path):
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    env = no_root_env(lokt)
    env["LOKT_ROOT"] = ".locks"
    # The guarded command changes directory; it, and a lokt it runs, see the same root.
    script = 'cd sub && echo "$LOKT_ROOT" && lokt exists build && echo seen'
    env["PATH"] = os.path.dirname(lokt.bin) + ":" + env["PATH"]
    r = run(lokt, top, "guard", "build", "--", "sh", "-c", script, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [str(top / ".locks"), "seen"]
    assert (top / ".locks" / "audit.log").exists()
    assert not (top / "sub" / ".locks").exists()
