"""Messages that lead people and agents to the right action (issue 10 §3): one's own lease is
named as such and never waited on, no --force hint for a live holder, status --json says
`stale`, shim-caused refusals say they come from lokt, a freeze fails a waiting guard at once
(unless --on-frozen wait), and re-locking one's own lease without --ttl keeps its TTL."""
import json
import os
import re
import subprocess
import sys
import time

from conftest import wait_for
from lockfiles import HOST, dead_pid, lock_record, plant

PY = sys.executable


def test_own_lease_is_named_and_not_waited_on(lokt):
    assert lokt.run("lock", "deploy", "--ttl", "1h", owner="agent-1").returncode == 0
    for extra in ([], ["--wait", "--timeout", "10m"]):
        r = lokt.run("guard", "deploy", *extra, "--", "true", owner="agent-1", timeout=60)
        assert r.returncode == 2, r.stderr
        assert re.fullmatch(r'error: lock "deploy" is held by you \(agent-1, lease from lokt lock \d+s ago\); '
                            r'run lokt unlock deploy first\n', r.stderr), r.stderr
    # The wait was refused before it began: no wait event, one deny per attempt.
    assert not lokt.events("deploy", "wait")
    assert len(lokt.events("deploy", "deny")) == 2
    # Someone else's lease is still "held by", and -E applies to the own-lease refusal too.
    r = lokt.run("guard", "deploy", "--", "true", owner="agent-2")
    assert r.stderr.startswith(f'error: lock "deploy" held by agent-1@{HOST} (pid ')
    r = lokt.run("guard", "deploy", "-E", "75", "--", "true", owner="agent-1")
    assert r.returncode == 75


def test_no_force_hint_for_a_live_holder(lokt):
    holder = lokt.start("guard", "build", "--", "sleep", "60", owner="agent-1")
    try:
        wait_for(lambda: lokt.read_lock("build"), what="lock taken")
        r = lokt.run("why", "build", owner="agent-2")
        assert r.returncode == 2
        assert "--force" not in r.stdout + r.stderr
        assert "lokt guard build --wait" in r.stdout
        r = lokt.run("unlock", "build", owner="agent-2")
        assert "--force" not in r.stderr
        r = lokt.run("unlock", "build", "--break-stale", owner="agent-2")
        assert r.returncode == 2 and "--force" not in r.stderr
    finally:
        holder.terminate()
        holder.wait(10)
    assert lokt.run("lock", "x", "--ttl", "1h", owner="bob").returncode == 0
    r = lokt.run("unlock", "x", owner="alice")
    assert r.returncode == 4
    assert r.stderr == f'error: lock "x" is held by bob@{HOST}, not by you\n'


def test_not_owner_of_a_stale_lock_points_at_break_stale(lokt):
    plant(lokt, "old", lock_record("old", owner="bob", age=120, ttl=60, kind="lease"))
    r = lokt.run("unlock", "old", owner="alice")
    assert r.returncode == 4
    assert r.stderr == (f'error: lock "old" is held by bob@{HOST}, not by you '
                        '(it is stale: lokt unlock old --break-stale)\n')


def test_status_json_has_stale(lokt):
    assert lokt.run("lock", "live", "--ttl", "1h", owner="bob").returncode == 0
    plant(lokt, "expired", lock_record("expired", owner="bob", age=120, ttl=60, kind="lease"))
    plant(lokt, "gone", lock_record("gone", owner="bob", pid=dead_pid()))
    out = {o["name"]: o for o in json.loads(lokt.run("status", "--json").stdout)}
    assert out["live"]["stale"] is False
    assert out["live"]["pid_status"] == "dead"  # the exited `lokt lock`, kept as the original says
    assert out["expired"]["stale"] is True
    assert out["gone"]["stale"] is True
    one = json.loads(lokt.run("status", "live", "--json").stdout)
    one = one[0] if isinstance(one, list) else one
    assert one["stale"] is False


def test_shim_kind_refusal_says_it_comes_from_lokt(lokt):
    assert lokt.run("lock", "git-push", "--ttl", "1h", owner="human").returncode == 0
    r = lokt.run("guard", "--kind", "shim", "git-push", "--exec", "/bin/true", "--", "git", "push")
    assert r.returncode == 2
    assert r.stderr.startswith(f'lokt: git needs lock "git-push": lock "git-push" held by human@{HOST} (pid ')
    assert r.stderr.endswith(" (ask: lokt why git-push)\n")
    r = lokt.run("guard", "--kind", "shim", "--wait", "--timeout", "0s", "-q", "git-push",
                 "--exec", "/bin/true", "--", "/usr/bin/git", "push")
    assert r.stderr.startswith('lokt: git needs lock "git-push": timed out after 0s waiting: lock "git-push" held by')


def test_wait_on_a_freeze_fails_at_once_unless_on_frozen_wait(lokt, tmp_path):
    assert lokt.run("freeze", "deploy", "--ttl", "30m", owner="human").returncode == 0
    marker = tmp_path / "ran"
    r = lokt.run("guard", "deploy", "--wait", "--timeout", "10m", "--", "touch", str(marker),
                 owner="agent-2", timeout=60)
    assert r.returncode == 2
    assert re.fullmatch(r'error: lock "deploy" is frozen until \S+Z\n', r.stderr), r.stderr
    assert not marker.exists()
    assert len(lokt.events("deploy", "freeze-deny")) == 1
    assert lokt.run("unfreeze", "deploy", owner="human").returncode == 0
    assert lokt.run("freeze", "deploy", "--ttl", "1s", owner="human").returncode == 0
    r = lokt.run("guard", "deploy", "--wait", "--timeout", "30s", "--on-frozen", "wait", "--",
                 "touch", str(marker), owner="agent-2")
    assert r.returncode == 0, r.stderr
    assert marker.exists()


def test_a_freeze_set_while_waiting_ends_the_wait(lokt, tmp_path):
    holder = lokt.start("guard", "deploy", "--", "sleep", "60", owner="agent-1")
    try:
        wait_for(lambda: lokt.read_lock("deploy"), what="lock taken")
        waiter = lokt.start("guard", "deploy", "--wait", "--timeout", "10m", "--", "true", owner="agent-2")
        first = waiter.stderr.readline()  # not a terminal: one line when the wait starts
        assert first.startswith('lokt: waiting for "deploy"'), first
        assert lokt.run("freeze", "deploy", "--ttl", "30m", owner="human").returncode == 0
        _, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 2
        assert err.startswith('error: lock "deploy" is frozen until '), err
        assert [e["extra"]["result"] for e in lokt.events("deploy", "wait")] == ["refused"]
    finally:
        holder.terminate()
        holder.wait(10)


def test_relock_without_ttl_keeps_the_ttl(lokt):
    assert lokt.run("lock", "build", "--ttl", "10m").returncode == 0
    r = lokt.run("lock", "build")
    assert r.returncode == 0
    assert r.stdout == 'acquired lock "build" (ttl 10m, refreshed)\n'
    rec = lokt.read_lock("build")
    assert rec["ttl_sec"] == 600 and "expires_at" in rec
