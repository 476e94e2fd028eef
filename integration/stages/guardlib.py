"""Helpers shared by the guard tests: stage programs, the process tree, orphan reaping."""
import ctypes
import os
import signal
import sys

import pytest
import time

STAGES = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Orphans of a killed guard come to the test process (PID 1 here may never reap them,
    and a zombie still counts as a live holder), and reap_orphans() collects them."""
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@pytest.fixture
def subreaper():
    """Makes the test process a subreaper for one test: orphans of killed guards come to it,
    so a zombie never poses as a live holder; they are reaped at the end. A test module uses
    it with `pytestmark = pytest.mark.usefixtures("subreaper")` after importing it."""
    become_subreaper()
    yield
    reap_orphans()


def stage(name, *args):
    return [PY, os.path.join(STAGES, name), *[str(a) for a in args]]


def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data.rsplit(")", 1)[1].split()
    return {"state": fields[0], "ppid": int(fields[1]), "pgid": int(fields[2])}


def alive(pid):
    s = stat(pid)
    return s is not None and s["state"] not in ("Z", "X")


def children(pid):
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass
    return out


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def reap_orphans(keep=()):
    """Reaps zombie children of the test process that it did not start itself."""
    for c in children(os.getpid()):
        if c in keep:
            continue
        s = stat(c)
        if s and s["state"] == "Z":
            try:
                os.waitpid(c, os.WNOHANG)
            except ChildProcessError:
                pass


def read_lines(path):
    """The whitespace-separated words of a file a stage appends to ([] while it is missing)."""
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def read_pid(path):
    try:
        with open(path) as f:
            txt = f.read().strip()
        return int(txt) if txt else None
    except FileNotFoundError:
        return None


def pids_with_env(var, value):
    """Every process whose environment has VAR=VALUE (what CI orphan sweeps look for)."""
    needle = f"{var}={value}".encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if needle in env and alive(int(d)):
            out.append(int(d))
    return out


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_exit(proc, timeout):
    """Waits for a Popen to exit; returns its code (fails the test on timeout)."""
    try:
        return proc.wait(timeout=timeout)
    except Exception:
        kill_quietly(proc.pid)
        raise


def elapsed_since(t0):
    return time.monotonic() - t0
