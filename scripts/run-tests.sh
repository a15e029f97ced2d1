#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then builds
# and tests the dev preset (warnings as errors), then the same suite under
# AddressSanitizer + UBSan and under ThreadSanitizer, then builds the
# libFuzzer targets (clang, ASan + UBSan) and fuzzes each parser briefly,
# then makes the release artefacts and checks them and that a second build of
# the static binary elsewhere is byte-identical.
# Usage: scripts/run-tests.sh [--quick]   (--quick: dev preset only)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test

presets=(dev asan-ubsan tsan)
if [[ "${1:-}" == "--quick" ]]; then presets=(dev); fi

for preset in "${presets[@]}"; do
  echo "=== ${preset}: configure, build, test ===" >&2
  cmake --preset "$preset"
  cmake --build --preset "$preset"
  ctest --preset "$preset"
done

if [[ "${1:-}" != "--quick" ]]; then
  # The fuzzers only: the rest of the suite already ran under ASan + UBSan.
  fuzzers=(fuzz_hash_iocs fuzz_filename_iocs fuzz_stix fuzz_misp fuzz_rules fuzz_baseline fuzz_archive fuzz_archive_recognition)
  echo "=== fuzz: corpus replay and a short run of each target ===" >&2
  cmake --preset fuzz
  cmake --build --preset fuzz --target "${fuzzers[@]}"
  ctest --preset fuzz -R '^fuzz_(hash_iocs|filename_iocs|stix|misp|rules|baseline|archive|archive_recognition)_'
fi

if [[ "${1:-}" != "--quick" ]]; then
  # Two static builds from scratch (about 5 minutes each on 2 cores): the
  # release's and the independent one the reproducibility check compares it with.
  echo "=== release: artefacts, their checks, a reproducible rebuild ===" >&2
  scripts/release.sh
  python3 tests/release_artefacts_test.py
  scripts/check-reproducible.sh
fi
