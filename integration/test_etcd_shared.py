"""Shared locks and slot pools on the etcd backend (issue 12 on issue 11's backend): each test
starts its own etcd on 127.0.0.1 (random ports). Holders and waiters of every kind are keys
under PREFIX/NAME/ in create-revision order, so etcdctl lock excludes against them too."""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "etcd"))
from etcd_harness import etcd  # noqa: E402,F401 (a fixture)
from shimkit import shim, shim_targets  # noqa: E402,F401 (fixtures)

from conftest import pid_alive, wait_for  # noqa: E402
from test_etcd_backend import on  # noqa: E402
from test_shared import MIXED_WORKER, SLOT_WORKER, run_workers  # noqa: E402


def stop(procs):
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.communicate()


def test_shared_holders_overlap_and_a_queued_exclusive_request_goes_before_later_readers(lokt, etcd):
    url = etcd.url("s1")
    run = on(lokt, url)
    assert run("lock", "db", "--shared", owner="r1").stdout == 'acquired lock "db" (shared)\n'
    assert run("lock", "db", "--shared", owner="r2").returncode == 0
    st = json.loads(run("status", "db", "--json").stdout)
    assert st["mode"] == "shared"
    assert sorted(h["owner"] for h in st["holders"]) == ["r1", "r2"]
    fences = sorted(h["fence"] for h in st["holders"])
    assert fences[0] < fences[1]
    assert run("exists", "db").returncode == 0
    for f in fences:
        assert run("exists", "db", "--fence", str(f)).returncode == 0
    r = run("lock", "db", owner="w")
    assert r.returncode == 2
    assert r.stderr.startswith('error: lock "db" held by r1@'), r.stderr

    started = []
    try:
        writer = lokt.start("lock", "db", "--wait", "--timeout", "60s", env=lokt.env(owner="w", LOKT_BACKEND=url),
                            start_new_session=True)
        started.append(writer)
        wait_for(lambda: len(etcd.keys("s1/db/")) == 3, timeout=30, what="the writer to queue")
        # Writer preference: a reader that comes after the queued writer does not get in...
        assert run("lock", "db", "--shared", owner="r3").returncode == 2
        reader = lokt.start("lock", "db", "--shared", "--wait", "--timeout", "60s",
                            env=lokt.env(owner="r4", LOKT_BACKEND=url), start_new_session=True)
        started.append(reader)
        wait_for(lambda: len(etcd.keys("s1/db/")) == 4, timeout=30, what="the late reader to queue")
        # ... not even when one of the first readers has gone.
        assert run("unlock", "db", owner="r1").returncode == 0
        assert writer.poll() is None and reader.poll() is None
        assert run("unlock", "db", owner="r2").returncode == 0
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
        st = json.loads(run("status", "db", "--json").stdout)
        assert (st["owner"], "mode" in st) == ("w", False)
        assert st["fence"] > fences[1]
        assert reader.poll() is None
        assert run("unlock", "db", owner="w").returncode == 0
        _, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err
        assert json.loads(run("status", "db", "--json").stdout)["holders"][0]["owner"] == "r4"
    finally:
        stop(started)


def test_status_why_unlock_and_audit_show_every_holder(lokt, etcd):
    run = on(lokt, etcd.url("s2"))
    assert run("lock", "pool", "--slots", "3", owner="a").stdout == 'acquired lock "pool" (slot 0 of 3)\n'
    assert run("lock", "pool", "--slots", "3", owner="b").stdout == 'acquired lock "pool" (slot 1 of 3)\n'
    table = run("status").stdout.splitlines()
    assert len([l for l in table if l.startswith("pool ")]) == 2, table
    assert any("(slot 1 of 3)" in l for l in table), table
    why = run("why", "pool").stdout
    assert 'lock "pool" is a pool of 3 slots, 2 in use:' in why, why
    assert "--slots 3 takes a free slot now" in why, why
    listed = json.loads(run("status", "--json").stdout)
    assert sorted((e["owner"], e["slot"]) for e in listed) == [("a", 0), ("b", 1)]
    # unlock gives back one's own hold; the freed slot is the next one's.
    assert run("unlock", "pool", owner="c").returncode == 4
    assert run("unlock", "pool", owner="a").returncode == 0
    assert run("lock", "pool", "--slots", "3", owner="c").stdout == 'acquired lock "pool" (slot 0 of 3)\n'
    events = run("audit", "--name", "pool", "--json")
    acquires = [json.loads(l) for l in events.stdout.splitlines() if '"acquire"' in l]
    assert [(e["owner"], e["extra"]["slot"], e["extra"]["mode"]) for e in acquires] == [("a", 0, "slots"), ("b", 1, "slots"),
                                                                     ("c", 0, "slots")]
    # Live holders are not stale; a fence that is no holder's is not current.
    r = run("unlock", "pool", "--break-stale", owner="admin")
    assert r.returncode == 2, r.stderr
    top = max(e["fence"] for e in json.loads(run("status", "--json").stdout))
    assert run("exists", "pool", "--fence", str(top + 1)).returncode == 3
    # --force ends every holder; the claims go with them.
    r = run("unlock", "pool", "--force", owner="admin")
    assert r.returncode == 0, r.stderr
    assert run("exists", "pool").returncode == 3
    assert etcd.keys("s2/pool/") == [] and etcd.keys("s2/~slot/") == []


