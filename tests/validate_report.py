#!/usr/bin/python3
"""Runs iocsweep on a tree made here and validates its JSON report against
docs/report.schema.json. Usage: validate_report.py IOCSWEEP SCHEMA"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import jsonschema


def synth_pe(payload: bytes) -> bytes:
    head = bytearray(0x80)
    head[0:2] = b"MZ"
    head[0x3C] = 0x40
    head[0x40:0x44] = b"PE\0\0"
    head[0x44:0x46] = b"\x4c\x01"
    return bytes(head) + payload + bytes(64)


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
        time.sleep(0.25)  # files changed in the last 100 ms are not cached
        ioc = os.path.join(cfg, "iocs.txt")
        with open(ioc, "w", encoding="utf-8") as f:
            f.write(hashlib.sha256(positive).hexdigest() + ";80;test\n")
        cases = [
            ["scan", "--iocs", ioc, "--max-filesize", "4K", tree, os.path.join(tree, "missing")],
            ["scan", "--no-builtin", tree],
            # Twice with a scan cache: the second report has cached findings.
            ["scan", "--iocs", ioc, "--cache", os.path.join(cfg, "scan.db"), tree],
            ["scan", "--iocs", ioc, "--cache", os.path.join(cfg, "scan.db"), tree],
        ]
        for args in cases:
            proc = subprocess.run([binary] + args, capture_output=True, check=False)
            if proc.returncode not in (0, 1, 3):
                print(f"iocsweep {args} exited {proc.returncode}: {proc.stderr.decode()}")
                return 1
            doc = json.loads(proc.stdout.decode("utf-8"))  # strict UTF-8
            jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
        if not any(f.get("cached") for f in doc["findings"]) or doc["stats"]["files_cached"] == 0:
            print("the second run with --cache reported nothing from the cache")
            return 1
        print("report validates against", schema_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
