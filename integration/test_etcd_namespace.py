"""The key namespace on etcd when the backend URL names no prefix: every clone of one repository
(https or ssh spelling of its origin, any machine) shares one, other repositories get their own,
a repository without an origin uses `lokt`; `lokt shim` pins the namespace for its tree, so a
tool that runs outside the repository still meets the others. Each test starts its own etcd on
127.0.0.1 (tests/etcd/etcd_harness.py)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "etcd"))
from etcd_harness import etcd  # noqa: E402,F401 (a fixture)


def git_repo(path, origin=None):
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    if origin:
        subprocess.run(["git", "-C", str(path), "remote", "add", "origin", origin], check=True)
    return str(path)


def run_in(lokt, etcd, cwd, *args, owner="tester", env=None):
    e = lokt.env(owner=owner, LOKT_BACKEND=f"etcd://{etcd.endpoint}")
    e.pop("LOKT_ROOT")  # each clone's own root, as a user would have it
    e.update(env or {})
    return subprocess.run([lokt.bin, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=60)


def namespace_of(etcd, name):
    """The prefixes under which NAME has a holder key (PREFIX/NAME/<lease>)."""
    keys = etcd.keys("lokt") + etcd.keys("mine/")
    return sorted({k.rsplit("/", 2)[0] for k in keys if "~" not in k and k.split("/")[-2] == name})


def test_clones_of_one_origin_share_locks_other_repositories_do_not(lokt, etcd, tmp_path):
    a = git_repo(tmp_path / "a", "https://example.com/org/repo.git")
    b = git_repo(tmp_path / "b", "git@example.com:org/repo")
    other = git_repo(tmp_path / "other", "git@example.com:org/other.git")
    plain = git_repo(tmp_path / "plain")
    os.makedirs(os.path.join(a, "sub"))

    r = run_in(lokt, etcd, os.path.join(a, "sub"), "lock", "deploy", "--ttl", "5m", owner="alice")
    assert r.returncode == 0, r.stderr
    # The other clone (ssh spelling) sees it and is refused.
    r = run_in(lokt, etcd, b, "lock", "deploy", owner="bob")
    assert r.returncode == 2 and r.stderr.startswith('error: lock "deploy" held by alice@'), r.stderr
    st = json.loads(run_in(lokt, etcd, b, "status", "--json").stdout)
    assert [e["name"] for e in st] == ["deploy"]

    # Another repository, and one without an origin, are elsewhere: free.
    for cwd in (other, plain):
        r = run_in(lokt, etcd, cwd, "lock", "deploy", "--ttl", "5m", owner="carol")
        assert r.returncode == 0, (cwd, r.stderr)
    prefixes = namespace_of(etcd, "deploy")
    assert len(prefixes) == 3 and "lokt" in prefixes, prefixes
    repo = [p for p in prefixes if p.startswith("lokt-repo/example.com_org_repo-")]
    assert len(repo) == 1, prefixes

    # doctor says where the locks are; an explicit prefix is used as given.
    r = run_in(lokt, etcd, b, "doctor")
    assert f"etcd://{etcd.endpoint}/{repo[0]}" in r.stdout, r.stdout
    r = run_in(lokt, etcd, b, "lock", "deploy", owner="bob", env={"LOKT_BACKEND": f"etcd://{etcd.endpoint}/mine"})
    assert r.returncode == 0, r.stderr
    assert "mine" in namespace_of(etcd, "deploy")


def test_shim_pins_the_namespace_for_tools_run_outside_the_repository(lokt, etcd, tmp_path):
    repo = git_repo(tmp_path / "repo", "https://example.com/org/shimmed")
    outside = tmp_path / "outside"
    outside.mkdir()
    rules = tmp_path / "rules"
    rules.write_text("deploy-tool wait=0 : deploy-tool\n")
    tool = tmp_path / "bin" / "deploy-tool"
    tool.parent.mkdir()
    marker = tmp_path / "ran"
    # The tool records the backend it was given.
    tool.write_text(f'#!/bin/sh\necho "$LOKT_BACKEND" > {marker}\n')
    tool.chmod(0o755)
    # Held in the repository's namespace by someone else.
    r = run_in(lokt, etcd, repo, "lock", "deploy-tool", "--ttl", "5m", owner="alice")
    assert r.returncode == 0, r.stderr
    env = {"PATH": f"{tool.parent}:{os.environ['PATH']}",
           "LOKT_PRELOAD_LIB": os.environ.get("LOKT_PRELOAD_LIB", "")}
    env = {k: v for k, v in env.items() if v}
    # The agent runs under the shim in the repository, and the tool from a directory outside it.
    r = run_in(lokt, etcd, repo, "shim", "--rules", str(rules), "--", "sh", "-c",
               f"cd {outside} && deploy-tool", owner="bob", env=env)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert 'held by alice@' in r.stderr, r.stderr
    assert not marker.exists()
    # Released, the same runs, and the tool sees the pinned namespace.
    assert run_in(lokt, etcd, repo, "unlock", "deploy-tool", owner="alice").returncode == 0
    r = run_in(lokt, etcd, repo, "shim", "--rules", str(rules), "--", "sh", "-c",
               f"cd {outside} && deploy-tool", owner="bob", env=env)
    assert r.returncode == 0, r.stderr
    pinned = marker.read_text().strip()
    assert pinned.startswith(f"etcd://{etcd.endpoint}/lokt-repo/example.com_org_shimmed-"), pinned


def test_both_shim_modes_pass_the_backend_in_use_to_their_tree(lokt, etcd, tmp_path):
    repo = git_repo(tmp_path / "repo", "git@example.com:org/env")
    rules = tmp_path / "rules"
    rules.write_text("never wait=0 : no-such-tool\n")
    for mode in ([], ["--seccomp"]):
        r = run_in(lokt, etcd, repo, "shim", *mode, "--rules", str(rules), "--", "sh", "-c", 'echo "$LOKT_BACKEND"')
        assert r.returncode == 0, (mode, r.stderr)
        assert r.stdout.startswith(f"etcd://{etcd.endpoint}/lokt-repo/example.com_org_env-"), (mode, r.stdout)
        # On files, "file": a config's `backend =` line cannot send the tree elsewhere.
        r = run_in(lokt, etcd, repo, "shim", *mode, "--rules", str(rules), "--", "sh", "-c", 'echo "$LOKT_BACKEND"',
                   env={"LOKT_BACKEND": "file"})
        assert (r.returncode, r.stdout) == (0, "file\n"), (mode, r.stderr)
