"""Shared fixtures for the black-box tests of the installed `lokt` binary.

Every test gets its own lock root (LOKT_ROOT in a temp dir) and helpers to run lokt,
start background processes and poll for conditions with a deadline (never sleep-and-hope).
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

LOKT = os.environ.get("LOKT_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "build", "stage", "bin", "lokt")

# What configures the harness itself; every other LOKT_* variable, a preload and sanitizer
# options inherited from the caller (a developer running the suite under `lokt shim`, with
# LOKT_AUDIT_MAX_BYTES exported, or in a sanitizer shell) would steer every lokt the tests
# start, so they are removed before any test runs. Sanitized builds carry their options
# inside the binary (cmake/sanitizer_defaults.cpp).
HARNESS_VARS = {"LOKT_BIN", "LOKT_PRELOAD_LIB", "LOKT_REQUIRE_ALL", "LOKT_TEST_SCALE"}
SCRUBBED_VARS = {"LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}


def scrub_environment(env):
    """Removes the inherited variables above from the mapping `env` (in place)."""
    for k in list(env):
        if (k.startswith("LOKT_") and k not in HARNESS_VARS) or k in SCRUBBED_VARS:
            del env[k]


scrub_environment(os.environ)

# CI sets LOKT_REQUIRE_ALL=1: a test that skips because its environment lacks something (a
# compiler, a kernel feature, privileges) fails instead of passing silently.
REQUIRE_ALL = os.environ.get("LOKT_REQUIRE_ALL") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if REQUIRE_ALL and rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skipped, but LOKT_REQUIRE_ALL=1 allows no skip: {reason}"


# The sanitizer build (scripts/test.sh --sanitize) sets LOKT_TEST_SCALE=0.25: every start of an
# ASan binary costs tens of milliseconds, so the hammers run fewer rounds there. The properties
# they check do not depend on the count.
TEST_SCALE = float(os.environ.get("LOKT_TEST_SCALE") or "1")


def scaled(n):
    """n repetitions, scaled down for slow (sanitized) builds; at least 2."""
    return max(2, int(n * TEST_SCALE))


def as_nobody():
    """The command prefix that runs a program as nobody when we are root (setpriv), else
    nothing: what an unprivileged user meets is tested as one either way."""
    if os.geteuid() != 0:
        return []
    return [shutil.which("setpriv") or "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
            "--clear-groups", "--"]


@pytest.fixture
def open_dir():
    """A temp dir that any user may enter (pytest's own are root-only), removed afterwards."""
    d = tempfile.mkdtemp(prefix="lokt-open-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


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
