"""Shell completion: `lokt __complete` answers from the command table and the lock root lokt
would use, and the bash, zsh and fish scripts installed with lokt pass its answers on."""
import os
import subprocess

import pytest

SHARE = lambda lokt: os.path.join(os.path.dirname(os.path.dirname(lokt.bin)), "share")  # noqa: E731


def complete(lokt, *words, cwd=None, env=None):
    r = subprocess.run([lokt.bin, "__complete", "--", *words], cwd=cwd or lokt.cwd,
                       env=env or lokt.env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


@pytest.mark.parametrize("words,expected", [
    (["gu"], ["guard"]),
    (["guard", "b", "--on-exit", ""], ["term", "wait"]),
    (["guard", "b", "--on-frozen", "f"], ["fail"]),
    (["audit", "--format", ""], ["text", "jsonl"]),
    (["prime", "--format", "c"], ["claude-md", "cursorrules"]),
    (["shim", "--rules", ""], [":files"]),
    (["guard", "b", "--", ""], [":commands"]),
    (["guard", "b", "--", "make", ""], [":files"]),
    (["rules", ""], ["check", "match"]),
    (["help", "pr"], ["prime"]),
    (["frobnicate", ""], []),
])
def test_candidates(lokt, words, expected):
    assert complete(lokt, *words) == expected


def test_flags_of_a_command_and_no_hidden_commands(lokt):
    flags = complete(lokt, "lock", "b", "-")
    assert {"--ttl", "--wait", "--timeout", "--json", "--conflict-exit-code", "--help"} <= set(flags)
    assert "__complete" not in complete(lokt, "")


def test_lock_names_come_from_the_root_lokt_finds_from_a_subdirectory(lokt, tmp_path):
    repo = tmp_path / "repo"
    (repo / "src" / "deep").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = lokt.env()
    del env["LOKT_ROOT"]
    for name in ("build", "deploy"):
        r = subprocess.run([lokt.bin, "lock", name], cwd=repo, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    r = subprocess.run([lokt.bin, "freeze", "release", "--ttl", "5m"], cwd=repo, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    deep = repo / "src" / "deep"
    assert complete(lokt, "unlock", "", cwd=deep, env=env) == ["build", "deploy", "release"]
    assert complete(lokt, "status", "d", cwd=deep, env=env) == ["deploy"]
    assert complete(lokt, "audit", "--name", "b", cwd=deep, env=env) == ["build"]
    # Completion never creates a root where there is none.
    assert complete(lokt, "unlock", "", cwd=tmp_path, env=env) == []
    assert not (tmp_path / ".lokt").exists()


def bash_complete(lokt, line):
    words = line.split(" ")
    script = (f"source {SHARE(lokt)}/bash-completion/completions/lokt\n"
              f"COMP_WORDS=({' '.join(repr(w) for w in [lokt.bin] + words)})\n"
              f"COMP_CWORD={len(words)}\n_lokt\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=lokt.cwd,
                       env=lokt.env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.splitlines() if w]


def test_bash_script(lokt):
    assert lokt.run("lock", "build").returncode == 0
    assert bash_complete(lokt, "guard b --on-exit ") == ["term", "wait"]
    assert bash_complete(lokt, "unlock b") == ["build"]
    assert "bash" in bash_complete(lokt, "guard x -- bas")
    open(os.path.join(lokt.cwd, "rules.txt"), "w").close()
    assert bash_complete(lokt, "shim --rules rul") == ["rules.txt"]


def test_zsh_script_passes_candidates_to_compadd(lokt):
    # The completion system itself needs an interactive shell; stand in for its builtins and
    # check what the script hands them.
    script = ("compadd() { [[ $1 == -a ]] && print -l -- ${(P)2} }\n"
              "_files() { print FILES }\n_command_names() { print COMMANDS }\n"
              "words=(" + lokt.bin + " guard b --on-exit ''); CURRENT=5\n"
              f"source {SHARE(lokt)}/zsh/vendor-completions/_lokt\n"
              "words=(" + lokt.bin + " shim --rules ''); CURRENT=4\n"
              f"source {SHARE(lokt)}/zsh/vendor-completions/_lokt\n")
    r = subprocess.run(["zsh", "-f", "-c", script], cwd=lokt.cwd, env=lokt.env(),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["term", "wait", "FILES"]


def test_fish_script(lokt):
    assert lokt.run("lock", "deploy").returncode == 0
    bindir = os.path.dirname(lokt.bin)
    script = (f"set -x PATH {bindir} $PATH\n"
              f"source {SHARE(lokt)}/fish/vendor_completions.d/lokt.fish\n"
              "complete -C 'lokt guard b --on-timeout '\necho ---\ncomplete -C 'lokt why d'\n")
    r = subprocess.run(["fish", "--no-config", "-c", script], cwd=lokt.cwd, env=lokt.env(),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    out = r.stdout.split("---\n")
    assert [w.split("\t")[0] for w in out[0].splitlines()] == ["fail", "run"]
    assert [w.split("\t")[0] for w in out[1].splitlines()] == ["deploy"]
