"""-E/--conflict-exit-code N (guard and lock, flock's name): a lock conflict (held, frozen, a
wait that ran out) exits N instead of 2, while the command's own status is left alone, so a
make that fails with 2 is never mistaken for "someone else holds the lock"."""
import pytest


def hold(lokt, name, owner="other"):
    r = lokt.run("lock", name, "--ttl", "5m", owner=owner)
    assert r.returncode == 0, r.stderr


def test_guard_held_exits_with_the_conflict_code(lokt):
    hold(lokt, "build")
    r = lokt.run("guard", "build", "-E", "75", "--", "sh", "-c", "echo ran")
    assert r.returncode == 75
    assert r.stdout == ""
    assert r.stderr.startswith('error: lock "build" held by other@')


def test_guard_keeps_the_commands_own_2(lokt):
    r = lokt.run("guard", "build", "--conflict-exit-code", "75", "--", "sh", "-c", "exit 2")
    assert r.returncode == 2
    assert r.stderr == ""


def test_guard_frozen_and_timed_out_use_the_conflict_code(lokt):
    assert lokt.run("freeze", "deploy", "--ttl", "5m", owner="human").returncode == 0
    r = lokt.run("guard", "deploy", "-E75", "--", "true")
    assert r.returncode == 75
    assert "is frozen until" in r.stderr
    hold(lokt, "build")
    r = lokt.run("guard", "build", "--wait", "--timeout", "0s", "--conflict-exit-code=9", "-q", "--", "true")
    assert r.returncode == 9
    assert "timed out after 0s waiting" in r.stderr


def test_lock_held_exits_with_the_conflict_code(lokt):
    hold(lokt, "j")
    for flag in (["-E", "9"], ["-E9"], ["--conflict-exit-code", "9"], ["--conflict-exit-code=9"]):
        r = lokt.run("lock", "j", *flag)
        assert r.returncode == 9, (flag, r.stderr)
        assert r.stderr.startswith('error: lock "j" held by other@')
    r = lokt.run("lock", "j", "-E", "0", "--json")
    assert r.returncode == 0
    assert '"status": "held"' in r.stdout


def test_lock_acquired_is_still_0(lokt):
    r = lokt.run("lock", "free", "-E", "9")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("value", ["256", "-1", "x", "", "1.5", " 3", "0x10", "1000"])
@pytest.mark.parametrize("cmd", [["lock", "j"], ["guard", "j", "--", "true"]])
def test_bad_conflict_code_is_a_usage_error(lokt, cmd, value):
    r = lokt.run(*cmd[:2], "--conflict-exit-code=" + value, *cmd[2:])
    assert r.returncode == 64
    first = r.stderr.splitlines()[0]
    assert first == f'error: --conflict-exit-code must be a number from 0 to 255, not "{value}"'
    assert lokt.read_lock("j") is None


def test_short_flag_needs_a_value(lokt):
    r = lokt.run("lock", "j", "-E")
    assert r.returncode == 64
    assert r.stderr.splitlines()[0] == "error: flag -E needs a value"
