"""Several Unix users on one root (issue 8 §2): a root whose directory is group-writable is
shared by its group. Two real users are created for the test (CI runs as root) and removed
afterwards, even on failure."""
import json
import os
import secrets
import shutil
import stat
import subprocess

import pytest

from conftest import LOKT


def run_cmd(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    assert r.returncode == 0, (argv, r.stderr)
    return r


@pytest.fixture
def pair(tmp_path):
    """Users A and B in one fresh group, and a group-shared (2770) root they both use."""
    tag = secrets.token_hex(3)
    group, users = f"lokt-t-g{tag}", [f"lokt-t-a{tag}", f"lokt-t-b{tag}"]
    base = f"/tmp/lokt-mu-{tag}"
    made = []
    try:
        run_cmd("groupadd", group)
        made.append(("groupdel", group))
        for u in users:
            run_cmd("useradd", "--no-create-home", "-g", group, "-s", "/bin/sh", u)
            made.insert(0, ("userdel", u))
        os.mkdir(base, 0o755)
        root = os.path.join(base, "root")
        os.mkdir(root)
        shutil.chown(root, group=group)
        os.chmod(root, 0o2770)  # what an admin (or git's sharedRepository) makes
        yield Pair(root, users, group, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        for cmd, name in made:
            subprocess.run([cmd, name], capture_output=True)


class Pair:
    def __init__(self, root, users, group, base):
        self.root, self.users, self.group, self.base = root, users, group, base

    def run(self, who, *args, timeout=60):
        """lokt as user `who` (0: A, 1: B), with a typical umask of 022."""
        user = self.users[who]
        env = {"PATH": "/usr/bin:/bin", "LOKT_ROOT": self.root, "LOKT_OWNER": user, "USER": user}
        return subprocess.run(["setpriv", f"--reuid={user}", f"--regid={self.group}", "--init-groups",
                               LOKT_BIN, *args], env=env, cwd="/", capture_output=True, text=True,
                              timeout=timeout, preexec_fn=lambda: os.umask(0o022))

    def audit(self):
        with open(os.path.join(self.root, "audit.log")) as f:
            return [json.loads(l) for l in f if l.strip()]


LOKT_BIN = os.path.abspath(LOKT)


def test_a_group_shared_root_works_for_both_users_and_audits_both(pair):
    a, b = pair.users
    for who in (0, 1, 0, 1):
        r = pair.run(who, "lock", "x")
        assert r.returncode == 0, (who, r.stderr)
        assert r.stderr == "", r.stderr  # nothing lost, nothing to warn about
        r = pair.run(who, "unlock", "x")
        assert r.returncode == 0, (who, r.stderr)
    for who in (0, 1):
        r = pair.run(who, "guard", "g", "--ttl", "5s", "--", "true")
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
    owners = {e["owner"] for e in pair.audit()}
    assert {a, b} <= owners, owners
    b_events = [e["event"] for e in pair.audit() if e["owner"] == b]
    assert "acquire" in b_events and "release" in b_events
    # what lokt made: setgid group-writable directories, sticky where entries are per-holder
    for d, sticky in (("locks", False), ("freezes", False), ("sync", True), ("queue", True)):
        p = os.path.join(pair.root, d)
        if not os.path.exists(p):
            continue
        m = os.stat(p).st_mode
        assert m & stat.S_IWGRP and m & stat.S_ISGID, (d, oct(m))
        assert bool(m & stat.S_ISVTX) == sticky, (d, oct(m))
    assert os.stat(os.path.join(pair.root, "audit.log")).st_mode & stat.S_IWGRP
    # B holds, A is refused with B's name; A may break it only by force
    assert pair.run(1, "lock", "held").returncode == 0
    r = pair.run(0, "lock", "held")
    assert r.returncode == 2 and b in r.stderr
    r = pair.run(0, "doctor")
    assert "shared by group " + pair.group in r.stdout, r.stdout


def test_b_cannot_make_a_write_through_a_symlink(pair):
    a, b = pair.users
    assert pair.run(0, "lock", "x").returncode == 0
    private = os.path.join(pair.base, "a-private.sh")
    with open(private, "w") as f:
        f.write("echo mine\n")
    shutil.chown(private, user=a)
    os.chmod(private, 0o600)
    # B replaces the audit log with a symlink to A's private file (B may: the root is shared)
    log = os.path.join(pair.root, "audit.log")
    r = subprocess.run(["setpriv", f"--reuid={b}", f"--regid={pair.group}", "--init-groups",
                        "sh", "-c", f"rm -f {log} && ln -s {private} {log}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.path.islink(log)
    r = pair.run(0, "unlock", "x")
    assert r.returncode == 0, r.stderr
    assert "lokt: warning:" in r.stderr and log in r.stderr
    with open(private) as f:
        assert f.read() == "echo mine\n"
