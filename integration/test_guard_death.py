"""lokt guard: the agent, the supervisor, or a CI runner killed — the tree still dies and the
lock becomes free without a human (requirements 4, 5, 6)."""
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from conftest import wait_for  # noqa: E402
from guardlib import (alive, children, kill_quietly, pids_with_env,  # noqa: E402
                      read_pid, reap_orphans, stage, subreaper, wait_exit)  # noqa: F401

KILL_AFTER = 1.0


pytestmark = pytest.mark.usefixtures("subreaper")


def start_guard(lokt, tmp_path, *opts, **popen):
    pidfile = tmp_path / "cmd"
    p = lokt.start("guard", "x", "--kill-after", f"{KILL_AFTER}s", "--",
                   *stage("sleeper.py", pidfile, *opts), **popen)
    wait_for(lambda: read_pid(pidfile), what="command started")
    return p, read_pid(pidfile)


def lock_gone(lokt, keep=()):
    reap_orphans(keep)
    return lokt.read_lock("x") is None


def supervisor_of(front):
    return wait_for(lambda: children(front), what="supervisor")[0]


def test_kill_9_of_the_front_ends_tree_and_frees_lock(lokt, tmp_path):
    p, cmd = start_guard(lokt, tmp_path, "ignore-term")
    t0 = time.monotonic()
    os.kill(p.pid, signal.SIGKILL)
    p.wait(5)
    wait_for(lambda: lock_gone(lokt) and not alive(cmd), timeout=KILL_AFTER + 1, what="tree gone")
    assert time.monotonic() - t0 <= KILL_AFTER + 1
    rel = wait_for(lambda: lokt.events("x", "release"), timeout=2, what="release audited")
    assert rel[-1]["extra"]["reason"] == "parent-gone"


def test_kill_9_of_the_fronts_process_group_ends_tree_and_frees_lock(lokt, tmp_path):
    p, cmd = start_guard(lokt, tmp_path, start_new_session=True)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(5)
    wait_for(lambda: lock_gone(lokt) and not alive(cmd), timeout=KILL_AFTER + 1, what="tree gone")
    rel = wait_for(lambda: lokt.events("x", "release"), timeout=2, what="release audited")
    assert rel[-1]["extra"]["reason"] == "parent-gone"


def test_kill_9_of_the_supervisor_ends_tree_and_frees_lock(lokt, tmp_path):
    left = tmp_path / "left"
    sleeper = " ".join(stage("sleeper.py", left, "setsid", "ignore-term"))
    p = lokt.start("guard", "x", "--kill-after", f"{KILL_AFTER}s", "--", "sh", "-c",
                   f"{sleeper} & while [ ! -s {left} ]; do sleep 0.01; done; exec sleep 100")
    wait_for(lambda: read_pid(left), what="escapee started")
    escapee = read_pid(left)
    sup = supervisor_of(p.pid)
    os.kill(sup, signal.SIGKILL)
    # The lock stays held while the escapee lives (the front holds it now).
    assert lokt.run("guard", "x", "--", "true", owner="other").returncode == 2
    assert wait_exit(p, KILL_AFTER + 5) == 128 + signal.SIGKILL
    assert not alive(escapee)
    assert lokt.read_lock("x") is None
    assert lokt.events("x", "release")[-1]["extra"]["reason"] == "supervisor-died"


def test_kill_9_of_front_and_supervisor_together_still_frees_lock(lokt, tmp_path):
    p, cmd = start_guard(lokt, tmp_path)
    sup = supervisor_of(p.pid)
    os.kill(sup, signal.SIGKILL)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(5)
    # PDEATHSIG ends the command; the lock's holder and group are then provably gone.
    wait_for(lambda: not alive(cmd), timeout=3, what="command gone")
    reap_orphans()
    r = lokt.run("guard", "x", "--", "true", owner="other")
    assert r.returncode == 0, r.stderr


