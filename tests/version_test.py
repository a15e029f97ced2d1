#!/usr/bin/python3
"""Tests `iocsweep version [--json]` and the report's `tool` object.

version --json must parse and carry every field; the library versions must
be the ones the build machine's headers (pkg-config, dpkg) and, for a
dynamic build, the libraries loaded here (ctypes) report; arch must be the
binary's ELF machine (and this machine's, when not run under an emulator);
kind must follow from the ELF (a PT_INTERP means dynamic); the pack
fingerprint must be the documented manifest hash of the source tree's
rules/*.yar and iocs/*.txt. The JSON, NDJSON and SARIF reports must carry
the same facts.

Usage: version_test.py IOCSWEEP SOURCE_DIR
IOCSWEEP_TEST_EMULATOR (e.g. qemu-aarch64-static) prefixes the binary."""
import ctypes
import glob
import hashlib
import json
import os
import platform
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile

BIN, SRC = sys.argv[1], sys.argv[2]
EMULATOR = shlex.split(os.environ.get("IOCSWEEP_TEST_EMULATOR", ""))
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what)


def run(*args):
    p = subprocess.run(EMULATOR + [BIN, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def elf_facts(path):
    """(e_machine, has PT_INTERP) of a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        data = f.read(1 << 16)
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a 64-bit LE ELF"
    machine = struct.unpack_from("<H", data, 18)[0]
    phoff = struct.unpack_from("<Q", data, 32)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    interp = any(struct.unpack_from("<I", data, phoff + i * phentsize)[0] == 3 for i in range(phnum))
    return machine, interp


def tool_output(cmd, *args):
    p = subprocess.run([cmd, *args], capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


rc, out, err = run("version", "--json")
check(rc == 0, "version --json exits 0, got %d: %s" % (rc, err))
info = json.loads(out)
check(set(info) == {"name", "version", "arch", "kind", "pack_fingerprint", "libraries"},
      "version --json fields: %s" % sorted(info))
check(info["name"] == "iocsweep", "name")
rc, flag_out, _ = run("--version")
check(rc == 0 and flag_out.strip() == info["version"], "--version %r == version --json's %r" % (flag_out, info["version"]))
libs = info["libraries"]
check(set(libs) == {"libyara", "openssl", "re2", "libarchive", "sqlite"}, "libraries: %s" % sorted(libs))
for key, lib in libs.items():
    check(lib.get("compiled") and lib.get("source"), "%s has compiled and source: %s" % (key, lib))
    check(set(lib) <= {"compiled", "runtime", "source"}, "%s fields: %s" % (key, sorted(lib)))
check(libs["re2"]["compiled"] not in ("0.0.0", "unknown"), "re2 names a real version: %s" % libs["re2"])

# What the build machine's headers are: pkg-config's modversions.
if shutil.which("pkg-config"):
    for key, module in (("libyara", "yara"), ("openssl", "libcrypto"), ("libarchive", "libarchive"),
                        ("sqlite", "sqlite3")):
        want = tool_output("pkg-config", "--modversion", module)
        check(want is None or libs[key]["compiled"] == want, "%s compiled %s, pkg-config says %s"
              % (key, libs[key]["compiled"], want))
else:
    print("SKIP: no pkg-config, compiled versions not compared")
if libs["re2"]["source"] == "dpkg libre2-dev":
    want = tool_output("dpkg-query", "-W", "-f=${Version}\n", "libre2-dev")
    check(want is not None and libs["re2"]["compiled"] == want.splitlines()[0], "re2 %s, dpkg says %s"
          % (libs["re2"]["compiled"], want))
else:
    check(libs["re2"]["source"] == "pkg-config re2 modversion", "re2 source: %s" % libs["re2"]["source"])

machine, interp = elf_facts(BIN)
want_arch = {62: "x86_64", 183: "aarch64"}.get(machine)
check(info["arch"] == want_arch, "arch %s, the ELF says %s" % (info["arch"], want_arch))
if not EMULATOR:
    here = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine(), platform.machine())
    check(info["arch"] == here, "arch %s, this machine is %s" % (info["arch"], here))
check(info["kind"] == ("dynamic" if interp else "static"), "kind %s, PT_INTERP %s" % (info["kind"], interp))

# What the libraries loaded here say: the dynamic build loads the same ones.
if info["kind"] == "dynamic" and not EMULATOR:
    crypto = ctypes.CDLL("libcrypto.so.3")
    crypto.OpenSSL_version.restype = ctypes.c_char_p
    asked = {"openssl": crypto.OpenSSL_version(6).decode()}  # OPENSSL_VERSION_STRING
    n = ctypes.CDLL("libarchive.so.13").archive_version_number()
    asked["libarchive"] = "%d.%d.%d" % (n // 1000000, n // 1000 % 1000, n % 1000)
    sqlite = ctypes.CDLL("libsqlite3.so.0")
    sqlite.sqlite3_libversion.restype = ctypes.c_char_p
    asked["sqlite"] = sqlite.sqlite3_libversion().decode()
    for key, want in asked.items():
        check(libs[key].get("runtime") == want, "%s runtime %s, the library says %s" % (key, libs[key].get("runtime"), want))
else:
    for key in ("openssl", "libarchive", "sqlite"):
        check(libs[key].get("runtime") == libs[key]["compiled"], "static %s: runtime is the compiled one" % key)

# The documented fingerprint: LC_ALL=C sha256sum rules/*.yar iocs/*.txt | sha256sum
manifest = ""
for pattern in ("rules/*.yar", "iocs/*.txt"):
    for path in sorted(glob.glob(os.path.join(SRC, pattern)), key=lambda p: os.path.basename(p).encode()):
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        manifest += "%s  %s/%s\n" % (digest, pattern.split("/")[0], os.path.basename(path))
check(info["pack_fingerprint"] == hashlib.sha256(manifest.encode()).hexdigest(), "pack_fingerprint of the source tree")

rc, text, _ = run("version")
lines = text.splitlines()
check(rc == 0 and lines[0] == "iocsweep " + info["version"], "version's first line: %r" % lines[:1])
for name, key in (("libyara", "libyara"), ("OpenSSL", "openssl"), ("RE2", "re2"), ("libarchive", "libarchive"),
                  ("SQLite", "sqlite")):
    check(any(l.startswith("%s %s" % (name, libs[key]["compiled"])) for l in lines), "version names %s" % name)
check("arch " + info["arch"] in lines and "kind " + info["kind"] in lines
      and "pack " + info["pack_fingerprint"] in lines, "version names arch, kind, pack")

# Every report carries the same facts.
with tempfile.TemporaryDirectory() as tree:
    with open(os.path.join(tree, "clean.txt"), "w") as f:
        f.write("nothing here\n")
    rc, out, err = run("scan", "--format", "json", "-q", tree)
    check(rc == 0 and json.loads(out)["tool"] == info, "JSON report tool == version --json (%d %s)" % (rc, err))
    rc, out, _ = run("scan", "--format", "ndjson", "-q", tree)
    check(json.loads(out.splitlines()[0])["tool"] == info, "NDJSON scan_started tool == version --json")
    rc, out, _ = run("scan", "--format", "sarif", "-q", tree)
    driver = json.loads(out)["runs"][0]["tool"]["driver"]
    want = {k: v for k, v in info.items() if k not in ("name", "version")}
    check(driver["version"] == info["version"] and driver.get("properties") == want,
          "SARIF driver properties == version --json without name, version")

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("version --json and the reports' tool objects agree with the build")
