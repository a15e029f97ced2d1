#!/bin/bash
# Issue 15, part 3: sweeping a disk image against sweeping the same files as
# a directory tree. Copies a slice of /usr (regular files only, a few
# thousand, a few hundred MB) plus one synthesised positive into TREE, puts
# exactly that tree into filesystem images without mounting anything
# (ext4: mke2fs -d; FAT32: mkfs.fat + mcopy -s; NTFS: mkntfs + wimcapture /
# wimapply, as tests/disk_image_fixtures.cpp does), then times
#   iocsweep scan --threads 2 --format ndjson -o OUT TREE
#   iocsweep scan --threads 2 --format ndjson -o OUT --image IMG
# interleaved (tree, ext4, fat32, ntfs, tree, ...), after one untimed
# warm-up of each (so every timed run reads from the page cache), with the
# built-in pack and archives on (the defaults). Prints the medians, files/s,
# MB/s, the ratio image/tree and what each report counted. See
# docs/performance.md.
#
#   bash bench/image_vs_tree.sh [--runs N] [--binary PATH] [--scratch DIR]
#                               [--fs LIST] [--signature-base DIR] [--tz-ab]
#                               [--keep]
#
#   --runs N               timed runs per command (default 5)
#   --binary PATH          iocsweep to time (default build/release/iocsweep:
#                          cmake --preset release; cmake --build --preset
#                          release --target iocsweep)
#   --scratch DIR          where the tree, images and reports go (default
#                          /tmp/iocsweep-image-bench; never the repository)
#   --fs LIST              comma-separated, of ext4,fat32,ntfs (default all
#                          three; one whose tools are missing is left out)
#   --signature-base DIR   also time tree against ext4 with --signature-base
#                          DIR (one warm-up, one timed run each; slow)
#   --tz-ab                also time every case with TZ=:/etc/localtime in
#                          the same rounds (the runs are made with TZ unset,
#                          as on a stock host: then glibc's mktime, which
#                          TSK's FAT driver calls for every time stamp it
#                          reads, stats /etc/localtime on each call)
#   --keep                 keep the tree and images (deleted by default)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=5
BIN="$REPO/build/release/iocsweep"
SCRATCH=/tmp/iocsweep-image-bench
FS_LIST=ext4,fat32,ntfs
SIGBASE=""
KEEP=0
TZ_AB=0
THREADS=2
# The slice of /usr: big binaries (gcc), many small sources (python), text
# and gzip'd documents (doc: archives are opened), locale data.
ROOTS=(/usr/lib/gcc /usr/lib/python3.11 /usr/share/doc /usr/share/i18n)

