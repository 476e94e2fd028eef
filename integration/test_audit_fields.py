"""What the audit answers "what happened overnight?" with: a guard's acquire names its command,
its release says how long the lock was held and how the command ended (exit status, signal),
and the text view shows those fields in words."""
import json
import re


def one(events):
    assert len(events) == 1, events
    return events[0]


def test_a_guards_acquire_has_its_command_and_its_release_exit_and_held_sec(lokt):
    r = lokt.run("guard", "build", "--", "sh", "-c", "exit 3")
    assert r.returncode == 3, r.stderr
    acquire = one(lokt.events("build", "acquire"))
    assert acquire["extra"]["command"] == "sh -c exit 3"
    release = one(lokt.events("build", "release"))
    assert release["lock_id"] == acquire["lock_id"]
    assert release["extra"]["reason"] == "exited"
    assert release["extra"]["exit"] == 3
    assert "signal" not in release["extra"]
    assert isinstance(release["extra"]["held_sec"], (int, float)) and release["extra"]["held_sec"] >= 0


def test_a_command_killed_by_a_signal_is_recorded_with_it(lokt):
    r = lokt.run("guard", "build", "--", "sh", "-c", "kill -TERM $$")
    assert r.returncode == 128 + 15, r.stderr
    release = one(lokt.events("build", "release"))
    assert release["extra"]["reason"] == "signaled"
    assert release["extra"]["exit"] == 143
    assert release["extra"]["signal"] == 15


def test_held_sec_measures_the_holding(lokt, tmp_path):
    assert lokt.run("lock", "lease", "--ttl", "5m").returncode == 0
    marker = tmp_path / "ran"
    r = lokt.run("guard", "slow", "--", "sh", "-c", f"sleep 1.2; touch {marker}")
    assert r.returncode == 0, r.stderr
    assert marker.exists()
    assert one(lokt.events("slow", "release"))["extra"]["held_sec"] >= 1.2
    # A lease's release has held_sec too, but no exit: no command ran under it.
    assert lokt.run("unlock", "lease").returncode == 0
    lease = one(lokt.events("lease", "release"))
    assert lease["extra"]["held_sec"] >= 0 and "exit" not in lease["extra"]
    assert "command" not in (one(lokt.events("lease", "acquire")).get("extra") or {})


def test_a_long_command_line_is_shortened(lokt):
    long_arg = "x" * 1000
    assert lokt.run("guard", "long", "--", "true", long_arg).returncode == 0
    cmd = one(lokt.events("long", "acquire"))["extra"]["command"]
    assert len(cmd) == 200 and cmd.startswith("true xxx") and cmd.endswith("...")


def test_the_text_view_shows_command_exit_and_held_time(lokt):
    assert lokt.run("guard", "build", "--", "sh", "-c", "exit 3").returncode == 3
    r = lokt.run("audit", "--format", "text", "--name", "build")
    assert r.returncode == 0, r.stderr
    acquire, release = r.stdout.splitlines()
    assert acquire.split()[1:3] == ["acquire", "build"]
    assert acquire.endswith("command: sh -c exit 3"), acquire
    assert re.search(r"  held \d+(ms|s)  exit 3  reason=exited$", release), release


def test_audit_event_and_owner_filters_find_the_release(lokt):
    assert lokt.run("guard", "build", "--", "true", owner="agent-1").returncode == 0
    assert lokt.run("guard", "build", "--", "false", owner="agent-2").returncode == 1
    r = lokt.run("audit", "--json", "--event", "release", "--owner", "agent-2")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert [(e["event"], e["owner"], e["extra"]["exit"]) for e in lines] == [("release", "agent-2", 1)]
