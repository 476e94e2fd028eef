"""The lock root is hostile ground (issue 8 §1, §10): lokt never follows a symlink or opens a
non-regular file under ROOT, never blocks on one, and `unlock --force` / `doctor` deal with
them. Each command runs with a generous subprocess timeout: on the old code they hang."""
import json
import os
import subprocess

import pytest

from test_bad_input import small_fs  # noqa: F401  (a fixture: a 64 KiB tmpfs)

# A backstop only: a correct lokt answers in milliseconds; the old one hung forever.
HANG = 30


def make_dirs(lokt):
    assert lokt.run("lock", "setup").returncode == 0
    assert lokt.run("unlock", "setup").returncode == 0


def one_error_line(r, needle):
    assert r.stderr.startswith("error: "), r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert needle in r.stderr, r.stderr


@pytest.mark.parametrize("where", ["locks", "freezes"])
def test_fifo_where_a_lock_or_freeze_belongs_is_an_error_not_a_hang(lokt, where):
    make_dirs(lokt)
    fifo = os.path.join(lokt.root, where, "x.json")
    os.mkfifo(fifo)
    r = lokt.run("lock", "x", timeout=HANG)
    assert r.returncode == 1, (r.stdout, r.stderr)
    one_error_line(r, fifo)
    assert "FIFO" in r.stderr
    r = lokt.run("guard", "x", "--wait", "--timeout", "2s", "--", "true", timeout=HANG)
    assert r.returncode == 1, r.stderr
    assert fifo in r.stderr
    r = lokt.run("status", timeout=HANG)
    assert r.returncode == 0, r.stderr
    if where == "locks":
        assert "x " in r.stdout and "FIFO" in r.stdout, r.stdout
    r = lokt.run("doctor", timeout=HANG)
    assert r.returncode == 1
    assert fifo in r.stdout and "FIFO" in r.stdout, r.stdout
    # break-glass clears it, audited
    r = lokt.run("unlock", "--force", "x", timeout=HANG)
    assert r.returncode == 0, r.stderr
    assert not os.path.lexists(fifo)
    cleared = [e for e in lokt.events("x") if e["event"] in ("force-break", "force-unfreeze")]
    assert cleared and cleared[-1]["extra"]["reason"] == "not-regular", lokt.audit()
    assert cleared[-1]["extra"]["path"] == fifo
    assert lokt.run("lock", "x").returncode == 0


def test_dangling_symlink_at_a_lock_file_is_named_and_force_cleared(lokt, tmp_path):
    make_dirs(lokt)
    target = tmp_path / "nowhere.json"
    link = os.path.join(lokt.root, "locks", "x.json")
    os.symlink(target, link)
    r = lokt.run("lock", "x", timeout=HANG)
    assert r.returncode == 1, (r.stdout, r.stderr)
    one_error_line(r, link)
    assert "symbolic link" in r.stderr
    assert not target.exists()  # never followed to create its target
    # status does not claim NAME is free: it lists what blocks it
    r = lokt.run("status")
    assert "x " in r.stdout and "symbolic link" in r.stdout, r.stdout
    assert lokt.run("unlock", "--force", "x").returncode == 0
    assert not os.path.lexists(link)
    assert lokt.run("lock", "x").returncode == 0
    assert not target.exists()


def test_symlinked_audit_log_is_never_written_through(lokt, tmp_path):
    make_dirs(lokt)
    victim = tmp_path / "victim.sh"
    victim.write_text("echo private\n")
    log = os.path.join(lokt.root, "audit.log")
    os.unlink(log)
    os.symlink(victim, log)
    r = lokt.run("lock", "x", owner="$(touch pwned)", timeout=HANG)
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "echo private\n"
    # never silent: one warning line
    warnings = [l for l in r.stderr.splitlines() if l.startswith("lokt: warning:")]
    assert len(warnings) == 1 and log in warnings[0], r.stderr
    # a dangling one is not followed to create its target either
    os.unlink(log)
    os.symlink(tmp_path / "created.log", log)
    assert lokt.run("unlock", "x", owner="$(touch pwned)").returncode == 0
    assert not (tmp_path / "created.log").exists()


