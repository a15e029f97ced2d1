#!/usr/bin/env python3
"""Writes a CycloneDX 1.5 SBOM of a statically linked iocsweep.

The components come from the linker's own map (-Wl,-Map, set by the static
build in CMakeLists.txt): every archive member the link pulled in and every
object file it loaded (the C runtime's crt*.o too). Each such file is mapped to
the Debian package that owns it (dpkg -S), with that package's version
(dpkg-query) and licence (the License: fields of its machine-readable
/usr/share/doc/PKG/copyright; NOASSERTION when that file is not DEP-5). A file
that is neither the build's own nor owned by a package stops the script: no
library can be left out silently. Header-only libraries compiled in (CLI11,
nlohmann-json) come from the compiler's dependency lists (ninja -t deps).

Usage: sbom.py --binary FILE --map FILE --build-dir DIR --source-dir DIR
               --version V --arch ARCH --deb-arch DEBARCH --output FILE
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import uuid

MAP_ARCHIVE_SECTION = "Archive member included to satisfy reference by file (symbol)"
MAP_SECTION_ENDS = ("Discarded input sections", "Allocating common symbols", "Memory Configuration")


def linked_files(map_path, build_dir):
    """The archives that contributed a member and the object files loaded, as absolute paths."""
    archives, objects = set(), set()
    in_archives = False
    with open(map_path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if line == MAP_ARCHIVE_SECTION:
                in_archives = True
                continue
            if line.startswith(MAP_SECTION_ENDS):
                in_archives = False
            if in_archives:
                m = re.match(r"^(\S.*\.a)\(", line)
                if m:
                    archives.add(m.group(1))
            m = re.match(r"^LOAD (\S+\.o)$", line)
            if m:
                objects.add(m.group(1))
    if not archives:
        sys.exit(f"sbom.py: {map_path} names no archive member: not a static link map")

    def absolute(p):
        return os.path.normpath(os.path.join(build_dir, p))

    return sorted(absolute(p) for p in archives), sorted(absolute(p) for p in objects)


def dpkg_owners(paths, deb_arch):
    """{path: package[:arch]} for every path dpkg knows, asked in one call.

    A file shipped by one package of several architectures (a header of
    libyara-dev:amd64 and libyara-dev:arm64) is the target architecture's."""
    if not paths:
        return {}
    out = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True, check=False).stdout
    owners = {}
    for line in out.splitlines():
        if line.startswith("diversion "):
            continue
        pkgs, _, path = line.partition(": ")
        candidates = pkgs.split(", ")
        preferred = [c for c in candidates if c.endswith(":" + deb_arch)] or [c for c in candidates if ":" not in c]
        owners[path] = (preferred or candidates)[0]
    return owners


def owner_of(path, owners_by_path):
    """The package owning path, also when dpkg knows it by its other (merged-/usr) spelling."""
    for candidate in (path, os.path.realpath(path)):
        if candidate in owners_by_path:
            return owners_by_path[candidate]
    return None


def read_origin(path):
    """What a linked archive that no package owns was made from, from its PATH.origin file: the path of
    the installed file it is a copy of (a copy build-made with objcopy), or the tab-separated control
    fields of the Debian package it was unpacked from without being installed (package, version,
    architecture, source, source version, homepage: scripts/install-deps.sh writes them). None without one."""
    try:
        with open(path + ".origin", encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def package_info(pkg):
    fmt = "${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\t${Homepage}"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt, pkg], capture_output=True, text=True, check=True).stdout
    name, version, arch, src, src_version, homepage = out.split("\t")
    return {"name": name, "version": version, "arch": arch, "source": src, "source_version": src_version,
            "homepage": homepage}


def licences(pkg_name):
    """The distinct License: short names of a DEP-5 copyright file, or None when it is not one."""
    path = f"/usr/share/doc/{pkg_name}/copyright"
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    if not re.match(r"^Format:\s*\S*copyright-format", text):
        return None
    names = []
    for paragraph in re.split(r"\n\s*\n", text):
        if not re.search(r"^Files:", paragraph, re.M):
            continue
        m = re.search(r"^License:[ \t]*(.+)$", paragraph, re.M)
        if m and m.group(1).strip() not in names:
            names.append(m.group(1).strip())
    return names or None


def distro():
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    except OSError:
        return None
    ident = fields.get("ID", "").strip('"')
    ver = fields.get("VERSION_ID", "").strip('"')
    return f"{ident}-{ver}" if ident and ver else None


def purl(info, dist):
    qualifiers = f"arch={info['arch']}"
    if dist:
        qualifiers += f"&distro={dist}"
    return f"pkg:deb/debian/{info['name']}@{info['version']}?{qualifiers}"


