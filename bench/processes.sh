#!/bin/bash
# Issue 17: sweeping this machine's live processes with iocsweep against
# yara scanning every pid, side by side in one run:
#   iocsweep scan --no-builtin --rules RULES --processes --threads 2
#   for pid in PIDS: yara RULES pid        (one process after another)
#   PIDS | xargs -P 2 -n 1 yara RULES      (two at a time, as iocsweep's 2 threads)
# with the same rules (RULES: default the built-in pack's rules/ directory,
# which yara compiles too), interleaved, --runs times each after one warm-up.
# Prints the median wall time, CPU (user+sys), peak RSS of the largest
# process (iocsweep, or the largest yara), the processes each read, and
# the ratios. iocsweep also reads every executable (/proc/PID/exe) and hashes
# it; yara does not. See docs/performance.md.
#
#   bash bench/processes.sh [--runs N] [--binary PATH] [--rules DIR_OR_FILE]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=5
BIN="$REPO/build/release/iocsweep"
RULES="$REPO/rules"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --binary) BIN="$2"; shift 2 ;;
    --rules) RULES="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root: other users' processes are read" >&2; exit 2; }
command -v yara >/dev/null || { echo "needs yara (apt-get install yara)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "no $BIN: cmake --preset release && cmake --build --preset release --target iocsweep" >&2; exit 2; }
if [ -d "$RULES" ]; then mapfile -t rule_files < <(find "$RULES" -name '*.yar' | sort); else rule_files=("$RULES"); fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# yara -C needs one compiled file: compile the same sources once.
# The externals iocsweep defines, empty as in memory (yara -d at compile).
ext=(-d filename= -d filepath= -d extension= -d filetype= -d owner= -d md5=)
yarac "${ext[@]}" "${rule_files[@]}" "$scratch/rules.yarc"

# time -f: elapsed, user, sys, max RSS (KiB).
timed() { /usr/bin/time -f '%e %U %S %M' -o "$scratch/t" "$@" >/dev/null 2>"$scratch/err" || true; tail -n 1 "$scratch/t"; }
pids() { ps -e -o pid= | awk -v self=$$ '$1 != self {print $1}'; }

run_iocsweep() { timed "$BIN" scan --no-builtin --rules "$RULES" --processes --threads 2 --format json -o "$scratch/r.json"; }
run_yara_seq() {
  /usr/bin/time -f '%e %U %S %M' -o "$scratch/t" bash -c \
    'for p in $(ps -e -o pid=); do yara -C "$0" "$p" >/dev/null 2>&1; done' "$scratch/rules.yarc" || true
  tail -n 1 "$scratch/t"
}
run_yara_par() {
  /usr/bin/time -f '%e %U %S %M' -o "$scratch/t" bash -c \
    'ps -e -o pid= | xargs -P 2 -n 1 yara -C "$0" >/dev/null 2>&1' "$scratch/rules.yarc" || true
  tail -n 1 "$scratch/t"
}

run_iocsweep >/dev/null; run_yara_seq >/dev/null; run_yara_par >/dev/null
: >"$scratch/iocsweep"; : >"$scratch/yara_seq"; : >"$scratch/yara_par"
for _ in $(seq "$RUNS"); do
  run_iocsweep >>"$scratch/iocsweep"
  run_yara_seq >>"$scratch/yara_seq"
  run_yara_par >>"$scratch/yara_par"
done
python3 - "$scratch" "$(pids | wc -l)" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], sys.argv[2]
def med(name):
    rows = [list(map(float, l.split())) for l in open(f"{d}/{name}") if l.strip()]
    return (statistics.median(r[0] for r in rows), statistics.median(r[1] + r[2] for r in rows),
            max(r[3] for r in rows) / 1024)
r = json.load(open(f"{d}/r.json"))
s = r["stats"]
print(f"processes on the machine: {n}; iocsweep swept {s['processes_scanned']}, read "
      f"{s['process_memory_bytes'] / 1e6:.0f} MB of memory, {len(r['errors'])} errors, {len(r['skipped'])} skipped")
base = med("yara_seq")
for name in ("iocsweep", "yara_seq", "yara_par"):
    w, c, m = med(name)
    print(f"{name:9s} wall {w:6.2f} s ({w / base[0]:.2f} x yara one by one)  cpu {c:6.2f} s  peak RSS {m:6.1f} MB")
PY
