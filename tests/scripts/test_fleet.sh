#!/usr/bin/env bash
# Dumu as a fleet on one throwaway PostgreSQL (tests/scripts/pg.sh): two API nodes
# (`dumu serve --db ... --workers 0`) on their own ports and two `dumu worker` processes.
#   - two nodes starting together on an empty database (the migration lock), and a database
#     of schema version 1 brought to the current one with its jobs kept;
#   - 12 uploads sent alternately to both nodes all finish exactly once (one `done` event,
#     one start each), each followed to its end through the *other* node's SSE, with its
#     result and downloads (Range included) from the other node too;
#   - kill -9 of a worker mid-job: the job finishes on the other worker once its lease
#     lapses; SIGTERM of a worker: its job is back in the queue at once;
#   - a batch uploaded through one node, followed (its event stream) and zipped through the
#     other, each MIDI in the zip equal to the job's own download;
#   - cancel through the other node: the worker stops at its next chunk;
#   - PostgreSQL stopped mid-run: the API answers 503 {code, message} with Retry-After,
#     and once it is back every accepted job finishes;
#   - a job that killed SRV_MAX_ATTEMPTS (3) workers fails as "poison";
#   - expired jobs leave no rows, events, blobs or webhook deliveries; batches without jobs
#     go after an hour, and deliveries about nothing left go too.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
server_script

# launch_api NAME: starts an API node without workers (PID_<NAME>); await_api NAME waits
# for it to listen (URL_<NAME>); start_api NAME does both
launch_api() {
    : >"$tmp/api-$1.log"
    "$CLI" serve --port 0 --db "$DB" --workers 0 --web-dir /nonexistent >"$tmp/api-$1.log" 2>&1 &
    pids+=($!)
    printf -v "PID_$1" %s $!
}
await_api() {
    local name=$1 log=$tmp/api-$1.log pid_var=PID_$1
    local pid=${!pid_var}
    for _ in $(seq 1 300); do
        local port
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | cut -d: -f3)
        [[ -n $port ]] && { printf -v "URL_$name" %s "http://127.0.0.1:$port"; return 0; }
        kill -0 "$pid" 2>/dev/null || { cat "$log"; return 1; }
        sleep 0.1
    done
    return 1
}
start_api() { launch_api "$1" && await_api "$1"; }
# start_worker NAME: a worker with one inference thread (two of them share our two cores)
# and a 10 s lease (a dead worker's job waits that long; 60 s in production)
start_worker() {
    "$CLI" worker --db "$DB" --threads 1 --lease-s 10 >>"$tmp/worker-$1.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    printf -v "WPID_$1" %s "$pid"
}
upload() { # upload BASE FILE: prints the job id
    curl -s -F "file=@$2" "$1/api/process" | $PY -c "import json,sys; print(json.load(sys.stdin)['job_id'])"
}
state() { curl -s "$1/api/jobs/$2" | $PY -c "import json,sys; print(json.load(sys.stdin).get('state'))"; }
wait_state() { # wait_state BASE ID STATE SECONDS
    for _ in $(seq 1 $(($4 * 5))); do
        [[ $(state "$1" "$2") == "$3" ]] && return 0
        sleep 0.2
    done
    return 1
}
owner_pid() { psql_q "SELECT split_part(owner, ':', 2) FROM jobs WHERE id = '$1' AND state = 'running'"; }

ffmpeg -loglevel error -y -t 4 -i "$TD/dm04_openmsx_train_filled_with_cash/mix.flac" "$tmp/short.flac"
ffmpeg -loglevel error -y -t 40 -i "$TD/dm04_openmsx_train_filled_with_cash/mix.flac" "$tmp/long.flac"
pg_start "$tmp/pg" || { echo "FAIL cannot start PostgreSQL"; exit 1; }

# ---- schema: two nodes starting together; version 1 brought up to date ------------------
launch_api A
launch_api B
both=1
await_api A || both=0
await_api B || both=0
expect two-nodes-start-together test $both = 1
expect schema-current test "$(psql_q 'SELECT version FROM dumu_schema')" = 6
kill "$PID_A" "$PID_B"; wait "$PID_A" "$PID_B" 2>/dev/null
psql_q "DROP TABLE workers, credentials, accounts, login_failures, tiers, buckets, audio_usage,
 batches, deliveries;
DROP SEQUENCE jobs_started;
ALTER TABLE jobs DROP COLUMN fast, DROP COLUMN owned_by, DROP COLUMN started,
 DROP COLUMN result_key, DROP COLUMN batch_id, DROP COLUMN webhook_url, DROP COLUMN webhook_secret;
