#!/usr/bin/python3
"""Checks docs/iocsweep.1 and the bash completion against the binary's --help.

For every subcommand, each option `iocsweep SUB --help` lists must be in the
man page's section for SUB (`.SS "iocsweep SUB"`, options as `.TP` heads) and
each option that section documents must be in --help; GLOBAL OPTIONS must be
`iocsweep --help`'s; groff must render it without warnings. The completion script must pass `bash -n`, and completing
`iocsweep SUB -` must offer exactly the options SUB's --help lists; an option
taking a path must complete file names.

Usage: manpage_completion_test.py IOCSWEEP MANPAGE COMPLETION"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

BIN, MAN, COMPLETION = (os.path.abspath(a) for a in sys.argv[1:4])
SUBCOMMANDS = [[], ["scan"], ["rules"], ["rules", "list"], ["rules", "check"], ["iocs"], ["iocs", "list"],
               ["version"], ["pack"], ["pack", "build"], ["pack", "verify"], ["pack", "list"],
               ["report"], ["report", "merge"], ["report", "html"]]
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what)


def help_options(sub):
    out = subprocess.run([BIN, *sub, "--help"], capture_output=True, text=True, check=True).stdout
    body = out.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
    names = set()
    for line in body.splitlines():
        m = re.match(r"  (-\S+)", line)
        if m:
            names.update(m.group(1).split(","))
    return names


def man_sections():
    """{subcommand words: set of options} from the man page's .SS sections and GLOBAL OPTIONS."""
    with open(MAN) as f:
        lines = f.read().splitlines()
    sections, current = {}, None
    for i, line in enumerate(lines):
        if line.startswith(".SH"):
            current = () if line.strip() == ".SH GLOBAL OPTIONS" else None
            if current is not None:
                sections[current] = set()
        elif line.startswith(".SS"):
            m = re.match(r'\.SS "iocsweep ([a-z ]+)"', line)
            current = tuple(m.group(1).split()) if m else None
            if current is not None:
                sections[current] = set()
        elif line == ".TP" and current is not None and i + 1 < len(lines):
            for name in re.findall(r"\\fB((?:\\-|\w)+)\\fR", lines[i + 1]):
                sections[current].add(name.replace("\\-", "-"))
    return sections


# The page must render without groff warnings (what `man -l` shows).
if shutil.which("groff"):
    p = subprocess.run(["groff", "-man", "-ww", "-z", MAN], capture_output=True, text=True)
    check(p.returncode == 0 and not p.stderr, "groff renders %s without warnings: %s" % (MAN, p.stderr))
else:
    print("SKIP: no groff, the man page's rendering is not checked")

man = man_sections()
for sub in SUBCOMMANDS:
    want = help_options(sub)
    label = "iocsweep " + " ".join(sub) if sub else "iocsweep (GLOBAL OPTIONS)"
    if not sub:
        have = man.get((), set())
    elif tuple(sub) in man:
        # -h/--help is documented once, under GLOBAL OPTIONS.
        have = man[tuple(sub)] | {"-h", "--help"}
    elif sub in (["rules"], ["iocs"], ["pack"], ["report"]):
        continue  # groups: only --help, listed under GLOBAL OPTIONS
    else:
        check(False, "%s has no section in the man page" % label)
        continue
    check(not want - have, "%s: --help options missing from the man page: %s" % (label, sorted(want - have)))
    check(not have - want, "%s: man page options that --help does not list: %s" % (label, sorted(have - want)))

check(subprocess.run(["bash", "-n", COMPLETION]).returncode == 0, "bash -n " + COMPLETION)


def complete(words, cwd=None):
    """What the completion offers for `words`, the last one being completed."""
    script = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _iocsweep; printf "%s\\n" "${COMPREPLY[@]}"'
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", COMPLETION, *words],
                       capture_output=True, text=True, cwd=cwd)
    check(p.returncode == 0, "completing %s exits 0: %s" % (words, p.stderr))
    return {w for w in p.stdout.splitlines() if w}


for sub in SUBCOMMANDS:
    want = help_options(sub)
    if not sub:
        want |= {"scan", "rules", "iocs", "version", "pack", "report"}
    got = complete(["iocsweep", *sub, "-" if sub else ""])
    if not sub:
        got |= complete(["iocsweep", "-"])
    check(want == got, "completing 'iocsweep %s -': missing %s, extra %s"
          % (" ".join(sub), sorted(want - got), sorted(got - want)))

with tempfile.TemporaryDirectory() as tree:
    open(os.path.join(tree, "mine.yar"), "w").close()
    os.mkdir(os.path.join(tree, "sigbase"))
    check(complete(["iocsweep", "scan", "--rules", "mi"], cwd=tree) == {"mine.yar"}, "--rules completes files")
    check(complete(["iocsweep", "scan", "--signature-base", "s"], cwd=tree) == {"sigbase"},
          "--signature-base completes directories")
    check(complete(["iocsweep", "scan", "--format", "s"]) == {"sarif"}, "--format completes its values")

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("man page and bash completion match every subcommand's --help")
