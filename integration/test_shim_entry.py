"""lokt shim: every exec entry point is seen, non-matching execs are untouched, argv reaches
the tool byte for byte (research §1.5 scenarios 1-5 and 13)."""
import os
import subprocess

import pytest

from shimkit import shim, shim_targets  # noqa: F401  (fixtures)

RULES = "git-push wait=10s : fake-git push *\n"

ENTRY_POINTS = ["execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle",
                "posix_spawn", "posix_spawnp", "vfork", "system", "popen", "fexecve", "execveat"]
# The modes that take a path rather than searching PATH.
PATH_MODES = {"execve", "execv", "execl", "execle", "posix_spawn", "vfork", "fexecve", "execveat"}


def guarded(rec):
    return rec["held"].startswith("git-push:")


@pytest.mark.parametrize("mode", ENTRY_POINTS)
def test_every_entry_point_is_guarded(shim, mode):
    shim.rules(RULES)
    prog = shim.t.tool if mode in PATH_MODES else "fake-git"
    r = shim.run(shim.t.exec_variants, mode, prog, "push", "origin", TOOL_LOCK="git-push")
    assert r.returncode == 0, r.stderr
    recs = shim.records()
    assert len(recs) == 1
    rec = recs[0]
    assert guarded(rec), rec
    assert rec["argv"] == [prog.encode(), b"push", b"origin"]
    assert rec["lock"]["kind"] == "shim"
    assert rec["lock"]["command"].startswith(prog)
    acquires = shim.lokt.events(name="git-push", event="acquire")
    assert len(acquires) == 1
    assert len(shim.lokt.events(name="git-push", event="release")) == 1


@pytest.mark.parametrize("mode", ["execvp", "posix_spawn", "vfork", "system"])
def test_non_matching_exec_is_untouched(shim, mode):
    shim.rules(RULES)
    prog = shim.t.tool if mode in PATH_MODES else "fake-git"
    r = shim.run(shim.t.exec_variants, mode, prog, "status", TOOL_EXIT=5)
    assert r.returncode == 5, r.stderr
    [rec] = shim.records()
    assert rec["held"] == ""
    assert rec["argv"] == [prog.encode(), b"status"]
    assert shim.guard_ancestors(rec) == []
    assert shim.lokt.audit() == []
    assert not os.path.exists(os.path.join(shim.lokt.root, "locks")) or \
        os.listdir(os.path.join(shim.lokt.root, "locks")) == []


def test_failed_exec_keeps_errno(shim):
    shim.rules(RULES)
    r = shim.run(shim.t.exec_variants, "execvp", "no-such-tool-xyz", "push")
    assert r.returncode == 127
    assert "No such file or directory" in r.stderr
    r = shim.run(shim.t.exec_variants, "posix_spawnp", "no-such-tool-xyz")
    assert r.returncode == 127
    assert "posix_spawnp: No such file or directory" in r.stderr


def test_python_path_loop_is_guarded_once(shim, tmp_path):
    shim.rules(RULES)
    missing = [str(tmp_path / f"missing{i}") for i in range(5)]
    path = ":".join(missing + [shim.t.bin, "/usr/bin", "/bin"])
    code = "import subprocess,sys; sys.exit(subprocess.run(['fake-git','push']).returncode)"
    r = shim.run("/usr/bin/python3", "-c", code, PATH=path)
    assert r.returncode == 0, r.stderr
    [rec] = shim.records()
    assert guarded(rec)
    assert len(shim.lokt.events(name="git-push", event="acquire")) == 1


def test_argv_is_preserved_byte_for_byte(shim):
    shim.rules(RULES)
    script = "exec -a weird fake-git push 'a b' '' $'x\\ny' --x=* $'\\x01\\t'"
    r = shim.run("bash", "-c", script)
    assert r.returncode == 0, r.stderr
    [rec] = shim.records()
    assert guarded(rec)
    assert rec["argv"] == [b"weird", b"push", b"a b", b"", b"x\ny", b"--x=*", b"\x01\t"]


