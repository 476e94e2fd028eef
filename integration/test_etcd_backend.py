"""The commands on the etcd backend (LOKT_BACKEND=etcd://…): each test starts its own etcd on
127.0.0.1 (random ports; tests/etcd/etcd_harness.py). Messages and exit codes are the file
backend's; `etcdctl lock` and lokt exclude each other; an unreachable cluster is a clear error."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "etcd"))
from etcd_harness import etcd, free_port  # noqa: E402,F401 (etcd is a fixture)

from conftest import wait_for  # noqa: E402


def on(lokt, url):
    """Runs lokt against `url`."""
    def run(*args, owner="tester", **kw):
        env = lokt.env(owner=owner, LOKT_BACKEND=url)
        env.update(kw.pop("env", {}))
        return lokt.run(*args, env=env, **kw)
    return run


def test_lock_status_exists_unlock_on_etcd(lokt, etcd):
    run = on(lokt, etcd.url("t1"))
    r = run("lock", "deploy", "--ttl", "10m", owner="a")
    assert (r.returncode, r.stdout) == (0, 'acquired lock "deploy" (ttl 10m)\n'), r.stderr
    # Nothing went to the files.
    assert lokt.read_lock("deploy") is None

    r = run("lock", "deploy", owner="b")
    assert r.returncode == 2
    assert r.stderr.startswith('error: lock "deploy" held by a@'), r.stderr

    st = json.loads(run("status", "deploy", "--json").stdout)
    assert st["owner"] == "a" and st["fence"] > 0
    listed = json.loads(run("status", "--json").stdout)
    assert [(e["name"], e["fence"]) for e in listed] == [("deploy", st["fence"])]
    assert run("exists", "deploy").returncode == 0
    assert run("exists", "deploy", "--fence", str(st["fence"])).returncode == 0
    assert run("exists", "deploy", "--fence", str(st["fence"] + 1)).returncode == 3

    r = run("unlock", "deploy", owner="b")
    assert r.returncode == 4, r.stderr
    r = run("unlock", "deploy", owner="a")
    assert (r.returncode, r.stdout) == (0, 'released lock "deploy"\n'), r.stderr
    assert run("exists", "deploy").returncode == 3
    r = run("unlock", "deploy", owner="a")
    assert r.returncode == 3
    assert r.stderr == 'error: lock "deploy" not found\n'

    # The next holder's fence is larger; the old one is no longer current.
    assert run("lock", "deploy", owner="b").returncode == 0
    again = json.loads(run("status", "deploy", "--json").stdout)
    assert again["fence"] > st["fence"]
    assert run("exists", "deploy", "--fence", str(st["fence"])).returncode == 3
    r = run("unlock", "deploy", "--force", owner="c")
    assert r.returncode == 0, r.stderr
    assert run("exists", "deploy").returncode == 3


def test_relocking_ones_own_lease_refreshes_it(lokt, etcd):
    run = on(lokt, etcd.url("t2"))
    assert run("lock", "x", "--ttl", "1m").returncode == 0
    fence = json.loads(run("status", "x", "--json").stdout)["fence"]
    r = run("lock", "x", "--ttl", "10m")
    assert (r.returncode, r.stdout) == (0, 'acquired lock "x" (ttl 10m, refreshed)\n'), r.stderr
    st = json.loads(run("status", "x", "--json").stdout)
    assert (st["fence"], st["ttl_sec"]) == (fence, 600)


def test_a_lock_with_a_ttl_ends_by_itself(lokt, etcd):
    run = on(lokt, etcd.url("t3"))
    assert run("lock", "short", "--ttl", "2s").returncode == 0
    assert run("exists", "short").returncode == 0
    wait_for(lambda: run("exists", "short").returncode == 3, timeout=30, what="the TTL to pass")
    # etcd deletes the key when the lease expires (its clock, a moment after ours).
    wait_for(lambda: not etcd.keys("t3/short/"), timeout=30, what="the lease to expire")
    assert run("lock", "short", owner="b").returncode == 0


def test_lock_wait_queues_behind_the_holder(lokt, etcd):
    url = etcd.url("t4")
    run = on(lokt, url)
    assert run("lock", "q", owner="a").returncode == 0
    env = lokt.env(owner="b", LOKT_BACKEND=url)
    waiter = lokt.start("lock", "q", "--wait", "--timeout", "60s", env=env)
    try:
        # Queued: its key sits behind ours under the lock's prefix.
        wait_for(lambda: len(etcd.keys("t4/q/")) == 2, timeout=30, what="the waiter's queue key")
        assert waiter.poll() is None
        assert run("unlock", "q", owner="a").returncode == 0
        out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, err
        assert json.loads(run("status", "q", "--json").stdout)["owner"] == "b"
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()


def test_lock_wait_times_out_and_leaves_no_key(lokt, etcd):
    run = on(lokt, etcd.url("t5"))
    assert run("lock", "q", owner="a").returncode == 0
    r = run("lock", "q", "--wait", "--timeout", "1s", owner="b")
    assert r.returncode == 2
    assert r.stderr.startswith('error: timed out after 1s waiting: lock "q" held by a@'), r.stderr
    assert len(etcd.keys("t5/q/")) == 1


def test_freeze_blocks_and_unfreeze_lifts_on_etcd(lokt, etcd):
    run = on(lokt, etcd.url("t6"))
    assert run("freeze", "db", "--ttl", "10m", owner="human").returncode == 0
    r = run("lock", "db", owner="a")
    assert r.returncode == 2
    assert 'lock "db" is frozen until' in r.stderr, r.stderr
    assert run("unfreeze", "db", owner="a").returncode == 4
    assert run("unfreeze", "db", owner="human").returncode == 0
    assert run("lock", "db", owner="a").returncode == 0


def test_etcdctl_lock_and_lokt_exclude_each_other(lokt, etcd):
    run = on(lokt, etcd.url("t7"))
    assert run("lock", "shared", owner="a").returncode == 0
    fence = json.loads(run("status", "shared", "--json").stdout)["fence"]
    theirs = etcd.etcdctl("lock", "t7/shared", "--", "sh", "-c", "echo rev=$ETCD_LOCK_REV")
    wait_for(lambda: len(etcd.keys("t7/shared/")) == 2, timeout=30, what="etcdctl to queue")
    assert theirs.poll() is None
    assert run("unlock", "shared", owner="a").returncode == 0
    out, err = theirs.communicate(timeout=30)
    assert theirs.returncode == 0, err
    assert int(out.split("rev=")[1]) > fence

    # And the other way: while etcdctl holds, lokt is refused (the holder has no owner).
    holder = etcd.etcdctl("lock", "t7/other")
    wait_for(lambda: len(etcd.keys("t7/other/")) == 1, timeout=30, what="etcdctl to hold")
    r = run("lock", "other", owner="a")
    assert r.returncode == 2
    assert r.stderr.startswith('error: lock "other" held by etcdctl'), r.stderr


def test_an_unreachable_cluster_is_a_clear_error(lokt):
    url = f"etcd://127.0.0.1:{free_port()}"
    run = on(lokt, url)
    for args in (["lock", "x"], ["status"], ["exists", "x"], ["unlock", "x"]):
        r = run(*args)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stderr.startswith(f"error: lock backend {url} unreachable: "), r.stderr
        assert r.stderr.count("\n") == 1
    assert not os.path.exists(lokt.lock_file("x"))  # never a silent fall back to files


def test_work_resumes_when_etcd_comes_back(lokt, etcd):
    """etcd down: a one-line error, exit 1, nothing claimed anywhere. etcd back (the same
    member and data): the lock taken before is still its owner's, and new commands work."""
    url = etcd.url("t9")
    run = on(lokt, url)
    assert run("lock", "before", owner="a").returncode == 0
    etcd.stop()
    for args in (["lock", "during"], ["status"], ["guard", "during", "--", "true"]):
        r = run(*args, owner="b")
        assert r.returncode == 1, (args, r.returncode, r.stderr)
        assert r.stderr.startswith(f"error: lock backend etcd://{etcd.endpoint}"), r.stderr
        assert " unreachable: " in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not os.path.exists(lokt.lock_file("during"))  # never a silent fall back to files
    etcd.start()
    assert etcd.keys("t9/during/") == []  # the refused commands left nothing behind
    st = json.loads(run("status", "before", "--json").stdout)
    assert st["owner"] == "a"
    assert run("lock", "during", owner="b").returncode == 0
    assert json.loads(run("status", "during", "--json").stdout)["owner"] == "b"
    r = run("guard", "g", "--", "sh", "-c", 'test -n "$LOKT_FENCE"', owner="b")
    assert r.returncode == 0, r.stderr


