"""The preload shim's exec path when no rule matches (issue 13): the hooked execve makes no
syscall of its own. strace follows a fork+execve driver; in the forked child, the syscalls
before execve must be the same with and without the shim."""
import os
import shutil
import subprocess

import pytest

from shimkit import SRC, shim, shim_targets  # noqa: F401  (fixtures)

RULES = "build wait=0 : fake-make *\ngit-push : fake-git push *\n"


@pytest.fixture
def driver(tmp_path):
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    out = str(tmp_path / "exec_driver")
    subprocess.run(["gcc", "-O1", "-o", out, os.path.join(SRC, "exec_driver.c")], check=True,
                   capture_output=True)
    return out


def child_syscalls_before_exec(trace_file, driver_pid):
    """The syscall names the driver's forked child made before its execve."""
    by_pid = {}
    with open(trace_file) as f:
        for line in f:
            pid, _, rest = line.strip().partition(" ")
            rest = rest.lstrip()  # strace pads the pid column with more than one space at times
            # Signals, exits, and the second half of a call strace split in two.
            if rest.startswith(("---", "+++", "<...")):
                continue
            by_pid.setdefault(int(pid), []).append(rest.split("(", 1)[0])
    [child] = [p for p in by_pid if p != driver_pid and "execve" in by_pid[p]]
    calls = by_pid[child]
    return calls[:calls.index("execve")]


def traced(shim, driver, tmp_path, under_shim):
    trace = str(tmp_path / ("shim.trace" if under_shim else "plain.trace"))
    cmd = ["strace", "-f", "-qq", "-o", trace, driver, "1", "/bin/true"]
    if under_shim:
        r = shim.run(*cmd)
    else:
        r = subprocess.run(cmd, env=shim.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with open(trace) as f:
        first = f.readline()
    driver_pid = int(first.split(" ", 1)[0])
    with open(trace) as f:
        text = f.read()
    # The shim really was loaded into the driver (else the comparison proves nothing).
    assert ("liblokt_preload.so" in text) == under_shim
    return child_syscalls_before_exec(trace, driver_pid)


def test_non_matching_execve_adds_no_syscall(shim, driver, tmp_path):
    shim.rules(RULES)
    plain = traced(shim, driver, tmp_path, under_shim=False)
    shimmed = traced(shim, driver, tmp_path, under_shim=True)
    assert shimmed == plain
