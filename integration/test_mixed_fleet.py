"""Mixed fleets with the original Go lokt (issue 8 §8): the original creates locks/NAME.json
empty with O_EXCL and renames its content over it a moment later. An empty or truncated lock
file younger than the grace period (2 s) is a writer in progress, not a corrupt lock."""
import json
import os
import socket
import time

import lockfiles
from conftest import wait_for


def plant(lokt, name, text="", age=0):
    return lockfiles.plant(lokt, name, raw=text, age=age)


def original_record(name, owner="go-agent"):
    return {"version": 1, "name": name, "lock_id": "0123456789abcdef0123456789abcdef",
            "owner": owner, "host": socket.gethostname(), "pid": os.getpid(),
            "pid_start_ns": 0, "agent_id": "", "acquired_ts": "2026-01-01T00:00:00Z",
            "ttl_sec": 0}


def test_an_empty_lock_file_being_written_counts_as_held(lokt):
    plant(lokt, "x")
    r = lokt.run("lock", "x")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and "being written" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    r = lokt.run("guard", "x", "--", "true")
    assert r.returncode == 2 and "being written" in r.stderr
    assert os.path.getsize(lokt.lock_file("x")) == 0  # left alone
    assert not lokt.events("x", "corrupt-break")
    r = lokt.run("lock", "x", "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["being_written"] is True


def test_a_truncated_young_lock_file_counts_as_held_too(lokt):
    plant(lokt, "x", text='{"version":1,"name":"x","lock_')
    r = lokt.run("lock", "x")
    assert r.returncode == 2 and "being written" in r.stderr


def test_the_original_renaming_its_content_in_keeps_its_lock(lokt, tmp_path):
    """The race of the issue: ours must not break the empty file and run beside the original."""
    plant(lokt, "x")
    assert lokt.run("lock", "x").returncode == 2
    tmp = os.path.join(lokt.root, "locks", ".x.tmp-go")
    with open(tmp, "w") as f:
        json.dump(original_record("x"), f)
    os.rename(tmp, lokt.lock_file("x"))
    r = lokt.run("lock", "x")
    assert r.returncode == 2 and "go-agent@" in r.stderr, r.stderr


def test_wait_waits_out_a_writer_in_progress_then_takes_a_file_left_empty(lokt):
    plant(lokt, "x")
    t0 = time.monotonic()
    r = lokt.run("lock", "x", "--wait", "--timeout", "20s")
    assert r.returncode == 0, r.stderr
    # it waited for the grace period to end (lower bound only), then broke it as corrupt
    assert time.monotonic() - t0 >= 1.0
    assert lokt.read_lock("x")["owner"] == "tester"
    assert lokt.events("x", "corrupt-break")


def test_an_old_empty_lock_file_is_corrupt_and_broken_as_before(lokt):
    plant(lokt, "x", age=10)
    r = lokt.run("lock", "x")
    assert r.returncode == 0, r.stderr
    ev = lokt.events("x", "corrupt-break")
    assert ev and lokt.read_lock("x")["owner"] == "tester"


def test_wait_sees_the_original_finish_writing(lokt):
    plant(lokt, "x")
    waiter = lokt.start("lock", "x", "--wait", "--timeout", "20s")
    try:
        wait_for(lambda: os.path.isdir(os.path.join(lokt.root, "queue", "x"))
                 and os.listdir(os.path.join(lokt.root, "queue", "x")), what="the waiter's ticket")
        rec = original_record("x")
        tmp = os.path.join(lokt.root, "locks", ".x.tmp-go")
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, lokt.lock_file("x"))
        # the original's lock (a live pid: ours) holds: the waiter must still be waiting after
        # the grace period; release it by hand and the waiter gets it
        wait_for(lambda: time.time() - os.path.getmtime(lokt.lock_file("x")) > 2.5, what="grace")
        assert waiter.poll() is None
        assert lokt.read_lock("x")["owner"] == "go-agent"
        os.unlink(lokt.lock_file("x"))
        waiter.wait(timeout=20)
        assert waiter.returncode == 0
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
