#!/usr/bin/env bash
# The one test command: installs missing dependencies (Debian 12, root), builds, installs
# into build/stage, and runs every test (Catch2 unit tests and integration tests) via ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j"$(nproc)" "$@"
