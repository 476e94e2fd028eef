#!/usr/bin/env bash
# Benchmarks shared locks (issue 12 "Numbers"): not a test, numbers for humans.
# The hammer as a benchmark: AGENTS processes x ROUNDS shared holds each, all on one name, with
#   lokt guard x --shared --wait -- true      against      flock -s FILE true
# and the same for a hold of 50 ms (where sharing, not per-run cost, decides the throughput);
# both in the same run, one right after the other, so the machine's load hits both alike.
# Usage: LOKT_BIN=build/stage/bin/lokt scripts/bench_shared.sh [AGENTS] [ROUNDS]
set -euo pipefail
LOKT_BIN=${LOKT_BIN:-$(dirname "$0")/../build/stage/bin/lokt}
LOKT_BIN=$(realpath "$LOKT_BIN")
AGENTS=${1:-16}
ROUNDS=${2:-10}
work=$(mktemp -d /tmp/lokt-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
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
exit 0
