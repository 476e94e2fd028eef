"""`lokt guard x -- true` on a loopback etcd vs `etcdctl lock x -- true`, in one run against
one server, interleaved so that load on the machine hits both alike. Also `lokt guard` on the
file backend, as a baseline for what the guard costs without the network.
Usage: LOKT_BIN=build/stage/bin/lokt python3 tests/etcd/bench_etcd_guard.py [ROUNDS]"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from etcd_harness import Etcd  # noqa: E402


def timed(argv, env):
    t0 = time.monotonic()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return (time.monotonic() - t0) * 1e3


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    lokt = os.path.abspath(os.environ.get("LOKT_BIN", "build/stage/bin/lokt"))
    e = Etcd()
    root = tempfile.mkdtemp(prefix="lokt-bench-")
    try:
        base = dict(os.environ, LOKT_ROOT=root, LOKT_OWNER="bench", ETCDCTL_API="3")
        on_etcd = dict(base, LOKT_BACKEND=e.url("bench"))
        runs = {
            "lokt guard (etcd)": ([lokt, "guard", "x", "--", "true"], on_etcd),
            "etcdctl lock": (["etcdctl", "--endpoints", e.endpoint, "lock", "bench/y", "--", "true"], base),
            "lokt guard (files)": ([lokt, "guard", "x", "--", "true"], base),
        }
        times = {k: [] for k in runs}
        for argv, env in runs.values():
            timed(argv, env)  # warm the page cache
        for _ in range(rounds):
            for k, (argv, env) in runs.items():
                times[k].append(timed(argv, env))
        med = {k: statistics.median(v) for k, v in times.items()}
        for k, m in med.items():
            print(f"{k}: median {m:.2f} ms over {rounds}")
        print(f"ratio lokt guard (etcd) / etcdctl lock = {med['lokt guard (etcd)'] / med['etcdctl lock']:.3f}")
    finally:
        e.stop()
        shutil.rmtree(e.dir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
