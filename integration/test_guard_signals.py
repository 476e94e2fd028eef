"""lokt guard: every catchable signal reaches the command's group exactly once (requirement 2)."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from conftest import wait_for  # noqa: E402
from guardlib import alive, read_lines as lines, read_pid, stage, stat, wait_exit  # noqa: E402

RELAYED = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGWINCH",
           "SIGCONT", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGIO", "SIGPWR"]


def start_recorder(lokt, tmp_path, *flags):
    log, ready = tmp_path / "log", tmp_path / "ready"
    p = lokt.start("guard", "x", *flags, "--", *stage("sigrecord.py", log, ready))
    wait_for(lambda: read_pid(ready), what="recorder ready")
    return p, log, read_pid(ready)


def test_each_signal_is_delivered_exactly_once(lokt, tmp_path):
    p, log, _ = start_recorder(lokt, tmp_path)
    for i, name in enumerate(RELAYED):
        os.kill(p.pid, getattr(signal, name))
        wait_for(lambda: len(lines(log)) >= i + 1, timeout=5, what=f"{name} delivered")
    os.kill(p.pid, signal.SIGTERM)
    assert wait_exit(p, 10) == 0
    assert lines(log) == RELAYED + ["SIGTERM"]
    assert lokt.read_lock("x") is None


def test_signals_go_to_the_whole_process_group(lokt, tmp_path):
    # sh does not relay SIGINT to a foreground child; the group signal reaches sleep anyway.
    p = lokt.start("guard", "x", "--", "sh", "-c", "sleep 100; true")
    wait_for(lambda: (lokt.read_lock("x") or {}).get("pgid"), what="lock with pgid")
    pgid = lokt.read_lock("x")["pgid"]
    wait_for(lambda: any((stat(c) or {}).get("pgid") == pgid for c in os.listdir("/proc")
                         if c.isdigit() and int(c) != pgid), what="sleep started")
    t0 = time.monotonic()
    os.kill(p.pid, signal.SIGINT)
    assert wait_exit(p, 10) == 128 + signal.SIGINT
    assert time.monotonic() - t0 < 3
    assert lokt.read_lock("x") is None


def test_stopped_command_is_continued_after_a_terminating_signal(lokt, tmp_path):
    p, log, cmd = start_recorder(lokt, tmp_path)
    os.kill(cmd, signal.SIGSTOP)
    wait_for(lambda: (stat(cmd) or {}).get("state") == "T", what="command stopped")
    os.kill(p.pid, signal.SIGTERM)
    assert wait_exit(p, 10) == 0
    assert "SIGTERM" in lines(log)


def test_signal_sent_to_the_supervisor_is_relayed_too(lokt, tmp_path):
    p, log, cmd = start_recorder(lokt, tmp_path)
    sup = stat(cmd)["ppid"]
    assert sup != p.pid
    os.kill(sup, signal.SIGUSR1)
    wait_for(lambda: lines(log) == ["SIGUSR1"], what="USR1 delivered")
    os.kill(p.pid, signal.SIGTERM)
    assert wait_exit(p, 10) == 0
    assert lines(log) == ["SIGUSR1", "SIGTERM"]


def test_signal_ignored_by_the_caller_is_not_relayed(lokt, tmp_path):
    log, ready = tmp_path / "log", tmp_path / "ready"

    def ignore_usr1():
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    p = lokt.start("guard", "x", "--", *stage("sigrecord.py", log, ready), preexec_fn=ignore_usr1)
    wait_for(lambda: read_pid(ready), what="recorder ready")
    os.kill(p.pid, signal.SIGUSR1)
    os.kill(p.pid, signal.SIGUSR2)
    wait_for(lambda: "SIGUSR2" in lines(log), what="USR2 delivered")
    os.kill(p.pid, signal.SIGTERM)
    assert wait_exit(p, 10) == 0
    assert "SIGUSR1" not in lines(log)


def test_terminating_signal_while_waiting_cancels_without_running(lokt, tmp_path):
    marker = tmp_path / "ran"
    holder = lokt.start("guard", "x", "--", "sleep", "30", owner="a")
    try:
        wait_for(lambda: lokt.read_lock("x"), what="lock taken")
        w = lokt.start("guard", "x", "--wait", "--", "touch", str(marker), owner="b")
        wait_for(lambda: any(True for _ in os.listdir(os.path.join(lokt.root, "queue", "x")))
                 if os.path.isdir(os.path.join(lokt.root, "queue", "x")) else False,
                 timeout=5, what="waiter queued")
        os.kill(w.pid, signal.SIGINT)
        assert wait_exit(w, 10) == 128 + signal.SIGINT
        assert not marker.exists()
        assert lokt.read_lock("x")["owner"] == "a"
    finally:
        holder.terminate()
        holder.wait(10)
