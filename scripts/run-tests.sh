#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then builds
# and tests the dev preset (warnings as errors), then the same suite under
# AddressSanitizer + UBSan and under ThreadSanitizer.
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
