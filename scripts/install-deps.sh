#!/usr/bin/env bash
# Installs what lokt needs to build and test on Debian 12, only when something is missing.
# Run as root (CI and fresh machines); as a normal user it prints the apt-get line instead.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git make
  libseccomp-dev libspdlog-dev nlohmann-json3-dev catch2
  python3 python3-pytest procps util-linux jq
  bash zsh fish   # the completion scripts are tested in each shell
  libcurl4-openssl-dev etcd-server etcd-client openssl   # the etcd backend and its loopback tests (openssl: TLS test certificates)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: not root; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends "${missing[@]}"