def test_slot_counts_and_modes_must_agree(lokt, etcd):
    run = on(lokt, etcd.url("s3"))
    assert run("lock", "p", "--slots", "3", owner="a").returncode == 0
    r = run("lock", "p", "--slots", "2", owner="b")
    assert (r.returncode, r.stderr) == (
        1, 'error: lock "p" is held as 3 slots, not as 2 slots (all holders must agree)\n')
    r = run("lock", "p", "--shared", "--wait", "--timeout", "5s", owner="b")
    assert (r.returncode, r.stderr) == (
        1, 'error: lock "p" is held as 3 slots, not as shared (all holders must agree)\n')
    assert len(etcd.keys("s3/p/")) == 1  # the refused requests left nothing queued
    # A freeze blocks shared requests as it blocks every other.
    assert run("freeze", "f", "--ttl", "10m", owner="human").returncode == 0
    r = run("lock", "f", "--shared")
    assert r.returncode == 2 and 'lock "f" is frozen until' in r.stderr, r.stderr


def test_etcdctl_lock_excludes_against_shared_holders(lokt, etcd):
    run = on(lokt, etcd.url("s4"))
    assert run("lock", "m", "--shared", owner="a").returncode == 0
    assert run("lock", "m", "--shared", owner="b").returncode == 0
    last = max(h["fence"] for h in json.loads(run("status", "m", "--json").stdout)["holders"])
    theirs = etcd.etcdctl("lock", "s4/m", "--", "sh", "-c", "echo rev=$ETCD_LOCK_REV; sleep 300")
    wait_for(lambda: len(etcd.keys("s4/m/")) == 3, timeout=30, what="etcdctl to queue")
    assert run("unlock", "m", owner="a").returncode == 0
    assert theirs.poll() is None  # b still holds
    assert run("unlock", "m", owner="b").returncode == 0
    line = theirs.stdout.readline()
    assert int(line.split("rev=")[1]) > last
    # While etcdctl holds, a shared request is refused (and names it).
    r = run("lock", "m", "--shared", owner="c")
    assert r.returncode == 2
    assert r.stderr.startswith('error: lock "m" held by etcdctl'), r.stderr


def test_shim_rules_shared_and_nested_shared_guards_on_etcd(lokt, etcd, shim, tmp_path):
    url = etcd.url("s8")
    run = on(lokt, url)
    shim.rules("fixture shared : fake-make *\n")
    holds = [tmp_path / f"hold{i}" for i in range(2)]
    tools = [shim.start("fake-make", "test", TOOL_HOLD=h, LOKT_BACKEND=url, owner=f"agent-{i}")
             for i, h in enumerate(holds)]
    try:
        # Both tools run at once: each is a shared holder of "fixture" on etcd.
        for h, p in zip(holds, tools):
            wait_for(lambda: os.path.exists(f"{h}.started") or p.poll() is not None, timeout=30,
                     what="the tool to start")
            assert p.poll() is None, p.communicate()
        holders = json.loads(run("status", "fixture", "--json").stdout)["holders"]
        assert sorted((h["owner"], h["kind"], h["mode"]) for h in holders) == [
            ("agent-0", "shim", "shared"), ("agent-1", "shim", "shared")]
        assert run("lock", "fixture", owner="w").returncode == 2
        for h in holds:
            h.touch()
        for p in tools:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
    finally:
        stop(tools)
    assert etcd.keys("s8/fixture/") == []
    # A shared guard inside a shared guard of the same name runs directly.
    r = run("guard", "n", "--shared", "--", lokt.bin, "guard", "n", "--shared", "--", "sh", "-c", "echo inner")
    assert (r.returncode, r.stdout) == (0, "inner\n"), r.stderr
    events = run("audit", "--name", "n", "--json").stdout
    assert sum(1 for l in events.splitlines() if json.loads(l)["event"] == "acquire") == 1


