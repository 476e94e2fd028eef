"""The etcd backend across machines, as far as one machine can show it: agents on two "hosts"
(each its own network and UTS namespace, with its own hostname, joined by a veth pair) share
one lock; and a three-member cluster whose leader is killed in the middle of an 8-agent
contention run keeps exclusion, fences and releases."""
import json
import os
import secrets
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "etcd"))
from etcd_harness import cluster, leader_index  # noqa: E402,F401 (cluster is a fixture)

from conftest import wait_for  # noqa: E402

ETCD_ADDR = "10.231.7.1"  # only inside the namespaces the test makes
AGENT_ADDR = "10.231.7.2"


class TwoHosts:
    """Network namespaces A (with etcd on ETCD_ADDR) and B, joined by a veth pair; commands run
    in one of them inside a UTS namespace of their own with that host's name. Removing the
    namespaces removes the veth pair with them."""

    def __init__(self, tmp_path):
        tag = secrets.token_hex(3)
        self.ns = {"a": f"lokt-t-{tag}-a", "b": f"lokt-t-{tag}-b"}
        self.hostname = {"a": f"lokt-host-a-{tag}", "b": f"lokt-host-b-{tag}"}
        self.procs = []
        self.etcd = None
        self.dir = tmp_path / "etcd"
        try:
            self._link(tag)
            self._start_etcd()
        except BaseException:
            self.close()
            raise

    def _sh(self, *argv):
        subprocess.run(argv, check=True, capture_output=True, timeout=30)

    def _link(self, tag):
        for ns in self.ns.values():
            self._sh("ip", "netns", "add", ns)
        # Interface names have at most 15 characters.
        self._sh("ip", "link", "add", f"lk{tag}a", "netns", self.ns["a"], "type", "veth",
                 "peer", "name", f"lk{tag}b", "netns", self.ns["b"])
        for side, addr in (("a", ETCD_ADDR), ("b", AGENT_ADDR)):
            self._sh("ip", "-n", self.ns[side], "addr", "add", f"{addr}/30", "dev", f"lk{tag}{side}")
            self._sh("ip", "-n", self.ns[side], "link", "set", f"lk{tag}{side}", "up")
            self._sh("ip", "-n", self.ns[side], "link", "set", "lo", "up")

    def _start_etcd(self):
        self.dir.mkdir()
        c, p = f"http://{ETCD_ADDR}:2379", "http://127.0.0.1:2380"
        self.log = open(self.dir / "log", "wb")
        self.etcd = subprocess.Popen(
            ["ip", "netns", "exec", self.ns["a"], "etcd", "--name", "t", "--data-dir", str(self.dir / "data"),
             "--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", p,
             "--initial-advertise-peer-urls", p, "--initial-cluster", f"t={p}",
             "--initial-cluster-state", "new"], stdout=self.log, stderr=self.log)
        # Healthy as seen from the other host, through the veth pair.
        wait_for(lambda: self.etcdctl("b", "endpoint", "health").returncode == 0 or self.etcd.poll() is not None,
                 timeout=30, interval=0.05, what="etcd in namespace A")
        assert self.etcd.poll() is None, (self.dir / "log").read_text()

    def etcdctl(self, side, *args):
        return subprocess.run(["ip", "netns", "exec", self.ns[side], "etcdctl", "--endpoints",
                               f"{ETCD_ADDR}:2379", *args], env=dict(os.environ, ETCDCTL_API="3"),
                              capture_output=True, text=True, timeout=30)

    def keys(self, prefix):
        return [k for k in self.etcdctl("a", "get", "--prefix", "--keys-only", prefix).stdout.split("\n") if k]

    def argv(self, side, lokt_argv):
        """`lokt_argv` run on host `side`: its network namespace, its own hostname."""
        return ["ip", "netns", "exec", self.ns[side], "unshare", "--uts", "sh", "-c",
                'hostname "$0" && exec "$@"', self.hostname[side], *lokt_argv]

    def run(self, side, lokt, *args, owner):
        env = lokt.env(owner=owner, LOKT_BACKEND=f"etcd://{ETCD_ADDR}:2379/hosts")
        return subprocess.run(self.argv(side, [lokt.bin, *args]), env=env, cwd=lokt.cwd, capture_output=True,
                              text=True, timeout=60)

    def start(self, side, lokt, *args, owner):
        env = lokt.env(owner=owner, LOKT_BACKEND=f"etcd://{ETCD_ADDR}:2379/hosts")
        p = subprocess.Popen(self.argv(side, [lokt.bin, *args]), env=env, cwd=lokt.cwd, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
        if self.etcd and self.etcd.poll() is None:
            self.etcd.terminate()
            try:
                self.etcd.wait(10)
            except subprocess.TimeoutExpired:
                self.etcd.kill()
                self.etcd.wait()
        if self.etcd:
            self.log.close()
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def hosts(tmp_path):
    h = TwoHosts(tmp_path)
    yield h
    h.close()


def held_command(d, tag):
    """A guarded command that appends `start TAG FENCE` to d/order, then waits for d/go-TAG."""
    return ["sh", "-c", f'echo "start {tag} $LOKT_FENCE" >> {d}/order; '
                        f'while [ ! -e {d}/go-{tag} ]; do sleep 0.02; done; echo "end {tag}" >> {d}/order']


def order(d):
    path = d / "order"
    return [l.split() for l in path.read_text().splitlines()] if path.exists() else []


def test_two_hosts_exclude_each_other_in_fifo_order_with_increasing_fences(lokt, hosts, tmp_path):
    d = tmp_path
    first = hosts.start("a", lokt, "guard", "deploy", "--", *held_command(d, "a1"), owner="ann")
    wait_for(lambda: order(d) or first.poll() is not None, timeout=30, what="host A's guard to start")
    assert first.poll() is None, first.communicate()

    # Host B sees host A's holder, and is refused while it holds.
    st = json.loads(hosts.run("b", lokt, "status", "deploy", "--json", owner="bob").stdout)
    assert (st["owner"], st["host"]) == ("ann", hosts.hostname["a"]), st
    r = hosts.run("b", lokt, "guard", "deploy", "--", "true", owner="bob")
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f'error: lock "deploy" held by ann@{hosts.hostname["a"]}'), r.stderr

    # B queues first, then another agent on A: they run in that order.
    second = hosts.start("b", lokt, "guard", "deploy", "--wait", "--timeout", "60s", "--",
                         *held_command(d, "b1"), owner="bob")
    wait_for(lambda: len(hosts.keys("hosts/deploy/")) == 2, timeout=30, what="host B to queue")
    third = hosts.start("a", lokt, "guard", "deploy", "--wait", "--timeout", "60s", "--",
                        *held_command(d, "a2"), owner="ann")
    wait_for(lambda: len(hosts.keys("hosts/deploy/")) == 3, timeout=30, what="host A's second agent to queue")

    (d / "go-a1").touch()
    wait_for(lambda: len(order(d)) >= 3, timeout=30, what="host B's command to start")
    # Host A sees host B's holder.
    st = json.loads(hosts.run("a", lokt, "status", "deploy", "--json", owner="ann").stdout)
    assert (st["owner"], st["host"]) == ("bob", hosts.hostname["b"]), st
    (d / "go-b1").touch()
    (d / "go-a2").touch()
    for p in (first, second, third):
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err

    lines = order(d)
    assert [(l[0], l[1]) for l in lines] == [("start", "a1"), ("end", "a1"), ("start", "b1"), ("end", "b1"),
                                             ("start", "a2"), ("end", "a2")], lines
    fences = [int(l[2]) for l in lines if l[0] == "start"]
    assert fences == sorted(set(fences)), fences
    wait_for(lambda: not hosts.keys("hosts/deploy/"), timeout=30, what="the last holder to let go")


