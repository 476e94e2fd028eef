#!/usr/bin/env python3
"""A kill storm against `lokt guard` (issue 8 §3/§4 closing counts): AGENTS agents each run
RUNS guarded commands on one lock while a killer SIGKILLs the current holder's supervisor
(half of those times with its front SIGSTOPped for 0.3 s around the kill) or its front. Every command checks at its start
that no process of an earlier holder's tree still lives (scripts/storm_guard_cmd.py).
Prints runs, kills by kind and overlaps; exit 1 on any overlap.
Usage: LOKT_BIN=build/stage/bin/lokt scripts/storm_guard.py [AGENTS] [RUNS]"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

LOKT = os.path.abspath(os.environ.get("LOKT_BIN", "build/stage/bin/lokt"))
CMD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "storm_guard_cmd.py")
AGENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 8
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 25


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def main():
    work = tempfile.mkdtemp(prefix="lokt-storm-")
    env = dict(os.environ, LOKT_ROOT=os.path.join(work, "root"))
    occupancy, log = os.path.join(work, "occupancy"), os.path.join(work, "log")
    fronts, lock = {}, threading.Lock()
    kills = {"supervisor": 0, "supervisor+stopped-front": 0, "front": 0}
    done = threading.Event()

    def agent(a):
        rng = random.Random(a)
        for r in range(RUNS):
            opts = ["escape"] if rng.random() < 0.8 else []
            p = subprocess.Popen([LOKT, "guard", "s", "--wait", "--timeout", "600s",
                                  "--kill-after", "0.3s", "--", sys.executable, CMD, occupancy,
                                  log, str(rng.uniform(0.02, 0.15)), *opts],
                                 env=dict(env, LOKT_OWNER=f"agent-{a}"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with lock:
                fronts[p.pid] = p
            p.wait()
            with lock:
                del fronts[p.pid]

    def killer():
        # Each new holder is killed with probability 0.4, at a random moment 0.1-0.6 s into
        # its hold: before, while or after its command runs (then during the teardown).
        rng = random.Random(99)
        seen, plan = set(), None
        while not done.is_set():
            time.sleep(0.01)
            try:
                with open(os.path.join(env["LOKT_ROOT"], "locks", "s.json")) as f:
                    sup = json.load(f)["pid"]
            except (OSError, ValueError, KeyError):
                continue
            if sup not in seen:
                seen.add(sup)
                plan = None
                if rng.random() < 0.4:
                    kind = rng.choice(["supervisor", "supervisor+stopped-front", "front"])
                    plan = (sup, time.monotonic() + rng.uniform(0.1, 0.6), kind)
            if not plan or plan[0] != sup or time.monotonic() < plan[1]:
                continue
            _, _, kind = plan
            plan = None
            with lock:
                fronts_now = [f for f in fronts if sup in children(f)]
            if not fronts_now:
                continue
            front = fronts_now[0]
            try:
                if kind == "front":
                    os.kill(front, signal.SIGKILL)
                else:
                    if kind == "supervisor+stopped-front":
                        os.kill(front, signal.SIGSTOP)
                    os.kill(sup, signal.SIGKILL)
                    if kind == "supervisor+stopped-front":
                        time.sleep(0.3)
                        os.kill(front, signal.SIGCONT)
                kills[kind] += 1
            except ProcessLookupError:
                pass

    # Orphans of killed fronts come to us; reap them so none poses as a live holder.
    import ctypes
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    threads = [threading.Thread(target=agent, args=(a,)) for a in range(AGENTS)]
    k = threading.Thread(target=killer)
    t0 = time.monotonic()
    for t in threads:
        t.start()
    k.start()
    while any(t.is_alive() for t in threads):
        time.sleep(0.1)
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
    done.set()
    k.join()
    lines = open(log).read().split("\n")[:-1] if os.path.exists(log) else []
    overlaps = sum(1 for l in lines if l.startswith("overlap"))
    print(f"storm: {AGENTS} agents x {RUNS} runs = {AGENTS * RUNS} guards, "
          f"{len(lines)} commands ran, {time.monotonic() - t0:.1f} s")
    print(f"  kills: {sum(kills.values())} ({', '.join(f'{k} {v}' for k, v in kills.items())})")
    print(f"  overlaps: {overlaps}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if overlaps else 0


if __name__ == "__main__":
    sys.exit(main())
