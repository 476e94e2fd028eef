#!/usr/bin/env bash
# Benchmarks lokt on etcd (issue 11 "Numbers"): not a test, numbers for humans. Starts one
# etcd member of its own on 127.0.0.1 (random free ports, a temporary data dir) and, in one run:
#   1. uncontended: `lokt guard x -- true` on etcd vs `etcdctl lock x -- true` against the same
#      member, interleaved, medians and their ratio (target <= 0.5); `lokt guard` on files too
#   2. handoff: 8 processes x ROUNDS/6 rounds of `lokt guard -q --wait h -- CMD`; the gap from one
#      holder's release to the next acquire, from the audit events stored in etcd and from the
#      commands' own start/end stamps (target: median <= 5 ms)
#   3. breakdown of one uncontended guard: each etcd round trip (LOKT_LOG=debug prints one line
#      per request with its time) and the syscalls of all its processes (strace -f -c)
# Usage: LOKT_BIN=build/stage/bin/lokt scripts/bench_etcd.sh [ROUNDS]   (default 30)
# LOKT_BASE_BIN=OTHER/bin/lokt adds that build (e.g. main's) to 1 and 2, in the same run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lokt=$(realpath "${LOKT_BIN:-$here/build/stage/bin/lokt}")
[[ -x $lokt ]] || { echo "need LOKT_BIN ($lokt)" >&2; exit 1; }
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
    { echo "need etcd and etcdctl (scripts/install-deps.sh)" >&2; exit 1; }
base_bin=${LOKT_BASE_BIN:+$(realpath "$LOKT_BASE_BIN")}
exec /usr/bin/python3 - "$lokt" "$here/tests/etcd" "${1:-30}" "$base_bin" <<'PYEOF'
import json, os, shutil, statistics, subprocess, sys, tempfile, time
from datetime import datetime, timezone

lokt, harness_dir, rounds, base_bin = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, harness_dir)
from etcd_harness import Etcd  # noqa: E402  (one member on 127.0.0.1, random ports)


def run(argv, env, **kw):
    return subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL, **kw)


def timed(argv, env):
    t0 = time.monotonic()
    run(argv, env, stdout=subprocess.DEVNULL)
    return (time.monotonic() - t0) * 1e3


def ts(s):
    """An audit timestamp (RFC 3339, up to 9 fraction digits, Z) in seconds."""
    base, _, frac = s.rstrip("Z").partition(".")
    t = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


def pct(xs, p):
    xs = sorted(xs)
    return xs[int(p * (len(xs) - 1))]


def uncontended(e, base):
    on_etcd = dict(base, LOKT_BACKEND=e.url("bench"))
    runs = {
        "lokt guard x -- true (etcd)": ([lokt, "guard", "x", "--", "true"], on_etcd),
        "etcdctl lock x -- true": (["etcdctl", "--endpoints", e.endpoint, "lock", "bench/y", "--", "true"], base),
        "lokt guard x -- true (files)": ([lokt, "guard", "x", "--", "true"], base),
    }
    if base_bin:
        runs["baseline build, guard (etcd)"] = ([base_bin, "guard", "x", "--", "true"], on_etcd)
    times = {k: [] for k in runs}
    for argv, env in runs.values():
        timed(argv, env)  # warm the page cache
    for _ in range(rounds):
        for k, (argv, env) in runs.items():
            times[k].append(timed(argv, env))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"1. uncontended ({rounds} runs each, interleaved)")
    for k, m in med.items():
        print(f"   {k:30}: median {m:6.2f} ms")
    ours, theirs = med["lokt guard x -- true (etcd)"], med["etcdctl lock x -- true"]
    print(f"   ratio guard(etcd) / etcdctl   : {ours / theirs:.2f} (target <= 0.5)")
    if base_bin:
        was = med["baseline build, guard (etcd)"]
        print(f"   baseline build / etcdctl      : {was / theirs:.2f}; this build / baseline {ours / was:.2f}")


