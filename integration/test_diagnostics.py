"""-v/--verbose and LOKT_LOG: lokt says what it decides, on stderr or into a file, and a bad
LOKT_LOG never stops a command."""
import re

import pytest

LINE = re.compile(r"^lokt\[\d+\]: (debug|info|warn): ")


def diag_lines(stderr):
    return [line for line in stderr.splitlines() if LINE.match(line)]


def test_quiet_by_default(lokt):
    r = lokt.run("lock", "build")
    assert r.returncode == 0
    assert diag_lines(r.stderr) == []


@pytest.mark.parametrize("flag", ["-v", "--verbose"])
def test_verbose_names_the_root_and_how_it_was_found(lokt, flag):
    r = lokt.run("lock", "build", flag)
    assert r.returncode == 0, r.stderr
    lines = diag_lines(r.stderr)
    assert f"info: lock root {lokt.root} (from LOKT_ROOT)" in "\n".join(lines)
    # -v is info: no debug lines.
    assert not any(": debug: " in line for line in lines)
    # stdout is untouched by diagnostics.
    assert r.stdout == lokt.run("lock", "other").stdout.replace("other", "build")


def test_vv_and_lokt_log_debug_add_debug_lines(lokt):
    for extra, env in ((["-vv"], {}), ([], {"LOKT_LOG": "debug"})):
        r = lokt.run("status", *extra, env=env)
        assert r.returncode == 0
        assert any(": debug: command status" in line for line in diag_lines(r.stderr)), r.stderr


def test_lokt_log_file_collects_lines_with_timestamps(lokt, tmp_path):
    log = tmp_path / "lokt.log"
    r = lokt.run("lock", "build", env={"LOKT_LOG": f"info,file={log}"})
    assert r.returncode == 0
    assert diag_lines(r.stderr) == []
    text = log.read_text()
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z lokt\[\d+\]: info: lock root ", text, re.M), text


@pytest.mark.parametrize("value,word", [("verbose", "unknown level"), ("debug,out=x", "unknown option")])
def test_bad_lokt_log_warns_once_and_the_command_still_runs(lokt, value, word):
    r = lokt.run("lock", "build", env={"LOKT_LOG": value})
    assert r.returncode == 0
    warnings = [line for line in r.stderr.splitlines() if line.startswith("lokt: warning: LOKT_LOG")]
    assert len(warnings) == 1 and word in warnings[0]
    assert lokt.read_lock("build") is not None


def test_unwritable_log_file_warns_and_the_command_still_runs(lokt, tmp_path):
    r = lokt.run("lock", "build", env={"LOKT_LOG": f"debug,file={tmp_path}/no/such/dir/x.log"})
    assert r.returncode == 0
    assert "lokt: warning: LOKT_LOG: cannot open log file" in r.stderr


def test_debug_says_why_a_holder_counts_as_alive_or_gone(lokt):
    from lockfiles import dead_pid, lock_record, plant
    plant(lokt, "gone", lock_record("gone", owner="x", pid=dead_pid()))
    r = lokt.run("status", "-vv")
    assert r.returncode == 0
    assert any('debug: lock "gone" holder pid' in line and ": dead (" in line
               for line in diag_lines(r.stderr)), r.stderr


def test_guard_logs_renewals_and_the_teardown(lokt, tmp_path):
    log = tmp_path / "lokt.log"
    # A leftover that ignores nothing: the teardown stops it and says so; a 1s TTL renews
    # every 500ms while the command waits for its first renewal to be logged.
    script = (f"sleep 60 & while ! grep -q 'renewed lock' {log} 2>/dev/null; do sleep 0.05; done")
    r = lokt.run("guard", "build", "--ttl", "1s", "--kill-after", "5s", "--", "sh", "-c", script,
                 env={"LOKT_LOG": f"debug,file={log}"}, timeout=120)
    assert r.returncode == 0, r.stderr
    text = log.read_text()
    assert 'debug: renewed lock "build" for 1s' in text, text
    assert re.search(r"info: stopping \d+ leftover process\(es\) \(pid \d+.*\): SIGTERM, SIGKILL in 5000ms", text), text
