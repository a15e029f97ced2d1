#!/bin/bash
# The static binary against the dynamic one on case (a) of bench/run.sh:
# the system tree with the built-in pack, archives off, 2 threads. Both
# builds are Release from the same source; the commands run interleaved
# (dynamic, static, dynamic, ...) after one untimed warm-up of each, and the
# medians are compared. See docs/performance.md.
#
#   bash bench/static_vs_dynamic.sh [--runs N] [DYNAMIC_BIN STATIC_BIN]
#
# Defaults: build/release/iocsweep and build/static/iocsweep (cmake
# --preset release / static, then cmake --build --preset release / static).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=5
if [[ "${1:-}" == "--runs" ]]; then RUNS="${2:?--runs needs a value}"; shift 2; fi
DYN="${1:-$REPO/build/release/iocsweep}"
STA="${2:-$REPO/build/static/iocsweep}"
for b in "$DYN" "$STA"; do [[ -x "$b" ]] || { echo "static_vs_dynamic.sh: $b not built" >&2; exit 1; }; done
ROOTS=()
for r in /usr/share /usr/lib; do [[ -d "$r" ]] && ROOTS+=("$r"); done
OUT="$(mktemp -d /tmp/iocsweep-static-bench-XXXXXX)"
trap 'rm -rf -- "$OUT"' EXIT

run() {  # bin label -> wall seconds on stdout
  local start end
  start=$(date +%s.%N)
  "$1" scan --threads 2 --archives off -q -o "$OUT/$2.json" -- "${ROOTS[@]}" || [[ $? -eq 1 || $? -eq 3 ]]
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

run "$DYN" warm >/dev/null
run "$STA" warm >/dev/null
: >"$OUT/dyn" && : >"$OUT/sta"
for ((i = 0; i < RUNS; i++)); do
  run "$DYN" dyn >>"$OUT/dyn"
  run "$STA" sta >>"$OUT/sta"
done
d=$(median <"$OUT/dyn")
s=$(median <"$OUT/sta")
files_d=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["files_scanned"])' "$OUT/dyn.json")
files_s=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["files_scanned"])' "$OUT/sta.json")
echo "case (a), ${ROOTS[*]}, $RUNS runs each, interleaved; files scanned: dynamic $files_d, static $files_s"
echo "dynamic: median $d s   ($(tr '\n' ' ' <"$OUT/dyn"))"
echo "static:  median $s s   ($(tr '\n' ' ' <"$OUT/sta"))"
echo "ratio static/dynamic: $(echo "scale=3; $s / $d" | bc)"
