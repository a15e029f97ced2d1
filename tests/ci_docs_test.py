#!/usr/bin/python3
"""Tests the examples of docs/ci.md for real, as far as this machine allows.

The shell blocks (marked <!-- ci-doc-test: shell-gate --> and accept) run
end to end with /bin/sh against a tree built here: clean (exit 0), with a
synthesised positive (exit 1, a SARIF log that validates), after accepting it
in a baseline written by the accept block (exit 0; the baseline validates
against docs/baseline.schema.json), moved (still 0), changed (1), and with a
broken baseline (2). The YAML blocks must parse, and every `iocsweep scan`
command in them may use only options the binary accepts, with values it
accepts; the files they upload must be the ones the commands write.

Usage: ci_docs_test.py IOCSWEEP CI_MD SARIF_SCHEMA BASELINE_SCHEMA"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import yaml

from sweep_samples import synth_pe

MARKER = re.compile(r"<!-- ci-doc-test: ([a-z-]+) -->\n```(\w+)\n(.*?)\n```", re.S)


ENGINE = synth_pe(b"\0" + bytes.fromhex("4E381FA77F08CCAA0D56EDEFF9ED08EF") + b"\0PI (found, patched)\0")

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)
    return ok


def validator(path):
    with open(path, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def run_block(script, env, cwd):
    path = os.path.join(cwd, "block.sh")
    with open(path, "w", encoding="utf-8") as f:
        f.write(script + "\n")
    proc = subprocess.run(["/bin/sh", path], env=env, cwd=cwd, capture_output=True, check=False)
    return proc.returncode, proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


def test_shell_blocks(binary, blocks, sarif_validator, baseline_validator):
    gate, accept = blocks["shell-gate"], blocks["accept"]
    with tempfile.TemporaryDirectory() as top:
        target = os.path.join(top, "dist")
        work = os.path.join(top, "work")
        os.makedirs(os.path.join(target, "opt", "app"))
        os.makedirs(work)
        for name, data in {"opt/app/readme.txt": b"release notes\n", "opt/app/app.bin": b"\x7fELF benign"}.items():
            with open(os.path.join(target, name), "wb") as f:
                f.write(data)
        env = dict(os.environ, IOCSWEEP=binary, TARGET=target, BASELINE=os.path.join(work, "baseline.json"),
                   REPORT=os.path.join(work, "iocsweep.sarif"))

        def gate_run(label, want_rc, want_results):
            if os.path.exists(env["REPORT"]):
                os.remove(env["REPORT"])
            rc, out = run_block(gate, env, work)
            check(rc == want_rc, f"gate {label}: exit {rc}, expected {want_rc}: {out}")
            if not check(os.path.isfile(env["REPORT"]), f"gate {label}: no SARIF log written"):
                return None
            with open(env["REPORT"], encoding="utf-8") as f:
                log = json.load(f)
            errors = list(sarif_validator.iter_errors(log))
            check(not errors, f"gate {label}: SARIF does not validate: {[e.message for e in errors[:3]]}")
            results = log["runs"][0]["results"]
            check(bool(results) == want_results, f"gate {label}: results {len(results)}")
            return log

        gate_run("clean tree", 0, False)
        positive = os.path.join(target, "opt", "app", "helper.bin")
        with open(positive, "wb") as f:
            f.write(ENGINE)
        log = gate_run("with a positive", 1, True)
        if log:
            rule_ids = {r["ruleId"] for r in log["runs"][0]["results"]}
            check("IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine" in rule_ids, f"positive not reported: {rule_ids}")

        rc, out = run_block(accept, env, work)
        check(rc == 0, f"accept block: exit {rc}: {out}")
        if check(os.path.isfile(env["BASELINE"]), "accept block wrote no baseline"):
            with open(env["BASELINE"], encoding="utf-8") as f:
                baseline = json.load(f)
            errors = list(baseline_validator.iter_errors(baseline))
            check(not errors, f"baseline does not validate: {[e.message for e in errors[:3]]}")
        log = gate_run("positive accepted", 0, False)
        if log:
            stats = log["runs"][0]["properties"]["iocsweep"]["stats"]
            check(stats["findings_suppressed"] == 1, f"suppressed count {stats['findings_suppressed']}")

        moved = os.path.join(target, "moved-and-renamed.dat")
        shutil.move(positive, moved)
        gate_run("accepted positive moved", 0, False)
        with open(moved, "ab") as f:
            f.write(b"changed")
        gate_run("accepted positive changed", 1, True)

        with open(env["BASELINE"], "w", encoding="utf-8") as f:
            f.write('{"iocsweep_baseline": 1, "accepted": [{"match": "x", "sha256": "nothex"}]}')
        rc, out = run_block(gate, env, work)
        check(rc == 2 and env["BASELINE"] in out, f"broken baseline: exit {rc}, output {out!r}")


def scan_commands(text):
    """Every `iocsweep scan ...` command in a shell snippet, as argv lists."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" || ")[0].split(" && ")[0]
        if "iocsweep scan" in line:
            argv = shlex.split(line, comments=True)
            commands.append(argv[argv.index("scan") + 1:])
    return commands