usage() { sed -n '2,35p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="${2:?--runs needs a value}"; shift ;;
    --binary) BIN="${2:?--binary needs a value}"; shift ;;
    --scratch) SCRATCH="${2:?--scratch needs a value}"; shift ;;
    --fs) FS_LIST="${2:?--fs needs a value}"; shift ;;
    --signature-base) SIGBASE="${2:?--signature-base needs a value}"; shift ;;
    --keep) KEEP=1 ;;
    --tz-ab) TZ_AB=1 ;;
    -h | --help) usage 0 ;;
    *) echo "image_vs_tree.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
  shift
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "image_vs_tree.sh: --runs must be a positive integer" >&2; exit 2; }
[[ -x "$BIN" ]] || { echo "image_vs_tree.sh: no iocsweep at $BIN (see --help)" >&2; exit 2; }
[[ -z "$SIGBASE" || -d "$SIGBASE/yara" ]] || { echo "image_vs_tree.sh: $SIGBASE/yara is not a directory" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "image_vs_tree.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
[[ -n "$SIGBASE" ]] && SIGBASE="$(cd "$SIGBASE" && pwd -P)"

# The runs see TZ unset, whatever the caller's shell has (see --tz-ab).
unset TZ

say() { printf '[image_vs_tree.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

mkdir -p "$SCRATCH"
SCRATCH="$(cd "$SCRATCH" && pwd -P)"
case "$SCRATCH/" in
  "$(cd "$REPO" && pwd -P)"/*) echo "image_vs_tree.sh: --scratch must be outside the repository" >&2; exit 2 ;;
esac
TREE="$SCRATCH/tree"
OUT="$SCRATCH/out"
cleanup() {
  if [[ $KEEP -eq 0 ]]; then rm -rf -- "$TREE" "$SCRATCH"/*.img "$SCRATCH/tree.wim" "$SCRATCH/mkntfs.log"; fi
}
trap cleanup EXIT

# ---- filesystems to build: only those whose tools are here --------------------
declare -A NEED=([ext4]="mke2fs" [fat32]="mkfs.fat mcopy" [ntfs]="mkntfs wimcapture wimapply")
declare -A PKG=([ext4]="e2fsprogs" [fat32]="dosfstools mtools" [ntfs]="ntfs-3g wimtools")
FSES=()
IFS=, read -r -a wanted <<<"$FS_LIST"
for fs in "${wanted[@]}"; do
  [[ -n "${NEED[$fs]:-}" ]] || { echo "image_vs_tree.sh: unknown filesystem $fs (ext4, fat32, ntfs)" >&2; exit 2; }
  missing=""
  for t in ${NEED[$fs]}; do command -v "$t" >/dev/null 2>&1 || missing+=" $t"; done
  if [[ -n "$missing" ]]; then
    say "leaving $fs out: missing$missing (apt-get install ${PKG[$fs]})"
  else
    FSES+=("$fs")
  fi
done
[[ ${#FSES[@]} -gt 0 ]] || { echo "image_vs_tree.sh: no filesystem left to build" >&2; exit 2; }

# ---- the tree: regular files only ---------------------------------------------
# No symbolic links (the walker does not follow them below a root, and
# images would hold them as their own entries) and no hard links (cp -R
# without -a copies each name as its own file, as an image holds it).
say "copying ${ROOTS[*]} into $TREE"
rm -rf -- "$TREE"
mkdir -p "$TREE"
for r in "${ROOTS[@]}"; do
  [[ -d "$r" ]] || continue
  mkdir -p "$TREE$(dirname "$r")"
  cp -R --no-preserve=all "$r" "$TREE$(dirname "$r")/"
done
find "$TREE" ! -type f ! -type d -delete
# FAT folds case: of two names that differ only in case (Index.html and
# index.html), the second is removed, so that every image holds the tree.
find "$TREE" -type f | sort | awk '{ l = tolower($0); if (l in seen) print; seen[l] = 1 }' |
  while IFS= read -r clash; do rm -f -- "$clash"; done
# One synthesised positive: the built-in batch-script rule and the
# evtchk.bat filename indicator both match it, so every report must hold it.
mkdir -p "$TREE/positive"
printf '@echo off\r\ndel /f /q evtdiag.exe\r\ndel %%0\r\n' >"$TREE/positive/evtchk.bat"
tree_files=$(find "$TREE" -type f | wc -l)
tree_kb=$(du -sk --apparent-size "$TREE" | cut -f1)
say "tree: $tree_files files, $((tree_kb / 1024)) MiB"

# ---- images of exactly that tree, none mounted ----------------------------------
img_mb=$((tree_kb * 14 / 10 / 1024 + 96))
declare -A IMG
build_image() {  # fs -> IMG[fs], the image
  local fs=$1 img="$SCRATCH/$1.img"
  rm -f -- "$img"
  case "$fs" in
    ext4)
      # 4 KiB blocks as on a real disk (mke2fs would pick 1 KiB for a
      # filesystem this small).
      mke2fs -q -t ext4 -b 4096 -d "$TREE" -F "$img" "${img_mb}M" >&2 ;;
    fat32)
      mkfs.fat -F 32 -C "$img" $((img_mb * 1024)) >/dev/null
      # -D s: a name that still clashes is skipped, not asked about, and
      # mcopy then exits 1; the file counts below would show the loss.
      (cd "$TREE" && mcopy -s -D s -i "$img" ./* ::/ </dev/null) >&2 ||
        say "mcopy exited $?: some names were not copied into the FAT image" ;;
    ntfs)
      truncate -s "${img_mb}M" "$img"
      # (It warns on a file that it is no block device: noise here.)
      mkntfs -F -Q -q -s 512 -c 4096 "$img" >"$SCRATCH/mkntfs.log" 2>&1 || { cat "$SCRATCH/mkntfs.log" >&2; exit 1; }
      # ntfs-3g's tools make no directory without mounting; wimlib applies a
      # whole tree onto an unmounted NTFS volume.
      wimcapture "$TREE" "$SCRATCH/tree.wim" --compress=none >/dev/null
      wimapply "$SCRATCH/tree.wim" 1 "$img" >/dev/null
      rm -f -- "$SCRATCH/tree.wim" ;;
  esac
  IMG[$fs]=$img
}
for fs in "${FSES[@]}"; do
  say "building the $fs image (${img_mb} MiB)"
  build_image "$fs"
done

# ---- the runs --------------------------------------------------------------------
rm -rf -- "$OUT"
mkdir -p "$OUT"
run() {  # label extra-args... ; appends "label wall user sys maxrss_kb" to $OUT/times
  local label=$1 env=()
  shift
  # A label ending in +tz runs with TZ set (--tz-ab).
  [[ $label == *+tz ]] && env=(TZ=:/etc/localtime)
  env "${env[@]}" /usr/bin/time -f "$label %e %U %S %M" -a -o "$OUT/times" \
    "$BIN" scan --threads "$THREADS" --format ndjson -q -o "$OUT/$label.ndjson" "$@" >/dev/null ||
    [[ $? -eq 1 || $? -eq 3 ]]
}
target() {  # what -> TARGET, the arguments that name it
  if [[ ${1%+tz} == tree ]]; then TARGET=(-- "$TREE"); else TARGET=(--image "${IMG[${1%+tz}]}"); fi
}
CASES=(tree "${FSES[@]}")
if [[ $TZ_AB -eq 1 ]]; then
  for c in tree "${FSES[@]}"; do CASES+=("$c+tz"); done
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_time=$(date -u +%H:%M)
say "warm-up: one untimed run of each"
for c in "${CASES[@]}"; do
  target "$c"
  run "warm-$c" "${TARGET[@]}"
done
say "timing: $RUNS rounds of ${CASES[*]}"
for ((i = 1; i <= RUNS; i++)); do
  for c in "${CASES[@]}"; do
    target "$c"
    run "$c" "${TARGET[@]}"
  done
done
if [[ -n "$SIGBASE" ]]; then
  say "signature-base: one warm-up and one timed run of tree and ext4"
  for pass in warm-sb sb; do
    for c in tree ext4; do
      [[ $c == tree || -n "${IMG[ext4]:-}" ]] || continue
      target "$c"
      run "$pass-$c" --signature-base "$SIGBASE" "${TARGET[@]}"
    done
  done
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report --------------------------------------------------------------------
cmdline="bash bench/image_vs_tree.sh --runs $RUNS"
[[ "$FS_LIST" != ext4,fat32,ntfs ]] && cmdline+=" --fs $FS_LIST"
[[ -n "$SIGBASE" ]] && cmdline+=" --signature-base $SIGBASE"
[[ $TZ_AB -eq 1 ]] && cmdline+=" --tz-ab"
python3 - "$OUT" "$cmdline" "$TREE" "$img_mb" "$load_start" "$load_end" "$start_time" "$RUNS" "$THREADS" \
  "${CASES[@]}" <<'PY'
import json, statistics, subprocess, sys
out, cmdline, tree, img_mb, load_start, load_end, start, runs, threads, *cases = sys.argv[1:]
times = {}
for line in open(f"{out}/times"):
    f = line.split()
    if len(f) == 5:
        times.setdefault(f[0], []).append((float(f[1]), float(f[2]) + float(f[3]), int(f[4]) / 1024))

def stats(label):
    last = open(f"{out}/{label}.ndjson").read().splitlines()[-1]
    rec = json.loads(last)
    assert rec.get("record") == "scan_finished", f"{label}: report cut short"
    return rec["stats"]

def row(label, base=None):
    t = times[label]
    wall = statistics.median(x[0] for x in t)
    cpu = statistics.median(x[1] for x in t)
    s = stats(label)
    mbs = s["bytes_scanned"] / 1e6 / wall
    fps = s["files_scanned"] / wall
    return dict(wall=wall, cpu=cpu, rss=max(x[2] for x in t), mbs=mbs, fps=fps, s=s,
                spread=" ".join(f"{x[0]:.2f}" for x in t))

rows = {c: row(c) for c in cases}
def base_of(c):
    return rows["tree+tz" if c.endswith("+tz") else "tree"]
tree_row = rows["tree"]
print(f"### Image against tree, {subprocess.run(['date', '-u', '+%Y-%m-%d'], capture_output=True, text=True).stdout.strip()} {start} UTC\n")
print(f"Command: `{cmdline}` (iocsweep scan --threads {threads} --format ndjson -o FILE, built-in pack, archives on;"
      f" tree: `-- TREE`, image: `--image IMG`). Median of {runs} interleaved runs after one untimed warm-up each:"
      " tree and images are read from the page cache in every timed run. TZ is unset unless the row says"
      " TZ set (`TZ=:/etc/localtime`, with --tz-ab).\n")
print("| Case | throughput image / tree (MB/s) | files/s image / tree | median wall s | CPU s | files/s | MB/s | peak RSS MiB | runs (wall s) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for c in cases:
    r = rows[c]
    base = base_of(c)
    is_tree = c.split("+")[0] == "tree"
    ratio = "" if is_tree else f"**{r['mbs'] / base['mbs']:.2f}**"
    fratio = "" if is_tree else f"{r['fps'] / base['fps']:.2f}"
    name = "tree (directory)" if is_tree else f"{c.split('+')[0]} image ({img_mb} MiB)"
    if c.endswith("+tz"): name += ", TZ set"
    print(f"| {name} | {ratio} | {fratio} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['fps']:.0f} | {r['mbs']:.1f} | {r['rss']:.0f} | {r['spread']} |")
print("\nWhat each report counted (last timed run):\n")
keys = ["files_scanned", "bytes_scanned", "files_skipped", "skipped_unscanned", "errors", "findings", "yara_prefiltered"]
print("| Case | " + " | ".join(keys) + " | same files and bytes as the tree |")
print("|---|" + "---:|" * len(keys) + "---|")
for c in cases:
    s = rows[c]["s"]
    same = "" if c.split("+")[0] == "tree" else ("yes" if (s["files_scanned"], s["bytes_scanned"]) == (tree_row["s"]["files_scanned"], tree_row["s"]["bytes_scanned"]) else "**no**")
    print(f"| {c} | " + " | ".join(str(s.get(k, "")) for k in keys) + f" | {same} |")
if "sb-tree" in times:
    print("\nWith `--signature-base` (one warm-up, one timed run each):\n")
    print("| Case | throughput image / tree (MB/s) | wall s | CPU s | files | MB/s |")
    print("|---|---:|---:|---:|---:|---:|")
    sb = {c: row(f"sb-{c}") for c in ("tree", "ext4") if f"sb-{c}" in times}
    for c, r in sb.items():
        ratio = "" if c == "tree" else f"**{r['mbs'] / sb['tree']['mbs']:.2f}**"
        print(f"| {c} | {ratio} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['s']['files_scanned']} | {r['mbs']:.1f} |")
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
end = subprocess.run(["date", "-u", "+%H:%M"], capture_output=True, text=True).stdout.strip()
print(f"\nMachine: {nproc} CPUs; load average {load_start} at start, {load_end} at end; {start} to {end} UTC.")
PY
