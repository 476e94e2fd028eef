"""`lokt rules check` and `lokt rules match`: the rules file as its author sees it."""
import os

RULES = """# who may push, build, deploy
git-push wait=10m : git push *
git-push          : git -C * push *     # git's global -C option
terraform wait=0  : terraform apply|destroy *
test git-push match     : git push origin main
test git-push not-match : git status
"""


def write_rules(lokt, text, name="rules"):
    os.makedirs(lokt.root, exist_ok=True)
    path = os.path.join(lokt.root, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_check_lists_rules_and_runs_tests(lokt):
    path = write_rules(lokt, RULES)
    r = lokt.run("rules", "check")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        f"rules: {path}\n"
        "  line 2    git-push : git push *\n"
        "  line 3    git-push : git -C * push *\n"
        "  line 4    terraform wait=0 : terraform apply|destroy *\n"
        "test line 5: git-push match: git push origin main: ok\n"
        "test line 6: git-push not-match: git status: ok\n"
        "3 rules, 2 tests, all passed\n")


def test_check_fails_on_a_failing_test(lokt):
    write_rules(lokt, RULES + "test terraform match : terraform plan\n")
    r = lokt.run("rules", "check")
    assert r.returncode == 1
    assert ("test line 7: terraform match: terraform plan: FAILED "
            "(expected to match \"terraform\", but it does not)") in r.stdout
    assert r.stdout.endswith("3 rules, 3 tests, 1 failed\n")


def test_check_reports_parse_errors_with_the_line(lokt):
    path = write_rules(lokt, "build : make *\nbuild wiat=5m : make\n")
    r = lokt.run("rules", "check")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == (f"error: {path}:2: unknown option \"wiat=5m\" "
                        "(expected wait=DUR, on-frozen=fail|wait, on-timeout=fail|run, shared, slots=N)\n")


def test_check_without_a_rules_file(lokt):
    r = lokt.run("rules", "check")
    assert r.returncode == 1
    assert r.stderr == f"error: no rules file at {lokt.root}/rules\n"


def test_rules_file_from_env_and_flag(lokt):
    other = write_rules(lokt, "x : true\n", name="other.rules")
    r = lokt.run("rules", "check", LOKT_RULES=other)
    assert r.returncode == 0
    assert r.stdout.startswith(f"rules: {other}\n")
    r = lokt.run("rules", "check", "--rules", other)
    assert r.stdout.startswith(f"rules: {other}\n")


def test_match_says_which_rule_and_why(lokt):
    write_rules(lokt, RULES)
    r = lokt.run("rules", "match", "--", "git", "-C", "/repo", "push", "origin")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "command: git -C /repo push origin"
    assert "no match: git-push (line 2): argument 1 \"-C\" does not match \"push\"" in lines
    assert "match: git-push (line 3: git-push : git -C * push *)" in lines
    assert '    "push" matched argument 3 "push"' in lines
    assert '    "*" matched arguments 4..4 "origin"' in lines
    assert lines[-1].startswith("under lokt shim this runs: lokt guard --wait --timeout 10m --on-frozen fail --kind shim "
                                "git-push --exec ")
    assert lines[-1].endswith(" -- git -C /repo push origin")


def test_match_exit_1_when_nothing_matches(lokt):
    write_rules(lokt, RULES)
    r = lokt.run("rules", "match", "--", "git", "status")
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1] == "no rule matches"
    r = lokt.run("rules", "match", "--", "no-such-program-xyz")
    assert r.returncode == 1
    assert "(not found on PATH; matching the name only)" in r.stdout


def test_rules_usage_errors(lokt):
    assert lokt.run("rules").returncode == 64
    r = lokt.run("rules", "frob")
    assert r.returncode == 64
    assert 'unknown subcommand "frob"' in r.stderr
    r = lokt.run("rules", "match")
    assert r.returncode == 64
    assert "missing command" in r.stderr
