#!/usr/bin/env bash
# The exec path under `lokt shim` (issue 13): two workloads where no rule matches, run with no
# shim, with the preload shim and under --seccomp, interleaved round by round so that load
# drift hits every variant alike; each variant's median is divided by the no-shim median of the
# same invocation.
#   loop  a shell loop of N `/bin/true` execs: CPU of the whole tree (lokt's supervisor too)
#   make  `make -s -j8` of M no-op recipes (`true`, found through PATH): wall time
# Targets: loop <= 1.02x (preload), <= 1.05x (seccomp); make <= 1.03x, <= 1.15x. Two more
# variants: --seccomp --no-preload (the filter alone, every exec a round trip to lokt), and an
# empty preloaded library (the part of the preload's cost that is the loader's).
#
# usage: scripts/bench_exec.sh [ROUNDS] [N] [M]     (env: LOKT_BIN, LOKT_PRELOAD_LIB)
set -euo pipefail
rounds=${1:-5}
n=${2:-1000}
m=${3:-2000}
source "$(dirname "$0")/bench_common.sh"
# Explicit phony targets (make skips pattern rules for phony ones).
{
    printf 'T :='
    for ((i = 0; i < m; i++)); do printf ' t%d' "$i"; done
    printf '\nall: $(T)\n.PHONY: all $(T)\n$(T):\n\t@true\n'
} > "$tmp/Makefile"
mkdir -p "$tmp/root"
export LOKT_ROOT=$tmp/root
/usr/bin/python3 - "$tmp" "$lokt" "$lib" "$n" "$rounds" "$m" <<'PY'
import os, resource, statistics, subprocess, sys, time
tmp, lokt, lib, n, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
m = int(sys.argv[6])
base_env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "LOKT_SHIM")}
preload_env = dict(base_env, LD_PRELOAD=lib, LOKT_SHIM="1", LOKT_BIN=lokt, LOKT_RULES=f"{tmp}/rules")
seccomp = [lokt, "shim", "--seccomp", "--rules", f"{tmp}/rules", "--"]
seccomp_alone = [lokt, "shim", "--seccomp", "--no-preload", "--rules", f"{tmp}/rules", "--"]
loop = ["/bin/bash", "-c", f"for ((i = 0; i < {n}; i++)); do /bin/true; done"]
build = ["make", "-s", "-j8", "-f", f"{tmp}/Makefile", "-C", tmp]
variants = {"none": ([], base_env), "preload": ([], preload_env), "seccomp": (seccomp, base_env),
            "no-preload": (seccomp_alone, base_env),
            "any-preload": ([], dict(base_env, LD_PRELOAD=f"{tmp}/libempty.so"))}

def run(cmd, env):
    """(wall s, CPU s of the whole tree, lokt's supervisor included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

for work in (loop, build):  # warm the page cache
    for prefix, env in variants.values():
        run(prefix + work, env)
res = {(w, k): [] for w in ("loop", "make") for k in variants}
for _ in range(rounds):
    for k, (prefix, env) in variants.items():
        res[("loop", k)].append(run(prefix + loop, env))
        res[("make", k)].append(run(prefix + build, env))

def med(w, k, i):
    return statistics.median(r[i] for r in res[(w, k)])

def ratios(w, k, i):
    """Median ratio, and the range of the per-round ratios (round r against round r)."""
    per = [a[i] / b[i] for a, b in zip(res[(w, k)], res[(w, "none")])]
    return med(w, k, i) / med(w, "none", i), min(per), max(per)

print(f"exec path, no rule matching, {rounds} interleaved rounds (medians; per-round range)")
rows = [("loop", 1, f"{n} x /bin/true shell loop, CPU", {"preload": 1.02, "seccomp": 1.05}),
        ("make", 0, f"make -s -j8 of {m} no-op recipes, wall", {"preload": 1.03, "seccomp": 1.15})]
for w, i, title, target in rows:
    base = med(w, "none", i)
    print(f"  {title}: no shim {base:.3f}s")
    notes = {"any-preload": "(an empty library: the loader's share)",
             "no-preload": "(--seccomp --no-preload: every exec stops in the filter)"}
    for k in ("preload", "seccomp", "no-preload", "any-preload"):
        r, lo, hi = ratios(w, k, i)
        verdict = f"target <= {target[k]:.2f}: {'met' if r <= target[k] else 'NOT met'}" if k in target \
            else notes[k]
        print(f"    {k:11s} {med(w, k, i):.3f}s  ratio {r:.3f}  (rounds {lo:.3f}-{hi:.3f})  {verdict}")
print(f"  load average: {os.getloadavg()[0]:.2f} (compare ratios, not seconds, on a shared machine)")
PY
