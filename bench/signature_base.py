#!/usr/bin/python3
"""signature-base at real speed: iocsweep against yara with the same rules.

    python3 bench/signature_base.py [--binary PATH] [--signature-base DIR] [--rounds N] [--threads N] [ROOT...]

Cases, run interleaved (A B C ..., A B C ..., so every round sees the same
load and page cache), each command once untimed first:

  yara          yara -C -N -r -p THREADS with DIR/yara/*.yar precompiled by yarac
                (each file in its own namespace, as iocsweep compiles them; the
                externals iocsweep defines, empty)
  yara-f        the same with -f, yara's fast matching mode (a string whose
                condition needs only whether it matched stops at its first
                match; iocsweep scans files so); not run unless asked for
  rules         iocsweep scan --no-builtin --rules DIR/yara --archives off
                (the same rules; iocsweep also hashes every file)
  sb            iocsweep scan --no-builtin --signature-base DIR --archives off
                (as Loki users run it: rules, hash and file-name indicators,
                file types)
  sb+archives   the same with archives opened (the default)
  no-prefilter  `rules` with --no-prefilter (every file meets every rule)

Wall time from the harness, CPU time (user + system) and peak RSS from
/usr/bin/time. Prints a markdown table of medians and ratios against yara.
ROOT defaults to /usr/share. Needs yara and yarac (apt-get install yara).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from yara_peer import DEFAULT_SIGNATURE_BASE, REPO, compile_rules, externals, missing_tools


def timed(cmd):
    """Runs cmd under /usr/bin/time; returns (wall, cpu, rss_kb, exit code)."""
    fd, stats = tempfile.mkstemp(prefix="sb-time-")
    os.close(fd)
    try:
        start = time.monotonic()
        r = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", stats, *cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        wall = time.monotonic() - start
        with open(stats) as f:
            fields = f.read().split()[-3:]
        user, system, rss = float(fields[0]), float(fields[1]), int(fields[2])
        return wall, user + system, rss, r.returncode, r.stderr.decode(errors="replace")[-2000:]
    finally:
        os.unlink(stats)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(REPO, "build-bench", "iocsweep"))
    ap.add_argument("--signature-base", default=DEFAULT_SIGNATURE_BASE)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default="yara,rules,sb,sb+archives,no-prefilter")
    ap.add_argument("--json", help="also write the samples here")
    ap.add_argument("roots", nargs="*", default=["/usr/share"])
    args = ap.parse_args()
    sb = args.signature_base
    if not os.path.isdir(os.path.join(sb, "yara")):
        print(f"signature_base.py: no {sb}/yara (give --signature-base DIR)", file=sys.stderr)
        return 2
    if not os.access(args.binary, os.X_OK):
        print(f"signature_base.py: no iocsweep at {args.binary} (give --binary PATH)", file=sys.stderr)
        return 2
    if missing_tools():
        print(f"signature_base.py: {' and '.join(missing_tools())} not found (apt-get install yara)", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="sb-bench-")
    try:
        rules_dir = os.path.join(sb, "yara")
        files = sorted(n for n in os.listdir(rules_dir) if n.endswith((".yar", ".yara")))
        compiled = os.path.join(tmp, "sb.yarc")
        compile_rules(rules_dir, files, compiled)
        cache = os.path.join(tmp, "rule-cache")
        common = [args.binary, "scan", "--no-builtin", "--threads", str(args.threads), "--rule-cache", cache,
                  "-o", "/dev/null"]
        cases = {
            "yara": ["yara", "-C", "-N", "-r", "-w", "-p", str(args.threads), *externals(), compiled],
            "yara-f": ["yara", "-C", "-N", "-r", "-w", "-f", "-p", str(args.threads), *externals(), compiled],
            "rules": [*common, "--rules", rules_dir, "--archives", "off"],
            "sb": [*common, "--signature-base", sb, "--archives", "off"],
            "sb+archives": [*common, "--signature-base", sb],
            "no-prefilter": [*common, "--rules", rules_dir, "--archives", "off", "--no-prefilter"],
        }
        wanted = [c for c in args.cases.split(",") if c]
        for c in wanted:
            if c not in cases:
                print(f"signature_base.py: unknown case {c}", file=sys.stderr)
                return 2
        samples = {c: [] for c in wanted}
        # yara's scan of a directory takes one root.
        for c in wanted:
            for root in args.roots:
                _, _, _, code, err = timed([*cases[c], root])
                if code not in (0, 1, 3):
                    print(f"signature_base.py: {c} failed ({code}): {err}", file=sys.stderr)
                    return 1
        for rnd in range(args.rounds):
            for c in wanted:
                wall = cpu = 0.0
                rss = 0
                for root in args.roots:
                    w, u, m, _, _ = timed([*cases[c], root])
                    wall, cpu, rss = wall + w, cpu + u, max(rss, m)
                samples[c].append((wall, cpu, rss))
            print(f"  round {rnd + 1}/{args.rounds} done", file=sys.stderr)
        base = samples.get("yara")
        med = {c: tuple(statistics.median(s[i] for s in samples[c]) for i in range(3)) for c in wanted}
        load = os.getloadavg()
        print(f"roots: {' '.join(args.roots)}; {args.threads} threads; {args.rounds} rounds, medians; "
              f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        print()
        print("| case | wall (s) | CPU (s) | peak RSS (MB) | wall / yara | CPU / yara | RSS / yara |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for c in wanted:
            w, u, m = med[c]
            if base:
                bw, bu, bm = med["yara"]
                ratios = f"{w / bw:.2f} | {u / bu:.2f} | {m / bm:.2f}"
            else:
                ratios = "- | - | -"
            print(f"| {c} | {w:.2f} | {u:.2f} | {m / 1024:.0f} | {ratios} |")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"roots": args.roots, "samples": samples}, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
