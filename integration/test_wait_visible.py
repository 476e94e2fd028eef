"""Waiting is visible (issue 10 §1): a status line on a terminal, rewritten in place and erased
before the command starts; periodic whole lines otherwise, then "lokt: acquired"; a cancelled
wait says so; every wait that blocked ends with a `wait` audit event; -q is silent."""
import contextlib
import os
import select
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from conftest import wait_for  # noqa: E402
from test_guard_tty import Pty  # noqa: E402

ERASE = b"\r\x1b[K"


@contextlib.contextmanager
def held(lokt, tmp_path, name="x", owner="agent-1"):
    """A guard holds NAME until the yielded file exists (created at the end in any case)."""
    go = tmp_path / f"go-{name}"
    p = lokt.start("guard", name, "--", "sh", "-c", f"while [ ! -e {go} ]; do sleep 0.02; done",
                   owner=owner)
    try:
        wait_for(lambda: lokt.read_lock(name), what="the holder's lock")
        yield go
    finally:
        go.touch()
        p.wait(30)


class Lines:
    """Reads a child's stderr pipe line by line, with deadlines."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""

    def until(self, pred, timeout=30):
        deadline = time.monotonic() + timeout
        while not pred(self.lines()):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; stderr so far {self.buf!r}")
            if select.select([self.proc.stderr], [], [], left)[0]:
                chunk = os.read(self.proc.stderr.fileno(), 4096)
                if not chunk:
                    raise AssertionError(f"EOF; stderr {self.buf!r}")
                self.buf += chunk
        return self.lines()

    def rest(self, timeout=60):
        self.proc.wait(timeout)
        self.buf += self.proc.stderr.read()
        return self.lines()

    def lines(self):
        return self.buf.decode().splitlines()


def start_raw(lokt, *args, owner="agent-2", **env):
    e = lokt.env(owner, **env)
    return subprocess.Popen([lokt.bin, *args], cwd=lokt.cwd, env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def queued(lokt, name="x"):
    try:
        return os.listdir(os.path.join(lokt.root, "queue", name))
    except FileNotFoundError:
        return []


def sleeping_in_ppoll(pid):
    """The waiter is blocked in its wait (x86-64 ppoll is syscall 271)."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split()[0] == "271"
    except (FileNotFoundError, IndexError):
        return False


def waiting(lines):
    return [x for x in lines if x.startswith('lokt: waiting for "x"')]


def test_terminal_shows_one_line_in_place_and_erases_it(lokt, tmp_path):
    with held(lokt, tmp_path) as go:
        t = Pty([lokt.bin, "guard", "x", "--wait", "--timeout", "60s", "--", "echo", "RAN"],
                lokt.env("agent-2") | {"TERM": "xterm"})
        t.expect('lokt: waiting for "x" \u2014 held by agent-1@'.encode())
        t.expect(b", sh -c while")  # the holder's command
        t.expect(b"\x1b[K")
        go.touch()
        t.expect(ERASE)
        t.expect(b"RAN")
        assert t.wait() == 0
        assert b"lokt: acquired" not in t.out
    [w] = lokt.events("x", "wait")
    assert w["extra"]["result"] == "acquired" and w["extra"]["waited_sec"] >= 0


def test_dumb_terminal_gets_whole_lines(lokt, tmp_path):
    with held(lokt, tmp_path) as go:
        t = Pty([lokt.bin, "guard", "x", "--wait", "--timeout", "60s", "--", "echo", "RAN"],
                lokt.env("agent-2") | {"TERM": "dumb"})
        t.expect('lokt: waiting for "x" \u2014 held by agent-1@'.encode())
        go.touch()
        t.expect(b'lokt: acquired "x" after ')
        t.expect(b"RAN")
        assert t.wait() == 0
        assert b"\x1b" not in t.out


def test_pipe_gets_a_line_at_start_periodic_lines_and_the_end(lokt, tmp_path):
    with held(lokt, tmp_path) as go:
        p = start_raw(lokt, "guard", "x", "--wait", "--timeout", "60s", "--", "true",
                      LOKT_TEST_WAIT_REPORT_MS=200)
        out = Lines(p)
        out.until(lambda ls: len(waiting(ls)) >= 3)
        go.touch()
        lines = out.rest()
        assert p.returncode == 0
        assert len(waiting(lines)) >= 3
        assert all(" \u2014 held by agent-1@" in x for x in waiting(lines))
        assert lines[-1].startswith('lokt: acquired "x" after ')
        assert b"\x1b" not in out.buf


def test_queue_position_is_shown(lokt, tmp_path):
    procs = []
    with held(lokt, tmp_path):
        try:
            procs.append(start_raw(lokt, "lock", "x", "--wait", "--timeout", "60s", "-q", owner="agent-3"))
            wait_for(lambda: queued(lokt), what="first waiter")
            procs.append(start_raw(lokt, "lock", "x", "--wait", "--timeout", "60s", owner="agent-4"))
            first = Lines(procs[1]).until(lambda ls: waiting(ls))[0]
            assert first.endswith("; 1 ahead of you"), first
        finally:
            for p in procs:
                p.kill()
                p.wait()


@pytest.mark.parametrize("command", [["lock", "x", "--wait", "--timeout", "60s"],
                                     ["guard", "x", "--wait", "--timeout", "60s", "--", "true"]])
def test_wait_cancelled_by_a_signal_says_so(lokt, tmp_path, command):
    with held(lokt, tmp_path):
        p = start_raw(lokt, *command)
        out = Lines(p)
        out.until(waiting)
        p.send_signal(signal.SIGTERM)
        lines = out.rest()
        assert p.returncode == 128 + signal.SIGTERM
        assert lines[-1].startswith('lokt: gave up waiting for "x" after ')
        assert lines[-1].endswith(" (cancelled)")
    assert [w["extra"]["result"] for w in lokt.events("x", "wait")] == ["cancelled"]
    assert lokt.read_lock("x") is None


def test_timed_out_wait_is_audited_and_the_error_follows(lokt, tmp_path):
    with held(lokt, tmp_path):
        r = lokt.run("lock", "x", "--wait", "--timeout", "1s", owner="agent-2")
        assert r.returncode == 2
        lines = r.stderr.splitlines()
        assert lines[0].startswith('lokt: waiting for "x"')
        assert lines[-1].startswith('error: timed out after 1s waiting: lock "x" held by agent-1@')
    [w] = lokt.events("x", "wait")
    assert w["extra"]["result"] == "timed-out" and w["extra"]["waited_sec"] >= 1


def test_quiet_says_nothing_but_still_audits(lokt, tmp_path):
    with held(lokt, tmp_path) as go:
        p = start_raw(lokt, "guard", "x", "--wait", "-q", "--timeout", "60s", "--", "true")
        [ticket] = wait_for(lambda: queued(lokt), what="the waiter's ticket")
        wait_for(lambda: sleeping_in_ppoll(int(ticket.split("-")[1])), what="the waiter to block")
        go.touch()
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0
        assert err == b""
    assert len(lokt.events("x", "wait")) == 1


def test_no_wait_means_no_report_and_no_wait_event(lokt):
    r = lokt.run("lock", "x", "--wait", "--timeout", "5s")
    assert r.returncode == 0
    assert r.stderr == ""
    assert lokt.events("x", "wait") == []
