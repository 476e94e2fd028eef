"""Numbers for docs/distributed.md, measured in one run against one loopback etcd:
acquire+release with lokt's engine vs `etcdctl lock x -- true`, and the release->acquire
handoff under 8-way contention. Usage: LOKT_ETCD_PROBE=... python3 tests/etcd/bench_etcd.py"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from test_etcd_locks import PROBE, Etcd  # noqa: E402


def main():
    e = Etcd()
    try:
        ours = int(subprocess.check_output([PROBE, e.url(), "bench", "b", "40"], text=True)) / 1e6
        env = dict(os.environ, ETCDCTL_API="3")
        theirs = []
        for _ in range(20):
            t0 = time.monotonic()
            subprocess.run(["etcdctl", "--endpoints", e.endpoint, "lock", "lokt/c", "--", "true"], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            theirs.append((time.monotonic() - t0) * 1e3)
        d = tempfile.mkdtemp()
        log = os.path.join(d, "log")
        procs = [subprocess.Popen([PROBE, e.url(), "cycle", "h", "5", "10", log, str(i)]) for i in range(8)]
        for p in procs:
            assert p.wait(300) == 0
        rows = [l.split() for l in open(log).read().splitlines()]
        handoffs = [(int(b[3]) - int(a[3])) / 1e6 for a, b in zip(rows[1::2], rows[2::2])]
        shutil.rmtree(d)
        med = statistics.median(theirs)
        print(f"acquire+release, lokt engine (in-process, median of 40): {ours:.2f} ms")
        print(f"etcdctl lock x -- true (process, median of 20): {med:.2f} ms; ratio ours/etcdctl = {ours / med:.3f}")
        print(f"handoff under 8-way contention: median {statistics.median(handoffs):.2f} ms over {len(handoffs)}")
    finally:
        e.stop()
        shutil.rmtree(e.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
