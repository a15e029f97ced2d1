#!/usr/bin/python3
"""Runs `iocsweep scan --format sarif` on trees made here and checks the logs:
against the SARIF 2.1.0 JSON schema vendored in tests/schemas/ (see the
README there), and for what a schema cannot say: ruleIndex names the rule of
ruleId, artifact URIs are relative references that resolve, from their
uriBaseId, to the very file (bytes of odd names included), and the digests
are those of the file.

Usage: validate_sarif.py IOCSWEEP SARIF_SCHEMA"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse

import jsonschema

from sweep_samples import synth_pe

# RFC 3986 relative-ref with a path only (no scheme, authority, query or
# fragment): segments of pchar, and a first segment without ':'.
PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
RELATIVE_PATH = re.compile(rf"^(?:[A-Za-z0-9\-._~!$&'()*+,;=@]|%[0-9A-Fa-f]{{2}})+(?:/{PCHAR}*)*$")
FILE_URI = re.compile(rf"^file:///(?:{PCHAR}*/)*$")


ENGINE = synth_pe(b"\0" + bytes.fromhex("4E381FA77F08CCAA0D56EDEFF9ED08EF") + b"\0PI (found, patched)\0")


class Checker:
    def __init__(self, schema):
        self.schema = schema
        # The schema names its own draft; the brief for this test asked for
        # Draft 7 as well. Both must accept every log.
        self.validators = [jsonschema.validators.validator_for(schema)(schema), jsonschema.Draft7Validator(schema)]
        self.failures = []

    def fail(self, what):
        self.failures.append(what)

    def check(self, log, label, cwd):
        for validator in self.validators:
            for error in validator.iter_errors(log):
                self.fail(f"{label}: schema ({validator.__class__.__name__}): {error.message} at "
                          f"{'/'.join(str(p) for p in error.absolute_path)}")
        if len(log.get("runs", [])) != 1:
            self.fail(f"{label}: expected one run")
            return []
        run = log["runs"][0]
        rules = run["tool"]["driver"].get("rules", [])
        ids = [r["id"] for r in rules]
        if len(set(ids)) != len(ids):
            self.fail(f"{label}: duplicate rule ids {ids}")
        bases = run.get("originalUriBaseIds", {})
        for name, base in bases.items():
            if not FILE_URI.match(base["uri"]):
                self.fail(f"{label}: originalUriBaseIds.{name} is not an absolute file URI of a directory: {base['uri']}")
        artifacts = run.get("artifacts", [])
        resolved = []
        for i, result in enumerate(run.get("results", [])):
            where = f"{label}: results[{i}]"
            index = result.get("ruleIndex")
            if index is None or not 0 <= index < len(rules) or rules[index]["id"] != result["ruleId"]:
                self.fail(f"{where}: ruleIndex {index} does not name rule {result.get('ruleId')}")
            if not result.get("fingerprints") or not result.get("partialFingerprints"):
                self.fail(f"{where}: no fingerprints")
            loc = result["locations"][0]["physicalLocation"]["artifactLocation"]
            path = self.resolve(loc, bases, where, cwd)
            art_index = loc.get("index")
            if art_index is None or not 0 <= art_index < len(artifacts):
                self.fail(f"{where}: artifactLocation.index {art_index} out of range")
                continue
            artifact = artifacts[art_index]
            if {k: artifact["location"].get(k) for k in ("uri", "uriBaseId")} != \
                    {k: loc.get(k) for k in ("uri", "uriBaseId")}:
                self.fail(f"{where}: artifact {art_index} is another file")
            if path is not None and "hashes" in artifact and os.path.isfile(path):
                with open(path, "rb") as f:
                    data = f.read()
                if artifact["hashes"].get("sha-256") != hashlib.sha256(data).hexdigest():
                    self.fail(f"{where}: sha-256 of {path!r} differs")
                if artifact["hashes"].get("md5") != hashlib.md5(data).hexdigest():
                    self.fail(f"{where}: md5 of {path!r} differs")
            resolved.append((result["ruleId"], path))
        for i, note in enumerate(run["invocations"][0].get("toolExecutionNotifications", [])):
            for loc in note.get("locations", []):
                self.resolve(loc["physicalLocation"]["artifactLocation"], bases, f"{label}: notification {i}", cwd,
                             must_exist=False)
        return resolved

    def resolve(self, loc, bases, where, cwd, must_exist=True):
        uri = loc["uri"]
        if "uriBaseId" not in loc:
            self.fail(f"{where}: uri {uri} has no uriBaseId")
            return None
        if not RELATIVE_PATH.match(uri):
            self.fail(f"{where}: uri {uri!r} is not a relative URI reference")
            return None
        base = bases.get(loc["uriBaseId"])
        if base is None:
            self.fail(f"{where}: uriBaseId {loc['uriBaseId']} not in originalUriBaseIds")
            return None
        full = urllib.parse.urljoin(base["uri"], uri)
        path = urllib.parse.unquote_to_bytes(urllib.parse.urlsplit(full).path)
        if must_exist and not os.path.isfile(path):
            self.fail(f"{where}: {uri} from {base['uri']} resolves to {path!r}, not a file")
        return path


def run_sarif(binary, args, cwd):
    argv = [os.fsencode(a) for a in [binary, "scan", "--format", "sarif"] + args]
    proc = subprocess.run(argv, capture_output=True, check=False, cwd=cwd)
    if proc.returncode not in (0, 1, 3):
        raise SystemExit(f"iocsweep {args} exited {proc.returncode}: {proc.stderr.decode()}")
    return json.loads(proc.stdout.decode("utf-8")), proc.returncode  # strict UTF-8


def main() -> int:
    binary, schema_path = os.path.abspath(sys.argv[1]), sys.argv[2]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.validators.validator_for(schema).check_schema(schema)
    checker = Checker(schema)
    with tempfile.TemporaryDirectory() as top, tempfile.TemporaryDirectory() as cfg:
        tree = os.path.join(top, "tree")
        odd = os.path.join(tree.encode(), b"odd dir %#?", b"na\xffme;[1].exe")
        os.makedirs(os.path.dirname(odd))
        os.makedirs(os.path.join(tree, "nested", "deeper"))
        files = {
            odd: ENGINE,
            os.path.join(tree, "nested", "deeper", "engine copy.bin").encode(): ENGINE,
            os.path.join(tree, "evtdiag.exe").encode(): b"big " * 2000,  # name indicator, not read
            os.path.join(tree, "weak.txt").encode(): b"WEAKNEEDLE",
            os.path.join(tree, "clean.txt").encode(): b"nothing here",
        }
        for path, data in files.items():
            with open(path, "wb") as f:
                f.write(data)
        rules = os.path.join(cfg, "weak.yar")
        with open(rules, "w", encoding="utf-8") as f:
            f.write('rule weak { meta: score = 45 description = "weak \\"needle\\"" reference = "https://example.org/w" '
                    'strings: $a = "WEAKNEEDLE" condition: $a }\n')
        ioc = os.path.join(cfg, "iocs.txt")
        with open(ioc, "w", encoding="utf-8") as f:
            f.write(hashlib.sha256(ENGINE).hexdigest() + ";70;engine hash\n")
        common = ["--no-rule-cache", "--rules", rules, "--iocs", ioc, "--max-filesize", "4K"]
        cases = [
            ("absolute root and a missing one", common + [tree, os.path.join(tree, "missing")], top, 1),
            ("relative root '.'", common + ["."], tree, 1),
            ("relative root with ..", common + ["../../nested"], os.path.join(tree, "nested", "deeper"), 1),
            ("a file as root", common + [os.path.join("nested", "deeper", "engine copy.bin")], tree, 1),
            ("two roots", common + [os.path.join(tree, "nested"), os.path.dirname(odd)], top, 1),
            ("clean", ["--no-builtin", os.path.join(tree, "nested")], top, 0),
        ]
        for label, args, cwd, expected_rc in cases:
            log, rc = run_sarif(binary, args, cwd)
            if rc != expected_rc:
                checker.fail(f"{label}: exit code {rc}, expected {expected_rc}")
            resolved = checker.check(log, label, cwd)
            if label == "absolute root and a missing one":
                got = {(rule, path) for rule, path in resolved}
                for want in [("IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine", odd),
                             ("weak", os.path.join(tree, "weak.txt").encode())]:
                    if want not in got:
                        checker.fail(f"{label}: no result {want}; got {sorted(got)}")
                if not any(p == os.path.join(tree, "evtdiag.exe").encode() for _, p in resolved):
                    checker.fail(f"{label}: the name-only match is missing")
                inv = log["runs"][0]["invocations"][0]
                if inv["executionSuccessful"] or len(inv["toolExecutionNotifications"]) != 1:
                    checker.fail(f"{label}: the missing root must be a failed notification: {inv}")
            if label == "two roots" and len(log["runs"][0]["originalUriBaseIds"]) != 2:
                checker.fail(f"{label}: expected two base ids")
            if label == "clean" and log["runs"][0]["results"]:
                checker.fail(f"{label}: results in a clean tree")
    for failure in checker.failures:
        print("FAIL:", failure)
    if checker.failures:
        return 1
    print("SARIF logs validate against", schema_path, "and pass the structural checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
