"""The binary runs and reports its version and help."""
import re


def test_version_prints_name_and_version(lokt):
    r = lokt.run("version")
    assert r.returncode == 0
    # lokt 0.1.0 (commit 0123456789ab, 2026-11-30): the commit it was built from, and its date.
    assert re.fullmatch(r"lokt \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(\+changes)?|unknown), "
                        r"(\d{4}-\d\d-\d\d|unknown)\)\n", r.stdout), r.stdout


def test_unknown_command_is_a_usage_error(lokt):
    r = lokt.run("frobnicate")
    assert r.returncode == 64
    assert r.stderr.startswith('error: unknown command "frobnicate"')


def test_install_puts_man_page_completion_and_preload_library_under_the_prefix(lokt):
    import os
    prefix = os.path.dirname(os.path.dirname(lokt.bin))
    assert os.path.isfile(os.path.join(prefix, "share", "man", "man1", "lokt.1"))
    assert os.path.isfile(os.path.join(prefix, "share", "bash-completion", "completions", "lokt"))
    assert os.path.isfile(os.path.join(prefix, "share", "zsh", "vendor-completions", "_lokt"))
    assert os.path.isfile(os.path.join(prefix, "share", "fish", "vendor_completions.d", "lokt.fish"))
    for doc in ("README.md", "guard.md", "shim.md", "design.md"):
        assert os.path.isfile(os.path.join(prefix, "share", "doc", "lokt", doc)), doc
    assert os.path.isfile(os.path.join(prefix, "lib", "lokt", "liblokt_preload.so"))


def test_every_command_has_help_with_a_usage_line(lokt):
    for cmd in ["guard", "lock", "unlock", "status", "exists", "freeze", "unfreeze", "audit",
                "why", "doctor", "shim", "rules", "prime", "version", "help"]:
        r = lokt.run(cmd, "--help")
        assert r.returncode == 0, cmd
        assert r.stdout.startswith("usage: lokt " + cmd), cmd
