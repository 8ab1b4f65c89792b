#!/usr/bin/env bash
# bench_transcribe.sh - speed of `dumu transcribe` against the reference Basic Pitch
# (@spotify/basic-pitch 1.0.1 on @tensorflow/tfjs 3.21, wasm backend: its fastest here), side by
# side on the same audio. See bench/README.md for what is timed and how to read the table.
#
#   bench/bench_transcribe.sh [--runs N] [--threads N] [--only 30s|4min]
#
# Environment: DUMU_BIN (default build/dumu), DUMU_TESTDATA_DIR (default ../shared/testdata),
# DUMU_MODELS_DIR (passed through to dumu). Writes its inputs and outputs to bench/out/
# (git-ignored). Needs ffmpeg (with libsoxr) and node; runs `npm ci` in tools/reference if the
# pinned packages are missing. Uses hyperfine when installed, else a timing loop; either way
# the number reported is the median of N runs (default 3) of the whole process, wall clock.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
dumu=${DUMU_BIN:-$root/build/dumu}
testdata=${DUMU_TESTDATA_DIR:-$root/../shared/testdata}
ref_dir=$root/tools/reference
out=$here/out/transcribe
runs=3
threads=2
only=
target=20

while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench_transcribe: unknown argument $1" >&2; exit 2 ;;
    esac
done

die() { echo "bench_transcribe: $*" >&2; exit 1; }
[ -x "$dumu" ] || die "$dumu not found: build it first (cmake --build build), or set DUMU_BIN"
command -v ffmpeg >/dev/null || die "ffmpeg not found"
command -v node >/dev/null || die "node not found"
[ -d "$testdata" ] || die "no test data at $testdata"
if [ ! -d "$ref_dir/node_modules/@spotify/basic-pitch" ] ||
    [ ! -d "$ref_dir/node_modules/@tensorflow/tfjs-backend-wasm" ]; then
    echo "bench_transcribe: installing the reference (npm ci in tools/reference)" >&2
    (cd "$ref_dir" && npm ci --no-audit --no-fund >&2)
fi
mkdir -p "$out"

# ---- inputs -------------------------------------------------------------------------------
# 1. a 30 s clip: dr01 mix.flac as it is (44.1 kHz stereo FLAC).
# 2. a 4-minute track: bench_make_long (bench/lib.sh) over the test-data mixes, cut at 240 s.
clip30=$testdata/dr01_frozen_bubble_introzik/mix.flac
long=$out/long_4min.flac
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_make_long "$testdata" 240 "$long" || exit 1

# ---- timing -------------------------------------------------------------------------------
# median_time CMD...: prints the median wall time in seconds of `runs` runs of CMD.
median_time() {
    if command -v hyperfine >/dev/null; then
        local json=$out/hyperfine.json cmd
        cmd=$(printf '%q ' "$@")
        hyperfine --runs "$runs" --style none --shell bash --export-json "$json" -- "$cmd" \
            >/dev/null
        node -e 'const r = require(process.argv[1]).results[0]; console.log(r.median.toFixed(3))' \
            "$json"
    else
        local times=() t0 t1
        for _ in $(seq "$runs"); do
            t0=$(date +%s%N)
            "$@" >/dev/null 2>&1
            t1=$(date +%s%N)
            times+=("$(((t1 - t0) / 1000000))")
        done
        printf '%s\n' "${times[@]}" | sort -n |
            awk '{a[NR] = $1} END {printf "%.3f\n", a[int((NR + 1) / 2)] / 1000}'
    fi
}

duration_of() {
    ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"
}

# The reference reads raw float32 22050 Hz mono; ffmpeg makes it with soxr, like the fixtures.
# to_f32_cmd IN OUT: sets the array `conv` to that command.
to_f32_cmd() {
    conv=(ffmpeg -v error -nostdin -y -i "$1" -af aresample=resampler=soxr -ar 22050 -ac 1
        -f f32le -c:a pcm_f32le "$2")
}

