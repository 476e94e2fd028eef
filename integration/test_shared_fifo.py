"""Slot waiters are served first come, first served (issue 12): waiters queued on a full pool
in a known order get their slots in that order (the ticket queue of exclusive waiters)."""
import os
import signal

from conftest import wait_for


def tickets(lokt, name):
    d = os.path.join(lokt.root, "queue", name)
    return [f for f in os.listdir(d) if not f.startswith(".")] if os.path.isdir(d) else []


def test_slot_waiters_acquire_in_arrival_order(lokt, tmp_path):
    log = tmp_path / "order"
    for owner in ("h0", "h1"):
        assert lokt.run("lock", "pool", "--slots", "2", owner=owner).returncode == 0
    waiters = []
    try:
        for i in range(6):
            waiters.append(lokt.start("guard", "pool", "--slots", "2", "--wait", "--timeout", "120s", "--",
                                      "sh", "-c", f'echo {i} >> "{log}"', owner=f"w{i}",
                                      start_new_session=True))
            # The next waiter starts only once this one stands in the queue.
            wait_for(lambda: len(tickets(lokt, "pool")) == i + 1, what=f"waiter {i}'s ticket")
        # The pool is full: a request that does not wait is refused, and queues nothing.
        assert lokt.run("lock", "pool", "--slots", "2", owner="late").returncode == 2
        # One slot comes free; the waiters pass it on one after another, in arrival order.
        assert lokt.run("unlock", "pool", owner="h0").returncode == 0
        for w in waiters:
            _, err = w.communicate(timeout=120)
            assert w.returncode == 0, err
        assert log.read_text().split() == [str(i) for i in range(6)]
        assert tickets(lokt, "pool") == []
    finally:
        for w in waiters:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait()
    assert lokt.run("unlock", "pool", owner="h1").returncode == 0
    assert lokt.read_lock("pool") is None
