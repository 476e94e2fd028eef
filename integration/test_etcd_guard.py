"""`lokt guard` on the etcd backend: each test starts its own etcd on 127.0.0.1 (random ports).
The supervisor holds the lock on a lease it keeps alive itself; a dead guard's lock goes with
its lease; a lost lease ends the command by default (--on-lost term)."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "etcd"))
from etcd_harness import etcd  # noqa: E402,F401 (a fixture)
from shimkit import shim, shim_targets  # noqa: E402,F401 (fixtures)

from conftest import pid_alive, wait_for  # noqa: E402
from test_etcd_backend import on  # noqa: E402

# A guard without --ttl keeps its lock on a lease of this many seconds (EtcdBackend::kKeptTtlSec).
KEPT_TTL = 5


def start_guard(lokt, url, tmp_path, name, *flags, owner="g", tag="cmd"):
    """Starts `lokt guard NAME FLAGS -- sh` whose command writes its LOKT_FENCE and pid to
    files and then waits for a `go` file; returns (process, dir)."""
    d = tmp_path / tag
    d.mkdir()
    # The pid first: the fence file is what tells the test that the command started.
    script = (f'echo $$ > {d}/pid; echo "$LOKT_FENCE" > {d}/fence.tmp && mv {d}/fence.tmp {d}/fence; '
              f'while [ ! -e {d}/go ]; do sleep 0.02; done')
    env = lokt.env(owner=owner, LOKT_BACKEND=url)
    p = lokt.start("guard", name, *flags, "--", "sh", "-c", script, env=env, start_new_session=True)
    return p, d


def wait_started(p, d):
    wait_for(lambda: (d / "fence").exists() or p.poll() is not None, timeout=30, what="the command to start")
    assert p.poll() is None, p.communicate()
    return int((d / "fence").read_text())


def finish(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.communicate()


def audit_events(etcd, prefix):
    p = etcd.etcdctl("get", "--prefix", "--print-value-only", f"{prefix}/~audit/")
    out, _ = p.communicate(timeout=30)
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def test_a_guard_excludes_guards_locks_and_etcdctl_and_its_fence_increases(lokt, etcd, tmp_path):
    url = etcd.url("g1")
    run = on(lokt, url)
    p, d = start_guard(lokt, url, tmp_path, "deploy")
    try:
        fence = wait_started(p, d)
        assert fence > 0
        st = json.loads(run("status", "deploy", "--json").stdout)
        assert (st["owner"], st["fence"], st["kind"]) == ("g", fence, "guard")
        # Nothing went to the files.
        assert lokt.read_lock("deploy") is None

        r = run("guard", "deploy", "--", "true", owner="other")
        assert r.returncode == 2
        assert r.stderr.startswith('error: lock "deploy" held by g@'), r.stderr
        r = run("lock", "deploy", owner="other")
        assert r.returncode == 2, r.stderr
        theirs = etcd.etcdctl("lock", "g1/deploy", "--", "sh", "-c", "echo rev=$ETCD_LOCK_REV")
        wait_for(lambda: len(etcd.keys("g1/deploy/")) == 2, timeout=30, what="etcdctl to queue")
        assert theirs.poll() is None

        (d / "go").touch()
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        out, err = theirs.communicate(timeout=30)
        assert theirs.returncode == 0, err
        assert int(out.split("rev=")[1]) > fence
    finally:
        finish(p)
    # Released: no key is left, and the release was audited with the acquisition.
    wait_for(lambda: not etcd.keys("g1/deploy/"), timeout=30, what="etcdctl to let go")
    events = [e["event"] for e in audit_events(etcd, "g1") if e["name"] == "deploy"]
    assert events[:4] == ["acquire", "deny", "deny", "release"], events

    # The next guard's fence is larger, and it waits (FIFO) behind an etcdctl holder.
    holder = etcd.etcdctl("lock", "g1/deploy")
    wait_for(lambda: len(etcd.keys("g1/deploy/")) == 1, timeout=30, what="etcdctl to hold")
    q, qd = start_guard(lokt, url, tmp_path, "deploy", "--wait", "--timeout", "60s", tag="second")
    try:
        wait_for(lambda: len(etcd.keys("g1/deploy/")) == 2, timeout=30, what="the guard to queue")
        assert not (qd / "fence").exists()
        holder.kill()
        holder.wait()
        second = wait_started(q, qd)
        assert second > fence
        (qd / "go").touch()
        _, err = q.communicate(timeout=60)
        assert q.returncode == 0, err
    finally:
        finish(q)


def test_a_killed_guards_lock_goes_with_its_lease(lokt, etcd, tmp_path):
    url = etcd.url("g2")
    run = on(lokt, url)
    p, d = start_guard(lokt, url, tmp_path, "k")
    try:
        wait_started(p, d)
        sup = json.loads(run("status", "k", "--json").stdout)["pid"]
        assert sup != p.pid  # the supervisor holds it
        # The whole guard dies at once: front, supervisor and command.
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        t0 = time.monotonic()
        wait_for(lambda: not etcd.keys("g2/k/"), timeout=30, what="the lease to expire")
        # Within the lease's TTL (etcd's clock may add a little for its own expiry tick).
        assert time.monotonic() - t0 < KEPT_TTL + 5
        assert run("lock", "k", owner="next").returncode == 0
    finally:
        finish(p)


def test_a_finished_guard_deletes_its_key_and_its_lease_ends(lokt, etcd):
    run = on(lokt, etcd.url("g8"))

    def leases():
        out, _ = etcd.etcdctl("lease", "list").communicate(timeout=30)
        return [l for l in out.splitlines()[1:] if l.strip()]  # after "found N leases"

    # A long --ttl lease is revoked with the release, so it does not linger for a minute.
    assert run("guard", "--ttl", "60s", "long", "--", "true").returncode == 0
    assert leases() == [] and not etcd.keys("g8/long/")
    # The default short lease is left to expire by itself (one round trip less), key deleted.
    assert run("guard", "short", "--", "true").returncode == 0
    assert not etcd.keys("g8/short/")
    assert len(leases()) == 1
    wait_for(lambda: leases() == [], timeout=KEPT_TTL + 25, what="the kept lease to expire")
    events = [(e["event"], e["name"]) for e in audit_events(etcd, "g8")]
    assert events == [("acquire", "long"), ("release", "long"), ("acquire", "short"), ("release", "short")], events


def test_log_debug_shows_each_etcd_request_with_its_round_trip(lokt, etcd):
    run = on(lokt, etcd.url("g9"))
    r = run("guard", "x", "--", "true", env={"LOKT_LOG": "debug"})
    assert r.returncode == 0, r.stderr
    trips = [l.split(": debug: ", 1)[1] for l in r.stderr.splitlines() if ": debug: etcd /v3/" in l]
    # The uncontended guard: the re-entrancy read with the lease grant beside it (both sent
    # at once, one wait), then take and release.
    assert [t.split()[1] for t in trips] == ["/v3/kv/range", "/v3/kv/txn", "/v3/kv/txn"], trips
    assert trips[0].startswith("etcd /v3/kv/range HTTP 200 and /v3/lease/grant HTTP 200 side by side in "), trips
    assert all(t.endswith(" ms") and " HTTP 200 " in t for t in trips), trips


def test_a_revoked_lease_is_lost_and_ends_the_command(lokt, etcd, tmp_path):
    url = etcd.url("g3")
    p, d = start_guard(lokt, url, tmp_path, "r")
    try:
        wait_started(p, d)
        cmd = int((d / "pid").read_text())
        key = etcd.keys("g3/r/")[0]
        lease = key.rsplit("/", 1)[1]
        r = etcd.etcdctl("lease", "revoke", lease)
        _, err = r.communicate(timeout=30)
        assert r.returncode == 0, err
        _, err = p.communicate(timeout=60)
        assert p.returncode == 128 + signal.SIGTERM, err
        assert 'warning: lock "r" was broken by someone else; ending the command (--on-lost term)' in err, err
        assert not pid_alive(cmd)
    finally:
        finish(p)
    assert [e for e in audit_events(etcd, "g3") if e["event"] == "lost" and e["name"] == "r"]


def test_on_lost_warn_lets_the_command_run_on(lokt, etcd, tmp_path):
    url = etcd.url("g4")
    p, d = start_guard(lokt, url, tmp_path, "w", "--on-lost", "warn")
    try:
        wait_started(p, d)
        lease = etcd.keys("g4/w/")[0].rsplit("/", 1)[1]
        etcd.etcdctl("lease", "revoke", lease).communicate(timeout=30)
        wait_for(lambda: [e for e in audit_events(etcd, "g4") if e["event"] == "lost"], timeout=30,
                 what="the loss to be audited")
        assert p.poll() is None
        (d / "go").touch()
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert 'the command keeps running without it' in err, err
    finally:
        finish(p)


def test_a_stopped_supervisor_loses_its_lock_to_the_next_holder(lokt, etcd, tmp_path):
    url = etcd.url("g5")
    run = on(lokt, url)
    p, d = start_guard(lokt, url, tmp_path, "s")
    sup = None
    try:
        fence = wait_started(p, d)
        sup = json.loads(run("status", "s", "--json").stdout)["pid"]
        os.kill(sup, signal.SIGSTOP)
        # No keepalives: etcd expires the lease, and the lock is someone else's.
        wait_for(lambda: run("lock", "s", owner="next").returncode == 0, timeout=60, interval=0.2,
                 what="the stopped guard's lease to expire")
        assert json.loads(run("status", "s", "--json").stdout)["fence"] > fence
        os.kill(sup, signal.SIGCONT)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 128 + signal.SIGTERM, err
        assert 'warning: lock "s" was broken by someone else' in err, err
        # The new holder's lock is left alone.
        assert json.loads(run("status", "s", "--json").stdout)["owner"] == "next"
    finally:
        if sup:
            try:
                os.kill(sup, signal.SIGCONT)
            except ProcessLookupError:
                pass
        finish(p)


def test_the_shim_guards_a_matching_command_on_etcd(lokt, etcd, shim, tmp_path):
    url = etcd.url("g6")
    shim.rules("git-push : fake-git push *\n")
    hold = tmp_path / "hold"
    p = shim.start("fake-git", "push", "origin", TOOL_HOLD=hold, LOKT_BACKEND=url)
    try:
        wait_for(lambda: os.path.exists(f"{hold}.started") or p.poll() is not None, timeout=30,
                 what="the tool to start")
        assert p.poll() is None, p.communicate()
        # Held on etcd by the shim's guard, not in the files.
        st = json.loads(on(lokt, url)("status", "git-push", "--json").stdout)
        assert (st["kind"], st["fence"] > 0) == ("shim", True), st
        assert lokt.read_lock("git-push") is None
        hold.touch()
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    finally:
        finish(p)
    rec = shim.records()[0]
    assert rec["held"].startswith("git-push:"), rec
    assert not etcd.keys("g6/git-push/")


def test_a_front_that_takes_over_keeps_the_short_lease_alive(lokt, etcd, tmp_path):
    """Without --ttl the lock sits on a 5 s lease the supervisor keeps alive. When the supervisor
    dies, the front tears the tree down through the --kill-after grace and keeps that lease alive
    meanwhile: nobody gets the lock while a process of the guarded tree lives."""
    url = etcd.url("g7")
    run = on(lokt, url)
    d = tmp_path / "t"
    d.mkdir()
    # A process of the command's group that ignores SIGTERM: the front waits --kill-after for it.
    script = (f'sh -c \'trap "" TERM; echo $$ > {d}/left; while :; do sleep 0.1; done\' & '
              f'echo started > {d}/started; wait')
    p = lokt.start("guard", "t", "--kill-after", "9s", "--", "sh", "-c", script,
                   env=lokt.env(owner="g", LOKT_BACKEND=url), start_new_session=True)
    try:
        wait_for(lambda: (d / "left").exists() or p.poll() is not None, timeout=30, what="the command to start")
        assert p.poll() is None, p.communicate()
        sup = json.loads(run("status", "t", "--json").stdout)["pid"]
        os.kill(sup, signal.SIGKILL)
        killed = time.monotonic()
        # Past the lease's 5 s (and etcd's expiry check) the lock must still be the tree's.
        while time.monotonic() - killed < KEPT_TTL + 2:
            r = run("lock", "t", owner="other")
            assert r.returncode == 2, (r.returncode, r.stderr)
            time.sleep(0.25)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 128 + signal.SIGKILL, err
        assert not pid_alive(int((d / "left").read_text()))
        # The front released the lock on its way out.
        assert run("lock", "t", owner="other").returncode == 0
    finally:
        # On failure the leftover would outlive the front and hold its output pipes open.
        if (d / "left").exists():
            try:
                os.kill(int((d / "left").read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        finish(p)
