#!/usr/bin/env bash
# Configures and builds lokt into build/, then installs it into build/stage (what the
# integration tests and the demo run). Usage: scripts/build.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."
"$PWD/scripts/install-deps.sh"
build="${LOKT_BUILD_DIR:-build}"
launcher=()
if command -v ccache >/dev/null; then  # optional: speeds up rebuilds, never required
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${LOKT_BUILD_TYPE:-RelWithDebInfo}" \
  "${launcher[@]}" "$@" >/dev/null
cmake --build "$build"
cmake --install "$build" --prefix "$build/stage" >/dev/null
