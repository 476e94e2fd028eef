"""`lokt shim --seccomp` on the etcd backend: each test starts its own etcd on 127.0.0.1
(random ports). Matching execs take etcd locks (FIFO among every waiter, with fences), each
on a lease the supervisor keeps alive, released when the process exits; a lost lease ends
the tool as a guard's --on-lost term does."""
import json
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "etcd"))
from etcd_harness import etcd  # noqa: E402,F401 (a fixture)
from seccomp_fixtures import finish, sc, targets, touch  # noqa: E402,F401 (fixtures)

from conftest import wait_for  # noqa: E402
from test_etcd_backend import on  # noqa: E402
from test_etcd_guard import audit_events  # noqa: E402

EAGAIN = 11


def start_shim(sc, url, until, owner="agent-a", *cmd):
    """Runs fake-terraform apply under `lokt shim --seccomp` on `url` in a session of its
    own; the tool holds until FAKE_DIR/`until` exists."""
    cmd = cmd or (sc.t["fake-terraform"], "apply")
    return sc.lokt.start(*sc.argv(cmd), owner=owner, env=sc.env(LOKT_BACKEND=url, FAKE_UNTIL=until),
                         start_new_session=True)


def tool_pids(sc):
    return [int(line[0]) for line in sc.log()]


def kill_group(*procs):
    for p in procs:
        if p and p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        if p:
            p.communicate()


def let_finish(sc, p, until):
    """Lets the tool of `p` (waiting for FAKE_DIR/`until`) end; `p` must then exit 0."""
    touch(sc.path(until))
    rc, _, err = finish(p)
    assert rc == 0, err


def acquires(sc, url, name="terraform"):
    """The acquire events `lokt audit` shows (it reads each fence back from etcd)."""
    r = on(sc.lokt, url)("audit", "--json", "--name", name, "--event", "acquire")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def test_two_seccomp_shims_on_one_etcd_take_turns(sc, etcd):
    url = etcd.url("s1")
    a = start_shim(sc, url, "done-a", "agent-a")
    b = None
    try:
        wait_for(lambda: len(tool_pids(sc)) == 1, timeout=30, what="the first tool to run")
        first = tool_pids(sc)[0]
        st = json.loads(on(sc.lokt, url)("status", "terraform", "--json").stdout)
        assert (st["pid"], st["kind"], st["owner"]) == (first, "shim", "agent-a")
        assert sc.lokt.read_lock("terraform") is None  # nothing went to the files

        b = start_shim(sc, url, "done-b", "agent-b")
        wait_for(lambda: len(etcd.keys("s1/terraform/")) == 2, timeout=30, what="the second exec to queue")
        assert len(tool_pids(sc)) == 1  # it waits in the exec, before the tool starts

        let_finish(sc, a, "done-a")
        wait_for(lambda: len(tool_pids(sc)) == 2, timeout=30, what="the second tool to run")
        let_finish(sc, b, "done-b")
    finally:
        kill_group(a, b)
    assert not os.path.exists(sc.path("overlap"))
    wait_for(lambda: not etcd.keys("s1/terraform/"), timeout=30, what="the locks to go")
    got = acquires(sc, url)
    assert [e["owner"] for e in got] == ["agent-a", "agent-b"]
    assert got[0]["extra"]["fence"] < got[1]["extra"]["fence"]
    released = [e for e in audit_events(etcd, "s1") if e["event"] == "release" and e["name"] == "terraform"]
    assert len(released) == 2


def test_a_seccomp_shim_and_a_guard_exclude_each_other(sc, etcd):
    url = etcd.url("s2")
    run = on(sc.lokt, url)
    guard = sc.lokt.start("guard", "terraform", "--", "sh", "-c",
                          f"touch {sc.path('guard-in')}; while [ ! -e {sc.path('guard-go')} ]; do sleep 0.02; done",
                          owner="human", env={"LOKT_BACKEND": url}, start_new_session=True)
    shim = None
    try:
        wait_for(lambda: os.path.exists(sc.path("guard-in")), timeout=30, what="the guard to hold")
        shim = start_shim(sc, url, "done")
        wait_for(lambda: len(etcd.keys("s2/terraform/")) == 2, timeout=30, what="the shim's exec to queue")
        assert tool_pids(sc) == []
        touch(sc.path("guard-go"))
        _, err = guard.communicate(timeout=60)
        assert guard.returncode == 0, err
        wait_for(lambda: len(tool_pids(sc)) == 1, timeout=30, what="the tool to run")
        # Now the shim's tool holds: a guard is refused with the usual message.
        r = run("guard", "terraform", "--", "true", owner="human")
        assert r.returncode == 2
        assert r.stderr.startswith('error: lock "terraform" held by agent-a@'), r.stderr
        let_finish(sc, shim, "done")
    finally:
        kill_group(guard, shim)
    wait_for(lambda: not etcd.keys("s2/terraform/"), timeout=30, what="the lock to go")