UPDATE dumu_schema SET version = 1;
INSERT INTO jobs(id, state, name, created, updated) VALUES
 ('11111111-1111-4111-8111-111111111111', 'failed', 'old', 1, extract(epoch FROM now()))" >/dev/null
start_api A && start_api B
expect schema-v1-migrated test "$(psql_q 'SELECT version FROM dumu_schema')" = 6
expect schema-v1-v6-objects test "$(psql_q "SELECT count(*) FROM information_schema.columns
 WHERE table_name = 'jobs' AND column_name IN ('result_key', 'batch_id', 'webhook_url', 'webhook_secret')")|$(psql_q "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('batches', 'deliveries')")" = "4|2"
expect schema-v1-tiers-seeded test "$(psql_q 'SELECT name FROM tiers ORDER BY name' | tr '\n' ' ')" = "anonymous free pro "
expect schema-v1-workers-table test "$(psql_q 'SELECT count(*) FROM workers')" = 0
expect schema-v1-job-kept test "$(state "$URL_B" 11111111-1111-4111-8111-111111111111)" = failed
curl -s "$URL_A/health" >"$tmp/health.json"
expect health-names-store $PY -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['store'] == {'kind': 'postgresql', 'reachable': True} and d['live_workers'] == 0, d" "$tmp/health.json"

start_worker 1
start_worker 2
for _ in $(seq 1 100); do
    [[ $(curl -s "$URL_B/health" | $PY -c "import json,sys; print(json.load(sys.stdin)['live_workers'])") == 2 ]] && break
    sleep 0.2
done
expect health-live-workers test "$(curl -s "$URL_B/health" | $PY -c "import json,sys; print(json.load(sys.stdin)['live_workers'])")" = 2

# ---- 12 uploads, alternately; each followed through the other node -----------------------
ids=()
sse_pids=()
for i in $(seq 0 11); do
    if ((i % 2)); then up=$URL_B other=$URL_A; else up=$URL_A other=$URL_B; fi
    id=$(upload "$up" "$tmp/short.flac")
    ids+=("$id")
    curl -sN --max-time 300 "$other/api/progress/$id" >"$tmp/sse-$i.txt" &
    sse_pids+=($!)
done
for p in "${sse_pids[@]}"; do wait "$p"; done
all_done=1 all_streams=1
for i in $(seq 0 11); do
    [[ $(state "$URL_A" "${ids[$i]}") == done ]] || all_done=0
    grep -q '^event: progress' "$tmp/sse-$i.txt" && [[ $(grep '^event:' "$tmp/sse-$i.txt" | tail -1) == "event: done" ]] || all_streams=0
done
expect twelve-done test $all_done = 1
expect twelve-followed-on-other-node test $all_streams = 1
list=$(printf "'%s'," "${ids[@]}")
list=${list%,}
expect twelve-exactly-once test "$(psql_q "SELECT count(*) FROM events WHERE type = 'done' AND job_id IN ($list)")|$(psql_q "SELECT sum(attempts) FROM jobs WHERE id IN ($list)")" = "12|12"
expect both-workers-ran bash -c "grep -q 'done' '$tmp/worker-1.log' && grep -q 'done' '$tmp/worker-2.log'"
id=${ids[0]}
# a client that reconnects to the other node with Last-Event-ID gets what came after it
mid=$(grep '^id:' "$tmp/sse-0.txt" | sed -n 3p | cut -d' ' -f2)
curl -sN --max-time 20 -H "Last-Event-ID: $mid" "$URL_A/api/progress/$id" >"$tmp/resume.txt"
expect resume-other-node $PY -c "
import sys
ids = [int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith('id:')]
all_ids = [int(l.split()[1]) for l in open(sys.argv[2]) if l.startswith('id:')]
assert ids and ids == [i for i in all_ids if i > int(sys.argv[3])], (ids, all_ids)" "$tmp/resume.txt" "$tmp/sse-0.txt" "$mid"
expect result-other-node test "$(curl -s -o "$tmp/r.json" -w '%{http_code}' "$URL_B/api/result/$id")" = 200
expect result-has-notes $PY -c "import json,sys; assert json.load(open(sys.argv[1]))['n_notes'] > 0" "$tmp/r.json"
expect midi-bytes-same-both-nodes bash -c "cmp <(curl -s '$URL_A/api/jobs/$id/midi') <(curl -s '$URL_B/api/jobs/$id/midi')"
size=$(curl -s "$URL_A/api/jobs/$id/stems/bass?format=flac" | wc -c)
expect stem-range test "$(curl -s -o "$tmp/part" -w '%{http_code}' -H 'Range: bytes=100-199' "$URL_B/api/jobs/$id/stems/bass?format=flac")|$(wc -c <"$tmp/part")" = "206|100"
expect stem-range-bytes bash -c "cmp <(curl -s '$URL_A/api/jobs/$id/stems/bass?format=flac' | head -c 200 | tail -c 100) '$tmp/part'"
expect stem-flac-size test "$size" -gt 10000
expect stem-wav-made test "$(curl -s -o /dev/null -w '%{http_code}' "$URL_A/api/jobs/$id/stems/bass?format=wav")" = 200
expect mix-other-node test "$(curl -s -o /dev/null -w '%{http_code}' "$URL_B/api/jobs/$id/mix")" = 200
curl -s -X POST -d '{"onset_threshold":0.7}' "$URL_A/api/jobs/$id/transcribe" -o "$tmp/t.json"
expect retranscribe-seen-by-other-node bash -c "curl -s '$URL_B/api/result/$id' | $PY -c 'import json,sys; assert json.load(sys.stdin)[\"params\"][\"onset_threshold\"] == 0.7'"

