#!/usr/bin/env bash
# Overhead of the LD_PRELOAD shim on an exec that matches no rule: N x fork+execve(/bin/true)
# from a small C driver, without and with liblokt_preload.so (and a realistic rules file),
# alternating runs in the same session. Prints µs per exec and the difference.
# Target (issue 4): ≤ 5% or ≤ 20 µs per exec, whichever is larger.
#
# usage: scripts/bench_shim.sh [N] [ROUNDS]     (env: LOKT_BIN, LOKT_PRELOAD_LIB)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000}
rounds=${2:-5}
lokt=${LOKT_BIN:-$here/build/stage/bin/lokt}
lib=${LOKT_PRELOAD_LIB:-$(dirname "$(dirname "$lokt")")/lib/lokt/liblokt_preload.so}
[[ -x $lokt && -f $lib ]] || { echo "need LOKT_BIN and the preload library ($lokt, $lib)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/driver" "$here/integration/shim_targets/exec_driver.c"
cat > "$tmp/rules" <<'RULES'
build      wait=30m : make *
build               : cmake --build *
git-push   wait=10m : git push *
git-push            : git -C * push *
terraform  wait=0   : terraform apply|destroy *
deploy              : ./deploy.sh *
RULES

plain() { env -u LD_PRELOAD "$tmp/driver" "$n" /bin/true; }
shimmed() {
    LD_PRELOAD=$lib LOKT_SHIM=1 LOKT_BIN=$lokt LOKT_RULES=$tmp/rules LOKT_ROOT=$tmp \
        "$tmp/driver" "$n" /bin/true
}

plain >/dev/null; shimmed >/dev/null   # warm the page cache
base=() shim=()
for ((i = 0; i < rounds; i++)); do
    base+=("$(plain)")
    shim+=("$(shimmed)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
b=$(median "${base[@]}")
s=$(median "${shim[@]}")
awk -v b="$b" -v s="$s" -v n="$n" -v r="$rounds" 'BEGIN {
    d = s - b; pct = 100 * d / b
    printf "fork+exec /bin/true, %d execs x %d rounds (median)\n", n, r
    printf "  without shim: %8.1f us/exec\n", b
    printf "  with shim:    %8.1f us/exec\n", s
    printf "  overhead:     %8.1f us/exec (%+.1f%%), ratio %.3f\n", d, pct, s / b
    lim = (0.05 * b > 20) ? 0.05 * b : 20
    printf "  target:       <= %.1f us/exec -> %s\n", lim, (d <= lim) ? "met" : "NOT met"
}'
