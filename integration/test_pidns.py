"""Liveness across pid namespaces and reboots (issue 8 §4): a pid is judged only where it means
something — same host, same boot, same pid namespace. Elsewhere the kernel-held proof or the
TTL decides, and a lock from another boot of this host is gone."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from conftest import wait_for  # noqa: E402
from guardlib import children, kill_quietly, subreaper, wait_exit  # noqa: E402,F401

BOOT_ID = open("/proc/sys/kernel/random/boot_id").read().strip()
PID_NS = os.stat("/proc/self/ns/pid").st_ino


pytestmark = pytest.mark.usefixtures("subreaper")


def unshare_works():
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                       capture_output=True)
    return r.returncode == 0


def start_in_pidns(lokt, *args):
    """`lokt ARGS` as the init of a new pid namespace (same host name, same kernel)."""
    assert shutil.which("unshare") and unshare_works(), "unshare --pid needs root (CI runs as root)"
    e = lokt.env("container-agent")
    return subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", lokt.bin, *args],
                            cwd=lokt.cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def write_lock(lokt, name, **fields):
    rec = {"version": 1, "name": name, "lock_id": uuid.uuid4().hex, "owner": "ghost",
           "host": socket.gethostname(), "pid": os.getpid(), "pid_start_ns": 0,
           "agent_id": "agent-0000", "acquired_ts": "2026-01-01T00:00:00Z", "kind": "guard"}
    rec.update(fields)
    os.makedirs(os.path.join(lokt.root, "locks"), exist_ok=True)
    with open(lokt.lock_file(name), "w") as f:
        json.dump(rec, f)
    return rec


def test_guard_in_a_pid_namespace_holds_against_the_host_until_its_init_dies(lokt, tmp_path):
    outer = start_in_pidns(lokt, "guard", "x", "--", "sleep", "100")
    try:
        rec = wait_for(lambda: lokt.read_lock("x"), what="lock written in the namespace")
        # The recorded pids are the namespace's: on the host they name nothing (or others).
        assert lokt.run("lock", "x", owner="host-human").returncode == 2
        assert lokt.run("guard", "x", "--", "true", owner="host-agent").returncode == 2
        r = lokt.run("unlock", "x", "--break-stale", owner="host-human")
        assert r.returncode == 2, r.stdout + r.stderr
        assert lokt.read_lock("x")["lock_id"] == rec["lock_id"]
        assert lokt.events("x", "auto-prune") == [] and lokt.events("x", "stale-break") == []
        assert rec.get("pid_ns") not in (None, PID_NS) and rec.get("boot_id") == BOOT_ID
        # SIGKILL of the namespace's init (the guard's front) takes every process in it.
        init = wait_for(lambda: children(outer.pid), what="namespace init")[0]
        os.kill(init, signal.SIGKILL)
        wait_exit(outer, 10)
        r = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(
            lokt.run("lock", "x", owner="host-human")), timeout=5, what="lock freed by the proof")
        assert "acquired" in r.stdout
        # Either the host pruned it (the proof was free: reason "dead"), or the supervisor saw
        # its front's pipe close and released it before the kernel's SIGKILL reached it: the
        # kernel closes the dying init's files before it kills the rest of the namespace.
        prune = lokt.events("x", "auto-prune")
        released = [e for e in lokt.events("x", "release") if e["lock_id"] == rec["lock_id"]]
        assert (prune and prune[-1]["extra"]["reason"] == "dead") or (
            released and released[-1]["extra"]["reason"] == "parent-gone"), (prune, released)
        assert not os.path.exists(os.path.join(lokt.root, "held", rec["lock_id"]))
    finally:
        for c in children(outer.pid):
            kill_quietly(c)
        kill_quietly(outer.pid)
        outer.wait(5)


def test_a_lock_from_another_boot_of_this_host_is_pruned(lokt):
    # Its pid is alive here (ours), but it is another boot's pid: that process is gone.
    write_lock(lokt, "x", boot_id=str(uuid.uuid4()), pid_ns=PID_NS)
    r = lokt.run("lock", "x", owner="me")
    assert r.returncode == 0, r.stderr
    assert lokt.events("x", "auto-prune")[-1]["extra"]["reason"] == "dead"


def test_a_lock_from_another_pid_namespace_without_proof_waits_for_its_ttl(lokt):
    # A dead-looking pid from another namespace says nothing; no held file: only the TTL.
    dead = subprocess.Popen(["true"])
    dead.wait()
    rec = write_lock(lokt, "x", boot_id=BOOT_ID, pid_ns=PID_NS + 1, pid=dead.pid, pgid=dead.pid)
    assert lokt.run("lock", "x", owner="me").returncode == 2
    assert lokt.run("unlock", "x", "--break-stale", owner="me").returncode == 2
    st = json.loads(lokt.run("status", "x", "--json").stdout)
    assert st["pid_status"] == "unknown"
    # A FIFO planted where the proof would be is not a proof, and nobody blocks on it.
    os.makedirs(os.path.join(lokt.root, "held"), exist_ok=True)
    os.mkfifo(os.path.join(lokt.root, "held", rec["lock_id"]))
    assert lokt.run("lock", "x", owner="me", timeout=10).returncode == 2
    write_lock(lokt, "x", boot_id=BOOT_ID, pid_ns=PID_NS + 1, pid=dead.pid, ttl_sec=1,
               expires_at="2026-01-01T00:00:01Z")
    assert lokt.run("lock", "x", owner="me").returncode == 0


def test_same_namespace_files_and_files_without_the_fields_keep_the_pid_rule(lokt):
    dead = subprocess.Popen(["true"])
    dead.wait()
    write_lock(lokt, "x", pid=dead.pid)  # the original / older lokt: no boot_id, no pid_ns
    assert lokt.run("lock", "x", owner="me").returncode == 0
    write_lock(lokt, "y", pid=dead.pid, boot_id=BOOT_ID, pid_ns=PID_NS)
    assert lokt.run("lock", "y", owner="me").returncode == 0
    write_lock(lokt, "z", boot_id=BOOT_ID, pid_ns=PID_NS)  # our own pid: alive
    assert lokt.run("lock", "z", owner="me").returncode == 2