def test_killing_the_leader_during_contention_keeps_exclusion_and_releases_every_lock(lokt, cluster, tmp_path):
    agents, rounds = 8, 3
    log = tmp_path / "log"
    url = cluster.url("lead")
    # Each run appends `start FENCE` and `end FENCE`; a second holder would interleave them.
    cmd = f'echo "start $LOKT_FENCE" >> {log}; sleep 0.05; echo "end $LOKT_FENCE" >> {log}'
    script = (f'for i in $(seq {rounds}); do "$0" guard -q --wait x --timeout 60s -- sh -c \'{cmd}\' '
              f'|| echo "failed $?" >> {log}; done')
    procs = [subprocess.Popen(["sh", "-c", script, lokt.bin], env=lokt.env(owner=f"agent{i}", LOKT_BACKEND=url),
                              cwd=lokt.cwd, start_new_session=True, stderr=subprocess.PIPE, text=True)
             for i in range(agents)]
    try:
        def starts():
            return sum(1 for l in log.read_text().splitlines() if l.startswith("start")) if log.exists() else 0
        wait_for(lambda: starts() >= 4, timeout=30, what="the contention run to get going")
        cluster.kill(leader_index(cluster))
        errors = []
        for p in procs:
            _, err = p.communicate(timeout=60)
            errors.append(err)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
    lines = [l.split() for l in log.read_text().splitlines()]
    assert not [l for l in lines if l[0] == "failed"], (lines, errors)
    assert len(lines) == 2 * agents * rounds, lines
    # Zero overlaps: every start is followed by its own end before the next start.
    for s, e in zip(lines[0::2], lines[1::2]):
        assert (s[0], e[0], s[1]) == ("start", "end", e[1]), lines
    fences = [int(l[1]) for l in lines[0::2]]
    assert fences == sorted(set(fences)), fences
    # Every lock was released: nothing is left under the prefix (read through a live member).
    env = lokt.env(owner="check", LOKT_BACKEND=url)
    wait_for(lambda: lokt.run("exists", "x", env=env).returncode == 3, timeout=30, what="the last lock to go")
    r = lokt.run("status", "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout) == [], r.stdout
