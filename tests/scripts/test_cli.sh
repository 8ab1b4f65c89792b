#!/usr/bin/env bash
# CLI behaviour: help/version, documented exit codes on bad input, and a real transcription
# checked with an independent MIDI parser (Debian's python3-mido).
set -uo pipefail
CLI=${DUMU_CLI:?run through ctest}
TD=${DUMU_TESTDATA_DIR:?}
export DUMU_MODELS_DIR=${DUMU_MODELS_DIR:?}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

check() { # check NAME EXPECTED_CODE CMD...
    local name=$1 want=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [[ $got == "$want" ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name: exit $got, expected $want"; sed 's/^/  | /' "$tmp/err" | head -5
    fi
}

check help 0 "$CLI" --help
expect help-mentions-exit-codes grep -q "exit codes" "$tmp/out"
check version 0 "$CLI" --version
expect version-text grep -q "^dumu [0-9]" "$tmp/out"
check no-args 1 "$CLI"
check unknown-command 1 "$CLI" frobnicate
check missing-output 1 "$CLI" transcribe "$TD/dm04_openmsx_train_filled_with_cash/bass.flac"
check bad-threshold 1 "$CLI" transcribe x.wav -o "$tmp/x.mid" --onset-threshold 7
check bad-tempo 1 "$CLI" transcribe x.wav -o "$tmp/x.mid" --tempo fast

head -c 100000 /dev/urandom >"$tmp/noise.mp3"
check not-audio 2 "$CLI" transcribe "$tmp/noise.mp3" -o "$tmp/x.mid" -q
expect not-audio-message grep -qi "noise.mp3" "$tmp/err"
expect not-audio-no-output test ! -e "$tmp/x.mid"
: >"$tmp/empty.wav"
check empty-file 2 "$CLI" transcribe "$tmp/empty.wav" -o "$tmp/x.mid" -q
check missing-file 2 "$CLI" transcribe "$tmp/nope.flac" -o "$tmp/x.mid" -q
head -c 30000 "$TD/dm04_openmsx_train_filled_with_cash/bass.flac" >"$tmp/cut.flac"
check truncated-flac 2 "$CLI" transcribe "$tmp/cut.flac" -o "$tmp/x.mid" -q
check too-long 2 "$CLI" transcribe "$TD/dm04_openmsx_train_filled_with_cash/bass.flac" -o "$tmp/x.mid" -q --max-duration 5
check no-model 3 "$CLI" transcribe "$TD/dm04_openmsx_train_filled_with_cash/bass.flac" -o "$tmp/x.mid" -q --models "$tmp/none"
check unwritable 4 "$CLI" transcribe "$TD/dm04_openmsx_train_filled_with_cash/bass.flac" -o "$tmp/no/such/dir/x.mid" -q

# Silence is valid input: a MIDI file with no notes.
"$CLI" convert "$TD/dm04_openmsx_train_filled_with_cash/bass.flac" -o "$tmp/src.wav" --rate 44100
ffmpeg -loglevel error -y -f lavfi -i anullsrc=r=44100:cl=stereo -t 3 "$tmp/silence.wav"
check silence 0 "$CLI" transcribe "$tmp/silence.wav" -o "$tmp/silence.mid" --json "$tmp/silence.json" -q
expect silence-no-notes $PY -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(len(d['notes']) != 0)" "$tmp/silence.json"

# The tempo of a full mix (truth 90 BPM) lands in the JSON.
check transcribe-mix 0 "$CLI" transcribe "$TD/dm04_openmsx_train_filled_with_cash/mix.flac" \
    -o "$tmp/mix.mid" --json "$tmp/mix.json" -q
expect mix-tempo $PY -c "import json,sys; b=json.load(open(sys.argv[1]))['bpm']; sys.exit(abs(b-90)/90 > 0.04)" "$tmp/mix.json"
check fixed-tempo 0 "$CLI" transcribe "$TD/dm04_openmsx_train_filled_with_cash/bass.flac" \
    -o "$tmp/fixed.mid" --json "$tmp/fixed.json" -q --tempo 97.5
expect fixed-tempo-json $PY -c "import json,sys; sys.exit(json.load(open(sys.argv[1]))['bpm'] != 97.5)" "$tmp/fixed.json"

# A real bass stem: notes in the bass register, a tempo event that matches the JSON, and the
# MIDI file agrees with the JSON note list.
check transcribe 0 "$CLI" transcribe "$TD/dm04_openmsx_train_filled_with_cash/bass.flac" \
    -o "$tmp/bass.mid" --json "$tmp/bass.json" --progress json
expect progress-json-lines grep -q '"stage":"basic-pitch"' "$tmp/err"
expect midi-matches-json $PY - "$tmp/bass.mid" "$tmp/bass.json" <<'PYEOF'
import json, sys, mido
mid = mido.MidiFile(sys.argv[1]); js = json.load(open(sys.argv[2]))
# a tempo map that follows the beats: its median tempo is the detected one
tempos = sorted(m.tempo for t in mid.tracks for m in t if m.type == "set_tempo")
assert len(tempos) > 10, tempos
bpm = mido.tempo2bpm(tempos[len(tempos) // 2])
assert abs(bpm - js["bpm"]) / js["bpm"] < 0.03, (bpm, js["bpm"])
assert 60 <= bpm <= 240, bpm
keys = [m.key for t in mid.tracks for m in t if m.type == "key_signature"]
assert len(keys) == 1, keys
progs = [m.program for t in mid.tracks for m in t if m.type == "program_change"]
assert progs == [33], progs
notes, on = [], {}
for t in mid.tracks:
    now = 0
    for m in t:
        now += m.time
        if m.type == "note_on" and m.velocity > 0: on[m.note] = now
        elif m.type in ("note_off", "note_on") and m.note in on:
            notes.append((on.pop(m.note), now, m.note))
assert len(notes) == len(js["notes"]) > 20, (len(notes), len(js["notes"]))
# bass mode: every note carries a confidence in (0, 1), and they are not all alike
conf = [n["confidence"] for n in js["notes"]]
assert all(0.0 < c < 1.0 for c in conf) and max(conf) - min(conf) > 0.1, conf
# every note plays at its JSON time through the file's tempo map (mido's seconds)
starts = sorted(n["start"] for n in js["notes"])
played, now = [], 0.0
for m in mid:  # merged tracks, m.time in seconds
    now += m.time
    if m.type == "note_on" and m.velocity > 0: played.append(now)
assert all(abs(a - b) < 0.002 for a, b in zip(sorted(played), starts)), "tempo map timing"
pitches = sorted(n["pitch"] for n in js["notes"])
median = pitches[len(pitches) // 2]
assert 36 <= median <= 52, median  # the stem plays MIDI 43-48
PYEOF

# extract: a song (first 10 s of a mix) to the MIDI of its bass line, with the bass stem.
ffmpeg -loglevel error -y -i "$TD/dm04_openmsx_train_filled_with_cash/mix.flac" -t 10 "$tmp/song.flac"
check extract 0 "$CLI" extract "$tmp/song.flac" -o "$tmp/song.mid" --json "$tmp/song.json" \
    --stem-out "$tmp/song_bass.wav" --progress json
expect extract-progress-stages grep -q '"stage":"separate"' "$tmp/err"
expect extract-says-source grep -q "notes from the other stem" "$tmp/err"
expect extract-notes $PY - "$tmp/song.json" "$tmp/song_bass.wav" <<'PYEOF'
import json, sys, wave
js = json.load(open(sys.argv[1]))
pitches = sorted(n["pitch"] for n in js["notes"])
assert len(pitches) >= 10, len(pitches)
assert 36 <= pitches[len(pitches) // 2] <= 52, pitches  # the bass part plays MIDI 43-48
assert js["source"] == "other_stem", js["source"]  # htdemucs puts this synth bass in "other"
PYEOF
expect extract-stem-length $PY -c "
import sys, struct
d = open(sys.argv[1], 'rb').read()
assert d[:4] == b'RIFF' and d[8:12] == b'WAVE'
i = 12; fmt = None
while i + 8 <= len(d):
    cid, n = d[i:i+4], struct.unpack('<I', d[i+4:i+8])[0]
    if cid == b'fmt ': fmt = struct.unpack('<HHIIHH', d[i+8:i+24])
    if cid == b'data': frames = n // (fmt[1] * fmt[5] // 8)
    i += 8 + n + (n & 1)
assert fmt[0] == 3 and fmt[1] == 2 and fmt[2] == 44100, fmt
assert abs(frames - 441000) <= 1, frames
" "$tmp/song_bass.wav"

# separate: only the stems asked for, in the folder asked for.
check separate 0 "$CLI" separate "$tmp/song.flac" -o "$tmp/stems" --stems drums,bass --format flac -q
expect separate-files test -s "$tmp/stems/bass.flac" -a -s "$tmp/stems/drums.flac" -a ! -e "$tmp/stems/vocals.flac"
check separate-bad-stem 1 "$CLI" separate "$tmp/song.flac" -o "$tmp/stems" --stems bass,kazoo
check transcribe-no-extract-option 1 "$CLI" transcribe "$tmp/song.flac" -o "$tmp/x.mid" --stem-out "$tmp/b.wav"

# Bass mode (default) against raw Basic Pitch notes, quantisation and the notation exports.
check raw-mode 0 "$CLI" transcribe "$TD/dm03_freedoom2_d_read_m/bass.flac" -o "$tmp/raw.mid" \
    --json "$tmp/raw.json" --mode raw -q
check bass-mode 0 "$CLI" transcribe "$TD/dm03_freedoom2_d_read_m/bass.flac" -o "$tmp/b.mid" \
    --json "$tmp/b.json" --quantize 1/16 --musicxml "$tmp/b.musicxml" --tab "$tmp/b.txt" -q
expect bass-mode-json $PY - "$tmp/raw.json" "$tmp/b.json" "$tmp/b.mid" <<'PYEOF'
import json, sys, mido
raw, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert raw["mode"] == "raw" and b["mode"] == "bass"
# the bass line drops Basic Pitch's octave doublings of this part (60 notes, MIDI 38-45)
assert len(b["notes"]) < len(raw["notes"]), (len(b["notes"]), len(raw["notes"]))
assert all(23 <= n["pitch"] <= 67 for n in b["notes"])
assert b["beats_per_bar"] in (3, 4) and "name" in b["key"]
# one document: the server's result members, the run's own first
for k in ("tempo_status", "key_found", "time_signature", "beats", "bars", "duration", "n_notes"):
    assert k in b, k
assert b["n_notes"] == len(b["notes"]) and b["input"].endswith("bass.flac") and "dumu_version" in b
# quantised: every onset of the written MIDI file on the DAW's 1/16 grid, a whole number of
# ppq/4 ticks after bar 1's downbeat (the last time signature: after a pickup, if any), and
# the JSON's onsets are the file's (mido's seconds through the tempo map)
mid = mido.MidiFile(sys.argv[3])
q, bar1, ticks = mid.ticks_per_beat // 4, 0, []
for t in mid.tracks:
    now = 0
    for m in t:
        now += m.time
        if m.type == "time_signature": bar1 = max(bar1, now)
        if m.type == "note_on" and m.velocity > 0: ticks.append(now)
assert len(ticks) > 20, len(ticks)
off = [tk for tk in ticks if (tk - bar1) % q]
assert not off, off[:5]
played, now = [], 0.0
for m in mid:
    now += m.time
    if m.type == "note_on" and m.velocity > 0: played.append(now)
# (two notes of one pitch on one tick are one note in the file)
assert all(min(abs(p - n["start"]) for p in played) < 0.002 for n in b["notes"]), "onsets"
PYEOF
expect musicxml-written grep -q "<score-partwise" "$tmp/b.musicxml"
expect tab-written grep -q "^G|" "$tmp/b.txt"
check bad-quantize 1 "$CLI" transcribe x.wav -o "$tmp/x.mid" --quantize 1/7
check bad-mode 1 "$CLI" transcribe x.wav -o "$tmp/x.mid" --mode piano

# dumu eval on a one-item manifest (8 s of dm03, its notes cut to match).
mkdir -p "$tmp/ev/one"
ffmpeg -loglevel error -y -i "$TD/dm03_freedoom2_d_read_m/mix.flac" -t 8 "$tmp/ev/one/mix.flac"
ffmpeg -loglevel error -y -i "$TD/dm03_freedoom2_d_read_m/bass.flac" -t 8 "$tmp/ev/one/bass.flac"
awk -F, 'NR == 1 || $1 < 7.9' "$TD/dm03_freedoom2_d_read_m/bass_notes.csv" >"$tmp/ev/one/bass_notes.csv"
sha=$(sha256sum "$tmp/ev/one/mix.flac" | cut -c1-64)
cat >"$tmp/ev/manifest.json" <<JSON
{"items": [{"id": "one", "kind": "midi_render", "tempo_bpm": 119.89, "key": "C major",
  "files": {"mix": {"path": "one/mix.flac", "sha256": "$sha"}, "bass": {"path": "one/bass.flac"},
            "notes": {"path": "one/bass_notes.csv"}}},
 {"id": "no-truth", "kind": "real_recording", "files": {"mix": {"path": "one/mix.flac"}}}]}
JSON
check eval 0 "$CLI" eval "$tmp/ev/manifest.json" --json "$tmp/ev/out.json" \
    --stem-cache "$tmp/ev/cache/x"
expect eval-table grep -q "^mean" "$tmp/out"
expect eval-stem-cached test -s "$tmp/ev/cache/x/one-${sha:0:16}.wav"
expect eval-other-cached test -s "$tmp/ev/cache/x/one-${sha:0:16}-other.wav"
# A second run on the cached stem scores exactly the same; two manifests add a row over both.
check eval-cached 0 "$CLI" eval "$tmp/ev/manifest.json" "$tmp/ev/manifest.json" \
    --json "$tmp/ev/out2.json" --stem-cache "$tmp/ev/cache/x" --notes-out "$tmp/ev/notes"
expect eval-mean-all grep -q "^mean all" "$tmp/out"
expect eval-calibration-table grep -q "^confidence of bass mode" "$tmp/out"
# --notes-out: the notes as bass_notes.csv (plus confidence), as many as the JSON's n_est, and
# the calibration bins count every one of them
expect eval-notes-out $PY - "$tmp/ev/notes/one.csv" "$tmp/ev/out2.json" <<'PYEOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
it = json.load(open(sys.argv[2]))["items"][0]
assert len(rows) == it["bass"]["onset"]["n_est"] > 0, len(rows)
assert all(float(r["onset_s"]) < float(r["offset_s"]) and 0 < float(r["confidence"]) < 1 for r in rows)
bins = it["note_errors"]["bass"]["confidence_bins"]
assert sum(b["n"] for b in bins) == len(rows)
assert sum(b["right"] for b in bins) == it["bass"]["onset"]["n_matched"]
PYEOF
expect eval-cached-same $PY - "$tmp/ev/out.json" "$tmp/ev/out2.json" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert len(b["items"]) == 2 and len(b["manifests"]) == 2 and b["mean"]["n_items"] == 2
assert not a["items"][0]["stem_cached"] and all(it["stem_cached"] for it in b["items"])
assert a["items"][0]["source"] == "bass_stem" and b["items"][0]["source"] == "bass_stem"
for it in a["items"] + b["items"]:
    del it["stem_cached"]
assert b["items"][0] == a["items"][0] == b["items"][1], (a["items"][0], b["items"][0])
assert b["manifests"][0]["mean"] == a["mean"]
assert b["mean"]["bass"] == a["mean"]["bass"] and b["mean"]["n_items"] == 2
g = b["items"][0]["grid"]  # one drifting 4/4 item: the grid table's fields are there and in range
assert 0 <= g["beat"]["f1"] <= 1 and 0 <= g["downbeat"]["f1"] <= 1 and g["n_tempo_events"] >= 1
assert g["ref_time_signature"] == "4/4" and not g["tempo_constant"]
assert b["mean"]["grid"]["acc2_count"] == 2 * a["mean"]["grid"]["acc2_count"]
assert b["mean"]["grid"]["drifting"]["n_items"] == 2 and b["mean"]["grid"]["steady"]["n_items"] == 0
PYEOF
expect eval-json $PY - "$tmp/ev/out.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["items"]) == 1 and d["mean"]["n_items"] == 1
it = d["items"][0]
assert it["bass"]["onset"]["f1"] > 0.8, it["bass"]["onset"]
assert it["bass"]["onset"]["f1"] >= it["raw"]["onset"]["f1"]
assert it["bpm_ok"] and 0 <= it["key_score"] <= 1 and it["bass_sdr_db"] > 5
PYEOF
echo '{"nothing": 1}' >"$tmp/ev/bad.json"
check eval-bad-manifest 2 "$CLI" eval "$tmp/ev/bad.json"
check eval-missing-manifest 2 "$CLI" eval "$tmp/ev/none.json"

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