def test_the_backend_comes_from_root_config_too(lokt, etcd):
    os.makedirs(lokt.root, exist_ok=True)
    with open(os.path.join(lokt.root, "config"), "w") as f:
        f.write(f"# where the locks live\nbackend = {etcd.url('t8')}\n")
    assert lokt.run("lock", "cfg").returncode == 0
    assert lokt.read_lock("cfg") is None
    assert etcd.keys("t8/cfg/")


def test_unknown_backends_are_refused(lokt):
    r = lokt.run("lock", "x", env=lokt.env(LOKT_BACKEND="redis://h"))
    assert r.returncode == 1
    assert r.stderr.startswith('error: unknown lock backend "redis://h"'), r.stderr


def test_lokt_itself_never_links_libcurl(lokt):
    # The etcd code (and libcurl's thirty-odd libraries) load only with an etcd backend.
    out = subprocess.run(["readelf", "-d", lokt.bin], capture_output=True, text=True, check=True).stdout
    needed = [l for l in out.splitlines() if "(NEEDED)" in l]
    assert needed and not any("curl" in l for l in needed), needed


def test_a_missing_module_is_a_clear_error(lokt):
    url = f"etcd://127.0.0.1:{free_port()}"
    r = lokt.run("lock", "x", env=lokt.env(LOKT_BACKEND=url, LOKT_ETCD_MODULE="/nonexistent/lib.so"))
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: lock backend {url} unavailable: /nonexistent/lib.so"), r.stderr


