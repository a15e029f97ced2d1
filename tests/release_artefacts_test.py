#!/usr/bin/env python3
"""Checks the release artefacts scripts/release.sh wrote into dist/.

For each architecture's tarball: its members (one top directory, the stripped
static binary, README, docs, the man page and completion when the source tree
has them), owned by root, all stamped SOURCE_DATE_EPOCH. The .deb: package
name, architecture, version and /usr/bin/iocsweep (dpkg-deb -I / -c), the man
page and completion where they exist, the same binary as the tarball's.
SHA256SUMS verifies with sha256sum -c and covers every artefact. The SBOM has
the CycloneDX 1.5 shape and names the Debian package of every archive the
link used, found here independently from the linker's map file.

Usage: release_artefacts_test.py [--dist DIR] [--source-dir DIR]
Prints "FAIL: ..." for each failed check and exits 1 if any failed.
"""

import argparse
import glob
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

FAILURES = []

BUILD_DIR_OF = {"x86_64": "build/static", "aarch64": "build/static-aarch64"}
HOST_ARCH = os.uname().machine


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}")
    return cond


def build_dir(src, arch):
    return os.path.join(src, "build/static" if arch == HOST_ARCH else BUILD_DIR_OF[arch])


def readelf(data, flag):
    """readelf's output for an ELF image held in memory (readelf reads only files)."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        return subprocess.run(["readelf", flag, "-W", f.name], capture_output=True, check=True).stdout


def check_tarball(path, name, src, epoch):
    with tarfile.open(path, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        check(all(n == name or n.startswith(name + "/") for n in members), f"{path}: every member below {name}/")
        for m in members.values():
            check(m.uid == 0 and m.gid == 0 and m.uname in ("", "root") and m.gname in ("", "root"),
                  f"{path}: {m.name} owned by root (numeric)")
            check(m.mtime == epoch, f"{path}: {m.name} stamped SOURCE_DATE_EPOCH {epoch}, not {m.mtime}")
        expected = [f"{name}/iocsweep", f"{name}/README.md"]
        expected += [f"{name}/{os.path.relpath(p, src)}" for p in glob.glob(os.path.join(src, "docs", "**"),
                                                                            recursive=True) if os.path.isfile(p)]
        for licence in ("LICENSE", "LICENSE.md", "LICENSE.txt", "COPYING"):
            if os.path.isfile(os.path.join(src, licence)):
                expected.append(f"{name}/{licence}")
        # Every library linked in brings its licence (its package's copyright file).
        with open(path[: -len(".tar.gz")] + ".cdx.json", encoding="utf-8") as f:
            expected += [f"{name}/licences/{c['name']}" for c in json.load(f)["components"]]
        if os.path.isfile(os.path.join(src, "contrib/bash-completion/iocsweep")):
            expected.append(f"{name}/contrib/bash-completion/iocsweep")
        for e in expected:
            check(e in members and members[e].isfile(), f"{path}: holds {e}")
        binary = tar.extractfile(members[f"{name}/iocsweep"]).read() if f"{name}/iocsweep" in members else b""
        if binary:
            check(members[f"{name}/iocsweep"].mode & 0o111 == 0o111, f"{path}: iocsweep is executable")
            check(binary[:4] == b"\x7fELF", f"{path}: iocsweep is an ELF file")
            sections = readelf(binary, "-S")
            check(b".symtab" not in sections, f"{path}: iocsweep is stripped (no .symtab)")
            segments = readelf(binary, "-l")
            check(b"INTERP" not in segments and b"DYNAMIC" not in segments,
                  f"{path}: iocsweep is static (no interpreter, no dynamic section)")
        return binary


def check_deb(path, version, debarch, src, tar_binary):
    info = subprocess.run(["dpkg-deb", "-I", path], capture_output=True, text=True, check=True).stdout
    fields = dict(re.findall(r"^ (\w[\w-]*): (.*)$", info, re.M))
    check(fields.get("Package") == "iocsweep", f"{path}: Package iocsweep, not {fields.get('Package')}")
    check(fields.get("Architecture") == debarch, f"{path}: Architecture {debarch}, not {fields.get('Architecture')}")
    check(fields.get("Version") == version, f"{path}: Version {version}, not {fields.get('Version')}")
    check("Depends" not in fields, f"{path}: a static binary depends on nothing ({fields.get('Depends')})")
    listing = subprocess.run(["dpkg-deb", "-c", path], capture_output=True, text=True, check=True).stdout
    files = {line.split()[-1]: line for line in listing.splitlines() if line.strip()}
    check("./usr/bin/iocsweep" in files, f"{path}: holds /usr/bin/iocsweep")
    for line in files.values():
        check(line.split()[1] == "root/root", f"{path}: owned by root: {line}")
    if os.path.isfile(os.path.join(src, "docs/iocsweep.1")):
        check("./usr/share/man/man1/iocsweep.1.gz" in files, f"{path}: holds the gzipped man page")
    if os.path.isfile(os.path.join(src, "contrib/bash-completion/iocsweep")):
        check("./usr/share/bash-completion/completions/iocsweep" in files, f"{path}: holds the bash completion")
    if tar_binary:
        deb_binary = subprocess.run(["dpkg-deb", "--fsys-tarfile", path], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(deb_binary)) as t:
            data = t.extractfile("./usr/bin/iocsweep").read()
        check(data == tar_binary, f"{path}: /usr/bin/iocsweep is the tarball's binary")


def map_archives(map_path, bdir):
    """The archives the link took a member from, read from the linker map."""
    text = open(map_path, encoding="utf-8", errors="replace").read()
    section = text.split("Archive member included to satisfy reference by file (symbol)", 1)[1]
    section = re.split(r"^(?:Discarded input sections|Allocating common symbols|Memory Configuration)", section,
                       maxsplit=1, flags=re.M)[0]
    return {os.path.normpath(os.path.join(bdir, a)) for a in re.findall(r"^([^\s(][^(]*\.a)\(", section, re.M)}


def check_sbom(path, version, arch, debarch, bdir, tar_binary):
    bom = json.load(open(path, encoding="utf-8"))
    check(bom.get("bomFormat") == "CycloneDX", f"{path}: bomFormat CycloneDX")
    check(bom.get("specVersion") == "1.5", f"{path}: specVersion 1.5")
    check(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", bom.get("serialNumber", "")) is not None, f"{path}: serialNumber")
    top = bom.get("metadata", {}).get("component", {})
    check(top.get("name") == "iocsweep" and top.get("version") == version, f"{path}: describes iocsweep {version}")
    if tar_binary:
        check({"alg": "SHA-256", "content": hashlib.sha256(tar_binary).hexdigest()} in top.get("hashes", []),
              f"{path}: carries the shipped binary's SHA-256")
    components = bom.get("components", [])
    check(len(components) > 0, f"{path}: has components")
    by_name = {}
    for c in components:
        name = c.get("name", "?")
        check(name not in by_name, f"{path}: {name} is listed once")
        by_name[name] = c
        check(c.get("type") == "library", f"{path}: {name} is a library")
        check(bool(c.get("version")), f"{path}: {name} has a version")
        lic = c.get("licenses", [])
        check(len(lic) > 0 and all(l.get("license", {}).get("name") or l.get("license", {}).get("id") for l in lic),
              f"{path}: {name} has licences (NOASSERTION when unknown)")
        check(re.fullmatch(rf"pkg:deb/debian/{re.escape(name)}@[^?]+\?arch=({debarch}|all)(&.*)?", c.get("purl", ""))
              is not None, f"{path}: {name} has a pkg:deb/debian purl of arch {debarch}: {c.get('purl')}")
        props = {p["name"]: p["value"] for p in c.get("properties", [])}
        if props.get("iocsweep:linkage") == "static":
            dpkg_version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", f"{name}:{debarch}"],
                                          capture_output=True, text=True).stdout or subprocess.run(
                ["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True, text=True).stdout
            check(c.get("version") == dpkg_version, f"{path}: {name} version {c.get('version')} is dpkg's {dpkg_version}")
    # Every archive the link used is named, by its owning package.
    map_path = os.path.join(bdir, "iocsweep.map")
    if check(os.path.isfile(map_path), f"{map_path} exists"):
        archives = map_archives(map_path, bdir)
        check(any("libc.a" in a for a in archives), f"{map_path}: the C library is among the linked archives")
        check(any("libstdc++.a" in a for a in archives), f"{map_path}: libstdc++ is among the linked archives")
        for archive in sorted(archives):
            if archive.startswith(os.path.abspath(bdir) + os.sep):
                continue  # iocsweep's own library
            owner = subprocess.run(["dpkg", "-S", archive], capture_output=True, text=True)
            if owner.returncode != 0:
                owner = subprocess.run(["dpkg", "-S", os.path.realpath(archive)], capture_output=True, text=True)
            if owner.returncode != 0 and os.path.isfile(archive + ".origin"):
                # Unpacked from a package that cannot be installed beside the
                # host's (scripts/install-deps.sh): its control fields.
                with open(archive + ".origin", encoding="utf-8") as f:
                    pkg = f.read().split("\t")[0]
                check(pkg in by_name, f"{path}: names {pkg}, which provided {archive} (unpacked)")
                continue
            if not check(owner.returncode == 0, f"{archive} is owned by a Debian package"):
                continue
            pkg = owner.stdout.split(":")[0].split(",")[0]
            check(pkg in by_name, f"{path}: names {pkg}, which provided {archive}")


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--source-dir", default=os.path.dirname(here))
    ap.add_argument("--dist", default=None)
    args = ap.parse_args()
    src = os.path.abspath(args.source_dir)
    dist = args.dist or os.path.join(src, "dist")
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or subprocess.run(
        ["git", "-C", src, "log", "-1", "--format=%ct"], capture_output=True, text=True, check=True).stdout)

    tarballs = sorted(glob.glob(os.path.join(dist, "iocsweep-*-linux-*.tar.gz")))
    check(len(tarballs) > 0, f"{dist}: holds a tarball")
    check(any(t.endswith(f"-linux-{HOST_ARCH}.tar.gz") for t in tarballs), f"{dist}: holds the host's tarball")
    for t in tarballs:
        m = re.fullmatch(r"iocsweep-(.+)-linux-(x86_64|aarch64)\.tar\.gz", os.path.basename(t))
        if not check(m is not None, f"{t}: named iocsweep-VERSION-linux-ARCH.tar.gz"):
            continue
        version, arch = m.group(1), m.group(2)
        debarch = {"x86_64": "amd64", "aarch64": "arm64"}[arch]
        name = f"iocsweep-{version}-linux-{arch}"
        binary = check_tarball(t, name, src, epoch)
        deb = os.path.join(dist, f"iocsweep_{version}_{debarch}.deb")
        if check(os.path.isfile(deb), f"{deb} exists"):
            check_deb(deb, version, debarch, src, binary)
        sbom = os.path.join(dist, f"{name}.cdx.json")
        if check(os.path.isfile(sbom), f"{sbom} exists"):
            check_sbom(sbom, version, arch, debarch, build_dir(src, arch), binary)

    sums = os.path.join(dist, "SHA256SUMS")
    if check(os.path.isfile(sums), f"{sums} exists"):
        listed = {line.split(None, 1)[1].strip().lstrip("*") for line in open(sums, encoding="utf-8") if line.strip()}
        present = {f for f in os.listdir(dist) if f != "SHA256SUMS" and os.path.isfile(os.path.join(dist, f))}
        check(listed == present, f"{sums} lists exactly the artefacts ({sorted(listed ^ present)} differ)")
        r = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=dist, capture_output=True, text=True)
        check(r.returncode == 0, f"sha256sum -c SHA256SUMS: {r.stdout.strip()} {r.stderr.strip()}")

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        sys.exit(1)
    print("release artefacts: all checks passed")


if __name__ == "__main__":
    main()
