"""`lokt exists` (silent cache markers) and `lokt why` (explanations)."""
import json
import os
import subprocess

from lockfiles import HOST, dead_pid, lock_record, plant


def test_exists_is_silent_and_follows_the_lock(lokt):
    r = lokt.run("exists", "marker")
    assert (r.returncode, r.stdout, r.stderr) == (3, "", "")
    assert lokt.run("lock", "marker", "--ttl", "24h").returncode == 0
    r = lokt.run("exists", "marker")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert lokt.run("unlock", "marker").returncode == 0
    assert lokt.run("exists", "marker").returncode == 3


def test_exists_is_3_for_expired_and_corrupt_locks(lokt):
    plant(lokt, "old", lock_record("old", age=100, ttl=10))
    plant(lokt, "bad", raw="{not json")
    assert lokt.run("exists", "old").returncode == 3
    assert lokt.run("exists", "bad").returncode == 3
    assert os.path.exists(lokt.lock_file("old"))  # exists changes nothing


def test_exists_rejects_invalid_names(lokt):
    assert lokt.run("exists", "../x").returncode == 64
    assert lokt.run("exists").returncode == 64


def test_cache_marker_pattern(lokt):
    env = lokt.env()
    env["PATH"] = os.path.dirname(lokt.bin) + ":" + env["PATH"]
    script = ('COMMIT=abc123\n'
              'lokt exists "tests-passed-$COMMIT" && { echo cached; exit 0; }\n'
              'echo running-tests\n'
              'lokt lock "tests-passed-$COMMIT" --ttl 24h >/dev/null\n')
    first = subprocess.run(["bash", "-c", script], env=env, cwd=lokt.cwd, capture_output=True, text=True)
    assert first.returncode == 0 and first.stdout == "running-tests\n", first.stderr
    second = subprocess.run(["bash", "-c", script], env=env, cwd=lokt.cwd, capture_output=True, text=True)
    assert second.returncode == 0 and second.stdout == "cached\n"


def why(lokt, name, owner="tester"):
    r = lokt.run("why", name, "--json", owner=owner)
    return r.returncode, json.loads(r.stdout)


def test_why_free(lokt):
    r = lokt.run("why", "build")
    assert r.returncode == 0
    assert "free" in r.stdout
    code, out = why(lokt, "build")
    assert code == 0 and out == {**out, "name": "build", "acquirable": True, "reason": "free"}


def test_why_held(lokt):
    assert lokt.run("lock", "build", "--ttl", "10m", owner="agent-1").returncode == 0
    r = lokt.run("why", "build", owner="agent-2")
    assert r.returncode == 2
    assert f"agent-1@{HOST}" in r.stdout and "--wait" in r.stdout and "--force" not in r.stdout
    code, out = why(lokt, "build", owner="agent-2")
    assert code == 2
    assert out["acquirable"] is False and out["reason"] == "held"
    assert out["holder"]["owner"] == "agent-1"


def test_why_stale_explains_how_to_break(lokt):
    plant(lokt, "build", lock_record("build", owner="bob", pid=dead_pid(), pid_start=1, kind="guard"))
    r = lokt.run("why", "build")
    assert r.returncode == 0
    assert "stale" in r.stdout and "--break-stale" in r.stdout
    code, out = why(lokt, "build")
    assert out["reason"] == "stale" and out["acquirable"] is True and out["stale"] is True
    assert lokt.read_lock("build") is not None  # why changes nothing


def test_why_expired_is_stale(lokt):
    plant(lokt, "build", lock_record("build", owner="bob", age=100, ttl=10, kind="lease"))
    code, out = why(lokt, "build")
    assert out["reason"] == "stale"


def test_why_frozen(lokt):
    assert lokt.run("freeze", "deploy", "--ttl", "30m", owner="human").returncode == 0
    r = lokt.run("why", "deploy")
    assert r.returncode == 2
    assert "frozen until" in r.stdout and f"human@{HOST}" in r.stdout and "unfreeze" in r.stdout
    code, out = why(lokt, "deploy")
    assert out["reason"] == "frozen" and out["acquirable"] is False
    assert out["freeze"]["owner"] == "human"


def test_why_corrupt_and_future_files(lokt):
    plant(lokt, "bad", raw="garbage")
    r = lokt.run("why", "bad")
    assert "corrupt" in r.stdout
    code, out = why(lokt, "bad")
    assert out["reason"] == "corrupt"
    rec = lock_record("future")
    rec["version"] = 2
    plant(lokt, "future", rec)
    r = lokt.run("why", "future")
    assert r.returncode == 1
    assert "newer" in r.stdout
    assert why(lokt, "future")[1]["future_version"] is True


def test_why_rejects_invalid_names(lokt):
    assert lokt.run("why", "a b").returncode == 64