def test_github_actions_cancellation_replay(lokt, tmp_path):
    track = uuid.uuid4().hex
    pidfile = tmp_path / "cmd"
    sleeper = " ".join(stage("sleeper.py", pidfile, "ignore-term"))
    env = lokt.env()
    env["RUNNER_TRACKING_ID"] = track
    bash = subprocess.Popen(["bash", "-c", f"{lokt.bin} guard x -- {sleeper}; echo done"],
                            cwd=lokt.cwd, env=env)
    try:
        wait_for(lambda: read_pid(pidfile), what="command started")
        os.kill(bash.pid, signal.SIGINT)       # runner: SIGINT to the step's entry process only
        time.sleep(0.75)                       # scaled 7.5 s
        os.kill(bash.pid, signal.SIGTERM)
        time.sleep(0.25)                       # scaled 2.5 s
        kill_quietly(bash.pid, signal.SIGKILL)
        bash.wait(5)
        swept = pids_with_env("RUNNER_TRACKING_ID", track)
        for pid in swept:  # "Cleaning up orphan processes"
            kill_quietly(pid)
        wait_for(lambda: not pids_with_env("RUNNER_TRACKING_ID", track), timeout=3,
                 what="no survivor")
        # A zombie still counts as a live holder, and a killed process becomes our zombie
        # only once its parent is gone too (exit order is the kernel's): reap until every
        # swept pid has left /proc, as the runner's init would.
        wait_for(lambda: reap_orphans(keep=(bash.pid,)) or
                 not any(os.path.exists(f"/proc/{pid}") for pid in swept),
                 timeout=3, what="swept processes reaped")
        r = lokt.run("guard", "x", "--", "true", owner="next-job")
        assert r.returncode == 0, r.stderr
    finally:
        for pid in pids_with_env("RUNNER_TRACKING_ID", track):
            kill_quietly(pid)


def test_github_actions_replay_with_exec_gets_a_graceful_stop(lokt, tmp_path):
    # `exec lokt guard ...` (the documented CI form): SIGINT reaches lokt and the command.
    pidfile = tmp_path / "cmd"
    sleeper = " ".join(stage("sleeper.py", pidfile))
    bash = subprocess.Popen(["bash", "-c", f"exec {lokt.bin} guard x -- {sleeper}"],
                            cwd=lokt.cwd, env=lokt.env())
    wait_for(lambda: read_pid(pidfile), what="command started")
    os.kill(bash.pid, signal.SIGINT)
    assert wait_exit(bash, 5) == 128 + signal.SIGINT
    assert lokt.read_lock("x") is None
    assert lokt.events("x", "release")[-1]["extra"]["reason"] == "signaled"


def test_gitlab_cancellation_replay(lokt, tmp_path):
    pidfile = tmp_path / "cmd"
    left = tmp_path / "left"
    sleeper = " ".join(stage("sleeper.py", pidfile, "ignore-term"))
    leftover = " ".join(stage("sleeper.py", left, "ignore-term"))
    # The job shell runs in its own process group (Setpgid), lokt inside it.
    job = subprocess.Popen(["sh", "-c", f"{leftover} & {lokt.bin} guard x --kill-after {KILL_AFTER}s -- "
                                        f"{sleeper}; echo done"],
                           cwd=lokt.cwd, env=lokt.env(), start_new_session=True)
    wait_for(lambda: read_pid(pidfile) and read_pid(left), what="job started")
    cmd = read_pid(pidfile)
    os.killpg(job.pid, signal.SIGTERM)   # GracefulTimeout ...
    time.sleep(0.5)
    os.killpg(job.pid, signal.SIGKILL)   # ... then KillTimeout
    job.wait(5)
    wait_for(lambda: lock_gone(lokt, keep=(job.pid,)) and not alive(cmd), timeout=3,
             what="tree gone and lock free")
    kill_quietly(read_pid(left))
