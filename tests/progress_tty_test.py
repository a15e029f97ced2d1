#!/usr/bin/env python3
"""The progress line of `iocsweep scan`, end to end: drawn on stderr when it
is a terminal (a pseudo-terminal here), escaped and cut to the terminal's
width; absent when stderr is not a terminal or with --quiet; forced with
--progress. The report on stdout is never touched.

Usage: progress_tty_test.py IOCSWEEP_BINARY
"""
import errno
import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import termios

BIN = sys.argv[1]
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def make_tree(base, dirname):
    tree = os.path.join(base, dirname)
    os.makedirs(tree)
    # 6 files of 400 kB at --max-rate 1 (1 MB/s): about two seconds, so the
    # line is redrawn several times.
    for i in range(6):
        with open(os.path.join(tree, "f%d" % i), "wb") as f:
            f.write(bytes([65 + i]) * 400_000)
    return tree


def run_on_pty(args, cols):
    """Runs with stderr on a pseudo-terminal COLS wide, stdout to a file.
    Returns (exit code, what the terminal received, stdout)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=slave)
        os.close(slave)
        received = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError as e:
                if e.errno == errno.EIO:  # the child closed its end
                    break
                raise
            if not chunk:
                break
            received += chunk
        os.close(master)
        code = proc.wait(timeout=300)
        out.seek(0)
        return code, received, out.read()


def renders(received):
    """The successive states of the line: split on carriage returns, with
    the erase-to-end-of-line sequence and the final newline taken off."""
    text = received.replace(b"\r\n", b"\n")  # the pty's output processing
    parts = [p for p in text.split(b"\r") if p]
    return [p.replace(b"\x1b[K", b"").rstrip(b"\n") for p in parts]


def code_points(b):
    return len(b.decode("utf-8"))


def main():
    base = tempfile.mkdtemp(prefix="iocsweep-progress-")
    try:
        # A directory name with an escape sequence in it: it must reach the
        # terminal escaped.
        tree = make_tree(base, "d\x1b[31mred")
        common = [BIN, "scan", "--no-builtin", "--threads", "2", "--max-rate", "1"]

        # 1. On a terminal: the line is there, with its fields.
        code, received, out = run_on_pty(common + [tree], 300)
        check(code == 0, "exit code on a terminal: %d" % code)
        doc = json.loads(out)
        check(doc["stats"]["files_scanned"] == 6, "report counts 6 files")
        check(not re.search(rb"\d+ files?  ", out) and b"\r" not in out and b"\x1b" not in out,
              "the report on stdout is untouched")
        lines = renders(received)
        check(len(lines) >= 3, "the line is redrawn a few times: %r" % lines)
        check(received.endswith(b"\n"), "the line is finished with a newline")
        pattern = re.compile(rb"^\d+ files?  [\d.]+ [kMG]?B(  [\d.]+ [kMG]?B/s)?  \d+ errors?  \d+ findings?")
        check(all(pattern.match(l) for l in lines), "every state has files, bytes, errors, findings: %r" % lines)
        check(any(re.search(rb"  [\d.]+ [kMG]?B/s  ", l) for l in lines), "a rate is shown: %r" % lines)
        check(lines[-1].startswith(b"6 files  2.4 MB"), "the final state counts everything: %r" % lines[-1])
        check(b"\x1b[31m" not in received, "no escape sequence from a file name reaches the terminal")
        check(any(l.endswith(b"d\\x1b[31mred") for l in lines), "the directory is shown, escaped: %r" % lines)

        # 2. A narrow terminal: every state fits in its width.
        code, received, out = run_on_pty(common + [tree], 50)
        check(code == 0, "exit code, narrow terminal")
        lines = renders(received)
        check(lines and all(code_points(l) <= 49 for l in lines), "lines fit 50 columns: %r" % lines)
        check(json.loads(out)["stats"]["files_scanned"] == 6, "report intact, narrow terminal")

        # 3. --quiet on a terminal: nothing.
        code, received, out = run_on_pty(common + ["--quiet", tree], 300)
        check(code == 0, "exit code with --quiet")
        check(received == b"", "no progress with --quiet: %r" % received[:200])

        # 4. stderr not a terminal: nothing.
        r = subprocess.run(common + [tree], stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        check(r.returncode == 0, "exit code, stderr a pipe")
        check(r.stderr == b"", "no progress when stderr is not a terminal: %r" % r.stderr[:200])
        check(json.loads(r.stdout)["stats"]["files_scanned"] == 6, "report intact, stderr a pipe")

        # 5. --progress into a pipe: whole lines, for wrappers.
        r = subprocess.run(common + ["--progress", tree], stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        check(r.returncode == 0, "exit code with --progress")
        plain = r.stderr.split(b"\n")
        check(plain[-1] == b"" and len(plain) >= 3, "--progress writes whole lines: %r" % r.stderr)
        check(b"\r" not in r.stderr and b"\x1b[K" not in r.stderr, "no terminal control in a pipe")
        check(all(pattern.match(l) for l in plain[:-1]), "--progress lines have the fields: %r" % plain)
        check(plain[-2].startswith(b"6 files"), "--progress ends with the final count")
        check(json.loads(r.stdout)["stats"]["files_scanned"] == 6, "report intact with --progress")

        # 6. -o FILE on a terminal: the report file is intact too.
        report = os.path.join(base, "report.json")
        code, received, out = run_on_pty(common + ["-o", report, tree], 300)
        check(code == 0 and out == b"", "-o: nothing on stdout")
        with open(report, "rb") as f:
            check(json.load(f)["stats"]["files_scanned"] == 6, "-o report intact")
        check(len(renders(received)) >= 2, "-o: progress shown")
    finally:
        shutil.rmtree(base)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("progress_tty: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
