"""lokt shim: what the locks do once an exec is rewritten — recursive make, freezes, timeouts,
exit status and signals, several rules, and two agents running raw make on one Makefile
(research §1.5 scenarios 6, 7, 10, 11, 12, 14 and the end-to-end story)."""
import os
import signal
import subprocess
import time

from conftest import scaled, wait_for
from shimkit import shim, shim_targets  # noqa: F401  (fixtures)


def session_guards(sid):
    """PIDs of `lokt guard` processes in session `sid`."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                words = f.read().split(b"\0")
        except OSError:
            continue
        if int(fields[3]) == sid and len(words) > 1 and os.path.basename(words[0]) == b"lokt" \
                and words[1] == b"guard":
            out.append(int(name))
    return out


def write_makefiles(work, inner_call):
    os.makedirs(os.path.join(work, "sub"), exist_ok=True)
    with open(os.path.join(work, "Makefile"), "w") as f:
        f.write(".PHONY: all one two\nall: one two\n"
                f"one:\n\t{inner_call}\n"
                f"two:\n\t{inner_call}\n")
    with open(os.path.join(work, "sub", "Makefile"), "w") as f:
        f.write(".PHONY: all\nall:\n\t@echo \"sub held=$$LOKT_HELD\"\n")


def test_recursive_make_takes_the_lock_once(shim):
    shim.rules("build wait=20s : make *\n")
    write_makefiles(shim.lokt.cwd, "$(MAKE) -C sub")
    r = shim.run("bash", "-c", "make -j4", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "jobserver" not in r.stderr
    assert r.stdout.count("sub held=build:") == 2
    assert len(shim.lokt.events(name="build", event="acquire")) == 1


def test_recursive_make_with_a_stripped_environment_does_not_deadlock(shim):
    shim.rules("build wait=20s : make *\n")
    write_makefiles(shim.lokt.cwd, "env -i PATH=$$PATH make -C sub")
    r = shim.run("bash", "-c", "make -j4", timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("sub held=build:") == 2
    assert len(shim.lokt.events(name="build", event="acquire")) == 1


def test_frozen_lock_fails_at_once_and_the_tool_never_runs(shim):
    shim.rules("git-push wait=30s : fake-git push *\n")
    f = shim.lokt.run("freeze", "git-push", "--ttl", "30m", owner="human")
    assert f.returncode == 0, f.stderr
    t0 = time.monotonic()
    r = shim.run("bash", "-c", "fake-git push")
    assert r.returncode == 2
    assert time.monotonic() - t0 < 10
    assert 'lokt: fake-git needs lock "git-push": lock "git-push" is frozen until ' in r.stderr
    assert "(ask: lokt why git-push)" in r.stderr
    assert shim.records() == []
    assert len(shim.lokt.events(name="git-push", event="freeze-deny")) == 1


def test_on_frozen_wait_runs_after_the_unfreeze(shim):
    shim.rules("git-push wait=30s on-frozen=wait : fake-git push *\n")
    assert shim.lokt.run("freeze", "git-push", "--ttl", "30m", owner="human").returncode == 0
    p = shim.start("bash", "-c", "fake-git push")
    wait_for(lambda: session_guards(p.pid), what="the guard to start waiting")
    assert shim.records() == []
    assert shim.lokt.run("unfreeze", "git-push", owner="human").returncode == 0
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    [rec] = shim.records()
    assert rec["held"].startswith("git-push:")


def test_wait_runs_out_with_the_holder_message(shim):
    shim.rules("git-push wait=2s : fake-git push *\n")
    assert shim.lokt.run("lock", "git-push", "--ttl", "5m", owner="other").returncode == 0
    t0 = time.monotonic()
    r = shim.run("bash", "-c", "fake-git push")
    elapsed = time.monotonic() - t0
    assert r.returncode == 2
    assert 1.5 <= elapsed < 15
    assert 'lock "git-push" held by other@' in r.stderr
    assert shim.records() == []
    assert len(shim.lokt.events(name="git-push", event="deny")) == 1


def test_wait_0_fails_at_once(shim):
    shim.rules("git-push wait=0 : fake-git push *\n")
    assert shim.lokt.run("lock", "git-push", "--ttl", "5m", owner="other").returncode == 0
    r = shim.run("bash", "-c", "fake-git push")
    assert r.returncode == 2
    assert 'lock "git-push" held by other@' in r.stderr
    assert shim.records() == []


def test_on_timeout_run_runs_the_tool_unlocked(shim):
    shim.rules("git-push wait=1s on-timeout=run : fake-git push *\n")
    assert shim.lokt.run("lock", "git-push", "--ttl", "5m", owner="other").returncode == 0
    r = shim.run("bash", "-c", "fake-git push")
    assert r.returncode == 0
    assert "warning" in r.stderr
    assert len(shim.records()) == 1


def test_exit_status_of_the_tool_reaches_the_caller(shim):
    shim.rules("git-push : fake-git push *\n")
    r = shim.run(shim.t.exec_variants, "posix_spawnp", "fake-git", "push", TOOL_EXIT=7)
    assert r.returncode == 7
    r = shim.run("bash", "-c", "fake-git push; echo status=$?", TOOL_EXIT=9)
    assert r.stdout.strip() == "status=9"


def test_sigterm_to_the_guard_reaches_the_tool_and_releases(shim, tmp_path):
    shim.rules("git-push : fake-git push *\n")
    hold = tmp_path / "hold"
    p = shim.start(shim.t.exec_variants, "posix_spawnp", "fake-git", "push", TOOL_HOLD=str(hold),
                   TOOL_LOCK="git-push")
    child = int(p.stdout.readline().split()[1])
    wait_for(lambda: os.path.exists(str(hold) + ".started"), what="the tool to start")
    assert shim.lokt.read_lock("git-push")["kind"] == "shim"
    os.kill(child, signal.SIGTERM)
    p.communicate(timeout=30)
    assert p.returncode == 128 + signal.SIGTERM
    assert shim.lokt.read_lock("git-push") is None
    assert len(shim.lokt.events(name="git-push", event="release")) == 1


def test_several_rules_take_every_lock_in_name_order(shim):
    shim.rules("deploy : fake-make deploy\nbuild : fake-make *\n")
    r = shim.run("bash", "-c", "fake-make deploy")
    assert r.returncode == 0, r.stderr
    [rec] = shim.records()
    held = sorted(x.split(":")[0] for x in rec["held"].split(","))
    assert held == ["build", "deploy"]
    acquires = [e["name"] for e in shim.lokt.events(event="acquire")]
    assert acquires == ["build", "deploy"]


def test_two_agents_with_opposite_commands_never_deadlock(shim):
    # Agent A's command names deploy first, agent B's names build first; both need both.
    shim.rules("deploy wait=60s : fake-make deploy\nbuild wait=60s : fake-make *\n"
               "build wait=60s : fake-deploy build\ndeploy wait=60s : fake-deploy *\n")
    rounds = scaled(100)
    loop = "for i in $(seq %d); do %s || exit 1; done"
    a = shim.start("bash", "-c", loop % (rounds, "fake-make deploy"), owner="agent-a")
    b = shim.start("bash", "-c", loop % (rounds, "fake-deploy build"), owner="agent-b")
    for p in (a, b):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert len(shim.records()) == 2 * rounds
    assert len(shim.lokt.events(name="build", event="acquire")) == 2 * rounds
    assert len(shim.lokt.events(name="deploy", event="acquire")) == 2 * rounds


def test_two_agents_running_raw_make_never_overlap(shim):
    """The story: two bash agents under lokt shim run plain `make` on one Makefile at once."""
    shim.rules("build wait=60s : make *\n")
    work = shim.lokt.cwd
    log = os.path.join(work, "log")
    with open(os.path.join(work, "Makefile"), "w") as f:
        f.write(".PHONY: all\nall:\n"
                "\t@echo \"start $(AGENT)\" >> log\n"
                "\t@while [ ! -e $(GO) ]; do sleep 0.01; done\n"
                "\t@echo \"end $(AGENT)\" >> log\n")
    go_a, go_b = os.path.join(work, "go-a"), os.path.join(work, "go-b")
    a = shim.start("bash", "-c", "make AGENT=a GO=" + go_a, owner="agent-a")
    wait_for(lambda: os.path.exists(log), what="agent a's recipe to start")
    b = shim.start("bash", "-c", "make AGENT=b GO=" + go_b, owner="agent-b")
    wait_for(lambda: session_guards(b.pid), what="agent b's guard")
    open(go_b, "w").close()  # b would finish at once if its recipe were running now
    assert open(log).read() == "start a\n"
    open(go_a, "w").close()
    for p in (a, b):
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert open(log).read() == "start a\nend a\nstart b\nend b\n"
    acquires = shim.lokt.events(name="build", event="acquire")
    assert [e["owner"] for e in acquires] == ["agent-a", "agent-b"]


def test_ctrl_c_in_a_terminal_reaches_the_tool_once(shim, tmp_path):
    import pty
    import select
    counter = os.path.join(shim.t.bin, "sigcount")
    with open(counter, "w") as f:
        f.write("#!/usr/bin/python3\n"
                "import signal, sys, time\n"
                "n = 0\n"
                "def on_int(sig, frame):\n"
                "    global n\n"
                "    n += 1\n"
                "signal.signal(signal.SIGINT, on_int)\n"
                "print('ready', flush=True)\n"
                "deadline = time.monotonic() + 20\n"
                "while n == 0 and time.monotonic() < deadline:\n"
                "    time.sleep(0.01)\n"
                "time.sleep(0.5)  # a window for a duplicate delivery to show up\n"
                "print(f'count={n}', flush=True)\n")
    os.chmod(counter, 0o755)
    shim.rules("sig : sigcount\n")
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(shim.lokt.bin, shim.argv("bash", "-c", "sigcount; echo status=$?"), shim.env())
        finally:
            os._exit(127)
    out = b""

    def expect(needle, timeout=20):
        nonlocal out
        deadline = time.monotonic() + timeout
        while needle not in out:
            assert time.monotonic() < deadline, out
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        return out

    expect(b"ready")
    assert shim.lokt.read_lock("sig")["kind"] == "shim"
    os.write(fd, b"\x03")
    expect(b"status=")
    expect(b"\n", timeout=5)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert b"count=1" in out
    assert b"status=0" in out
    assert shim.lokt.read_lock("sig") is None


def test_shared_and_slots_rule_options(shim):
    """A `shared` rule joins other shared holders (an exclusive one keeps it out); a `slots=N`
    rule takes a free slot of the pool."""
    shim.rules("fixture wait=0 shared : fake-git pull *\npool wait=0 slots=2 : fake-git fetch *\n")
    assert shim.lokt.run("lock", "fixture", "--shared", owner="other").returncode == 0
    r = shim.run("bash", "-c", "fake-git pull")
    assert r.returncode == 0, r.stderr
    assert shim.lokt.run("unlock", "fixture", owner="other").returncode == 0
    assert shim.lokt.run("lock", "fixture", owner="other").returncode == 0
    r = shim.run("bash", "-c", "fake-git pull")
    assert r.returncode == 2
    assert 'lock "fixture" held by other@' in r.stderr
    assert shim.lokt.run("lock", "pool", "--slots", "2", owner="other").returncode == 0  # slot 0
    r = shim.run("bash", "-c", "fake-git fetch")
    assert r.returncode == 0, r.stderr
    acquired = [e for e in shim.lokt.events("pool", "acquire") if e["owner"] != "other"]
    assert len(acquired) == 1 and acquired[0]["extra"]["slot"] == 1
