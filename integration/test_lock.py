"""`lokt lock`: leases, the held/frozen messages, --json, --wait, re-lock, attribution."""
import json
import os
import re
import subprocess

import pytest

from conftest import wait_for
from lockfiles import HELD_RE, HOST, RFC3339_NANO, lock_record, plant


def test_lock_acquires_a_lease_and_writes_the_file(lokt):
    r = lokt.run("lock", "build", "--ttl", "10m")
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'acquired lock "build" (ttl 10m)\n'
    assert r.stderr == ""
    rec = lokt.read_lock("build")
    assert rec["version"] == 1
    assert rec["name"] == "build"
    assert rec["owner"] == "tester"
    assert rec["host"] == HOST
    assert rec["ttl_sec"] == 600
    assert rec["kind"] == "lease"
    assert re.fullmatch(r"[0-9a-f]{32}", rec["lock_id"])
    assert RFC3339_NANO.match(rec["acquired_ts"]) and RFC3339_NANO.match(rec["expires_at"])
    acquires = lokt.events("build", "acquire")
    assert len(acquires) == 1 and acquires[0]["lock_id"] == rec["lock_id"]


def test_lock_without_ttl_has_no_expiry(lokt):
    r = lokt.run("lock", "nottl")
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'acquired lock "nottl"\n'
    rec = lokt.read_lock("nottl")
    assert "expires_at" not in rec


@pytest.mark.parametrize("argv", [
    ["lock", "db-migrate", "--ttl", "10m"],
    ["lock", "--ttl", "10m", "db-migrate"],
    ["lock", "--ttl=10m", "db-migrate"],
    ["lock", "db-migrate", "--ttl=10m", "--json"],
])
def test_flags_may_come_before_or_after_the_name(lokt, argv):
    r = lokt.run(*argv)
    assert r.returncode == 0, r.stderr
    assert lokt.read_lock("db-migrate")["ttl_sec"] == 600


def test_second_owner_gets_the_held_message_and_exit_2(lokt):
    assert lokt.run("lock", "build", "--ttl", "5m", owner="agent-1").returncode == 0
    r = lokt.run("lock", "build", "--ttl", "5m", owner="agent-2")
    assert r.returncode == 2
    assert re.match(HELD_RE.format(name="build", who=f"agent-1@{re.escape(HOST)}"), r.stderr), r.stderr
    assert r.stdout == ""
    denies = lokt.events("build", "deny")
    assert len(denies) == 1 and denies[0]["owner"] == "agent-2"
    assert lokt.read_lock("build")["owner"] == "agent-1"


def test_held_message_shows_the_holders_pid_and_truncated_age(lokt):
    rec = lock_record("build", owner="agent-1", age=75.5, ttl=600, kind="lease")
    plant(lokt, "build", rec)
    r = lokt.run("lock", "build", owner="agent-2")
    assert r.returncode == 2
    # whole seconds, Go style; 1m16s only if this machine took over half a second to get here
    assert r.stderr in (f'error: lock "build" held by agent-1@{HOST} (pid {rec["pid"]}) for 1m{s}s\n'
                        for s in (15, 16)), r.stderr


def test_lease_is_not_pruned_after_the_lock_command_exits(lokt):
    # P4: the `lokt lock` process is gone at once; its dead PID must not free the lease.
    assert lokt.run("lock", "x", owner="alice").returncode == 0
    pid = lokt.read_lock("x")["pid"]
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), what="lock process gone")
    r = lokt.run("lock", "x", owner="bob")
    assert r.returncode == 2, r.stderr
    assert lokt.events("x", "auto-prune") == []
    assert lokt.read_lock("x")["owner"] == "alice"


def test_same_owner_relock_refreshes_the_ttl(lokt):
    assert lokt.run("lock", "build", "--ttl", "1m").returncode == 0
    first = lokt.read_lock("build")
    r = lokt.run("lock", "build", "--ttl", "10m")
    assert r.returncode == 0, r.stderr
    assert "refreshed" in r.stdout
    second = lokt.read_lock("build")
    assert second["lock_id"] == first["lock_id"]
    assert second["ttl_sec"] == 600 and second["expires_at"] > first["expires_at"]


def test_json_success_and_denial(lokt):
    r = lokt.run("lock", "build", "--ttl", "5m", "--json", owner="agent-1")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rec = lokt.read_lock("build")
    assert out["status"] == "acquired"
    assert out["name"] == "build"
    assert out["lock_id"] == rec["lock_id"]
    assert out["owner"] == "agent-1"
    assert out["ttl_sec"] == 300

    r = lokt.run("lock", "build", "--json", owner="agent-2")
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert out["status"] == "held"
    assert out["name"] == "build"
    assert out["holder"]["owner"] == "agent-1"
    assert out["holder"]["lock_id"] == rec["lock_id"]
    assert out["holder"]["host"] == HOST
    assert isinstance(out["holder"]["pid"], int)


