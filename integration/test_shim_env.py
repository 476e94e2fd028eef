"""lokt shim: the environment it sets up and keeps (env -i doctoring, co-resident preloads,
ASan), lokt's own execs, no guard in a guard, and broken configuration (research §1.5
scenarios 8, 9, 15, 16)."""
import os
import shutil
import stat
import subprocess

import pytest

from conftest import as_nobody
from shimkit import is_guard_cmdline, shim, shim_targets  # noqa: F401  (fixtures)

RULES = "git-push wait=10s : fake-git push *\n"


def guarded(rec):
    return rec["held"].startswith("git-push:")


def test_shim_sets_up_the_environment(shim):
    shim.rules(RULES)
    r = shim.run("/usr/bin/env", ASAN_OPTIONS="detect_leaks=0")
    assert r.returncode == 0, r.stderr
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    lib = env["LD_PRELOAD"].split(":")[0]
    assert lib.endswith("/liblokt_preload.so") and os.path.isabs(lib) and os.path.exists(lib)
    assert env["LOKT_SHIM"] == "1"
    assert os.path.samefile(env["LOKT_BIN"], shim.lokt.bin)
    assert env["LOKT_RULES"] == shim.rules_file
    assert env["LOKT_ROOT"] == shim.lokt.root
    assert env["ASAN_OPTIONS"] == "detect_leaks=0:verify_asan_link_order=0"