# Dumu's default note parameters, given to the reference so both do the same note work.
note_args=(--onset 0.5 --frame 0.3 --min-len 11 --melodia 1 --infer 1 --energy-tol 11)

rows=()
for item in "30s|dr01 mix (30 s clip)|$clip30" "4min|test-data mixes (4 min)|$long"; do
    IFS='|' read -r key label input <<<"$item"
    [ -z "$only" ] || [ "$only" = "$key" ] || continue
    dur=$(duration_of "$input")
    f32=$out/$key.f32
    echo "== $label: $input (${dur} s)" >&2

    # Sanity run of each side (not timed), so a failure shows its message.
    "$dumu" transcribe "$input" -o "$out/$key.mid" --threads "$threads" --quiet
    to_f32_cmd "$input" "$f32"
    "${conv[@]}"
    node "$ref_dir/basic_pitch_ref.js" --backend wasm --input "$f32" --out "$out/ref_$key" \
        --no-activations "${note_args[@]}" 2>/dev/null >/dev/null

    t_conv=$(median_time "${conv[@]}")
    t_ours=$(median_time "$dumu" transcribe "$input" -o "$out/$key.mid" --threads "$threads" \
        --quiet)
    t_node=$(median_time node "$ref_dir/basic_pitch_ref.js" --backend wasm --input "$f32" \
        --out "$out/ref_$key" --no-activations "${note_args[@]}")
    ref_split=$(node -e 'const m = require(process.argv[1]);
        console.log(m.timing_s.model.toFixed(2) + " " + m.timing_s.notes.toFixed(2) + " " +
                    m.n_notes)' "$out/ref_$key/meta.json")
    read -r t_model t_notes n_ref_notes <<<"$ref_split"
    t_ref=$(awk -v a="$t_conv" -v b="$t_node" 'BEGIN {printf "%.3f", a + b}')
    ratio=$(awk -v r="$t_ref" -v o="$t_ours" 'BEGIN {printf "%.1f", r / o}')
    ok=$(awk -v x="$ratio" -v t="$target" 'BEGIN {print (x >= t) ? "PASS" : "FAIL"}')
    rows+=("$label|$dur|$t_ours|$t_ref|$t_conv|$t_model|$t_notes|$ratio|$ok")
    echo "   ours $t_ours s; reference $t_ref s (conversion $t_conv, model $t_model," \
        "notes $t_notes, $n_ref_notes notes)" >&2
done

# ---- report -------------------------------------------------------------------------------
{
    echo "Dumu transcribe vs reference Basic Pitch (tfjs $(node -p \
        "require('$ref_dir/node_modules/@tensorflow/tfjs/package.json').version") wasm)"
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
    echo "machine: $(nproc) cores, $cpu, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "runs: median of $runs, wall clock of the whole process; dumu --threads $threads;" \
        "reference = ffmpeg conversion to 22050 Hz mono f32 + node (wasm, 1 thread)"
    echo
    printf '%-26s %9s %9s %14s %8s %8s %8s %8s  %s\n' input "duration" "ours (s)" \
        "reference (s)" "ref conv" "ref net*" "ref note*" ratio "target >= ${target}x"
    all=PASS
    for r in "${rows[@]}"; do
        IFS='|' read -r label dur t_ours t_ref t_conv t_model t_notes ratio ok <<<"$r"
        [ "$ok" = PASS ] || all=FAIL
        printf '%-26s %8.1fs %9s %14s %8s %8s %8s %7sx  %s\n' "$label" "$dur" "$t_ours" \
            "$t_ref" "$t_conv" "$t_model" "$t_notes" "$ratio" "$ok"
    done
    echo
    echo "* ref net, ref note: the reference's own split of its last run (meta.json timing_s)"
    echo "target >= ${target}x: $all"
} | tee "$out/results.txt"
