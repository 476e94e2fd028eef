"""`lokt shim --seccomp` (research §1.5 scenarios 17-21 and 25, plus the end-to-end run):
execs the preload shim cannot see are locked through the seccomp exec filter."""
import os
import signal
import subprocess
import time

import pytest

from conftest import wait_for
from seccomp_fixtures import Sc, finish, sc, targets, touch  # noqa: F401  (fixtures)

EAGAIN, ENOEXEC = 11, 8


def lock_of(sc, name):
    for e in sc.status():
        if e.get("name") == name:
            return e
    return None


def shim_acquires(sc, name):
    return [e for e in sc.lokt.events(name=name, event="acquire") if e.get("owner") == "agent-a"]


# --- plain runs: exit codes and non-matching execs -------------------------------------------

def test_exit_status_and_untouched_execs(sc):
    r = sc.run("/bin/sh", "-c", "/bin/true && exit 7")
    assert r.returncode == 7, r.stderr
    assert not os.listdir(os.path.join(sc.lokt.root, "locks"))


def test_signal_and_missing_command(sc):
    r = sc.run("/bin/sh", "-c", "kill -TERM $$")
    assert r.returncode == 128 + signal.SIGTERM
    r = sc.run("no-such-command-xyz")
    assert r.returncode == 127
    assert 'error: cannot run "no-such-command-xyz"' in r.stderr


def test_preload_only_screens_in_the_tree(sc):
    # The preload is loaded as the filter's fast path and never locks itself (LOKT_SHIM=
    # seccomp); with --no-preload it stays off and out of the tree.
    show = 'echo "$LOKT_SHIM|$LD_PRELOAD|$LOKT_SECCOMP_PASS"'
    shim, preload, pass_ = sc.run("/bin/sh", "-c", show).stdout.strip().split("|")
    assert shim == "seccomp"
    assert preload.split(":")[0].endswith("/liblokt_preload.so")
    word, fingerprint = pass_.split(":")
    assert len(word) == 16 and len(fingerprint) == 16 and int(word, 16) != 0
    # A new word for every run.
    assert sc.run("/bin/sh", "-c", show).stdout.strip().split("|")[2].split(":")[0] != word
    sc.flags = ["--no-preload"]
    assert sc.run("/bin/sh", "-c", show, LD_PRELOAD="").stdout.strip() == "off||"


def test_no_preload_needs_seccomp(sc):
    r = sc.lokt.run("shim", "--no-preload", "--", "/bin/true")
    assert r.returncode == 64
    assert r.stderr.startswith("error: --no-preload goes with --seccomp")


def test_lokt_itself_is_never_locked(sc):
    # A rule matches `lokt status`; lokt's own execs still pass untouched.
    r = sc.run(sc.lokt.bin, "status")
    assert r.returncode == 0, r.stderr
    assert not sc.lokt.events(name="selfrule")


# --- 17: static and raw-syscall callers --------------------------------------------------------

@pytest.mark.parametrize("caller,mode", [("probe-static", "execv"), ("probe", "raw")])
def test_static_and_raw_callers_are_locked(sc, caller, mode):
    p = sc.start(sc.t[caller], mode, sc.t["fake-terraform"], "apply", "-auto-approve",
                 FAKE_UNTIL="done")
    wait_for(lambda: sc.log(), what="the tool to run")
    tool_pid = int(sc.log()[0][0])
    entry = wait_for(lambda: lock_of(sc, "terraform"), what="the lock in status --json")
    assert entry["pid"] == tool_pid
    assert entry.get("kind") == "shim"
    assert entry["owner"] == "agent-a"
    touch(sc.path("done"))
    rc, _, err = finish(p)
    assert rc == 0, err
    wait_for(lambda: sc.lokt.read_lock("terraform") is None, what="release")
    rel = sc.lokt.events(name="terraform", event="release")
    assert rel and rel[-1].get("extra", {}).get("reason") == "exited"


def test_static_caller_not_locked_by_preload_alone(sc):
    lib = os.environ.get("LOKT_PRELOAD_LIB")
    if not lib or not os.path.exists(lib):
        pytest.skip("the preload library is not built (LOKT_PRELOAD_LIB)")
    r = sc.lokt.run("shim", "--rules", sc.rules, "--", sc.t["probe-static"], "execv",
                    sc.t["fake-terraform"], "apply", env=sc.env(FAKE_HOLD_MS=0, LOKT_PRELOAD_LIB=lib))
    assert r.returncode == 0, r.stderr
    assert sc.log(), "the tool did not run"
    assert not shim_acquires(sc, "terraform"), "preload mode cannot see a static caller"


# --- 18: multithreaded exec -------------------------------------------------------------------

