"""`lokt audit --tail` on the etcd backend: the events stored in etcd (~audit/ keys) first,
then each new one as it is stored (a watch), beside the local log; --name and --event filter
both. Each test starts its own etcd on 127.0.0.1 (random ports)."""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "etcd"))
from etcd_harness import etcd  # noqa: E402,F401 (a fixture)

from conftest import wait_for  # noqa: E402
from test_audit import Reader, append_line, event_line  # noqa: E402
from test_etcd_backend import on  # noqa: E402


def events_of(reader):
    return [json.loads(line) for line in reader.snapshot() if line.strip()]


def test_tail_follows_etcd_events_and_the_local_log_with_filters(lokt, etcd):
    url = etcd.url("a1")
    run = on(lokt, url)
    assert run("lock", "deploy", owner="a").returncode == 0  # history
    proc = lokt.start("audit", "--tail", "--name", "deploy", "--event", "acquire,release,local",
                      "--json", env={"LOKT_BACKEND": url})
    reader = Reader(proc)
    try:
        wait_for(lambda: [e["event"] for e in events_of(reader)] == ["acquire"], timeout=30,
                 what="the stored acquire")
        assert run("lock", "deploy", owner="b").returncode == 2        # a deny: filtered out
        assert run("lock", "other", owner="b").returncode == 0          # another name: filtered out
        assert run("unlock", "deploy", owner="a").returncode == 0
        wait_for(lambda: [e["event"] for e in events_of(reader)] == ["acquire", "release"], timeout=30,
                 what="the release, as it is stored in etcd")
        # The local log is followed too.
        append_line(lokt, event_line(name="deploy", event="local"))
        wait_for(lambda: len(events_of(reader)) == 3, timeout=30, what="the local event")
        assert events_of(reader)[2]["event"] == "local"
        # A free name's acquire stores no fence (it is the key's create revision): the tail
        # shows it all the same, in the history as in what the watch brings.
        assert run("lock", "deploy", owner="c").returncode == 0
        wait_for(lambda: len(events_of(reader)) == 4, timeout=30, what="the live acquire")
        first, live = events_of(reader)[0], events_of(reader)[3]
        assert live["event"] == "acquire"
        assert 0 < first["extra"]["fence"] < live["extra"]["fence"]
        assert live["extra"]["fence"] == json.loads(run("status", "deploy", "--json").stdout)["fence"]
        assert all(e["name"] == "deploy" for e in events_of(reader))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert proc.stderr.read() == ""


def test_tail_on_an_unreachable_etcd_is_a_one_line_error(lokt, etcd):
    url = etcd.url("a2")
    etcd.stop()
    r = lokt.run("audit", "--tail", env=lokt.env(LOKT_BACKEND=url), timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: lock backend {url.split('/a2')[0]}"), r.stderr
    assert "unreachable" in r.stderr and r.stderr.count("\n") == 1, r.stderr
