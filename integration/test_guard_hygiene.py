"""lokt guard: the command inherits exactly the caller's fds and signal state; the supervisor
survives SIGPIPE and a full stderr, and does not pin the working directory (requirement 10)."""
import fcntl
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from conftest import wait_for  # noqa: E402
from guardlib import children, read_pid, stage, wait_exit  # noqa: E402


def run_both(lokt, argv, **popen):
    """Runs argv directly and under lokt guard with the same caller state; returns both outputs."""
    direct = subprocess.run(argv, cwd=lokt.cwd, env=lokt.env(), capture_output=True, text=True,
                            **popen)
    guarded = subprocess.run([lokt.bin, "guard", "x", "--", *argv], cwd=lokt.cwd, env=lokt.env(),
                             capture_output=True, text=True, **popen)
    assert direct.returncode == 0 and guarded.returncode == 0, guarded.stderr
    return direct.stdout, guarded.stdout


def test_command_sees_only_the_callers_fds(lokt, tmp_path):
    extra = os.open(str(tmp_path / "extra"), os.O_CREAT | os.O_WRONLY)
    try:
        direct, guarded = run_both(lokt, ["ls", "/proc/self/fd"], pass_fds=(extra,))
    finally:
        os.close(extra)
    assert str(extra) in direct.split()
    assert guarded == direct


def test_command_gets_the_callers_signal_mask_and_ignored_set(lokt):
    def caller_state():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR2})
    direct, guarded = run_both(lokt, ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"],
                               preexec_fn=caller_state)
    assert guarded == direct
    blk = int(guarded.split("SigBlk:")[1].split()[0], 16)
    assert blk & (1 << (signal.SIGTERM - 1))


def test_command_gets_default_dispositions_when_the_caller_had_them(lokt):
    direct, guarded = run_both(lokt, ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])
    assert guarded == direct
    ign = int(guarded.split("SigIgn:")[1].split()[0], 16)
    for sig in (signal.SIGPIPE, signal.SIGTTOU, signal.SIGTTIN, signal.SIGCHLD):
        assert not ign & (1 << (sig - 1))


def test_ignored_sigchld_in_the_caller_is_harmless(lokt):
    r = subprocess.run([lokt.bin, "guard", "x", "--", "sh", "-c", "exit 4"], cwd=lokt.cwd,
                       env=lokt.env(), preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN))
    assert r.returncode == 4


def test_supervisor_cwd_is_root_and_command_cwd_is_the_callers(lokt, tmp_path):
    pidfile = tmp_path / "cmd"
    p = lokt.start("guard", "x", "--", *stage("sleeper.py", pidfile))
    try:
        wait_for(lambda: read_pid(pidfile), what="command started")
        sup = children(p.pid)[0]
        assert os.readlink(f"/proc/{sup}/cwd") == "/"
        assert os.readlink(f"/proc/{read_pid(pidfile)}/cwd") == os.path.realpath(lokt.cwd)
    finally:
        p.terminate()
        p.wait(10)


def test_supervisor_survives_a_closed_stderr(lokt):
    r, w = os.pipe()
    os.close(r)  # nobody reads stderr: the lost-lock warning gets EPIPE/SIGPIPE
    p = subprocess.Popen([lokt.bin, "guard", "x", "--ttl", "1s", "--", "sleep", "1.5"],
                         cwd=lokt.cwd, env=lokt.env(), stderr=w)
    os.close(w)
    wait_for(lambda: lokt.read_lock("x"), what="lock taken")
    assert lokt.run("unlock", "x", "--force").returncode == 0
    wait_for(lambda: lokt.events("x", "lost"), timeout=3, what="lost audited")
    assert wait_exit(p, 10) == 0


def test_supervisor_is_not_stalled_by_a_full_stderr(lokt):
    r, w = os.pipe()
    fl = fcntl.fcntl(w, fcntl.F_GETFL)
    fcntl.fcntl(w, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    try:
        while True:
            os.write(w, b"x" * 4096)
    except BlockingIOError:
        pass
    fcntl.fcntl(w, fcntl.F_SETFL, fl)
    try:
        p = subprocess.Popen([lokt.bin, "guard", "x", "--ttl", "1s", "--", "sleep", "2"],
                             cwd=lokt.cwd, env=lokt.env(), stderr=w)
        wait_for(lambda: lokt.read_lock("x"), what="lock taken")
        assert lokt.run("unlock", "x", "--force").returncode == 0
        wait_for(lambda: lokt.events("x", "lost"), timeout=3, what="lost audited")
        assert wait_exit(p, 10) == 0
    finally:
        os.close(w)
        os.close(r)


def test_output_pipe_closed_by_the_reader_still_releases(lokt):
    # `lokt guard x -- sh -c 'sleep .3; echo foo' | true`: the command dies of SIGPIPE.
    r = subprocess.run(["sh", "-c", f"{lokt.bin} guard x -- sh -c 'sleep 0.3; echo foo' | true; "
                                    "echo ${PIPESTATUS:-done}"],
                       cwd=lokt.cwd, env=lokt.env(), capture_output=True, text=True)
    assert r.returncode == 0
    assert lokt.read_lock("x") is None


def test_ps_names_the_supervisor(lokt, tmp_path):
    """The lock's pid is the supervisor: ps shows it as `lokt guard NAME [supervisor]` (its
    comm as "lokt supervisor"), not as a second copy of the front's command line."""
    from conftest import wait_for
    ready = tmp_path / "ready"
    g = lokt.start("guard", "build", "--kill-after", "5s", "--", "sh", "-c",
                   f"touch {ready}; exec sleep 60")
    try:
        wait_for(ready.exists, what="command started")
        pid = lokt.read_lock("build")["pid"]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert f.read().rstrip(b"\0") == b"lokt guard build [supervisor]"
        with open(f"/proc/{pid}/comm") as f:
            assert f.read().strip() == "lokt supervisor"
        with open(f"/proc/{g.pid}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[1:3] == [b"guard", b"build"]  # the front is untouched
    finally:
        g.terminate()
        g.wait(30)