def test_audit_reads_the_events_stored_in_etcd_with_the_local_log(lokt, etcd):
    run = on(lokt, etcd.url("t10"))
    assert run("lock", "a1", owner="a").returncode == 0
    assert run("lock", "a1", owner="b").returncode == 2
    assert run("unlock", "a1", owner="a").returncode == 0
    assert run("lock", "other", owner="a").returncode == 0

    def events(*args):
        r = run("audit", "--format", "jsonl", *args)
        assert r.returncode == 0, r.stderr
        return [json.loads(l) for l in r.stdout.splitlines()]

    got = events("--name", "a1")
    assert [(e["event"], e["owner"]) for e in got] == [("acquire", "a"), ("deny", "b"), ("release", "a")]
    assert got[0]["extra"]["fence"] > 0, got[0]  # the acquisition's fencing token
    assert [e["name"] for e in events()] == ["a1", "a1", "a1", "other"]
    assert events("--since", "2999-01-01") == []
    # The text view reads the same events.
    r = run("audit", "--format", "text", "--name", "other")
    assert r.returncode == 0 and r.stdout.count("\n") == 1 and " acquire " in r.stdout, r.stdout


def test_doctor_shows_the_backend_and_reaches_every_member(lokt, etcd):
    dead = f"127.0.0.1:{free_port()}"
    url = f"etcd://{etcd.endpoint},{dead}/t11"
    r = on(lokt, url)("doctor", "--json")
    checks = json.loads(r.stdout)["checks"]
    mine = [c for c in checks if c["name"] in ("backend", "endpoint")]
    assert mine[0] == {"name": "backend", "status": "ok", "detail": f"etcd://{etcd.endpoint},{dead}/t11"}, mine
    up, down = mine[1], mine[2]
    assert up["status"] == "ok", up
    assert up["detail"].startswith(f"{etcd.endpoint}: etcd 3."), up
    assert " round trip " in up["detail"] and " clock skew " in up["detail"], up
    assert down["status"] == "fail" and down["detail"].startswith(f"{dead} unreachable: "), down
    assert r.returncode == 1  # a member that cannot be reached fails the doctor

    # On files: one line naming the root, nothing to reach.
    r = lokt.run("doctor", "--json")
    files = [c for c in json.loads(r.stdout)["checks"] if c["name"] == "backend"]
    assert files == [{"name": "backend", "status": "ok", "detail": f"files under {lokt.root}"}], files


def test_unlock_all_owner_and_break_stale_on_etcd(lokt, etcd):
    run = on(lokt, etcd.url("t20"))
    for name, owner in (("x1", "a"), ("x2", "a"), ("x3", "b")):
        assert run("lock", name, "--ttl", "5m", owner=owner).returncode == 0
    r = run("unlock", "--all", owner="a")
    assert (r.returncode, r.stdout) == (0, "released 2 locks of a: x1, x2\n"), r.stderr
    r = run("unlock", "--owner", "b", owner="c")
    assert (r.returncode, r.stdout) == (0, "released 1 lock of b: x3\n"), r.stderr
    assert json.loads(run("status", "--json").stdout) == []
    assert not [k for k in etcd.keys("t20/") if "~" not in k]
    # A live holder is not stale: refused with exit 2, still held.
    assert run("lock", "y", "--ttl", "5m", owner="a").returncode == 0
    r = run("unlock", "y", "--break-stale", owner="admin")
    assert r.returncode == 2 and r.stderr.startswith('error: lock "y" is not stale: held by a@'), r.stderr
    assert run("exists", "y").returncode == 0
