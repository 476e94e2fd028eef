#!/usr/bin/env bash
# Benchmarks shared locks (issue 12 "Numbers"): not a test, numbers for humans.
# The hammer as a benchmark: AGENTS processes x ROUNDS shared holds each, all on one name, with
#   lokt guard x --shared --wait -- true      against      flock -s FILE true
# and the same for a hold of 50 ms (where sharing, not per-run cost, decides the throughput);
# both in the same run, one right after the other, so the machine's load hits both alike.
# With etcd installed, the same hammer on a private loopback etcd (random ports): shared
# guards against exclusive guards of the same name there, and against flock -s.
# Usage: LOKT_BIN=build/stage/bin/lokt scripts/bench_shared.sh [AGENTS] [ROUNDS]
set -euo pipefail
LOKT_BIN=${LOKT_BIN:-$(dirname "$0")/../build/stage/bin/lokt}
LOKT_BIN=$(realpath "$LOKT_BIN")
AGENTS=${1:-16}
ROUNDS=${2:-10}
work=$(mktemp -d /tmp/lokt-bench-XXXXXX)
etcd_pid=
cleanup() {
    # Never a failing last command here: under set -e it would end the trap before the rm.
    if [[ -n $etcd_pid ]]; then
        kill "$etcd_pid" 2>/dev/null || true
        wait "$etcd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
export LOKT_ROOT=$work/root LOKT_OWNER=bench

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }

# hammer KIND CMD...: AGENTS background loops of ROUNDS runs; prints the wall time in µs.
hammer() {
    local t0 t1
    t0=$(now_us)
    for ((p = 0; p < AGENTS; p++)); do
        ( for ((r = 0; r < ROUNDS; r++)); do "$@" || exit 1; done ) &
    done
    wait
    t1=$(now_us)
    echo $((t1 - t0))
}

"$LOKT_BIN" guard warm -- true  # create the root, warm the page cache
report() {  # report LABEL LOKT_US FLOCK_US
    local n=$((AGENTS * ROUNDS))
    /usr/bin/python3 - "$1" "$2" "$3" "$n" <<'PYEOF'
import sys
label, lokt_us, flock_us, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
lt, ft = n / (lokt_us / 1e6), n / (flock_us / 1e6)
print(f"{label}: {n} shared holds")
print(f"  lokt guard --shared : {lokt_us/1e6:6.2f} s  {lt:7.1f} holds/s")
print(f"  flock -s            : {flock_us/1e6:6.2f} s  {ft:7.1f} holds/s")
print(f"  throughput ratio lokt/flock: {lt/ft:.2f}")
PYEOF
}

for hold in true "sleep 0.05"; do
    # shellcheck disable=SC2086  # $hold is a command and its argument
    lokt_us=$(hammer "$LOKT_BIN" guard x --shared --wait -- $hold)
    # shellcheck disable=SC2086
    flock_us=$(hammer flock -s "$work/flock.lock" $hold)
    report "$AGENTS agents x $ROUNDS rounds, hold: $hold" "$lokt_us" "$flock_us"
done
# Nothing may be left holding.
"$LOKT_BIN" exists x && { echo "error: x still held after the benchmark" >&2; exit 1; }
command -v etcd >/dev/null || { echo "(no etcd installed: no etcd rows)"; exit 0; }

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port) peer=$(free_port)
etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$port" \
    --advertise-client-urls "http://127.0.0.1:$port" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "bench=http://127.0.0.1:$peer" \
    >"$work/etcd.log" 2>&1 &
etcd_pid=$!
/usr/bin/python3 - "$port" <<'PYEOF' || { echo "error: etcd did not start (see its log)" >&2; cat "$work/etcd.log" >&2; exit 1; }
import sys, time, urllib.request
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1) as r:
            if b"true" in r.read():
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(1)
PYEOF
export LOKT_BACKEND=etcd://127.0.0.1:$port/bench
"$LOKT_BIN" guard warm -- true
for hold in true "sleep 0.05"; do
    # shellcheck disable=SC2086
    shared_us=$(hammer "$LOKT_BIN" guard x --shared --wait -q -- $hold)
    # shellcheck disable=SC2086
    excl_us=$(hammer "$LOKT_BIN" guard x --wait -q -- $hold)
    # shellcheck disable=SC2086
    flock_us=$(hammer flock -s "$work/flock.lock" $hold)
    /usr/bin/python3 - "$AGENTS agents x $ROUNDS rounds, hold: $hold" "$shared_us" "$excl_us" "$flock_us" \
        "$((AGENTS * ROUNDS))" <<'PYEOF'
import sys
label, us, n = sys.argv[1], [int(v) for v in sys.argv[2:5]], int(sys.argv[5])
rate = [n / (u / 1e6) for u in us]
print(f"etcd, {label}: {n} holds each")
for name, u, r in zip(("lokt guard --shared", "lokt guard (exclusive)", "flock -s (files)"), us, rate):
    print(f"  {name:23}: {u/1e6:6.2f} s  {r:7.1f} holds/s")
print(f"  throughput ratio shared/exclusive on etcd: {rate[0]/rate[1]:.2f}")
print(f"  throughput ratio shared on etcd/flock -s: {rate[0]/rate[2]:.2f}")
PYEOF
done
"$LOKT_BIN" exists x && { echo "error: x still held on etcd after the benchmark" >&2; exit 1; }
exit 0
