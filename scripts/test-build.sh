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

# Every executable whose tests run the binary: the command line (cli),
# archives (archive_cli), the CI gate (ci_gate), outputs and signals
# (outputs), the scan cache (cache_cli), hostile trees (hostile), throttling
# (throttle_cli), truncated mapped files (race), disk images through The
# Sleuth Kit linked in (disk_image_cli), and the sweep inside an empty root
# that proves a static binary needs nothing else (empty_root), live
# processes read through /proc (process_cli), remote syslog to a real
# rsyslogd (syslog_remote), signature-base checkouts loaded as Loki does
# (loki_compat_cli), signed packs verified by the binary itself (pack_cli),
# and reports read back by report merge / report html (report_cli; its
# Chromium rendering runs only with the dev build).
tests=(cli_test archive_cli_test ci_gate_test outputs_test cache_cli_test hostile_test throttle_cli_test race_test
  disk_image_cli_test empty_root_test process_cli_test syslog_remote_test loki_compat_cli_test pack_cli_test
  report_cli_test)

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
