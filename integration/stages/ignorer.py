"""Stage: ignores the signals named on its command line (e.g. SIGTERM SIGHUP), forks a child
that inherits that, writes both pids (PIDFILE and PIDFILE.child, atomically) and sleeps. Only
SIGKILL ends the pair."""
import os
import signal
import sys
import time

pidfile = sys.argv[1]
for name in sys.argv[2:]:
    signal.signal(getattr(signal, name), signal.SIG_IGN)


def publish(path, pid):
    with open(path + ".tmp", "w") as f:
        f.write(str(pid))
    os.rename(path + ".tmp", path)


child = os.fork()
if child == 0:
    publish(pidfile + ".child", os.getpid())
    time.sleep(120)
    os._exit(0)
publish(pidfile, os.getpid())
time.sleep(120)
