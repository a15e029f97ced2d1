#!/usr/bin/env bash
# Runs the integration tests (the dev preset's test executables that start
# the iocsweep binary) against another build of the same source: the static
# binary, or a cross-built one under an emulator.
# Usage: scripts/test-build.sh BINARY [EMULATOR]
#   scripts/test-build.sh build/static/iocsweep
#   scripts/test-build.sh build/static-aarch64/iocsweep qemu-aarch64-static
# Needs the dev preset's test executables built (scripts/run-tests.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."

if (($# < 1 || $# > 2)); then
  echo "usage: $0 BINARY [EMULATOR]" >&2
  exit 2
fi
binary=$(realpath "$1")
emulator=""
if (($# == 2)); then
  # An absolute path: the empty-root test copies the emulator into its root.
  emulator=$(command -v "$2") || { echo "$0: no emulator $2" >&2; exit 2; }
fi
tests_dir=build/dev/tests

# Every executable whose tests run the binary, as tests/CMakeLists.txt
# lists them (IOCSWEEP_INTEGRATION_TESTS) for the dev preset's build.
list_file=${tests_dir}/integration-tests.txt
[[ -s $list_file ]] || { echo "$0: no $list_file: configure and build the dev preset first" >&2; exit 2; }
mapfile -t tests <"$list_file"

# The binary's rule cache goes to a directory of this run, not ~/.cache.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export XDG_CACHE_HOME="$scratch" IOCSWEEP_TEST_BINARY="$binary" IOCSWEEP_TEST_EMULATOR="$emulator"

failed=()
for t in "${tests[@]}"; do
  echo "=== ${t} against ${binary}${emulator:+ under ${emulator}} ===" >&2
  start=$SECONDS
  if ! "${tests_dir}/${t}" --gtest_brief=1; then failed+=("$t"); fi
  echo "--- ${t}: $((SECONDS - start)) s" >&2
done
if ((${#failed[@]} > 0)); then
  echo "FAILED against ${binary}: ${failed[*]}" >&2
  exit 1
fi
