"""The guarded command of scripts/storm_guard.py. Holds a shared flock on OCCUPANCY for as
long as it or any process it started lives (the fd is inherited across fork): a command that
cannot take the exclusive lock at its start runs beside another holder's tree (an overlap).
Options: escape (leave a setsid'd, TERM-ignoring child behind), SECONDS to stay."""
import fcntl
import os
import signal
import sys
import time

occupancy, log, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
escape = "escape" in sys.argv[4:]
fd = os.open(occupancy, os.O_RDWR | os.O_CREAT, 0o644)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    verdict = "clean"
except BlockingIOError:
    verdict = "overlap"
fcntl.flock(fd, fcntl.LOCK_SH)
with open(log, "a") as f:
    f.write(f"{verdict} {os.getpid()}\n")
if escape and os.fork() == 0:
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(5)  # outlives the command: only a teardown (SIGKILL) ends it early
    os._exit(0)
time.sleep(seconds)
