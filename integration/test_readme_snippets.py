"""The Makefile and CI snippets of README.md do what the README says: run them as written,
with real make, real concurrency and the signals each CI runner sends on cancellation."""
import json
import os
import re
import signal
import subprocess
import time

from conftest import pid_alive, wait_for

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def snippet(name):
    """The fenced code block right after the `<!-- snippet: NAME ... -->` marker."""
    with open(README) as f:
        text = f.read()
    m = re.search(r"<!-- snippet: " + re.escape(name) + r"\b[^\n]*-->\n```[a-z]*\n(.*?)```", text, re.S)
    assert m, f"README has no snippet {name}"
    return m.group(1)


def env_with_lokt(lokt):
    env = lokt.env()
    env["PATH"] = os.path.dirname(lokt.bin) + ":" + env.get("PATH", "/usr/bin:/bin")
    return env


def write_exec(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def test_makefile_pattern_serializes_parallel_makes(lokt):
    work = lokt.cwd
    with open(os.path.join(work, "Makefile"), "w") as f:
        f.write(snippet("makefile"))
    write_exec(os.path.join(work, "compile.sh"),
               "#!/bin/sh\necho start $$ >> runs.log\nsleep 0.2\necho end $$ >> runs.log\n")
    env = env_with_lokt(lokt)
    makes = [subprocess.Popen(["make", "-s", "build"], cwd=work, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for m in makes:
        out, err = m.communicate(timeout=120)
        assert m.returncode == 0, err
    with open(os.path.join(work, "runs.log")) as f:
        lines = [line.split() for line in f.read().splitlines()]
    # Three whole runs, one after another: start/end pairs of the same process, never interleaved.
    assert len(lines) == 6
    for start, end in zip(lines[::2], lines[1::2]):
        assert start[0] == "start" and end == ["end", start[1]], lines
    assert lokt.run("exists", "build").returncode == 3


def deploy_script(work):
    os.makedirs(os.path.join(work, "scripts"), exist_ok=True)
    # Records its pid and a background child's, and stops gracefully on INT or TERM (the child
    # is left behind on purpose: lokt must end it before releasing).
    write_exec(os.path.join(work, "scripts", "deploy.sh"),
               "#!/bin/bash\nsleep 300 &\necho $! > child.pid\n"
               "trap 'echo stopped by INT > deploy.out; exit 130' INT\n"
               "trap 'echo stopped > deploy.out; exit 143' TERM\n"
               "echo $$ > deploy.pid\nwait\n")


def read_pid(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return int(text) if text else None
    except FileNotFoundError:
        return None


def command_of(yaml_text, key):
    m = re.search(r"^\s*" + re.escape(key) + r"\s*(.+)$", yaml_text, re.M)
    assert m, yaml_text
    return m.group(1).strip()


def test_github_actions_step_stops_gracefully_on_cancel(lokt):
    work = lokt.cwd
    deploy_script(work)
    run = command_of(snippet("github-actions"), "run:")
    assert run.startswith("exec lokt guard deploy")
    # The runner starts the step's shell in a session of its own and, on cancel, sends SIGINT
    # (then SIGTERM, then SIGKILL) to that shell only.
    step = subprocess.Popen(["bash", "-e", "-c", run], cwd=work, env=env_with_lokt(lokt),
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for(lambda: read_pid(os.path.join(work, "deploy.pid")), what="the deploy to start")
        child = read_pid(os.path.join(work, "child.pid"))
        assert lokt.run("exists", "deploy").returncode == 0
        step.send_signal(signal.SIGINT)
        out, err = step.communicate(timeout=30)
        assert step.returncode == 130, err
        with open(os.path.join(work, "deploy.out")) as f:
            assert f.read().startswith("stopped by")
        assert not pid_alive(child)
        assert lokt.run("exists", "deploy").returncode == 3
    finally:
        if step.poll() is None:
            os.killpg(step.pid, signal.SIGKILL)
            step.wait()


def test_gitlab_job_released_after_term_and_kill_of_its_group(lokt):
    work = lokt.cwd
    deploy_script(work)
    line = command_of(snippet("gitlab-ci"), "- ")
    assert line.startswith("exec lokt guard deploy")
    job = subprocess.Popen(["bash", "-c", line], cwd=work, env=env_with_lokt(lokt),
                           start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        wait_for(lambda: read_pid(os.path.join(work, "deploy.pid")), what="the deploy to start")
        child = read_pid(os.path.join(work, "child.pid"))
        # The runner's cancel: SIGTERM to the job's process group, then SIGKILL to it.
        os.killpg(job.pid, signal.SIGTERM)
        wait_for(lambda: os.path.exists(os.path.join(work, "deploy.out")), what="the graceful stop")
        try:
            os.killpg(job.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        job.wait(timeout=30)
        wait_for(lambda: lokt.run("exists", "deploy").returncode == 3, timeout=30,
                 what="the lock to be released")
        wait_for(lambda: not pid_alive(child), what="the deploy's leftover to end")
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()


def test_rules_example_checks_and_locks_what_the_agent_runs(lokt, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    with open(repo / "Makefile", "w") as f:
        f.write("build:\n\t@echo \"$$LOKT_HELD\" > held.txt\nhelp:\n\t@echo \"$$LOKT_HELD\" > help.txt\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # The "agent": runs a build and an unrelated make target, as an agent would.
    write_exec(str(bindir / "claude"), "#!/bin/sh\nmake build && make help\n")
    env = env_with_lokt(lokt)
    del env["LOKT_ROOT"]
    env["PATH"] = f"{bindir}:{env['PATH']}"
    r = subprocess.run(["bash", "-e", "-c", snippet("rules")], cwd=repo, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 rules, 6 tests, all passed" in r.stdout
    # `make build` ran under the build lock (the guard sets LOKT_HELD), `make help` did not.
    assert (repo / "held.txt").read_text().startswith("build:")
    assert (repo / "help.txt").read_text().strip() == ""
    audit = subprocess.run([lokt.bin, "audit", "--event", "acquire"], cwd=repo, env=env,
                           capture_output=True, text=True).stdout
    assert '"owner":"claude-1"' in audit.replace(" ", "") and '"name":"build"' in audit.replace(" ", "")


def test_conflict_exit_code_pattern_tells_a_failed_make_from_a_held_lock(lokt):
    """The README's -E pattern: a make that fails (exit 2) fails the job; a build lock held
    by someone else skips it green; a good build passes."""
    work = lokt.cwd
    script = os.path.join(work, "ci.sh")
    write_exec(script, "#!/bin/bash\n" + snippet("conflict-exit-code"))
    env = env_with_lokt(lokt)

    def run_job():
        return subprocess.run([script], cwd=work, env=env, capture_output=True, text=True, timeout=60)

    with open(os.path.join(work, "Makefile"), "w") as f:
        f.write("build:\n\t@false\n")
    r = run_job()
    assert r.returncode == 1, r.stderr
    assert "skipping" not in r.stdout

    assert lokt.run("lock", "build", "--ttl", "5m", owner="other").returncode == 0
    r = run_job()
    assert r.returncode == 0, r.stderr
    assert "another build is running; skipping" in r.stdout
    assert lokt.run("unlock", "build", owner="other").returncode == 0

    with open(os.path.join(work, "Makefile"), "w") as f:
        f.write("build:\n\t@echo built\n")
    r = run_job()
    assert r.returncode == 0, r.stderr
    assert "built" in r.stdout


def install_claude_hook(lokt, project):
    """Writes .claude/settings.json and the hook script exactly as the README shows them."""
    settings = json.loads(snippet("claude-settings"))
    (project / ".claude" / "hooks").mkdir(parents=True)
    (project / ".claude" / "settings.json").write_text(json.dumps(settings))
    write_exec(str(project / ".claude" / "hooks" / "lokt-check.py"), snippet("claude-hook"))
    [entry] = settings["hooks"]["PreToolUse"]
    assert entry["matcher"] == "Bash"
    [hook] = entry["hooks"]
    assert hook["type"] == "command"
    return hook["command"]


def test_claude_code_hook_refuses_a_bash_call_whose_lock_is_held(lokt, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    command = install_claude_hook(lokt, project)
    os.makedirs(lokt.root)
    with open(os.path.join(lokt.root, "rules"), "w") as f:
        f.write("git-push : git -C|-c * push *\ngit-push : git push *\nbuild : make build|all\n")
    env = env_with_lokt(lokt)
    env["CLAUDE_PROJECT_DIR"] = str(project)

    def tool_call(cmd, tool="Bash"):
        # What Claude Code does: the settings' command through a shell, the call as JSON on stdin.
        call = {"session_id": "s1", "hook_event_name": "PreToolUse", "cwd": str(project),
                "tool_name": tool, "tool_input": {"command": cmd, "description": "x"}}
        return subprocess.run(["sh", "-c", command], input=json.dumps(call), env=env, cwd=project,
                              capture_output=True, text=True, timeout=60)

    push = "cd src && git -c push.default=current push origin 2>&1 | tail -3"
    assert tool_call(push).returncode == 0  # free: runs at once
    assert lokt.run("lock", "git-push", "--ttl", "10m", owner="claude-2").returncode == 0
    r = tool_call(push)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == 'lokt: git -c push.default=current push origin needs lock "git-push":'
    assert any('held by claude-2@' in x for x in lines), r.stderr
    assert ("Run it as: lokt guard git-push --wait --timeout 30m -- git -c push.default=current push origin"
            in lines)
    # Unrelated commands, lokt itself, other tools and other locks are never refused.
    for cmd in ("git log --grep push", "make build", "lokt guard git-push --wait -- git push"):
        assert tool_call(cmd).returncode == 0, cmd
    assert tool_call(push, tool="Read").returncode == 0
    assert lokt.run("freeze", "build", "--ttl", "10m").returncode == 0
    r = tool_call("FOO=1 make build > build.log")
    assert r.returncode == 2 and 'lokt: make build needs lock "build":' in r.stderr
    # Without lokt on PATH the hook steps aside instead of blocking every call.
    env["PATH"] = "/usr/bin:/bin"
    assert tool_call(push).returncode == 0
