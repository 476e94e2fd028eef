"""Build options: -DLOKT_TESTS=OFF configures without Catch2 (or pytest) and still installs
lokt, its preload library, the man page and the docs; with the tests on, Catch2 is required."""
import os
import re
import shutil
import subprocess

import pytest

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

pytestmark = pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ninja") is None,
                                reason="needs cmake and ninja")


def configure(build, *options):
    return subprocess.run(["cmake", "-S", SRC, "-B", str(build), "-G", "Ninja", *options],
                          capture_output=True, text=True, timeout=300)


def installed_files(build):
    """Every file the install step would copy, from the generated install scripts."""
    names = []
    for dirpath, _, files in os.walk(build):
        if "cmake_install.cmake" in files:
            with open(os.path.join(dirpath, "cmake_install.cmake")) as f:
                text = f.read()
            names += re.findall(r'file\(INSTALL DESTINATION "([^"]+)" TYPE \w+[^)]*?FILES\s+([^)]*)\)', text, re.S)
    return [(dest, os.path.basename(f.strip('"'))) for dest, fs in names for f in fs.split()]


def test_tests_off_configures_and_installs_without_catch2(tmp_path):
    build = tmp_path / "build-notests"
    # CMAKE_DISABLE_FIND_PACKAGE_Catch2: as on a machine without Catch2 installed.
    r = configure(build, "-DLOKT_TESTS=OFF", "-DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON")
    assert r.returncode == 0, r.stdout + r.stderr
    targets = subprocess.run(["cmake", "--build", str(build), "--target", "help"], capture_output=True,
                             text=True, timeout=60).stdout
    assert re.search(r"^lokt: ", targets, re.M) and re.search(r"^lokt_preload: ", targets, re.M)
    assert "lokt_tests" not in targets and "lokt_shim_tests" not in targets
    listed = subprocess.run(["ctest", "--test-dir", str(build), "-N"], capture_output=True, text=True,
                            timeout=60).stdout
    assert "Total Tests: 0" in listed
    files = {name for _, name in installed_files(build)}
    assert {"lokt.1", "README.md", "shim.md", "lokt.bash"} <= files, files
    script = (build / "cli" / "cmake_install.cmake").read_text()
    assert "bin" in script and "/lokt" in script


def test_tests_on_require_catch2(tmp_path):
    r = configure(tmp_path / "build-tests", "-DLOKT_TESTS=ON", "-DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON")
    assert r.returncode != 0
    assert "Catch2" in r.stderr
