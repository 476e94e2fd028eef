"""Interoperability with the original Go lokt through its golden version-1 files."""
import json
import re
import subprocess

import pytest

from lockfiles import HOST, RFC3339_NANO, dead_pid, golden, iso, json_type, plant, proc_start, utcnow
import datetime as dt

GOLDEN_LOCK = json.loads(golden("lock-v1.json"))
GOLDEN_FREEZE = json.loads(golden("freeze-v1.json"))


def golden_lock_for(pid, start, age=5.0, ttl=600):
    """The golden lock file, moved to this host, this pid and the present."""
    rec = dict(GOLDEN_LOCK)
    acquired = utcnow() - dt.timedelta(seconds=age)
    rec.update(host=HOST, pid=pid, pid_start_ns=start, acquired_ts=iso(acquired),
               expires_at=iso(acquired + dt.timedelta(seconds=ttl)))
    return rec


@pytest.fixture
def live_process():
    p = subprocess.Popen(["sleep", "120"])
    yield p
    p.kill()
    p.wait()


def assert_same_schema(ours, theirs):
    for key, value in theirs.items():
        assert key in ours, f"missing field {key}"
        assert json_type(ours[key]) == json_type(value), f"{key}: {ours[key]!r} vs {value!r}"
    assert ours["version"] == 1


def test_status_reads_the_originals_lock(lokt, live_process):
    rec = golden_lock_for(live_process.pid, proc_start(live_process.pid))
    plant(lokt, "build", rec)
    out = json.loads(lokt.run("status", "--json").stdout)
    assert len(out) == 1
    s = out[0]
    assert s["name"] == "build" and s["owner"] == "agent-1" and s["agent_id"] == "agent-1936"
    assert s["pid"] == live_process.pid and s["pid_status"] == "alive"
    assert s["ttl_sec"] == 600 and s["expired"] is False
    text = lokt.run("status").stdout
    assert f"agent-1@{HOST}" in text


def test_originals_live_lock_is_respected(lokt, live_process):
    rec = golden_lock_for(live_process.pid, proc_start(live_process.pid), age=12.4)
    path = plant(lokt, "build", rec)
    r = lokt.run("lock", "build", "--ttl", "5m", owner="agent-2")
    assert r.returncode == 2
    assert r.stderr in (f'error: lock "build" held by agent-1@{HOST} (pid {live_process.pid}) for {s}s\n'
                        for s in (12, 13)), r.stderr
    assert json.load(open(path)) == rec


def test_originals_lock_of_a_dead_pid_is_pruned(lokt):
    # The original has no `kind`; its rule is: dead PID on this host -> prunable.
    plant(lokt, "build", golden_lock_for(dead_pid(), 1))
    r = lokt.run("lock", "build", owner="agent-2")
    assert r.returncode == 0, r.stderr
    assert len(lokt.events("build", "auto-prune")) == 1


def test_force_unlock_removes_the_originals_lock(lokt, live_process):
    plant(lokt, "build", golden_lock_for(live_process.pid, proc_start(live_process.pid)))
    r = lokt.run("unlock", "build", "--force")
    assert r.returncode == 0, r.stderr
    assert lokt.read_lock("build") is None


def test_plain_unlock_by_the_originals_owner(lokt, live_process):
    plant(lokt, "build", golden_lock_for(live_process.pid, proc_start(live_process.pid)))
    assert lokt.run("unlock", "build", owner="agent-2").returncode == 4
    assert lokt.run("unlock", "build", owner="agent-1").returncode == 0


def test_lock_files_we_write_match_the_originals_schema(lokt):
    assert lokt.run("lock", "build", "--ttl", "10m", owner="agent-1").returncode == 0
    ours = lokt.read_lock("build")
    assert_same_schema(ours, GOLDEN_LOCK)
    assert re.fullmatch(r"[0-9a-f]{32}", ours["lock_id"])
    assert RFC3339_NANO.match(ours["acquired_ts"]) and RFC3339_NANO.match(ours["expires_at"])
    # field order as the original writes it (ours appended after)
    assert list(ours)[:len(GOLDEN_LOCK)] == list(GOLDEN_LOCK)


def test_freeze_files_we_write_match_the_originals_schema(lokt):
    assert lokt.run("freeze", "deploy", "--ttl", "30m", owner="human").returncode == 0
    with open(f"{lokt.root}/freezes/deploy.json") as f:
        ours = json.load(f)
    assert_same_schema(ours, GOLDEN_FREEZE)


def test_originals_freeze_blocks_us(lokt, live_process):
    rec = dict(GOLDEN_FREEZE)
    until = utcnow() + dt.timedelta(minutes=30)
    rec.update(host=HOST, pid=live_process.pid, acquired_ts=iso(utcnow()), expires_at=iso(until))
    plant(lokt, "deploy", rec, folder="freezes")
    r = lokt.run("lock", "deploy")
    assert r.returncode == 2
    assert r.stderr == f'error: lock "deploy" is frozen until {until.strftime("%Y-%m-%dT%H:%M:%SZ")}\n'


def test_audit_lines_use_the_originals_fields(lokt):
    assert lokt.run("lock", "build", "--ttl", "10m").returncode == 0
    assert lokt.run("unlock", "build").returncode == 0
    known = set()
    for line in golden("audit-v1.log").splitlines():
        known |= set(json.loads(line))
    for event in lokt.audit():
        assert {"ts", "event", "name"} <= set(event)
        assert RFC3339_NANO.match(event["ts"])
        assert set(event) <= known, set(event) - known
