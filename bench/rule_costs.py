#!/usr/bin/python3
"""Where libyara's time goes on a real rule set: each rule file timed alone.

    python3 bench/rule_costs.py [--signature-base DIR] [--sample N] [--top K] [--root DIR]...

Compiles every DIR/yara/*.yar on its own with yarac (the externals
iocsweep defines, empty), then runs `yara --scan-list` with one thread over
a fixed sample of the files under the roots (every k-th regular file in
sorted order, N files; symbolic links left out), page cache warm, and
records the CPU time (user + system) of each run from getrusage. A rule
with one string that never occurs gives the floor (walking, opening,
reading, and libyara's pass over every byte, which any rule with strings
costs): each file's cost is its CPU time above that floor, what its rules
add to a set scanned in one pass. Prints the files that cost most, and the
sum over all files against the whole set compiled together.

DIR defaults to ../shared/corpora/signature-base (next to the repository).
Nothing is written outside a temporary directory, which is removed.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from yara_peer import DEFAULT_SIGNATURE_BASE, compile_rules, externals, missing_tools


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sample_files(roots, n):
    files = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    files.append(path)
    if len(files) <= n:
        return files
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def timed_scan(compiled, scan_list, runs):
    """Best CPU time of `runs` runs (the least disturbed by other load)."""
    best = None
    for _ in range(runs):
        before = child_cpu()
        subprocess.run(["yara", "-C", "-N", "-p", "1", "-w", *externals(), compiled, "--scan-list", scan_list],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        cpu = child_cpu() - before
        best = cpu if best is None else min(best, cpu)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signature-base", default=DEFAULT_SIGNATURE_BASE)
    ap.add_argument("--root", action="append", help="tree to sample (default /usr/share)")
    ap.add_argument("--sample", type=int, default=2000, help="files in the sample (default 2000)")
    ap.add_argument("--runs", type=int, default=2, help="runs per rule file, best kept (default 2)")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    rules_dir = os.path.join(args.signature_base, "yara")
    if not os.path.isdir(rules_dir):
        print(f"rule_costs.py: no {rules_dir} (give --signature-base DIR)", file=sys.stderr)
        return 2
    if missing_tools():
        print(f"rule_costs.py: {' and '.join(missing_tools())} not found (apt-get install yara)", file=sys.stderr)
        return 2
    roots = args.root or ["/usr/share"]
    tmp = tempfile.mkdtemp(prefix="rule-costs-")
    try:
        files = sample_files(roots, args.sample)
        scan_list = os.path.join(tmp, "list")
        with open(scan_list, "w", encoding="utf-8", errors="surrogateescape") as f:
            for path in files:
                f.write(path + "\n")
        size = sum(os.path.getsize(p) for p in files)
        rule_files = sorted(n for n in os.listdir(rules_dir) if n.endswith((".yar", ".yara")))
        # Page cache warm.
        for path in files:
            with open(path, "rb") as f:
                while f.read(1 << 20):
                    pass
        empty_src = os.path.join(tmp, "empty.yar")
        with open(empty_src, "w") as f:
            f.write('rule never { strings: $a = { 00 49 4F 43 53 57 45 45 50 00 FF 7F } condition: $a }\n')
        empty = os.path.join(tmp, "empty.yarc")
        subprocess.run(["yarac", "-w", *externals(), empty_src, empty], check=True)
        floor = timed_scan(empty, scan_list, args.runs)
        whole = os.path.join(tmp, "whole.yarc")
        compile_rules(rules_dir, rule_files, whole)
        whole_cpu = timed_scan(whole, scan_list, args.runs)
        costs = []
        started = time.monotonic()
        for i, name in enumerate(rule_files):
            compiled = os.path.join(tmp, "one.yarc")
            r = compile_rules(rules_dir, [name], compiled, check=False)
            if r.returncode != 0:
                print(f"  {name}: does not compile alone, left out", file=sys.stderr)
                continue
            costs.append((timed_scan(compiled, scan_list, args.runs) - floor, name))
            if i % 50 == 0:
                print(f"  {i}/{len(rule_files)} timed ({time.monotonic() - started:.0f} s)", file=sys.stderr)
        costs.sort(reverse=True)
        total = sum(c for c, _ in costs)
        print(f"sample: {len(files)} files, {size / 1e6:.1f} MB under {' '.join(roots)}; "
              f"yara -p 1, best of {args.runs} runs, load {os.getloadavg()[0]:.1f}")
        print(f"floor (one rule with one string that never occurs): {floor:.2f} s CPU")
        print(f"whole set compiled together: {whole_cpu - floor:.2f} s CPU above the floor; "
              f"sum of the {len(costs)} files timed alone: {total:.2f} s")
        print()
        print("| rule file | CPU above floor (s) | share of the sum |")
        print("|---|---:|---:|")
        for cost, name in costs[:args.top]:
            print(f"| {name} | {cost:.2f} | {100 * cost / total if total > 0 else 0:.1f} % |")
        top_share = sum(c for c, _ in costs[:args.top])
        print(f"| the top {args.top} together | {top_share:.2f} | "
              f"{100 * top_share / total if total > 0 else 0:.1f} % |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