def test_exec_from_a_thread_records_the_thread_group(sc):
    out = sc.path("ids")
    p = sc.start(sc.t["probe"], "thread", sc.t["fake-terraform"], "apply", FAKE_UNTIL="done",
                 PROBE_OUT=out)
    wait_for(lambda: sc.log(), what="the tool to run")
    pid, tid = (int(x) for x in open(out).read().split()[:2])
    assert pid != tid
    entry = wait_for(lambda: lock_of(sc, "terraform"), what="the lock")
    assert entry["pid"] == pid
    assert int(sc.log()[0][0]) == pid
    touch(sc.path("done"))
    rc, _, err = finish(p)
    assert rc == 0, err
    wait_for(lambda: sc.lokt.read_lock("terraform") is None, what="release at exit")


# --- 19: a signal storm while the exec waits --------------------------------------------------

@pytest.mark.parametrize("waitkill", ["1", "0"], ids=["wait-killable", "fallback"])
def test_signal_storm_while_waiting(sc, waitkill):
    assert sc.lokt.run("lock", "terraform", owner="other").returncode == 0
    extra = {"LOKT_SECCOMP_NO_WAITKILL": "1"} if waitkill == "0" else {}
    p = sc.start(sc.t["probe"], "storm", sc.t["fake-terraform"], "apply", FAKE_HOLD_MS=0, **extra)
    blocked_in_exec(p)
    # Let the exec wait through about 3 s of SIGALRMs (every 50 ms) before the lock frees up.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert p.poll() is None, p.stderr.read()
        time.sleep(0.1)
    assert not sc.log(), "the tool ran while the lock was held"
    assert sc.lokt.run("unlock", "terraform", owner="other").returncode == 0
    rc, _, err = finish(p)
    assert rc == 0, err
    assert len(sc.log()) == 1, "the tool must run exactly once"
    assert len(shim_acquires(sc, "terraform")) == 1


# --- 20: exec failure after CONTINUE ----------------------------------------------------------

def test_exec_failure_after_continue_releases(sc):
    tool = os.path.join(sc.bindir, "garbage-tool")
    with open(tool, "wb") as f:
        f.write(b"\x00\x01garbage, not an ELF and no #!\n" * 4)
    os.chmod(tool, 0o755)
    out = sc.path("probe.out")
    p = sc.start(sc.t["probe"], "execv", tool, PROBE_OUT=out, PROBE_SLEEP_MS=3000)
    probe = int(wait_for(lambda: open(f"/proc/{p.pid}/task/{p.pid}/children").read().split(),
                         what="the probe")[0])
    wait_for(lambda: os.path.exists(out) and open(out).read().strip(), what="the failed exec")
    assert open(out).read().strip() == f"exec-errno={ENOEXEC}"
    failed_at = time.monotonic()
    # The probe sleeps 3 s after the failure; the lock must be gone long before that.
    wait_for(lambda: sc.lokt.read_lock("garbage") is None, timeout=1, what="the release")
    assert time.monotonic() - failed_at < 1
    assert p.poll() is None, "the release must not wait for the process to exit"
    assert sc.lokt.events(name="garbage", event="exec-failed")
    rel = sc.lokt.events(name="garbage", event="release")
    assert rel and rel[-1].get("extra", {}).get("reason") == "exec-failed"
    os.kill(probe, signal.SIGKILL)
    rc, _, _ = finish(p)
    assert rc == 42 or rc == 128 + signal.SIGKILL


# --- 21: frozen -------------------------------------------------------------------------------

def test_frozen_exec_fails_with_eagain_and_the_message(sc):
    assert sc.lokt.run("freeze", "terraform", "--ttl", "30m", owner="human").returncode == 0
    r = sc.run(sc.t["probe-static"], "execv", sc.t["fake-terraform"], "apply")
    assert r.returncode == 42
    assert f"exec-errno={EAGAIN}" in r.stderr
    # As in preload mode: "lokt:" says who speaks, the tool and how to ask are named.
    assert 'lokt: fake-terraform needs lock "terraform": lock "terraform" is frozen until ' in r.stderr
    assert "(ask: lokt why terraform)" in r.stderr
    assert "error:" not in r.stderr
    assert not sc.log(), "the tool must not run"
    assert sc.lokt.events(name="terraform", event="freeze-deny")
    assert sc.lokt.read_lock("terraform") is None


def test_timeout_fails_with_eagain_and_the_holder(sc):
    sc.write_rules("terraform wait=300ms : fake-terraform apply *\n")
    assert sc.lokt.run("lock", "terraform", owner="other").returncode == 0
    r = sc.run(sc.t["probe"], "raw", sc.t["fake-terraform"], "apply")
    assert r.returncode == 42
    assert f"exec-errno={EAGAIN}" in r.stderr
    assert ('lokt: fake-terraform needs lock "terraform": timed out after 300ms waiting: lock "terraform" '
            'held by other') in r.stderr
    assert "(ask: lokt why terraform)" in r.stderr
    assert not sc.log()
    assert sc.lokt.events(name="terraform", event="deny")


def blocked_in_exec(shim):
    """The pid of the shim's child once it is blocked in execve (its notification pending)."""
    def probe():
        try:
            kids = open(f"/proc/{shim.pid}/task/{shim.pid}/children").read().split()
            for k in kids:
                if open(f"/proc/{k}/syscall").read().split()[0] in ("59", "322"):
                    return int(k)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
        return None
    return wait_for(probe, what="the exec to wait for its lock")


