#!/usr/bin/env bash
# Builds the release artefacts into dist/ for the host architecture and, when
# asked with --arch aarch64 or when build/static-aarch64/iocsweep already
# exists, for aarch64 too. Per architecture:
#   iocsweep-VERSION-linux-ARCH.tar.gz   stripped static binary, README, docs, man page, completion
#   iocsweep_VERSION_DEBARCH.deb         CPack DEB: /usr/bin/iocsweep, man page, bash completion
#   iocsweep-VERSION-linux-ARCH.cdx.json CycloneDX 1.5 SBOM of every library linked in (scripts/sbom.py)
# and one SHA256SUMS over them all (`cd dist && sha256sum -c SHA256SUMS`).
# Everything is reproducible: SOURCE_DATE_EPOCH is the commit's time, and the
# archives carry no owner, order or time of the machine that made them
# (scripts/check-reproducible.sh checks the binary).
# Usage: scripts/release.sh [--arch x86_64|aarch64]...
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# One row per architecture: arch name, CMake preset, Debian architecture.
declare -A preset_of=([x86_64]=static [aarch64]=static-aarch64)
declare -A debarch_of=([x86_64]=amd64 [aarch64]=arm64)

host=$(uname -m)
# The host's own architecture is built natively by the `static` preset.
if [[ $host != x86_64 ]]; then unset 'preset_of[x86_64]'; fi
preset_of[$host]=static
arches=("$host")
while (($#)); do
  case "$1" in
    --arch)
      [[ $# -ge 2 ]] || { echo "release.sh: --arch needs a value" >&2; exit 2; }
      arches+=("$2"); shift 2 ;;
    *) echo "release.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
for arch in "${!preset_of[@]}"; do
  if [[ -x "build/${preset_of[$arch]}/iocsweep" ]]; then arches+=("$arch"); fi
done
mapfile -t arches < <(printf '%s\n' "${arches[@]}" | sort -u)
for arch in "${arches[@]}"; do
  [[ -n "${preset_of[$arch]:-}" ]] || { echo "release.sh: no preset for architecture $arch" >&2; exit 2; }
done

# The commit's time stands for "now" everywhere a time would be recorded
# (compiler, CPack, tar, the SBOM), so two builds of one commit agree.
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null) ||
    { echo "release.sh: not a git checkout: set SOURCE_DATE_EPOCH to the release's time" >&2; exit 2; }
fi
export SOURCE_DATE_EPOCH
# Files are created with the same modes whatever the caller's umask.
umask 022

rm -rf dist
mkdir -p dist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

artefacts=()
for arch in "${arches[@]}"; do
  preset=${preset_of[$arch]}
  debarch=${debarch_of[$arch]}
  bdir=build/$preset
  echo "=== release: $arch (preset $preset, Debian $debarch) ===" >&2
  cmake --preset "$preset" -DIOCSWEEP_DEB_ARCH="$debarch" >/dev/null
  cmake --build --preset "$preset"

  version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$bdir/CMakeCache.txt")
  strip_tool=$(sed -n 's/^CMAKE_STRIP:FILEPATH=//p' "$bdir/CMakeCache.txt")
  name=iocsweep-$version-linux-$arch

  # The tarball: one top directory, the stripped binary and its documentation.
  stage=$work/$name
  mkdir -p "$stage"
  "${strip_tool:-strip}" -o "$stage/iocsweep" "$bdir/iocsweep"
  chmod 0755 "$stage/iocsweep"
  cp README.md "$stage/"
  for licence in LICENSE LICENSE.md LICENSE.txt COPYING; do
    if [[ -f $licence ]]; then cp "$licence" "$stage/"; fi
  done
  cp -r docs "$stage/docs"
  if [[ -f contrib/bash-completion/iocsweep ]]; then
    mkdir -p "$stage/contrib/bash-completion"
    cp contrib/bash-completion/iocsweep "$stage/contrib/bash-completion/"
  fi
  # The bill of materials, from the linker's map of this very link; its hash
  # is the shipped (stripped) binary's.
  python3 scripts/sbom.py --binary "$stage/iocsweep" --map "$bdir/iocsweep.map" --build-dir "$bdir" \
    --source-dir "$root" --version "$version" --arch "$arch" --deb-arch "$debarch" \
    --output "dist/$name.cdx.json"
  artefacts+=("$name.cdx.json")

  # A static binary carries the code of every library linked in, so the
  # tarball carries their licences: each package's copyright file, for every
  # component the SBOM names (the licences/ directory).
  mkdir -p "$stage/licences"
  mapfile -t packages < <(python3 -c 'import json, sys
for c in json.load(open(sys.argv[1]))["components"]: print(c["name"])' "dist/$name.cdx.json")
  for pkg in "${packages[@]}"; do
    copyright=/usr/share/doc/$pkg/copyright
    [[ -f $copyright ]] || { echo "release.sh: $pkg has no $copyright" >&2; exit 1; }
    cp "$copyright" "$stage/licences/$pkg"
  done
  tar -C "$work" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    --mode='u+rwX,go=rX' --format=gnu -cf - "$name" | gzip -n -9 >"dist/$name.tar.gz"
  artefacts+=("$name.tar.gz")

  # The Debian package, from the install() rules (cmake/packaging.cmake).
  cpack_dir=$work/cpack-$arch
  (cd "$bdir" && cpack -G DEB -B "$cpack_dir" >/dev/null)
  deb=$(find "$cpack_dir" -maxdepth 1 -name '*.deb' -print -quit)
  [[ -n $deb ]] || { echo "release.sh: cpack made no .deb" >&2; exit 1; }
  mv "$deb" dist/
  artefacts+=("$(basename "$deb")")

done

(cd dist && sha256sum "${artefacts[@]}" >SHA256SUMS)
echo "release: wrote dist/ (${artefacts[*]} SHA256SUMS)" >&2
