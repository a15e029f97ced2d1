#!/usr/bin/python3
"""--format ecs against the ECS field list in the repo: runs real scans of
synthesised positives (a YARA hit, hash indicators of each kind, a file-name
indicator, archive and container-image members, a live process, an error and
a skipped file) and checks that every field written outside the custom
prefix is listed in tests/data/ecs_fields.json with a value of its ECS type,
that every listed field is written by some case, and that the index
template in docs/siem.md maps each listed field with that type.
Usage: ecs_report_test.py IOCSWEEP ECS_FIELDS_JSON SIEM_MD"""
import hashlib
import json
import os
import time
import re
import subprocess
import sys
import tempfile
import zipfile

from sweep_samples import fat_image, start_wiped_child, synth_pe, tar_bytes

ISO_8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
TEXT_TYPES = {"keyword", "wildcard", "match_only_text", "text", "constant_keyword"}


def value_ok(ecs_type: str, value) -> bool:
    """True when one JSON value is what ECS's type asks for."""
    if ecs_type in TEXT_TYPES:
        return isinstance(value, str)
    if ecs_type == "long":
        return isinstance(value, int) and not isinstance(value, bool)
    if ecs_type in ("float", "double", "scaled_float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if ecs_type == "date":
        return isinstance(value, str) and ISO_8601.match(value) is not None
    if ecs_type == "boolean":
        return isinstance(value, bool)
    return False


def check_doc(doc, fields, prefix, seen, problems, where=""):
    """Walks one document; lists in `problems` every field that is neither
    under the custom prefix nor in `fields` with a value of its type."""
    for key, value in doc.items():
        name = where + key
        if name == prefix or name.startswith(prefix + "."):
            seen.add(prefix)
            continue
        spec = fields.get(name)
        if spec is None:
            if isinstance(value, dict):
                check_doc(value, fields, prefix, seen, problems, name + ".")
            else:
                problems.append(f"{name}: not an ECS field in the list (value {value!r})")
            continue
        seen.add(name)
        if spec["type"] == "nested":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                problems.append(f"{name}: nested, wants an array of objects, got {value!r}")
                continue
            for v in value:
                check_doc(v, fields, prefix, seen, problems, name + ".")
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not spec.get("array"):
            problems.append(f"{name}: an array, but ECS does not make it one: {value!r}")
        for v in values:
            if not value_ok(spec["type"], v):
                problems.append(f"{name}: {v!r} is not a {spec['type']}")


def template_types(node, where=""):
    """{field: type} of an index template's mappings.properties tree."""
    out = {}
    for key, spec in node.items():
        name = where + key
        if "type" in spec:
            out[name] = spec["type"]
        if "properties" in spec:
            out.update(template_types(spec["properties"], name + "."))
    return out


def check_template(siem_md: str, fields, prefix) -> list:
    with open(siem_md, encoding="utf-8") as f:
        text = f.read()
    blocks = [b for b in re.findall(r"```json\n(.*?)```", text, re.S) if '"index_patterns"' in b]
    if len(blocks) != 1:
        return [f"{siem_md}: wants one ```json block with an index template, found {len(blocks)}"]
    template = json.loads(blocks[0])
    mapped = template_types(template["template"]["mappings"]["properties"])
    problems = []
    for name, spec in fields.items():
        if mapped.get(name) != spec["type"]:
            problems.append(f"{siem_md}: the index template maps {name} as {mapped.get(name)}, ECS says {spec['type']}")
    if not any(m == prefix or m.startswith(prefix + ".") for m in mapped):
        problems.append(f"{siem_md}: the index template maps nothing under {prefix}")
    return problems


def check_placement(doc, tree: str, image: str, problems) -> None:
    """Where a finding's file fields point (docs/siem.md, "Field mapping")."""
    ours = doc["iocsweep"]["finding"]
    path = doc.get("file", {}).get("path")
    if "image" in ours or "member" in ours:
        want = os.path.join(tree, "image.tar" if "image" in ours else "bundle.zip")
    elif "disk_image" in ours:
        want = image
    elif "process" in ours:
        want = None if ours["process"]["part"] == "memory" else ours["process"]["exe"]
    else:
        want = ours["path"]
    if path != want:
        problems.append(f"finding {ours['path']}: file.path is {path!r}, wants {want!r}")
    # A walked file's (or the archive's) own facts, as stat gives them now.
    if want is not None and "disk_image" not in ours and "process" not in ours:
        st = os.stat(want)
        f = doc.get("file", {})
        mtime = f.get("mtime", "")
        want_mtime = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime_ns // 10**9)) + \
            ".%09dZ" % (st.st_mtime_ns % 10**9)
        if (f.get("inode"), f.get("uid"), mtime) != (str(st.st_ino), str(st.st_uid), want_mtime) or \
                not f.get("owner"):
            problems.append(f"finding {ours['path']}: file inode/uid/owner/mtime {f} do not match stat "
                            f"({st.st_ino}, {st.st_uid}, {want_mtime})")
    elif "inode" in doc.get("file", {}):
        problems.append(f"finding {ours['path']}: file.inode written for a disk image or a process")
    if "image" in ours and doc.get("container", {}).get("image") != {"name": "example/app", "tag": ["1.2"]}:
        problems.append(f"finding in a container image: container.image is {doc.get('container')}")
    if doc["rule"]["name"] == "ECS_Test":
        threat = doc.get("threat", {})
        want_threat = {"software": {"name": "TestFamily"}, "group": {"name": "Test Group", "id": "G0082"},
                       "technique": {"id": ["T1565.001"]}, "framework": "MITRE ATT&CK"}
        if threat != want_threat or doc["rule"].get("author") != ["a", "b"] or doc["rule"].get("id") != "ECS-1":
            problems.append(f"rule ECS_Test: rule {doc['rule']}, threat {threat}")
    if doc["rule"]["name"].startswith("filename:") and "member" in ours and "image" not in ours:
        e = doc["threat"]["enrichments"][0]["matched"]
        if (e["atomic"], e["field"]) != (ours["member"][-1], "iocsweep.finding.member"):
            problems.append(f"file-name indicator on a member: matched {e}")
    if doc["rule"]["name"].startswith("hash:sha256:"):
        e = doc["threat"]["enrichments"][0]["matched"]
        if e["field"] != "file.hash.sha256" or e["atomic"] != doc["file"]["hash"]["sha256"]:
            problems.append(f"hash indicator: matched {e} against file.hash {doc['file']['hash']}")


def main() -> int:
    binary, fields_path, siem_md = sys.argv[1:4]
    with open(fields_path, encoding="utf-8") as f:
        listing = json.load(f)
    fields, prefix = listing["fields"], listing["custom_prefix"]
    problems = check_template(siem_md, fields, prefix)
    seen = set()
    with tempfile.TemporaryDirectory() as tree, tempfile.TemporaryDirectory() as cfg:
        key = bytes.fromhex("4E381FA77F08CCAA0D56EDEFF9ED08EF")
        positive = synth_pe(b"\0" + key + b"\0PI (found, patched)\0ECS_TEST_MARKER\0")
        with open(os.path.join(tree, "evtdiag.exe"), "wb") as f:
            f.write(positive)
        with open(os.path.join(tree, "big.bin"), "wb") as f:
            f.write(b"y" * 200000)
        with zipfile.ZipFile(os.path.join(tree, "bundle.zip"), "w") as z:
            z.writestr("inner/evtdiag.exe", positive)
        layer = tar_bytes([("usr/bin/evtdiag.exe", positive)])
        config = json.dumps({"rootfs": {"type": "layers",
                                        "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
        manifest = json.dumps([{"Config": "cfg.json", "RepoTags": ["example/app:1.2"],
                                "Layers": ["l0/layer.tar"]}]).encode()
        with open(os.path.join(tree, "image.tar"), "wb") as f:
            f.write(tar_bytes([("l0/layer.tar", layer), ("cfg.json", config), ("manifest.json", manifest)]))
        iocs = os.path.join(cfg, "iocs.txt")
        with open(iocs, "w", encoding="utf-8") as f:
            for h in (hashlib.md5, hashlib.sha1, hashlib.sha256):
                f.write(h(positive).hexdigest() + f";80;test {h.__name__}\n")
        rule = os.path.join(cfg, "ecs.yar")
        with open(rule, "w", encoding="utf-8") as f:
            f.write('rule ECS_Test { meta: id = "ECS-1" description = "test rule" author = "a" author = "b" '
                    'reference = "https://example.invalid/r" threat_actor = "Test Group" family = "TestFamily" '
                    'mitre_attack = "G0082, T1565.001" score = 60 strings: $m = "ECS_TEST_MARKER" condition: $m }\n')
        cases = [["--iocs", iocs, "--rules", rule, "--max-filesize", "100K", tree, os.path.join(tree, "missing")]]
        image = os.path.join(cfg, "fat.img")
        if fat_image(image, positive, cfg):
            cases.append(["--no-builtin", "--iocs", iocs, "--image", image])
        else:
            print("SKIP (disk image case): mkfs.fat / mtools not installed")
        child = start_wiped_child(cfg)
        if child is not None:
            mem_rule = os.path.join(cfg, "mem.yar")
            with open(mem_rule, "w", encoding="utf-8") as f:
                f.write('rule in_memory { strings: $a = "GLIBC_" condition: $a }\n')
            cases.append(["--no-builtin", "--rules", mem_rule, "--pid", str(child.pid)])
        else:
            print("SKIP (process case): no /bin/sleep")
        try:
            kinds = set()
            for args in cases:
                proc = subprocess.run([binary, "scan", "--format", "ecs", "-q"] + args, capture_output=True,
                                      check=False)
                if proc.returncode not in (0, 1, 3):
                    print(f"iocsweep {args} exited {proc.returncode}: {proc.stderr.decode()}")
                    return 1
                lines = proc.stdout.decode("utf-8").splitlines()
                for n, line in enumerate(lines, 1):
                    doc = json.loads(line)
                    check_doc(doc, fields, prefix, seen, problems, "")
                    record = doc[prefix]["record"]
                    kinds.add(record)
                    want_kind = "alert" if record == "finding" else "event"
                    if doc["event"]["kind"] != want_kind:
                        problems.append(f"line {n}: {record} has event.kind {doc['event']['kind']}")
                    if record == "finding":
                        if "malware" not in doc["event"]["category"]:
                            problems.append(f"line {n}: a finding without event.category malware")
                        check_placement(doc, tree, image, problems)
                if json.loads(lines[0])[prefix]["record"] != "scan_started" or \
                        json.loads(lines[-1])[prefix]["record"] != "scan_finished":
                    problems.append(f"iocsweep {args}: the stream does not begin and end with the scan")
        finally:
            if child is not None:
                child.kill()
                child.wait()
    for want in ("finding", "error", "skipped"):
        if want not in kinds:
            problems.append(f"no {want} record was written")
    # The list says what the sink writes, no more: a field nobody writes is stale.
    unused = sorted(set(fields) - seen - ({"process.pid", "process.parent.pid", "process.name",
                                           "process.executable", "process.command_line", "user.id"}
                                          if child is None else set()))
    problems += [f"{name}: listed but no case wrote it" for name in unused]
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"ECS output: {len(seen)} fields, each listed with its type")
    return 0


if __name__ == "__main__":
    sys.exit(main())
