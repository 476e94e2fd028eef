"""`lokt shim --seccomp` with the preload as its filter's fast path (docs/shim.md, "Cost"):
an exec the library screened carries the run's pass word and skips the supervisor; the rest,
and every exec of a program that does not load the library, still stop in the filter."""
import re

from seccomp_fixtures import sc, targets  # noqa: F401  (fixtures)

RECIPES = 30


def _fast_path_answers(stderr):
    lines = [ln for ln in stderr.splitlines() if "seccomp receivers" in ln]
    assert len(lines) == 1, stderr
    return int(re.search(r"RECV to CONTINUE: (\d+) answers", lines[0]).group(1))


def _makefile(sc, with_tool):
    names = [f"t{i}" for i in range(RECIPES)]
    text = f"all: {' '.join(names)}{' tool' if with_tool else ''}\n.PHONY: all {' '.join(names)} tool\n"
    text += f"{' '.join(names)}:\n\t@true\n"
    text += "tool:\n\t@fake-terraform apply\n"
    path = sc.path("Makefile")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_make_recipes_skip_the_filter_and_a_matching_recipe_is_still_locked(sc):
    # make starts its recipes with posix_spawn; the library spawns them itself so that their
    # execs carry the word. The one recipe a rule matches goes to the supervisor and is locked.
    mk = _makefile(sc, with_tool=True)
    r = sc.run("make", "-s", "-j4", "-f", mk, LOKT_LOG="debug", FAKE_HOLD_MS=0)
    assert r.returncode == 0, r.stderr
    assert len(sc.log()) == 1, "the tool did not run"
    acquires = [e for e in sc.lokt.events(name="terraform", event="acquire") if e.get("owner") == "agent-a"]
    assert len(acquires) == 1
    assert acquires[0]["extra"]["command"] == "fake-terraform apply"
    screened = _fast_path_answers(r.stderr)
    # Without the library every recipe's exec is answered by the supervisor.
    sc.flags = ["--no-preload"]
    r = sc.run("make", "-s", "-j4", "-f", _makefile(sc, with_tool=False), LOKT_LOG="debug")
    assert r.returncode == 0, r.stderr
    assert _fast_path_answers(r.stderr) >= RECIPES
    assert screened <= 2, "the recipes' execs still stopped in the filter"


def test_rules_changed_after_the_start_do_not_screen(sc):
    # The supervisor keeps the rules it read at the start. A process that reads the file after
    # it changed must not screen with it: here the new file no longer names terraform, and the
    # tool's exec still reaches the supervisor, which locks it.
    new_rules = sc.path("new-rules")
    with open(new_rules, "w") as f:
        f.write("other wait=0 : something-else *\n")
    r = sc.run("/bin/sh", "-c", f'cp {new_rules} {sc.rules} && /bin/sh -c "fake-terraform apply"',
               FAKE_HOLD_MS=0)
    assert r.returncode == 0, r.stderr
    assert len(sc.log()) == 1, "the tool did not run"
    assert [e for e in sc.lokt.events(name="terraform", event="acquire") if e.get("owner") == "agent-a"]


def test_a_process_that_drops_the_library_still_stops_in_the_filter(sc):
    # LD_PRELOAD cleared for one command: its execs carry no word and are locked as before.
    r = sc.run("/bin/sh", "-c", 'LD_PRELOAD= LOKT_SHIM_DOCTOR=0 /bin/sh -c "fake-terraform apply"',
               FAKE_HOLD_MS=0)
    assert r.returncode == 0, r.stderr
    assert [e for e in sc.lokt.events(name="terraform", event="acquire") if e.get("owner") == "agent-a"]


def test_shim_debug_says_which_way_each_exec_went(sc):
    r = sc.run("/bin/sh", "-c", "/bin/true; fake-terraform apply", LOKT_SHIM_DEBUG="1", FAKE_HOLD_MS=0)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("lokt shim: ")]
    assert any(ln.endswith("execve /bin/true: pass (screened: no rule can match)") for ln in lines), r.stderr
    assert any("fake-terraform: to the seccomp filter" in ln for ln in lines), r.stderr