def test_a_sigkilled_guards_slot_comes_back_when_its_lease_expires(lokt, etcd, tmp_path):
    url = etcd.url("s5")
    run = on(lokt, url)
    guards = []
    try:
        for i in range(2):
            guards.append(lokt.start("guard", "pool", "--slots", "2", "--", "sh", "-c",
                                     f'echo "$LOKT_SLOT $LOKT_FENCE" > {tmp_path}/g{i}; exec sleep 300',
                                     env=lokt.env(owner=f"a{i}", LOKT_BACKEND=url), start_new_session=True))
            wait_for(lambda: (tmp_path / f"g{i}").exists(), timeout=30, what=f"guard {i} to start")
        slot, fence = (tmp_path / "g0").read_text().split()
        holders = json.loads(run("status", "pool", "--json").stdout)["holders"]
        assert sorted((h["owner"], h["slot"]) for h in holders) == [("a0", 0), ("a1", 1)]
        assert next(h["fence"] for h in holders if h["owner"] == "a0") == int(fence)
        assert run("lock", "pool", "--slots", "2").returncode == 2
        # SIGKILL guard a0 whole: front, supervisor (it keeps the lease alive) and command.
        sup = next(h["pid"] for h in holders if h["owner"] == "a0")
        os.killpg(guards[0].pid, signal.SIGKILL)
        os.kill(sup, signal.SIGKILL)
        guards[0].communicate()
        wait_for(lambda: not pid_alive(sup), what="the supervisor's death")
        late = run("guard", "pool", "--slots", "2", "--wait", "--timeout", "60s", "--", "sh", "-c",
                   'echo "slot=$LOKT_SLOT"', owner="late")
        assert late.returncode == 0, late.stderr
        assert late.stdout == f"slot={slot}\n"
    finally:
        stop(guards)


def test_slots_3_under_12_agents_on_etcd(lokt, etcd, tmp_path):
    inside = tmp_path / "inside"
    inside.mkdir()
    bad, used = tmp_path / "bad", tmp_path / "used"
    errors = run_workers(lokt, SLOT_WORKER, 12, ROUNDS=3, INSIDE=inside, BAD=bad, USED=used,
                         LOKT_BACKEND=etcd.url("s6"))
    assert errors == []
    assert not bad.exists(), bad.read_text()        # never a slot twice, never more than 3
    slots = used.read_text().split()
    assert len(slots) == 36
    assert set(slots) == {"0", "1", "2"}            # every slot used, and no other number
    assert etcd.keys("s6/pool/") == [] and etcd.keys("s6/~slot/") == []


def test_mixed_hammer_on_etcd(lokt, etcd, tmp_path):
    agents, rounds = 12, 8
    inside = tmp_path / "inside"
    inside.mkdir()
    log, bad, shared = tmp_path / "log", tmp_path / "bad", tmp_path / "shared"
    errors = run_workers(lokt, MIXED_WORKER, agents, ROUNDS=rounds, LOG=log, INSIDE=inside, BAD=bad,
                         SHARED=shared, LOKT_BACKEND=etcd.url("s7"))
    assert errors == []
    assert not bad.exists(), bad.read_text()        # never an exclusive holder with anyone
    overlaps = len(shared.read_text().splitlines()) if shared.exists() else 0
    print(f"shared holders found company {overlaps} times")
    assert overlaps > 0
    # Writer preference, as in the file hammer: while an exclusive request waits, another
    # agent gets in at most twice (once before it queued, once between logging and queueing).
    lines = log.read_text().split("\n")
    for k, line in enumerate(lines):
        if line.startswith("req x "):
            served = lines.index("in x " + line[len("req x "):], k)
            assert sum(1 for l in lines[k:served] if l.startswith("in s ")) <= 2 * (agents - 1)
    assert etcd.keys("s7/x/") == []
