#!/usr/bin/env bash
# The one test command: installs missing dependencies (Debian 12, root), builds, installs
# into BUILD/stage, runs the unit binary once as a single process in random order (ctest runs
# each case in a process of its own, which would hide one test disturbing another), then
# every test (Catch2 unit tests and integration tests) via ctest.
#   scripts/test.sh [--sanitize] [ctest args...]
#   --sanitize   an ASan+UBSan build (-DLOKT_SANITIZE=ON) in build-sanitize/
# BUILD is $LOKT_BUILD_DIR, else build/ (build-sanitize/ with --sanitize).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=OFF
if [[ "${1:-}" == --sanitize ]]; then
  sanitize=ON
  shift
fi
if [[ $sanitize == ON ]]; then
  export LOKT_BUILD_DIR="${LOKT_BUILD_DIR:-build-sanitize}"
else
  export LOKT_BUILD_DIR="${LOKT_BUILD_DIR:-build}"
fi
scripts/build.sh -DLOKT_SANITIZE="$sanitize"
cd "$LOKT_BUILD_DIR"
seed=$(( $(date +%s) % 1000000 ))
echo "unit tests as one process, random order (--rng-seed $seed):"
timeout 900 tests/lokt_tests --order rand --rng-seed "$seed"
ctest --output-on-failure --timeout 900 -j"$(nproc)" "$@"
