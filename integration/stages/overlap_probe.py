"""Stage: the second holder's command. Appends one line to OUT: "overlap PID" for every PID
(of the first holder's tree) still running, else "clean". Runs only while it holds the lock."""
import os
import sys

out = sys.argv[1]
live = []
for arg in sys.argv[2:]:
    if not arg:
        continue
    try:
        with open(f"/proc/{int(arg)}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state not in ("Z", "X"):
            live.append(arg)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
with open(out, "a") as f:
    f.write(("overlap " + " ".join(live)) if live else "clean")
    f.write("\n")
