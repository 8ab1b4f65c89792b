#!/usr/bin/env bash
# Batches and the history list on SQLite (dumu serve, --auth off): a real server on a loopback
# port and curl.
#   POST /api/batches: two songs of one name in one request (202, a job each, in order); the
#     zip is 409 before any is done; the batch's event stream sends `batch` documents and ends
#     with `done`; GET /api/batches/{id} (state, progress, counts, jobs oldest first with
#     tempo, key and batch); the zip (folders "clip" and "clip (2)", each song's MIDI equal
#     to its download, MusicXML and tab; checked by Python's zipfile) and its headers;
#   refusals, each leaving no job and no file behind: a file that is not audio (415 naming
#     it), an empty one (415), one over --max-upload-mb (413), 21 files (400), none (400),
#     two files to /api/process (400), a bad webhook_url (400); unknown batches are 404;
#   GET /api/jobs: the total, q (title or key, any case), limit and offset, their bounds;
#   deleting a job of a batch takes it out of the batch and its zip.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
server_script
ERRORS_ARE_JSON=1

start_server --max-upload-mb 1

ffmpeg -loglevel error -y -t 3 -i "$TD/dm04_openmsx_train_filled_with_cash/mix.flac" "$tmp/clip.flac"
echo "not audio" >"$tmp/notes.txt"
: >"$tmp/empty.wav"
head -c 1500000 /dev/urandom >"$tmp/big.wav"
# files in the data folder: no refusal may leave one behind
files() { find "$tmp/data/uploads" "$tmp/data/jobs" -type f | sort; }

# ---- a batch from upload to zip ------------------------------------------------------------
status batch 202 -F "file=@$tmp/clip.flac" -F "file=@$tmp/clip.flac" -F mode=bass "$B/api/batches"
bid=$(json "$tmp/body" "d['batch_id']")
mapfile -t ids < <(json "$tmp/body" "'\n'.join(d['job_ids'])")
expect batch-two-jobs test "${#ids[@]}" = 2
expect batch-queued test "$(json "$tmp/body" "(d['state'], 'webhook_secret' in d)")" = "('queued', False)"
status zip-not-ready 409 "$B/api/batches/$bid/zip"
expect zip-not-ready-code test "$(json "$tmp/body" "d['code']")" = not_ready
curl -sN --max-time 300 "$B/api/progress/batch/$bid" >"$tmp/events.txt"
expect events-batch grep -q '^event: batch$' "$tmp/events.txt"
expect events-end-done test "$(grep '^event:' "$tmp/events.txt" | tail -1)" = "event: done"
expect events-done-doc $PY -c "
import json, sys
data = [l[6:] for l in open(sys.argv[1]).read().split('\n') if l.startswith('data: ')]
docs = [json.loads(x) for x in data]
last = docs[-1]
assert last['state'] == 'done' and last['counts']['done'] == 2 and last['progress'] == 100, last
assert all(0 <= d['progress'] <= 100 for d in docs) and docs[0]['batch_id'] == sys.argv[2], docs[0]" "$tmp/events.txt" "$bid"
status batch-get 200 "$B/api/batches/$bid"
expect batch-doc $PY -c "
import json, sys; d = json.load(open(sys.argv[1]))
assert (d['batch_id'], d['state'], d['progress']) == (sys.argv[2], 'done', 100), d
assert d['counts'] == {'queued': 0, 'running': 0, 'done': 2, 'failed': 0, 'cancelled': 0}, d['counts']
assert [j['job_id'] for j in d['jobs']] == sys.argv[3:5], 'not in upload order'
for j in d['jobs']:
    assert j['title'] == 'clip.flac' and j['batch_id'] == sys.argv[2] and j['bpm'] > 0, j
    assert j['key'] is None or j['key'].endswith(('major', 'minor')), j['key']
    assert j['params']['mode'] == 'bass' and j['webhook'] is None, j" "$tmp/body" "$bid" "${ids[@]}"
status zip 200 "$B/api/batches/$bid/zip"
cp "$tmp/body" "$tmp/batch.zip"
expect zip-type test "$(header Content-Type)" = application/zip
expect zip-name test "$(header Content-Disposition)" = "attachment; filename=\"dumu-batch-${bid:0:8}.zip\""
status midi-1 200 "$B/api/jobs/${ids[0]}/midi"; cp "$tmp/body" "$tmp/1.mid"
status midi-2 200 "$B/api/jobs/${ids[1]}/midi"; cp "$tmp/body" "$tmp/2.mid"
expect zip-contents $PY -c "
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
names = z.namelist()
want = [f + '/clip-' + n for f in ('clip', 'clip (2)') for n in ('bass.mid', 'bass.musicxml', 'bass-tab.txt')]
assert names == want, names
assert z.read('clip/clip-bass.mid') == open(sys.argv[2], 'rb').read()
assert z.read('clip (2)/clip-bass.mid') == open(sys.argv[3], 'rb').read()
assert b'<score-partwise' in z.read('clip/clip-bass.musicxml')
assert z.read('clip/clip-bass-tab.txt').startswith(b'G|') or b'|' in z.read('clip/clip-bass-tab.txt')" "$tmp/batch.zip" "$tmp/1.mid" "$tmp/2.mid"

