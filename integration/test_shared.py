"""Shared locks and slot pools (issue 12): hammers that count overlaps, writer preference
measured as a count (no timing), LOKT_SLOT, SIGKILLed holders, and the CLI around them."""
import json
import os
import signal
import subprocess

from conftest import pid_alive, scaled, wait_for

MIXED_WORKER = r"""
set -u
log() { echo "$1" >> "$LOG"; }   # short O_APPEND writes: one line each, in order
for i in $(seq "$ROUNDS"); do
    if [ $(( (i + AGENT) % 4 )) -eq 0 ]; then mode=x; flag=""; else mode=s; flag="--shared"; fi
    log "req $mode $AGENT $i"
    "$LOKT" lock x $flag --wait --timeout 120s >/dev/null || { echo "lock failed: $?" >&2; exit 10; }
    log "in $mode $AGENT $i"
    : > "$INSIDE/$mode-$AGENT"
    others=$(ls "$INSIDE")
    case "$mode" in
    x) [ "$others" = "x-$AGENT" ] || echo "exclusive with: $others" >> "$BAD" ;;
    s) case "$others" in *x-*) echo "shared with: $others" >> "$BAD" ;; esac
       [ "$(echo "$others" | wc -l)" -gt 1 ] && echo overlap >> "$SHARED" ;;
    esac
    rm -f "$INSIDE/$mode-$AGENT"
    "$LOKT" unlock x >/dev/null || { echo "unlock failed: $?" >&2; exit 11; }
done
"""


