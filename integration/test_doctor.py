"""`lokt doctor`: setup checks, their text and JSON forms, and the exit code."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import as_nobody


def test_ok_in_a_temp_root(lokt):
    os.makedirs(lokt.root)
    r = lokt.run("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    for line in lines[:-1]:
        assert line.split()[0] in ("ok", "warn"), line
    assert lokt.root in lines[0] and "LOKT_ROOT" in lines[0]
    names = [line.split()[1] for line in lines[:-1]]
    for check in ("root", "directory", "filesystem", "inotify", "clock", "audit", "locks"):
        assert check in names
    # The probe file is gone again.
    assert os.listdir(lokt.root) == []


def test_json_parses_and_reports_every_check(lokt):
    os.makedirs(lokt.root)
    assert lokt.run("lock", "a", "--ttl", "1h").returncode == 0
    assert lokt.run("freeze", "b", "--ttl", "1h").returncode == 0
    r = lokt.run("doctor", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["root"] == lokt.root
    assert out["root_source"] == "env"
    assert out["ok"] is True
    checks = {c["name"]: c for c in out["checks"]}
    assert {"root", "directory", "filesystem", "inotify", "clock", "audit log", "locks"} <= set(checks)
    for c in out["checks"]:
        assert c["status"] in ("ok", "warn", "fail")
        assert isinstance(c["detail"], str) and c["detail"]
    assert "1 lock file" in checks["locks"]["detail"] and "1 freeze" in checks["locks"]["detail"]
    assert "audit.log" in checks["audit log"]["detail"]


def test_missing_root_is_fine_and_not_created(lokt):
    r = lokt.run("doctor")
    assert r.returncode == 0, r.stdout
    assert "can be created" in r.stdout
    assert not os.path.exists(lokt.root)


def test_unwritable_root_fails(lokt):
    r = lokt.run("doctor", LOKT_ROOT="/proc/lokt-x")
    assert r.returncode == 1
    assert any(line.startswith("FAIL") and "directory" in line for line in r.stdout.splitlines())
    j = lokt.run("doctor", "--json", LOKT_ROOT="/proc/lokt-x")
    assert j.returncode == 1
    out = json.loads(j.stdout)
    assert out["ok"] is False
    assert any(c["status"] == "fail" for c in out["checks"])


def test_root_that_is_a_file_fails(lokt, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = lokt.run("doctor", LOKT_ROOT=str(f))
    assert r.returncode == 1
    assert "not a directory" in r.stdout


def test_read_only_root_fails(lokt, open_dir):
    # Root writes anywhere: lokt runs as nobody (setpriv) when the suite runs as root.
    root = os.path.join(open_dir, "root")
    os.makedirs(root)
    os.chmod(root, 0o555)
    r = subprocess.run([*as_nobody(), lokt.bin, "doctor"], cwd=open_dir, env=lokt.env(LOKT_ROOT=root),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "not writable" in r.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_reports_a_git_root(lokt, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "LOKT_ROOT"}
    r = subprocess.run([lokt.bin, "doctor", "--json"], cwd=repo, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["root_source"] == "git"
    assert out["root"] == str(repo / ".git" / "lokt")


def test_stray_argument_is_a_usage_error(lokt):
    assert lokt.run("doctor", "extra").returncode == 64
