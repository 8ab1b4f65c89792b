#!/usr/bin/env bash
# bench_tempo.sh - tempo of every testdata mix by libdumu (bench/tempo_driver.c) and by aubio
# (Debian's aubio-tools, `aubio tempo FILE`), against the manifest's tempo_bpm.
#
#   bench/bench_tempo.sh [BUILD_DIR]     (default: build; needs BUILD_DIR/libdumu.a)
#
# Env: DUMU_TESTDATA_DIR (default: ../shared/testdata next to the checkout). A detection is a
# hit when it is within 4 % of the truth. Times are wall-clock seconds per file: ours without
# the decode (mono mix-down, resampling and analysis), aubio's with its decode; both are
# rough on a shared machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
data=${DUMU_TESTDATA_DIR:-$root/../shared/testdata}
lib="$build/libdumu.a"
[[ -f $lib ]] || { echo "no $lib: build libdumu first" >&2; exit 1; }
[[ -f $data/manifest.json ]] || { echo "no $data/manifest.json" >&2; exit 1; }
command -v aubio > /dev/null || { echo "aubio not found (apt install aubio-tools)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I "$root/include" "$root/bench/tempo_driver.c" \
    "$lib" $(pkg-config --libs sndfile soxr fftw3f libcjson) -lpthread -lm \
    -o "$tmp/tempo_driver"

# id <tab> truth (or -) <tab> mix path relative to the manifest.
python3 - "$data/manifest.json" > "$tmp/items.tsv" << 'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for it in m["items"]:
    t = it.get("tempo_bpm")
    print("%s\t%s\t%s" % (it["id"], "-" if t is None else t, it["files"]["mix"]["path"]))
PY

row='%-38s %8s %8s %8s %9s %9s %7s %7s\n'
printf "$row" item truth ours aubio "ours err" "aubio err" "t ours" "t aubio"
n=0
hits_ours=0
hits_aubio=0
pct() { awk -v x="$1" -v t="$2" 'BEGIN {printf "%+.1f%%", 100 * (x / t - 1)}'; }
hit() { awk -v x="$1" -v t="$2" 'BEGIN {e = x / t - 1; exit !(e <= 0.04 && e >= -0.04)}'; }
while IFS=$'\t' read -r id truth rel; do
    f="$data/$rel"
    read -r _ ours _ _ secs < <("$tmp/tempo_driver" "$f")
    t0=$(date +%s.%N)
    theirs=$(aubio tempo "$f" 2> /dev/null | awk '/bpm/ {print $1}' | tail -1)
    t1=$(date +%s.%N)
    taub=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    secs=$(printf '%.2f' "$secs")
    if [[ $truth == - ]]; then
        printf "$row" "$id" - "$ours" "$theirs" - - "$secs" "$taub"
        continue
    fi
    n=$((n + 1))
    if hit "$ours" "$truth"; then hits_ours=$((hits_ours + 1)); fi
    if hit "$theirs" "$truth"; then hits_aubio=$((hits_aubio + 1)); fi
    printf "$row" "$id" "$truth" "$ours" "$theirs" "$(pct "$ours" "$truth")" \
        "$(pct "$theirs" "$truth")" "$secs" "$taub"
done < "$tmp/items.tsv"
echo "hits within 4 %: ours $hits_ours/$n, aubio $hits_aubio/$n"
