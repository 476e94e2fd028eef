"""The installed man page documents every command, every flag each command's --help lists,
and every LOKT_* variable the code reads (issue 10 §7)."""

import os
import re
import subprocess

import pytest

from conftest import LOKT

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_DIRS = ("cli", "core", "proc", "supervisor", "seccomp", "shim", "etcd", "include")


def man_text():
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(LOKT)))
    path = os.path.join(prefix, "share", "man", "man1", "lokt.1")
    with open(path, encoding="utf-8") as f:
        return f.read()


def roff(word):
    """How a word with dashes is written in the man page's source."""
    return word.replace("-", "\\-")


def commands():
    out = subprocess.run([LOKT, "help"], capture_output=True, text=True, check=True).stdout
    listed = out.split("commands:", 1)[1].split("\n\n", 1)[0]
    names = [line.split()[0] for line in listed.strip().splitlines()]
    assert "guard" in names and "shim" in names  # the parse found the table
    return names


def help_flags(command):
    out = subprocess.run([LOKT, command, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"^\s+(?:-[a-zA-Z], )?(--[a-z][a-z-]*)", out, re.M))


def test_every_command_is_in_the_synopsis():
    synopsis = man_text().split(".SH SYNOPSIS", 1)[1].split(".SH ", 1)[0]
    missing = [c for c in commands() if c not in ("help", "version") and f".B lokt {c}" not in synopsis]
    assert not missing, f"commands missing from the man page's SYNOPSIS: {missing}"


@pytest.mark.parametrize("command", ["guard", "lock", "unlock", "status", "exists", "freeze",
                                     "unfreeze", "audit", "why", "doctor", "shim", "rules", "prime"])
def test_every_flag_of_a_command_is_documented(command):
    assert command in commands()
    text = man_text()
    flags = help_flags(command)
    assert flags or command == "version"
    missing = sorted(f for f in flags if roff(f) not in text and f not in ("--help",))
    assert not missing, f"lokt {command}: flags missing from the man page: {missing}"


def test_every_variable_the_code_reads_is_documented():
    read = set()
    for top in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(REPO, top)):
            for name in files:
                if name.endswith((".cpp", ".hpp")):
                    with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                        read |= set(re.findall(r'"(LOKT_[A-Z_]+)"', f.read()))
    read = {v for v in read if not v.startswith("LOKT_TEST_")}  # the test suite's own hooks
    assert "LOKT_ROOT" in read and "LOKT_OWNER" in read  # the scan found the sources
    environment = man_text().split(".SH ENVIRONMENT", 1)[1].split(".SH ", 1)[0]
    missing = sorted(v for v in read if v not in environment)
    assert not missing, f"variables missing from the man page's ENVIRONMENT: {missing}"
