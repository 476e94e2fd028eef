"""Helpers for tests that plant lock files by hand (golden-style, stale, corrupt, ...)."""
import datetime as dt
import json
import os
import re
import secrets
import socket
import subprocess
import time

HOST = socket.gethostname()
GOLDEN = os.path.join(os.path.dirname(__file__), "..", "tests", "golden")

HELD_RE = r'^error: lock "{name}" held by {who} \(pid \d+\) for \d+s\n$'
RFC3339_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def golden(name):
    with open(os.path.join(GOLDEN, name)) as f:
        return f.read()


def iso(t):
    """Go's RFC3339Nano for a datetime (UTC)."""
    s = t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return s + "Z"


def utcnow():
    return dt.datetime.now(dt.timezone.utc)


def proc_start(pid):
    """starttime (field 22 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def dead_pid():
    """A pid that existed a moment ago and is now gone (reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def lock_record(name, owner="someone", pid=None, pid_start=None, age=0.0, ttl=None, kind=None,
                host=HOST, **extra):
    """A version-1 lock record like the original writes; `age` seconds old, `ttl` seconds."""
    now = utcnow()
    acquired = now - dt.timedelta(seconds=age)
    if pid is None:
        pid = os.getpid()
    if pid_start is None:
        try:
            pid_start = proc_start(pid)
        except FileNotFoundError:
            pid_start = 12345
    rec = {
        "version": 1,
        "name": name,
        "lock_id": secrets.token_hex(16),
        "owner": owner,
        "host": host,
        "pid": pid,
        "pid_start_ns": pid_start,
        "agent_id": "agent-test",
        "acquired_ts": iso(acquired),
    }
    if ttl is not None:
        rec["ttl_sec"] = int(ttl) if ttl >= 1 else 1
        rec["expires_at"] = iso(acquired + dt.timedelta(seconds=ttl))
    if kind is not None:
        rec["kind"] = kind
    rec.update(extra)
    return rec


def plant(lokt, name, record=None, raw=None, folder="locks", age=None):
    """Writes ROOT/<folder>/NAME.json (a record as JSON, or raw bytes/str); returns the path.
    Its mtime is set `age` seconds back; raw content defaults to a minute old, because a
    fresh unreadable lock file counts as one being written (another tool's writer)."""
    d = os.path.join(lokt.root, folder)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name + ".json")
    data = raw if raw is not None else json.dumps(record, indent=2) + "\n"
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    if age is None:
        age = 60 if raw is not None else 0
    if age:
        t = time.time() - age
        os.utime(path, (t, t))
    return path


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def json_type(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    return type(v).__name__
