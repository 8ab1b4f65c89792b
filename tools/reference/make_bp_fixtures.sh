#!/usr/bin/env bash
# make_bp_fixtures.sh - regenerates Dumu's Basic Pitch parity fixtures, tests/fixtures/bp/<name>/,
# from the developer test data with the reference implementation (@spotify/basic-pitch 1.0.1 on
# @tensorflow/tfjs 3.21.0, cpu backend: the bit-exact one).
#
#   tools/reference/make_bp_fixtures.sh [TESTDATA_DIR]
#
# TESTDATA_DIR defaults to $DUMU_TESTDATA_DIR, then ../shared/testdata next to the repository.
# Needs ffmpeg (with libsoxr) and node; installs the pinned npm packages (npm ci) if missing.
# Takes about a minute and a half (the cpu backend runs ~2.5 s per 2-s model window).
#
# Per fixture:
#   input.flac    the excerpt, 16-bit PCM FLAC, 22050 Hz mono: ffmpeg cuts it from the source,
#                 mixes to mono and resamples with soxr. Both sides read the same samples
#                 (int16 / 32768): the reference through `ffmpeg -f f32le` (exact for s16),
#                 Dumu through dumu_audio_decode_file.
#   meta.json     source, excerpt, n_samples, n_frames, `rows` = the frame range [A, B) whose
#                 activations are stored, note parameters, reference timings.
#   note.f32, onset.f32 (rows x 88), contour.f32 (rows x 264)
#                 the reference's stitched network outputs for frames [A, B) only, float32 LE,
#                 row-major. One fixture keeps every frame; the others keep frames 130..289,
#                 which straddle the window seams at frames 142 and 284, to stay small.
#   notes.json    reference notes for the whole excerpt, Dumu's default parameters (onset 0.5,
#                 frame 0.3, min length 11 frames, inferred onsets, melodia, energy tolerance
#                 11), in emission order; layout in bp_common.js.
#   notes_rows.json  (range fixtures) reference notes computed from the stored rows alone, as
#                 if they were the whole output: lets the test check note creation without the
#                 network.
#   notes_min5.json  (dm01_bass only) the same with the JS package's default min length, 5.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
testdata=${1:-${DUMU_TESTDATA_DIR:-$root/../shared/testdata}}
dest=$root/tests/fixtures/bp
work=$here/out/fixtures # git-ignored

command -v ffmpeg >/dev/null || { echo "make_bp_fixtures: ffmpeg not found" >&2; exit 1; }
command -v node >/dev/null || { echo "make_bp_fixtures: node not found" >&2; exit 1; }
[ -d "$testdata" ] || { echo "make_bp_fixtures: no test data at $testdata" >&2; exit 1; }
if [ ! -d "$here/node_modules/@spotify/basic-pitch" ]; then
    (cd "$here" && npm ci --no-audit --no-fund)
fi

# Dumu's default note parameters (the Python package's), passed to the reference explicitly.
note_args=(--onset 0.5 --frame 0.3 --min-len 11 --melodia 1 --infer 1 --energy-tol 11)

# name | source file under the test data | start s | duration s | stored rows (all or A:B)
fixtures=(
    "dm01_bass|dm01_freedoom2_d_ddtbl2/bass.flac|4|8|all"
    "dm04_bass|dm04_openmsx_train_filled_with_cash/bass.flac|3|10|130:290"
    "dm06_mix|dm06_blupi_music007/mix.flac|5|10|130:290"
    "dr02_mix|dr02_supertux_chipdisko/mix.flac|10|10|130:290"
)

ffmpeg_version=$(ffmpeg -version | head -n 1)
rm -rf "$work"
mkdir -p "$work" "$dest"

for spec in "${fixtures[@]}"; do
    IFS='|' read -r name src start dur rows <<<"$spec"
    echo "== $name: $src from ${start} s, ${dur} s" >&2
    out=$dest/$name
    tmp=$work/$name
    rm -rf "$out"
    mkdir -p "$out" "$tmp"

    ffmpeg -v error -nostdin -ss "$start" -t "$dur" -i "$testdata/$src" \
        -af aresample=resampler=soxr -ar 22050 -ac 1 \
        -c:a flac -sample_fmt s16 -map_metadata -1 -fflags +bitexact -flags:a +bitexact \
        "$out/input.flac"
    ffmpeg -v error -nostdin -i "$out/input.flac" -f f32le -c:a pcm_f32le "$tmp/input.f32"

    node "$here/basic_pitch_ref.js" --backend cpu --input "$tmp/input.f32" --out "$tmp/ref" \
        "${note_args[@]}"
    cp "$tmp/ref/notes.json" "$out/notes.json"

    n_frames=$(node -e "console.log(require('$tmp/ref/meta.json').n_frames)")
    if [ "$rows" = all ]; then
        a=0
        b=$n_frames
        cp "$tmp/ref/note.f32" "$tmp/ref/onset.f32" "$tmp/ref/contour.f32" "$out/"
    else
        a=${rows%:*}
        b=${rows#*:}
        [ "$b" -le "$n_frames" ] || { echo "make_bp_fixtures: rows $rows > $n_frames" >&2; exit 1; }
        dd if="$tmp/ref/note.f32" of="$out/note.f32" bs=352 skip="$a" count=$((b - a)) status=none
        dd if="$tmp/ref/onset.f32" of="$out/onset.f32" bs=352 skip="$a" count=$((b - a)) status=none
        dd if="$tmp/ref/contour.f32" of="$out/contour.f32" bs=1056 skip="$a" count=$((b - a)) \
            status=none
        node "$here/bp_notes_ref.js" --in "$tmp/ref" --rows "$a:$b" --out "$out/notes_rows.json" \
            "${note_args[@]}"
    fi
    if [ "$name" = dm01_bass ]; then
        node "$here/bp_notes_ref.js" --in "$tmp/ref" --out "$out/notes_min5.json" \
            --onset 0.5 --frame 0.3 --min-len 5 --melodia 1 --infer 1 --energy-tol 11
    fi

    FX_NAME=$name FX_SRC=$src FX_START=$start FX_DUR=$dur FX_A=$a FX_B=$b \
    FX_FFMPEG=$ffmpeg_version FX_REF=$tmp/ref/meta.json FX_OUT=$out/meta.json node -e '
        const fs = require("fs");
        const e = process.env;
        const ref = JSON.parse(fs.readFileSync(e.FX_REF, "utf8"));
        const files = fs.readdirSync(require("path").dirname(e.FX_OUT)).sort();
        const meta = {
            name: e.FX_NAME,
            source: { file: e.FX_SRC, start_s: Number(e.FX_START), duration_s: Number(e.FX_DUR) },
            input: "input.flac: 16-bit PCM FLAC, 22050 Hz mono (ffmpeg soxr resampler)",
            ffmpeg: e.FX_FFMPEG,
            reference: ref.reference,
            backend: ref.backend,
            sample_rate: ref.sample_rate,
            n_samples: ref.n_samples,
            n_frames: ref.n_frames,
            rows: [Number(e.FX_A), Number(e.FX_B)],
            params: ref.params,
            n_notes: ref.n_notes,
            timing_s: ref.timing_s,
            files: files.concat(["meta.json"]).filter((f, i, a) => a.indexOf(f) === i),
        };
        fs.writeFileSync(e.FX_OUT, JSON.stringify(meta, null, 1) + "\n");
    '
    echo "   $n_frames frames, rows [$a, $b) stored, $(du -sh "$out" | cut -f1)" >&2
done
du -sh "$dest" >&2
