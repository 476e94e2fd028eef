"""One lock object everywhere: lock --json, status --json, a denial with --json and why --json
print the same fields with the same values for one holder; not-found and not-owner outcomes
print JSON too when --json is given."""
import json

from conftest import wait_for
from lockfiles import RFC3339_SECONDS

# Values that may differ between two looks at one holder: the age moves on, and a lease's
# pid is the `lokt lock` that is alive while it prints its own lock and gone afterwards.
MOVING = {"age_sec", "pid_status"}


def lock_objects(lokt, name, owner):
    """The holder of `name` as each command prints it."""
    taken = json.loads(lokt.run("lock", name, "--ttl", "5m", "--json", owner=owner).stdout)
    assert taken.pop("status") == "acquired" and taken.pop("refreshed") is False
    listed = json.loads(lokt.run("status", "--json").stdout)
    assert len(listed) == 1
    one = json.loads(lokt.run("status", name, "--json").stdout)
    r = lokt.run("lock", name, "--json", owner="someone-else")
    assert r.returncode == 2
    denial = json.loads(r.stdout)
    assert denial["status"] == "held"
    why = json.loads(lokt.run("why", name, "--json", owner="someone-else").stdout)
    return {"lock": taken, "status": listed[0], "status NAME": one, "denial": denial["holder"],
            "why": why["holder"]}


def test_every_command_prints_the_same_lock_object(lokt):
    objs = lock_objects(lokt, "build", "agent-1")
    keys = {k: set(v) for k, v in objs.items()}
    assert all(k == keys["status"] for k in keys.values()), keys
    ref = objs["status"]
    for what, obj in objs.items():
        for key, value in obj.items():
            if key not in MOVING:
                assert value == ref[key], (what, key, value, ref[key])
    assert ref["owner"] == "agent-1" and ref["ttl_sec"] == 300 and ref["kind"] == "lease"
    assert ref["lock_id"] == lokt.read_lock("build")["lock_id"]
    assert ref["stale"] is False and ref["expired"] is False
    assert ref["command"] is None  # a lease runs no command
    assert isinstance(ref["fence"], int)
    # One precision for every time: RFC 3339 with whole seconds (the original's status --json).
    for obj in objs.values():
        assert RFC3339_SECONDS.match(obj["acquired_ts"]) and RFC3339_SECONDS.match(obj["expires_at"])


def test_ttl_sec_is_present_and_null_without_a_ttl(lokt):
    r = lokt.run("lock", "nottl", "--json")
    assert r.returncode == 0, r.stderr
    taken = json.loads(r.stdout)
    assert "ttl_sec" in taken and taken["ttl_sec"] is None and "expires_at" not in taken
    assert json.loads(lokt.run("status", "--json").stdout)[0]["ttl_sec"] is None
    assert json.loads(lokt.run("status", "nottl", "--json").stdout)["ttl_sec"] is None


def test_a_guards_lock_object_has_its_command_and_fence(lokt, tmp_path):
    started = tmp_path / "started"
    proc = lokt.start("guard", "g", "--", "sh", "-c", f"touch {started}; exec sleep 60", owner="agent-1")
    try:
        wait_for(started.exists, what="the guarded command to start")
        st = json.loads(lokt.run("status", "g", "--json").stdout)
        assert st["command"].startswith("sh -c touch ")
        assert st["kind"] == "guard" and st["fence"] >= 1 and st["pid_status"] == "alive"
        denial = json.loads(lokt.run("lock", "g", "--json", owner="agent-2").stdout)
        why = json.loads(lokt.run("why", "g", "--json", owner="agent-2").stdout)
        for obj in (denial["holder"], why["holder"]):
            assert set(obj) == set(st)
            assert {k: v for k, v in obj.items() if k != "age_sec"} == \
                   {k: v for k, v in st.items() if k != "age_sec"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_freeze_is_the_same_object_with_freeze_true(lokt):
    r = lokt.run("freeze", "deploy", "--ttl", "30m", "--json", owner="human")
    assert r.returncode == 0, r.stderr
    frozen = json.loads(r.stdout)["freeze"]
    listed = json.loads(lokt.run("status", "--json").stdout)[0]
    denial = json.loads(lokt.run("lock", "deploy", "--json").stdout)["freeze"]
    assert frozen["freeze"] is True and set(frozen) == set(listed) == set(denial)
    assert frozen["lock_id"] == listed["lock_id"] == denial["lock_id"]


def test_not_found_and_not_owner_print_json_with_json(lokt):
    for argv in (["status", "nothere"], ["unlock", "nothere"], ["unfreeze", "nothere"]):
        r = lokt.run(*argv, "--json")
        assert r.returncode == 3, (argv, r.stderr)
        out = json.loads(r.stdout)
        assert out["status"] == "not_found" and out["name"] == "nothere", argv
        assert r.stderr == f"error: {out['error']}\n", argv
    # Without --json stdout stays empty.
    assert lokt.run("status", "nothere").stdout == ""

    assert lokt.run("lock", "mine", "--ttl", "5m", owner="agent-1").returncode == 0
    r = lokt.run("unlock", "mine", "--json", owner="agent-2")
    assert r.returncode == 4
    out = json.loads(r.stdout)
    assert out["status"] == "not_owner" and out["lock"]["owner"] == "agent-1"
    assert set(out["lock"]) == set(json.loads(lokt.run("status", "mine", "--json").stdout))

    assert lokt.run("freeze", "fz", "--ttl", "5m", owner="human").returncode == 0
    r = lokt.run("unfreeze", "fz", "--json", owner="agent-2")
    assert r.returncode == 4
    out = json.loads(r.stdout)
    assert out["status"] == "not_owner" and out["lock"]["freeze"] is True and out["lock"]["owner"] == "human"
