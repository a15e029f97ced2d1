#!/usr/bin/env bash
# Installs the Debian 12 packages iocsweep needs to build and test, only
# those that are missing. Runs as root, or through sudo when not root.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libyara-dev libssl-dev nlohmann-json3-dev libcli11-dev libre2-dev libarchive-dev
  libsqlite3-dev libgtest-dev python3 python3-jsonschema python3-yaml
  git  # scripts/release.sh dates a release by its commit (SOURCE_DATE_EPOCH)
)
if [[ "${1:-}" == "--test" ]]; then
  # Sanitizer runtimes and the fuzzing toolchain for the full test suite.
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
