#!/bin/bash
# test_musicxml.sh - MuseScore opens the MusicXML that libdumu writes (src/io/musicxml.c).
#
# The unit test tests/unit/test_music_musicxml.c, run with DUMU_MUSICXML_DIR set, leaves a
# score of every ground-truth bass line of the test data (on 1/16 and 1/8-triplet grids, each
# without and with a pickup measure: 3/16 and 3/4) with a .expect file: the grid's subdivisions
# per quarter, then "start_step pitch" for each note a player must sound, steps counted from
# the start of the score (tick 0, the pickup's start). Debian's musescore3 converts each score to MIDI headless; the conversion must
# succeed without a warning or error message, and the MIDI (read by tests/scripts/midi_dump.py,
# python3-mido) must sound exactly the expected notes: same count, same sounding pitches (the
# part is written an octave up with an octave-down transposition), same onsets in grid steps.
# Needs: mscore3 (Debian musescore3), /usr/bin/python3 with python3-mido, and the environment
# ctest sets (DUMU_CLI: the build's dumu binary, next to tests/; DUMU_TESTDATA_DIR).
set -euo pipefail

: "${DUMU_CLI:?run through ctest}" "${DUMU_TESTDATA_DIR:?run through ctest}"
here=$(cd "$(dirname "$0")" && pwd)
unit=$(dirname "$DUMU_CLI")/tests/test_music_musicxml
command -v mscore3 >/dev/null || { echo "FAIL: mscore3 (Debian musescore3) is not installed"; exit 1; }
[ -x "$unit" ] || { echo "FAIL: $unit not built"; exit 1; }

dir=$(mktemp -d /tmp/dumu_musicxml.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -m 700 "$dir/xdg"
export XDG_RUNTIME_DIR=$dir/xdg # Qt warns on stderr without one
DUMU_MUSICXML_DIR=$dir "$unit" >"$dir/unit.log" 2>&1 || { cat "$dir/unit.log"; echo "FAIL: unit test"; exit 1; }

n=0
for xml in "$dir"/*.musicxml; do
    base=${xml%.musicxml}
    if ! QT_QPA_PLATFORM=offscreen timeout 120 mscore3 -o "$base.mid" "$xml" >"$base.log" 2>&1; then
        cat "$base.log"; echo "FAIL: mscore3 could not convert $(basename "$xml")"; exit 1
    fi
    # MuseScore reports import problems on stderr but still exits 0.
    if grep -v -e '^	to <' -e '^\.\.\. success!$' -e '^convert <' "$base.log" | grep -q .; then
        cat "$base.log"; echo "FAIL: mscore3 complained about $(basename "$xml")"; exit 1
    fi
    /usr/bin/python3 "$here/midi_dump.py" "$base.mid" >"$base.json"
    /usr/bin/python3 - "$base.json" "$base.expect" <<'PY'
import json, sys
dump = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().split("\n")
sub = int(lines[0])
want = sorted(tuple(int(v) for v in l.split()) for l in lines[1:] if l.strip())
ppq = dump["ppq"]
got = sorted((round(n["start_tick"] * sub / ppq), n["pitch"]) for n in dump["notes"])
if got != want:
    missing = sorted(set(want) - set(got))[:5]
    extra = sorted(set(got) - set(want))[:5]
    sys.exit("FAIL: %s: %d notes sounded, %d expected; missing %s, extra %s"
             % (sys.argv[1], len(got), len(want), missing, extra))
PY
    echo "ok  $(basename "$xml"): $(($(wc -l <"$base.expect") - 1)) notes, MuseScore's MIDI sounds them all"
    n=$((n + 1))
done
[ "$n" -eq 26 ] || { echo "FAIL: expected 26 scores, found $n"; exit 1; }
echo "PASS: $n MusicXML scores open in MuseScore and sound as written"
