"""The test harness itself: the environment every test starts from is scrubbed of what the
caller exported, and LOKT_REQUIRE_ALL=1 turns a skip into a failure."""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

INNER = '''
import os, subprocess, pytest

def test_env(lokt):
    child = subprocess.run(["env"], capture_output=True, text=True, check=True).stdout
    names = {line.split("=", 1)[0] for line in child.splitlines()}
    ours = {line.split("=", 1)[0] for line in child.splitlines()} | set(lokt.env())
    assert not {"LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LOKT_RULES",
                "LOKT_AUDIT_MAX_BYTES", "LOKT_SHIM", "LOKT_HELD"} & (names | ours)
    assert "LOKT_BIN" in names and "KEEP_ME" in names

def test_skips():
    pytest.skip("the environment lacks something")
'''


def run_inner(tmp_path, **env):
    d = tmp_path / "inner"
    d.mkdir()
    shutil.copy(os.path.join(HERE, "conftest.py"), d / "conftest.py")
    (d / "test_inner.py").write_text(INNER)
    e = dict(os.environ, LD_PRELOAD="/nonexistent/libx.so", ASAN_OPTIONS="x=1", UBSAN_OPTIONS="x=1",
             LOKT_RULES="/nonexistent/rules", LOKT_AUDIT_MAX_BYTES="10", LOKT_SHIM="1", LOKT_HELD="a:b",
             KEEP_ME="1", **env)
    e.pop("LOKT_REQUIRE_ALL", None)
    e.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs", str(d)],
                          cwd=d, env=e, capture_output=True, text=True, timeout=120)


def test_inherited_lokt_preload_and_sanitizer_variables_are_scrubbed(tmp_path):
    r = run_inner(tmp_path)
    assert "1 passed, 1 skipped" in r.stdout, r.stdout + r.stderr


def test_require_all_turns_a_skip_into_a_failure(tmp_path):
    r = run_inner(tmp_path, LOKT_REQUIRE_ALL="1")
    assert r.returncode == 1
    assert "1 failed, 1 passed" in r.stdout, r.stdout + r.stderr
    assert "LOKT_REQUIRE_ALL=1 allows no skip: Skipped: the environment lacks something" in r.stdout
