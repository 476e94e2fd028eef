"""Fencing tokens of shared and slot holders (issue 12): each holder gets its own fence from
the name's counter, shown by status and status --json, given to a guarded command as
LOKT_FENCE, and accepted by `exists NAME --fence N` while that holder is there."""
import json


def holders_by_owner(lokt, name):
    one = json.loads(lokt.run("status", name, "--json").stdout)
    return {h["owner"]: h for h in one["holders"]}


def test_each_shared_holder_has_its_own_fence(lokt):
    assert lokt.run("lock", "db", owner="x").returncode == 0
    first = lokt.read_lock("db")["fence"]
    assert lokt.run("unlock", "db", owner="x").returncode == 0
    for owner in ("a", "b"):
        r = lokt.run("lock", "db", "--shared", "--ttl", "5m", owner=owner)
        assert r.returncode == 0, r.stderr
    held = holders_by_owner(lokt, "db")
    fa, fb = held["a"]["fence"], held["b"]["fence"]
    assert first < fa < fb
    rows = json.loads(lokt.run("status", "--json").stdout)
    assert sorted(r["fence"] for r in rows) == [fa, fb]
    text = lokt.run("status", "db").stdout
    assert f"fence:     {fa}\n" in text and f"fence:     {fb}\n" in text

    for fence in (fa, fb):
        r = lokt.run("exists", "db", "--fence", str(fence))
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert lokt.run("exists", "db", "--fence", str(first)).returncode == 3
    assert lokt.run("exists", "db", "--fence", str(fb + 1)).returncode == 3

    assert lokt.run("unlock", "db", owner="a").returncode == 0
    assert lokt.run("exists", "db", "--fence", str(fa)).returncode == 3
    assert lokt.run("exists", "db", "--fence", str(fb)).returncode == 0
    assert lokt.run("unlock", "db", owner="b").returncode == 0
    # The next holder of any kind goes on from the same counter.
    assert lokt.run("lock", "db", "--slots", "2", owner="c").returncode == 0
    assert holders_by_owner(lokt, "db")["c"]["fence"] > fb


def test_a_shared_or_slot_guard_gets_its_fence_and_can_check_it(lokt):
    assert lokt.run("lock", "db", "--shared", owner="a").returncode == 0
    held = lokt.read_lock("db")["fence"]
    check = 'echo "$LOKT_FENCE ${LOKT_SLOT-none}"; lokt_exit=0; "$LOKT" exists db --fence "$LOKT_FENCE" || lokt_exit=$?; echo "$lokt_exit"'
    r = lokt.run("guard", "db", "--shared", "--", "sh", "-c", check, owner="g", LOKT=lokt.bin)
    assert r.returncode == 0, r.stderr
    fence, slot, exists = r.stdout.split()
    assert int(fence) > held
    assert (slot, exists) == ("none", "0")

    r = lokt.run("guard", "pool", "--slots", "2", "--", "sh", "-c", check.replace(" db ", " pool "),
                 owner="g", LOKT=lokt.bin)
    assert r.returncode == 0, r.stderr
    fence, slot, exists = r.stdout.split()
    assert int(fence) > 0
    assert (slot, exists) == ("0", "0")
    # Over: the holding's fence no longer counts.
    assert lokt.run("exists", "pool", "--fence", fence).returncode == 3
