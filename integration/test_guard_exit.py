"""lokt guard: exit statuses, refusals and usage errors (issue 3, requirement 1)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from guardlib import PY  # noqa: E402


@pytest.mark.parametrize("code", [0, 1, 2, 32, 64, 126, 127, 254, 255])
def test_exit_code_of_the_command_is_returned(lokt, code):
    r = lokt.run("guard", "x", "--", "sh", "-c", f"exit {code}")
    assert r.returncode == code
    assert lokt.read_lock("x") is None


@pytest.mark.parametrize("sig", ["TERM", "HUP", "KILL", "QUIT", "INT"])
def test_death_by_signal_returns_128_plus_n(lokt, sig):
    import signal
    n = getattr(signal, "SIG" + sig)
    r = lokt.run("guard", "x", "--", PY, "-c", f"import os,signal; os.kill(os.getpid(), {int(n)})")
    assert r.returncode == 128 + n
    assert lokt.read_lock("x") is None
    rel = lokt.events("x", "release")
    assert rel and rel[-1]["extra"]["reason"] == "signaled"


def test_release_reason_is_exited(lokt):
    assert lokt.run("guard", "x", "--", "true").returncode == 0
    rel = lokt.events("x", "release")
    assert len(rel) == 1 and rel[0]["extra"]["reason"] == "exited"
    assert len(lokt.events("x", "acquire")) == 1


def test_command_not_found_is_127_with_message(lokt):
    r = lokt.run("guard", "x", "--", "no-such-command-lokt")
    assert r.returncode == 127
    assert r.stderr == "error: command not found: no-such-command-lokt\n"
    assert lokt.read_lock("x") is None


def test_missing_path_is_127(lokt):
    r = lokt.run("guard", "x", "--", "/does/not/exist")
    assert r.returncode == 127
    assert r.stderr.startswith("error: ")
    assert "No such file or directory" in r.stderr
    assert lokt.read_lock("x") is None


def test_non_executable_file_is_126(lokt, tmp_path):
    f = tmp_path / "data.txt"
    f.write_text("hello\n")
    r = lokt.run("guard", "x", "--", str(f))
    assert r.returncode == 126
    assert "Permission denied" in r.stderr
    assert lokt.read_lock("x") is None


def test_directory_is_126(lokt, tmp_path):
    r = lokt.run("guard", "x", "--", str(tmp_path))
    assert r.returncode == 126
    assert "Is a directory" in r.stderr


def test_script_without_shebang_runs_with_sh(lokt, tmp_path):
    f = tmp_path / "script"
    f.write_text("exit 9\n")
    f.chmod(0o755)
    assert lokt.run("guard", "x", "--", str(f)).returncode == 9


def test_exec_flag_passes_argv_byte_for_byte(lokt, tmp_path):
    out = tmp_path / "argv"
    # argv[0] is what we passed, not the path: /proc/self/cmdline shows it.
    prog2 = f"open({str(out)!r}, 'wb').write(open('/proc/self/cmdline', 'rb').read())"
    r = lokt.run("guard", "x", "--exec", PY, "--", "custom-argv0", "-c", prog2, "a b", "")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == b"custom-argv0\0-c\0" + prog2.encode() + b"\0a b\0\0"


def test_kind_shim_is_recorded(lokt, tmp_path):
    out = tmp_path / "lock"
    r = lokt.run("guard", "x", "--kind", "shim", "--", "sh", "-c", f"cat {lokt.lock_file('x')} > {out}")
    assert r.returncode == 0
    assert '"kind": "shim"' in out.read_text()


@pytest.mark.parametrize("argv", [
    ["guard", "--", "true"],                       # no NAME
    ["guard", "x"],                                # no command
    ["guard", "x", "--"],                          # empty command
    ["guard", "../x", "--", "true"],               # bad name
    ["guard", "x", "--ttl", "5 minutes", "--", "true"],
    ["guard", "x", "--kill-after", "-1s", "--", "true"],
    ["guard", "x", "--timeout", "1s", "--", "true"],   # --timeout without --wait
    ["guard", "x", "--on-exit", "later", "--", "true"],
    ["guard", "x", "--kind", "lease", "--", "true"],
    ["guard", "x", "--frobnicate", "--", "true"],
])
def test_usage_errors_exit_64_and_hold_nothing(lokt, argv):
    r = lokt.run(*argv)
    assert r.returncode == 64, r.stderr
    assert r.stderr.startswith("error: ")
    assert not os.path.exists(os.path.join(lokt.root, "locks", "x.json"))


def test_collision_exits_2_with_the_holders_message(lokt):
    holder = lokt.start("guard", "build", "--", "sleep", "30", owner="agent-1")
    try:
        from conftest import wait_for
        wait_for(lambda: (lokt.read_lock("build") or {}).get("pgid"), what="lock taken")
        lock = lokt.read_lock("build")
        r = lokt.run("guard", "build", "--", "true", owner="agent-2")
        assert r.returncode == 2
        host = lock["host"]
        assert r.stderr.startswith(f'error: lock "build" held by agent-1@{host} (pid {lock["pid"]}) for ')
        assert r.stderr.endswith("s\n")
        assert lokt.events("build", "deny")
    finally:
        holder.terminate()
        holder.wait(10)


def test_frozen_lock_exits_2(lokt):
    assert lokt.run("freeze", "deploy", "--ttl", "5m").returncode == 0
    r = lokt.run("guard", "deploy", "--", "true")
    assert r.returncode == 2
    assert r.stderr.startswith('error: lock "deploy" is frozen until ')


def test_wait_gets_the_lock_when_released(lokt, tmp_path):
    from conftest import wait_for
    holder = lokt.start("guard", "x", "--", "sleep", "0.5", owner="a")
    wait_for(lambda: lokt.read_lock("x"), what="lock taken")
    r = lokt.run("guard", "x", "--wait", "--timeout", "20s", "--", "true", owner="b")
    assert r.returncode == 0, r.stderr
    assert holder.wait(10) == 0


def test_wait_timeout_exits_2_and_audits_deny(lokt):
    from conftest import wait_for
    holder = lokt.start("guard", "x", "--", "sleep", "30", owner="a")
    try:
        wait_for(lambda: lokt.read_lock("x"), what="lock taken")
        r = lokt.run("guard", "x", "--wait", "--timeout", "300ms", "--", "true", owner="b")
        assert r.returncode == 2
        waiting, error = r.stderr.splitlines()  # stderr is a pipe: one report, then the error
        assert waiting.startswith('lokt: waiting for "x" \u2014 held by a@')
        assert error.startswith("error: timed out after 300ms waiting: lock \"x\" held by a@")
        assert lokt.events("x", "deny")
    finally:
        holder.terminate()
        holder.wait(10)


def test_several_names_are_all_held_and_released(lokt, tmp_path):
    out = tmp_path / "seen"
    r = lokt.run("guard", "b", "a", "--", "sh", "-c",
                 f"ls {lokt.root}/locks > {out}; echo $LOKT_HELD >> {out}")
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "a.json" in text and "b.json" in text
    held = text.strip().splitlines()[-1]
    assert [x.split(":")[0] for x in held.split(",")] == ["a", "b"]
    assert lokt.read_lock("a") is None and lokt.read_lock("b") is None
    acq = [e["name"] for e in lokt.events(event="acquire")]
    assert acq == ["a", "b"]


def test_several_names_fail_whole_if_one_is_held(lokt):
    from conftest import wait_for
    holder = lokt.start("guard", "b", "--", "sleep", "30", owner="other")
    try:
        wait_for(lambda: lokt.read_lock("b"), what="lock taken")
        r = lokt.run("guard", "a", "b", "--", "true")
        assert r.returncode == 2
        assert lokt.read_lock("a") is None
    finally:
        holder.terminate()
        holder.wait(10)