def test_fifo_as_audit_log_neither_blocks_guard_nor_loses_the_lock_release(lokt):
    make_dirs(lokt)
    log = os.path.join(lokt.root, "audit.log")
    os.unlink(log)
    os.mkfifo(log)
    # a reader keeps the FIFO open, so an O_WRONLY open would succeed and a write block
    reader = os.open(log, os.O_RDONLY | os.O_NONBLOCK)
    try:
        r = lokt.run("guard", "x", "--", "true", timeout=HANG)
        assert r.returncode == 0, r.stderr
        assert "lokt: warning:" in r.stderr and "FIFO" in r.stderr
        assert lokt.read_lock("x") is None  # released, not held by a hung guard
        r = lokt.run("audit", timeout=HANG)
        assert r.returncode == 1 and log in r.stderr
    finally:
        os.close(reader)


def test_symlinked_directory_under_the_root_is_refused(lokt, tmp_path):
    make_dirs(lokt)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    locks = os.path.join(lokt.root, "locks")
    os.rename(locks, os.path.join(lokt.root, "locks.old"))
    os.symlink(elsewhere, locks)
    r = lokt.run("lock", "x", timeout=HANG)
    assert r.returncode == 1
    one_error_line(r, locks)
    assert os.listdir(elsewhere) == []
    r = lokt.run("doctor")
    assert locks in r.stdout and "symbolic link" in r.stdout, r.stdout


def test_planted_sync_file_is_named_and_cleared_by_force(lokt):
    assert lokt.run("lock", "x").returncode == 0
    sync = os.path.join(lokt.root, "sync", "x")
    os.makedirs(os.path.dirname(sync), exist_ok=True)
    os.mkfifo(sync)
    r = lokt.run("unlock", "x", timeout=HANG)
    assert r.returncode == 1
    one_error_line(r, sync)
    r = lokt.run("unlock", "--force", "x", timeout=HANG)
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(sync) and lokt.read_lock("x") is None
    assert any(e["event"] == "force-break" and e.get("extra", {}).get("path") == sync for e in lokt.audit())


def test_a_cut_audit_line_does_not_swallow_the_next_event(lokt):
    """A writer cut short (full disk) leaves a fragment without newline; the next event must
    still be a line of its own. (The full-disk version is in test_hostile_root_fullfs.)"""
    make_dirs(lokt)
    log = os.path.join(lokt.root, "audit.log")
    with open(log, "a") as f:
        f.write('{"ts":"2026-01-01T00:00:00Z","event":"rel')
    assert lokt.run("lock", "y").returncode == 0
    last = open(log).read().splitlines()[-1]
    assert json.loads(last)["event"] == "acquire"


def test_control_characters_from_other_agents_are_escaped_on_terminals(lokt):
    evil = "agent\x1b[2J\x1b]0;pwned\x07\r\nfake: line"
    assert lokt.run("lock", "x", owner=evil, LOKT_AGENT_ID="id\x1b[31m").returncode == 0
    outputs = []
    r = lokt.run("lock", "x", owner="other")
    assert r.returncode == 2
    outputs.append(r.stderr)
    outputs.append(lokt.run("status").stdout)
    outputs.append(lokt.run("status", "x").stdout)
    outputs.append(lokt.run("why", "x").stdout)
    outputs.append(lokt.run("audit").stdout)
    outputs.append(lokt.run("unlock", "x", owner="other").stderr)
    for out in outputs:
        assert "\x1b" not in out and "\x07" not in out and "\r" not in out, repr(out)
        assert not any(l.startswith("fake: line") for l in out.splitlines()), repr(out)
    assert "agent\\x1b[2J" in outputs[0], outputs[0]
    assert len(outputs[0].splitlines()) == 1
    # JSON keeps the exact text
    j = json.loads(lokt.run("status", "x", "--json").stdout)
    assert j["owner"] == evil


def pad_line(n):
    """A valid audit line of exactly n bytes (newline included)."""
    head = '{"ts":"2026-01-01T00:00:00Z","event":"pad","name":"p","owner":"'
    tail = '"}\n'
    assert n >= len(head) + len(tail)
    return head + "x" * (n - len(head) - len(tail)) + tail


