"""lokt guard under a terminal: the command owns the terminal while it runs, Ctrl-C and
Ctrl-Z/fg behave as without lokt, and the caller gets the terminal back (requirement 9)."""
import os
import pty
import select
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stages"))
from guardlib import PY  # noqa: E402


class Pty:
    """A process on a new pseudo-terminal (session leader, terminal in the foreground)."""

    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.out = b""

    def expect(self, needle, timeout=10):
        needle = needle.encode() if isinstance(needle, str) else needle
        deadline = time.monotonic() + timeout
        while needle not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {needle!r}; got {self.out!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"EOF waiting for {needle!r}; got {self.out!r}")
                self.out += data
        i = self.out.index(needle) + len(needle)
        self.out = self.out[i:]

    def send(self, text):
        os.write(self.fd, text.encode() if isinstance(text, str) else text)

    def wait(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:
                if select.select([self.fd], [], [], 0.05)[0]:
                    self.out += os.read(self.fd, 4096)
            except OSError:
                time.sleep(0.02)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"pty process did not exit; output {self.out!r}")


def test_command_reads_the_terminal(lokt):
    prog = "import sys; print('ready', flush=True); print(sys.stdin.readline().strip()[::-1])"
    t = Pty([lokt.bin, "guard", "x", "--", PY, "-c", prog], lokt.env())
    t.expect("ready")
    t.send("abc\n")
    t.expect("cba")
    assert t.wait() == 0
    assert lokt.read_lock("x") is None


def test_command_can_open_dev_tty_and_is_foreground(lokt):
    prog = ("import os; fd = os.open('/dev/tty', os.O_RDWR); "
            "print('fg' if os.tcgetpgrp(fd) == os.getpgrp() else 'bg', flush=True)")
    t = Pty([lokt.bin, "guard", "x", "--", PY, "-c", prog], lokt.env())
    t.expect("fg")
    assert t.wait() == 0


def test_ctrl_c_gives_130_and_releases(lokt):
    # "ready" comes from the waited-for program itself: had the shell printed it, the Ctrl-C
    # could land while the shell is between vfork and exec of its child, where dash's own
    # handler swallows it — a race of the shell, present without lokt too.
    prog = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_DFL); "
            "print('ready', flush=True); time.sleep(100)")
    t = Pty([lokt.bin, "guard", "x", "--", "sh", "-c", f"{PY} -c \"{prog}\"; true"], lokt.env())
    t.expect("ready")
    t.send("\x03")  # to the whole foreground group: sh and sleep alike
    assert t.wait() == 130
    assert lokt.read_lock("x") is None


def test_terminal_is_given_back_to_the_caller(lokt):
    check = f"{PY} -c \"import os; print('mine' if os.tcgetpgrp(0) == os.getpgrp() else 'lost')\""
    t = Pty(["/bin/sh", "-c", f"{lokt.bin} guard x -- true; {check}"], lokt.env())
    t.expect("mine")
    assert t.wait() == 0


def test_ctrl_z_stops_the_job_and_fg_resumes_it(lokt, tmp_path):
    prog = tmp_path / "rev.py"
    prog.write_text("import signal, sys\n"
                    "signal.signal(signal.SIGCONT, lambda *a: print('continued', flush=True))\n"
                    "print('ready', flush=True)\n"
                    "for line in sys.stdin:\n"
                    "    print(line.strip()[::-1], flush=True)\n")
    env = lokt.env()
    env["PS1"] = "$ "
    t = Pty(["/bin/bash", "--norc", "--noprofile", "-i"], env)
    t.expect("$ ")
    t.send(f"{lokt.bin} guard x -- {PY} {prog}\n")
    t.expect("ready")
    t.send("one\n")
    t.expect("eno")
    t.send("\x1a")               # Ctrl-Z: the job stops, bash takes the terminal back
    t.expect("Stopped")
    t.expect("$ ")
    t.send("fg\n")
    t.expect("continued")
    t.send("two\n")
    t.expect("owt")
    t.send("\x04")               # EOF: the program exits 0
    t.expect("$ ")
    t.send("echo rc=$?\n")
    t.expect("rc=0")
    t.send("exit\n")
    assert t.wait() == 0
    assert lokt.read_lock("x") is None
