#!/bin/bash
# Incremental sweeps (issue 6): sweeps a tree twice with --cache, first with
# a cold (new) cache, then unchanged, and prints both wall times and their
# ratio. The target is a second sweep of an unchanged /usr at <= 10% of the
# first. Not a timed test: run it by hand, and note `uptime` with the figure
# (the machine may be shared). See docs/performance.md, Incremental sweeps.
#
#   bash bench/incremental.sh [--binary PATH] [--root DIR] [--scratch DIR] [--threads N]
#
#   --binary PATH  iocsweep to run (default <repo>/build-bench/iocsweep, else
#                  <repo>/build-dev/iocsweep)
#   --root DIR     tree to sweep (default /usr)
#   --scratch DIR  where the cache and reports go (default
#                  /tmp/iocsweep-bench-incremental; must lie outside the root)
#   --threads N    worker threads (default 2)
#
# The page cache is not dropped: both runs see a warm cache for metadata,
# so the ratio is the cost of the cache itself against reading, hashing and
# matching every file; run the first sweep twice (--no-cache) beforehand
# if you want the first figure warm too.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN=""
ROOT=/usr
SCRATCH=/tmp/iocsweep-bench-incremental
THREADS=2

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) BIN="${2:?--binary needs a value}"; shift ;;
    --root) ROOT="${2:?--root needs a value}"; shift ;;
    --scratch) SCRATCH="${2:?--scratch needs a value}"; shift ;;
    --threads) THREADS="${2:?--threads needs a value}"; shift ;;
    -h|--help) usage 0 ;;
    *) echo "incremental.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
  shift
done
if [[ -z "$BIN" ]]; then
  for b in "$REPO/build-bench/iocsweep" "$REPO/build-release/iocsweep" "$REPO/build-dev/iocsweep"; do
    if [[ -x "$b" ]]; then BIN="$b"; break; fi
  done
fi
[[ -x "$BIN" ]] || { echo "incremental.sh: no iocsweep binary; build one or pass --binary" >&2; exit 2; }

mkdir -p "$SCRATCH"
CACHE="$SCRATCH/scan.db"
rm -f "$CACHE" "$CACHE-wal" "$CACHE-shm"

sweep() {  # $1: report file; prints wall seconds
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  "$BIN" scan -q --threads "$THREADS" --cache "$CACHE" -o "$1" "$ROOT" || rc=$?
  t1=$(date +%s.%N)
  if [[ $rc -ne 0 && $rc -ne 1 && $rc -ne 3 ]]; then
    echo "incremental.sh: iocsweep exited $rc" >&2
    exit 1
  fi
  echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}'
}

echo "binary:  $BIN ($("$BIN" --version))"
echo "root:    $ROOT, threads $THREADS"
echo "uptime: $(uptime)"
first=$(sweep "$SCRATCH/first.json")
second=$(sweep "$SCRATCH/second.json")
echo "uptime: $(uptime)"
/usr/bin/python3 - "$SCRATCH/first.json" "$SCRATCH/second.json" "$first" "$second" "$CACHE" <<'PY'
import json, os, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
t1, t2 = float(sys.argv[3]), float(sys.argv[4])
for name, d, t in (("first (cold cache)", a, t1), ("second (unchanged)", b, t2)):
    s = d["stats"]
    print(f"{name:20s} {t:8.2f} s wall  files_scanned={s['files_scanned']} files_cached={s['files_cached']} "
          f"bytes_scanned={s['bytes_scanned']} findings={s['findings']} errors={s['errors']}")
print(f"cache file: {os.path.getsize(sys.argv[5]) / 2**20:.1f} MiB")
print(f"ratio second/first: {t2 / t1 * 100:.1f}% (target <= 10%)")
PY
