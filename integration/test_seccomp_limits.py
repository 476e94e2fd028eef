"""The documented limits of `lokt shim --seccomp` (research §1.5 scenarios 22-24), pinned so
that nobody is surprised by them: a killed supervisor breaks the execs that stop in the filter
(ENOSYS), NO_NEW_PRIVS voids setuid, and a tree can hold only one seccomp notify listener."""
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import pid_alive, wait_for
from seccomp_fixtures import finish, sc, targets, touch  # noqa: F401  (fixtures)

ENOSYS, EBUSY = 38, 16


@pytest.mark.parametrize("probe,target", [
    # An exec that stops in the filter: a static caller's, or one a rule may match.
    ("probe-static", "/bin/true"),
    ("probe", "fake-terraform"),
])
def test_supervisor_killed_makes_exec_fail_with_enosys(sc, probe, target):
    out = sc.path("probe.out")
    go = sc.path("go")
    p = sc.start(sc.t[probe], "waitfile", go, sc.t.get(target, target), "plan", PROBE_OUT=out)
    wait_for(lambda: os.path.exists(out), what="the probe to wait")
    os.kill(p.pid, signal.SIGKILL)  # the supervisor is the process the caller started
    p.wait()
    touch(go)
    wait_for(lambda: "exec-errno" in open(out).read(), what="the probe's exec")
    assert f"exec-errno={ENOSYS}" in open(out).read()


def test_supervisor_killed_leaves_screened_execs_running(sc):
    # An exec the preload screened (no rule can match it) never asks the supervisor, so it
    # still runs after the supervisor is gone.
    out, go, ran = sc.path("probe.out"), sc.path("go"), sc.path("ran")
    p = sc.start(sc.t["probe"], "waitfile", go, "/bin/sh", "-c", f"echo ran > {ran}", PROBE_OUT=out)
    wait_for(lambda: os.path.exists(out), what="the probe to wait")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    touch(go)
    wait_for(lambda: os.path.exists(ran) or "exec-errno" in open(out).read(), what="the probe's exec")
    assert "exec-errno" not in open(out).read()
    wait_for(lambda: open(ran).read() == "ran\n", what="the shell's output")


def _subreaper(on):
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(36, 1 if on else 0, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER


def test_locks_of_a_killed_supervisor_end_with_their_tool(sc):
    # The orphaned tool is re-parented to us, so that we can reap it (this container's init
    # may not, and a zombie still counts as a live holder).
    if not _subreaper(True):
        pytest.skip("cannot become a child subreaper")
    try:
        p = sc.start(sc.t["probe-static"], "execv", sc.t["fake-terraform"], "apply", FAKE_UNTIL="done")
        wait_for(lambda: sc.log(), what="the tool to run")
        tool = int(sc.log()[0][0])
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        rec = sc.lokt.read_lock("terraform")
        assert rec and rec["pid"] == tool  # still held: the tool is alive
        touch(sc.path("done"))
        os.waitpid(tool, 0)
        # The anchor process that carried the lock's process group was re-parented to us too;
        # it ends once the pipe from its dead supervisor is closed, and as an unreaped zombie
        # it would keep that group (and so the lock) alive.
        anchor = rec.get("pgid")
        if anchor and anchor != tool:
            os.waitpid(anchor, 0)
    finally:
        _subreaper(False)
    # Dead-PID detection frees it for the next taker.
    r = sc.lokt.run("lock", "terraform", owner="next")
    assert r.returncode == 0, r.stderr
    assert sc.lokt.events(name="terraform", event="auto-prune")


def _as_nobody():
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        return None
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def test_setuid_is_void_under_no_new_privs(sc):
    drop = _as_nobody()
    if not drop:
        pytest.skip("needs root and setpriv to run lokt as an unprivileged user")
    work = tempfile.mkdtemp(prefix="lokt-nnp-")
    try:
        os.chmod(work, 0o777)
        suid = os.path.join(work, "suid-id")
        shutil.copy("/usr/bin/id", suid)
        os.chmod(suid, 0o4755)
        control = subprocess.run([*drop, suid, "-u"], capture_output=True, text=True)
        if control.stdout.strip() != "0":
            pytest.skip(f"setuid does not work here ({work} may be mounted nosuid)")
        rules = os.path.join(work, "rules")
        shutil.copy(sc.rules, rules)
        os.chmod(rules, 0o644)
        env = dict(os.environ, LOKT_ROOT=os.path.join(work, "root"), LOKT_OWNER="nobody-agent")
        r = subprocess.run([*drop, sc.lokt.bin, "shim", "--seccomp", "--rules", rules, "--", suid, "-u"],
                           capture_output=True, text=True, env=env, cwd=work)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == str(__import__("pwd").getpwnam("nobody").pw_uid)
        assert "no_new_privs" in r.stderr and "sudo" in r.stderr
        # As root no NO_NEW_PRIVS is set: setuid (and sudo) keep working, no warning.
        r = sc.run(suid, "-u")
        assert r.returncode == 0 and r.stdout.strip() == "0"
        assert "no_new_privs" not in r.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_nested_notify_listener_gets_ebusy(sc):
    r = sc.run(sc.t["probe"], "listener")
    assert f"listener-errno={EBUSY}" in r.stderr


def test_nested_seccomp_shim_runs_under_the_outer_one(sc):
    # The inner supervisor cannot install its own filter: it warns and runs the command,
    # which the outer supervisor still locks.
    r = sc.run(sc.lokt.bin, *sc.argv([sc.t["probe-static"], "execv", sc.t["fake-terraform"], "apply"]),
               FAKE_HOLD_MS=0)
    assert r.returncode == 0, r.stderr
    assert "another seccomp listener" in r.stderr
    assert len(sc.log()) == 1
    assert [e for e in sc.lokt.events(name="terraform", event="acquire")]
