#!/usr/bin/env bash
# Benchmarks `lokt guard` (issue 3 "Numbers"): not a test, numbers for humans.
#   1. uncontended: `lokt guard x -- true` vs `flock FILE true`, alternating, N runs each
#   2. contended: 8 processes x 5 rounds of `guard --wait x -- sleep 0.05`; handoff gaps
#      (release -> next acquire, from the audit timestamps) and wall time vs flock(1)
#   3. the supervisor's peak RSS (VmHWM)
#   4. where the uncontended guard's time goes: CPU time and context switches per run
#      (perf stat) and syscalls per run by process role (strace -f -c), against flock(1)
# Usage: LOKT_BIN=build/stage/bin/lokt scripts/bench_guard.sh [RUNS]
set -euo pipefail
LOKT_BIN=${LOKT_BIN:-$(dirname "$0")/../build/stage/bin/lokt}
LOKT_BIN=$(realpath "$LOKT_BIN")
RUNS=${1:-50}
PY=/usr/bin/python3
work=$(mktemp -d /tmp/lokt-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
export LOKT_ROOT=$work/root LOKT_OWNER=bench

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }

# --- 1. uncontended -------------------------------------------------------------------
"$LOKT_BIN" guard warm -- true  # create the root, warm the page cache
: > "$work/guard.txt"; : > "$work/flock.txt"
for ((i = 0; i < RUNS; i++)); do
    t0=$(now_us); "$LOKT_BIN" guard x -- true; t1=$(now_us)
    echo $((t1 - t0)) >> "$work/guard.txt"
    t0=$(now_us); flock "$work/flock.lock" true; t1=$(now_us)
    echo $((t1 - t0)) >> "$work/flock.txt"
done
$PY - "$work/guard.txt" "$work/flock.txt" <<'PYEOF'
import statistics, sys
g = [int(x) for x in open(sys.argv[1])]
f = [int(x) for x in open(sys.argv[2])]
mg, mf = statistics.median(g), statistics.median(f)
print(f"uncontended ({len(g)} runs each, alternating)")
print(f"  lokt guard x -- true : median {mg/1000:.2f} ms")
print(f"  flock FILE true      : median {mf/1000:.2f} ms")
print(f"  ratio                : {mg/mf:.2f} (target <= 1.2)")
PYEOF

# --- 2. contended ---------------------------------------------------------------------
export LOKT_ROOT=$work/contended
"$LOKT_BIN" guard warm -- true
t0=$(now_us)
for ((p = 0; p < 8; p++)); do
    ( for ((r = 0; r < 5; r++)); do
          LOKT_OWNER=bench-$p "$LOKT_BIN" guard -q --wait x -- sleep 0.05
      done ) &
done
wait
t1=$(now_us)
lokt_wall=$((t1 - t0))
t0=$(now_us)
for ((p = 0; p < 8; p++)); do
    ( for ((r = 0; r < 5; r++)); do flock "$work/flock2.lock" sleep 0.05; done ) &
done
wait
t1=$(now_us)
flock_wall=$((t1 - t0))
$PY - "$LOKT_ROOT/audit.log" "$lokt_wall" "$flock_wall" <<'PYEOF'
import json, statistics, sys
from datetime import datetime

def ts(s):
    # RFC 3339 with up to 9 fraction digits, "Z".
    base, _, frac = s.rstrip("Z").partition(".")
    t = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").timestamp()
    return t + (float("0." + frac) if frac else 0.0)

events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
events = [e for e in events if e.get("name") == "x" and e["event"] in ("acquire", "release")]
acquires = sorted((e for e in events if e["event"] == "acquire"), key=lambda e: ts(e["ts"]))
released = {e["lock_id"]: ts(e["ts"]) for e in events if e["event"] == "release"}
# A handoff: the previous holder's release (its lock_id) to the next acquire. The release is
# audited after the file is removed, so a fast waiter's acquire can carry an earlier stamp.
gaps = [max(0.0, (ts(b["ts"]) - released[a["lock_id"]]) * 1000)
        for a, b in zip(acquires, acquires[1:]) if a["lock_id"] in released]
gaps.sort()
p90 = gaps[int(0.9 * (len(gaps) - 1))] if gaps else float("nan")
lw, fw = int(sys.argv[2]) / 1e6, int(sys.argv[3]) / 1e6
print(f"contended (8 processes x 5 rounds of `guard --wait x -- sleep 0.05`)")
print(f"  handoffs             : {len(gaps)}")
print(f"  gap release->acquire : median {statistics.median(gaps):.2f} ms, p90 {p90:.2f} ms, "
      f"max {max(gaps):.2f} ms (targets: median <= 1, p90 <= 3)")
print(f"  wall time            : lokt {lw:.2f} s, flock {fw:.2f} s, ratio {lw/fw:.2f} (target <= 1.10)")
PYEOF

# --- 3. supervisor memory -------------------------------------------------------------
export LOKT_ROOT=$work/rss
"$LOKT_BIN" guard x --ttl 1s -- sleep 1.2 &
front=$!
sup=""
for _ in $(seq 100); do
    sup=$(cat /proc/$front/task/$front/children 2>/dev/null | awk '{print $1}')
    [ -n "$sup" ] && break
    sleep 0.01
done
sleep 1.0  # let the heartbeat run once
echo "memory"
echo "  supervisor $(grep VmHWM /proc/$sup/status | tr -s ' \t' ' ') (target <= 3 MiB)"
echo "  front      $(grep VmHWM /proc/$front/status | tr -s ' \t' ' ')"
wait $front

# --- 4. breakdown ---------------------------------------------------------------------
export LOKT_ROOT=$work/breakdown
"$LOKT_BIN" guard warm -- true
echo "breakdown (uncontended, per run)"
if command -v perf >/dev/null && perf stat -e task-clock true 2>/dev/null >/dev/null; then
    cpu() {  # prints "CPU_MS CSW" for RUNS runs of "$@"
        perf stat -x, -r "$RUNS" -e task-clock,context-switches "$@" 2>&1 >/dev/null |
            awk -F, '$3 == "task-clock" {ms = $1} $3 == "context-switches" {cs = $1} END {print ms, cs}'
    }
    read -r g_ms g_cs < <(cpu "$LOKT_BIN" guard x -- true)
    read -r f_ms f_cs < <(cpu flock "$work/flock.lock" true)
    $PY -c "import sys; g, f = float(sys.argv[1]), float(sys.argv[3])
print(f'  CPU time             : guard {g:.2f} ms, flock {f:.2f} ms, ratio {g/f:.2f}')
print(f'  context switches     : guard {sys.argv[2]}, flock {sys.argv[4]}')" "$g_ms" "$g_cs" "$f_ms" "$f_cs"
else
    echo "  (perf unavailable: no CPU breakdown)"
fi
if command -v strace >/dev/null; then
    strace -f -c -o "$work/guard.strace" "$LOKT_BIN" guard x -- true
    strace -f -c -o "$work/flock.strace" flock "$work/flock.lock" true
    $PY - "$work/guard.strace" "$work/flock.strace" <<'PYEOF'
import sys

def calls(path):
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            out[f[-1]] = int(f[3])
    return out

g, f = calls(sys.argv[1]), calls(sys.argv[2])
print(f"  syscalls             : guard {sum(g.values())}, flock {sum(f.values())} (all processes, "
      "exec and dynamic loading included)")
top = sorted(g.items(), key=lambda kv: -kv[1])[:12]
print("  guard's most frequent: " + ", ".join(f"{k} {v}" for k, v in top))
PYEOF
else
    echo "  (strace unavailable: no syscall breakdown)"
fi
