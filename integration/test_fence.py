"""Fencing tokens on the file backend: LOKT_FENCE for the guarded command, status and
status --json show the fence, `lokt exists NAME --fence N` checks it, and fences grow strictly
from one holder to the next (also across concurrent guards and after a break)."""
import json
import subprocess

from lockfiles import lock_record, plant

GUARD_WORKER = r"""
set -u
for i in $(seq "$ROUNDS"); do
    "$LOKT" guard x --wait --timeout 120s -- sh -c 'echo "$LOKT_FENCE" >> "$LOG"' \
        || { echo "guard failed: $?" >&2; exit 10; }
done
"""


def test_concurrent_guards_see_strictly_increasing_fences(lokt, tmp_path):
    procs, rounds = 6, 8
    log = tmp_path / "fences"
    workers = []
    for i in range(procs):
        env = lokt.env(owner=f"worker-{i}", LOKT=lokt.bin, ROUNDS=rounds, LOG=log)
        workers.append(subprocess.Popen(["bash", "-c", GUARD_WORKER], env=env, cwd=lokt.cwd,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    errors = []
    for w in workers:
        _, err = w.communicate(timeout=300)
        if w.returncode != 0:
            errors.append((w.returncode, err))
    assert errors == []
    # The lock serialises the appends, so the file is in order of acquisition.
    fences = [int(line) for line in log.read_text().split()]
    assert len(fences) == procs * rounds
    assert all(a < b for a, b in zip(fences, fences[1:])), fences
    assert len(lokt.events("x", "acquire")) == procs * rounds


def test_exists_fence_holds_only_for_the_current_holding(lokt):
    assert lokt.run("lock", "deploy", "--ttl", "10m").returncode == 0
    status = json.loads(lokt.run("status", "deploy", "--json").stdout)
    fence = status["fence"]
    assert isinstance(fence, int) and fence > 0
    assert lokt.read_lock("deploy")["fence"] == fence
    assert f"fence:     {fence}\n" in lokt.run("status", "deploy").stdout
    listed = json.loads(lokt.run("status", "--json").stdout)
    assert [e["fence"] for e in listed] == [fence]

    r = lokt.run("exists", "deploy", "--fence", str(fence))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert lokt.run("exists", "deploy", "--fence", str(fence + 1)).returncode == 3
    assert lokt.run("exists", "other", "--fence", str(fence)).returncode == 3

    assert lokt.run("unlock", "deploy").returncode == 0
    assert lokt.run("exists", "deploy", "--fence", str(fence)).returncode == 3
    assert lokt.run("lock", "deploy").returncode == 0
    assert lokt.read_lock("deploy")["fence"] > fence
    assert lokt.run("exists", "deploy", "--fence", str(fence)).returncode == 3


def test_exists_fence_rejects_what_is_not_a_positive_integer(lokt):
    for bad in ["0", "-1", "x", "1x", ""]:
        r = lokt.run("exists", "deploy", "--fence", bad)
        assert r.returncode == 64, bad
        assert r.stderr.startswith(f'error: --fence wants a positive integer, not "{bad}"\n'), r.stderr


def test_the_guarded_command_checks_its_own_fence(lokt):
    # An outer LOKT_FENCE (a guard above, or a stale export) never reaches the command.
    env = lokt.env(LOKT_FENCE="999999")
    script = f'echo "$LOKT_FENCE"; "{lokt.bin}" exists build --fence "$LOKT_FENCE" && echo current'
    r = lokt.run("guard", "build", "--", "sh", "-c", script, env=env)
    assert r.returncode == 0, r.stderr
    fence, verdict = r.stdout.split()
    assert verdict == "current" and int(fence) < 999999
    # A second holding gets a larger one; the first is no longer current.
    r2 = lokt.run("guard", "build", "--", "sh", "-c", 'echo "$LOKT_FENCE"')
    assert int(r2.stdout) > int(fence)
    assert lokt.run("exists", "build", "--fence", fence).returncode == 3


def test_a_guard_on_several_names_lists_each_fence(lokt):
    assert lokt.run("lock", "b").returncode == 0
    assert lokt.run("unlock", "b").returncode == 0
    r = lokt.run("guard", "a", "b", "--", "sh", "-c", 'echo "$LOKT_FENCE"')
    assert r.returncode == 0, r.stderr
    assert r.stdout == "a:1,b:2\n"


def test_fences_grow_past_a_broken_and_a_pruned_lock(lokt):
    assert lokt.run("lock", "x", owner="a").returncode == 0
    first = lokt.read_lock("x")["fence"]
    assert lokt.run("unlock", "x", "--force", owner="b").returncode == 0
    assert lokt.run("lock", "x", "--ttl", "10m", owner="b").returncode == 0
    second = lokt.read_lock("x")["fence"]
    assert second > first
    # An expired lock of the original lokt (no fence) is pruned; the counter still rules.
    plant(lokt, "x", lock_record("x", age=100, ttl=10))
    assert lokt.run("lock", "x", owner="c").returncode == 0
    assert lokt.read_lock("x")["fence"] > second