def header_files(build_dir):
    """Every system header the compiler read for the build, from ninja's dependency log."""
    out = subprocess.run(["ninja", "-C", build_dir, "-t", "deps"], capture_output=True, text=True,
                         check=True).stdout
    headers = set()
    for line in out.splitlines():
        if line.startswith((" ", "\t")):
            p = line.strip()
            if p.startswith("/usr/"):
                headers.add(os.path.normpath(p))
    return sorted(headers)


def main():
    ap = argparse.ArgumentParser()
    for name in ("binary", "map", "build-dir", "source-dir", "version", "arch", "deb-arch", "output"):
        ap.add_argument("--" + name, required=True)
    args = ap.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    source_dir = os.path.abspath(args.source_dir)

    archives, objects = linked_files(args.map, build_dir)
    headers = header_files(build_dir)
    owners = dpkg_owners(archives + objects + headers, args.deb_arch)

    linked = {}  # package -> files the link used
    unpacked = {}  # package -> package_info() of a package unpacked, not installed
    for path in archives + objects:
        pkg = owner_of(path, owners)
        origin = read_origin(path) if pkg is None else None
        if origin and origin.startswith("/"):
            pkg = owner_of(origin, dpkg_owners([origin], args.deb_arch))
        elif origin:
            fields = origin.split("\t")
            if len(fields) != 6:
                sys.exit(f"sbom.py: {path}.origin does not hold six tab-separated fields")
            name, version, arch, src, src_version, homepage = fields
            pkg = f"{name}:{arch}"
            unpacked[pkg] = {"name": name, "version": version, "arch": arch, "source": src,
                             "source_version": src_version, "homepage": homepage}
        if pkg is None:
            if path.startswith((build_dir + os.sep, source_dir + os.sep)):
                continue  # iocsweep's own code: the BOM's subject, not a component
            sys.exit(f"sbom.py: {path} was linked in but no Debian package owns it")
        linked.setdefault(pkg, []).append(path)
    compiled_in = {}  # package -> headers read, for packages that link nothing
    # A package linked for the target whose headers the host's copy gave
    # (identical for both architectures: install-deps.sh) is one component.
    linked_names = {p.split(":")[0] for p in linked}
    for path in headers:
        pkg = owner_of(path, owners)
        if pkg is not None and pkg not in linked and pkg.split(":")[0] not in linked_names:
            compiled_in.setdefault(pkg, []).append(path)

    dist = distro()
    components = []
    for pkg in sorted(set(linked) | set(compiled_in)):
        info = unpacked[pkg] if pkg in unpacked else package_info(pkg)
        names = licences(info["name"])
        lic = [{"license": {"name": n}} for n in names] if names else [{"license": {"name": "NOASSERTION"}}]
        props = [{"name": "iocsweep:debian-source", "value": f"{info['source']} {info['source_version']}"}]
        if pkg in linked:
            props.append({"name": "iocsweep:linkage", "value": "static"})
            props += [{"name": "iocsweep:linked-file", "value": p} for p in linked[pkg]]
        else:
            props.append({"name": "iocsweep:linkage", "value": "headers"})
            props.append({"name": "iocsweep:header-count", "value": str(len(compiled_in[pkg]))})
        comp = {
            "type": "library",
            "bom-ref": purl(info, dist),
            "name": info["name"],
            "version": info["version"],
            "licenses": lic,
            "purl": purl(info, dist),
            "properties": props,
        }
        if info["homepage"]:
            comp["externalReferences"] = [{"type": "website", "url": info["homepage"]}]
        components.append(comp)

    with open(args.binary, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))

    timestamp = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        # Derived from the binary, so the same build gives the same document.
        "serialNumber": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"iocsweep:{args.arch}:{digest}")),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{"type": "application", "name": "iocsweep scripts/sbom.py"}]},
            "component": {
                "type": "application",
                "bom-ref": "iocsweep",
                "name": "iocsweep",
                "version": args.version,
                # The repository names no licence.
                "licenses": [{"license": {"name": "NOASSERTION"}}],
                "hashes": [{"alg": "SHA-256", "content": digest}],
                "properties": [
                    {"name": "iocsweep:arch", "value": args.arch},
                    {"name": "iocsweep:deb-arch", "value": args.deb_arch},
                    {"name": "iocsweep:linkage", "value": "static"},
                ],
            },
        },
        "components": components,
        "dependencies": [{"ref": "iocsweep", "dependsOn": [c["bom-ref"] for c in components]}]
        + [{"ref": c["bom-ref"], "dependsOn": []} for c in components],
    }
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(bom, f, indent=2, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    main()
