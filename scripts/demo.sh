#!/usr/bin/env bash
# Shows lokt's main job on a fresh machine: installs what is missing, builds, then plays
# three agents contending for the `build` lock in a throwaway git repository.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
LOKT="$PWD/build/stage/bin/lokt"

repo=$(mktemp -d /tmp/lokt-demo-XXXXXX)
trap 'rm -rf "$repo"' EXIT
cd "$repo"
git init -q . && git -c user.email=demo@lokt -c user.name=demo commit -q --allow-empty -m init
cat > Makefile <<'MK'
build:
	@echo "    [$$LOKT_OWNER] compiling..."; sleep 2; echo "    [$$LOKT_OWNER] build done"
MK

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
as() { local who=$1; shift; LOKT_OWNER=$who "$@"; }

say "agent-1 starts a guarded build (the lock lives in .git/lokt/, shared by worktrees)"
LOKT_OWNER=agent-1 "$LOKT" guard build --ttl 5m -- make -s build &
a1=$!
until "$LOKT" exists build; do sleep 0.05; done

say "agent-2 collides: it is told who holds the lock and gets exit code 2"
set +e
as agent-2 "$LOKT" guard build --ttl 5m -- make -s build
echo "    exit code: $?"
set -e

say "agent-3 waits its turn instead (--wait): it runs as soon as agent-1 is done"
as agent-3 "$LOKT" guard build --ttl 5m --wait --timeout 1m -- make -s build
wait "$a1"

say "agent-2's harness is killed with SIGKILL mid-build: lokt tears the tree down and frees the lock"
LOKT_OWNER=agent-2 "$LOKT" guard build --ttl 5m -- sh -c 'echo "    [agent-2] long build..."; sleep 300' &
a2=$!
until "$LOKT" exists build; do sleep 0.05; done
kill -KILL "$a2"          # the agent's lokt process, as a harness would kill it
wait "$a2" 2>/dev/null || true
until ! "$LOKT" exists build; do sleep 0.05; done
echo "    lock is free again; agent-1 builds:"
as agent-1 "$LOKT" guard build -- make -s build

say "a human freezes builds for 30 minutes; every agent is turned away until unfreeze"
as human "$LOKT" freeze build --ttl 30m
set +e
as agent-3 "$LOKT" guard build -- make -s build
echo "    exit code: $?"
set -e
as human "$LOKT" unfreeze build

say "the audit log tells the story"
"$LOKT" audit --name build --format text