def test_shim_uses_rules_flag_and_relative_paths_become_absolute(shim):
    with open(os.path.join(shim.lokt.cwd, "my.rules"), "w") as f:
        f.write(RULES)
    r = shim.run("/usr/bin/env")  # no ROOT/rules: a warning, the command still runs
    assert r.returncode == 0
    assert "no rules file at" in r.stderr
    p = subprocess.run([shim.lokt.bin, "shim", "--rules", "my.rules", "--", "bash", "-c",
                        "echo $LOKT_RULES; fake-git push"],
                       cwd=shim.lokt.cwd, env=shim.env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == os.path.join(shim.lokt.cwd, "my.rules")
    [rec] = shim.records()
    assert guarded(rec)


def test_shim_usage_errors(shim):
    r = subprocess.run([shim.lokt.bin, "shim"], capture_output=True, text=True, env=shim.env())
    assert r.returncode == 64
    assert "missing command" in r.stderr
    r = subprocess.run([shim.lokt.bin, "shim", "--rules", "/nonexistent/rules", "--", "true"],
                       capture_output=True, text=True, env=shim.env())
    assert r.returncode == 1
    assert r.stderr == "error: no rules file at /nonexistent/rules\n"
    r = shim.run("no-such-command-xyz")
    assert r.returncode == 127
    assert 'cannot run "no-such-command-xyz"' in r.stderr


def test_env_i_is_doctored(shim):
    shim.rules(RULES)
    r = shim.run("env", "-i", "PATH=" + shim.t.bin + ":/usr/bin:/bin", "TOOL_OUT=" + str(shim.out),
                 "/bin/sh", "-c", "fake-git push")
    assert r.returncode == 0, r.stderr
    [rec] = shim.records()
    assert guarded(rec)


def test_doctor_opt_out_lets_env_i_escape(shim):
    shim.rules(RULES)
    r = shim.run("env", "-i", "PATH=" + shim.t.bin + ":/usr/bin:/bin", "TOOL_OUT=" + str(shim.out),
                 "/bin/sh", "-c", "fake-git push", LOKT_SHIM_DOCTOR=0)
    assert r.returncode == 0, r.stderr
    [rec] = shim.records()
    assert not guarded(rec)
    assert shim.lokt.audit() == []


def _guard_depth(shim, tmp_path):
    """How many `lokt guard` processes sit above a tool run by one explicit guard."""
    out = tmp_path / "plain"
    out.mkdir()
    env = shim.env(TOOL_OUT=str(out))
    r = subprocess.run([shim.lokt.bin, "guard", "plain", "--", shim.t.tool], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    [name] = os.listdir(out)
    with open(out / name, "rb") as f:
        tail = f.read().partition(b"\n--\n")[2].decode()
    return sum(1 for line in tail.splitlines()
               if line.startswith("anc=") and is_guard_cmdline(line.split(" ", 1)[1]))


def test_no_guard_in_a_guard(shim, tmp_path):
    shim.rules(RULES + "lokt-rule : lokt *\n")
    # The tool runs its own nested fake-git push via bash: still exactly one guard above it.
    r = shim.run("bash", "-c", "fake-git push && lokt status", PATH=os.path.dirname(shim.lokt.bin) + ":" +
                 shim.t.bin + ":/usr/bin:/bin")
    assert r.returncode == 0, r.stderr
    assert "no locks held" in r.stdout
    [rec] = shim.records()
    assert guarded(rec)
    assert len(shim.guard_ancestors(rec)) == _guard_depth(shim, tmp_path)
    assert shim.lokt.events(name="lokt-rule") == []


def test_nested_match_of_a_held_lock_runs_directly(shim, tmp_path):
    # outer.sh is guarded by "build"; the fake-make it runs also matches "build" and runs
    # directly under the outer guard (LOKT_HELD), whatever entry point it uses.
    outer = tmp_path / "outer.sh"
    outer.write_text(f"#!/bin/sh\nfake-make a && {shim.t.exec_variants} posix_spawn {shim.t.tool} b\n")
    outer.chmod(0o755)
    shim.rules("build : outer.sh\nbuild : fake-make *\nbuild : fake-git b\n")
    r = shim.run(str(outer))
    assert r.returncode == 0, r.stderr
    recs = shim.records()
    assert len(recs) == 2
    assert all(rec["held"].startswith("build:") for rec in recs)
    assert len(shim.lokt.events(name="build", event="acquire")) == 1
    depth = _guard_depth(shim, tmp_path)
    assert [len(shim.guard_ancestors(rec)) for rec in recs] == [depth, depth]


def test_rules_broken_at_run_time_run_every_command_with_one_line_per_process(shim, tmp_path):
    # lokt shim refuses a broken file at start (test_shim_strict_rules.py); one that breaks
    # while the tree runs makes each process started afterwards warn once and pass through.
    shim.rules(RULES)
    broken = tmp_path / "broken"
    broken.write_text("build : make *\nbroken line\n")
    r = shim.run("bash", "-c", f"cp {broken} {shim.rules_file}; "
                               "bash -c 'fake-git push; fake-git push; /bin/echo done'")
    assert r.returncode == 0
    assert r.stdout == "done\n"
    lines = r.stderr.splitlines()
    # One line from each process the library is loaded into after the change: the inner
    # bash, the two fake-git runs and echo.
    shim_lines = [x for x in lines if x.startswith("lokt shim: ")]
    assert shim_lines == 4 * ["lokt shim: " + shim.rules_file + ":2: missing ':' between the lock name "
                              "and the command pattern; transparent locking is off in this process"]
    assert len(shim.records()) == 2
    assert all(not guarded(r) for r in shim.records())


def test_rules_file_the_user_cannot_read_is_refused_unless_the_shim_is_off(shim, open_dir):
    # Root reads any file: lokt shim and the tool run as nobody (setpriv) when the suite runs
    # as root, from a directory nobody may enter.
    bindir = os.path.join(open_dir, "bin")
    os.mkdir(bindir)
    shutil.copy(shim.t.tool, os.path.join(bindir, "fake-git"))
    out = os.path.join(open_dir, "out")
    os.mkdir(out)
    os.chmod(out, 0o777)
    root = os.path.join(open_dir, "root")
    os.makedirs(root, mode=0o777)
    os.chmod(root, 0o777)
    rules = os.path.join(root, "rules")
    with open(rules, "w") as f:
        f.write(RULES)
    os.chmod(rules, 0)
    env = shim.env(LOKT_ROOT=root, TOOL_OUT=out, PATH=bindir + ":/usr/bin:/bin")
    argv = [*as_nobody(), shim.lokt.bin, "shim", "--", "bash", "-c", "fake-git push"]
    r = subprocess.run(argv, cwd=open_dir, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("error: ") and rules in r.stderr
    shim.out = out
    assert shim.records() == []
    r = subprocess.run(argv, cwd=open_dir, env={**env, "LOKT_SHIM": "off"}, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(shim.records()) == 1
    assert not guarded(shim.records()[0])


def test_unreadable_rules_file_is_refused_unless_the_shim_is_off(shim, tmp_path):
    shim.rules(RULES)
    # A directory where the rules file should be: reading it fails (EISDIR) even for root.
    bad = tmp_path / "rules-dir"
    bad.mkdir()
    r = shim.run("bash", "-c", "fake-git push; fake-git push", LOKT_RULES=str(bad))
    assert r.returncode == 1
    assert r.stderr == f"error: read {bad}: Is a directory\n"
    assert shim.records() == []
    r = shim.run("bash", "-c", "fake-git push; fake-git push", LOKT_RULES=str(bad), LOKT_SHIM="off")
    assert r.returncode == 0
    assert r.stderr.startswith(f"warning: read {bad}: Is a directory; running without transparent locking")
    assert len(shim.records()) == 2


def test_missing_lokt_bin_never_stops_the_command(shim):
    shim.rules(RULES)
    r = shim.run("bash", "-c", "LOKT_BIN=/nonexistent/lokt bash -c 'fake-git push'")
    assert r.returncode == 0
    assert len(shim.records()) == 1
    assert r.stderr.count("lokt shim: LOKT_BIN does not exist: /nonexistent/lokt") == 1


def test_asan_binary_runs_and_is_seen(shim):
    if shim.t.asan is None:
        pytest.skip("gcc cannot build with -fsanitize=address here")
    shim.rules(RULES)
    r = shim.run(shim.t.asan, "fake-git", "push")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "asan ok\n"
    [rec] = shim.records()
    assert guarded(rec)


def test_co_resident_preload_is_kept(shim):
    shim.rules(RULES)
    r = shim.run("bash", "-c", "env -i PATH=$PATH TOOL_OUT=$TOOL_OUT fake-git push; fake-git status",
                 LD_PRELOAD=shim.t.libfoo)
    assert r.returncode == 0, r.stderr
    recs = shim.records()
    assert len(recs) == 2
    for rec in recs:
        entries = rec["preload"].split(":")
        assert entries[0].endswith("liblokt_preload.so")
        assert shim.t.libfoo in entries
    assert guarded(recs[0])


def test_shim_does_not_stack_itself_in_ld_preload(shim):
    shim.rules(RULES)
    r = shim.run(shim.lokt.bin, "shim", "--", "/usr/bin/env")
    assert r.returncode == 0, r.stderr
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert len(env["LD_PRELOAD"].split(":")) == 1
