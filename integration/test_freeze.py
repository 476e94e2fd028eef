"""`lokt freeze` / `lokt unfreeze`: the human override and its exact message."""
import json
import re

from conftest import wait_for
from lockfiles import HOST, RFC3339_NANO

FROZEN_RE = re.compile(r'^frozen "deploy" until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\n$')


def freeze(lokt, *extra, owner="human"):
    r = lokt.run("freeze", "deploy", "--ttl", "30m", *extra, owner=owner)
    assert r.returncode == 0, r.stderr
    return r


def test_freeze_blocks_lock_with_the_spec_message(lokt):
    r = freeze(lokt)
    m = FROZEN_RE.match(r.stdout)
    assert m, r.stdout
    until = m.group(1)
    r = lokt.run("lock", "deploy", owner="agent-1")
    assert r.returncode == 2
    assert r.stderr == f'error: lock "deploy" is frozen until {until}\n'
    assert lokt.read_lock("deploy") is None
    assert len(lokt.events("deploy", "freeze")) == 1
    assert len(lokt.events("deploy", "freeze-deny")) == 1


def test_freeze_flags_before_the_name(lokt):
    r = lokt.run("freeze", "--ttl", "30m", "deploy")
    assert r.returncode == 0, r.stderr
    assert FROZEN_RE.match(r.stdout)


def test_freeze_file_has_the_original_fields(lokt):
    freeze(lokt)
    with open(f"{lokt.root}/freezes/deploy.json") as f:
        rec = json.load(f)
    assert rec["version"] == 1 and rec["name"] == "deploy" and rec["owner"] == "human"
    assert rec["ttl_sec"] == 1800 and RFC3339_NANO.match(rec["expires_at"])


def test_freeze_requires_ttl(lokt):
    r = lokt.run("freeze", "deploy")
    assert r.returncode == 64
    assert r.stderr.startswith("error: freeze requires --ttl")
    assert "usage: lokt freeze" in r.stderr


def test_freeze_rejects_bad_ttl(lokt):
    for bad in ("abc", "-5m", "0", "500ms"):
        r = lokt.run("freeze", "deploy", "--ttl", bad)
        assert r.returncode == 64, bad
        assert r.stderr.startswith("error: "), bad


def test_unfreeze_lets_agents_in_again(lokt):
    freeze(lokt)
    r = lokt.run("unfreeze", "deploy", owner="human")
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'unfrozen "deploy"\n'
    assert lokt.run("lock", "deploy", owner="agent-1").returncode == 0
    assert len(lokt.events("deploy", "unfreeze")) == 1


def test_unfreeze_not_frozen_is_exit_3(lokt):
    r = lokt.run("unfreeze", "deploy")
    assert r.returncode == 3
    assert r.stderr == 'error: lock "deploy" is not frozen\n'
    freeze(lokt)
    assert lokt.run("unfreeze", "other").returncode == 3


def test_unfreeze_by_another_owner_is_exit_4_unless_forced(lokt):
    freeze(lokt, owner="human")
    r = lokt.run("unfreeze", "deploy", owner="agent-1")
    assert r.returncode == 4
    assert f"human@{HOST}" in r.stderr and "--force" in r.stderr
    assert lokt.run("lock", "deploy", owner="agent-1").returncode == 2
    r = lokt.run("unfreeze", "deploy", "--force", owner="agent-1")
    assert r.returncode == 0, r.stderr
    assert lokt.run("lock", "deploy", owner="agent-1").returncode == 0


def test_freeze_ends_by_itself(lokt):
    r = lokt.run("freeze", "deploy", "--ttl", "2s")
    assert r.returncode == 0, r.stderr
    assert lokt.run("lock", "deploy", owner="agent-1").returncode == 2
    wait_for(lambda: lokt.run("lock", "deploy", owner="agent-1").returncode == 0,
             timeout=10, interval=0.1, what="freeze expiry")


def test_lock_wait_waits_through_a_freeze(lokt):
    assert lokt.run("freeze", "deploy", "--ttl", "1s").returncode == 0
    r = lokt.run("lock", "deploy", "--wait", "--timeout", "20s", owner="agent-1")
    assert r.returncode == 0, r.stderr


def test_freeze_json(lokt):
    r = lokt.run("freeze", "deploy", "--ttl", "30m", "--json")
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["status"] == "frozen" and out["name"] == "deploy"
    assert out["freeze"]["ttl_sec"] == 1800


def test_frozen_lock_held_by_nobody_shows_in_status_json(lokt):
    freeze(lokt)
    out = json.loads(lokt.run("status", "--json").stdout)
    assert out[0]["name"] == "deploy" and out[0]["freeze"] is True
