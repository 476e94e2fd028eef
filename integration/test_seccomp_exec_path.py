"""The exec path of `lokt shim --seccomp` under load (issue 13): receiver threads answer the
execs no rule matches, the loop still locks the matching ones exactly once, and the threads
are gone before the supervisor forks its background copy."""
import os

from conftest import wait_for
from seccomp_fixtures import Sc, finish, sc, targets, touch  # noqa: F401  (fixtures)


def tasks_of(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        return 0


def acquires(sc, name):
    return [e for e in sc.lokt.events(name=name, event="acquire") if e.get("owner") == "agent-a"]


def test_parallel_execs_are_answered_while_a_matching_one_is_locked_once(sc):
    # Four shells exec /bin/true in a loop (no rule) while one exec matches terraform.
    go = sc.path("go")
    loops = " ".join(f"(for i in $(seq 150); do /bin/true || exit 1; done; echo ok{j} >> {sc.path('done')}) &"
                     for j in range(4))
    p = sc.start("/bin/sh", "-c",
                 f"while [ ! -e {go} ]; do :; done; {loops} fake-terraform apply; rc=$?; wait; exit $rc",
                 FAKE_HOLD_MS=0)
    try:
        # The supervisor serves the listener from more than its own thread while CMD runs.
        wait_for(lambda: tasks_of(p.pid) >= 2, what="the receiver threads")
    finally:
        touch(go)
    rc, _, err = finish(p, timeout=120)
    assert rc == 0, err
    assert "warning" not in err, err
    with open(sc.path("done")) as f:
        assert sorted(f.read().split()) == ["ok0", "ok1", "ok2", "ok3"]
    assert len(acquires(sc, "terraform")) == 1


def test_background_copy_locks_a_leftovers_exec_without_threads_at_the_fork(sc):
    # CMD exits while a leftover still has a matching exec to do: the supervisor stops its
    # receivers, forks the background copy (no "not single-threaded" fallback) and that
    # copy still locks the exec.
    out = sc.path("bg.out")
    r = sc.run("/bin/sh", "-c",
               f"( while [ ! -e {sc.path('go')} ]; do /bin/true; done; fake-terraform apply; "
               f"echo rc=$? > {out} ) </dev/null >/dev/null 2>&1 &", FAKE_HOLD_MS=0)
    assert r.returncode == 0, r.stderr
    assert "single-threaded" not in r.stderr, r.stderr
    touch(sc.path("go"))
    wait_for(lambda: os.path.exists(out) and open(out).read().strip(), what="the leftover's exec")
    assert open(out).read().strip() == "rc=0"
    wait_for(lambda: len(acquires(sc, "terraform")) == 1, what="the leftover's lock")


def test_debug_log_reports_the_receivers_answer_times(sc):
    # LOKT_LOG=debug: when the receivers stop, one line says how fast the fast path answered
    # (measured only then); one receiver serves the listener (more only add kernel wake-ups).
    # Without the preload, so that every exec reaches the filter.
    sc.flags = ["--no-preload"]
    r = sc.run("/bin/sh", "-c", "/bin/true; /bin/true; /bin/true", LOKT_LOG="debug")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "seccomp receivers" in ln]
    assert len(lines) == 1, r.stderr
    assert "seccomp receivers (1): fast-path answers, RECV to CONTINUE: " in lines[0], lines[0]
    answers = int(lines[0].split("RECV to CONTINUE: ")[1].split()[0])
    assert answers >= 3, lines[0]  # the three /bin/true, and the shell itself
    assert "waits in RECV after an answer: " in lines[0], lines[0]
    r = sc.run("/bin/true")
    assert "seccomp receivers" not in r.stderr, r.stderr
