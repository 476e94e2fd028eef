"""Shared fixtures for the black-box tests of the installed `lokt` binary.

Every test gets its own lock root (LOKT_ROOT in a temp dir) and helpers to run lokt,
start background processes and poll for conditions with a deadline (never sleep-and-hope).
"""
import json
import os
import signal
import subprocess
import time

import pytest

LOKT = os.environ.get("LOKT_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "build", "stage", "bin", "lokt")


def wait_for(pred, timeout=10.0, interval=0.005, what="condition"):
    """Polls pred() until it returns a truthy value or the deadline passes (then fails)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False


class Lokt:
    """Runs the lokt binary against one temporary root."""

    def __init__(self, root, cwd):
        self.root = str(root)
        self.cwd = str(cwd)
        self.bin = os.path.abspath(LOKT)

    def env(self, owner="tester", **extra):
        e = dict(os.environ)
        e["LOKT_ROOT"] = self.root
        if owner is not None:
            e["LOKT_OWNER"] = owner
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def run(self, *args, owner="tester", env=None, timeout=60, input=None, **extra):
        e = self.env(owner, **extra)
        if env:
            e.update(env)
        return subprocess.run([self.bin, *args], cwd=self.cwd, env=e, capture_output=True,
                              text=True, timeout=timeout, input=input)

    def start(self, *args, owner="tester", env=None, **popen):
        e = self.env(owner)
        if env:
            e.update(env)
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen([self.bin, *args], cwd=self.cwd, env=e, text=True, **popen)

    def lock_file(self, name):
        return os.path.join(self.root, "locks", name + ".json")

    def read_lock(self, name):
        try:
            with open(self.lock_file(name)) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def audit(self):
        path = os.path.join(self.root, "audit.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def events(self, name=None, event=None):
        return [e for e in self.audit()
                if (name is None or e.get("name") == name)
                and (event is None or e.get("event") == event)]


@pytest.fixture
def lokt(tmp_path):
    root = tmp_path / "root"
    work = tmp_path / "work"
    work.mkdir()
    return Lokt(root, work)


@pytest.fixture(autouse=True)
def _reap_leftovers():
    """Kills processes a failed test left in its own process groups."""
    yield
