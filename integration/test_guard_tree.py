"""lokt guard: what the command leaves behind is ended and reaped before the lock is released
(requirement 3)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from conftest import wait_for  # noqa: E402
from guardlib import PY, alive, read_pid, stage, stat, wait_exit  # noqa: E402


def sh_leaving(pidfile, *opts, prefix="", suffix="&"):
    """A shell command that starts sleeper.py (in the background), waits until it is ready,
    and exits 0."""
    sleeper = " ".join(stage("sleeper.py", pidfile, *opts))
    return (f"{prefix}{sleeper} {suffix} while [ ! -s {pidfile} ]; do sleep 0.01; done; exit 0")


def test_leftover_ignoring_term_is_killed_after_kill_after_and_lock_held_meanwhile(lokt, tmp_path):
    pidfile = tmp_path / "left"
    t0 = time.monotonic()
    p = lokt.start("guard", "x", "--kill-after", "1s", "--", "sh", "-c",
                   sh_leaving(pidfile, "ignore-term"))
    wait_for(lambda: read_pid(pidfile), what="leftover started")
    left = read_pid(pidfile)
    # The command has exited; the leftover lives through the grace period and holds the lock.
    r = lokt.run("guard", "x", "--", "true", owner="other")
    assert r.returncode == 2, r.stderr
    assert lokt.run("exists", "x").returncode == 0
    assert alive(left)
    assert wait_exit(p, 10) == 0
    assert time.monotonic() - t0 >= 1.0
    assert not alive(left)
    assert lokt.read_lock("x") is None
    assert lokt.run("guard", "x", "--", "true", owner="other").returncode == 0


def test_leftover_honouring_term_ends_quickly(lokt, tmp_path):
    pidfile = tmp_path / "left"
    t0 = time.monotonic()
    r = lokt.run("guard", "x", "--kill-after", "20s", "--", "sh", "-c", sh_leaving(pidfile))
    assert r.returncode == 0
    assert time.monotonic() - t0 < 10
    assert not alive(read_pid(pidfile))
    assert lokt.read_lock("x") is None


def test_double_forked_orphan_is_adopted_and_ended(lokt, tmp_path):
    pidfile = tmp_path / "left"
    p = lokt.start("guard", "x", "--kill-after", "1s", "--", "sh", "-c",
                   sh_leaving(pidfile, "ignore-term", prefix="(", suffix="&);"))
    wait_for(lambda: read_pid(pidfile), what="orphan started")
    left = read_pid(pidfile)
    # Re-parented to the supervisor (the subreaper), not to init.
    sup = wait_for(lambda: [c for c in os.listdir("/proc") if c.isdigit()
                            and (stat(int(c)) or {}).get("ppid") == p.pid], what="supervisor")
    wait_for(lambda: (stat(left) or {}).get("ppid") == int(sup[0]), timeout=5,
             what="orphan re-parented to the supervisor")
    assert wait_exit(p, 10) == 0
    assert stat(left) is None  # killed and reaped: not even a zombie
    assert lokt.read_lock("x") is None


def test_setsid_escapee_is_ended(lokt, tmp_path):
    pidfile = tmp_path / "left"
    p = lokt.start("guard", "x", "--kill-after", "1s", "--", "sh", "-c",
                   sh_leaving(pidfile, "setsid", "ignore-term"))
    wait_for(lambda: read_pid(pidfile), what="escapee started")
    left = read_pid(pidfile)
    assert stat(left)["pgid"] == left  # it left the command's group and session
    assert wait_exit(p, 10) == 0
    assert stat(left) is None
    assert lokt.read_lock("x") is None


def test_on_exit_wait_lets_leftovers_finish(lokt, tmp_path):
    pidfile = tmp_path / "left"
    t0 = time.monotonic()
    p = lokt.start("guard", "x", "--on-exit", "wait", "--", "sh", "-c",
                   sh_leaving(pidfile, "seconds=1.5"))
    wait_for(lambda: read_pid(pidfile), what="leftover started")
    assert lokt.run("exists", "x").returncode == 0
    assert wait_exit(p, 10) == 0
    assert time.monotonic() - t0 >= 1.5
    assert lokt.read_lock("x") is None


def test_many_short_orphans_leave_no_zombie(lokt, tmp_path):
    prog = ("import os, time\n"
            "for i in range(100):\n"
            "    if os.fork() == 0:\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(0.01 * (i % 5)); os._exit(0)\n"
            "        os._exit(0)\n"
            "    os.wait()\n"
            "time.sleep(0.2)\n"
            "raise SystemExit(7)\n")
    r = lokt.run("guard", "x", "--", PY, "-c", prog)
    assert r.returncode == 7
    assert lokt.read_lock("x") is None


def test_command_and_orphan_exiting_together_never_hang(lokt):
    for _ in range(30):
        r = lokt.run("guard", "x", "--", "sh", "-c", "(true &); true &", timeout=10)
        assert r.returncode == 0
    assert lokt.read_lock("x") is None
