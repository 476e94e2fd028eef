"""Issue 8 §9: signals a CI runner sends. After a relayed SIGTERM, SIGHUP or SIGQUIT, a tree
still alive after --kill-after gets SIGKILL (as `timeout -k` does) and the guard exits 128+N
of the signal it received; SIGINT is relayed without escalation."""
import os
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from conftest import wait_for  # noqa: E402
from guardlib import alive, kill_quietly, read_lines as lines, read_pid, stage, wait_exit  # noqa: E402


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_a_tree_ignoring_the_signal_is_killed_after_kill_after(lokt, tmp_path, sig):
    pidfile = str(tmp_path / "pid")
    p = lokt.start("guard", "x", "--kill-after", "500ms", "--",
                   *stage("ignorer.py", pidfile, sig.name))
    try:
        cmd = wait_for(lambda: read_pid(pidfile), what="command started")
        child = wait_for(lambda: read_pid(pidfile + ".child"), what="child started")
        os.kill(p.pid, sig)
        assert wait_exit(p, 20) == 128 + sig
        assert not alive(cmd) and not alive(child)
        assert lokt.read_lock("x") is None
        assert lokt.events("x", "release")
    finally:
        for f in (pidfile, pidfile + ".child"):
            if read_pid(f):
                kill_quietly(read_pid(f))


def test_a_command_that_exits_on_term_keeps_its_own_status(lokt, tmp_path):
    log, ready = tmp_path / "log", tmp_path / "ready"
    p = lokt.start("guard", "x", "--kill-after", "500ms", "--", *stage("sigrecord.py", log, ready))
    wait_for(lambda: read_pid(ready), what="recorder ready")
    os.kill(p.pid, signal.SIGTERM)
    assert wait_exit(p, 10) == 0  # sigrecord exits 0 on SIGTERM: nothing had to be killed


def test_sigint_is_relayed_without_escalation(lokt, tmp_path):
    log, ready = tmp_path / "log", tmp_path / "ready"
    p = lokt.start("guard", "x", "--kill-after", "200ms", "--", *stage("sigrecord.py", log, ready))
    cmd = wait_for(lambda: read_pid(ready), what="recorder ready")
    try:
        os.kill(p.pid, signal.SIGINT)
        wait_for(lambda: "SIGINT" in lines(log), what="SIGINT delivered")
        # A negative claim needs a lower bound: five times --kill-after. An escalation
        # would have killed the command by now.
        time.sleep(1.0)
        assert alive(cmd)
        assert p.poll() is None
        os.kill(p.pid, signal.SIGTERM)  # sigrecord exits 0 on SIGTERM
        assert wait_exit(p, 10) == 0
        assert lines(log) == ["SIGINT", "SIGTERM"]
    finally:
        kill_quietly(cmd)
