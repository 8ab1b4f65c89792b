#!/usr/bin/env bash
# `dumu serve` end to end: a real server on a loopback port (--port 0, the port is read from
# its log) and curl as the client. Upload -> SSE to done -> result, MIDI (parsed with Debian's
# python3-mido), stems; Last-Event-ID replay; re-transcribe; cancel; kill -9 during a job and
# restart on the same data dir (the job completes); every bad input gets its status and
# {code, message}; queue full (429 + Retry-After); SIGTERM stops it cleanly.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
server_script

is_error_json() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d['code'], str) and d['message']" "$tmp/body"; }

wait_state() { # wait_state ID STATE SECONDS
    for _ in $(seq 1 $(($3 * 10))); do
        curl -s "$B/api/jobs/$1" -o "$tmp/state.json"
        [[ $(json "$tmp/state.json" "d.get('state')" 2>/dev/null) == "$2" ]] && return 0
        sleep 0.1
    done
    return 1
}
upload() { # upload FILE [CURL-ARGS...]: prints the job id
    local f=$1; shift
    curl -s -F "file=@$f" "$@" "$B/api/process" | $PY -c "import json,sys; print(json.load(sys.stdin)['job_id'])"
}

ffmpeg -loglevel error -y -t 8 -i "$TD/dm04_openmsx_train_filled_with_cash/mix.flac" "$tmp/clip.flac"
ffmpeg -loglevel error -y -t 4 -i "$TD/dm04_openmsx_train_filled_with_cash/mix.flac" "$tmp/short.flac"

: >"$tmp/server.log"
start_server
status health 200 "$B/health"
expect health-body $PY -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['status']=='ok' and d['models_loaded']=={'htdemucs':True,'basic_pitch':True} and d['workers']==1 and d['store']=={'kind':'sqlite','reachable':True}" "$tmp/body"

# ---- upload -> SSE -> result ------------------------------------------------------------
status upload 202 -F "file=@$tmp/clip.flac;filename=My Song (live).flac" "$B/api/process"
id=$(json "$tmp/body" "d['job_id']")
expect upload-queued test "$(json "$tmp/body" "d['state']")" = queued
curl -sN --max-time 150 "$B/api/progress/$id" >"$tmp/sse.txt"
expect sse-retry-first test "$(head -1 "$tmp/sse.txt")" = "retry: 2000"
expect sse-progress grep -q '^event: progress' "$tmp/sse.txt"
expect sse-stages grep -q '"stage":"separate"' "$tmp/sse.txt"
expect sse-done-last test "$(grep '^event:' "$tmp/sse.txt" | tail -1)" = "event: done"
expect sse-ids-increase $PY -c "
import sys
ids = [int(l[4:]) for l in open(sys.argv[1]) if l.startswith('id: ')]
assert len(ids) >= 3 and ids == sorted(set(ids)), ids" "$tmp/sse.txt"
last=$(grep '^id: ' "$tmp/sse.txt" | tail -1 | cut -c5-)
curl -sN --max-time 20 -H "Last-Event-ID: $((last - 1))" "$B/api/progress/$id" >"$tmp/sse2.txt"
expect sse-resume-only-newer test "$(grep -c '^id: ' "$tmp/sse2.txt")" = 1
expect sse-resume-done grep -q '^event: done' "$tmp/sse2.txt"

