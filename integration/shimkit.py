"""Shared pieces of the shim tests: the tiny C target programs (compiled once per session
with gcc), and a `shim` fixture that runs commands under `lokt shim` with a rules file and
reads back what the stand-in tool recorded about each run.

Import the fixtures into a test module with `from shimkit import shim, shim_targets`.
"""
import json
import os
import shutil
import subprocess
from types import SimpleNamespace

import pytest

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim_targets")


def _cc(*args):
    subprocess.run(["gcc", "-O1", "-Wall", *args], check=True, capture_output=True)


@pytest.fixture(scope="session")
def shim_targets(tmp_path_factory):
    """Compiled targets: bin/ holds fake-git, fake-make, fake-deploy (all the recording tool)."""
    d = tmp_path_factory.mktemp("shim_targets")
    bindir = d / "bin"
    bindir.mkdir()
    tool = str(bindir / "fake-git")
    _cc("-o", tool, os.path.join(SRC, "tool.c"))
    for alias in ("fake-make", "fake-deploy", "fake-other"):
        shutil.copy(tool, bindir / alias)
    ev = str(d / "exec_variants")
    _cc("-o", ev, os.path.join(SRC, "exec_variants.c"))
    foo = str(d / "libfoo.so")
    _cc("-shared", "-fPIC", "-o", foo, os.path.join(SRC, "libfoo.c"))
    asan = str(d / "asan_hello")
    try:
        _cc("-fsanitize=address", "-o", asan, os.path.join(SRC, "asan_hello.c"))
    except subprocess.CalledProcessError:
        asan = None
    return SimpleNamespace(dir=str(d), bin=str(bindir), tool=tool, exec_variants=ev, libfoo=foo, asan=asan)


class Shim:
    """Runs commands under `lokt shim` against the test's root, with ROOT/rules."""

    def __init__(self, lokt, targets, tmp_path):
        self.lokt = lokt
        self.t = targets
        self.out = tmp_path / "tool-out"
        self.out.mkdir()
        os.makedirs(lokt.root, exist_ok=True)
        self.rules_file = os.path.join(lokt.root, "rules")

    def rules(self, text):
        with open(self.rules_file, "w") as f:
            f.write(text)

    def env(self, owner="agent-a", **extra):
        e = self.lokt.env(owner)
        e["PATH"] = self.t.bin + ":" + e.get("PATH", "/usr/bin:/bin")
        e["TOOL_OUT"] = str(self.out)
        for k in ("LOKT_SHIM", "LOKT_RULES", "LOKT_HELD", "LOKT_SHIM_DEBUG", "LOKT_SHIM_DOCTOR"):
            e.pop(k, None)
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def argv(self, *cmd):
        return [self.lokt.bin, "shim", "--", *cmd]

    def run(self, *cmd, owner="agent-a", timeout=60, input=None, **extra):
        return subprocess.run(self.argv(*cmd), cwd=self.lokt.cwd, env=self.env(owner, **extra),
                              capture_output=True, text=True, timeout=timeout, input=input)

    def start(self, *cmd, owner="agent-a", **extra):
        return subprocess.Popen(self.argv(*cmd), cwd=self.lokt.cwd, env=self.env(owner, **extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def records(self):
        """What each tool run wrote, oldest first: argv (list of bytes), held, preload, lock, anc."""
        recs = []
        for name in os.listdir(self.out):
            if name.endswith(".tmp"):
                continue
            path = os.path.join(self.out, name)
            with open(path, "rb") as f:
                data = f.read()
            raw, _, tail = data.partition(b"\n--\n")
            rec = {"pid": int(name), "argv": raw.split(b"\0")[:-1], "anc": [], "lock": None,
                   "mtime": os.stat(path).st_mtime_ns}
            for line in tail.decode(errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key == "anc":
                    rec["anc"].append(value)
                elif key == "lock":
                    rec["lock"] = json.loads(value) if value.strip() else None
                else:
                    rec[key] = value
            recs.append(rec)
        recs.sort(key=lambda r: r["mtime"])
        return recs

    def guard_ancestors(self, rec):
        """The ancestors of a tool run that are `lokt guard` processes ("PID cmdline")."""
        return [a for a in rec["anc"] if is_guard_cmdline(a.split(" ", 1)[1])]


def is_guard_cmdline(cmdline):
    words = cmdline.split(" ")
    return len(words) > 1 and os.path.basename(words[0]) == "lokt" and words[1] == "guard"


@pytest.fixture
def shim(lokt, shim_targets, tmp_path):
    return Shim(lokt, shim_targets, tmp_path)
