#!/bin/bash
# Scan cache cost (issue 16): four cases, interleaved, N rounds:
#   no cache     iocsweep scan --archives off -o /dev/null ROOT
#   first sweep  the same with --cache FILE, FILE removed before
#   re-sweep     the same again with the FILE the first sweep left
#   stat walk    find ROOT -printf '%i %s %T@ %C@ %D\n' > /dev/null
# and prints a markdown table of medians (wall, user+sys CPU, peak RSS)
# with the within-round ratios first sweep / no cache (target <= 1.05) and
# re-sweep / stat walk (target <= 1.2). Given --binary more than once (a
# build before and after a change, say), each round runs the four cases for
# each binary in turn, and the table has rows for each. Not a timed test: run it by hand and
# keep `uptime` with the figures (the machine may be shared). See
# docs/performance.md, Scan cache.
#
#   bash bench/cache.sh [--binary PATH] [--root DIR] [--rounds N] [--threads N] [--load N]
#
#   --binary PATH  iocsweep to run (default <repo>/build-bench/iocsweep, else
#                  build-release, build-dev, build/dev); may be repeated
#   --root DIR     tree to sweep (default /usr/share); the cache stores only
#                  files on ext2/3/4, xfs, btrfs or f2fs changed over 70 s ago
#   --rounds N     rounds (default 5)
#   --threads N    worker threads (default: iocsweep's own)
#   --load N       N busy processes (one shell loop each) run beside every
#                  case, for the target "also with the machine loaded"
#                  (default 0: nothing else runs)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BINS=()
ROOT=/usr/share
ROUNDS=5
THREADS=()
LOAD=0

usage() { sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) BINS+=("${2:?--binary needs a value}"); shift ;;
    --root) ROOT="${2:?--root needs a value}"; shift ;;
    --rounds) ROUNDS="${2:?--rounds needs a value}"; shift ;;
    --threads) THREADS=(--threads "${2:?--threads needs a value}"); shift ;;
    --load) LOAD="${2:?--load needs a value}"; shift ;;
    -h|--help) usage 0 ;;
    *) echo "cache.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
  shift
done
if ((${#BINS[@]} == 0)); then
  for b in "$REPO/build-bench/iocsweep" "$REPO/build-release/iocsweep" "$REPO/build-dev/iocsweep" \
           "$REPO/build/dev/iocsweep"; do
    if [[ -x "$b" ]]; then BINS=("$b"); break; fi
  done
fi
[[ $LOAD =~ ^[0-9]+$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "cache.sh: --load and --rounds take a number" >&2; exit 2; }
((${#BINS[@]})) || { echo "cache.sh: no iocsweep binary; build one or pass --binary" >&2; exit 2; }
for b in "${BINS[@]}"; do [[ -x "$b" ]] || { echo "cache.sh: $b: not an executable" >&2; exit 2; }; done

# A private directory (the cache refuses one others can write), outside ROOT.
SCRATCH="$(mktemp -d)"
LOAD_PIDS=()
cleanup() {
  if ((${#LOAD_PIDS[@]})); then kill "${LOAD_PIDS[@]}" 2>/dev/null || true; fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
CACHE="$SCRATCH/scan.db"
TIMES="$SCRATCH/times"

run() {  # $1: case name; the rest: command. Appends "case wall user sys rss_kb" (the name
         # carries the binary's number when there are several).
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

scan_of() { printf '%s\0' "$1" scan --archives off "${THREADS[@]}" -o /dev/null; }
for i in "${!BINS[@]}"; do echo "binary $((i + 1)): ${BINS[$i]} ($("${BINS[$i]}" --version))"; done
echo "root:   $ROOT ($(stat -f -c %T "$ROOT")), $(find "$ROOT" -type f | wc -l) files, $ROUNDS rounds"
for ((i = 0; i < LOAD; i++)); do
  (while :; do :; done) &
  LOAD_PIDS+=($!)
done
echo "load:   $LOAD busy processes"
echo "uptime: $(uptime)"
# Warm: the tree's metadata and its contents (a first round would
# otherwise read from disk what the later rounds find in the page cache).
run warm-up find "$ROOT" -printf '%i %s %T@ %C@ %D\n'
mapfile -d '' -t scan < <(scan_of "${BINS[0]}")
run warm-up "${scan[@]}" "$ROOT"
: > "$TIMES"
for ((i = 0; i < ROUNDS; i++)); do
  for b in "${!BINS[@]}"; do
    mapfile -d '' -t scan < <(scan_of "${BINS[$b]}")
    tag=""
    if ((${#BINS[@]} > 1)); then tag="#$((b + 1))"; fi
    run "no-cache$tag" "${scan[@]}" "$ROOT"
    rm -f "$CACHE" "$CACHE-wal" "$CACHE-shm"
    run "first-sweep$tag" "${scan[@]}" --cache "$CACHE" "$ROOT"
    run "re-sweep$tag" "${scan[@]}" --cache "$CACHE" "$ROOT"
    run "stat-walk$tag" find "$ROOT" -printf '%i %s %T@ %C@ %D\n'
  done
done
echo "uptime: $(uptime)"
echo
/usr/bin/python3 - "$TIMES" "${#BINS[@]}" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, wall, user, sys_, rss = line.split()
    runs.setdefault(name, []).append((float(wall), float(user) + float(sys_), int(rss)))
tags = [""] if sys.argv[2] == "1" else [f"#{i + 1}" for i in range(int(sys.argv[2]))]
med = lambda xs: statistics.median(xs)
# A tree too small to time gives 0.00 s: its ratio is shown as inf.
ratio = lambda a, b: a / b if b > 0 else float("inf")
print("| case | median wall s | median user+sys s | median peak RSS MiB | walls s |")
print("|---|---|---|---|---|")
for tag in tags:
    for name in ("no-cache", "first-sweep", "re-sweep", "stat-walk"):
        r = runs[name + tag]
        print(f"| {name}{tag} | {med([x[0] for x in r]):.2f} | {med([x[1] for x in r]):.2f} | "
              f"{med([x[2] for x in r]) / 1024:.0f} | {' '.join(f'{x[0]:.2f}' for x in r)} |")
print()
for tag in tags:
    first = [ratio(a[0], b[0]) for a, b in zip(runs["first-sweep" + tag], runs["no-cache" + tag])]
    again = [ratio(a[0], b[0]) for a, b in zip(runs["re-sweep" + tag], runs["stat-walk" + tag])]
    label = f"binary {tag[1:]}: " if tag else ""
    print(f"{label}first sweep / no cache (wall, per round): median {med(first):.2f} "
          f"({' '.join(f'{x:.2f}' for x in first)}; target <= 1.05)")
    print(f"{label}re-sweep / stat walk (wall, per round): median {med(again):.2f} "
          f"({' '.join(f'{x:.2f}' for x in again)}; target <= 1.2)")
PY
