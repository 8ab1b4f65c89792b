# shellcheck shell=bash
# bench/lib.sh - helpers the bench scripts share (sourced, not run).

# bench_make_long TESTDATA SECONDS OUT: every test-data mix.flac, in name order, concatenated
# as many times over as needed and cut at SECONDS (ffmpeg concat filter), written to OUT as
# 44.1 kHz stereo 16-bit FLAC. Made once: an existing OUT is reused.
bench_make_long() {
    local testdata=$1 secs=$2 dst=$3 total=0 passes args=() graph='' k=0 f d mixes
    [ -s "$dst" ] && return 0
    mapfile -t mixes < <(printf '%s\n' "$testdata"/*/mix.flac | sort)
    if [ ! -f "${mixes[0]}" ]; then
        echo "bench: no mix.flac under $testdata" >&2
        return 1
    fi
    for f in "${mixes[@]}"; do
        d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
        total=$(awk -v a="$total" -v b="$d" 'BEGIN {print a + b}')
    done
    passes=$(awk -v s="$secs" -v t="$total" 'BEGIN {print int(s / t) + 1}')
    for _ in $(seq "$passes"); do
        for f in "${mixes[@]}"; do
            args+=(-i "$f")
            graph+="[$k:a]"
            k=$((k + 1))
        done
    done
    echo "bench: making $dst ($passes passes over ${#mixes[@]} mixes)" >&2
    ffmpeg -v error -nostdin -y "${args[@]}" -filter_complex "${graph}concat=n=$k:v=0:a=1[a]" \
        -map '[a]' -t "$secs" -ar 44100 -ac 2 -c:a flac -sample_fmt s16 "$dst.tmp.flac"
    mv "$dst.tmp.flac" "$dst"
}
