"""The waiters' queue never stalls behind a waiter that cannot move (issue 8 §7): a stopped
head and a planted ticket naming some long-lived process are skipped once they leave the
lock free for the grace period (audited queue-skip), and a harmless signal relayed to a
queued guard does not cost it its place."""
import os
import signal
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from conftest import wait_for  # noqa: E402
from guardlib import wait_exit  # noqa: E402

# Far beyond the skip grace (2 s): old code slept the whole timeout before taking the lock.
LONG = "300s"


def tickets(lokt, name):
    try:
        return sorted(os.listdir(os.path.join(lokt.root, "queue", name)))
    except FileNotFoundError:
        return []


def ticket_pid(ticket):
    return int(ticket.split("-")[1])


def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def order(path):
    return path.read_text().split() if path.exists() else []


def queued_guard(lokt, tag, out, owner):
    return lokt.start("guard", "q", "--wait", "--timeout", LONG, "--", "sh", "-c",
                      f"echo {tag} >> {out}", owner=owner)


def stop_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def test_a_stopped_head_is_skipped_once_the_lock_is_free(lokt, tmp_path):
    out = tmp_path / "order"
    assert lokt.run("lock", "q", "--ttl", "1h", owner="holder").returncode == 0
    procs = []
    stopped = None
    try:
        procs.append(queued_guard(lokt, "w1", out, "agent-1"))
        first = wait_for(lambda: tickets(lokt, "q"), what="first ticket")[0]
        stopped = ticket_pid(first)  # the waiting supervisor
        os.kill(stopped, signal.SIGSTOP)
        procs.append(queued_guard(lokt, "w2", out, "agent-2"))
        wait_for(lambda: len(tickets(lokt, "q")) == 2, what="second ticket")
        assert lokt.run("unlock", "q", owner="holder").returncode == 0
        # w2 runs while w1 is still stopped: the stuck head no longer holds up the queue.
        wait_for(lambda: order(out) == ["w2"], timeout=60, what="w2 to run past the stopped head")
        skips = lokt.events("q", "queue-skip")
        assert len(skips) == 1
        assert skips[0]["extra"]["skipped_pid"] == stopped
        assert skips[0]["extra"]["reason"] == "stopped"
        assert wait_exit(procs[1], 30) == 0
        # Resumed, the skipped waiter still gets its turn.
        os.kill(stopped, signal.SIGCONT)
        stopped = None
        assert wait_exit(procs[0], 60) == 0
        assert order(out) == ["w2", "w1"]
        assert tickets(lokt, "q") == []
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        stop_all(procs)


@pytest.mark.parametrize("command", [["guard", "q", "--wait", "--timeout", LONG, "--", "true"],
                                     ["lock", "q", "--wait", "--timeout", LONG]])
def test_a_planted_ticket_naming_a_live_process_is_skipped(lokt, command):
    sleeper = subprocess.Popen(["sleep", "1000"])
    try:
        qdir = os.path.join(lokt.root, "queue", "q")
        os.makedirs(qdir)
        planted = f"{1:020d}-{sleeper.pid}-{start_time(sleeper.pid)}-{socket.gethostname()}"
        open(os.path.join(qdir, planted), "w").close()
        r = lokt.run(*command, timeout=60)
        assert r.returncode == 0, r.stderr
        skips = lokt.events("q", "queue-skip")
        assert [s["extra"]["skipped_pid"] for s in skips] == [sleeper.pid]
        assert skips[0]["extra"]["reason"] == "idle"
        assert not os.path.exists(os.path.join(qdir, planted))
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sigwinch_to_a_queued_guard_keeps_its_place(lokt, tmp_path):
    out = tmp_path / "order"
    assert lokt.run("lock", "q", "--ttl", "1h", owner="holder").returncode == 0
    procs = []
    try:
        procs.append(queued_guard(lokt, "w1", out, "agent-1"))
        first = wait_for(lambda: tickets(lokt, "q"), what="first ticket")[0]
        procs.append(queued_guard(lokt, "w2", out, "agent-2"))
        wait_for(lambda: len(tickets(lokt, "q")) == 2, what="second ticket")
        procs[0].send_signal(signal.SIGWINCH)  # a terminal resize, relayed by the front
        # Old code re-queued w1 behind w2 (its ticket changed); give that a chance to show.
        try:
            wait_for(lambda: first not in tickets(lokt, "q"), timeout=2, what="re-queue")
        except AssertionError:
            pass
        assert tickets(lokt, "q")[0] == first
        assert lokt.run("unlock", "q", owner="holder").returncode == 0
        assert wait_exit(procs[0], 60) == 0
        assert wait_exit(procs[1], 60) == 0
        assert order(out) == ["w1", "w2"]
        assert lokt.events("q", "queue-skip") == []
    finally:
        stop_all(procs)
