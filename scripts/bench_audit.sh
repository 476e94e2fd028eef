#!/usr/bin/env bash
# Benchmark of `lokt audit --since 1h` on a 1,000,000-line log (48 h of events), against
# baselines timed in the same run: `tail -n 100` and `cat` of the same file.
# Builds nothing: LOKT_BIN names the binary (default build/stage/bin/lokt).
# Usage: LOKT_BIN=... scripts/bench_audit.sh [LINES] [RUNS]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
LOKT_BIN=${LOKT_BIN:-$here/build/stage/bin/lokt}
LINES=${1:-1000000}
RUNS=${2:-11}
[ -x "$LOKT_BIN" ] || { echo "bench_audit: no lokt binary at $LOKT_BIN (set LOKT_BIN)" >&2; exit 1; }

work=$(mktemp -d /tmp/lokt-bench-audit-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root"

/usr/bin/python3 - "$work/root/audit.log" "$LINES" <<'EOF'
import datetime, random, sys
path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
end = datetime.datetime.now(datetime.timezone.utc)
start = end - datetime.timedelta(hours=48)
step_us = 48 * 3600 * 1_000_000 / n
names = ["build", "test", "deploy", "db-migrate", "lint"] + [f"test-shard-{i}" for i in range(12)] + [f"api-slot-{i}" for i in range(6)]
start_us = int(start.timestamp() * 1_000_000)
out = []
with open(path, "w") as f:
    for i in range(n):
        us = start_us + int(i * step_us)
        sec, frac = divmod(us, 1_000_000)
        ts = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        ns = f"{frac * 1000 + rng.randrange(1000):09d}".rstrip("0")
        ts = ts + ("." + ns if ns else "") + "Z"
        name = names[i % len(names)]
        owner = f"agent-{rng.randrange(1, 9)}"
        pid = 10000 + rng.randrange(50000)
        lock_id = "%032x" % rng.getrandbits(128)
        r = rng.random()
        ev = "acquire" if r < 0.35 else "release" if r < 0.7 else "renew" if r < 0.85 else "deny" if r < 0.95 else "auto-prune"
        line = (f'{{"ts":"{ts}","event":"{ev}","name":"{name}","lock_id":"{lock_id}","owner":"{owner}",'
                f'"host":"build-box","pid":{pid},"agent_id":"agent-{rng.randrange(65536):04x}","ttl_sec":300')
        if ev == "auto-prune":
            line += f',"extra":{{"pruned_host":"build-box","pruned_owner":"agent-{rng.randrange(1, 9)}","pruned_pid":{pid - 7}}}'
        out.append(line + "}\n")
        if len(out) >= 10000:
            f.write("".join(out))
            out.clear()
    f.write("".join(out))
EOF

LOKT_BIN="$LOKT_BIN" LOKT_ROOT="$work/root" /usr/bin/python3 - "$work/root/audit.log" "$RUNS" <<'EOF'
import os, statistics, subprocess, sys, time
log, runs = sys.argv[1], int(sys.argv[2])
lokt = os.environ["LOKT_BIN"]

def median_ms(argv):
    """Median wall and CPU (user+sys) milliseconds; CPU time is what a busy machine cannot inflate."""
    wall, cpu = [], []
    for _ in range(runs + 1):
        with open(os.devnull, "w") as null:
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, stdout=null)
            _, status, ru = os.wait4(p.pid, 0)
            wall.append((time.perf_counter() - t0) * 1000)
            p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            sys.exit(f"bench_audit: {argv} failed with {p.returncode}")
        cpu.append((ru.ru_utime + ru.ru_stime) * 1000)
    # The first run only warms the caches.
    return statistics.median(wall[1:]), statistics.median(cpu[1:])

lines = sum(1 for _ in open(log, "rb"))
size = os.path.getsize(log)
hour = subprocess.run([lokt, "audit", "--since", "1h", "--json"], capture_output=True, check=True).stdout.count(b"\n")
print(f"log: {lines} lines, {size / 2**20:.0f} MiB; --since 1h selects {hour} lines; median of {runs} runs")
since = median_ms([lokt, "audit", "--since", "1h", "--json"])
since_text = median_ms([lokt, "audit", "--since", "1h"])
tail = median_ms(["tail", "-n", "100", log])
cat = median_ms(["cat", log])
true = median_ms(["true"])
load = os.getloadavg()[0]
print(f"{'':32s} {'wall ms':>9s} {'cpu ms':>9s}   (load average {load:.1f} on {os.cpu_count()} cpus)")
def row(label, t, base=None, base_name=""):
    extra = f"   ratio {since[0] / t[0]:6.2f} wall, {since[1] / max(t[1], 0.001):6.2f} cpu (lokt/{base_name})" if base else ""
    print(f"  {label:30s} {t[0]:9.2f} {t[1]:9.2f}{extra}")
row("lokt audit --since 1h --json", since)
row("lokt audit --since 1h (text)", since_text)
row("tail -n 100 audit.log", tail, True, "tail")
row("cat audit.log", cat, True, "cat")
row("true (process start)", true)
print(f"target: --since 1h --json under 30 ms wall: {'met' if since[0] < 30 else 'NOT met'}"
      f" (cpu {since[1]:.1f} ms)")
EOF