# ---- a batch through one node, followed and zipped through the other ----------------------
curl -s -F "file=@$tmp/short.flac" -F "file=@$tmp/short.flac" "$URL_A/api/batches" -o "$tmp/batch.json"
bid=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['batch_id'])" "$tmp/batch.json")
curl -sN --max-time 300 "$URL_B/api/progress/batch/$bid" >"$tmp/batch-events.txt"
expect batch-done-other-node test "$(grep '^event:' "$tmp/batch-events.txt" | tail -1)" = "event: done"
curl -s "$URL_B/api/batches/$bid/zip" -o "$tmp/batch.zip"
expect batch-zip-other-node $PY -c "
import json, sys, urllib.request, zipfile
z = zipfile.ZipFile(sys.argv[1])
jobs = json.load(open(sys.argv[2]))['job_ids']
assert z.testzip() is None and len(z.namelist()) == 6, z.namelist()
for folder, job in zip(('short', 'short (2)'), jobs):
    midi = urllib.request.urlopen(sys.argv[3] + '/api/jobs/' + job + '/midi').read()
    assert z.read(folder + '/short-bass.mid') == midi, folder" "$tmp/batch.zip" "$tmp/batch.json" "$URL_A"

# ---- kill -9 of a worker mid-job: the job finishes on the other one ----------------------
kid=$(upload "$URL_A" "$tmp/long.flac")
expect kill-running wait_state "$URL_B" "$kid" running 60
sleep 2
victim=$(owner_pid "$kid")
kill -9 "$victim"
survivor=$([[ $victim == "$WPID_1" ]] && echo 2 || echo 1)
expect kill-finishes-elsewhere wait_state "$URL_B" "$kid" done 240
expect kill-ran-on-survivor grep -q "job $kid done" "$tmp/worker-$survivor.log"
expect kill-two-starts test "$(psql_q "SELECT attempts FROM jobs WHERE id = '$kid'")" = 2
[[ $victim == "$WPID_1" ]] && start_worker 1 || start_worker 2

# ---- SIGTERM: the running job is back in the queue at once -----------------------------
kill -STOP "$WPID_2" "$WPID_1" 2>/dev/null # only the newest worker may claim
start_worker 3
tid=$(upload "$URL_B" "$tmp/long.flac")
expect term-running wait_state "$URL_A" "$tid" running 60
kill -TERM "$WPID_3"
wait "$WPID_3" 2>/dev/null
expect term-requeued test "$(state "$URL_A" "$tid")" = queued
expect term-no-start-counted test "$(psql_q "SELECT attempts FROM jobs WHERE id = '$tid'")" = 0
kill -CONT "$WPID_2" "$WPID_1" 2>/dev/null

# ---- cancel through the other node stops the worker at its next chunk -------------------
expect cancel-running wait_state "$URL_A" "$tid" running 60
sleep 2
cowner=$(owner_pid "$tid")
expect cancel-other-node test "$(curl -s -X DELETE "$URL_B/api/jobs/$tid" | $PY -c "import json,sys; print(json.load(sys.stdin)['state'])")" = cancelled
stopped=0
for _ in $(seq 1 100); do
    grep -qs "job $tid cancelled" "$tmp"/worker-*.log && { stopped=1; break; }
    sleep 0.1
