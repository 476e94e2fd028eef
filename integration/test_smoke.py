"""The binary runs and reports its version and help."""


def test_version_prints_name_and_version(lokt):
    r = lokt.run("version")
    assert r.returncode == 0
    assert r.stdout.startswith("lokt ")


def test_unknown_command_is_a_usage_error(lokt):
    r = lokt.run("frobnicate")
    assert r.returncode == 64
    assert r.stderr.startswith('error: unknown command "frobnicate"')
