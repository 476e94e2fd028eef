#!/usr/bin/env bash
# lokt's benchmarks (not tests). Every number is printed next to a baseline measured in the
# same run, as a ratio: these machines are noisy, absolute times are not comparable.
# Usage: scripts/bench.sh [core|guard|audit|shim|seccomp|all]   (default: all; builds first)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${LOKT_BIN:-}" ] || { scripts/build.sh >/dev/null; LOKT_BIN="$PWD/build/stage/bin/lokt"; }
export LOKT_BIN
what=${1:-all}

bench_core() {
  local work; work=$(mktemp -d /tmp/lokt-bench-XXXXXX)
  export LOKT_ROOT="$work/root" LOKT_OWNER=bench
  /usr/bin/python3 - "$work" <<'PY'
import json, os, statistics, subprocess, sys, time
work = sys.argv[1]
lokt = os.environ["LOKT_BIN"]
env = dict(os.environ)

def timed(cmd, n, shell=False):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, shell=shell, check=True, env=env, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
    return statistics.median(out)

# 1. lock+unlock vs flock(1) running `true`, alternating so drift hits both equally.
lockf = os.path.join(work, "flockfile")
a, b = [], []
for _ in range(30):
    a.append(timed(f"{lokt} lock x && {lokt} unlock x", 1, shell=True))
    b.append(timed(f"flock {lockf} true", 1, shell=True))
ma, mb = statistics.median(a), statistics.median(b)
print(f"lock+unlock        {ma*1e3:7.2f} ms   flock(1) true {mb*1e3:7.2f} ms   ratio {ma/mb:.2f}")

# 2. status --json over 10,000 locks vs `cat` of the same files (the floor for reading them).
locks = os.path.join(env["LOKT_ROOT"], "locks")
os.makedirs(locks, exist_ok=True)
os.makedirs(os.path.join(env["LOKT_ROOT"], "freezes"), exist_ok=True)
tmpl = json.load(open(os.path.join(os.getcwd(), "tests", "golden", "lock-v1.json")))
for i in range(10000):
    tmpl["name"] = f"l{i}"
    tmpl["kind"] = "lease"
    with open(os.path.join(locks, f"l{i}.json"), "w") as f:
        json.dump(tmpl, f, indent=2)
s = timed([lokt, "status", "--json"], 7)
subprocess.run([lokt, "status", "--json"], check=True, env=env, stdout=subprocess.DEVNULL)
c = timed(f"cat {locks}/*.json > /dev/null", 7, shell=True)
print(f"status --json 10k  {s*1e3:7.2f} ms   cat 10k files {c*1e3:7.2f} ms   ratio {s/c:.2f}   (target < 50 ms)")
for i in range(10000):
    os.unlink(os.path.join(locks, f"l{i}.json"))

# 3. Handoff: 8 processes x 5 rounds of lock --wait / hold 20 ms / unlock; the gap between
#    a release and the next acquire, from the audit log's timestamps.
open(os.path.join(env["LOKT_ROOT"], "audit.log"), "w").close()
worker = f"for r in 1 2 3 4 5; do LOKT_OWNER=w$$ {lokt} lock h --wait --timeout 2m >/dev/null && sleep 0.02 && LOKT_OWNER=w$$ {lokt} unlock h >/dev/null; done"
t = time.perf_counter()
procs = [subprocess.Popen(["bash", "-c", worker], env=env) for _ in range(8)]
for p in procs:
    assert p.wait() == 0
wall = time.perf_counter() - t
t = time.perf_counter()
fprocs = [subprocess.Popen(["bash", "-c", f"for r in 1 2 3 4 5; do flock {lockf} sleep 0.02; done"]) for _ in range(8)]
for p in fprocs:
    p.wait()
fwall = time.perf_counter() - t

def ts(s):
    base, frac = s[:-1].split(".") if "." in s else (s[:-1], "0")
    return time.mktime(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)

ev = [json.loads(l) for l in open(os.path.join(env["LOKT_ROOT"], "audit.log"))]
ev = [e for e in ev if e["name"] == "h" and e["event"] in ("acquire", "release")]
gaps = []
for prev, nxt in zip(ev, ev[1:]):
    if prev["event"] == "release" and nxt["event"] == "acquire":
        gaps.append((ts(nxt["ts"]) - ts(prev["ts"])) * 1e3)
gaps.sort()
q = lambda p: gaps[min(len(gaps) - 1, int(p * len(gaps)))]
print(f"handoff (8x5)      median {statistics.median(gaps):.2f} ms  p90 {q(0.9):.2f} ms  max {gaps[-1]:.2f} ms"
      f"   (n={len(gaps)}, target median < 1 ms)")
print(f"contended wall     {wall:7.2f} s    flock(1) same {fwall:7.2f} s   ratio {wall/fwall:.2f}")
PY
  rm -rf "$work"
}

case $what in
  core) bench_core ;;
  guard) scripts/bench_guard.sh ;;
  audit) scripts/bench_audit.sh ;;
  shim) scripts/bench_shim.sh ;;
  seccomp) scripts/bench_seccomp.sh ;;
  all)
    echo "== core (lock store, CLI)"; bench_core
    for b in guard audit shim seccomp; do
      if [ -x "scripts/bench_$b.sh" ]; then echo "== $b"; "scripts/bench_$b.sh"; fi
    done ;;
  *) echo "usage: scripts/bench.sh [core|guard|audit|shim|seccomp|all]" >&2; exit 64 ;;
esac
