"""What the signature-base benchmarks share: running `yara` and `yarac`
as iocsweep runs libyara (each rule file in its own namespace, with the
external variables iocsweep defines, empty), and where signature-base is.
"""
import os
import shutil
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The external variables iocsweep defines for every file (kExternalNames in
# include/iocsweep/match.hpp): undefined ones would not compile.
EXTERNALS = ["filename", "filepath", "extension", "filetype", "owner", "md5"]
DEFAULT_SIGNATURE_BASE = os.path.join(os.path.dirname(REPO), "shared", "corpora", "signature-base")


def externals():
    """`-d NAME=` for each external, and iocsweep_scope as for a file."""
    out = []
    for name in EXTERNALS:
        out += ["-d", name + "="]
    return out + ["-d", "iocsweep_scope=file"]


def missing_tools():
    """`yara` and `yarac`, those not on PATH."""
    return [tool for tool in ("yara", "yarac") if shutil.which(tool) is None]


def compile_rules(rules_dir, names, out, check=True):
    """yarac over `names` (files in rules_dir), each in a namespace named
    after it; the CompletedProcess."""
    return subprocess.run(["yarac", "-w", *externals(), *[f"{n}:{os.path.join(rules_dir, n)}" for n in names], out],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=check)
