#!/usr/bin/python3
"""Time iocsweep against its peers (yara, hashdeep) on prepared corpora.

Called by bench/run.sh, which builds the binaries and the corpora; see
docs/performance.md. For every case the commands run interleaved (A B A B
...), after one untimed warm-up run of each (which also fills the page
cache), and the median of --runs timed runs is reported. Every command runs
under /usr/bin/time -v for its peak RSS.

Prints a markdown report on stdout and writes it (and the raw samples as
JSON) to --out-dir.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

YARA_EXTERNALS = ("filename", "filepath", "extension", "filetype", "owner", "md5")


def log(msg):
    print("[measure %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


class Command:
    """One program invocation to time. stdout goes to /dev/null unless
    `stdout` names a file; stderr is appended to the run log."""

    def __init__(self, name, argv, ok_codes=(0,), stdout=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.ok_codes = ok_codes
        self.stdout = stdout


class Runner:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.log_path = os.path.join(out_dir, "commands.log")
        self.failures = []

    def run(self, cmd):
        """Runs `cmd` once; returns a sample dict."""
        with tempfile.NamedTemporaryFile("r", dir=self.out_dir, prefix="time-", suffix=".txt",
                                         delete=False) as tf:
            time_path = tf.name
        argv = ["/usr/bin/time", "-v", "-o", time_path] + cmd.argv
        with open(self.log_path, "a", encoding="utf-8") as err, \
                open(cmd.stdout or os.devnull, "wb") as out:
            err.write("\n$ %s\n" % " ".join(shlex.quote(a) for a in cmd.argv))
            err.flush()
            t0 = time.perf_counter()
            proc = subprocess.run(argv, stdout=out, stderr=err, check=False)
            wall = time.perf_counter() - t0
        fields = parse_time_v(time_path)
        os.unlink(time_path)
        rc = fields.get("Exit status", proc.returncode)
        if rc not in cmd.ok_codes:
            self.failures.append("%s exited with %s (see %s)" % (cmd.name, rc, self.log_path))
        return {"wall_s": wall, "max_rss_kb": fields.get("Maximum resident set size (kbytes)", 0),
                "user_s": fields.get("User time (seconds)", 0.0), "sys_s": fields.get("System time (seconds)", 0.0),
                "rc": rc}

    def interleave(self, case, cmds, runs):
        """Warm-up once each, then `runs` rounds of A B C ... in order."""
        samples = {c.name: [] for c in cmds}
        for c in cmds:
            log("%s: warm-up %s" % (case, c.name))
            samples[c.name + "#warmup"] = [self.run(c)]
        for i in range(runs):
            for c in cmds:
                s = self.run(c)
                samples[c.name].append(s)
                log("%s: run %d/%d %-9s %8.2f s  %7.1f MB RSS" % (case, i + 1, runs, c.name, s["wall_s"],
                                                                   s["max_rss_kb"] / 1024))
        return samples


def parse_time_v(path):
    fields = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.strip().rpartition(": ")
                if not sep:
                    continue
                try:
                    fields[key] = int(value)
                except ValueError:
                    try:
                        fields[key] = float(value)
                    except ValueError:
                        fields[key] = value
    except OSError:
        pass
    return fields


def median(values):
    return statistics.median(values) if values else float("nan")


def tree_bytes(roots):
    """Bytes and count of the regular files below roots (symlinks not
    followed), the same set every tool here scans."""
    total = files = 0
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            for n in names:
                try:
                    st = os.lstat(os.path.join(dirpath, n))
                except OSError:
                    continue
                if (st.st_mode & 0o170000) == 0o100000:
                    total += st.st_size
                    files += 1
    return total, files


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gib = int(line.split()[1]) / (1 << 20)
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(), "mem_gib": round(mem_gib, 1),
            "os": platform.freedesktop_os_release().get("PRETTY_NAME", "") if hasattr(platform,
                                                                                      "freedesktop_os_release")
            else ""}


def loadavg():
    try:
        with open("/proc/loadavg", encoding="utf-8") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def tool_version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def openssl_ceiling():
    """Single-core MB/s of openssl speed -evp for each digest, 1 MiB blocks."""
    speeds = {}
    for alg in ("md5", "sha1", "sha256"):
        out = subprocess.run(["openssl", "speed", "-seconds", "1", "-bytes", "1048576", "-evp", alg],
                             capture_output=True, text=True, check=False)
        m = re.search(r"^%s\s+([0-9.]+)k\s*$" % alg, out.stdout, re.MULTILINE | re.IGNORECASE)
        speeds[alg] = float(m.group(1)) * 1000 / 1e6 if m else float("nan")
    return speeds


def yara_cmd(name, rule_files, target, scan_list):
    argv = ["yara", "-N", "-r", "-p", "2"]
    for var in YARA_EXTERNALS:
        argv += ["-d", var + "="]
    argv += rule_files
    if scan_list:
        argv += ["--scan-list", target]
    else:
        argv.append(target)
    return Command(name, argv)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iocsweep", required=True)
    ap.add_argument("--inmem", default="")
    ap.add_argument("--builtin-rules", required=True, help="the repo's rules/ (what iocsweep embeds)")
    ap.add_argument("--big-rules", required=True, help="folder of generated .yar files")
    ap.add_argument("--usr", nargs="+", default=[], help="roots of the system-tree case")
    ap.add_argument("--tiny", default="")
    ap.add_argument("--huge", default="")
    ap.add_argument("--many", default="")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--many-runs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--inmem-max-bytes", default="8G")
    ap.add_argument("--variant", default="full")
    ap.add_argument("--command-line", default="bash bench/run.sh")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args()

    os.makedirs(args.out_dir, exist_ok=True)
    reports = os.path.join(args.out_dir, "reports")
    os.makedirs(reports, exist_ok=True)
    runner = Runner(args.out_dir)
    open(runner.log_path, "w").close()
    threads = str(args.threads)

    builtin_files = sorted(glob.glob(os.path.join(args.builtin_rules, "*.yar")))
    big_files = sorted(glob.glob(os.path.join(args.big_rules, "*.yar")))
    if not builtin_files or not big_files:
        sys.exit("measure.py: no .yar files in %s or %s" % (args.builtin_rules, args.big_rules))
    n_big_rules = 0
    for path in big_files:
        with open(path, encoding="ascii") as f:
            n_big_rules += sum(1 for line in f if line.startswith("rule "))

    started = datetime.datetime.now().astimezone()
    load_start = loadavg()
    results = []  # one dict per case
    raw = {}

    def iocsweep_cmd(case, roots, big, extra=(), archives=False):
        argv = [args.iocsweep, "scan", "--threads", threads, "-o", os.path.join(reports, case + ".json")]
        # Like for like: yara -r and hashdeep do not open archives. Case a2
        # measures the default (archives on) against the same baseline.
        if not archives:
            argv += ["--archives", "off"]
        if big:
            argv += ["--no-builtin", "--rules", args.big_rules]
        # "--" ends the options: --rules takes several values and would
        # otherwise swallow the roots that follow it.
        argv += list(extra) + ["--"] + list(roots)
        # 1 = findings, 3 = some files unreadable: both are normal outcomes.
        return Command("iocsweep", argv, ok_codes=(0, 1, 3))

    def report_stats(case):
        try:
            with open(os.path.join(reports, case + ".json"), encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return {}
        stats = doc.get("stats", {})
        errors = [e.get("path", "") + ": " + e.get("error", "") for e in doc.get("errors", [])][:5]
        return {"files": stats.get("files_scanned"), "bytes": stats.get("bytes_scanned"),
                "errors": stats.get("errors"), "skipped": stats.get("files_skipped"),
                "findings": stats.get("findings"), "first_errors": errors}

    def add_case(key, title, corpus, roots, cmds, baseline, runs):
        log("case %s: %s" % (key, title))
        samples = runner.interleave(key, cmds, runs)
        raw[key] = samples
        size, files = tree_bytes(roots)
        names = [c.name for c in cmds]
        med = {name: median([s["wall_s"] for s in samples[name]]) for name in names}
        cpu = {name: median([s["user_s"] + s["sys_s"] for s in samples[name]]) for name in names}
        rss = {name: max(s["max_rss_kb"] for s in samples[name] + samples[name + "#warmup"])
               for name in (c.name for c in cmds)}
        # The baseline of one round is the sum of its peers, so the median
        # of sums keeps each round's pairing (same load, same cache).
        sums = [sum(samples[b][i]["wall_s"] for b in baseline) for i in range(runs)]
        base = median(sums)
        base_cpu = median([sum(samples[b][i]["user_s"] + samples[b][i]["sys_s"] for b in baseline)
                           for i in range(runs)])
        results.append({"key": key, "title": title, "corpus": corpus, "bytes": size, "files": files,
                        "median_s": med, "baseline": baseline, "baseline_s": base, "rss_kb": rss,
                        "ratio": med["iocsweep"] / base if base else float("nan"),
                        "cpu_s": cpu, "baseline_cpu_s": base_cpu,
                        "cpu_ratio": cpu["iocsweep"] / base_cpu if base_cpu else float("nan"),
                        "spread": {name: (min(s["wall_s"] for s in samples[name]),
                                          max(s["wall_s"] for s in samples[name])) for name in med},
                        "iocsweep_report": report_stats(key), "runs": runs})

    hashdeep_args = ["hashdeep", "-r", "-of", "-c", "md5,sha1,sha256"]

    if args.usr:
        scan_list = os.path.join(args.out_dir, "usr-roots.txt")
        with open(scan_list, "w", encoding="utf-8") as f:
            f.write("\n".join(args.usr) + "\n")
        corpus = " + ".join(args.usr)
        hd = Command("hashdeep", hashdeep_args + args.usr)
        add_case("a", "system tree, built-in pack", corpus, args.usr,
                 [iocsweep_cmd("a", args.usr, False), yara_cmd("yara", builtin_files, scan_list, True), hd],
                 ["yara", "hashdeep"], args.runs)
        add_case("a2", "system tree, built-in pack, archives opened (the default)", corpus, args.usr,
                 [iocsweep_cmd("a2", args.usr, False, archives=True), yara_cmd("yara", builtin_files, scan_list, True),
                  hd],
                 ["yara", "hashdeep"], args.runs)
        add_case("b", "system tree, %d rules" % n_big_rules, corpus, args.usr,
                 [iocsweep_cmd("b", args.usr, True), yara_cmd("yara", big_files, scan_list, True), hd],
                 ["yara", "hashdeep"], args.runs)
    if args.tiny:
        add_case("c", "tiny files, built-in pack", "20,000-ish files < 1 KB", [args.tiny],
                 [iocsweep_cmd("c", [args.tiny], False), yara_cmd("yara", builtin_files, args.tiny, False)],
                 ["yara"], args.runs)
        add_case("c2", "tiny files, %d rules" % n_big_rules, "same", [args.tiny],
                 [iocsweep_cmd("c2", [args.tiny], True), yara_cmd("yara", big_files, args.tiny, False)],
                 ["yara"], args.runs)
    if args.huge:
        add_case("d", "huge files, built-in pack", "huge files", [args.huge],
                 [iocsweep_cmd("d", [args.huge], False, ["--max-filesize", "64G"]),
                  yara_cmd("yara", builtin_files, args.huge, False), Command("hashdeep", hashdeep_args + [args.huge])],
                 ["yara", "hashdeep"], args.runs)
    if args.many:
        add_case("e", "many empty/tiny files, built-in pack", "many files", [args.many],
                 [iocsweep_cmd("e", [args.many], False), yara_cmd("yara", builtin_files, args.many, False)],
                 ["yara"], args.many_runs)

    inmem = []
    if args.inmem and args.usr:
        for label, extra in (("built-in pack", []), ("%d rules" % n_big_rules, ["--no-builtin", "--rules",
                                                                             args.big_rules])):
            log("in-memory ceiling, %s" % label)
            out = subprocess.run([args.inmem, "--threads", threads, "--repeat", "1", "--max-bytes",
                                  args.inmem_max_bytes] + extra + args.usr,
                                 capture_output=True, text=True, check=False)
            inmem.append((label, out.stdout.strip() or out.stderr.strip()))

    log("openssl speed (hashing ceiling)")
    ceiling = openssl_ceiling()
    finished = datetime.datetime.now().astimezone()

    info = machine_info()
    versions = {
        "iocsweep": "iocsweep " + tool_version([args.iocsweep, "--version"]),
        "yara": "yara " + tool_version(["yara", "--version"]),
        "hashdeep": "hashdeep " + tool_version(["hashdeep", "-V"]),
        "openssl": tool_version(["openssl", "version"]),
    }

    md = []
    md.append("### Results (%s variant, %s)\n" % (args.variant, started.strftime("%Y-%m-%d %H:%M %Z")))
    md.append("Command: `%s`. Median of %d interleaved runs after one untimed warm-up run each; "
              "%d worker threads for every tool. Baseline = the peers in the same round "
              "(yara + hashdeep: their sum, the cost of getting both answers).\n"
              % (args.command_line, args.runs, args.threads))
    md.append("| Case | Corpus | iocsweep / baseline, wall | iocsweep / baseline, CPU | iocsweep s | yara s "
              "| hashdeep s | baseline s | iocsweep CPU s | baseline CPU s | iocsweep MB/s |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        med = r["median_s"]
        mbs = r["bytes"] / 1e6 / med["iocsweep"] if med["iocsweep"] else float("nan")
        corpus = "%s (%s files, %.2f GB)" % (r["corpus"], format(r["files"], ","), r["bytes"] / 1e9)
        if r["runs"] != args.runs:
            corpus += ", %d run%s" % (r["runs"], "" if r["runs"] == 1 else "s")
        md.append("| %s: %s | %s | **%.2f** | %.2f | %.2f | %.2f | %s | %.2f (%s) | %.2f | %.2f | %.0f |" % (
            r["key"], r["title"], corpus, r["ratio"], r["cpu_ratio"], med["iocsweep"], med["yara"],
            "%.2f" % med["hashdeep"] if "hashdeep" in med else "n/a", r["baseline_s"], " + ".join(r["baseline"]),
            r["cpu_s"]["iocsweep"], r["baseline_cpu_s"], mbs))
    md.append("")
    md.append("Ratio < 1: iocsweep is faster than the baseline. CPU = user + system seconds of the process "
              "(from `/usr/bin/time -v`), less sensitive than wall time to other load on the machine. "
              "Spread (min-max wall seconds):")
    md.append("")
    for r in results:
        md.append("- %s: " % r["key"] + ", ".join("%s %.2f-%.2f" % (n, lo, hi) for n, (lo, hi) in r["spread"].items()))
    md.append("")
    md.append("Peak RSS (max over all runs, `/usr/bin/time -v`):\n")
    md.append("| Case | iocsweep / yara | iocsweep MiB | yara MiB | hashdeep MiB |")
    md.append("|---|---:|---:|---:|---:|")
    for r in results:
        rss = r["rss_kb"]
        md.append("| %s: %s | **%.2f** | %.1f | %.1f | %s |" % (
            r["key"], r["title"], rss["iocsweep"] / max(rss["yara"], 1), rss["iocsweep"] / 1024, rss["yara"] / 1024,
            "%.1f" % (rss["hashdeep"] / 1024) if "hashdeep" in rss else "n/a"))
    md.append("")
    md.append("What iocsweep's own report said (last run of each case):\n")
    for r in results:
        s = r["iocsweep_report"]
        md.append("- %s: %s files scanned, %s bytes, %s skipped, %s errors, %s findings%s" % (
            r["key"], s.get("files"), s.get("bytes"), s.get("skipped"), s.get("errors"), s.get("findings"),
            ("; first errors: " + "; ".join(s["first_errors"])) if s.get("first_errors") else ""))
    if inmem:
        md.append("")
        md.append("In-memory ceiling (`iocsweep_inmem`, same roots as a/b, loaded into RAM first, up to %s):\n"
                  % args.inmem_max_bytes)
        for label, text in inmem:
            md.append("%s:\n```\n%s\n```" % (label, text))
    md.append("")
    md.append("Hashing ceiling, `openssl speed -seconds 1 -bytes 1048576 -evp ALG`, one core:\n")
    one = 1 / sum(1 / v for v in ceiling.values()) if all(v > 0 for v in ceiling.values()) else float("nan")
    md.append("| md5 MB/s | sha1 MB/s | sha256 MB/s | all three over the same bytes, 1 core | same, %d cores |"
              % args.threads)
    md.append("|---:|---:|---:|---:|---:|")
    md.append("| %.0f | %.0f | %.0f | %.0f | %.0f |" % (ceiling["md5"], ceiling["sha1"], ceiling["sha256"], one,
                                                         one * args.threads))
    md.append("")
    md.append("Machine: %s; %s CPUs (`nproc`), %s; %.1f GiB RAM; kernel %s. Load average %s at start, %s at "
              "end; %s to %s." % (info["os"], info["nproc"], info["cpu"], info["mem_gib"], info["kernel"],
                                 load_start, loadavg(), started.strftime("%H:%M"), finished.strftime("%H:%M")))
    md.append("Tools: %s." % "; ".join(versions.values()))
    if runner.failures:
        md.append("")
        md.append("Unexpected exit codes: " + "; ".join(sorted(set(runner.failures))))
    text = "\n".join(md) + "\n"

    stamp = started.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.out_dir, "results-%s.md" % stamp), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(args.out_dir, "results-%s.json" % stamp), "w", encoding="utf-8") as f:
        json.dump({"machine": info, "versions": versions, "ceiling_mb_s": ceiling, "results": results,
                   "samples": raw, "inmem": inmem, "variant": args.variant}, f, indent=1)
    print(text)
    log("written %s" % os.path.join(args.out_dir, "results-%s.md" % stamp))


if __name__ == "__main__":
    main()
