"""Issue 8 §5: durations are bounded when parsed, and time arithmetic saturates instead of
wrapping (a TTL that wrote expires_at in 1734, a --since past 2262 that printed everything,
a --kill-after that wrapped poll's timeout, TTLs so short the lock expired under the command
or the audit log filled with renewals)."""
import os

import pytest

from conftest import wait_for


@pytest.mark.parametrize("argv", [
    ["lock", "big", "--ttl", "2562047h"],      # expires_at wrapped to 1734
    ["lock", "big", "--ttl", "2070000h"],
    ["lock", "big", "--ttl", "87601h"],
    ["lock", "big", "--ttl", "0"],
    ["lock", "big", "--ttl", "999ms"],
    ["lock", "big", "--wait", "--timeout", "2562047h"],
    ["guard", "big", "--ttl", "1ns", "--", "true"],   # another agent got in while CMD ran
    ["guard", "big", "--ttl", "1ms", "--", "true"],   # 914 renew lines a second
    ["guard", "big", "--kill-after", "600h", "--", "true"],  # poll's int timeout went negative
    ["guard", "big", "--kill-after", "25h", "--", "true"],
    ["freeze", "big", "--ttl", "2562047h"],
    ["freeze", "big", "--ttl", "500ms"],
])
def test_out_of_range_durations_are_usage_errors(lokt, argv):
    r = lokt.run(*argv)
    assert r.returncode == 64, r.stderr
    first, second = r.stderr.splitlines()[:2]
    assert first.startswith('error: invalid duration "')
    assert "the minimum of" in first or "the maximum of" in first
    assert second.startswith("usage: lokt " + argv[0])
    assert not os.path.exists(lokt.lock_file("big"))


def test_ttl_zero_says_how_to_get_no_expiry(lokt):
    r = lokt.run("lock", "big", "--ttl", "0")
    assert r.stderr.splitlines()[0] == (
        'error: invalid duration "0" for --ttl: below the minimum of 1s '
        '(leave out --ttl for a lock without expiry)')


def test_the_longest_ttl_expires_in_the_future(lokt):
    assert lokt.run("lock", "big", "--ttl", "87600h").returncode == 0
    assert lokt.read_lock("big")["expires_at"] > "2030"
    assert lokt.run("exists", "big").returncode == 0  # held, not expired
    r = lokt.run("lock", "big", owner="other")
    assert r.returncode == 2


def test_since_beyond_2262_shows_no_events(lokt):
    assert lokt.run("lock", "a").returncode == 0
    assert lokt.run("unlock", "a").returncode == 0
    assert lokt.run("audit", "--since", "1h").stdout.strip()
    for since in ("9999-01-01T00:00:00Z", "2263-01-01T00:00:00Z"):
        r = lokt.run("audit", "--since", since)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "", since
        r = lokt.run("audit", "--since", since, "--json")
        assert r.stdout == "", since


def test_a_one_second_ttl_is_renewed_but_audited_once(lokt, tmp_path):
    started, go = tmp_path / "started", tmp_path / "go"
    p = lokt.start("guard", "r", "--ttl", "1s", "--", "sh", "-c",
                   f'touch "{started}"; while [ ! -e "{go}" ]; do sleep 0.02; done')
    try:
        wait_for(started.exists, what="command started")
        seen = set()

        def renewed_three_times():
            rec = lokt.read_lock("r")
            if rec:
                seen.add(rec["expires_at"])
            return len(seen) >= 4
        wait_for(renewed_three_times, timeout=20, what="three renewals")
        # Held well past its first expiry: another owner is refused.
        assert lokt.run("lock", "r", owner="other").returncode == 2
    finally:
        go.touch()
    assert p.wait(timeout=10) == 0
    assert len(lokt.events("r", "renew")) == 1
