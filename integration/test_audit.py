"""`lokt audit`: reading, filtering and following the audit log of the installed binary."""
import datetime
import json
import os
import signal
import threading

from conftest import wait_for

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "audit-v1.log")


def rfc3339(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}Z"


def event_line(name="build", event="acquire", ago=datetime.timedelta(0), owner="agent-1", **extra):
    ts = datetime.datetime.now(datetime.timezone.utc) - ago
    e = {"ts": rfc3339(ts), "event": event, "name": name, "lock_id": "0" * 32, "owner": owner,
         "host": "vm", "pid": 4242, "agent_id": "agent-abcd", "ttl_sec": 600}
    e.update(extra)
    return json.dumps(e, separators=(",", ":"))


def write_log(lokt, lines, suffix=""):
    os.makedirs(lokt.root, exist_ok=True)
    with open(os.path.join(lokt.root, "audit.log" + suffix), "w") as f:
        f.write("".join(line + "\n" for line in lines))


def append_line(lokt, line):
    os.makedirs(lokt.root, exist_ok=True)
    fd = os.open(os.path.join(lokt.root, "audit.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class Reader:
    """Collects a background process's stdout lines on a thread."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def has(self, needle):
        return any(needle in line for line in self.snapshot())


def start_tail(lokt, *args):
    proc = lokt.start("audit", "--tail", *args)
    return proc, Reader(proc)


def sync(lokt, reader):
    """Appends marker events until the follower shows one: it has then found the end."""
    n = [0]

    def seen():
        n[0] += 1
        append_line(lokt, event_line(name=f"ready-{n[0]}"))
        return reader.has("ready-")
    wait_for(seen, timeout=10, interval=0.05, what="the follower to start")


def stop(proc):
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=10)


def test_json_prints_the_stored_lines_unchanged(lokt):
    with open(GOLDEN) as f:
        golden = f.read()
    write_log(lokt, golden.splitlines())
    r = lokt.run("audit", "--json")
    assert r.returncode == 0, r.stderr
    assert r.stdout == golden
    for line in r.stdout.splitlines():
        json.loads(line)


def test_text_has_one_aligned_line_per_event(lokt):
    with open(GOLDEN) as f:
        write_log(lokt, f.read().splitlines())
    r = lokt.run("audit", "--format", "text")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 16
    assert lines[0].startswith("2026-11-27T15:51:22Z  acquire ")
    assert "build" in lines[0] and "agent-1@vm (pid 11442)" in lines[0] and "ttl 10m" in lines[0]
    assert "pruned agent-1@vm (pid 11442)" in lines[2]
    assert "frozen by human@vm (pid 11548)" in lines[8]
    # Columns line up: the lock name starts at the same place on every line.
    assert len({line.index(" build ") for line in lines if " build " in line}) == 1


def test_no_log_prints_nothing(lokt):
    r = lokt.run("audit")
    assert (r.returncode, r.stdout) == (0, "")
    assert not os.path.exists(lokt.root)
    r = lokt.run("audit", "--since", "1h", "--json")
    assert (r.returncode, r.stdout) == (0, "")


def test_since_duration_filters_out_old_events(lokt):
    write_log(lokt, [event_line(name="old", ago=datetime.timedelta(hours=2)),
                     event_line(name="mid", ago=datetime.timedelta(minutes=50)),
                     event_line(name="new")])
    r = lokt.run("audit", "--since", "1h", "--json")
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["name"] for line in r.stdout.splitlines()] == ["mid", "new"]
    r = lokt.run("audit", "--since", "30m", "--format", "text")
    assert [line.split()[2] for line in r.stdout.splitlines()] == ["new"]
    r = lokt.run("audit", "--since", "1h30m", "--json")
    assert len(r.stdout.splitlines()) == 2


def test_since_accepts_an_rfc3339_time(lokt):
    with open(GOLDEN) as f:
        write_log(lokt, f.read().splitlines())
    r = lokt.run("audit", "--since", "2026-11-27T15:51:27Z", "--json")
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["event"] for line in r.stdout.splitlines()] == ["release", "acquire", "freeze"]
    r = lokt.run("audit", "--since", "2026-11-27T16:51:27+01:00", "--json")
    assert len(r.stdout.splitlines()) == 3


def test_since_accepts_a_date_as_its_utc_midnight(lokt):
    with open(GOLDEN) as f:
        lines = f.read().splitlines()
    write_log(lokt, lines)
    r = lokt.run("audit", "--since", "2026-11-27", "--json")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == len(lines)
    r = lokt.run("audit", "--since", "2026-11-28", "--json")
    assert r.returncode == 0 and r.stdout == ""
    r = lokt.run("audit", "--since", "2026-13-01")
    assert r.returncode == 64


def test_name_filters_by_lock(lokt):
    with open(GOLDEN) as f:
        write_log(lokt, f.read().splitlines())
    r = lokt.run("audit", "--name", "deploy", "--json")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["event"] for e in events] == ["freeze", "freeze-deny", "unfreeze", "freeze"]
    assert lokt.run("audit", "--name", "nothing").stdout == ""


def test_bad_since_is_a_usage_error(lokt):
    for bad in ["bogus", "-1h", "", "2026-13-01T00:00:00Z", "5 minutes"]:
        r = lokt.run("audit", "--since", bad)
        assert r.returncode == 64, (bad, r.stderr)
        assert r.stderr.startswith("error: ")
        assert "usage: lokt audit" in r.stderr
        assert r.stdout == ""


def test_bad_name_and_stray_arguments_are_usage_errors(lokt):
    assert lokt.run("audit", "--name", "../x").returncode == 64
    assert lokt.run("audit", "build").returncode == 64
    assert lokt.run("audit", "--bogus").returncode == 64


def test_garbage_lines_are_skipped_with_one_warning(lokt):
    write_log(lokt, [event_line(name="a"), "garbage", '{"ts":"2026-01-01T00:00:00Z","event":"tr',
                     event_line(name="b")])
    r = lokt.run("audit", "--json")
    assert r.returncode == 0
    assert [json.loads(line)["name"] for line in r.stdout.splitlines()] == ["a", "b"]
    assert r.stderr.count("warning") == 1
    assert "2 unreadable lines" in r.stderr


def test_reads_across_rotated_generations_oldest_first(lokt):
    write_log(lokt, [event_line(name="g3", ago=datetime.timedelta(hours=3))], ".3")
    write_log(lokt, [event_line(name="g2", ago=datetime.timedelta(hours=2))], ".2")
    write_log(lokt, [event_line(name="g1", ago=datetime.timedelta(minutes=30))], ".1")
    write_log(lokt, [event_line(name="live")])
    r = lokt.run("audit", "--json")
    assert [json.loads(line)["name"] for line in r.stdout.splitlines()] == ["g3", "g2", "g1", "live"]
    r = lokt.run("audit", "--json", "--since", "1h")
    assert [json.loads(line)["name"] for line in r.stdout.splitlines()] == ["g1", "live"]


def test_lock_operations_are_audited_and_shown(lokt):
    assert lokt.run("lock", "build", "--ttl", "10m", owner="agent-1").returncode == 0
    assert lokt.run("lock", "build", owner="agent-2").returncode == 2
    assert lokt.run("unlock", "build", owner="agent-1").returncode == 0
    r = lokt.run("audit", "--json")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(lokt.root, "audit.log")) as f:
        assert r.stdout == f.read()
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(e["event"], e["owner"]) for e in events] == [
        ("acquire", "agent-1"), ("deny", "agent-2"), ("release", "agent-1")]
    text = lokt.run("audit", "--name", "build", "--since", "1h", "--format", "text").stdout.splitlines()
    assert len(text) == 3
    assert text[0].split()[1:3] == ["acquire", "build"]
    assert "agent-1@" in text[0] and "ttl 10m" in text[0]


def test_rotation_by_size_keeps_the_newest_events_in_order(lokt):
    env = {"LOKT_AUDIT_MAX_BYTES": "600"}
    for i in range(8):
        assert lokt.run("lock", f"r{i}", env=env).returncode == 0
        assert lokt.run("unlock", f"r{i}", env=env).returncode == 0
    assert os.path.exists(os.path.join(lokt.root, "audit.log.1"))
    r = lokt.run("audit", "--json", env=env)
    names = [json.loads(line)["name"] for line in r.stdout.splitlines()]
    # 3 old generations of ~600 bytes plus the live file: the newest events, in order.
    assert names == sorted(names, key=lambda n: int(n[1:]))
    assert names[-2:] == ["r7", "r7"]
    assert not os.path.exists(os.path.join(lokt.root, "audit.log.4"))


def test_tail_prints_new_events_and_exits_0_on_sigint(lokt):
    write_log(lokt, [event_line(name="history")])
    proc, reader = start_tail(lokt, "--json")
    try:
        sync(lokt, reader)
        line = event_line(name="fresh")
        append_line(lokt, line)
        wait_for(lambda: line in reader.snapshot(), what="the appended event")
        assert not reader.has('"history"')
    finally:
        rc = stop(proc)
    assert rc == 0
    assert proc.stderr.read() == ""


def test_tail_survives_rotation(lokt):
    write_log(lokt, [event_line(name="history")])
    proc, reader = start_tail(lokt, "--json")
    try:
        sync(lokt, reader)
        before = event_line(name="before-rotation")
        append_line(lokt, before)
        os.rename(os.path.join(lokt.root, "audit.log"), os.path.join(lokt.root, "audit.log.1"))
        after = event_line(name="after-rotation")
        append_line(lokt, after)
        wait_for(lambda: after in reader.snapshot(), what="the event after rotation")
        lines = reader.snapshot()
        assert lines.count(before) == 1 and lines.count(after) == 1
        assert lines.index(before) < lines.index(after)
        again = event_line(name="later")
        append_line(lokt, again)
        wait_for(lambda: again in reader.snapshot(), what="a later event")
    finally:
        assert stop(proc) == 0


def test_tail_follows_real_lock_operations_in_text(lokt):
    proc, reader = start_tail(lokt, "--format", "text")
    try:
        # The follower may start before or after the first lock: lock until it shows one.
        n = [0]

        def shown():
            n[0] += 1
            assert lokt.run("lock", f"t{n[0]}").returncode == 0
            return reader.has("acquire")
        wait_for(shown, timeout=10, interval=0.05, what="an acquire event")
        assert lokt.run("unlock", f"t{n[0]}").returncode == 0
        wait_for(lambda: any(line.split()[1:3] == ["release", f"t{n[0]}"] for line in reader.snapshot()),
                 what="the release event")
    finally:
        assert stop(proc) == 0


def test_tail_with_since_prints_history_first(lokt):
    write_log(lokt, [event_line(name="too-old", ago=datetime.timedelta(hours=3)),
                     event_line(name="recent", ago=datetime.timedelta(minutes=5))])
    proc, reader = start_tail(lokt, "--since", "1h", "--json")
    try:
        wait_for(lambda: reader.has('"recent"'), what="the history")
        line = event_line(name="live")
        append_line(lokt, line)
        wait_for(lambda: line in reader.snapshot(), what="the live event")
        names = [json.loads(x)["name"] for x in reader.snapshot()]
        assert names[0] == "recent" and "too-old" not in names
    finally:
        assert stop(proc) == 0


def test_tail_exits_0_on_sigterm(lokt):
    proc, reader = start_tail(lokt)
    sync(lokt, reader)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
