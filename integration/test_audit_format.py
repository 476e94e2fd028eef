"""`lokt audit` output for scripts and people: JSONL into pipes (as the original lokt prints),
aligned text on a terminal, --format to choose, and --event / --owner filters."""
import json
import os
import pty

import pytest


def make_history(lokt):
    assert lokt.run("lock", "build", "--ttl", "10m", owner="agent-1").returncode == 0
    assert lokt.run("lock", "build", owner="agent-2").returncode == 2
    assert lokt.run("unlock", "build", owner="agent-1").returncode == 0
    assert lokt.run("lock", "deploy", "--ttl", "5m", owner="agent-2").returncode == 0


def stored_lines(lokt):
    with open(os.path.join(lokt.root, "audit.log")) as f:
        return f.read().splitlines()


def test_into_a_pipe_the_stored_lines_come_out_unchanged(lokt):
    make_history(lokt)
    r = lokt.run("audit")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == stored_lines(lokt)
    # What `lokt audit --since 8h | jq` needs: every line one JSON object.
    assert [json.loads(line)["event"] for line in r.stdout.splitlines()] == [
        "acquire", "deny", "release", "acquire"]


def test_format_text_prints_the_table_into_a_pipe(lokt):
    make_history(lokt)
    r = lokt.run("audit", "--format", "text")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].split()[1:3] == ["acquire", "build"]
    assert not lines[0].startswith("{")


def test_format_jsonl_equals_json(lokt):
    make_history(lokt)
    assert lokt.run("audit", "--format", "jsonl").stdout == lokt.run("audit", "--json").stdout


def test_on_a_terminal_the_table_is_the_default(lokt):
    make_history(lokt)
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(lokt.bin, [lokt.bin, "audit"], lokt.env())
        finally:
            os._exit(127)
    out = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    lines = out.decode().splitlines()
    assert len(lines) == 4
    assert "acquire" in lines[0] and not lines[0].startswith("{")


@pytest.mark.parametrize("events,expected", [
    ("deny", ["deny"]),
    ("acquire,release", ["acquire", "release", "acquire"]),
])
def test_event_filter(lokt, events, expected):
    make_history(lokt)
    r = lokt.run("audit", "--event", events)
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["event"] for line in r.stdout.splitlines()] == expected


def test_owner_filter_combines_with_name_and_event(lokt):
    make_history(lokt)
    r = lokt.run("audit", "--owner", "agent-2")
    assert [(json.loads(x)["event"], json.loads(x)["name"]) for x in r.stdout.splitlines()] == [
        ("deny", "build"), ("acquire", "deploy")]
    r = lokt.run("audit", "--owner", "agent-2", "--name", "deploy", "--event", "acquire",
                 "--format", "text")
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and "deploy" in lines[0] and "agent-2@" in lines[0]


@pytest.mark.parametrize("argv,message", [
    (["--format", "yaml"], '--format must be "text" or "jsonl", not "yaml"'),
    (["--json", "--format", "text"], "--json and --format text contradict each other"),
    (["--event", ","], "--event needs an event name"),
])
def test_bad_format_or_filter_is_a_usage_error(lokt, argv, message):
    make_history(lokt)
    r = lokt.run("audit", *argv)
    assert r.returncode == 64
    assert r.stdout == ""
    assert message in r.stderr.splitlines()[0]