def handoff(e, base, work, binary, prefix, label):
    procs, per = 8, max(2, rounds // 6)
    env = dict(base, LOKT_BACKEND=e.url(prefix))
    log = os.path.join(work, prefix + "-stamps")
    # The command stamps its start and end with bash's own clock (no extra process).
    cmd = f'echo "start $EPOCHREALTIME" >> {log}; echo "end $EPOCHREALTIME" >> {log}'
    script = f'for i in $(seq {per}); do "$0" guard -q --wait h -- bash -c \'{cmd}\' || exit 1; done'
    ps = [subprocess.Popen(["bash", "-c", script, binary], env=dict(env, LOKT_OWNER=f"b{i}"),
                           stdin=subprocess.DEVNULL) for i in range(procs)]
    try:
        for p in ps:
            assert p.wait(600) == 0, "a contending guard failed"
    finally:
        for p in ps:
            if p.poll() is None:
                p.kill()
                p.wait()
    rows = [l.split() for l in open(log).read().splitlines()]
    cmd_gaps = [(float(b[1]) - float(a[1])) * 1e3 for a, b in zip(rows, rows[1:]) if a[0] == "end" and b[0] == "start"]
    out = run(["etcdctl", "--endpoints", e.endpoint, "get", "--prefix", "--print-value-only", f"{prefix}/~audit/"],
              dict(base, ETCDCTL_API="3"), stdout=subprocess.PIPE, text=True).stdout
    events = [json.loads(l) for l in out.splitlines() if l.strip()]
    events = sorted((x for x in events if x.get("name") == "h"), key=lambda x: ts(x["ts"]))
    audit_gaps = [(ts(b["ts"]) - ts(a["ts"])) * 1e3 for a, b in zip(events, events[1:])
                  if a["event"] == "release" and b["event"] == "acquire"]
    print(f"2. handoff under 8-way contention ({procs} x {per} `guard --wait`), {label}")
    for what, gaps in (("audit: release -> next acquire", audit_gaps), ("command: end -> next start", cmd_gaps)):
        print(f"   {what:30}: median {statistics.median(gaps):6.2f} ms, p90 {pct(gaps, 0.9):6.2f} ms "
              f"over {len(gaps)} (target: median <= 5)")


def breakdown(e, base, work):
    env = dict(base, LOKT_BACKEND=e.url("brk"), LOKT_LOG="debug")
    print("3. breakdown of one uncontended `lokt guard x -- true` on etcd")
    lines = []
    for _ in range(5):  # the fastest of a few runs: the load of the machine is not ours
        t0 = time.monotonic()
        err = run([lokt, "guard", "x", "--", "true"], env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                  text=True).stderr
        took = (time.monotonic() - t0) * 1e3
        trips = [l.split("etcd ", 1)[1] for l in err.splitlines() if ": debug: etcd " in l]
        if not lines or took < lines[0]:
            lines = [took, trips]
    took, trips = lines
    total = sum(float(t.rsplit(" ", 2)[-2]) for t in trips if t.endswith(" ms"))
    print(f"   whole run {took:.2f} ms; {len(trips)} round trips, {total:.2f} ms in them:")
    for t in trips:
        print(f"     {t}")
    if shutil.which("strace"):
        out = os.path.join(work, "strace")
        run(["strace", "-f", "-c", "-o", out, lokt, "guard", "x", "--", "true"], dict(env, LOKT_LOG="off"),
            stdout=subprocess.DEVNULL)
        calls = {}
        for line in open(out):
            f = line.split()
            if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
                calls[f[-1]] = int(f[3])
        top = sorted(calls.items(), key=lambda kv: -kv[1])[:10]
        print(f"   syscalls (all processes): {sum(calls.values())}; most frequent: "
              + ", ".join(f"{k} {v}" for k, v in top))
    else:
        print("   (strace unavailable: no syscall count)")


def main():
    e = Etcd()
    work = tempfile.mkdtemp(prefix="lokt-bench-etcd-")
    try:
        base = dict(os.environ, LOKT_ROOT=os.path.join(work, "root"), LOKT_OWNER="bench", ETCDCTL_API="3")
        base.pop("LOKT_BACKEND", None)
        base.pop("LOKT_LOG", None)
        print(f"etcd {e.endpoint}, lokt {lokt}")
        uncontended(e, base)
        handoff(e, base, work, lokt, "hand", "this build")
        if base_bin:
            handoff(e, base, work, base_bin, "hand0", "baseline build")
        breakdown(e, base, work)
    finally:
        e.stop()
        shutil.rmtree(e.dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


main()
PYEOF