def test_json_denial_when_frozen(lokt):
    assert lokt.run("freeze", "deploy", "--ttl", "30m", owner="human").returncode == 0
    r = lokt.run("lock", "deploy", "--json")
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert out["status"] == "frozen" and out["name"] == "deploy"
    assert out["freeze"]["owner"] == "human"


def test_lokt_owner_attribution_shows_in_status(lokt):
    assert lokt.run("lock", "build", "--ttl", "5m", owner="agent-1").returncode == 0
    r = lokt.run("status")
    assert f"agent-1@{HOST}" in r.stdout


def test_wait_acquires_when_the_holder_unlocks(lokt):
    assert lokt.run("lock", "x", owner="alice").returncode == 0
    waiter = lokt.start("lock", "x", "--wait", "--timeout", "30s", owner="bob")
    assert lokt.run("unlock", "x", owner="alice").returncode == 0
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert lokt.read_lock("x")["owner"] == "bob"


def test_wait_times_out_with_exit_2(lokt):
    assert lokt.run("lock", "x", owner="alice").returncode == 0
    r = lokt.run("lock", "x", "--wait", "--timeout", "300ms", owner="bob")
    assert r.returncode == 2
    # The wait is reported first (stderr is not a terminal: one line when it starts).
    waiting, error = r.stderr.splitlines()
    assert waiting.startswith(f'lokt: waiting for "x" \u2014 held by alice@{HOST}')
    assert error.startswith("error: timed out after 300ms")
    assert f'lock "x" held by alice@{HOST}' in error
    assert len(lokt.events("x", "deny")) == 1


def test_spec_exit_code_case_statement(lokt):
    script = """
lokt lock build --ttl 5m
case $? in
    0) echo "Lock acquired, proceeding..." ;;
    2) echo "Build already running, skipping"; exit 0 ;;
    *) echo "Unexpected error"; exit 1 ;;
esac
"""
    env = lokt.env(owner="agent-1")
    env["PATH"] = os.path.dirname(lokt.bin) + ":" + env["PATH"]
    r = subprocess.run(["bash", "-c", script], env=env, cwd=lokt.cwd, capture_output=True, text=True)
    assert r.returncode == 0 and "Lock acquired, proceeding..." in r.stdout
    env["LOKT_OWNER"] = "agent-2"
    r = subprocess.run(["bash", "-c", script], env=env, cwd=lokt.cwd, capture_output=True, text=True)
    assert r.returncode == 0 and "Build already running, skipping" in r.stdout


def test_ci_graceful_skip(lokt):
    assert lokt.run("lock", "deploy", owner="ci-1").returncode == 0
    env = lokt.env(owner="ci-2")
    r = subprocess.run(["bash", "-c", f'"{lokt.bin}" lock deploy || {{ [ $? -eq 2 ] && exit 0; }}'],
                       env=env, cwd=lokt.cwd, capture_output=True, text=True)
    assert r.returncode == 0


def test_lock_in_a_git_repo_uses_the_common_dir(lokt, tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = lokt.env()
    del env["LOKT_ROOT"]
    r = subprocess.run([lokt.bin, "lock", "build"], cwd=repo, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (repo / ".git" / "lokt" / "locks" / "build.json").exists()



def test_audit_shows_a_release_before_the_waiters_acquire(lokt):
    # A waiter takes the lock the instant the file goes; the release must be logged first.
    # Guards hand over through their supervisors, the case where the order was once seen
    # reversed: 8 of them queue up for one lock, each handoff is checked.
    procs = [lokt.start("guard", "h", "--wait", "--timeout", "60s", "--", "true", owner=f"a{i}")
             for i in range(8)]
    for p in procs:
        assert p.wait(60) == 0
    events = [(e["event"], e["pid"]) for e in lokt.events("h") if e["event"] in ("acquire", "release")]
    assert len(events) == 16
    for i in range(0, 16, 2):
        assert events[i][0] == "acquire" and events[i + 1] == ("release", events[i][1]), events


def test_a_bare_number_is_seconds_and_d_is_a_day(lokt):
    assert lokt.run("lock", "a", "--ttl", "30").returncode == 0
    assert lokt.read_lock("a")["ttl_sec"] == 30
    assert lokt.run("lock", "b", "--ttl", "1d").returncode == 0
    assert lokt.read_lock("b")["ttl_sec"] == 86400
    assert lokt.run("lock", "a", "--ttl", "1", owner="other", ).returncode == 2
    r = lokt.run("lock", "a", "--wait", "--timeout", "0", "-q", owner="other")
    assert r.returncode == 2 and "timed out after 0s" in r.stderr
