"""`lokt prime` prints agent instructions; mistyped commands, flags and formats get a suggestion."""
import pytest


@pytest.mark.parametrize("fmt,heading", [
    ("claude-md", "## Shared locks (lokt)"),
    ("agents-md", "## Shared locks (lokt)"),
    ("cursorrules", "Shared locks (lokt):"),
    ("plain", "Shared locks (lokt):"),
])
def test_prime_formats_carry_the_rules_an_agent_needs(lokt, fmt, heading):
    r = lokt.run("prime", "--format", fmt)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(heading)
    out = r.stdout
    # What exit 2 means, how to wait, how to ask, and what never to do.
    assert "Exit code 2" in out
    assert "--wait" in out
    assert "lokt why NAME" in out
    assert "Never run `lokt unlock --force`" in out
    assert "LOKT_OWNER" in out
    # Markdown formats are bullet lists under one heading; plain ones have no Markdown heading.
    assert ("##" in out) == fmt.endswith("-md")
    assert ("Bash tool" in out) == (fmt == "claude-md")


def test_prime_defaults_to_plain(lokt):
    assert lokt.run("prime").stdout == lokt.run("prime", "--format", "plain").stdout


def test_prime_rejects_an_unknown_format_with_a_suggestion(lokt):
    r = lokt.run("prime", "--format", "claude")
    assert r.returncode == 64
    assert r.stdout == ""
    assert 'error: unknown format "claude" (did you mean "claude-md"?)' in r.stderr


def test_prime_needs_no_lock_root(lokt, tmp_path):
    # An agent may run it before anything was ever locked: it must not create the root.
    r = lokt.run("prime", env={"LOKT_ROOT": str(tmp_path / "nowhere")})
    assert r.returncode == 0
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("argv,expected", [
    (["gaurd", "x"], 'error: unknown command "gaurd" (did you mean "guard"?)'),
    (["stat"], 'error: unknown command "stat" (did you mean "status"?)'),
    (["lock", "x", "--tll", "5s"], 'error: unknown flag "--tll" for "lock" (did you mean "--ttl"?)'),
    (["guard", "x", "--wiat", "--", "true"],
     'error: unknown flag "--wiat" for "guard" (did you mean "--wait"?)'),
    (["help", "prme"], 'error: unknown command "prme" (did you mean "prime"?)'),
])
def test_typos_get_a_suggestion_and_exit_64(lokt, argv, expected):
    r = lokt.run(*argv)
    assert r.returncode == 64
    assert r.stderr.splitlines()[0] == expected


def test_no_suggestion_for_something_unlike_any_command(lokt):
    r = lokt.run("xyzzy")
    assert r.returncode == 64
    assert r.stderr.splitlines()[0] == 'error: unknown command "xyzzy"'