def run_workers(lokt, script, n, timeout=240, **env):
    workers = []
    for i in range(n):
        e = lokt.env(owner=f"agent-{i}", LOKT=lokt.bin, AGENT=i, **env)
        workers.append(subprocess.Popen(["bash", "-c", script], env=e, cwd=lokt.cwd,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    errors = []
    try:
        for w in workers:
            _, err = w.communicate(timeout=timeout)
            if w.returncode != 0:
                errors.append((w.returncode, err))
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    return errors


def test_hammer_16_agents_mixing_shared_and_exclusive(lokt, tmp_path):
    agents, rounds = 16, scaled(30)
    inside = tmp_path / "inside"
    inside.mkdir()
    log, bad, shared = tmp_path / "log", tmp_path / "bad", tmp_path / "shared"
    errors = run_workers(lokt, MIXED_WORKER, agents, ROUNDS=rounds, LOG=log, INSIDE=inside,
                         BAD=bad, SHARED=shared)
    assert errors == []
    assert not bad.exists(), bad.read_text()          # never an exclusive holder with anyone
    overlaps = len(shared.read_text().splitlines()) if shared.exists() else 0
    print(f"shared holders found company {overlaps} times")
    assert overlaps > 0                                # shared holders did run together
    assert lokt.read_lock("x") is None
    assert len(lokt.events("x", "acquire")) == agents * rounds

    # Writer preference, as a count: while an exclusive request waits, each other agent can
    # get in at most twice (once ahead of its ticket, once between its logging and queueing);
    # without the preference a stream of readers could keep it out indefinitely.
    lines = log.read_text().split("\n")
    worst = 0
    for k, line in enumerate(lines):
        if not line.startswith("req x "):
            continue
        served = lines.index("in x " + line[len("req x "):], k)
        worst = max(worst, sum(1 for l in lines[k:served] if l.startswith("in s ")))
    print(f"at most {worst} shared entries while an exclusive request waited")
    assert worst <= 2 * (agents - 1)


SLOT_WORKER = r"""
set -u
for i in $(seq "$ROUNDS"); do
    "$LOKT" guard pool --slots 3 --wait --timeout 120s -- bash -c '
        ( set -o noclobber; : > "$INSIDE/$LOKT_SLOT" ) 2>/dev/null || echo "slot $LOKT_SLOT taken twice" >> "$BAD"
        n=$(ls "$INSIDE" | wc -l); [ "$n" -le 3 ] || echo "$n holders" >> "$BAD"
        echo "$LOKT_SLOT" >> "$USED"
        rm -f "$INSIDE/$LOKT_SLOT"' || { echo "guard failed: $?" >&2; exit 10; }
done
"""


def test_slots_3_under_12_agents(lokt, tmp_path):
    inside = tmp_path / "inside"
    inside.mkdir()
    bad, used = tmp_path / "bad", tmp_path / "used"
    errors = run_workers(lokt, SLOT_WORKER, 12, ROUNDS=4, INSIDE=inside, BAD=bad, USED=used)
    assert errors == []
    assert not bad.exists(), bad.read_text()
    slots = used.read_text().split()
    assert len(slots) == 48
    assert set(slots) == {"0", "1", "2"}              # every slot used, and no other number
    assert lokt.read_lock("pool") is None


def holders(lokt, name):
    d = os.path.join(lokt.root, "holders", name)
    out = []
    for f in os.listdir(d) if os.path.isdir(d) else []:
        if f.endswith(".json") and not f.startswith("."):
            try:
                with open(os.path.join(d, f)) as fh:
                    out.append(json.load(fh))
            except (FileNotFoundError, json.JSONDecodeError):
                pass
    return out


def test_sigkilled_holders_slots_are_recovered(lokt, tmp_path):
    guards = [lokt.start("guard", "pool", "--slots", "2", "--", "sleep", "300", owner=f"a{i}",
                         start_new_session=True) for i in range(2)]
    try:
        wait_for(lambda: len(holders(lokt, "pool")) == 2, what="two slot holders")
        held = holders(lokt, "pool")
        assert sorted(h["slot"] for h in held) == [0, 1]
        full = lokt.run("lock", "pool", "--slots", "2")
        assert full.returncode == 2, full.stderr
        # SIGKILL a whole guard: front, supervisor (the holder) and, by PDEATHSIG, its command.
        victim = guards[0]
        sup_pid = next(h["pid"] for h in held if h["owner"] == "a0")
        os.killpg(victim.pid, signal.SIGKILL)
        os.kill(sup_pid, signal.SIGKILL)
        victim.wait()
        wait_for(lambda: not pid_alive(sup_pid), what="the supervisor's death")
        waiter = lokt.run("guard", "pool", "--slots", "2", "--wait", "--timeout", "60s", "--",
                          "bash", "-c", 'echo "slot=$LOKT_SLOT"', owner="late")
        assert waiter.returncode == 0, waiter.stderr
        assert waiter.stdout.strip() == f"slot={[h for h in held if h['owner'] == 'a0'][0]['slot']}"
        # Pruned by the late waiter, or (if one of the two guard processes saw the other die
        # before its own SIGKILL landed) released by it: either way a0's slot came back.
        a0_id = next(h["lock_id"] for h in held if h["owner"] == "a0")
        ended = [e for e in lokt.events("pool") if e.get("lock_id") == a0_id
                 and e["event"] in ("auto-prune", "release")]
        assert ended, lokt.events("pool")
    finally:
        for g in guards:
            if g.poll() is None:
                os.killpg(g.pid, signal.SIGTERM)
                g.wait()


def test_lock_shared_cli_status_exists_unlock(lokt):
    a = lokt.run("lock", "db", "--shared", "--ttl", "5m", owner="a")
    assert a.returncode == 0, a.stderr
    assert a.stdout == 'acquired lock "db" (shared, ttl 5m)\n'
    b = lokt.run("lock", "db", "--shared", "--json", owner="b")
    assert b.returncode == 0, b.stderr
    assert json.loads(b.stdout)["mode"] == "shared"
    ex = lokt.run("lock", "db", owner="c")
    assert ex.returncode == 2
    assert ex.stderr.startswith('error: lock "db" held by ')
    assert lokt.run("exists", "db").returncode == 0
    rows = json.loads(lokt.run("status", "--json").stdout)
    assert sorted(r["owner"] for r in rows) == ["a", "b"]
    assert all(r["mode"] == "shared" for r in rows)
    text = lokt.run("status").stdout
    assert text.count("(shared)") == 2
    one = json.loads(lokt.run("status", "db", "--json").stdout)
    assert sorted(h["owner"] for h in one["holders"]) == ["a", "b"]
    assert lokt.run("unlock", "db", owner="c").returncode == 4   # not c's
    assert lokt.run("unlock", "db", owner="a").returncode == 0
    assert [r["owner"] for r in json.loads(lokt.run("status", "--json").stdout)] == ["b"]
    assert lokt.run("unlock", "db", owner="b").returncode == 0
    assert lokt.run("exists", "db").returncode == 3
    assert lokt.read_lock("db") is None
    assert lokt.run("lock", "db", owner="c").returncode == 0


def test_slot_count_disagreement_and_bad_flags(lokt):
    assert lokt.run("lock", "k", "--slots", "3", owner="a").returncode == 0
    r = lokt.run("lock", "k", "--slots", "4", owner="b")
    assert r.returncode == 1
    assert r.stderr == 'error: lock "k" is held as 3 slots, not as 4 slots (all holders must agree)\n'
    r = lokt.run("lock", "k", "--shared", owner="b")
    assert r.returncode == 1 and "3 slots" in r.stderr and "shared" in r.stderr
    for bad in (["--slots", "0"], ["--slots", "x"], ["--shared", "--slots", "2"]):
        r = lokt.run("lock", "k2", *bad)
        assert r.returncode == 64, (bad, r.stderr)
        assert r.stderr.startswith("error: ")
    r = lokt.run("guard", "a", "b", "--slots", "2", "--", "true")
    assert r.returncode == 64 and "one NAME" in r.stderr


def test_freeze_blocks_shared_and_slots(lokt):
    assert lokt.run("freeze", "f", "--ttl", "1m").returncode == 0
    for flags in (["--shared"], ["--slots", "2"]):
        r = lokt.run("lock", "f", *flags, owner="a")
        assert r.returncode == 2, r.stderr
        assert "frozen" in r.stderr


def test_guard_shared_holders_run_together_and_are_audited(lokt, tmp_path):
    gate = tmp_path / "gate"
    inside = tmp_path / "inside"
    inside.mkdir()
    # Each command marks itself inside, then waits until both are inside: only possible if the
    # two guards hold "g" at the same time.
    script = f': > {inside}/$$; while [ $(ls {inside} | wc -l) -lt 2 ]; do [ -e {gate} ] && exit 9; done; exit 0'
    procs = [lokt.start("guard", "g", "--shared", "--", "bash", "-c", script, owner=f"g{i}") for i in range(2)]
    try:
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
    finally:
        gate.touch()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    acq = lokt.events("g", "acquire")
    assert len(acq) == 2 and all(e["extra"]["mode"] == "shared" for e in acq)
    assert len({e["lock_id"] for e in acq}) == 2
    assert len(lokt.events("g", "release")) == 2
    assert lokt.read_lock("g") is None


def test_original_sees_a_group_as_held(lokt):
    """What the original reads: locks/NAME.json, version 1, naming a live holder."""
    g = lokt.start("guard", "o", "--shared", "--", "sleep", "300", owner="a", start_new_session=True)
    try:
        wait_for(lambda: lokt.read_lock("o"), what="the group record")
        rec = lokt.read_lock("o")
        assert rec["version"] == 1 and rec["mode"] == "shared"
        assert pid_alive(rec["pid"])                   # the original's rule: live pid -> held
        for key in ("name", "lock_id", "owner", "host", "pid", "acquired_ts"):
            assert key in rec
    finally:
        os.killpg(g.pid, signal.SIGTERM)
        g.wait()
    wait_for(lambda: lokt.read_lock("o") is None, what="release")


def test_why_explains_a_shared_lock_and_a_pool(lokt):
    assert lokt.run("lock", "w", "--shared", owner="a").returncode == 0
    assert lokt.run("lock", "w", "--shared", owner="b").returncode == 0
    r = lokt.run("why", "w", owner="c")
    assert r.returncode == 2
    lines = r.stdout.splitlines()
    assert lines[0] == 'lock "w" is held shared by 2 holders:'
    assert sum(1 for l in lines if l.startswith("  a@") or l.startswith("  b@")) == 2
    assert lokt.run("lock", "p", "--slots", "2", owner="a").returncode == 0
    r = lokt.run("why", "p", owner="c")
    assert r.stdout.splitlines()[0] == 'lock "p" is a pool of 2 slots, 1 in use:'
    assert "--slots 2 takes a free slot now" in r.stdout


def test_nested_shared_guard_of_the_same_name_runs_directly(lokt):
    r = lokt.run("guard", "n", "--shared", "--", lokt.bin, "guard", "n", "--shared", "--",
                 "bash", "-c", "echo inner")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "inner\n"
    assert len(lokt.events("n", "acquire")) == 1     # the inner guard took nothing
    # Another mode is another request: an exclusive guard inside a shared one is refused.
    r = lokt.run("guard", "n", "--shared", "--", lokt.bin, "guard", "n", "--", "true")
    assert r.returncode == 2
    assert lokt.read_lock("n") is None
