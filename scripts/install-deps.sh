#!/usr/bin/env bash
# Installs the Debian 12 packages iocsweep needs to build and test, only
# those that are missing. Runs as root, or through sudo when not root.
# Usage: scripts/install-deps.sh [--test] [--cross arm64]
#   --test         also the sanitizer runtimes, the fuzzing toolchain and
#                  the tools the disk-image tests build their images with,
#                  and ansible-core and OpenSSH for the fleet test
#   --cross arm64  also the aarch64 cross toolchain, qemu-user and the
#                  :arm64 -dev packages the static-aarch64 preset links
#                  (enables the arm64 architecture in dpkg if it is not)
set -euo pipefail

test=0
cross=""
while (($# > 0)); do
  case "$1" in
    --test) test=1 ;;
    --cross)
      if (($# < 2)); then
        echo "$0: --cross needs an architecture (arm64)" >&2
        exit 2
      fi
      cross="$2"
      shift
      ;;
    *)
      echo "usage: $0 [--test] [--cross arm64]" >&2
      exit 2
      ;;
  esac
  shift
done
if [[ -n "$cross" && "$cross" != "arm64" ]]; then
  echo "$0: only --cross arm64 is supported" >&2
  exit 2
fi

# The libraries the static link takes (CMakeLists.txt, iocsweep_deps): each
# direct dependency's .a and what its pkg-config --static list names. The
# -dev packages of the direct dependencies do not all pull these in (Debian's
# libarchive-dev needs only libarchive13), so they are named here.
static_libs=(
  libyara-dev libssl-dev libre2-dev libarchive-dev libsqlite3-dev
  libmagic-dev libjansson-dev libxml2-dev libicu-dev nettle-dev libacl1-dev
  liblzma-dev libzstd-dev liblz4-dev libbz2-dev zlib1g-dev
  libtsk-dev libewf-dev libafflib-dev libvhdi-dev libvmdk-dev libexpat1-dev
)
# Of those, the ones Debian does not mark Multi-Arch: same: installing the
# :arm64 package removes the amd64 one (and sleuthkit and ewf-tools with
# it). For the cross build their arm64 .a and .pc files are taken from the
# downloaded packages instead and put under /usr/local (arm64_extras below);
# their headers are the same for both architectures.
single_arch_libs=(libtsk-dev libewf-dev)
arm64_extras=/usr/local/lib/aarch64-linux-gnu
packages=(
  cmake ninja-build g++ pkg-config
  nlohmann-json3-dev libcli11-dev "${static_libs[@]}"
  libgtest-dev python3 python3-jsonschema python3-yaml
  git  # scripts/release.sh dates a release by its commit (SOURCE_DATE_EPOCH)
)
if ((test)); then
  # Sanitizer runtimes and the fuzzing toolchain for the full test suite.
  packages+=(clang libclang-rt-14-dev)
  # The tools the disk-image tests build their images with (never
  # mounted), and sleuthkit's fls/istat/icat for looking into the image of
  # a failing test by hand.
  packages+=(ntfs-3g wimtools mtools dosfstools exfatprogs e2fsprogs ewf-tools fdisk genisoimage cryptsetup-bin sleuthkit)
  # The collector the remote syslog test starts itself (imtcp, the gtls
  # driver) and the openssl command it makes its certificates with; the
  # system's own rsyslog service is not used.
  packages+=(rsyslog rsyslog-gnutls openssl)
  # The signed-pack tests make their keys and signatures with the real
  # minisign (tests/pack_fixture.hpp).
  packages+=(minisign)
  # The fleet test (tests/fleet_ansible_test.py): ansible-playbook, and an
  # sshd it starts on 127.0.0.1 for the host reached over SSH.
  packages+=(ansible-core openssh-server openssh-client)
  # Headless Chromium renders the page `iocsweep report html` writes
  # (tests/report_cli_test.cpp; about 140 MB to download, 480 MB installed).
  packages+=(chromium)
fi
if [[ "$cross" == "arm64" ]]; then
  # The same static libraries in their arm64 builds. The header-only ones
  # (nlohmann-json3-dev, libcli11-dev) are architecture-independent: the
  # host's copy serves the cross build.
  packages+=(crossbuild-essential-arm64 qemu-user-static)
  for p in "${static_libs[@]}"; do
    if [[ " ${single_arch_libs[*]} " == *" $p "* ]]; then continue; fi
    packages+=("$p:arm64")
  done
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
if [[ "$cross" == "arm64" ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  "${sudo[@]}" dpkg --add-architecture arm64
fi

# The arm64 static libraries of single_arch_libs, unpacked from their
# Debian packages (apt-get download: no dependencies resolved, nothing
# installed) into arm64_extras, their .pc files pointed at it.
install_arm64_extras() {
  local work p deb pc
  work=$(mktemp -d)
  "${sudo[@]}" mkdir -p "$arm64_extras/pkgconfig"
  for p in "${single_arch_libs[@]}"; do
    if [[ -e "$arm64_extras/.$p" ]]; then continue; fi
    # The package lists may be older than the archive: refreshed once on failure.
    (cd "$work" && apt-get download -q "$p:arm64") ||
      { "${sudo[@]}" apt-get update -q && (cd "$work" && apt-get download -q "$p:arm64"); }
    deb=$(ls "$work"/"${p}"_*_arm64.deb)
    dpkg-deb -x "$deb" "$work/$p"
    "${sudo[@]}" cp "$work/$p"/usr/lib/aarch64-linux-gnu/*.a "$arm64_extras/"
    # What each archive came from, for the SBOM (scripts/sbom.py read_origin).
    local fields src src_version lib
    # One field at a time: a field the package lacks prints nothing.
    local -a f=()
    for fields in Package Version Architecture Source Homepage; do f+=("$(dpkg-deb -f "$deb" "$fields")"); done
    src=${f[3]:-${f[0]}}
    src_version=${f[1]}
    if [[ $src =~ ^([^ ]+)\ \((.+)\)$ ]]; then src=${BASH_REMATCH[1]} src_version=${BASH_REMATCH[2]}; fi
    for lib in "$work/$p"/usr/lib/aarch64-linux-gnu/*.a; do
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${f[0]}" "${f[1]}" "${f[2]}" "$src" "$src_version" "${f[4]:-}" |
        "${sudo[@]}" tee "$arm64_extras/$(basename "$lib").origin" >/dev/null
    done
    for pc in "$work/$p"/usr/lib/aarch64-linux-gnu/pkgconfig/*.pc; do
      sed "s|^libdir=.*|libdir=$arm64_extras|" "$pc" | "${sudo[@]}" tee "$arm64_extras/pkgconfig/$(basename "$pc")" >/dev/null
    done
    "${sudo[@]}" touch "$arm64_extras/.$p"
  done
  rm -rf "$work"
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]} > 0)); then
  echo "Installing: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [[ "$cross" == "arm64" ]]; then install_arm64_extras; fi
