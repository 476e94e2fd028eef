"""Issue 8 §10: a guard notices a force-break of its lock at once, with or without --ttl
(it watches its lock file), audits `lost` and warns; --on-lost term also ends the command."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from conftest import wait_for  # noqa: E402
from guardlib import wait_exit  # noqa: E402


def start_waiting(lokt, tmp_path, *flags):
    """A guarded command that runs until the test creates `go`."""
    started, go = tmp_path / "started", tmp_path / "go"
    p = lokt.start("guard", "x", *flags, "--", "sh", "-c",
                   f'touch "{started}"; while [ ! -e "{go}" ]; do sleep 0.02; done')
    wait_for(started.exists, what="command started")
    return p, go


@pytest.mark.parametrize("flags", [[], ["--on-lost", "warn"], ["--ttl", "1h"]])
def test_a_force_break_is_noticed_at_once_and_the_command_runs_on(lokt, tmp_path, flags):
    p, go = start_waiting(lokt, tmp_path, *flags)
    try:
        lock_id = lokt.read_lock("x")["lock_id"]
        assert lokt.run("unlock", "x", "--force", owner="human").returncode == 0
        # Long before any renewal (none without --ttl; 30 min away with 1h).
        lost = wait_for(lambda: lokt.events("x", "lost"), what="lost audited")
        assert lost[0]["lock_id"] == lock_id
        assert p.poll() is None  # warn: the command keeps running
        assert lokt.run("lock", "x", owner="other").returncode == 0
    finally:
        go.touch()
    assert wait_exit(p, 10) == 0
    assert ('warning: lock "x" was broken by someone else; the command keeps running without it'
            in p.stderr.read())
    assert lokt.read_lock("x")["owner"] == "other"  # the guard's exit left the new holder alone
    assert len(lokt.events("x", "lost")) == 1


def test_on_lost_term_ends_the_command_tree(lokt, tmp_path):
    p, go = start_waiting(lokt, tmp_path, "--on-lost", "term")
    try:
        assert lokt.run("unlock", "x", "--force", owner="human").returncode == 0
        assert wait_exit(p, 15) == 128 + 15
    finally:
        go.touch()
    assert "ending the command (--on-lost term)" in p.stderr.read()
    assert lokt.events("x", "lost")


def test_on_lost_needs_warn_or_term(lokt):
    r = lokt.run("guard", "x", "--on-lost", "later", "--", "true")
    assert r.returncode == 64
    assert r.stderr.startswith('error: --on-lost must be "warn" or "term"')
