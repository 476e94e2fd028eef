"""Bad input (P5): one clear line, the documented exit code, and nothing changed."""
import errno
import json
import os
import subprocess

import pytest

from lockfiles import lock_record, plant, read_bytes

BAD_NAMES = ["../x", "/abs", "", "a b", "x" * 300, "caf\u00e9", "a/b", ".."]

NAME_COMMANDS = [
    ["lock", "{}"],
    ["lock", "{}", "--ttl", "5m"],
    ["unlock", "{}"],
    ["unlock", "{}", "--force"],
    ["status", "{}"],
    ["exists", "{}"],
    ["freeze", "{}", "--ttl", "5m"],
    ["unfreeze", "{}"],
    ["why", "{}"],
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=lambda n: repr(n[:12]))
@pytest.mark.parametrize("argv", NAME_COMMANDS, ids=lambda a: " ".join(a))
def test_invalid_names_are_usage_errors(lokt, argv, name):
    r = lokt.run(*[a.format(name) if a == "{}" else a for a in argv])
    assert r.returncode == 64, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ")
    assert f"usage: lokt {argv[0]}" in r.stderr
    assert r.stdout == ""
    assert not os.path.exists(lokt.root)


def test_invalid_name_message_is_the_validators(lokt):
    r = lokt.run("lock", "../x")
    assert r.stderr.splitlines()[0].startswith('error: invalid lock name "../x"')


@pytest.mark.parametrize("ttl", ["abc", "-5s", "5x", "", "1h30", "1h-5m", "9999999999h"])
def test_garbage_durations_are_usage_errors(lokt, ttl):
    r = lokt.run("lock", "build", "--ttl", ttl)
    assert r.returncode == 64, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("error: invalid duration")
    assert lines[1].startswith("usage: lokt lock")
    assert not os.path.exists(lokt.root)


def test_garbage_timeout_is_a_usage_error(lokt):
    r = lokt.run("lock", "build", "--wait", "--timeout", "soon")
    assert r.returncode == 64
    assert r.stderr.startswith("error: invalid duration")


def test_timeout_without_wait_is_a_usage_error(lokt):
    r = lokt.run("lock", "build", "--timeout", "10s")
    assert r.returncode == 64
    assert r.stderr.startswith("error: --timeout requires --wait")
    assert not os.path.exists(lokt.root)


@pytest.mark.parametrize("argv", [
    ["lock"], ["lock", "a", "b"], ["exists"], ["exists", "a", "b"], ["why"], ["freeze", "--ttl", "5m"],
    ["unfreeze"], ["status", "a", "b"], ["unlock", "a", "b"],
])
def test_wrong_positional_counts_are_usage_errors(lokt, argv):
    r = lokt.run(*argv)
    assert r.returncode == 64, r.stderr
    assert f"usage: lokt {argv[0]}" in r.stderr


@pytest.mark.parametrize("argv", [["lock", "x", "--frob"], ["status", "-x"], ["unlock", "x", "--force=1"]])
def test_unknown_or_malformed_flags_are_usage_errors(lokt, argv):
    r = lokt.run(*argv)
    assert r.returncode == 64
    assert r.stderr.startswith("error: ")


@pytest.mark.parametrize("content", [b"garbage", b"", b'{"version": 1, "name": "build", "lock_'],
                         ids=["garbage", "empty", "truncated"])
def test_corrupt_lock_file_is_replaced_and_audited(lokt, content):
    plant(lokt, "build", raw=content)
    r = lokt.run("lock", "build", "--ttl", "5m")
    assert r.returncode == 0, r.stderr
    rec = lokt.read_lock("build")
    assert rec["owner"] == "tester"
    assert len(lokt.events("build", "corrupt-break")) == 1


def test_future_version_lock_file_is_left_untouched(lokt):
    rec = lock_record("build", owner="future-agent", ttl=600)
    rec["version"] = 2
    path = plant(lokt, "build", rec)
    before = read_bytes(path)
    r = lokt.run("lock", "build")
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1
    assert read_bytes(path) == before
    assert lokt.run("exists", "build").returncode == 3
    assert lokt.run("status", "build").returncode == 1
    assert lokt.run("unlock", "build").returncode != 0
    assert lokt.run("unlock", "build", "--break-stale").returncode != 0
    assert read_bytes(path) == before


def test_uncreatable_root_is_a_clean_error(lokt, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    r = lokt.run("lock", "build", env={"LOKT_ROOT": str(blocker / "root")})
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1
    assert blocker.read_text() == "not a directory"


def test_root_that_is_a_file_is_a_clean_error(lokt, tmp_path):
    f = tmp_path / "root-file"
    f.write_text("x")
    for argv in (["lock", "build"], ["freeze", "deploy", "--ttl", "5m"], ["status"], ["exists", "x"],
                 ["unlock", "--all"], ["why", "x"]):
        r = lokt.run(*argv, env={"LOKT_ROOT": str(f)})
        assert r.returncode == 1, argv
        assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs (we run as root in CI); skipped where mounting is not allowed."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}); needs root")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(directory):
    """Writes a file until the filesystem is full."""
    fd = os.open(os.path.join(directory, "filler"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_full_disk_is_a_clean_error_and_keeps_existing_locks(lokt, small_fs):
    root = small_fs / "root"
    env = {"LOKT_ROOT": str(root)}
    assert lokt.run("lock", "held", "--ttl", "10m", env=env).returncode == 0
    lock_path = root / "locks" / "held.json"
    before = lock_path.read_bytes()
    audit_before = (root / "audit.log").read_bytes() if (root / "audit.log").exists() else b""
    fill(small_fs)
    r = lokt.run("lock", "other", "--ttl", "10m", env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1
    assert not (root / "locks" / "other.json").exists()
    # a same-owner refresh must also fail cleanly, leaving the old lock as it was
    r = lokt.run("lock", "held", "--ttl", "20m", env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1
    assert lock_path.read_bytes() == before
    audit_after = (root / "audit.log").read_bytes() if (root / "audit.log").exists() else b""
    assert audit_after.startswith(audit_before)
    for line in audit_after.splitlines():
        json.loads(line)  # no partial lines
    # leftovers: no temp files in locks/
    assert sorted(os.listdir(root / "locks")) == ["held.json"]


def test_read_only_root_is_a_clean_error(lokt, small_fs):
    root = small_fs / "root"
    env = {"LOKT_ROOT": str(root)}
    assert lokt.run("lock", "held", env=env).returncode == 0
    before = (root / "locks" / "held.json").read_bytes()
    r = subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot remount read-only: {r.stderr.strip()}")
    for argv in (["lock", "other"], ["unlock", "held"], ["freeze", "deploy", "--ttl", "5m"]):
        r = lokt.run(*argv, env=env)
        assert r.returncode == 1, (argv, r.stderr)
        assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1, r.stderr
    assert (root / "locks" / "held.json").read_bytes() == before
    # reading still works
    assert lokt.run("status", env=env).returncode == 0
    assert lokt.run("exists", "held", env=env).returncode == 0
