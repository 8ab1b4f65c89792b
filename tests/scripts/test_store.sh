#!/usr/bin/env bash
# The job store of `dumu serve` (app/server/jobs.c) across versions and crashes: a store of the
# first schema (no version, none of the later columns) opens and keeps its jobs, migrated to
# the current version; a store of a newer version is refused; a job that was running when the
# server died SRV_MAX_ATTEMPTS (3) times fails as "poison" (with an error event for its
# streams) while one that died once goes back to the queue; a real run counts its attempt; a
# full disk is the server's fault (507, or a job failed as "storage" that can run again:
# tests/scripts/full_disk.sh, in a mount namespace of its own, as root).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
server_script
start_server() { # start_server DIR: sets pid and B; returns 1 when it does not come up
    : >"$tmp/server.log"
    "$CLI" serve --port 0 --data-dir "$1" >"$tmp/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/server.log" | cut -d: -f3)
        [[ -n $port ]] && { B=http://127.0.0.1:$port; return 0; }
        kill -0 "$pid" 2>/dev/null || { pid=; return 1; }
        sleep 0.1
    done
    return 1
}
stop_server() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; }
sql() { # sql DB STATEMENT: prints the rows, one per line, fields joined by |
    $PY -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for r in c.execute(sys.argv[2]): print('|'.join(str(x) for x in r))
c.commit()" "$@"
}

# ---- a store of the first schema ------------------------------------------------------------
mkdir -p "$tmp/old/jobs" "$tmp/old/uploads"
A=11111111-1111-4111-8111-111111111111  # done
P=22222222-2222-4222-8222-222222222222  # died running 3 times
R=33333333-3333-4333-8333-333333333333  # died running once
sql "$tmp/old/dumu.db" "
CREATE TABLE jobs(id TEXT PRIMARY KEY, state TEXT NOT NULL, progress REAL NOT NULL, stage TEXT,
  message TEXT, name TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
  duration REAL, onset REAL, frame REAL, min_note_ms REAL, stems TEXT, bpm REAL, mode TEXT,
  result_bpm REAL, error_code TEXT, error_message TEXT)" >/dev/null
sql "$tmp/old/dumu.db" "CREATE TABLE events(job_id TEXT NOT NULL, id INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY(job_id, id))" >/dev/null
now=$(date +%s)
sql "$tmp/old/dumu.db" "INSERT INTO jobs VALUES ('$A','done',100,'midi','done','old_song',$now,$now,8.0,0.5,0.3,127.7,'bass',0,'bass',90.0,NULL,NULL)" >/dev/null
expect first-schema-opens start_server "$tmp/old"
curl -s "$B/api/jobs/$A" -o "$tmp/job.json"
expect first-schema-job-kept $PY -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['state'] == 'done' and d['title'] == 'old_song' and d['params']['quantize'] == 'off', d" "$tmp/job.json"
stop_server
expect migrated-to-current test "$(sql "$tmp/old/dumu.db" "PRAGMA user_version")" = 6
expect migrated-tiers-seeded test "$(sql "$tmp/old/dumu.db" "SELECT group_concat(name, ' ') FROM (SELECT name FROM tiers ORDER BY name)")" = "anonymous free pro"
expect migrated-columns test "$(sql "$tmp/old/dumu.db" "SELECT count(*) FROM pragma_table_info('jobs') WHERE name IN ('quantize','qstrength','title','attempts','fast','started','result_key','batch_id','webhook_url','webhook_secret')")" = 10
expect migrated-v6-tables test "$(sql "$tmp/old/dumu.db" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('batches','deliveries')")" = 2

# ---- crashes: three deaths make a job poison, one does not -----------------------------------
sql "$tmp/old/dumu.db" "INSERT INTO jobs(id,state,progress,stage,message,name,created,updated,stems,mode,attempts) VALUES ('$P','running',40,'separate','','bad_song',$now,$now,'bass','bass',3), ('$R','running',40,'separate','','ok_song',$now,$now,'bass','bass',1)" >/dev/null
expect reopens start_server "$tmp/old"
curl -s "$B/api/jobs/$P" -o "$tmp/p.json"
expect poison-failed $PY -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['state'] == 'failed' and d['error']['code'] == 'poison' and '3 times' in d['error']['message'], d" "$tmp/p.json"
curl -sN --max-time 5 "$B/api/progress/$P" >"$tmp/p.sse"
expect poison-error-event grep -q '"code":"poison"' "$tmp/p.sse"
curl -s "$B/api/jobs/$R" -o "$tmp/r.json"
expect once-dead-requeued $PY -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['state'] != 'failed' or d['error']['code'] != 'poison', d" "$tmp/r.json"

# ---- a real run counts its attempt ----------------------------------------------------------
ffmpeg -loglevel error -y -t 4 -i "$TD/dm04_openmsx_train_filled_with_cash/mix.flac" "$tmp/short.flac"
id=$(curl -s -F "file=@$tmp/short.flac" "$B/api/process" | $PY -c "import json,sys; print(json.load(sys.stdin)['job_id'])")
for _ in $(seq 1 600); do
    s=$(curl -s "$B/api/jobs/$id" | $PY -c "import json,sys; print(json.load(sys.stdin)['state'])")
    [[ $s == done || $s == failed ]] && break
    sleep 0.2
done
expect real-run-done test "$s" = done
stop_server
expect real-run-one-attempt test "$(sql "$tmp/old/dumu.db" "SELECT attempts FROM jobs WHERE id = '$id'")" = 1

# ---- a store from a newer dumu is refused ---------------------------------------------------
sql "$tmp/old/dumu.db" "PRAGMA user_version = 99" >/dev/null
"$CLI" serve --port 0 --data-dir "$tmp/old" >"$tmp/newer.log" 2>&1 &
npid=$!
for _ in $(seq 1 100); do kill -0 $npid 2>/dev/null || break; sleep 0.1; done
kill -0 $npid 2>/dev/null && { kill -9 $npid; echo "FAIL newer-exits"; failed=$((failed + 1)); }
expect newer-says-why grep -q "schema version 99, newer than this dumu" "$tmp/newer.log"

# ---- a full disk (its own mount namespace, with a small tmpfs) --------------------------------
if unshare -m --propagation private bash "$(dirname "$0")/full_disk.sh" "$CLI" "$tmp/short.flac" "$tmp"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); echo "FAIL full-disk"
fi

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
