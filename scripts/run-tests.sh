#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then builds
# and tests the dev preset (warnings as errors), then the same suite under
# AddressSanitizer + UBSan, and its tests that run threads under
# ThreadSanitizer (tests/CMakeLists.txt lists them), then builds the
# libFuzzer targets (clang, ASan + UBSan) and fuzzes each parser briefly,
# then builds the static binaries (x86_64, and aarch64 cross-built) and runs
# the integration tests and the empty-root sweep against each (aarch64 under
# qemu-user), then makes the release artefacts of both, checks them, and
# checks that a second build of the static binary elsewhere is byte-identical.
# Usage: scripts/run-tests.sh [--quick]   (--quick: dev preset only)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--quick" ]]; then
  scripts/install-deps.sh --test
else
  scripts/install-deps.sh --test --cross arm64
fi

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
  # tests/fuzz/CMakeLists.txt lists them once: target `fuzzers`, label `fuzz`.
  echo "=== fuzz: corpus replay and a short run of each target ===" >&2
  cmake --preset fuzz
  cmake --build --preset fuzz --target fuzzers
  ctest --preset fuzz -L '^fuzz$'
fi

if [[ "${1:-}" != "--quick" ]]; then
  # The binaries that ship: the dev preset's integration tests run against
  # each (scripts/test-build.sh), the aarch64 one under qemu-user.
  echo "=== static: build, integration tests against build/static/iocsweep ===" >&2
  cmake --preset static
  cmake --build --preset static
  scripts/test-build.sh build/static/iocsweep
  echo "=== static-aarch64: cross-build, integration tests under qemu-aarch64-static ===" >&2
  cmake --preset static-aarch64
  cmake --build --preset static-aarch64
  scripts/test-build.sh build/static-aarch64/iocsweep qemu-aarch64-static
  # The static builds above are the release's; the reproducibility check
  # makes one more from scratch elsewhere (about 5 minutes on 2 cores).
  echo "=== release: artefacts, their checks, a reproducible rebuild ===" >&2
  scripts/release.sh
  python3 tests/release_artefacts_test.py
  scripts/check-reproducible.sh
fi
