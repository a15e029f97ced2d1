#!/usr/bin/env bash
# Checks that the release binary is reproducible: builds the `static` preset a
# second time from a copy of the source tree at another path, into a build
# directory at yet another path, without ccache (so nothing is reused from the
# first build), and compares the binary byte for byte with build/static/iocsweep
# (scripts/release.sh builds that one), and the .deb made from each. Exits 1
# and names the first difference when they differ.
# Usage: scripts/check-reproducible.sh   (after scripts/release.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

reference=build/static/iocsweep
[[ -x $reference ]] || { echo "check-reproducible: $reference missing: run scripts/release.sh first" >&2; exit 2; }
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
fi
export SOURCE_DATE_EPOCH
export CCACHE_DISABLE=1
unset CMAKE_CXX_COMPILER_LAUNCHER CMAKE_C_COMPILER_LAUNCHER

work=$(mktemp -d /tmp/iocsweep-repro.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The working tree as it is (tracked files and new ones not ignored), so an
# uncommitted change is in both builds.
mkdir "$work/other-source"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do if [[ -e $f ]]; then printf '%s\0' "$f"; fi; done |
  tar --null -T - -cf - | tar -C "$work/other-source" -xf -

debarch=$(dpkg --print-architecture)
echo "=== reproducibility: second static build in $work ===" >&2
cmake -S "$work/other-source" --preset static -B "$work/other-build" -DIOCSWEEP_DEB_ARCH="$debarch" \
  -DCMAKE_CXX_COMPILER_LAUNCHER= -DCMAKE_C_COMPILER_LAUNCHER= >/dev/null
cmake --build "$work/other-build"

failed=0
if cmp "$reference" "$work/other-build/iocsweep"; then
  echo "check-reproducible: OK, the two binaries are byte-identical ($(sha256sum <"$reference" | cut -d' ' -f1))" >&2
else
  echo "check-reproducible: FAIL, $reference differs from a rebuild of the same source elsewhere" >&2
  if command -v diffoscope >/dev/null; then diffoscope "$reference" "$work/other-build/iocsweep" | head -50 >&2 || true; fi
  failed=1
fi
# The package too, when release.sh made one for this architecture.
deb=$(find dist -maxdepth 1 -name "iocsweep_*_${debarch}.deb" -print -quit 2>/dev/null || true)
if [[ -n $deb ]]; then
  (cd "$work/other-build" && cpack -G DEB -B "$work/cpack" >/dev/null)
  if cmp "$deb" "$work/cpack/$(basename "$deb")"; then
    echo "check-reproducible: OK, $deb is byte-identical to the rebuild's" >&2
  else
    echo "check-reproducible: FAIL, $deb differs from the rebuild's package" >&2
    failed=1
  fi
fi
exit "$failed"
