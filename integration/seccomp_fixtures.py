"""pytest fixtures for the seccomp-mode tests (imported by test_seccomp_*.py)."""
import json
import os
import subprocess

import pytest

from seccomp_support import build_targets, notify_supported

RULES = """\
terraform wait=10s : fake-terraform apply|destroy *
garbage   wait=0   : garbage-tool *
selfrule  wait=0   : lokt status *
"""


@pytest.fixture(scope="session")
def targets(tmp_path_factory):
    out = tmp_path_factory.mktemp("seccomp-targets")
    try:
        t = build_targets(str(out))
    except RuntimeError as e:
        pytest.skip(f"cannot build the C test targets: {e}")
    if not notify_supported(t["probe"]):
        pytest.skip("this kernel (or its seccomp policy) refuses SECCOMP_FILTER_FLAG_NEW_LISTENER")
    return t


class Sc:
    """Runs commands under `lokt shim --seccomp` against the test's root."""

    def __init__(self, lokt, targets, tmp_path, rules=RULES):
        self.lokt = lokt
        self.t = targets
        self.dir = str(tmp_path / "fake")
        os.makedirs(self.dir, exist_ok=True)
        self.rules = str(tmp_path / "rules")
        self.write_rules(rules)
        self.bindir = os.path.dirname(targets["probe"])
        self.flags = []  # e.g. ["--no-preload"]: every exec stops in the filter

    def write_rules(self, text):
        with open(self.rules, "w") as f:
            f.write(text)

    def env(self, **extra):
        e = {"PATH": self.bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
             "FAKE_DIR": self.dir}
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def argv(self, cmd):
        return ["shim", "--seccomp", *self.flags, "--rules", self.rules, "--", *cmd]

    def run(self, *cmd, owner="agent-a", timeout=60, **extra):
        return self.lokt.run(*self.argv(cmd), owner=owner, env=self.env(**extra), timeout=timeout)

    def start(self, *cmd, owner="agent-a", **extra):
        return self.lokt.start(*self.argv(cmd), owner=owner, env=self.env(**extra))

    def path(self, name):
        return os.path.join(self.dir, name)

    def log(self):
        try:
            with open(self.path("log")) as f:
                return [line.split() for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def status(self):
        r = self.lokt.run("status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout) if r.stdout.strip() else []


@pytest.fixture
def sc(lokt, targets, tmp_path):
    return Sc(lokt, targets, tmp_path)


def touch(path):
    with open(path, "w"):
        pass


def finish(proc, timeout=30):
    """Waits for a started process; returns (rc, stdout, stderr)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"process did not finish: {err}")
    return proc.returncode, out, err
