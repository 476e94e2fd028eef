"""`status --prune-expired` on shared and slot locks (issue 12): expired holders are pruned
one by one (audited auto-prune), the holders left stay listed, a group left empty goes."""
import json
import time

from conftest import wait_for
from test_shared import holders


def test_prune_expired_prunes_expired_shared_and_slot_holders(lokt):
    for name, flags in (("db", ["--shared"]), ("pool", ["--slots", "2"])):
        # "new" first: a joiner prunes the expired holders it finds.
        assert lokt.run("lock", name, *flags, "--ttl", "10m", owner="new").returncode == 0
        assert lokt.run("lock", name, *flags, "--ttl", "2s", owner="old").returncode == 0
    assert lokt.run("lock", "gone", "--shared", "--ttl", "2s", owner="old").returncode == 0
    doomed = {h["lock_id"] for n in ("db", "pool", "gone") for h in holders(lokt, n) if h["owner"] == "old"}
    assert len(doomed) == 3
    # A TTL runs from the acquisition, which ended before this instant.
    locked = time.time()
    wait_for(lambda: time.time() > locked + 2.2, timeout=30, what="the 2s TTLs to pass")

    plain = json.loads(lokt.run("status", "--json").stdout)
    assert len(plain) == 5                      # without the flag, expired holders are listed
    r = lokt.run("status", "--prune-expired", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert sorted((e["name"], e["owner"]) for e in rows) == [("db", "new"), ("pool", "new")]
    assert [h["owner"] for h in holders(lokt, "db")] == ["new"]
    assert [h["owner"] for h in holders(lokt, "pool")] == ["new"]
    assert lokt.read_lock("gone") is None
    pruned = {e["lock_id"] for e in lokt.events(event="auto-prune")}
    assert pruned == doomed
