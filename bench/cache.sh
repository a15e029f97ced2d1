#!/bin/bash
# Scan cache cost (issue 16): four cases, interleaved, N rounds:
#   no cache     iocsweep scan --archives off -o /dev/null ROOT
#   first sweep  the same with --cache FILE, FILE removed before
#   re-sweep     the same again with the FILE the first sweep left
#   stat walk    find ROOT -printf '%i %s %T@ %C@ %D\n' > /dev/null
# and prints a markdown table of medians (wall, user+sys CPU, peak RSS)
# with the within-round ratios first sweep / no cache (target <= 1.05) and
# re-sweep / stat walk (target <= 1.2). Not a timed test: run it by hand and
# keep `uptime` with the figures (the machine may be shared). See
# docs/performance.md, Scan cache.
#
#   bash bench/cache.sh [--binary PATH] [--root DIR] [--rounds N] [--threads N]
#
#   --binary PATH  iocsweep to run (default <repo>/build-bench/iocsweep, else
#                  build-release, build-dev, build/dev)
#   --root DIR     tree to sweep (default /usr/share); the cache stores only
#                  files on ext2/3/4, xfs, btrfs or f2fs changed over 70 s ago
#   --rounds N     rounds (default 5)
#   --threads N    worker threads (default: iocsweep's own)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN=""
ROOT=/usr/share
ROUNDS=5
THREADS=()

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) BIN="${2:?--binary needs a value}"; shift ;;
    --root) ROOT="${2:?--root needs a value}"; shift ;;
    --rounds) ROUNDS="${2:?--rounds needs a value}"; shift ;;
    --threads) THREADS=(--threads "${2:?--threads needs a value}"); shift ;;
    -h|--help) usage 0 ;;
    *) echo "cache.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
  shift
done
if [[ -z "$BIN" ]]; then
  for b in "$REPO/build-bench/iocsweep" "$REPO/build-release/iocsweep" "$REPO/build-dev/iocsweep" \
           "$REPO/build/dev/iocsweep"; do
    if [[ -x "$b" ]]; then BIN="$b"; break; fi
  done
fi
[[ -x "$BIN" ]] || { echo "cache.sh: no iocsweep binary; build one or pass --binary" >&2; exit 2; }

# A private directory (the cache refuses one others can write), outside ROOT.
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
CACHE="$SCRATCH/scan.db"
TIMES="$SCRATCH/times"

run() {  # $1: case name; the rest: command. Appends "case wall user sys rss_kb".
  local name="$1" rc=0
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$SCRATCH/t" "$@" > /dev/null 2> "$SCRATCH/err" || rc=$?
  # 1: findings, 3: incomplete (unreadable files): still a full sweep.
  if [[ $rc -ne 0 && $rc -ne 1 && $rc -ne 3 ]]; then
    echo "cache.sh: $name exited $rc:" >&2
    cat "$SCRATCH/err" >&2
    exit 1
  fi
  echo "$name $(tail -1 "$SCRATCH/t")" >> "$TIMES"
}

scan=("$BIN" scan --archives off "${THREADS[@]}" -o /dev/null)
echo "binary: $BIN ($("$BIN" --version))"
echo "root:   $ROOT ($(stat -f -c %T "$ROOT")), $(find "$ROOT" -type f | wc -l) files, $ROUNDS rounds"
echo "uptime: $(uptime)"
run warm-up find "$ROOT" -printf '%i %s %T@ %C@ %D\n'
: > "$TIMES"
for ((i = 0; i < ROUNDS; i++)); do
  run no-cache "${scan[@]}" "$ROOT"
  rm -f "$CACHE" "$CACHE-wal" "$CACHE-shm"
  run first-sweep "${scan[@]}" --cache "$CACHE" "$ROOT"
  run re-sweep "${scan[@]}" --cache "$CACHE" "$ROOT"
  run stat-walk find "$ROOT" -printf '%i %s %T@ %C@ %D\n'
done
echo "uptime: $(uptime)"
echo
/usr/bin/python3 - "$TIMES" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, wall, user, sys_, rss = line.split()
    runs.setdefault(name, []).append((float(wall), float(user) + float(sys_), int(rss)))
med = lambda xs: statistics.median(xs)
print("| case | median wall s | median user+sys s | median peak RSS MiB | walls s |")
print("|---|---|---|---|---|")
for name in ("no-cache", "first-sweep", "re-sweep", "stat-walk"):
    r = runs[name]
    print(f"| {name} | {med([x[0] for x in r]):.2f} | {med([x[1] for x in r]):.2f} | "
          f"{med([x[2] for x in r]) / 1024:.0f} | {' '.join(f'{x[0]:.2f}' for x in r)} |")
first = [a[0] / b[0] for a, b in zip(runs["first-sweep"], runs["no-cache"])]
again = [a[0] / b[0] for a, b in zip(runs["re-sweep"], runs["stat-walk"])]
print()
print(f"first sweep / no cache (wall, per round): median {med(first):.2f} "
      f"({' '.join(f'{x:.2f}' for x in first)}; target <= 1.05)")
print(f"re-sweep / stat walk (wall, per round): median {med(again):.2f} "
      f"({' '.join(f'{x:.2f}' for x in again)}; target <= 1.2)")
PY
