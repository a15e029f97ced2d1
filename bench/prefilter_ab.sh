#!/bin/bash
# What the prefilter saves, in isolation: iocsweep with its default
# prefilter and with --no-prefilter, interleaved, on the quick system-tree
# roots, with the built-in pack (case a) and the generated rule set
# (case b). Prints one line per run and the medians.
#
#   bash bench/prefilter_ab.sh [--binary PATH] [--rules DIR] [--rounds N]
#
# Defaults: build-bench/iocsweep (run bench/run.sh first to build it and
# generate the rules), /tmp/iocsweep-bench/rules, 5 rounds.
set -euo pipefail
BIN=build-bench/iocsweep
RULES=/tmp/iocsweep-bench/rules
ROUNDS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BIN=$2; shift 2 ;;
    --rules) RULES=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "prefilter_ab.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || { echo "prefilter_ab.sh: no binary at $BIN (run bench/run.sh first)" >&2; exit 2; }
[ -d "$RULES" ] || { echo "prefilter_ab.sh: no rules at $RULES (run bench/run.sh first)" >&2; exit 2; }
ROOTS=(/usr/share /usr/lib/gcc /usr/lib/python3.11)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  for case in a b; do
    for mode in default no-prefilter; do
      args=(scan --threads 2 --archives off -o "$OUT/report.json")
      [ "$mode" = no-prefilter ] && args+=(--no-prefilter)
      [ "$case" = b ] && args+=(--no-builtin --rules "$RULES")
      # Exit status 1 means findings: still a timed run.
      /usr/bin/time -f "$case $mode %e %U %S %M" -a -o "$OUT/times" "$BIN" "${args[@]}" -- "${ROOTS[@]}" >/dev/null ||
        [ $? -eq 1 ]
      tail -1 "$OUT/times"
    done
  done
done
echo "case mode: median wall s, median CPU s, max RSS MiB"
python3 - "$OUT/times" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) != 6: continue
    rows.setdefault((f[0], f[1]), []).append((float(f[2]), float(f[3]) + float(f[4]), int(f[5]) / 1024))
for (case, mode), r in sorted(rows.items()):
    print(f"{case} {mode}: {statistics.median(x[0] for x in r):.2f} s, "
          f"{statistics.median(x[1] for x in r):.2f} CPU s, {max(x[2] for x in r):.0f} MiB")
PY
