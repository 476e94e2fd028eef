"""lokt guard: same-owner exclusion, re-entrancy, heartbeat, a lost lock, --on-timeout and
--on-frozen (requirements 7, 8, 11)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from conftest import wait_for  # noqa: E402
from guardlib import PY, wait_exit  # noqa: E402


def test_same_owner_guards_never_overlap(lokt):
    first = lokt.start("guard", "x", "--", "sleep", "30", owner="agent-1")
    try:
        wait_for(lambda: lokt.read_lock("x"), what="lock taken")
        r = lokt.run("guard", "x", "--", "true", owner="agent-1")
        assert r.returncode == 2
        assert r.stderr.startswith('error: lock "x" held by agent-1@')
    finally:
        first.terminate()
        first.wait(10)


def test_same_owner_waiting_guards_run_one_after_another(lokt, tmp_path):
    log = tmp_path / "log"
    prog = (f"import time\n"
            f"open({str(log)!r}, 'a').write('start %f\\n' % time.time())\n"
            f"time.sleep(0.2)\n"
            f"open({str(log)!r}, 'a').write('end %f\\n' % time.time())\n")
    procs = [lokt.start("guard", "x", "--wait", "--timeout", "30s", "--", PY, "-c", prog,
                        owner="same") for _ in range(4)]
    for p in procs:
        assert wait_exit(p, 30) == 0
    words = [line.split()[0] for line in log.read_text().splitlines()]
    assert words == ["start", "end"] * 4


def test_nested_guard_of_the_same_name_runs_directly(lokt, tmp_path):
    out = tmp_path / "out"
    inner = f"{lokt.bin} guard x -- sh -c 'echo inner-ran >> {out}; exit 5'"
    r = lokt.run("guard", "x", "--", "sh", "-c",
                 f"{inner}; echo inner=$? >> {out}; cat {lokt.lock_file('x')} >> {out}")
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "inner-ran" in text and "inner=5" in text
    assert '"lock_id"' in text  # the outer lock was still there after the inner guard
    assert len(lokt.events("x", "acquire")) == 1
    assert len(lokt.events("x", "release")) == 1
    assert lokt.read_lock("x") is None


def test_nested_guard_without_the_environment_runs_directly(lokt, tmp_path):
    # env -i drops LOKT_HELD: the inner guard recognises the outer supervisor as its ancestor.
    out = tmp_path / "out"
    inner = (f"env -i PATH={os.environ['PATH']} LOKT_ROOT={lokt.root} "
             f"{lokt.bin} guard x -- sh -c 'echo inner-ran held=$LOKT_HELD >> {out}; exit 5'")
    r = lokt.run("guard", "x", "--", "sh", "-c",
                 f"{inner}; echo inner=$? >> {out}; cat {lokt.lock_file('x')} >> {out}")
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "inner-ran held=\n" in text and "inner=5" in text
    assert '"lock_id"' in text  # the outer lock was still there after the inner guard
    assert len(lokt.events("x", "acquire")) == 1
    assert len(lokt.events("x", "release")) == 1
    assert lokt.read_lock("x") is None


def test_guard_of_a_stripped_environment_outside_the_tree_is_refused(lokt):
    first = lokt.start("guard", "x", "--", "sleep", "30")
    try:
        wait_for(lambda: lokt.read_lock("x"), what="lock taken")
        r = lokt.run("guard", "x", "--", "true", env={"LOKT_HELD": ""})
        assert r.returncode == 2, r.stderr
    finally:
        first.terminate()
        first.wait(10)


def test_nested_guard_of_another_name_takes_that_lock(lokt, tmp_path):
    out = tmp_path / "out"
    r = lokt.run("guard", "x", "--", "sh", "-c",
                 f"{lokt.bin} guard y -- sh -c 'echo $LOKT_HELD > {out}'")
    assert r.returncode == 0, r.stderr
    held = out.read_text().strip().split(",")
    assert [h.split(":")[0] for h in held] == ["x", "y"]
    assert lokt.events("y", "acquire") and lokt.events("y", "release")


def test_stale_lokt_held_entry_does_not_skip_the_lock(lokt):
    r = lokt.run("guard", "x", "--", "true", env={"LOKT_HELD": "x:" + "0" * 32})
    assert r.returncode == 0
    assert len(lokt.events("x", "acquire")) == 1


def test_heartbeat_keeps_the_lock_beyond_its_ttl(lokt):
    p = lokt.start("guard", "x", "--ttl", "2s", "--", "sleep", "6")
    wait_for(lambda: lokt.read_lock("x"), what="lock taken")
    t0 = time.monotonic()
    expiries = set()

    def renewed_twice():
        rec = lokt.read_lock("x")
        if rec:
            expiries.add(rec["expires_at"])
        return time.monotonic() - t0 > 3 and len(expiries) >= 3
    wait_for(renewed_twice, timeout=6, interval=0.05, what="renewals")
    # Well past the 2 s TTL, nobody else gets it.
    r = lokt.run("guard", "x", "--", "true", owner="other")
    assert r.returncode == 2, r.stderr
    assert wait_exit(p, 10) == 0
    assert len(lokt.events("x", "renew")) == 1  # the file is renewed; the audit once a minute
    assert lokt.read_lock("x") is None


def test_force_broken_lock_is_noticed_as_lost(lokt):
    p = lokt.start("guard", "x", "--ttl", "1s", "--", "sleep", "2")
    wait_for(lambda: lokt.read_lock("x"), what="lock taken")
    assert lokt.run("unlock", "x", "--force").returncode == 0
    lost = wait_for(lambda: lokt.events("x", "lost"), timeout=2, what="lost audited")
    assert lost[0]["lock_id"]
    # Documented choice: the command keeps running to its end.
    assert wait_exit(p, 10) == 0
    assert "warning: lock \"x\" was broken" in p.stderr.read()
    assert not lokt.events("x", "release")  # nothing of ours left to release


def test_freeze_is_waited_through_with_on_frozen_wait(lokt):
    assert lokt.run("freeze", "x", "--ttl", "1s").returncode == 0
    t0 = time.monotonic()
    r = lokt.run("guard", "x", "--wait", "--timeout", "10s", "--on-frozen", "wait", "--", "true")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 >= 0.5


def test_on_timeout_run_runs_the_command_without_the_lock(lokt):
    assert lokt.run("lock", "x", "--ttl", "5m", owner="other").returncode == 0
    r = lokt.run("guard", "x", "--wait", "--timeout", "300ms", "--on-timeout", "run", "--",
                 "sh", "-c", "echo ran; exit 3")
    assert r.returncode == 3, r.stderr
    assert r.stdout == "ran\n"
    waiting, line = r.stderr.splitlines()
    assert waiting.startswith('lokt: waiting for "x" \u2014 held by other@')
    assert line.startswith('warning: lock "x" still held by other@')
    assert line.endswith("after 300ms; running without it (on-timeout=run)")
    [ev] = lokt.events("x", "unlocked-run")
    assert ev["extra"]["reason"] == "timeout"
    assert ev["extra"]["command"] == "sh -c echo ran; exit 3"
    assert lokt.read_lock("x")["owner"] == "other"  # untouched, and not released by us
    assert not lokt.events("x", "release") and not lokt.events("x", "deny")


def test_on_timeout_run_without_wait_runs_at_once(lokt):
    assert lokt.run("lock", "x", "--ttl", "5m", owner="other").returncode == 0
    r = lokt.run("guard", "x", "--on-timeout", "run", "--", "true")
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith('warning: lock "x" held by other@')
    assert len(lokt.events("x", "unlocked-run")) == 1


def test_on_timeout_run_never_bypasses_a_freeze(lokt):
    assert lokt.run("freeze", "x", "--ttl", "5m").returncode == 0
    r = lokt.run("guard", "x", "--on-timeout", "run", "--", "true")
    assert r.returncode == 2
    assert 'error: lock "x" is frozen until ' in r.stderr
    r = lokt.run("guard", "x", "--wait", "--timeout", "300ms", "--on-frozen", "wait", "--on-timeout", "run",
                 "--", "true")
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1].startswith("error: timed out after 300ms waiting: lock \"x\" is frozen until ")
    assert not lokt.events("x", "unlocked-run")


def test_on_frozen_fail_refuses_a_freeze_even_with_wait(lokt, tmp_path):
    assert lokt.run("freeze", "x", "--ttl", "5m").returncode == 0
    marker = tmp_path / "ran"
    t0 = time.monotonic()
    r = lokt.run("guard", "x", "--wait", "--timeout", "2m", "--on-frozen", "fail", "--",
                 "touch", str(marker))
    assert r.returncode == 2
    assert time.monotonic() - t0 < 60  # did not wait the freeze (or the timeout) out
    assert r.stderr.startswith('error: lock "x" is frozen until ')
    assert not marker.exists()
    assert len(lokt.events("x", "freeze-deny")) == 1


def test_on_frozen_fail_still_waits_for_a_held_lock(lokt):
    assert lokt.run("lock", "x", "--ttl", "1s", owner="other").returncode == 0
    t0 = time.monotonic()
    r = lokt.run("guard", "x", "--wait", "--timeout", "30s", "--on-frozen", "fail", "--", "true")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 >= 0.3
    assert len(lokt.events("x", "release")) == 1


def test_on_timeout_and_on_frozen_reject_other_values(lokt):
    r = lokt.run("guard", "x", "--on-timeout", "maybe", "--", "true")
    assert r.returncode == 64
    assert '--on-timeout must be "fail" or "run"' in r.stderr
    r = lokt.run("guard", "x", "--on-frozen", "never", "--", "true")
    assert r.returncode == 64
    assert not lokt.events("x")
