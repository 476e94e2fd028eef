#!/usr/bin/env bash
# Overhead of `lokt shim --seccomp` on an exec that matches no rule: N x fork+execve(/bin/true)
# from a small C driver, with no shim, with the preload shim (when built) and under the
# seccomp supervisor, alternating in the same session. Every exec in a seccomp tree costs one
# round trip to the supervisor (receive, read the path, validate, continue).
# Prints µs per exec, the overhead and the ratios. Target (issue 5): ≤ 50 µs per exec.
#
# usage: scripts/bench_seccomp.sh [N] [ROUNDS]     (env: LOKT_BIN, LOKT_PRELOAD_LIB)
set -euo pipefail
n=${1:-1000}
rounds=${2:-5}
need_lib=0 source "$(dirname "$0")/bench_common.sh"
gcc -O2 -o "$tmp/driver" "$here/integration/shim_targets/exec_driver.c"
export LOKT_ROOT=$tmp/root
/usr/bin/python3 - "$tmp" "$lokt" "$lib" "$n" "$rounds" <<'PY'
import os, resource, statistics, subprocess, sys
tmp, lokt, lib, n, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
driver = [f"{tmp}/driver", n, "/bin/true"]
base_env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
variants = {"no shim": (driver, base_env)}
if os.path.exists(lib):
    variants["preload shim"] = (driver, dict(base_env, LD_PRELOAD=lib, LOKT_SHIM="1", LOKT_BIN=lokt,
                                            LOKT_RULES=f"{tmp}/rules"))
variants["seccomp shim"] = ([lokt, "shim", "--seccomp", "--rules", f"{tmp}/rules", "--", *driver], base_env)

def run(cmd, env):
    """(wall µs/exec as the driver measured it, CPU µs/exec of the whole tree incl. lokt)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(out.strip()), cpu * 1e6 / int(n)

for cmd, env in variants.values():
    run(cmd, env)  # warm the page cache
res = {k: ([], []) for k in variants}
for _ in range(rounds):  # alternate, so load drift hits every variant alike
    for k, (cmd, env) in variants.items():
        w, c = run(cmd, env)
        res[k][0].append(w)
        res[k][1].append(c)
med = {k: (statistics.median(w), statistics.median(c)) for k, (w, c) in res.items()}
print(f"fork+exec /bin/true (no rule matches), {n} execs x {rounds} rounds (median)")
print(f"  {'':14s} {'wall us/exec':>13s} {'cpu us/exec':>12s}   ratios (wall) ")
b = med["no shim"]
for k, (w, c) in med.items():
    extra = ""
    if k != "no shim":
        extra = f"{w / b[0]:.3f} vs no shim"
        if k == "seccomp shim" and "preload shim" in med:
            extra += f", {w / med['preload shim'][0]:.3f} vs preload"
    print(f"  {k:14s} {w:13.1f} {c:12.1f}   {extra}")
s = med["seccomp shim"]
print(f"  seccomp overhead: {s[0] - b[0]:.1f} us/exec wall, {s[1] - b[1]:.1f} us/exec cpu; "
      f"target <= 50 us -> {'met' if s[0] - b[0] <= 50 else 'NOT met'} (wall)")
print(f"  load average: {os.getloadavg()[0]:.2f} (numbers are only comparable on an idle machine)")
PY
