#!/usr/bin/python3
"""Sweeps two trees made here (a JSON report and an NDJSON stream, and that
stream cut short as a killed sweep leaves it), merges them with `iocsweep
report merge` and validates the merged document against
docs/merged-report.schema.json, whose entries are docs/report.schema.json
reports. Usage: validate_merged_report.py IOCSWEEP MERGED_SCHEMA REPORT_SCHEMA"""
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
from sweep_samples import synth_pe

BIN, MERGED_SCHEMA, REPORT_SCHEMA = sys.argv[1:4]


# Satisfies the built-in SWIFT engine rule (its RC4 key and status line).
ENGINE = synth_pe(b"\0" + bytes.fromhex("4e381fa77f08ccaa0d56edeff9ed08ef") + b"\0PI (found, patched)\0")


def validator():
    with open(MERGED_SCHEMA) as f:
        merged = json.load(f)
    with open(REPORT_SCHEMA) as f:
        report = json.load(f)
    try:
        from referencing import Registry, Resource
        registry = Registry().with_resource(report["$id"], Resource.from_contents(report))
        return jsonschema.Draft202012Validator(merged, registry=registry)
    except ImportError:  # Debian 12's jsonschema 4.10
        resolver = jsonschema.RefResolver.from_schema(merged, store={report["$id"]: report})
        return jsonschema.Draft202012Validator(merged, resolver=resolver)


with tempfile.TemporaryDirectory() as tmp:
    for tree in ("a", "b"):
        os.mkdir(os.path.join(tmp, tree))
        with open(os.path.join(tmp, tree, "evtdiag.exe"), "wb") as f:
            f.write(ENGINE)
    with open(os.path.join(tmp, "a", b"bad\xff.exe".decode("utf-8", "surrogateescape")), "wb") as f:
        f.write(ENGINE)
    a, b, cut = (os.path.join(tmp, n) for n in ("a.json", "b.ndjson", "cut.ndjson"))
    for args in (["-o", a, os.path.join(tmp, "a")], ["--format", "ndjson", "-o", b, os.path.join(tmp, "b")]):
        p = subprocess.run([BIN, "scan", "--quiet", *args], capture_output=True)
        assert p.returncode == 1, p.stderr
    with open(b, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    with open(cut, "wb") as f:  # killed while writing its last line
        f.write(b"".join(lines[:-1]) + lines[-1][:10])
    merged = os.path.join(tmp, "merged.json")
    p = subprocess.run([BIN, "report", "merge", a, b, cut, "-o", merged], capture_output=True)
    assert p.returncode == 0, p.stderr
    with open(merged) as f:
        doc = json.load(f)
    errors = sorted(validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors:
        print("FAIL: %s: %s" % ("/".join(map(str, e.absolute_path)), e.message))
    assert [r["cut_short"] for r in doc["reports"]] == [False, False, True], doc["reports"]
    assert len(doc["reports"][0]["report"]["findings"]) == 2
    assert "path_hex" in doc["reports"][0]["report"]["findings"][0]
    if errors:
        sys.exit(1)
print("merged report of a JSON report, an NDJSON stream and a cut-short stream validates")
