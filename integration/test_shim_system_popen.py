"""system() and popen() under the shim (issue 8 §10). glibc 2.36 starts their /bin/sh through
its internal posix_spawn, which no preloaded library can interpose: preload mode never sees
the exec of that shell (a rule matching the shell itself does not apply), but it does see
every command the shell runs, since the shell loads the library. Seccomp mode sees both."""
import subprocess

import pytest

from seccomp_fixtures import targets  # noqa: F401  (fixture: skips where seccomp cannot run)
from shimkit import shim, shim_targets  # noqa: F401  (fixtures)

RULES = "shell : sh -c *\ngit-push : fake-git push *\n"


def run(shim, mode, call):
    return subprocess.run([shim.lokt.bin, "shim", *mode, "--", shim.t.exec_variants, call, "fake-git",
                           "push", "origin"], cwd=shim.lokt.cwd, env=shim.env(), capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("call", ["system", "popen"])
def test_preload_sees_the_command_but_not_the_shell(shim, call):
    shim.rules(RULES)
    r = run(shim, [], call)
    assert r.returncode == 0, r.stderr
    [rec] = shim.records()
    assert rec["held"].startswith("git-push:")  # the shell's own exec of the tool is guarded
    assert shim.lokt.events(name="shell", event="acquire") == []  # the shell itself is not


@pytest.mark.parametrize("call", ["system", "popen"])
def test_seccomp_sees_the_shell_too(shim, targets, call):  # noqa: F811
    shim.rules(RULES)
    r = run(shim, ["--seccomp"], call)
    assert r.returncode == 0, r.stderr
    assert len(shim.lokt.events(name="shell", event="acquire")) == 1
    assert len(shim.lokt.events(name="git-push", event="acquire")) == 1
