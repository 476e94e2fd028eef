"""lokt shim refuses a rules file that does not parse (issue 8 §10): exit 1 with
"error: FILE:LINE: ..." and nothing run, in preload and seccomp mode alike; LOKT_SHIM=off is
the escape that runs the command without transparent locking."""
import os
import subprocess

import pytest

from shimkit import shim, shim_targets  # noqa: F401  (fixtures)

BROKEN = "build wiat=30m : make *\ngit-push wait=10m : fake-git push *\n"
ERROR = 'error: {path}:1: unknown option "wiat=30m"'


@pytest.mark.parametrize("mode", [[], ["--seccomp"]])
def test_shim_refuses_a_rules_file_that_does_not_parse(shim, tmp_path, mode):
    shim.rules(BROKEN)
    ran = tmp_path / "ran"
    r = subprocess.run([shim.lokt.bin, "shim", *mode, "--", "touch", str(ran)], cwd=shim.lokt.cwd,
                       env=shim.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith(ERROR.format(path=shim.rules_file)), r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert not ran.exists()


@pytest.mark.parametrize("mode", [[], ["--seccomp"]])
def test_shim_off_runs_the_command_without_the_broken_rules(shim, tmp_path, mode):
    shim.rules(BROKEN)
    r = subprocess.run([shim.lokt.bin, "shim", *mode, "--", "bash", "-c", "fake-git push; echo $LOKT_SHIM"],
                       cwd=shim.lokt.cwd, env=shim.env(LOKT_SHIM="off"), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "off"
    [warning] = r.stderr.splitlines()
    assert warning.startswith("warning: " + shim.rules_file + ":1: unknown option")
    assert warning.endswith("; running without transparent locking (LOKT_SHIM=off)")
    [rec] = shim.records()
    assert not rec["held"]
    assert not os.path.exists(shim.lokt.lock_file("git-push"))


def test_shim_still_runs_without_any_rules_file(shim):
    r = shim.run("true")
    assert r.returncode == 0
    assert r.stderr == f"warning: no rules file at {shim.rules_file}; nothing will be locked\n"