def test_argv_with_invalid_utf8_is_preserved(shim):
    shim.rules(RULES)
    r = shim.run("bash", "-c", "fake-git push $'\\xff'")
    assert r.returncode == 0, r.stderr
    [rec] = shim.records()
    assert guarded(rec)
    assert rec["argv"] == [b"fake-git", b"push", b"\xff"]


def test_argv_too_long_for_the_guard_runs_unguarded_with_one_warning(shim):
    shim.rules(RULES)
    arg_max = os.sysconf("SC_ARG_MAX")
    env_bytes = sum(len(k) + len(v) + 2 + 8 for k, v in shim.env().items()) + 200
    # The original argv fits; with the guard's ~15 extra words and the path it does not.
    room = arg_max - env_bytes - 3000
    chunk = 100_000
    words = ["x" * (chunk - 1)] * (room // (chunk + 8))
    rest = room - len(words) * (chunk + 8)
    words.append("y" * max(1, rest - 200))
    r = shim.run(shim.t.exec_variants, "execv", shim.t.tool, "push", *words)
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stderr.count("lokt shim: warning") == 1, r.stderr[-500:]
    [rec] = shim.records()
    assert rec["held"] == ""
    assert len(rec["argv"]) == len(words) + 2


def test_long_argv_that_fits_is_guarded(shim):
    shim.rules(RULES)
    words = ["z" * 1000] * 500
    r = shim.run(shim.t.exec_variants, "execv", shim.t.tool, "push", *words)
    assert r.returncode == 0, r.stderr
    [rec] = shim.records()
    assert guarded(rec)
    assert len(rec["argv"]) == 502


def test_script_without_shebang_runs_through_sh(shim):
    shim.rules("deploy : deploy.sh *\n")
    work = shim.lokt.cwd
    script = os.path.join(work, "deploy.sh")
    with open(script, "w") as f:
        f.write('echo "deployed $1 held=$LOKT_HELD"\n')
    os.chmod(script, 0o755)
    r = shim.run(shim.t.exec_variants, "execv", "./deploy.sh", "prod")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("deployed prod held=deploy:")
    assert len(shim.lokt.events(name="deploy", event="acquire")) == 1


def test_exec_builtin_turns_the_shell_into_the_guard(shim):
    shim.rules(RULES)
    p = shim.start("bash", "-c", "echo $$; exec fake-git push", TOOL_EXIT=3, TOOL_LOCK="git-push")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 3, err
    bash_pid = int(out.split()[0])
    [rec] = shim.records()
    assert guarded(rec)
    assert rec["lock"]["kind"] == "shim"
    # The shell's own pid now runs lokt guard (the front): it is the tool's outermost guard.
    outer = shim.guard_ancestors(rec)[-1]
    assert int(outer.split(" ", 1)[0]) == bash_pid
    assert shim.lokt.read_lock("git-push") is None
    assert len(shim.lokt.events(name="git-push", event="release")) == 1


def test_top_command_itself_is_matched(shim):
    shim.rules(RULES)
    r = shim.run("fake-git", "push", TOOL_LOCK="git-push")
    assert r.returncode == 0, r.stderr
    [rec] = shim.records()
    assert guarded(rec)


def test_kill_switch_per_command(shim):
    shim.rules(RULES)
    r = shim.run("bash", "-c", "LOKT_SHIM=off fake-git push; fake-git push")
    assert r.returncode == 0, r.stderr
    recs = shim.records()
    assert [guarded(x) for x in recs] == [False, True]


def test_debug_prints_one_line_per_decision(shim):
    shim.rules(RULES)
    r = shim.run(shim.t.exec_variants, "execvp", "fake-git", "status", LOKT_SHIM_DEBUG=1)
    assert r.returncode == 0
    lines = [x for x in r.stderr.splitlines() if x.startswith("lokt shim: ")]
    assert len(lines) == 1
    assert "execvp fake-git: pass" in lines[0]
