"""Multi-process tests of the etcd engine: each test starts its own etcd on 127.0.0.1 (random
free ports, temp data dir) and drives lokt_etcd_probe ($LOKT_ETCD_PROBE) and etcdctl.
etcd and etcdctl come from scripts/install-deps.sh, so a missing binary fails the test."""
import os
import select
import signal
import subprocess
import time

import pytest

from etcd_harness import etcd  # noqa: F401 (a fixture)

PROBE = os.environ.get("LOKT_ETCD_PROBE", "")


class Probe:
    """A running lokt_etcd_probe; read lines with a deadline."""

    def __init__(self, *args):
        assert PROBE and os.access(PROBE, os.X_OK), "LOKT_ETCD_PROBE must name the built probe"
        self.p = subprocess.Popen([PROBE, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.buf = ""

    def line(self, timeout=30):
        deadline = time.monotonic() + timeout
        while "\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, f"no line from probe; so far {self.buf!r}"
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 4096).decode()
                assert chunk, f"probe exited ({self.p.wait()}): {self.p.stderr.read()}"
                self.buf += chunk
        line, self.buf = self.buf.split("\n", 1)
        return line

    def expect(self, word, timeout=30):
        line = self.line(timeout)
        assert line.split(" ")[0] == word, line
        return line.split(" ")[1:]

    def release(self):
        self.p.stdin.write("release\n")
        self.p.stdin.flush()
        return self.expect("released")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


@pytest.fixture
def probes():
    started = []

    def start(*args):
        p = Probe(*args)
        started.append(p)
        return p

    yield start
    for p in started:
        try:
            os.kill(p.p.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        p.kill()


def test_exclusion_and_increasing_fences_under_contention(etcd, tmp_path):
    log = tmp_path / "log"
    procs = [subprocess.Popen([PROBE, etcd.url(), "cycle", "x", "5", "6", str(log), str(i)])
             for i in range(4)]
    for p in procs:
        assert p.wait(120) == 0
    lines = [l.split() for l in log.read_text().splitlines()]
    assert len(lines) == 4 * 6 * 2
    fences = []
    for enter, leave in zip(lines[0::2], lines[1::2]):
        # Every enter is followed by the same holder's leave: no two inside at once.
        assert enter[0] == "enter" and leave[0] == "leave" and enter[1:3] == leave[1:3], (enter, leave)
        fences.append(int(enter[2]))
    assert fences == sorted(fences) and len(set(fences)) == len(fences)


def test_strict_fifo_with_several_waiters(etcd, probes):
    holder = probes(etcd.url(), "lock", "q", "10")
    last = int(holder.expect("acquired")[0])
    waiters = []
    for _ in range(4):
        w = probes(etcd.url(), "lock", "q", "10")
        w.expect("queued")  # enqueued before the next one starts: the arrival order is known
        waiters.append(w)
    holder.release()
    for i, w in enumerate(waiters):
        fence = int(w.expect("acquired")[0])
        assert fence > last
        last = fence
        for later in waiters[i + 1:]:  # nobody behind has acquired meanwhile
            assert "\n" not in later.buf and not select.select([later.p.stdout], [], [], 0)[0]
        w.release()


def test_etcdctl_lock_waits_for_lokt_holder(etcd, probes):
    ours = probes(etcd.url(), "lock", "shared", "10")
    fence = int(ours.expect("acquired")[0])
    theirs = etcd.etcdctl("lock", "lokt/shared", "--", "sh", "-c", "echo rev=$ETCD_LOCK_REV")
    deadline = time.monotonic() + 30
    while len(etcd.keys("lokt/shared/")) < 2:  # etcdctl queued behind us
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert theirs.poll() is None
    assert ours.release() == ["1"]
    out, err = theirs.communicate(timeout=30)
    assert theirs.returncode == 0, err
    assert int(out.split("rev=")[1]) > fence


def test_lokt_waits_for_etcdctl_holder(etcd, probes, tmp_path):
    go = tmp_path / "go"
    theirs = etcd.etcdctl("lock", "lokt/shared", "--", "sh", "-c",
                          f"echo held; while [ ! -e {go} ]; do sleep 0.02; done")
    assert theirs.stdout.readline().strip() == "held"
    busy = probes(etcd.url(), "lock", "shared", "10", "try")
    assert busy.expect("busy")[1] == "foreign"
    assert busy.p.wait(30) == 2
    ours = probes(etcd.url(), "lock", "shared", "10")
    ours.expect("queued")
    go.touch()
    assert theirs.wait(30) == 0
    ours.expect("acquired")
    assert ours.release() == ["1"]


def test_stopped_holder_loses_to_waiter_and_detects_loss(etcd, probes):
    holder = probes(etcd.url(), "lock", "s", "2")
    first = int(holder.expect("acquired")[0])
    waiter = probes(etcd.url(), "lock", "s", "2")
    waiter.expect("queued")
    os.kill(holder.p.pid, signal.SIGSTOP)
    second = int(waiter.expect("acquired", timeout=60)[0])  # after the 2 s lease expired
    assert second > first
    os.kill(holder.p.pid, signal.SIGCONT)
    assert holder.line().startswith("lost ")
    assert holder.p.wait(30) == 3
    assert waiter.release() == ["1"]


def test_etcd_down_is_a_clear_error_and_back_works(etcd, probes):
    etcd.stop()
    p = subprocess.run([PROBE, etcd.url(), "lock", "d", "5"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert p.stderr.startswith(f"error: lock backend etcd://{etcd.endpoint} unreachable: "), p.stderr
    assert p.stderr.count("\n") == 1
    etcd.start()
    assert etcd.keys("lokt/") == []  # nothing was claimed
    ok = probes(etcd.url(), "lock", "d", "5")
    ok.expect("acquired")
    assert ok.release() == ["1"]
