"""`lokt status`: the listing, one lock's details, --json (the original's shape), --prune-expired."""
import json

from conftest import wait_for
from lockfiles import HOST, RFC3339_SECONDS, dead_pid, golden, json_type, lock_record, plant

GOLDEN_STATUS = json.loads(golden("status-json-v1.json"))


def test_status_on_an_empty_root(lokt):
    r = lokt.run("status")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"no locks held (root {lokt.root})\n"
    r = lokt.run("status", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == []


def test_status_lists_one_line_per_lock(lokt):
    assert lokt.run("lock", "build", "--ttl", "5m", owner="agent-1").returncode == 0
    assert lokt.run("lock", "nottl", owner="agent-2").returncode == 0
    assert lokt.run("freeze", "deploy", "--ttl", "30m", owner="human").returncode == 0
    r = lokt.run("status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].split() == ["NAME", "OWNER", "PID", "AGE", "TTL", "STATE"]
    # The header's columns line up with the rows': OWNER starts where the owner does.
    assert lines[0].index("OWNER") == next(l for l in lines if l.startswith("build ")).index("agent-1@")
    build = next(line for line in lines if line.startswith("build "))
    assert f"agent-1@{HOST}" in build and "ttl 5m" in build
    deploy = next(line for line in lines if line.startswith("deploy "))
    assert f"human@{HOST}" in deploy and "FROZEN" in deploy
    assert "nottl" in r.stdout


def test_status_marks_expired_and_dead(lokt):
    plant(lokt, "old", lock_record("old", owner="x", age=120, ttl=60, kind="lease"))
    plant(lokt, "gone", lock_record("gone", owner="y", pid=dead_pid(), pid_start=1, kind="guard"))
    r = lokt.run("status")
    line = {l.split()[0]: l for l in r.stdout.splitlines()}
    assert line["old"].endswith("expired")
    assert line["gone"].endswith("dead")


def test_status_name_shows_details(lokt):
    assert lokt.run("lock", "build", "--ttl", "10m", owner="agent-1").returncode == 0
    rec = lokt.read_lock("build")
    r = lokt.run("status", "build")
    assert r.returncode == 0, r.stderr
    assert f"agent-1@{HOST}" in r.stdout
    assert rec["lock_id"] in r.stdout
    assert "expires:" in r.stdout


def test_status_name_not_found_is_exit_3(lokt):
    r = lokt.run("status", "nothing")
    assert r.returncode == 3
    assert r.stderr == 'error: lock "nothing" not found\n'
    assert lokt.run("lock", "other").returncode == 0
    assert lokt.run("status", "nothing").returncode == 3


def test_status_name_of_a_freeze_only(lokt):
    assert lokt.run("freeze", "deploy", "--ttl", "30m").returncode == 0
    r = lokt.run("status", "deploy")
    assert r.returncode == 0
    assert "FROZEN" in r.stdout


def test_status_json_has_the_originals_shape(lokt):
    assert lokt.run("lock", "build", "--ttl", "10m", owner="agent-1").returncode == 0
    assert lokt.run("freeze", "deploy", "--ttl", "30m", owner="human").returncode == 0
    r = lokt.run("status", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [e["name"] for e in out] == ["build", "deploy"]
    for ours, theirs in zip(out, GOLDEN_STATUS):
        for key, value in theirs.items():
            assert key in ours, key
            assert json_type(ours[key]) == json_type(value), key
        assert RFC3339_SECONDS.match(ours["acquired_ts"])
        assert RFC3339_SECONDS.match(ours["expires_at"])
        assert ours["version"] == 1
        assert ours["host"] == HOST
        assert ours["expired"] is False
    build, deploy = out
    assert build["owner"] == "agent-1" and build["ttl_sec"] == 600
    assert "freeze" not in build
    assert deploy["freeze"] is True and deploy["owner"] == "human"
    assert build["pid_status"] in ("alive", "dead")
    assert build["lock_id"] == lokt.read_lock("build")["lock_id"]


def test_status_json_pid_status_and_expiry(lokt):
    plant(lokt, "live", lock_record("live", kind="guard"))
    plant(lokt, "gone", lock_record("gone", pid=dead_pid(), pid_start=1, kind="guard"))
    plant(lokt, "remote", lock_record("remote", host="elsewhere.example", ttl=3600))
    plant(lokt, "old", lock_record("old", age=100, ttl=10))
    out = {e["name"]: e for e in json.loads(lokt.run("status", "--json").stdout)}
    assert out["live"]["pid_status"] == "alive"
    assert out["gone"]["pid_status"] == "dead"
    assert out["remote"]["pid_status"] == "unknown"
    assert out["old"]["expired"] is True
    assert out["old"]["age_sec"] >= 100
    assert "expires_at" not in out["live"]


def test_status_name_json_is_one_object(lokt):
    assert lokt.run("lock", "build", "--ttl", "5m").returncode == 0
    r = lokt.run("status", "build", "--json")
    assert r.returncode == 0
    obj = json.loads(r.stdout)
    assert isinstance(obj, dict) and obj["name"] == "build" and obj["ttl_sec"] == 300


def test_prune_expired_removes_only_expired_locks(lokt):
    plant(lokt, "old", lock_record("old", owner="x", age=120, ttl=60, kind="lease"))
    assert lokt.run("lock", "fresh", "--ttl", "10m").returncode == 0
    r = lokt.run("status", "--prune-expired", "--json")
    assert r.returncode == 0, r.stderr
    assert [e["name"] for e in json.loads(r.stdout)] == ["fresh"]
    assert lokt.read_lock("old") is None
    assert lokt.read_lock("fresh") is not None
    assert len(lokt.events("old", "auto-prune")) == 1


def test_status_without_prune_leaves_expired_locks(lokt):
    plant(lokt, "old", lock_record("old", owner="x", age=120, ttl=60, kind="lease"))
    assert lokt.run("status").returncode == 0
    assert lokt.read_lock("old") is not None


def test_status_does_not_create_the_root(lokt):
    import os
    assert lokt.run("status").returncode == 0
    assert not os.path.exists(lokt.root)


def test_status_mentions_unreadable_lock_files(lokt):
    assert lokt.run("lock", "good").returncode == 0
    plant(lokt, "bad", raw="garbage")
    r = lokt.run("status")
    assert r.returncode == 0
    assert any(line.startswith("bad ") and "unreadable" in line for line in r.stdout.splitlines())
    assert [e["name"] for e in json.loads(lokt.run("status", "--json").stdout)] == ["good"]
    r = lokt.run("status", "bad")
    assert r.returncode == 1 and "corrupt" in r.stderr


def test_status_shows_a_lease_as_lease_not_dead(lokt):
    assert lokt.run("lock", "build").returncode == 0
    line = lokt.run("status").stdout.splitlines()[1]
    assert line.endswith("lease")
