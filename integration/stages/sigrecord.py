"""Stage: logs every signal it receives (one name per line) to LOG; SIGTERM also ends it
(exit 0). Writes its pid to READY once the handlers are installed."""
import os
import signal
import sys

log, ready = sys.argv[1], sys.argv[2]
NAMES = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM",
         "SIGCONT", "SIGWINCH", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGIO",
         "SIGPWR"]


def handler(sig, frame):
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (signal.Signals(sig).name + "\n").encode())
    os.close(fd)
    if sig == signal.SIGTERM:
        os._exit(0)


for n in NAMES:
    signal.signal(getattr(signal, n), handler)
with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
while True:
    signal.pause()
