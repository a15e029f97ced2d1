#!/usr/bin/python3
"""Runs iocsweep on a tree made here and validates its JSON report against
docs/report.schema.json. Usage: validate_report.py IOCSWEEP SCHEMA"""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import jsonschema

from sweep_samples import fat_image, start_wiped_child, synth_pe, tar_bytes


def write_archives(tree: str, positive: bytes) -> None:
    """Archive members with odd names, an image with a whiteout, a bomb."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("deep/evtdiag.exe", positive)
        z.writestr("zeros.bin", bytes(16 << 20))
    with open(os.path.join(tree, "nested.tar.gz"), "wb") as f:
        f.write(gzip.compress(tar_bytes([("inner.zip", inner.getvalue()), (b"bad\xffname.exe", positive),
                                          ("../up.exe", positive)])))
    layer0 = tar_bytes([("usr/bin/evtdiag.exe", positive)])
    layer1 = tar_bytes([("usr/bin/.wh.evtdiag.exe", b"")])
    d0, d1 = ("sha256:" + hashlib.sha256(x).hexdigest() for x in (layer0, layer1))
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [d0, d1]}}).encode()
    manifest = json.dumps([{"Config": "cfg.json", "RepoTags": ["x/y:1"],
                            "Layers": ["a/layer.tar", "b/layer.tar"]}]).encode()
    with open(os.path.join(tree, "image.tar"), "wb") as f:
        f.write(tar_bytes([("a/layer.tar", layer0), ("b/layer.tar", layer1), ("cfg.json", config),
                           ("manifest.json", manifest)]))


def main() -> int:
    binary, schema_path = sys.argv[1], sys.argv[2]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    with tempfile.TemporaryDirectory() as tree, tempfile.TemporaryDirectory() as cfg:
        key = bytes.fromhex("4E381FA77F08CCAA0D56EDEFF9ED08EF")
        positive = synth_pe(b"\0" + key + b"\0PI (found, patched)\0")
        with open(os.path.join(tree, "evtdiag.exe"), "wb") as f:
            f.write(positive)
        with open(os.path.join(tree.encode(), b"odd\xffname"), "wb") as f:
            f.write(b"x")
        with open(os.path.join(tree, "big"), "wb") as f:
            f.write(b"y" * 5000)
        write_archives(tree, positive)
        time.sleep(0.25)  # files changed in the last 100 ms are not cached
        ioc = os.path.join(cfg, "iocs.txt")
        with open(ioc, "w", encoding="utf-8") as f:
            f.write(hashlib.sha256(positive).hexdigest() + ";80;test\n")
        # (arguments, finding fields and skipped reasons the report must show)
        cases = [
            (["scan", "--iocs", ioc, "--max-filesize", "4K", tree, os.path.join(tree, "missing")], set(), set()),
            (["scan", "--no-builtin", tree], set(), set()),
            # A root that is not UTF-8: roots_hex.
            (["scan", "--no-builtin", os.path.join(tree.encode(), b"odd\xffname")], set(), set()),
            (["scan", tree], {"member", "member_hex", "image"}, {"archive_limit"}),
            (["scan", "--archive-depth", "1", tree], {"member", "member_hex", "image"}, {"archive_depth"}),
            # Twice with a scan cache: the second report has cached findings.
            (["scan", "--iocs", ioc, "--cache", os.path.join(cfg, "scan.db"), "--cache-min-age", "0.1", tree], set(), set()),
            (["scan", "--iocs", ioc, "--cache", os.path.join(cfg, "scan.db"), "--cache-min-age", "0.1", tree], set(), set()),
        ]
        # A disk image, once the binary reads them and the tools to make one are here.
        helptext = subprocess.run([binary, "scan", "--help"], capture_output=True, check=False).stdout.decode()
        image = os.path.join(cfg, "fat.img")
        if "--image" not in helptext:
            print("SKIP (disk image case): this iocsweep has no --image")
        elif not fat_image(image, positive, cfg):
            print("SKIP (disk image case): mkfs.fat / mtools not installed")
        else:
            cases.insert(0, (["scan", "--iocs", ioc, "--image", image], {"disk_image"}, set()))  # the cache runs stay last
        # A live process whose executable was deleted, with a rule that
        # matches in its memory: process fields, a region, an observation.
        child = None
        if "--pid" in helptext:
            child = start_wiped_child(cfg)
        if child is not None:
            mem_rule = os.path.join(cfg, "mem.yar")
            with open(mem_rule, "w", encoding="utf-8") as f:
                f.write('rule in_memory { strings: $a = "GLIBC_" condition: $a }\n')
            cases.insert(0, (["scan", "--no-builtin", "--rules", mem_rule, "--pid", str(child.pid), "--pid", "1"],
                             {"process"}, set()))
        else:
            print("SKIP (process case): this iocsweep has no --pid, or no /bin/sleep")
        try:
            return check_cases(binary, schema, cases)
        finally:
            if child is not None:
                child.kill()
                child.wait()


def check_cases(binary, schema, cases) -> int:
    """Runs each case; 0 when every report validates and shows what it must."""
    for args, want, want_reasons in cases:
        proc = subprocess.run([binary] + args, capture_output=True, check=False)
        if proc.returncode not in (0, 1, 3):
            print(f"iocsweep {args} exited {proc.returncode}: {proc.stderr.decode()}")
            return 1
        doc = json.loads(proc.stdout.decode("utf-8"))  # strict UTF-8
        jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
        roots = [a for a in args if isinstance(a, bytes)]
        if roots and doc["scan"].get("roots_hex") != [r.hex() for r in roots]:
            print(f"iocsweep {args}: scan.roots_hex is {doc['scan'].get('roots_hex')}")
            return 1
        # The archive cases produced what the schema has to cover.
        kinds = {k for f in doc["findings"] for k in ("member", "member_hex", "image", "disk_image", "process")
                 if k in f}
        # What the schema cannot say: a finding in a disk image is named
        # by its disk path, IMAGE#[pN]PATH[:STREAM].
        for f in doc["findings"] + doc["errors"] + doc["skipped"]:
            d = f.get("disk_image")
            if d is None or "path_hex" in f:  # replacement text need not concatenate
                continue
            want_path = (d["path"] + "#" + ("" if d["partition"] is None else f"p{d['partition']}") +
                         d["path_in_filesystem"] + (":" + f["stream"] if "stream" in f else ""))
            if f["path"] != want_path:
                print(f"iocsweep {args}: path {f['path']!r} is not the disk path {want_path!r}")
                return 1
        reasons = {s["reason"] for s in doc["skipped"]}
        if not want <= kinds or not want_reasons <= reasons:
            print(f"iocsweep {args}: expected {want} and {want_reasons}, got {kinds} and {reasons}")
            return 1
    if not any(f.get("cached") for f in doc["findings"]) or doc["stats"]["files_cached"] == 0:
        print("the second run with --cache reported nothing from the cache")
        return 1
    print("report validates against the schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
