"""`lokt unlock`: release, --force, --break-stale, --all/--owner, and the exit codes 2/3/4."""
import json
import os
import subprocess

import pytest

from conftest import wait_for
from lockfiles import HOST, dead_pid, lock_record, plant


def test_owner_releases_its_lock(lokt):
    assert lokt.run("lock", "db-migrate", "--ttl", "10m").returncode == 0
    r = lokt.run("unlock", "db-migrate")
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'released lock "db-migrate"\n'
    assert lokt.read_lock("db-migrate") is None
    assert len(lokt.events("db-migrate", "release")) == 1


def test_spec_manual_lock_unlock_sequence(lokt):
    env = lokt.env(owner="agent-1")
    env["PATH"] = os.path.dirname(lokt.bin) + ":" + env["PATH"]
    script = "set -e; lokt lock db-migrate --ttl 10m; echo migrating; lokt unlock db-migrate"
    r = subprocess.run(["bash", "-c", script], env=env, cwd=lokt.cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert lokt.read_lock("db-migrate") is None


def test_unlock_missing_lock_is_exit_3(lokt):
    r = lokt.run("unlock", "x")
    assert r.returncode == 3
    assert r.stderr == 'error: lock "x" not found\n'
    assert lokt.run("lock", "other").returncode == 0  # root exists now, same answer
    r = lokt.run("unlock", "x")
    assert r.returncode == 3 and r.stderr == 'error: lock "x" not found\n'


def test_unlock_someone_elses_lock_is_exit_4(lokt):
    assert lokt.run("lock", "x", owner="bob").returncode == 0
    r = lokt.run("unlock", "x", owner="alice")
    assert r.returncode == 4
    assert r.stderr == f'error: lock "x" is held by bob@{HOST}, not by you\n'
    assert lokt.read_lock("x")["owner"] == "bob"


@pytest.mark.parametrize("argv", [["unlock", "build", "--force"], ["unlock", "--force", "build"]])
def test_force_breaks_any_lock(lokt, argv):
    assert lokt.run("lock", "build", owner="bob").returncode == 0
    r = lokt.run(*argv, owner="alice")
    assert r.returncode == 0, r.stderr
    assert lokt.read_lock("build") is None
    breaks = lokt.events("build", "force-break")
    assert len(breaks) == 1


def test_force_on_missing_lock_is_exit_3(lokt):
    r = lokt.run("unlock", "nothing", "--force")
    assert r.returncode == 3
    assert r.stderr == 'error: lock "nothing" not found\n'


def test_break_stale_refuses_a_live_unexpired_lock(lokt):
    assert lokt.run("lock", "build", "--ttl", "10m", owner="bob").returncode == 0
    r = lokt.run("unlock", "build", "--break-stale", owner="alice")
    assert r.returncode == 2
    assert r.stderr.startswith('error: lock "build" is not stale')
    assert len(r.stderr.splitlines()) == 1
    assert lokt.read_lock("build") is not None


def test_break_stale_removes_an_expired_lock(lokt):
    assert lokt.run("lock", "build", "--ttl", "1s", owner="bob").returncode == 0
    expires = lokt.read_lock("build")["expires_at"]
    wait_for(lambda: lokt.run("unlock", "build", "--break-stale", owner="alice").returncode == 0,
             timeout=10, interval=0.1, what=f"expiry at {expires}")
    assert lokt.read_lock("build") is None
    assert len(lokt.events("build", "stale-break")) == 1


def test_break_stale_removes_a_guard_lock_of_a_dead_process(lokt):
    pid = dead_pid()
    plant(lokt, "build", lock_record("build", owner="bob", pid=pid, pid_start=1, kind="guard"))
    r = lokt.run("unlock", "--break-stale", "build")
    assert r.returncode == 0, r.stderr
    assert lokt.read_lock("build") is None


def test_break_stale_on_missing_lock_is_exit_3(lokt):
    assert lokt.run("unlock", "x", "--break-stale").returncode == 3


def test_force_and_break_stale_together_is_a_usage_error(lokt):
    r = lokt.run("unlock", "x", "--force", "--break-stale")
    assert r.returncode == 64
    assert r.stderr.startswith("error: ") and "usage: lokt unlock" in r.stderr


def test_plain_unlock_of_a_running_guard_is_refused_without_a_force_hint(lokt):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        plant(lokt, "build", lock_record("build", owner="tester", pid=sleeper.pid, kind="guard",
                                         pgid=sleeper.pid))
        r = lokt.run("unlock", "build")
        assert r.returncode == 2
        # A live guard: no --force hint (agents follow printed hints literally).
        assert "guard" in r.stderr and f"pid {sleeper.pid}" in r.stderr and "--force" not in r.stderr
        assert len(r.stderr.splitlines()) == 1
        assert lokt.read_lock("build") is not None
        assert lokt.run("unlock", "build", "--force").returncode == 0
    finally:
        sleeper.kill()
        sleeper.wait()


def test_unlock_all_releases_only_my_locks(lokt):
    for name in ("a", "b", "c"):
        assert lokt.run("lock", name, owner="me").returncode == 0
    assert lokt.run("lock", "theirs", owner="them").returncode == 0
    r = lokt.run("unlock", "--all", owner="me")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "released 3 locks of me: a, b, c\n"
    assert [lokt.read_lock(n) for n in ("a", "b", "c")] == [None, None, None]
    assert lokt.read_lock("theirs") is not None
    r = lokt.run("unlock", "--all", owner="me")
    assert r.returncode == 0 and r.stdout == "released 0 locks of me\n"


def test_unlock_all_on_an_empty_root_exits_0(lokt):
    r = lokt.run("unlock", "--all", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"released": [], "count": 0, "owner": "tester"}


def test_unlock_owner_releases_that_owners_locks(lokt):
    assert lokt.run("lock", "a", owner="agent-7").returncode == 0
    assert lokt.run("lock", "b", owner="agent-8").returncode == 0
    r = lokt.run("unlock", "--owner", "agent-7", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["released"] == ["a"]
    assert lokt.read_lock("a") is None and lokt.read_lock("b") is not None


def test_bulk_cleanup_pipeline(lokt):
    for name in ("a", "b"):
        assert lokt.run("lock", name, owner=f"agent-{name}").returncode == 0
    assert lokt.run("freeze", "deploy", "--ttl", "30m").returncode == 0
    assert lokt.run("lock", "deploy-lock-too").returncode == 0
    env = lokt.env()
    env["PATH"] = os.path.dirname(lokt.bin) + ":" + env["PATH"]
    r = subprocess.run(["bash", "-c", "set -o pipefail; lokt status --json | jq -r '.[].name' | "
                        "xargs -n1 lokt unlock --force"],
                       env=env, cwd=lokt.cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = lokt.run("status", "--json")
    assert json.loads(r.stdout) == []


def test_unlock_without_name_or_all_is_a_usage_error(lokt):
    r = lokt.run("unlock")
    assert r.returncode == 64
    assert "usage: lokt unlock" in r.stderr


def test_unlock_all_with_a_name_is_a_usage_error(lokt):
    assert lokt.run("unlock", "x", "--all").returncode == 64


def test_json_refusals_print_json_too(lokt):
    r = lokt.run("unlock", "nothere", "--json")
    assert r.returncode == 3
    assert json.loads(r.stdout) == {"status": "not_found", "name": "nothere",
                                    "error": 'lock "nothere" not found'}
    assert r.stderr == 'error: lock "nothere" not found\n'
    assert lokt.run("lock", "x", "--ttl", "1h", owner="bob").returncode == 0
    r = lokt.run("unlock", "x", "--json", owner="alice")
    assert r.returncode == 4
    out = json.loads(r.stdout)
    assert out["status"] == "not_owner" and out["lock"]["owner"] == "bob"
    r = lokt.run("unlock", "x", "--break-stale", "--json", owner="alice")
    assert r.returncode == 2 and json.loads(r.stdout)["status"] == "not_stale"
    r = lokt.run("unlock", "nothere", "--json")  # the root exists now: the same answer
    assert r.returncode == 3 and json.loads(r.stdout)["status"] == "not_found"