def test_the_lock_goes_when_the_shimmed_agent_is_killed(sc, etcd):
    url = etcd.url("s3")
    p = start_shim(sc, url, "never")
    try:
        wait_for(lambda: len(tool_pids(sc)) == 1, timeout=30, what="the tool to run")
        assert len(etcd.keys("s3/terraform/")) == 1
        # Supervisor and tool die at once: nobody releases, the lease expires by itself.
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        wait_for(lambda: not etcd.keys("s3/terraform/"), timeout=30, what="the lease to expire")
        assert on(sc.lokt, url)("lock", "terraform", owner="next").returncode == 0
    finally:
        kill_group(p)


def test_a_lost_lease_ends_the_tool_and_is_audited(sc, etcd):
    url = etcd.url("s4")
    p = start_shim(sc, url, "never")
    try:
        wait_for(lambda: len(tool_pids(sc)) == 1, timeout=30, what="the tool to run")
        key = etcd.keys("s4/terraform/")[0]
        # The lease behind the key (its name, in hex) ends as if etcd had expired it.
        revoke = etcd.etcdctl("lease", "revoke", key.rsplit("/", 1)[1])
        _, err = revoke.communicate(timeout=30)
        assert revoke.returncode == 0, err
        rc, _, err = finish(p, timeout=60)
        assert rc == 128 + signal.SIGTERM, err
        assert 'lock "terraform" held for pid' in err and "was lost; ending it (SIGTERM)" in err, err
    finally:
        kill_group(p)
    lost = [e for e in audit_events(etcd, "s4") if e["event"] == "lost"]
    assert lost and lost[0]["name"] == "terraform" and lost[0]["pid"] == tool_pids(sc)[0]


@pytest.mark.parametrize("wait", ["0", "300ms"])
def test_a_refused_exec_on_etcd_fails_with_eagain_and_the_holder(sc, etcd, wait):
    url = etcd.url("s5")
    sc.write_rules(f"terraform wait={wait} : fake-terraform apply *\n")
    assert on(sc.lokt, url)("lock", "terraform", owner="human").returncode == 0
    r = sc.run(sc.t["probe"], "raw", sc.t["fake-terraform"], "apply", LOKT_BACKEND=url)
    assert r.returncode == 42, r.stderr
    assert f"exec-errno={EAGAIN}" in r.stderr
    waited = "timed out after 300ms waiting: " if wait != "0" else ""
    assert f'lokt: fake-terraform needs lock "terraform": {waited}lock "terraform" held by human' in r.stderr, r.stderr
    assert not sc.log()
    events = [e["event"] for e in audit_events(etcd, "s5") if e["name"] == "terraform"]
    assert events[-1] == "deny", events
    # Our queued key (if any) left with the refusal: only the holder's remains.
    assert len(etcd.keys("s5/terraform/")) == 1


def test_a_shared_rule_on_etcd_lets_tools_run_together_and_keeps_exclusive_out(sc, etcd):
    url = etcd.url("s6")
    run = on(sc.lokt, url)
    sc.write_rules("terraform shared : fake-terraform apply *\n")
    a = start_shim(sc, url, "done-a", "agent-a")
    b = None
    try:
        wait_for(lambda: len(tool_pids(sc)) == 1, timeout=30, what="the first tool to run")
        b = start_shim(sc, url, "done-b", "agent-b")
        # Both hold "terraform" on etcd at once: shared holders do not wait for each other.
        wait_for(lambda: len(tool_pids(sc)) == 2, timeout=30, what="the second tool to run beside the first")
        assert len(etcd.keys("s6/terraform/")) == 2
        # An exclusive request is refused while they hold, and names one of them.
        r = run("lock", "terraform", owner="human")
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith('error: lock "terraform" held by agent-'), r.stderr
        let_finish(sc, a, "done-a")
        let_finish(sc, b, "done-b")
    finally:
        kill_group(a, b)
    wait_for(lambda: not etcd.keys("s6/terraform/"), timeout=30, what="the locks to go")
    got = acquires(sc, url)
    assert sorted(e["owner"] for e in got) == ["agent-a", "agent-b"]
    assert all(e["extra"]["mode"] == "shared" for e in got), got
    assert run("lock", "terraform", owner="human").returncode == 0