def strings_in(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)


def test_yaml_blocks(binary, blocks):
    helptext = subprocess.run([binary, "scan", "--help"], capture_output=True, check=True).stdout.decode()
    known = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", helptext))
    with tempfile.TemporaryDirectory() as work:
        # The report goes beside the scanned tree: never inside it.
        empty = os.path.join(work, "tree")
        os.mkdir(empty)
        for name in ("github-actions", "gitlab-ci"):
            doc = yaml.safe_load(blocks[name])
            check(isinstance(doc, dict), f"{name}: not a YAML mapping")
            commands = [c for s in strings_in(doc) for c in scan_commands(s)]
            check(len(commands) >= 1, f"{name}: no iocsweep scan command")
            outputs = []
            for argv in commands:
                i = 0
                while i < len(argv):
                    arg = argv[i]
                    if arg.startswith("-"):
                        check(arg in known, f"{name}: option {arg} is not in `iocsweep scan --help`")
                        if arg in ("--format", "--fail-on"):
                            # The value must be accepted: run the binary with it.
                            rc = subprocess.run([binary, "scan", "--no-builtin", "-q", arg, argv[i + 1],
                                                 "-o", os.path.join(work, "out"), empty],
                                                capture_output=True, check=False).returncode
                            check(rc == 0, f"{name}: {arg} {argv[i + 1]} refused (exit {rc})")
                        if arg in ("-o", "--output"):
                            outputs.append(argv[i + 1])
                        if arg not in ("-q", "--quiet", "-x", "--one-file-system", "--no-builtin"):
                            i += 1
                    i += 1
            if name == "github-actions":
                steps = doc["jobs"]["iocsweep"]["steps"]
                uploads = [s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@")]
                if check(len(uploads) == 1, f"{name}: no upload-sarif step"):
                    check(uploads[0]["with"]["sarif_file"] in outputs,
                          f"{name}: uploads {uploads[0]['with']['sarif_file']}, the scan writes {outputs}")
                    check(uploads[0].get("if") == "always()", f"{name}: upload must run also when the gate fails")
                check("security-events" in doc.get("permissions", {}), f"{name}: needs security-events permission")
            if name == "gitlab-ci":
                job = doc["iocsweep"]
                check(job["artifacts"]["when"] == "always", f"{name}: artifacts only on success")
                for out in outputs:
                    check(out in job["artifacts"]["paths"], f"{name}: {out} is written but not kept")


def main():
    binary, ci_md, sarif_schema, baseline_schema = (os.path.abspath(a) for a in sys.argv[1:5])
    with open(ci_md, encoding="utf-8") as f:
        text = f.read()
    blocks = {}
    for name, lang, body in MARKER.findall(text):
        blocks[name] = body
        check(lang == ("yaml" if name in ("github-actions", "gitlab-ci") else "sh"), f"{name}: fenced as {lang}")
    for name in ("shell-gate", "accept", "github-actions", "gitlab-ci"):
        if not check(name in blocks, f"docs/ci.md has no block marked {name}"):
            return 1
    test_shell_blocks(binary, blocks, validator(sarif_schema), validator(baseline_schema))
    test_yaml_blocks(binary, blocks)
    if failures:
        return 1
    print("docs/ci.md examples: shell gate and accept blocks ran, YAML examples parse and use valid options")
    return 0


if __name__ == "__main__":
    sys.exit(main())
