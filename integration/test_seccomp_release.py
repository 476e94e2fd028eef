"""`lokt shim --seccomp` ends its locks properly (issue 8 §10): the denial message survives in a
stderr that is a regular file, locks of tools that exit are released (not pruned as dead by
a waiter woken by the tool's death), and the background copy that serves CMD's leftovers
keeps their places in the queue (code audit F6)."""
import os
import subprocess

from conftest import pid_alive, wait_for
from seccomp_fixtures import Sc, targets  # noqa: F401  (fixtures)

import pytest

RULES = "deploy wait=1s : env true\nq wait=60s : env sleep *\nq wait=60s : env sh *\n"


@pytest.fixture
def sc(lokt, targets, tmp_path):  # noqa: F811
    return Sc(lokt, targets, tmp_path, rules=RULES)


def tickets(lokt, name):
    try:
        return sorted(os.listdir(os.path.join(lokt.root, "queue", name)))
    except FileNotFoundError:
        return []


def test_denial_message_is_not_overwritten_in_a_regular_file(sc, tmp_path):
    assert sc.lokt.run("lock", "deploy", "--ttl", "1m", owner="human").returncode == 0
    log = tmp_path / "ci.log"
    with open(log, "w") as err:  # opened without O_APPEND, as `2>ci.log` does
        p = subprocess.run([sc.lokt.bin, *sc.argv(["bash", "-c",
                            'echo "step 1 ok" >&2; env true; echo "exit=$?" >&2'])],
                           cwd=sc.lokt.cwd, env=sc.lokt.env("agent-a") | sc.env(), stderr=err,
                           stdout=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 0
    lines = log.read_text().splitlines()
    assert lines[0] == "step 1 ok"
    denial = [x for x in lines if x.startswith("lokt: env needs lock ")]
    assert len(denial) == 1, lines
    assert denial[0].startswith('lokt: env needs lock "deploy": timed out after 1s waiting: lock "deploy" held by human@')
    assert denial[0].endswith("(ask: lokt why deploy)")
    assert lines[-1] == "exit=126"
    assert lines.index(denial[0]) < len(lines) - 1  # before bash's own report of the failure


def test_locks_of_exiting_tools_are_released_not_pruned(sc):
    n = 12
    shim = sc.start("bash", "-c", f"for i in $(seq {n}); do env sleep 0.02; done", owner="agent-a")
    guards = subprocess.Popen(
        ["bash", "-c", f"for i in $(seq {n}); do {sc.lokt.bin} guard q --wait --timeout 60s -- sleep 0.02 "
                       "|| exit 1; done"],
        env=sc.lokt.env("agent-b"), cwd=sc.lokt.cwd)
    try:
        out, err = shim.communicate(timeout=120)
        assert shim.returncode == 0, err
        assert guards.wait(timeout=120) == 0
    finally:
        for p in (shim, guards):
            if p.poll() is None:
                p.kill()
                p.wait()
    shim_acquires = [e for e in sc.lokt.events("q", "acquire") if e["owner"] == "agent-a"]
    shim_releases = [e for e in sc.lokt.events("q", "release") if e["owner"] == "agent-a"]
    assert len(shim_acquires) == n
    assert len(shim_releases) == n
    assert all(e["extra"]["reason"] == "exited" for e in shim_releases)
    assert sc.lokt.events("q", "auto-prune") == []


def test_background_copy_keeps_the_queue_tickets_of_waiting_execs(sc, tmp_path):
    order = tmp_path / "order"
    qdir = os.path.join(sc.lokt.root, "queue", "q")
    assert sc.lokt.run("lock", "q", "--ttl", "1h", owner="holder").returncode == 0
    waiter = None
    try:
        # The leftover's exec waits for q; CMD exits once it is queued.
        # (The redirection is on the subshell: sh keeps copies of the fds it redirects until
        # the exec, which waits, and a copy of our pipe would keep sc.run() waiting too.)
        r = sc.run("sh", "-c", f"(env sh -c 'echo s >> {order}' &) </dev/null >/dev/null 2>&1; "
                               f"while [ -z \"$(ls {qdir} 2>/dev/null)\" ]; do sleep 0.01; done")
        assert r.returncode == 0, r.stderr

        def kept():
            t = tickets(sc.lokt, "q")
            return len(t) == 1 and pid_alive(int(t[0].split("-")[1])) and t
        [ticket] = wait_for(kept, what="the background copy's ticket")
        # It names the background copy, not the foreground that has exited.
        owner_pid = int(ticket.split("-")[1])
        with open(f"/proc/{owner_pid}/cmdline", "rb") as f:
            assert b"--seccomp" in f.read()
        waiter = sc.lokt.start("guard", "q", "--wait", "--timeout", "60s", "--", "sh", "-c",
                               f"echo g >> {order}", owner="agent-b")
        wait_for(lambda: len(tickets(sc.lokt, "q")) == 2, what="the guard's ticket")
        assert sc.lokt.run("unlock", "q", owner="holder").returncode == 0
        assert waiter.wait(timeout=60) == 0
        assert order.read_text().split() == ["s", "g"]
    finally:
        if waiter and waiter.poll() is None:
            waiter.kill()
            waiter.wait()