def test_waiters_are_served_in_arrival_order(sc):
    assert sc.lokt.run("lock", "terraform", owner="other").returncode == 0
    procs = []
    for i in range(3):
        procs.append(sc.start(sc.t["probe"], "raw", sc.t["fake-terraform"], "apply", str(i),
                              FAKE_HOLD_MS=50))
        # Queued (its ticket is in the store's waiting queue) before the next one starts.
        queue = os.path.join(sc.lokt.root, "queue", "terraform")
        wait_for(lambda: os.path.isdir(queue) and len(os.listdir(queue)) == i + 1,
                 what=f"waiter {i} in the queue")
    assert sc.lokt.run("unlock", "terraform", owner="other").returncode == 0
    for p in procs:
        rc, _, err = finish(p)
        assert rc == 0, err
    assert [line[-1] for line in sc.log()] == ["0", "1", "2"]
    assert not os.path.exists(sc.path("overlap"))


# --- 25: make -j2 with one recipe waiting ----------------------------------------------------

def test_make_is_stalled_by_a_waiting_recipe(sc, tmp_path):
    if not __import__("shutil").which("make"):
        pytest.skip("make is not installed")
    mk = tmp_path / "Makefile"
    # No shell metacharacters: make spawns each command itself (posix_spawn).
    mk.write_text("all: a b\na:\n\tfake-terraform apply\nb:\n\ttouch " + sc.path("b.done") + "\n")
    assert sc.lokt.run("lock", "terraform", owner="other").returncode == 0
    p = sc.start("make", "-j2", "-f", str(mk), FAKE_HOLD_MS=0)
    # Documented limit: the spawning make waits inside posix_spawn, so b does not start
    # while a's exec waits for its lock.
    time.sleep(1.0)
    assert p.poll() is None
    assert not os.path.exists(sc.path("b.done"))
    assert sc.lokt.run("unlock", "terraform", owner="other").returncode == 0
    rc, _, err = finish(p)
    assert rc == 0, err
    assert os.path.exists(sc.path("b.done")) and len(sc.log()) == 1


# --- end to end: two agents, a static tool, never overlapping ---------------------------------

def test_two_agents_never_overlap(sc):
    procs = []
    for agent in ("agent-a", "agent-b"):
        script = "; ".join([f"probe-static execv {sc.t['fake-terraform']} apply {agent}-{i}"
                            for i in range(4)])
        procs.append(sc.start("/bin/sh", "-c", script, owner=agent, FAKE_HOLD_MS=100))
    for p in procs:
        rc, _, err = finish(p, timeout=60)
        assert rc == 0, err
    assert len(sc.log()) == 8
    assert not os.path.exists(sc.path("overlap")), "two copies of the tool ran at once"
    assert sc.lokt.read_lock("terraform") is None


def test_shim_seccomp_command(sc):
    r = sc.lokt.run("shim", "--seccomp", "--rules", sc.rules, "--", sc.t["probe-static"], "execv",
                    sc.t["fake-terraform"], "apply", owner="agent-a", env=sc.env(FAKE_HOLD_MS=0))
    assert r.returncode == 0, r.stderr
    assert len(shim_acquires(sc, "terraform")) == 1


# --- the supervisor outlives CMD --------------------------------------------------------------

def test_background_leftovers_keep_exec_working(sc):
    out = sc.path("bg.out")
    r = sc.run("/bin/sh", "-c",
               f"( while [ ! -e {sc.path('go')} ]; do :; done; /bin/true; echo rc=$? > {out} ) "
               "</dev/null >/dev/null 2>&1 &")
    assert r.returncode == 0, r.stderr
    touch(sc.path("go"))
    wait_for(lambda: os.path.exists(out) and open(out).read().strip(), what="the leftover's exec")
    assert open(out).read().strip() == "rc=0"


def test_lock_held_by_an_ancestor_guard_is_reentrant(sc):
    # A guard above the tool holds the lock: the tool's exec runs at once, inside it.
    r = sc.lokt.run("guard", "terraform", "--", sc.lokt.bin,
                    *sc.argv([sc.t["probe-static"], "execv", sc.t["fake-terraform"], "apply"]),
                    owner="agent-a", env=sc.env(FAKE_HOLD_MS=0), timeout=30)
    assert r.returncode == 0, r.stderr
    assert len(sc.log()) == 1
    assert len(sc.lokt.events(name="terraform", event="acquire")) == 1  # the guard's only


def test_signals_sent_to_the_shim_reach_the_command(sc):
    out = sc.path("ready")
    p = sc.start("/bin/sh", "-c", f"touch {out}; exec sleep 30")
    wait_for(lambda: os.path.exists(out), what="the command to start")
    p.send_signal(signal.SIGTERM)
    rc, _, _ = finish(p, timeout=10)
    assert rc == 128 + signal.SIGTERM