done
expect cancel-worker-stops test $stopped = 1
expect cancel-no-rows test "$(psql_q "SELECT count(*) FROM jobs WHERE id = '$tid'")|$(psql_q "SELECT count(*) FROM blobs WHERE job_id = '$tid'")" = "0|0"
expect cancel-worker-alive kill -0 "$cowner"

# ---- PostgreSQL stopped mid-run ------------------------------------------------------------
db_ids=()
for i in 0 1 2 3; do db_ids+=("$(upload "$URL_A" "$tmp/short.flac")"); done
expect db-running wait_state "$URL_B" "${db_ids[0]}" running 60
pg_stop
health_503() { # the node's listener sees the connection drop within moments
    for _ in $(seq 1 50); do
        [[ $(curl -s -o "$tmp/body" -w '%{http_code}' "$URL_A/health") == 503 ]] && return 0
        sleep 0.1
    done
    return 1
}
expect db-down-health health_503
expect db-down-job test "$(curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' "$URL_B/api/jobs/${db_ids[1]}")" = 503
expect db-down-json $PY -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['code'] == 'store_unavailable' and d['message']" "$tmp/body"
expect db-down-retry-after grep -qi '^Retry-After: [0-9]' "$tmp/headers"
expect db-down-upload test "$(curl -s -o /dev/null -w '%{http_code}' -F "file=@$tmp/short.flac" "$URL_A/api/process")" = 503
sleep 5
pg_start_again
db_all=1
for id in "${db_ids[@]}"; do wait_state "$URL_B" "$id" done 180 || db_all=0; done
expect db-back-all-done test $db_all = 1
expect db-back-once test "$(list=$(printf "'%s'," "${db_ids[@]}"); psql_q "SELECT count(*) FROM events WHERE type = 'done' AND job_id IN (${list%,})")" = 4

# ---- poison: a job that killed three workers -------------------------------------------------
kill -STOP "$WPID_1" "$WPID_2"
pid_=$(upload "$URL_A" "$tmp/short.flac")
psql_q "UPDATE jobs SET state = 'running', attempts = 3, owner = 'gone:1:0', lease_until = now() - interval '1 second' WHERE id = '$pid_'" >/dev/null
kill -CONT "$WPID_1" "$WPID_2"
expect poison-fails wait_state "$URL_B" "$pid_" failed 30
expect poison-code bash -c "curl -s '$URL_A/api/jobs/$pid_' | grep -q '\"code\":\"poison\"'"

# ---- expiry ------------------------------------------------------------------------------------
psql_q "UPDATE jobs SET updated = 1 WHERE id IN ($list)" >/dev/null
# a delivery about an expiring job, a batch of long ago and one just made (both without
# jobs) with one each, and one about a job that is gone
old_b=aaaaaaaa-0000-4000-8000-000000000001 new_b=aaaaaaaa-0000-4000-8000-000000000002
gone=aaaaaaaa-0000-4000-8000-000000000003
psql_q "INSERT INTO batches(id, created) VALUES ('$old_b', 1), ('$new_b', extract(epoch FROM now())::bigint);
INSERT INTO deliveries(target, event, url, secret, body, state, attempts, last_status, created, next_at, updated)
 SELECT t, 'job.done', 'http://127.0.0.1:9/', 's', '{}', 'pending', 0, 0, 1, 1, 1
 FROM unnest(ARRAY['${ids[1]}', '$old_b', '$new_b', '$gone']) t" >/dev/null
kill "$PID_A"; wait "$PID_A" 2>/dev/null
start_api A
expect expired-log grep -q 'expired 12 old jobs' "$tmp/api-A.log"
expect expired-no-rows test "$(psql_q "SELECT count(*) FROM jobs WHERE id IN ($list)")|$(psql_q "SELECT count(*) FROM events WHERE job_id IN ($list)")|$(psql_q "SELECT count(*) FROM blobs WHERE job_id IN ($list)")" = "0|0|0"
expect expired-batches-deliveries test "$(psql_q "SELECT string_agg(id, ' ' ORDER BY id) FROM batches WHERE id IN ('$old_b', '$new_b')")|$(psql_q "SELECT string_agg(target, ' ' ORDER BY target) FROM deliveries WHERE target IN ('${ids[1]}', '$old_b', '$new_b', '$gone')")" = "$new_b|$new_b"
expect health-end test "$(curl -s -o /dev/null -w '%{http_code}' "$URL_A/health")" = 200

echo "$passed passed, $failed failed"
if ((failed)); then
    for f in "$tmp"/api-*.log "$tmp"/worker-*.log; do echo "--- $f"; tail -15 "$f"; done
fi
((failed == 0))
