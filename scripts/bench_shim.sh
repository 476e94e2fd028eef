#!/usr/bin/env bash
# Overhead of the LD_PRELOAD shim on an exec that matches no rule: N x fork+execve(/bin/true)
# from a small C driver, without and with liblokt_preload.so (and a realistic rules file),
# alternating runs in the same session. Prints µs per exec and the difference.
# Target (issue 4): ≤ 5% or ≤ 20 µs per exec, whichever is larger.
#
# usage: scripts/bench_shim.sh [N] [ROUNDS]     (env: LOKT_BIN, LOKT_PRELOAD_LIB)
set -euo pipefail
n=${1:-1000}
rounds=${2:-7}
source "$(dirname "$0")/bench_common.sh"
gcc -O2 -o "$tmp/driver" "$here/integration/shim_targets/exec_driver.c"

plain() { env -u LD_PRELOAD "$tmp/driver" "$n" /bin/true; }
shimmed() {
    LD_PRELOAD=$lib LOKT_SHIM=1 LOKT_BIN=$lokt LOKT_RULES=$tmp/rules LOKT_ROOT=$tmp \
        "$tmp/driver" "$n" /bin/true
}

empty() { LD_PRELOAD=$tmp/libempty.so "$tmp/driver" "$n" /bin/true; }

plain >/dev/null; shimmed >/dev/null; empty >/dev/null   # warm the page cache
base=() shim=() ref=()
for ((i = 0; i < rounds; i++)); do
    base+=("$(plain)")
    shim+=("$(shimmed)")
    ref+=("$(empty)")
done
# The fastest round of each: noise from other load only ever adds time.
best() { printf '%s\n' "$@" | sort -n | head -1; }
b=$(best "${base[@]}")
s=$(best "${shim[@]}")
e=$(best "${ref[@]}")
awk -v b="$b" -v s="$s" -v e="$e" -v n="$n" -v r="$rounds" 'BEGIN {
    d = s - b; pct = 100 * d / b
    printf "fork+exec /bin/true, %d execs x %d alternating rounds (best round of each)\n", n, r
    printf "  without shim: %8.1f us/exec\n", b
    printf "  with shim:    %8.1f us/exec\n", s
    printf "  (any preload: %8.1f us/exec with an empty library, for reference)\n", e
    printf "  overhead:     %8.1f us/exec (%+.1f%%), ratio %.3f\n", d, pct, s / b
    lim = (0.05 * b > 20) ? 0.05 * b : 20
    printf "  target:       <= %.1f us/exec -> %s\n", lim, (d <= lim) ? "met" : "NOT met"
}'
