"""Real concurrency: a lock/unlock hammer with an overlap detector, and 200 processes racing to
break one stale lock (exactly one winner)."""
import os
import subprocess

import pytest

from conftest import scaled, wait_for
from lockfiles import dead_pid, lock_record, plant

HAMMER_WORKER = r"""
set -u
for i in $(seq "$ROUNDS"); do
    "$LOKT" lock x --wait --timeout 60s >/dev/null || { echo "lock failed: $?" >&2; exit 10; }
    # O_EXCL create: if the marker is already there, another holder is inside with us.
    if ! ( set -o noclobber; : > "$MARK" ) 2>/dev/null; then echo overlap >> "$OVERLAPS"; fi
    n=$(cat "$COUNTER"); echo $((n + 1)) > "$COUNTER"
    rm -f "$MARK"
    "$LOKT" unlock x >/dev/null || { echo "unlock failed: $?" >&2; exit 11; }
done
"""


def test_hammer_16_processes_50_rounds_no_overlap(lokt, tmp_path):
    procs, rounds = 16, scaled(50)
    counter = tmp_path / "counter"
    counter.write_text("0\n")
    overlaps = tmp_path / "overlaps"
    workers = []
    for i in range(procs):
        env = lokt.env(owner=f"worker-{i}", LOKT=lokt.bin, ROUNDS=rounds, MARK=tmp_path / "marker",
                       OVERLAPS=overlaps, COUNTER=counter)
        workers.append(subprocess.Popen(["bash", "-c", HAMMER_WORKER], env=env, cwd=lokt.cwd,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    errors = []
    for w in workers:
        _, err = w.communicate(timeout=240)
        if w.returncode != 0:
            errors.append((w.returncode, err))
    assert errors == []
    assert not overlaps.exists(), overlaps.read_text()
    assert int(counter.read_text()) == procs * rounds  # no lost update either
    assert lokt.read_lock("x") is None
    assert len(lokt.events("x", "acquire")) == procs * rounds
    assert len(lokt.events("x", "release")) == procs * rounds


RACER = ': > "$READY/$$"; read -r _ < "$GATE"; exec "$LOKT" lock x'


def race(lokt, tmp_path, n):
    """Starts n `lokt lock x` (distinct owners), lets them all reach a FIFO gate, opens it at
    once and returns their exit codes and stderr."""
    gate = tmp_path / "gate"
    ready = tmp_path / "ready"
    ready.mkdir()
    os.mkfifo(gate)
    # O_RDWR: never blocks, and keeps the pipe (and the lines written below) alive for racers
    # that open the gate a moment late.
    gate_fd = os.open(gate, os.O_RDWR)
    racers = []
    try:
        for i in range(n):
            env = lokt.env(owner=f"racer-{i}", LOKT=lokt.bin, GATE=gate, READY=ready)
            racers.append(subprocess.Popen(["bash", "-c", RACER], env=env, cwd=lokt.cwd,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                           text=True))
        wait_for(lambda: len(os.listdir(ready)) == n, timeout=60, what="all racers at the gate")
        os.write(gate_fd, b"\n" * n)  # one line per racer: bash's read takes exactly one
        codes, errs = [], []
        for p in racers:
            _, err = p.communicate(timeout=120)
            codes.append(p.returncode)
            errs.append(err)
        return codes, errs
    finally:
        for p in racers:
            if p.poll() is None:
                p.kill()
                p.wait()
        os.close(gate_fd)


def check_one_winner(lokt, codes, errs, removal_events):
    winners = [i for i, c in enumerate(codes) if c == 0]
    assert len(winners) == 1, f"winners: {winners}"
    odd = [(c, e) for c, e in zip(codes, errs) if c not in (0, 2)]
    assert odd == []
    rec = lokt.read_lock("x")
    assert rec["owner"] == f"racer-{winners[0]}"
    removed = [e for e in lokt.audit() if e.get("name") == "x" and e["event"] in removal_events]
    assert len(removed) == 1, removed
    assert len(lokt.events("x", "acquire")) == 1


@pytest.mark.parametrize("n", [200])
def test_200_racers_on_a_dead_guard_lock_one_winner(lokt, tmp_path, n):
    pid = dead_pid()
    plant(lokt, "x", lock_record("x", owner="crashed", pid=pid, pid_start=1, kind="guard", pgid=pid))
    codes, errs = race(lokt, tmp_path, n)
    check_one_winner(lokt, codes, errs, ("auto-prune", "stale-break"))


def test_200_racers_on_an_expired_lease_one_winner(lokt, tmp_path):
    plant(lokt, "x", lock_record("x", owner="sleepy", age=120, ttl=60, kind="lease"))
    codes, errs = race(lokt, tmp_path, 200)
    check_one_winner(lokt, codes, errs, ("auto-prune", "stale-break"))


def test_200_racers_on_a_free_lock_one_winner(lokt, tmp_path):
    os.makedirs(lokt.root)
    codes, errs = race(lokt, tmp_path, 200)
    winners = [c for c in codes if c == 0]
    assert len(winners) == 1
    assert sorted(set(codes)) == [0, 2]
