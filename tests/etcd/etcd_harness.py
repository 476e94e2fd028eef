"""An etcd of its own for a test: one member on 127.0.0.1 with random free ports and a temp
data dir, or a three-member cluster likewise (used by tests/etcd, the integration tests of the
etcd backend and scripts/bench_etcd.sh). etcd and etcdctl come from scripts/install-deps.sh,
so a missing binary fails the test."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import json
import urllib.request

import pytest


def healthy(url, context=None):
    """True if the etcd member at `url` (http:// or https://) answers /health with true."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1, context=context) as r:
            return b"true" in r.read()
    except OSError:
        return False


def terminate(proc):
    """Stops an etcd process: SIGTERM, then SIGKILL if it is not gone within 10 s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    def __init__(self):
        assert shutil.which("etcd"), "etcd missing: run scripts/install-deps.sh"
        self.dir = tempfile.mkdtemp(prefix="lokt-etcd-py-")
        self.proc = None
        self.clients = []  # etcdctl processes, killed at teardown even when a test fails
        # free_port() only finds a port that was free a moment ago: a test running beside us
        # may bind it first. That shows as etcd exiting on "address already in use": new ports.
        for attempt in range(5):
            self.port, self.peer = free_port(), free_port()
            if self.start(retry_on_busy_port=attempt < 4):
                break

    def start(self, retry_on_busy_port=False):
        """Starts etcd on self.port/self.peer and waits until it is healthy; False (nothing
        left running) when it exited because a port was taken and retry_on_busy_port is set."""
        c, p = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{self.peer}"
        self.log = open(os.path.join(self.dir, "log"), "ab")
        self.proc = subprocess.Popen(
            ["etcd", "--name", "t", "--data-dir", os.path.join(self.dir, "data"),
             "--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", p,
             "--initial-advertise-peer-urls", p, "--initial-cluster", f"t={p}",
             "--initial-cluster-state", "new"], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while True:
            if healthy(c):
                return True
            if self.proc.poll() is not None:
                self.log.close()
                with open(os.path.join(self.dir, "log"), "rb") as f:
                    busy = b"address already in use" in f.read()
                if retry_on_busy_port and busy:
                    # The next attempt starts from nothing: no half-made member, no old log.
                    shutil.rmtree(os.path.join(self.dir, "data"), ignore_errors=True)
                    os.unlink(os.path.join(self.dir, "log"))
                    return False
                raise AssertionError("etcd exited on start")
            assert time.monotonic() < deadline, "etcd did not become healthy"
            time.sleep(0.02)

    def stop(self):
        terminate(self.proc)
        self.log.close()

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.port}"

    def url(self, prefix="lokt"):
        return f"etcd://{self.endpoint}/{prefix}"

    def etcdctl(self, *args, **kw):
        env = dict(os.environ, ETCDCTL_API="3")
        p = subprocess.Popen(["etcdctl", "--endpoints", self.endpoint, *args], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        self.clients.append(p)
        return p

    def keys(self, prefix):
        p = self.etcdctl("get", "--prefix", "--keys-only", prefix)
        out, _ = p.communicate(timeout=30)
        return [k for k in out.split("\n") if k]


@pytest.fixture
def etcd():
    e = Etcd()
    yield e
    for c in e.clients:
        if c.poll() is None:
            c.kill()
        c.wait()
    e.stop()
    shutil.rmtree(e.dir, ignore_errors=True)


class Cluster:
    """Three etcd members on loopback, each with a client and a peer port of its own."""

    def __init__(self):
        assert shutil.which("etcd"), "etcd missing: run scripts/install-deps.sh"
        self.dir = tempfile.mkdtemp(prefix="lokt-etcd-cluster-")
        self.procs = []
        for _ in range(5):  # a port found free may be taken by a test beside us: new ports
            if self.start():
                return
            self.stop_all()
        raise AssertionError("the etcd cluster did not start")

    def start(self):
        self.clients = [free_port() for _ in range(3)]
        peers = [free_port() for _ in range(3)]
        initial = ",".join(f"m{i}=http://127.0.0.1:{peers[i]}" for i in range(3))
        self.procs, self.logs = [], []
        for i in range(3):
            c, p = f"http://127.0.0.1:{self.clients[i]}", f"http://127.0.0.1:{peers[i]}"
            data = os.path.join(self.dir, f"m{i}")
            shutil.rmtree(data, ignore_errors=True)
            log = open(os.path.join(self.dir, f"m{i}.log"), "wb")
            self.logs.append(log)
            self.procs.append(subprocess.Popen(
                ["etcd", "--name", f"m{i}", "--data-dir", data, "--listen-client-urls", c,
                 "--advertise-client-urls", c, "--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
                 "--initial-cluster", initial, "--initial-cluster-state", "new",
                 "--initial-cluster-token", os.path.basename(self.dir)], stdout=log, stderr=log))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                return False
            if all(healthy(f"http://127.0.0.1:{port}") for port in self.clients):
                return True
            time.sleep(0.05)
        return False

    def url(self, prefix):
        return "etcd://" + ",".join(f"127.0.0.1:{port}" for port in self.clients) + "/" + prefix

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait()

    def stop_all(self):
        for p in self.procs:
            terminate(p)
        for log in self.logs:
            log.close()


def leader_index(cluster):
    """Which member of `cluster` leads now (asked of each live member in turn)."""
    for i, port in enumerate(cluster.clients):
        if cluster.procs[i].poll() is not None:
            continue
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v3/maintenance/status", data=b"{}",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                st = json.load(r)
        except OSError:
            continue
        if st.get("leader") and st["leader"] == st["header"]["member_id"]:
            return i
    raise AssertionError("no member says it leads")


@pytest.fixture
def cluster():
    c = Cluster()
    yield c
    c.stop_all()
    shutil.rmtree(c.dir, ignore_errors=True)