def test_short_audit_write_at_a_full_disk_does_not_glue_the_next_event(lokt, small_fs):
    lokt.root = str(small_fs / "root")
    assert lokt.run("lock", "x").returncode == 0
    log = os.path.join(lokt.root, "audit.log")
    # Leave 60 bytes free in the log's last page, then fill the filesystem: the next event
    # (a release, which needs no new blocks elsewhere) is cut after 60 bytes.
    size = os.path.getsize(log)
    need = (4096 - 60 - size) % 4096
    if need < 200:
        need += 4096
    with open(log, "a") as f:
        while need > 1200:
            f.write(pad_line(1000))
            need -= 1000
        f.write(pad_line(need))
    assert os.path.getsize(log) % 4096 == 4096 - 60
    fd = os.open(small_fs / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError:
        pass
    finally:
        os.close(fd)
    r = lokt.run("unlock", "x")
    assert r.returncode == 0, r.stderr
    assert "lokt: warning:" in r.stderr  # the lost release is not silent
    os.unlink(small_fs / "filler")
    assert lokt.run("lock", "y").returncode == 0
    lines = open(log).read().splitlines()
    assert json.loads(lines[-1])["event"] == "acquire", lines[-2:]
    assert json.loads(lines[-1])["name"] == "y"


class StderrLines:
    """Collects a process's stderr lines in a thread (so a test can wait for one)."""

    def __init__(self, proc):
        import threading
        self.lines = []
        self.thread = threading.Thread(target=self._run, args=(proc,), daemon=True)
        self.thread.start()

    def _run(self, proc):
        for line in proc.stderr:
            self.lines.append(line)

    def has(self, needle):
        return any(needle in l for l in self.lines)


def test_a_held_sync_file_never_stalls_the_guard_and_unlock_names_the_holder(lokt, tmp_path):
    from conftest import wait_for
    make_dirs(lokt)
    sync = os.path.join(lokt.root, "sync", "x")
    open(sync, "a").close()
    holder = subprocess.Popen(["flock", sync, "sleep", "600"])
    try:
        wait_for(lambda: f" {holder.pid} " in open("/proc/locks").read(), what="flock holder")
        started, got_int = tmp_path / "started", tmp_path / "got-int"
        script = (f"trap 'echo int > {got_int}; exit 130' INT; echo > {started}; "
                  "while :; do sleep 0.05; done")
        guard = lokt.start("guard", "x", "--ttl", "2s", "--", "sh", "-c", script)
        err = StderrLines(guard)
        wait_for(started.exists, timeout=HANG, what="the command to start")
        # A renewal (every TTL/2 = 1s) met the busy sync file: it warned and moved on.
        wait_for(lambda: err.has("renewing lock"), timeout=HANG, what="a skipped renewal")
        guard.send_signal(2)
        wait_for(got_int.exists, timeout=10, what="SIGINT relayed to the command")
        guard.wait(timeout=HANG)
        assert guard.returncode == 130
        assert holder.poll() is None  # the guard finished while the sync file was still held
        assert err.has(sync) and err.has(f"pid {holder.pid}"), err.lines
        # the CLI's own wait is bounded and names the holder
        r = lokt.run("unlock", "x", timeout=HANG)
        assert r.returncode == 1
        one_error_line(r, sync)
        assert f"pid {holder.pid}" in r.stderr
        # a plain guard of another name is not affected at all
        assert lokt.run("guard", "y", "--ttl", "2s", "--", "true").returncode == 0
    finally:
        holder.kill()
        holder.wait()


def test_doctor_names_the_sharing_mode_and_flags_a_single_user_root_others_can_write(lokt):
    make_dirs(lokt)
    r = lokt.run("doctor")
    line = [l for l in r.stdout.splitlines() if l.split()[1:2] == ["sharing"]]
    assert line and line[0].startswith("ok") and "single user" in line[0], r.stdout
    locks = os.path.join(lokt.root, "locks")
    os.chmod(locks, 0o777)
    r = lokt.run("doctor")
    line = [l for l in r.stdout.splitlines() if l.split()[1:2] == ["sharing"]]
    assert line and line[0].startswith("warn"), r.stdout
    assert locks in line[0] and "other users" in line[0], line[0]
