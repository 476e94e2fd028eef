"""An etcd of its own for a test: one member on 127.0.0.1 with random free ports and a temp
data dir (used by tests/etcd and by the integration tests of the etcd backend). etcd and
etcdctl come from scripts/install-deps.sh, so a missing binary fails the test."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    def __init__(self):
        assert shutil.which("etcd"), "etcd missing: run scripts/install-deps.sh"
        self.dir = tempfile.mkdtemp(prefix="lokt-etcd-py-")
        self.port, self.peer = free_port(), free_port()
        self.proc = None
        self.clients = []  # etcdctl processes, killed at teardown even when a test fails
        self.start()

    def start(self):
        c, p = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{self.peer}"
        self.log = open(os.path.join(self.dir, "log"), "ab")
        self.proc = subprocess.Popen(
            ["etcd", "--name", "t", "--data-dir", os.path.join(self.dir, "data"),
             "--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", p,
             "--initial-advertise-peer-urls", p, "--initial-cluster", f"t={p}",
             "--initial-cluster-state", "new"], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{c}/health", timeout=1) as r:
                    if b"true" in r.read():
                        return
            except OSError:
                pass
            assert self.proc.poll() is None, "etcd exited on start"
            assert time.monotonic() < deadline, "etcd did not become healthy"
            time.sleep(0.02)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
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