status result 200 "$B/api/result/$id"
cp "$tmp/body" "$tmp/result.json"
expect result-bpm $PY -c "import json,sys; b=json.load(open(sys.argv[1]))['bpm']; assert abs(b-90)/90 < 0.04, b" "$tmp/result.json"
expect result-notes $PY -c "
import json,sys; d=json.load(open(sys.argv[1]))
assert d['n_notes'] == len(d['notes']) > 0
assert all(1 <= n['velocity'] <= 127 and 0 <= n['start'] < n['end'] <= 8.1 for n in d['notes'])
assert all(0 < n['confidence'] < 1 for n in d['notes']), 'bass-mode notes carry a confidence'
assert d['tempo_status'] == 'found' and d['key_found'] is True, (d['tempo_status'], d['key_found'])
# bar lines of the MIDI as written: ascending, from 0 s, a bar of 4/4 at ~90 BPM apart (2.67 s)
b = d['bars']
assert b[0] == 0 and all(x < y for x, y in zip(b, b[1:])) and b[-1] <= d['duration'], b
assert all(abs((y - x) - 4 * 60 / d['bpm']) < 0.2 for x, y in zip(b[1:], b[2:])), b
assert d['filename'] == 'My_Song__live_-bass.mid', d['filename']
assert abs(d['duration'] - 8) < 0.01" "$tmp/result.json"
# dm04's synth bass is in htdemucs' other stem: the notes come from there (src/pipeline.c)
expect result-source test "$(json "$tmp/result.json" "d['source']")" = other_stem
json "$tmp/result.json" "d['midi_b64']" | base64 -d >"$tmp/b64.mid"
expect result-midi-mthd test "$(head -c 4 "$tmp/b64.mid")" = MThd
status midi-download 200 "$B/api/jobs/$id/midi"
expect midi-disposition grep -qi '^Content-Disposition: attachment; filename="My_Song__live_-bass.mid"' "$tmp/headers"
expect midi-same-bytes cmp -s "$tmp/body" "$tmp/b64.mid"
expect midi-parses $PY - "$tmp/body" "$tmp/result.json" <<'PYEOF'
import json, sys, mido
mid = mido.MidiFile(sys.argv[1]); js = json.load(open(sys.argv[2]))
ons = [m for t in mid.tracks for m in t if m.type == "note_on" and m.velocity > 0]
assert len(ons) == js["n_notes"] > 0, (len(ons), js["n_notes"])
# the tempo map follows the beats: its median tempo is the reported one
tempos = sorted(m.tempo for t in mid.tracks for m in t if m.type == "set_tempo")
assert abs(mido.tempo2bpm(tempos[len(tempos) // 2]) - js["bpm"]) / js["bpm"] < 0.03, tempos
keys = [m.key for t in mid.tracks for m in t if m.type == "key_signature"]
sigs = [m.numerator for t in mid.tracks for m in t if m.type == "time_signature"]
assert len(keys) == 1 and js["key"]["name"].startswith(keys[0].rstrip("m")), (keys, js["key"])
assert str(sigs[-1]) + "/4" == js["time_signature"], (sigs, js["time_signature"])
assert js["mode"] == "bass" and len(js["beats"]) > 8
PYEOF
status midi-constant 200 "$B/api/jobs/$id/midi?tempo=constant"
expect midi-constant-name grep -qi 'filename="My_Song__live_-bass-constant-tempo.mid"' "$tmp/headers"
expect midi-constant-parses $PY - "$tmp/body" "$tmp/result.json" <<'PYEOF'
import json, sys, mido
mid = mido.MidiFile(sys.argv[1]); js = json.load(open(sys.argv[2]))
tempos = [m.tempo for t in mid.tracks for m in t if m.type == "set_tempo"]
assert 1 <= len(tempos) <= 3 and abs(mido.tempo2bpm(tempos[-1]) - js["bpm"]) < 0.01, (tempos, js["bpm"])
# every note at its time in seconds, through the file's one tempo (a pickup's aside)
t, starts = 0.0, []
for m in mido.merge_tracks(mid.tracks):
    t += mido.tick2second(m.time, mid.ticks_per_beat, tempo) if m.time else 0.0
    if m.type == "set_tempo": tempo = m.tempo
    if m.type == "note_on" and m.velocity > 0: starts.append(t)
want = [n["start"] for n in js["notes"]]
assert len(starts) == len(want) and all(abs(a - b) < 0.003 for a, b in zip(starts, want)), (starts[:4], want[:4])
PYEOF
status midi-bad-tempo 400 "$B/api/jobs/$id/midi?tempo=fast"
status musicxml 200 "$B/api/jobs/$id/musicxml"
expect musicxml-body grep -q "<score-partwise" "$tmp/body"
expect musicxml-disposition grep -qi 'filename="My_Song__live_-bass.musicxml"' "$tmp/headers"
status tab 200 "$B/api/jobs/$id/tab"
expect tab-four-strings test "$(grep -c '^[GDAE]|' "$tmp/body")" -gt 0 -a "$(grep -c '^B|' "$tmp/body")" = 0
status tab-five 200 "$B/api/jobs/$id/tab?strings=5"
expect tab-five-strings grep -q "^B|" "$tmp/body"
# the page's view: lines of at most 60 characters, bar numbers over each system
status tab-width 200 "$B/api/jobs/$id/tab?width=60"
expect tab-width-fits $PY -c "
import sys
lines = open(sys.argv[1]).read().split('\n')
assert max(len(l) for l in lines[2:]) <= 60, max(map(len, lines))
assert lines[2].split() == ['1'] and lines[3].startswith('G|'), lines[:4]" "$tmp/body"
status tab-width-bad 400 "$B/api/jobs/$id/tab?width=5"
status tab-bad-strings 400 "$B/api/jobs/$id/tab?strings=7"
status stem-bass 200 "$B/api/jobs/$id/stems/bass"
expect stem-is-wav24 $PY -c "
import sys, wave
w = wave.open(sys.argv[1]); assert w.getsampwidth() == 3 and w.getframerate() == 44100
assert abs(w.getnframes() - 8 * 44100) <= 1, w.getnframes()" "$tmp/body"
cp "$tmp/body" "$tmp/stem.wav"
status stem-flac 200 "$B/api/jobs/$id/stems/bass?format=flac"
expect stem-flac-type grep -qi '^Content-Type: audio/flac' "$tmp/headers"
expect stem-flac-name grep -qi 'filename="My_Song__live_-bass.flac"' "$tmp/headers"
expect stem-flac-same-audio "$CLI" convert "$tmp/body" -o "$tmp/stem-flac.wav" --format wav24
expect stem-flac-equals-wav cmp -s "$tmp/stem-flac.wav" "$tmp/stem.wav"
status stem-mp3 200 "$B/api/jobs/$id/stems/bass?format=mp3"
expect stem-mp3-type grep -qi '^Content-Type: audio/mpeg' "$tmp/headers"
# the preview is a small fraction of the WAV (8 s of a bass stem: ~180 kbps against 2117 kbps)
expect stem-mp3-small test "$(stat -c %s "$tmp/body")" -lt "$(($(stat -c %s "$tmp/stem.wav") / 5))"
expect stem-mp3-decodes "$CLI" convert "$tmp/body" -o "$tmp/stem-mp3.wav"
status stem-mp3-range 206 -r 0-1023 "$B/api/jobs/$id/stems/bass?format=mp3"
status stem-bad-format 400 "$B/api/jobs/$id/stems/bass?format=ogg"
# the song's summary for pictures in every view: mono MP3 at 22.05 kHz, the whole 8 s
status mix-summary 200 "$B/api/jobs/$id/mix"
expect mix-summary-type grep -qi '^Content-Type: audio/mpeg' "$tmp/headers"
expect mix-summary-decodes "$CLI" convert "$tmp/body" -o "$tmp/mix.wav"
expect mix-summary-shape $PY -c "
import sys, wave
w = wave.open(sys.argv[1]); assert w.getnchannels() == 1 and w.getframerate() == 22050
assert abs(w.getnframes() / 22050 - 8) < 0.05, w.getnframes()" "$tmp/mix.wav"
status stem-range 206 -r 0-99 "$B/api/jobs/$id/stems/bass"
expect stem-range-bytes test "$(stat -c %s "$tmp/body")" = 100
expect stem-range-header grep -qi '^Content-Range: bytes 0-99/' "$tmp/headers"
status stem-range-unsatisfiable 416 -r 999999999- "$B/api/jobs/$id/stems/bass"
status stem-not-kept 404 "$B/api/jobs/$id/stems/drums"
status job 200 "$B/api/jobs/$id"
expect job-done test "$(json "$tmp/body" "(d['state'], d['progress'], d['stems'])")" = "('done', 100, ['bass'])"
expect job-title test "$(json "$tmp/body" "d['title']")" = "My Song (live).flac"
status jobs-list 200 "$B/api/jobs"
expect jobs-list-has-it grep -q "$id" "$tmp/body"

# ---- re-transcribe: a higher onset threshold gives fewer notes, in seconds ----------------
n0=$(json "$tmp/result.json" "d['n_notes']")
t0=$(date +%s.%N)
status retranscribe 200 -X POST -H 'Content-Type: application/json' -d '{"onset_threshold": 0.9}' "$B/api/jobs/$id/transcribe"
t1=$(date +%s.%N)
n1=$(json "$tmp/body" "d['n_notes']")
expect retranscribe-fewer-notes test "$n1" -lt "$n0"
expect retranscribe-fast $PY -c "import sys; assert float(sys.argv[2]) - float(sys.argv[1]) < 10" "$t0" "$t1"
expect retranscribe-same-source test "$(json "$tmp/body" "d['source']")" = other_stem
expect retranscribe-same-tempo test "$(json "$tmp/body" "d['bpm']")" = "$(json "$tmp/result.json" "d['bpm']")"
status result-replaced 200 "$B/api/result/$id"
expect result-replaced-count test "$(json "$tmp/body" "d['n_notes']")" = "$n1"
status job-params 200 "$B/api/jobs/$id"
expect job-params-stored test "$(json "$tmp/body" "d['params']['onset_threshold']")" = 0.9
status retranscribe-raw 200 -X POST -H 'Content-Type: application/json' \
    -d '{"onset_threshold": 0.5, "mode": "raw", "quantize": "1/16", "quantize_strength": 100}' \
    "$B/api/jobs/$id/transcribe"
expect retranscribe-raw-mode test "$(json "$tmp/body" "(d['mode'], d['params']['quantize'])")" = "('raw', '1/16')"
expect retranscribe-raw-differs test "$(json "$tmp/body" "d['n_notes']")" != "$n0"
# back to the first run's parameters: exactly the first result (its notes, MIDI and grid)
json "$tmp/body" "json.dumps(d['first_params'])" >"$tmp/first_params.json"
status retranscribe-first 200 -X POST -H 'Content-Type: application/json' \
    --data-binary @"$tmp/first_params.json" "$B/api/jobs/$id/transcribe"
expect retranscribe-first-exact $PY - "$tmp/result.json" "$tmp/body" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a['params'] == a['first_params'] == b['params'] == b['first_params'], (a['params'], b)
for k in ('notes', 'midi_b64', 'bars', 'beats', 'key', 'time_signature', 'bpm', 'tempo_status', 'source'):
    assert a[k] == b[k], k
PYEOF
status retranscribe-bad-quantize 400 -X POST -d '{"quantize": "1/7"}' "$B/api/jobs/$id/transcribe"
status retranscribe-bad 400 -X POST -d '{"onset_threshold": 3}' "$B/api/jobs/$id/transcribe"
expect retranscribe-bad-json is_error_json
status retranscribe-junk 400 -X POST -d '{"onset' "$B/api/jobs/$id/transcribe"

# ---- silence: no bass line, nothing to re-transcribe --------------------------------------
ffmpeg -loglevel error -y -f lavfi -i anullsrc=r=44100:cl=stereo -t 4 "$tmp/silence.wav"
sid=$(upload "$tmp/silence.wav")
expect silence-done wait_state "$sid" done 120
status silence-result 200 "$B/api/result/$sid"
expect silence-no-notes test "$(json "$tmp/body" "(d['source'], d['n_notes'])")" = "('none', 0)"
status silence-retranscribe 409 -X POST -d '{"onset_threshold": 0.2}' "$B/api/jobs/$sid/transcribe"
expect silence-retranscribe-code test "$(json "$tmp/body" "d['code']")" = no_bass_line

# ---- cancel a running job ---------------------------------------------------------------
cid=$(upload "$tmp/clip.flac" -F stems=all)
curl -sN --max-time 120 "$B/api/progress/$cid" >"$tmp/sse-cancel.txt" &
ssepid=$!
expect cancel-running wait_state "$cid" running 60
status cancel 200 -X DELETE "$B/api/jobs/$cid"
expect cancel-state test "$(json "$tmp/body" "d['state']")" = cancelled
wait "$ssepid"
expect cancel-sse-error test "$(grep '^event:' "$tmp/sse-cancel.txt" | tail -1)" = "event: error"
expect cancel-sse-code grep -q '"code":"cancelled"' "$tmp/sse-cancel.txt"
status cancelled-gone 404 "$B/api/jobs/$cid"
# The worker stops at its next chunk (a few seconds) and removes the job's files.
for _ in $(seq 1 300); do
    [[ -e $tmp/data/jobs/$cid || -e $tmp/data/uploads/$cid.audio ]] || break
    sleep 0.1
done
expect cancel-files-gone test ! -e "$tmp/data/jobs/$cid" -a ! -e "$tmp/data/uploads/$cid.audio"
status delete-done 200 -X DELETE "$B/api/jobs/$id"
expect delete-done-state test "$(json "$tmp/body" "d['state']")" = deleted
status deleted-gone 404 "$B/api/result/$id"

# ---- bad input: status + {code, message}, and the server stays up ------------------------
head -c 100000 /dev/urandom >"$tmp/noise.mp3"
: >"$tmp/empty.wav"
status not-audio 415 -F "file=@$tmp/noise.mp3" "$B/api/process"
expect not-audio-json is_error_json
status empty-file 415 -F "file=@$tmp/empty.wav" "$B/api/process"
status bad-param 400 -F "file=@$tmp/short.flac" -F onset_threshold=1.5 "$B/api/process"
status bad-fast 400 -F "file=@$tmp/short.flac" -F fast=maybe "$B/api/process"
expect bad-fast-says bash -c "grep -q 'fast must be true or false' '$tmp/body'"
expect bad-param-json is_error_json
status bad-stems 400 -F "file=@$tmp/short.flac" -F stems=kazoo "$B/api/process"
status unknown-field 400 -F "file=@$tmp/short.flac" -F colour=blue "$B/api/process"
status no-file 400 -F onset_threshold=0.5 "$B/api/process"
status not-multipart 400 -H 'Content-Type: application/json' -d '{}' "$B/api/process"
{ printf -- '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.flac"\r\n\r\n'
  head -c 200000 "$tmp/short.flac"; } >"$tmp/truncated.bin"
status truncated-multipart 400 -H 'Content-Type: multipart/form-data; boundary=XYZ' --data-binary "@$tmp/truncated.bin" "$B/api/process"
expect truncated-json is_error_json
status wrong-method 405 -X PUT "$B/api/process"
expect wrong-method-allow grep -qi '^Allow: POST' "$tmp/headers"
status wrong-method-job 405 -X POST "$B/api/jobs/$id"
status unknown-id 404 "$B/api/jobs/0b1e6c2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"
status unknown-id-sse 404 "$B/api/progress/0b1e6c2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"
status malformed-id 404 "$B/api/result/..%2F..%2Fdumu.db"
status unknown-route 404 "$B/api/nope"
status oversized-headers '431|400|413' -H "X-Big: $(head -c 100000 /dev/zero | tr '\0' a)" "$B/health"
status static-traversal '404|200' "$B/..%2F..%2Fetc%2Fpasswd"
expect static-no-leak bash -c "! grep -q root: '$tmp/body'"
status health-after-bad-input 200 "$B/health"

# ---- kill -9 during a job; the restarted server completes it ----------------------------
kid=$(upload "$tmp/clip.flac" -F fast=true) # the fast separation, where the CPU has it
expect kill-running wait_state "$kid" running 60
sleep 1
kill -9 "$pid"; wait "$pid" 2>/dev/null
start_server --max-upload-mb 1 --max-queue 1
expect kill-requeued-or-running bash -c "curl -s '$B/api/jobs/$kid' | grep -q '\"state\":\"\\(queued\\|running\\)\"'"

# While it runs (queue limit 1): over the upload limit, with and without Content-Length.
head -c 3000000 /dev/urandom >"$tmp/big.bin"
status too-large 413 -F "file=@$tmp/big.bin" "$B/api/process"
expect too-large-json is_error_json
status too-large-chunked 413 -H 'Transfer-Encoding: chunked' -F "file=@$tmp/big.bin" "$B/api/process"
expect queue-running wait_state "$kid" running 60
status queue-one 202 -F "file=@$tmp/short.flac" "$B/api/process"
qid=$(json "$tmp/body" "d['job_id']")
status queue-one-job 200 "$B/api/jobs/$qid"
# first in line; it starts when the running 8 s clip is done (a positive wait, under a minute)
expect queue-one-position $PY -c "
import json, sys
q = json.load(open(sys.argv[1]))['queue']
assert q['position'] == 1 and 0 < q['starts_in_s'] < 60, q" "$tmp/body"
status queue-full 429 -F "file=@$tmp/short.flac" "$B/api/process"
expect queue-full-retry-after grep -qi '^Retry-After: [0-9]' "$tmp/headers"
status queued-delete 200 -X DELETE "$B/api/jobs/$qid"
expect queued-delete-state test "$(json "$tmp/body" "d['state']")" = cancelled

curl -sN --max-time 150 "$B/api/progress/$kid" >"$tmp/sse-kill.txt"
expect kill-sse-done test "$(grep '^event:' "$tmp/sse-kill.txt" | tail -1)" = "event: done"
status kill-result 200 "$B/api/result/$kid"
expect kill-result-notes $PY -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['n_notes'] > 0 and abs(d['bpm']-90)/90 < 0.04" "$tmp/body"
status kill-job-fast 200 "$B/api/jobs/$kid"
expect kill-job-params-fast $PY -c "import json,sys; assert json.load(open(sys.argv[1]))['params']['fast'] is True" "$tmp/body"
expect kill-upload-removed test ! -e "$tmp/data/uploads/$kid.audio"
status health-end 200 "$B/health"
expect health-end-idle test "$(json "$tmp/body" "(d['queue_depth'], d['running'])")" = "(0, 0)"
status openapi 200 "$B/openapi.json"
expect openapi-paths $PY -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['openapi'].startswith('3.0') and '/api/progress/{id}' in d['paths']" "$tmp/body"
# the web client's types follow the description (tests/scripts/api_types.py)
expect openapi-web-types $PY "$(dirname "$0")/api_types.py" "$tmp/body" "${DUMU_SOURCE_DIR:?}/web/src/api.ts"
status docs 200 "$B/docs"
expect docs-self-contained bash -c "! grep -qi '<script[^>]*src=' '$tmp/body'"
expect access-log grep -q '^GET /health 200 ' "$tmp/server.log"

# ---- SIGTERM: a clean stop -----------------------------------------------------------------
kill -TERM "$pid"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait "$pid"; code=$?
pid=
expect sigterm-exit-0 test "$code" = 0
expect sigterm-logged grep -q 'dumu serve: stopped' "$tmp/server.log"

# ---- robustness: a fresh server on the same data dir, a static file to fetch ranges of ----
mkdir -p "$tmp/web"
printf 0123456789 >"$tmp/web/ten.txt"
start_server --web-dir "$tmp/web"

# Range numbers past int64: a last byte is clamped to the file, a first byte is past its end.
status range-huge-last 206 -H 'Range: bytes=0-99999999999999999999999' "$B/ten.txt"
expect range-huge-last-clamped grep -qi '^Content-Range: bytes 0-9/10' "$tmp/headers"
status range-huge-first 416 -H 'Range: bytes=99999999999999999999999-' "$B/ten.txt"
expect range-huge-first-size grep -qi '^Content-Range: bytes \*/10' "$tmp/headers"

# A done job for the checks below: the whole 21 s song, so that a re-transcription takes long
# enough (~0.2 s) for others to overlap it.
rid=$(upload "$TD/dm04_openmsx_train_filled_with_cash/mix.flac")
expect robust-job-done wait_state "$rid" done 120

# Re-transcribe takes one JSON object and nothing after it; it takes bpm as the upload does.
status retranscribe-trailing-junk 400 -X POST -d '{"onset_threshold":0.6} xyz' "$B/api/jobs/$rid/transcribe"
expect retranscribe-trailing-junk-json is_error_json
status retranscribe-two-objects 400 -X POST -d '{} {}' "$B/api/jobs/$rid/transcribe"
status retranscribe-trailing-space 200 -X POST -d $'{"onset_threshold":0.6} \n' "$B/api/jobs/$rid/transcribe"
status retranscribe-bpm 200 -X POST -d '{"bpm": 120}' "$B/api/jobs/$rid/transcribe"
status retranscribe-bpm-stored 200 "$B/api/jobs/$rid"
expect retranscribe-bpm-param test "$(json "$tmp/body" "d['params']['bpm']")" = 120
status retranscribe-bpm-null 200 -X POST -d '{"bpm": null}' "$B/api/jobs/$rid/transcribe"
status retranscribe-bpm-detect 200 "$B/api/jobs/$rid"
expect retranscribe-bpm-detect-param test "$(json "$tmp/body" "d['params']['bpm']")" = None
status retranscribe-bpm-range 400 -X POST -d '{"bpm": 500}' "$B/api/jobs/$rid/transcribe"
status retranscribe-bpm-type 400 -X POST -d '{"bpm": "fast"}' "$B/api/jobs/$rid/transcribe"

# SSE resume: a Last-Event-ID past the job's last event replays nothing (the stream waits for
# newer events), however many digits it has; one that is no number replays the whole history.
curl -sN --max-time 3 -H 'Last-Event-ID: 1000' "$B/api/progress/$rid" >"$tmp/sse-past.txt"
expect sse-past-last-no-replay test "$(grep -c '^id: ' "$tmp/sse-past.txt")" = 0
expect sse-past-last-retry test "$(head -1 "$tmp/sse-past.txt")" = "retry: 2000"
curl -sN --max-time 3 -H 'Last-Event-ID: 99999999999999999999999' "$B/api/progress/$rid" >"$tmp/sse-past.txt"
expect sse-huge-last-no-replay test "$(grep -c '^id: ' "$tmp/sse-past.txt")" = 0
curl -sN --max-time 20 -H 'Last-Event-ID: seven' "$B/api/progress/$rid" >"$tmp/sse-junk.txt"
expect sse-junk-id-replays grep -q '^id: 1$' "$tmp/sse-junk.txt"
expect sse-junk-id-done test "$(grep '^event:' "$tmp/sse-junk.txt" | tail -1)" = "event: done"

# Re-transcriptions of one job take turns: six at once, eight times over, all answer 200 with
# a result (they wrote the same files at once: "cannot write bass.mid", 500, for some).
rm -f "$tmp"/rt-*.code
for round in 1 2 3 4 5 6 7 8; do
    pids=()
    for i in 1 2 3 4 5 6; do
        curl -s -o "$tmp/rt-$round-$i.json" -w '%{http_code}\n' --max-time 120 -X POST \
            -d "{\"onset_threshold\": 0.$((i + 2))}" "$B/api/jobs/$rid/transcribe" >"$tmp/rt-$round-$i.code" &
        pids+=($!)
    done
    wait "${pids[@]}"
done
expect retranscribe-concurrent-200 test "$(cat "$tmp"/rt-*.code | sort -u)" = 200
expect retranscribe-concurrent-results $PY -c "
import json, sys
for p in sys.argv[1:]: assert json.load(open(p))['n_notes'] >= 0, p" "$tmp"/rt-*.json
# A DELETE among them waits for the one running; those that come after it find no job (404),
# and none writes the deleted job's files again.
rm -f "$tmp"/rt?.code
pids=()
for i in 1 2 3 4 5 6; do
    if ((i == 3)); then
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 120 -X DELETE "$B/api/jobs/$rid" >"$tmp/rt-delete.code" &
        pids+=($!)
        sleep 0.05
    fi
    curl -s -o "$tmp/rt$i.json" -w '%{http_code}\n' --max-time 120 -X POST \
        -d "{\"onset_threshold\": 0.$((i + 2))}" "$B/api/jobs/$rid/transcribe" >"$tmp/rt$i.code" &
    pids+=($!)
    sleep 0.05
done
wait "${pids[@]}"
expect retranscribe-delete-200 test "$(cat "$tmp/rt-delete.code")" = 200
expect retranscribe-delete-200-or-404 bash -c "! cat '$tmp'/rt?.code | grep -qv '^\(200\|404\)$'"
expect retranscribe-delete-last-404 test "$(cat "$tmp/rt6.code")" = 404
expect retranscribe-delete-files-gone test ! -e "$tmp/data/jobs/$rid"

# ---- error messages name no server path ---------------------------------------------------
# A WAV longer than the 30 min limit (1000 Hz 8-bit, 1801 s: 1.8 MB) and a corrupt one.
$PY -c "
import sys, wave
w = wave.open(sys.argv[1], 'wb'); w.setnchannels(1); w.setsampwidth(1); w.setframerate(1000)
w.writeframes(b'\x80' * 1801000); w.close()" "$tmp/long.wav"
status too-long 413 -F "file=@$tmp/long.wav" "$B/api/process"
expect too-long-json is_error_json
expect too-long-no-path bash -c "! grep -qF '$tmp' '$tmp/body' && ! grep -q '/uploads/' '$tmp/body'"
expect too-long-names-upload grep -q '"the upload: 1801' "$tmp/body"
{ head -c 44 "$tmp/long.wav"; head -c 5000 /dev/urandom; } >"$tmp/corrupt.wav"
status corrupt 415 -F "file=@$tmp/corrupt.wav" "$B/api/process"
expect corrupt-no-path bash -c "! grep -qF '$tmp' '$tmp/body'"
# A job whose upload went missing fails in the worker: its message says so without the path.
# (One worker: it runs behind a job of 21 s, so its upload is removed before it starts.)
jid=$(upload "$TD/dm04_openmsx_train_filled_with_cash/mix.flac")
expect path-running wait_state "$jid" running 60
mid=$(upload "$tmp/short.flac")
rm "$tmp/data/uploads/$mid.audio"
# A second server on the same data folder refuses to start before it touches anything: the
# job running in the first one is never put back in the queue and finishes there.
timeout 60 "$CLI" serve --port "${B##*:}" --data-dir "$tmp/data" >"$tmp/second.log" 2>&1
code=$?
expect second-server-fails test "$code" = 4
expect second-server-says-why grep -q "another dumu process is using $tmp/data" "$tmp/second.log"
never_queued() { # never_queued ID: polls until the job is done; fails if it is ever queued
    local s
    for _ in $(seq 1 1200); do
        s=$(curl -s "$B/api/jobs/$1" | $PY -c "import json,sys; print(json.load(sys.stdin)['state'])")
        [[ $s == queued ]] && return 1
        [[ $s == done ]] && return 0
        sleep 0.1
    done
    return 1
}
expect second-server-job-undisturbed never_queued "$jid"
expect path-first-done wait_state "$jid" done 120
expect path-missing-failed wait_state "$mid" failed 60
status path-missing-job 200 "$B/api/jobs/$mid"
expect path-missing-no-path bash -c "! grep -qF '$tmp' '$tmp/body'"
expect path-missing-names-upload grep -q 'the upload is gone' "$tmp/body"
curl -sN --max-time 20 "$B/api/progress/$mid" >"$tmp/sse-missing.txt"
expect path-missing-sse-no-path bash -c "grep -q '^event: error' '$tmp/sse-missing.txt' && ! grep -qF '$tmp' '$tmp/sse-missing.txt'"

# ---- slow clients ------------------------------------------------------------------------
# A request line or headers that never end hold a connection 10 s, not a minute (slow loris);
# an SSE stream, quiet but for its keepalive every 15 s, outlives both timeouts.
curl -sN --max-time 25 -H 'Last-Event-ID: 999999' "$B/api/progress/$jid" >"$tmp/sse-idle.txt" &
ssepid=$!
expect slow-request-closed $PY - "${B##*:}" <<'PYEOF'
import socket, sys, threading, time
def hold(data, out, i):
    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
    s.settimeout(40)
    s.sendall(data)
    t0 = time.monotonic()
    try:
        s.recv(4096)  # b'' once the server closes it
    except socket.timeout:
        out[i] = None
        return
    except OSError:
        pass
    out[i] = time.monotonic() - t0
sends = [b'GET /hea', b'GET /health HTTP/1.1\r\nHost: x\r\n']
out = [None] * len(sends)
threads = [threading.Thread(target=hold, args=(d, out, i)) for i, d in enumerate(sends)]
for t in threads: t.start()
for t in threads: t.join()
assert all(t is not None and t < 15 for t in out), out
PYEOF
wait "$ssepid"
expect sse-outlives-timeouts test "$(grep -c '^: keepalive' "$tmp/sse-idle.txt")" = 1
status health-after-slow-clients 200 "$B/health"

echo "$passed passed, $failed failed"
[[ $failed == 0 ]] || { echo "--- server log (tail)"; tail -40 "$tmp/server.log"; }
[[ $failed == 0 ]]
