"""`lokt doctor`'s setup checks: the per-directory ./.lokt fallback, a relative LOKT_ROOT, the
preload library, the rules file and seccomp mode; each says what to do, and only a broken
rules file fails (exit 1)."""
import json
import os
import subprocess

import pytest


def doctor(lokt, cwd=None, env=None, **extra):
    e = lokt.env(**extra)
    if env is not None:
        e = env
    r = subprocess.run([lokt.bin, "doctor"], cwd=cwd or lokt.cwd, env=e, capture_output=True, text=True,
                       timeout=60)
    lines = {}
    for line in r.stdout.splitlines()[:-1]:
        status, name, detail = line.split(None, 2)
        lines.setdefault(name, []).append((status, detail))
    return r, lines


def write_rules(lokt, text):
    os.makedirs(lokt.root, exist_ok=True)
    with open(os.path.join(lokt.root, "rules"), "w") as f:
        f.write(text)


def test_a_clean_setup_has_no_setup_warnings(lokt):
    os.makedirs(lokt.root)
    r, lines = doctor(lokt)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [s for s, _ in lines["root"]] == ["ok"]
    assert lines["preload"][0][0] == "ok"
    assert lines["rules"] == [("ok", f"no rules file at {lokt.root}/rules: lokt shim locks nothing until one is written")]
    assert lines["seccomp"][0][0] in ("ok", "warn")


def test_the_dot_lokt_fallback_is_per_directory(lokt, tmp_path):
    work = tmp_path / "nogit"
    work.mkdir()
    env = lokt.env()
    del env["LOKT_ROOT"]
    r, lines = doctor(lokt, cwd=work, env=env)
    assert r.returncode == 0, r.stdout
    warn = [d for s, d in lines["root"] if s == "warn"]
    assert len(warn) == 1
    assert "not in a git repository" in warn[0] and f"export LOKT_ROOT={work}/.lokt" in warn[0]


def test_a_relative_lokt_root_is_reported(lokt):
    r, lines = doctor(lokt, LOKT_ROOT="rel/locks")
    assert r.returncode == 0, r.stdout
    warn = [d for s, d in lines["root"] if s == "warn"]
    assert len(warn) == 1
    assert warn[0].startswith("LOKT_ROOT=rel/locks is relative")
    assert f"export LOKT_ROOT={lokt.cwd}/rel/locks" in warn[0]


def test_a_missing_or_bogus_preload_library(lokt, tmp_path):
    r, lines = doctor(lokt, LOKT_PRELOAD_LIB=str(tmp_path / "gone.so"))
    assert r.returncode == 0
    status, detail = lines["preload"][0]
    assert status == "warn"
    assert detail.startswith(f"no library at {tmp_path}/gone.so: lokt shim cannot start; point LOKT_PRELOAD_LIB")
    (tmp_path / "text.so").write_text("not elf")
    r, lines = doctor(lokt, LOKT_PRELOAD_LIB=str(tmp_path / "text.so"))
    assert lines["preload"][0] == ("warn", f"{tmp_path}/text.so is not a shared library: lokt shim cannot start; "
                                           "point LOKT_PRELOAD_LIB at liblokt_preload.so")


def test_a_rules_file_that_does_not_parse_fails_with_its_line(lokt):
    write_rules(lokt, "build wait=30m : make build\nbuild wiat=30m : make *\n")
    r, lines = doctor(lokt)
    assert r.returncode == 1, r.stdout
    status, detail = lines["rules"][0]
    assert status == "FAIL"
    assert detail.startswith(f"{lokt.root}/rules:2: ")
    assert "wiat=30m" in detail and detail.endswith("lokt shim refuses to start until it is fixed (lokt rules check)")
    j = json.loads(subprocess.run([lokt.bin, "doctor", "--json"], env=lokt.env(), cwd=lokt.cwd,
                                  capture_output=True, text=True).stdout)
    assert j["ok"] is False
    assert [c["status"] for c in j["checks"] if c["name"] == "rules"] == ["fail"]


def test_rules_whose_test_lines_fail_warn(lokt):
    write_rules(lokt, "build : make *\ntest build not-match : make -n\ntest build match : make all\n")
    r, lines = doctor(lokt)
    assert r.returncode == 0, r.stdout
    assert lines["rules"] == [("warn", f"{lokt.root}/rules: 1 rule; 1 of 2 test lines fail: the rules do not "
                                       "match what they say (see lokt rules check)")]
    write_rules(lokt, "build : make all\ntest build not-match : make -n\n")
    r, lines = doctor(lokt)
    assert lines["rules"] == [("ok", f"{lokt.root}/rules: 1 rule, 1 test lines pass")]


def test_seccomp_mode_is_reported_and_a_nested_listener_is_explained(lokt, tmp_path):
    r, lines = doctor(lokt)
    status, detail = lines["seccomp"][0]
    if status == "warn":
        assert detail.startswith("lokt shim --seccomp cannot run: ")
        pytest.skip("this kernel (or its seccomp policy) refuses a seccomp listener: " + detail)
    assert status == "ok" and detail.startswith("lokt shim --seccomp can run")
    # Under lokt shim --seccomp a second listener cannot be installed: doctor says why.
    rules = tmp_path / "rules"
    rules.write_text("never : no-such-tool *\n")
    r = subprocess.run([lokt.bin, "shim", "--seccomp", "--rules", str(rules), "--", lokt.bin, "doctor"],
                       env=lokt.env(), cwd=lokt.cwd, capture_output=True, text=True, timeout=60)
    seccomp = [line for line in r.stdout.splitlines() if line.split()[1:2] == ["seccomp"]]
    assert seccomp == ["warn  seccomp     lokt shim --seccomp cannot run: this process already runs under a "
                       "seccomp listener (inside lokt shim --seccomp?), and listeners do not nest; run lokt "
                       "shim --seccomp from outside it"], r.stdout
