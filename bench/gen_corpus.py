#!/usr/bin/python3
"""Build the synthetic benchmark corpora for bench/run.sh.

  gen_corpus.py tiny DIR [--count 20000]
      COUNT files of 1..1023 bytes (text, binary and PE/ELF-looking heads),
      100 files per directory.
  gen_corpus.py huge DIR [--count 4] [--size 1G]
      COUNT files of SIZE "mixed bytes": 1 MiB blocks drawn from random
      bytes, zeros, ASCII text, UTF-16LE text and slices of the machine's own
      shared libraries, so that both hashing and YARA see realistic data.
  gen_corpus.py many DIR [--count 1000000]
      COUNT files, 1,000 per directory; nine in ten empty, the rest 1..64
      bytes (so they cost an inode but almost no blocks).

Everything is derived from a fixed seed. A corpus is rebuilt only when its
parameters changed (a .complete marker records them); DIR is wiped first.
Nothing here is malware: the bytes are random or copied from /usr/lib.
"""

import argparse
import glob
import json
import os
import random
import shutil
import sys

SEED = 4242
MIB = 1 << 20


def parse_size(text):
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = 1
    for suffix, m in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if text.endswith(suffix):
            text, mult = text[:-1], m
            break
    return int(text) * mult


def prepare(dir_path, params):
    """Returns False when DIR already holds a corpus built with `params`."""
    marker = os.path.join(dir_path, ".complete")
    try:
        with open(marker, encoding="utf-8") as f:
            if json.load(f) == params:
                return False
    except (OSError, ValueError):
        pass
    if os.path.isdir(dir_path):
        shutil.rmtree(dir_path)
    os.makedirs(dir_path)
    return True


def finish(dir_path, params):
    with open(os.path.join(dir_path, ".complete"), "w", encoding="utf-8") as f:
        json.dump(params, f)


def words(r, n):
    cons, vow = "bcdfghjklmnprstvwxz", "aeiou"
    return [("".join(r.choice(cons) + r.choice(vow) for _ in range(r.randint(1, 4)))) for _ in range(n)]


def text_pool(r, size):
    vocab = words(r, 5000) + ["the", "and", "error", "file", "data", "return", "int", "void", "include",
                              "function", "value", "http", "://", "C:\\Windows\\System32\\", "/usr/lib/"]
    out, total = [], 0
    while total < size:
        line = " ".join(r.choice(vocab) for _ in range(r.randint(3, 14))) + "\n"
        out.append(line)
        total += len(line)
    return "".join(out).encode("ascii")[:size]


def library_pool(size):
    """Bytes of the machine's shared libraries (deterministic order)."""
    chunks, total = [], 0
    for path in sorted(glob.glob("/usr/lib/x86_64-linux-gnu/*.so*")):
        if total >= size or not os.path.isfile(path) or os.path.islink(path):
            continue
        try:
            with open(path, "rb") as f:
                data = f.read(min(4 * MIB, size - total))
        except OSError:
            continue
        chunks.append(data)
        total += len(data)
    pool = b"".join(chunks)
    return pool if len(pool) >= 2 * MIB else random.Random(SEED).randbytes(size)


def tiny(args):
    params = {"kind": "tiny", "count": args.count, "seed": SEED}
    if not prepare(args.dir, params):
        print("gen_corpus.py: %s is up to date" % args.dir)
        return
    r = random.Random(SEED)
    text = text_pool(r, 1 * MIB)
    heads = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", b"\x7fELF\x02\x01\x01\x00", b"PK\x03\x04", b"%PDF-1.5\n",
             b"<?php ", b"#!/bin/sh\n")
    for i in range(args.count):
        sub = os.path.join(args.dir, "d%04d" % (i // 100))
        if i % 100 == 0:
            os.makedirs(sub, exist_ok=True)
        size = r.randint(1, 1023)
        kind = r.randrange(3)
        if kind == 0:
            off = r.randrange(len(text) - size)
            data = text[off:off + size]
        elif kind == 1:
            data = r.randbytes(size)
        else:
            data = (r.choice(heads) + r.randbytes(size))[:size]
        ext = r.choice((".txt", ".dll", ".exe", ".php", ".js", ".dat", ".log", ""))
        with open(os.path.join(sub, "f%05d%s" % (i, ext)), "wb") as f:
            f.write(data)
    finish(args.dir, params)
    print("gen_corpus.py: %d tiny files under %s" % (args.count, args.dir))


def huge(args):
    size = parse_size(args.size)
    params = {"kind": "huge", "count": args.count, "size": size, "seed": SEED}
    if not prepare(args.dir, params):
        print("gen_corpus.py: %s is up to date" % args.dir)
        return
    r = random.Random(SEED)
    pools = {
        "random": r.randbytes(16 * MIB),
        "zeros": bytes(2 * MIB),
        "text": text_pool(r, 8 * MIB),
        "utf16": text_pool(r, 4 * MIB).decode("ascii").encode("utf-16-le"),
        "binary": library_pool(32 * MIB),
    }
    kinds = list(pools)
    weights = (30, 15, 20, 10, 25)
    for n in range(args.count):
        path = os.path.join(args.dir, "huge%02d.bin" % n)
        left = size
        with open(path, "wb") as f:
            while left > 0:
                pool = pools[r.choices(kinds, weights)[0]]
                block = min(MIB, left)
                off = r.randrange(len(pool) - block + 1)
                f.write(memoryview(pool)[off:off + block])
                left -= block
    finish(args.dir, params)
    print("gen_corpus.py: %d files of %d bytes under %s" % (args.count, size, args.dir))


def many(args):
    params = {"kind": "many", "count": args.count, "seed": SEED}
    if not prepare(args.dir, params):
        print("gen_corpus.py: %s is up to date" % args.dir)
        return
    r = random.Random(SEED)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for i in range(args.count):
        if i % 1000 == 0:
            sub = os.path.join(args.dir, "d%04d" % (i // 1000))
            os.mkdir(sub)
        fd = os.open(os.path.join(sub, "f%07d" % i), flags, 0o644)
        if r.random() < 0.1:
            os.write(fd, r.randbytes(r.randint(1, 64)))
        os.close(fd)
    finish(args.dir, params)
    print("gen_corpus.py: %d files under %s" % (args.count, args.dir))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("tiny")
    p.add_argument("dir")
    p.add_argument("--count", type=int, default=20000)
    p = sub.add_parser("huge")
    p.add_argument("dir")
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--size", default="1G")
    p = sub.add_parser("many")
    p.add_argument("dir")
    p.add_argument("--count", type=int, default=1000000)
    args = ap.parse_args()
    if args.count < 1:
        sys.exit("gen_corpus.py: --count must be >= 1")
    {"tiny": tiny, "huge": huge, "many": many}[args.cmd](args)


if __name__ == "__main__":
    main()
