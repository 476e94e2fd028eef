"""Stage: writes its pid to PIDFILE (atomically) and sleeps. Options: ignore-term (SIGTERM is
ignored, so only SIGKILL ends it), setsid (leaves the process group and session first),
seconds=N (sleep N seconds instead of 120, then exit 0)."""
import os
import signal
import sys
import time

pidfile = sys.argv[1]
opts = sys.argv[2:]
if "ignore-term" in opts:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if "setsid" in opts:
    os.setsid()
seconds = 120.0
for o in opts:
    if o.startswith("seconds="):
        seconds = float(o.split("=", 1)[1])
with open(pidfile + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(pidfile + ".tmp", pidfile)
time.sleep(seconds)
