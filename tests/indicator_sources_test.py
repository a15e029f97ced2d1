#!/usr/bin/python3
"""End-to-end test of the indicator sources of issue 3, on the built binary:
a signature-base-shaped checkout (thousands of generated rules using text and
hex strings, regexes, the pe module and the Loki external variables; iocs/
with hash, filename, falsepositive and other lists, some lines broken), plus
a STIX 2.1 bundle and a MISP event. Usage: indicator_sources_test.py IOCSWEEP SOURCE_DIR"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def matches_of(doc, path):
    for f in doc["findings"]:
        if f["path"] == path:
            return f["matches"]
    return None


def main():
    binary, src = sys.argv[1], sys.argv[2]
    schema = json.load(open(os.path.join(src, "docs", "report.schema.json")))
    with tempfile.TemporaryDirectory() as sb, tempfile.TemporaryDirectory() as tree, \
            tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, XDG_CACHE_HOME=cache)
        # --- a signature-base checkout -------------------------------------
        subprocess.run([sys.executable, os.path.join(src, "bench", "gen_rules.py"), "--rules", "3000",
                        "--files", "120", os.path.join(sb, "yara")], check=True, stdout=subprocess.DEVNULL)
        write(os.path.join(sb, "yara", "zz_broken.yar"), "rule broken_community_rule { condition: $nope }\n")
        write(os.path.join(sb, "yara", "zz_external.yar"),
              'rule planted_by_name { meta: score = 70 condition: filename == "planted_tool.exe" '
              'and filepath contains "/Windows/" and extension == ".exe" }\n')
        hashed = b"a file listed by hash in hash-iocs.txt\n"
        allowed = b"a known-good file whose name also matches an indicator\n"
        write(os.path.join(sb, "iocs", "hash-iocs.txt"),
              "# test hashes\n%s;90;listed by hash\nthis line is broken\n" % hashlib.md5(hashed).hexdigest())
        write(os.path.join(sb, "iocs", "filename-iocs.txt"),
              "# Lazarus-style path\n\\\\Windows\\\\msdtc\\.exe;85\n"
              "# allowed name\nknown_good\\.bin;60\n"
              "# a line without score, as found in real lists\n\\\\Temp\\\\x[0-9]+\\.tmp\n")
        write(os.path.join(sb, "iocs", "falsepositive-hashes.txt"),
              "%s;known good\n" % hashlib.sha256(allowed).hexdigest())
        write(os.path.join(sb, "iocs", "c2-iocs.txt"), "203.0.113.7;90\n")
        # --- the tree ---------------------------------------------------------
        write(os.path.join(tree, "Windows", "msdtc.exe"), b"benign bytes, suspicious place")
        write(os.path.join(tree, "Windows", "planted_tool.exe"), b"matched by its name through externals")
        write(os.path.join(tree, "data", "hashed.dat"), hashed)
        write(os.path.join(tree, "data", "known_good.bin"), allowed)
        write(os.path.join(tree, "Temp", "x12.tmp"), b"matched by a line without score")
        write(os.path.join(tree, "data", "big_msdtc", "Windows", "msdtc.exe"), b"x" * 5000)
        for i in range(50):
            write(os.path.join(tree, "noise", "f%d.txt" % i), "plain text %d\n" % i)

        proc = subprocess.run([binary, "scan", "--no-builtin", "--signature-base", sb, "--max-filesize", "4K",
                               tree], capture_output=True, env=env)
        err = proc.stderr.decode()
        check(proc.returncode == 1, "signature-base sweep exits 1, got %d: %s" % (proc.returncode, err))
        doc = json.loads(proc.stdout.decode("utf-8"))
        jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
        rules = sum(r["rules"] for r in doc["scan"]["rulesets"])
        check(rules >= 3001, "thousands of rules loaded (%d)" % rules)
        check("zz_broken.yar: skipped, it does not compile" in err, "broken rule file skipped with a warning")
        check("hash-iocs.txt: 1 bad line(s) skipped" in err, "bad hash line skipped with a warning")
        check("filename-iocs.txt: " not in err, "scoreless filename line loaded without a warning: " + err)
        check("c2-iocs.txt: ignored" in err, "unsupported list ignored with a warning")

        m = matches_of(doc, os.path.join(tree, "Windows", "msdtc.exe"))
        check(m is not None and any(x["type"] == "filename" and x["score"] == 85 for x in m),
              "path indicator matched with its score")
        m = matches_of(doc, os.path.join(tree, "Temp", "x12.tmp"))
        check(m is not None and any(x["type"] == "filename" and x["score"] == 60 for x in m),
              "path indicator without score matched with the default score 60")
        m = matches_of(doc, os.path.join(tree, "Windows", "planted_tool.exe"))
        check(m is not None and any(x["type"] == "yara" and x["rule"] == "planted_by_name" for x in m),
              "rule using filename/filepath/extension externals matched")
        m = matches_of(doc, os.path.join(tree, "data", "hashed.dat"))
        check(m is not None and any(x["type"] == "hash" and x["algorithm"] == "md5" for x in m),
              "hash indicator matched")
        check(matches_of(doc, os.path.join(tree, "data", "known_good.bin")) is None,
              "allow-listed file is not reported although its name matches")
        check(doc["stats"]["files_allowlisted"] == 1, "allow-listed file counted")
        big = [f for f in doc["findings"] if f["path"].endswith("big_msdtc/Windows/msdtc.exe")]
        check(len(big) == 1 and "sha256" not in big[0], "name match on a file too large to read is still reported")
        check(len(doc["scan"]["allow_sets"]) == 1, "allow-list recorded in the report")
        check(not any(f["path"].startswith(os.path.join(tree, "noise")) for f in doc["findings"]),
              "no findings on plain text from thousands of generated rules")

        # --- STIX 2.1 and MISP -------------------------------------------------
        stix_file = b"reported by a STIX bundle\n"
        bundle = {"type": "bundle", "id": "bundle--1", "objects": [
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--a", "name": "Evil by hash",
             "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
             "pattern": "[file:hashes.'SHA-256' = '%s']" % hashlib.sha256(stix_file).hexdigest()},
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--a", "name": "Old version",
             "pattern_type": "stix", "modified": "2019-01-01T00:00:00Z",
             "pattern": "[file:name = 'payload.bin']"},
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--b", "name": "C2",
             "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z",
             "pattern": "[ipv4-addr:value = '203.0.113.7']"}]}
        misp_file = b"reported by a MISP event\n"
        event = {"Event": {"info": "test event", "uuid": "e1", "Attribute": [
            {"type": "filename|sha1", "uuid": "a1", "to_ids": True,
             "value": "dropper.exe|%s" % hashlib.sha1(misp_file).hexdigest()}]}}
        write(os.path.join(sb, "bundle.json"), json.dumps(bundle))
        write(os.path.join(sb, "event.json"), json.dumps(event))
        write(os.path.join(tree, "stix", "payload.bin"), stix_file)
        write(os.path.join(tree, "misp", "any_name.bin"), misp_file)
        proc = subprocess.run([binary, "scan", "--no-builtin", "--iocs", os.path.join(sb, "bundle.json"),
                               "--iocs", os.path.join(sb, "event.json"), tree], capture_output=True, env=env)
        err = proc.stderr.decode()
        doc = json.loads(proc.stdout.decode("utf-8"))
        jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
        m = matches_of(doc, os.path.join(tree, "stix", "payload.bin"))
        check(m is not None and m[0]["type"] == "hash" and "indicator--a" in m[0]["description"],
              "STIX hash indicator matched and named")
        check("bundle.json: 1 indicator(s) not imported" in err, "unsupported STIX indicator reported: " + err)
        check("bundle.json: 1 older indicator version(s) superseded" in err, "superseded version reported: " + err)
        check(len(m) == 1, "the superseded version's file name is not swept for")
        m = matches_of(doc, os.path.join(tree, "misp", "any_name.bin"))
        check(m is not None and m[0]["type"] == "hash" and m[0]["algorithm"] == "sha1", "MISP sha1 matched")

        # A malformed bundle named on its own is fatal, with file and line.
        write(os.path.join(sb, "bad.json"), '{"type": "bundle", "objects": [\n{"type": "indicator",\n')
        proc = subprocess.run([binary, "scan", "--no-builtin", "--iocs", os.path.join(sb, "bad.json"), tree],
                              capture_output=True, env=env)
        check(proc.returncode == 2 and os.path.join(sb, "bad.json") + ":" in proc.stderr.decode(),
              "malformed JSON is fatal with file:line")
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
