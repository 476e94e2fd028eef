"""The etcd backend against a three-member cluster on 127.0.0.1 (random ports): lokt is given
every member, and a member that dies — the one lokt talks to first included — changes nothing
for a lock taken before, for new commands, or for a guard holding its lock meanwhile."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "etcd"))
from etcd_harness import cluster  # noqa: E402,F401 (a fixture)

from conftest import wait_for  # noqa: E402
from test_etcd_guard import finish, start_guard, wait_started  # noqa: E402


def test_a_dead_member_changes_nothing_for_locks_and_commands(lokt, cluster):
    env = lokt.env(owner="a", LOKT_BACKEND=cluster.url("c1"))
    assert lokt.run("lock", "deploy", "--ttl", "10m", env=env).returncode == 0
    fence = json.loads(lokt.run("status", "deploy", "--json", env=env).stdout)["fence"]
    cluster.kill(0)  # the member lokt tries first
    st = json.loads(lokt.run("status", "deploy", "--json", env=env).stdout)
    assert (st["owner"], st["fence"]) == ("a", fence)
    r = lokt.run("lock", "deploy", env=dict(env, LOKT_OWNER="b"))
    assert r.returncode == 2 and "held by a@" in r.stderr, r.stderr
    assert lokt.run("unlock", "deploy", env=env).returncode == 0
    r = lokt.run("guard", "deploy", "--", "sh", "-c", 'echo "$LOKT_FENCE"', env=dict(env, LOKT_OWNER="b"))
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) > fence


def test_a_guard_keeps_its_lock_when_its_member_dies(lokt, cluster, tmp_path):
    url = cluster.url("c2")
    p, d = start_guard(lokt, url, tmp_path, "build")
    try:
        wait_started(p, d)
        cluster.kill(0)
        # Longer than the kept lease (5 s): only a keepalive through another member holds it.
        env = lokt.env(owner="other", LOKT_BACKEND=url)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            r = lokt.run("lock", "build", env=env)
            assert r.returncode == 2, (r.stdout, r.stderr)
            assert p.poll() is None
            time.sleep(0.5)
        (d / "go").touch()
        assert p.wait(timeout=30) == 0, p.communicate()
        wait_for(lambda: lokt.run("exists", "build", env=env).returncode == 3, timeout=30,
                 what="the released lock to go")
    finally:
        finish(p)
