"""Helpers shared by the seccomp-mode tests: compiling the C targets once per session, and
checking what the kernel and the machine offer (tests skip with a reason, never pass)."""
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "seccomp_targets")


def build_targets(out_dir):
    """Compiles the probe (dynamic and static) and the static fake tool into out_dir.
    Returns a dict name -> path; raises RuntimeError with the compiler output on failure."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if not gcc:
        raise RuntimeError("no C compiler")
    jobs = {
        "probe": [os.path.join(SRC, "probe.c"), "-lpthread"],
        "probe-static": ["-static", os.path.join(SRC, "probe.c"), "-lpthread"],
        "fake-terraform": ["-static", os.path.join(SRC, "fake_tool.c")],
    }
    out = {}
    for name, args in jobs.items():
        path = os.path.join(out_dir, name)
        r = subprocess.run([gcc, "-O1", "-o", path, *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"building {name}: {r.stderr}")
        out[name] = path
    return out


def notify_supported(probe):
    """True when this kernel lets an unprivileged-style tree install a notify listener."""
    r = subprocess.run([probe, "listener"], capture_output=True, text=True)
    return "listener-errno=0" in r.stderr