# ---- refusals: nothing made, nothing left ---------------------------------------------------
files >"$tmp/files-before.txt"
status total-before 200 "$B/api/jobs"
total=$(json "$tmp/body" "d['total']")
status not-audio 415 -F "file=@$tmp/clip.flac" -F "file=@$tmp/notes.txt" "$B/api/batches"
expect not-audio-names-it grep -q "'notes.txt' is not audio" "$tmp/body"
status empty 415 -F "file=@$tmp/clip.flac" -F "file=@$tmp/empty.wav" "$B/api/batches"
expect empty-names-it grep -q "'empty.wav' is empty" "$tmp/body"
status too-large 413 -F "file=@$tmp/clip.flac" -F "file=@$tmp/big.wav" "$B/api/batches"
many=(); for i in $(seq 1 21); do many+=(-F "file=@$tmp/clip.flac"); done
status too-many-files 400 "${many[@]}" "$B/api/batches"
expect too-many-says grep -q "at most 20 files per batch" "$tmp/body"
status no-file 400 -F mode=bass "$B/api/batches"
status not-multipart 400 -H 'Content-Type: application/json' -d '{}' "$B/api/batches"
status process-two 400 -F "file=@$tmp/clip.flac" -F "file=@$tmp/clip.flac" "$B/api/process"
expect process-two-says grep -q "POST /api/batches takes several" "$tmp/body"
status webhook-scheme 400 -F "file=@$tmp/clip.flac" -F "file=@$tmp/clip.flac" -F webhook_url=ftp://example.org/x "$B/api/batches"
status webhook-private 400 -F "file=@$tmp/clip.flac" -F webhook_url=http://127.0.0.1:9/hook "$B/api/process"
status bad-param 400 -F "file=@$tmp/clip.flac" -F "file=@$tmp/clip.flac" -F onset_threshold=7 "$B/api/batches"
sleep 0.5 # a refused upload's temporary files go as its request completes
files >"$tmp/files-after.txt"
expect refusals-leave-no-files cmp -s "$tmp/files-before.txt" "$tmp/files-after.txt"
status total-after 200 "$B/api/jobs"
expect refusals-make-no-jobs test "$(json "$tmp/body" "d['total']")" = "$total"
status unknown-batch 404 "$B/api/batches/00000000-0000-4000-8000-000000000000"
status unknown-batch-zip 404 "$B/api/batches/00000000-0000-4000-8000-000000000000/zip"
status unknown-batch-events 404 "$B/api/progress/batch/00000000-0000-4000-8000-000000000000"
status not-a-batch-id 404 "$B/api/batches/nonsense"
status job-id-is-no-batch 404 "$B/api/batches/${ids[0]}"
status batch-method 405 -X DELETE "$B/api/batches/$bid"

# ---- the history list: search and pages -----------------------------------------------------
status single 202 -F "file=@$tmp/clip.flac;filename=Second Song.flac" "$B/api/process"
single=$(json "$tmp/body" "d['job_id']")
status list 200 "$B/api/jobs"
expect list-total test "$(json "$tmp/body" "(d['total'], d['limit'], d['offset'], len(d['jobs']), d['jobs'][0]['job_id'])")" = "(3, 50, 0, 3, '$single')"
status search 200 "$B/api/jobs?q=second%20SONG"
expect search-title test "$(json "$tmp/body" "(d['total'], [j['title'] for j in d['jobs']])")" = "(1, ['Second Song.flac'])"
status search-none 200 "$B/api/jobs?q=no%20such%20song"
expect search-none-empty test "$(json "$tmp/body" "(d['total'], d['jobs'])")" = "(0, [])"
key=$(curl -s "$B/api/jobs/${ids[0]}" | $PY -c "import json,sys; print(json.load(sys.stdin)['key'] or '')")
if [[ -n $key ]]; then
    status search-key 200 "$B/api/jobs?q=$(echo "$key" | tr 'A-Z ' 'a-z+')"
    expect search-key-finds $PY -c "
import json, sys; d = json.load(open(sys.argv[1]))
assert set(sys.argv[2:4]) <= {j['job_id'] for j in d['jobs']}, d" "$tmp/body" "${ids[@]}"
fi
status page 200 "$B/api/jobs?limit=1&offset=1"
expect page-second test "$(json "$tmp/body" "(d['total'], [j['job_id'] for j in d['jobs']])")" = "(3, ['${ids[1]}'])"
status page-past 200 "$B/api/jobs?offset=10"
expect page-past-empty test "$(json "$tmp/body" "(d['total'], d['jobs'])")" = "(3, [])"
status search-not-utf8 400 "$B/api/jobs?q=%FF"
status limit-zero 400 "$B/api/jobs?limit=0"
status limit-big 400 "$B/api/jobs?limit=101"
status offset-negative 400 "$B/api/jobs?offset=-1"
status limit-word 400 "$B/api/jobs?limit=ten"

# ---- a job deleted from its batch -----------------------------------------------------------
status delete-one 200 -X DELETE "$B/api/jobs/${ids[1]}"
status batch-after-delete 200 "$B/api/batches/$bid"
expect batch-one-left test "$(json "$tmp/body" "([j['job_id'] for j in d['jobs']], d['counts']['done'])")" = "(['${ids[0]}'], 1)"
status zip-after-delete 200 "$B/api/batches/$bid/zip"
cp "$tmp/body" "$tmp/one.zip"
expect zip-one-song test "$($PY -c "import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))" "$tmp/one.zip")" = 3

stop_server
echo "test_batches: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
