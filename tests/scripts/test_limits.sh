#!/usr/bin/env bash
# Fair use on SQLite (dumu serve --auth; app/server/limits.c): a real server on a loopback
# port and curl, with small limits set by `dumu admin tiers set` beside the running server.
#   admin: the seeded tiers, tiers set (changed and new), users set-tier, usage;
#   required: the requests-per-minute bucket (RateLimit-* on every API reply, 429
#     rate_limited with Retry-After once empty, the bucket per account), jobs at once (429
#     too_many_jobs, also for all the songs of a batch), the longest song (413
#     song_too_long), today's minutes (429, a batch's songs together:
#     daily_minutes with Retry-After and the day's RateLimit-*), GET /api/account's limits and
#     usage; the fair queue: account A queues five jobs, then B one: B's starts second;
#   retention: a finished job is kept for its owner's tier's hours (--ttl-hours with off);
#   optional: anonymous askers are counted in tier anonymous by address (requests per
#     minute; today's minutes shared by two browsers);
#   off: no RateLimit-* headers, no limits.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
server_script

admin() { "$CLI" admin --data-dir "$tmp/data" "$@"; }
quiet() { "$@" >/dev/null; }

serve() { start_server --max-queue 64 --web-dir "${DUMU_SOURCE_DIR:?}/web/dist" "$@"; } # start_server (lib.sh) as this script runs it
# account NAME EMAIL: signs up (as anonymous: by address) and sets KEY_<NAME>, an API key
account() {
    status "sign-up-$1" 201 -X POST -d "{\"email\":\"$2\",\"password\":\"a long enough password\"}" "$B/api/account"
    printf -v "KEY_$1" %s "$(admin keys create "$2" 2>/dev/null)"
}

wav "$tmp/s2.wav" 2
wav "$tmp/s12.wav" 12
wav "$tmp/s40.wav" 40
: >"$tmp/server.log"

# ---- required -----------------------------------------------------------------------------
serve --auth required
admin tiers >"$tmp/tiers.txt"
expect admin-tiers-seeded test "$(cut -f1 "$tmp/tiers.txt" | tr '\n' ' ')" = "tier anonymous free pro "
expect admin-tiers-list test "$(admin tiers list | wc -l)" = 4
account alice alice@example.org
account bob bob@example.org
expect admin-set-usage bash -c "! '$CLI' admin --data-dir '$tmp/data' tiers set free --rpm 0 2>/dev/null"
expect admin-bad-name bash -c "! '$CLI' admin --data-dir '$tmp/data' tiers set 'No Good' 2>/dev/null"
admin tiers set free --rpm 5 >/dev/null
expect admin-set-rpm grep -q "^free	5	2	30	900	72$" <(admin tiers)

# the bucket: 5 requests, then 429 until a token comes back (one every 12 s)
for i in 1 2 3 4 5; do
    status "rpm-$i" 200 -H "Authorization: Bearer $KEY_alice" "$B/api/jobs"
    expect "rpm-$i-remaining" test "$(header RateLimit-Remaining)" = $((5 - i))
done
expect rpm-limit-header test "$(header RateLimit-Limit)" = 5
status rpm-over 429 -H "Authorization: Bearer $KEY_alice" "$B/api/jobs"
expect rpm-over-code test "$(json "$tmp/body" "d['code']")" = rate_limited
ra=$(header Retry-After)
expect rpm-retry-after test "${ra:-0}" -ge 1 -a "${ra:-99}" -le 12
expect rpm-over-remaining test "$(header RateLimit-Remaining)" = 0
rs=$(header RateLimit-Reset)
expect rpm-over-reset test "${rs:-0}" -ge 50 -a "${rs:-99}" -le 60
status rpm-other-account 200 -H "Authorization: Bearer $KEY_bob" "$B/api/jobs"
expect rpm-own-bucket test "$(header RateLimit-Remaining)" = 4
status rpm-health-free 200 "$B/health"
expect rpm-health-no-header test -z "$(header RateLimit-Limit)"
sleep "$ra"
status rpm-after-wait 200 -H "Authorization: Bearer $KEY_alice" "$B/api/jobs"

# jobs at once, the longest song and today's minutes (pro: a new tier's worth of changes)
admin tiers set free --rpm 1000 --concurrent 1 --minutes-per-day 1 --max-song-s 30 >/dev/null
sleep 0.2 # the bucket left empty above refills at 1000 a minute: a token in 60 ms
status song-too-long 413 -H "Authorization: Bearer $KEY_alice" -F "file=@$tmp/s40.wav" "$B/api/process"
expect song-too-long-code test "$(json "$tmp/body" "d['code']")" = song_too_long
status upload-first 202 -H "Authorization: Bearer $KEY_alice" -F "file=@$tmp/s12.wav" "$B/api/process"
first=$(json "$tmp/body" "d['job_id']")
expect upload-daily-limit test "$(header RateLimit-Limit)" = 1
expect upload-daily-reset test "$(header RateLimit-Reset)" -ge 1
status too-many-jobs 429 -H "Authorization: Bearer $KEY_alice" -F "file=@$tmp/s2.wav" "$B/api/process"
expect too-many-jobs-code test "$(json "$tmp/body" "d['code']")" = too_many_jobs
expect too-many-jobs-retry test -n "$(header Retry-After)"
status account-usage 200 -H "Authorization: Bearer $KEY_alice" "$B/api/account"
expect account-usage-body $PY -c "
import json, sys; d = json.load(open(sys.argv[1]))
l, u = d['limits'], d['usage']
assert (l['tier'], l['requests_per_minute'], l['concurrent_jobs'], l['minutes_per_day'], l['max_song_s'], l['retention_h']) == ('free', 1000, 1, 1, 30, 72), l
assert u['minutes_used'] == 0.2 and u['minutes_left'] == 0.8 and u['jobs_active'] == 1 and 0 < u['resets_in_s'] <= 86400, u" "$tmp/body"
admin usage alice@example.org >"$tmp/usage.txt"
expect admin-usage grep -q "^alice@example.org	free	0.2	1	1$" "$tmp/usage.txt"
expect admin-usage-all test "$(admin usage | wc -l)" = 3
admin tiers set free --concurrent 10 >/dev/null
# a batch counts all its songs' minutes: five 12 s songs pass one by one, not together
five=(); for i in 1 2 3 4 5; do five+=(-F "file=@$tmp/s12.wav"); done
status batch-daily-over 429 -H "Authorization: Bearer $KEY_alice" "${five[@]}" "$B/api/batches"
expect batch-daily-over-code test "$(json "$tmp/body" "d['code']")" = daily_minutes
expect batch-daily-over-says grep -q "the songs are 1.0 minutes" "$tmp/body"
for i in 1 2 3 4; do
    status "daily-$i" 202 -H "Authorization: Bearer $KEY_alice" -F "file=@$tmp/s12.wav" "$B/api/process"
done
status daily-over 429 -H "Authorization: Bearer $KEY_alice" -F "file=@$tmp/s2.wav" "$B/api/process"
expect daily-over-code test "$(json "$tmp/body" "d['code']")" = daily_minutes
expect daily-over-retry test "$(header Retry-After)" -ge 1
expect daily-over-remaining test "$(header RateLimit-Remaining)" = 0
# ... and needs room for all its songs among the tier's jobs at once (bob has none yet)
eleven=(); for i in $(seq 1 11); do eleven+=(-F "file=@$tmp/s2.wav"); done
status batch-too-many-jobs 429 -H "Authorization: Bearer $KEY_bob" "${eleven[@]}" "$B/api/batches"
expect batch-too-many-jobs-code test "$(json "$tmp/body" "d['code']")" = too_many_jobs
expect batch-too-many-jobs-says grep -q "11 songs at once are more than your 10" "$tmp/body"
status daily-other-account 202 -H "Authorization: Bearer $KEY_bob" -F "file=@$tmp/s2.wav" "$B/api/process"
# set-tier: bob to a new tier with a day's worth of minutes
expect admin-new-tier quiet admin tiers set team --minutes-per-day 600
expect admin-new-tier-from-free grep -q "^team	1000	10	600	30	72$" <(admin tiers)
expect admin-set-tier quiet admin users set-tier alice@example.org team
expect admin-set-tier-unknown bash -c "! '$CLI' admin --data-dir '$tmp/data' users set-tier alice@example.org nope 2>/dev/null"
expect admin-users-tier grep -q "alice@example.org	team" <(admin users)
status daily-new-tier 202 -H "Authorization: Bearer $KEY_alice" -F "file=@$tmp/s2.wav" "$B/api/process"
stop_server

# ---- the fair queue: A's five jobs first, then B's one, one worker --------------------------
rm -rf "$tmp/data"
serve --auth required --workers 1
account a a@example.org
account b b@example.org
admin tiers set free --concurrent 10 >/dev/null
for i in 1 2 3 4 5; do
    status "fair-a-$i" 202 -H "Authorization: Bearer $KEY_a" -F "file=@$tmp/s2.wav" "$B/api/process"
done
status fair-b 202 -H "Authorization: Bearer $KEY_b" -F "file=@$tmp/s2.wav" "$B/api/process"
bid=$(json "$tmp/body" "d['job_id']")
status fair-b-place 200 -H "Authorization: Bearer $KEY_b" "$B/api/jobs/$bid"
expect fair-b-starts-next $PY -c "
import json, sys; d = json.load(open(sys.argv[1]))
assert d['state'] != 'queued' or d['queue']['position'] == 1, d" "$tmp/body"
for _ in $(seq 1 600); do
    curl -s -H "Authorization: Bearer $KEY_b" "$B/api/jobs/$bid" -o "$tmp/state.json"
    [[ $(json "$tmp/state.json" "d.get('state')" 2>/dev/null) =~ done|failed ]] && break
    sleep 0.2
done
expect fair-b-done test "$(json "$tmp/state.json" "d.get('state')")" = done
# the order the jobs started in, from the store: B's one goes second, before four of A's
order=$($PY -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(' '.join(o[:2] for (o,) in db.execute('SELECT owned_by FROM jobs WHERE started IS NOT NULL ORDER BY started')))" "$tmp/data/dumu.db")
b_at=$($PY -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute('SELECT count(*) FROM jobs WHERE started <= (SELECT started FROM jobs WHERE id = ?)', (sys.argv[2],)).fetchone()[0])" "$tmp/data/dumu.db" "$bid")
expect fair-b-second test "$b_at" = 2 || echo "start order: $order"
stop_server

# ---- retention by tier: finished jobs two hours old; free keeps them an hour, --ttl-hours 24
sq() { $PY -c "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); r = db.execute(sys.argv[2]).fetchall(); db.commit(); print(' '.join(str(x[0]) for x in r))" "$tmp/data/dumu.db" "$1"; }
sq "DELETE FROM jobs WHERE state IN ('queued', 'running') RETURNING id" >/dev/null # no more finish
sq "UPDATE jobs SET updated = updated - 7200 WHERE state IN ('done', 'failed') RETURNING id" >/dev/null
n_done=$(sq "SELECT count(*) FROM jobs WHERE state IN ('done', 'failed')")
serve # --auth off: the server's --ttl-hours alone
stop_server
expect retention-off-keeps test "$(sq "SELECT count(*) FROM jobs WHERE state IN ('done', 'failed')")" = "$n_done"
admin tiers set free --retention-h 1 >/dev/null
serve --auth required
stop_server
expect retention-by-tier test "$(sq "SELECT count(*) FROM jobs WHERE state IN ('done', 'failed')")" = 0
expect retention-had-jobs test "$n_done" -ge 1

# ---- optional: anonymous browsers by address --------------------------------------------
serve --auth optional
admin tiers set anonymous --rpm 3 >/dev/null
status anon-1 200 "$B/api/jobs"
expect anon-1-limit test "$(header RateLimit-Limit)" = 3
status anon-2 200 -H "Cookie: dumu_anon=dumu_a_someone" "$B/api/jobs"
status anon-3 200 "$B/api/session"
status anon-over 429 "$B/api/jobs"
expect anon-over-code test "$(json "$tmp/body" "d['code']")" = rate_limited
# today's minutes by address: a second browser (no cookie: a new token) shares the first's
admin tiers set anonymous --rpm 1000 --minutes-per-day 1 >/dev/null
status anon-upload 202 -F "file=@$tmp/s40.wav" "$B/api/process"
expect anon-upload-token grep -qi '^Set-Cookie: dumu_anon=' "$tmp/headers"
status anon-other-browser 429 -F "file=@$tmp/s40.wav" "$B/api/process"
expect anon-daily-code test "$(json "$tmp/body" "d['code']")" = daily_minutes
stop_server

# ---- off: as before ------------------------------------------------------------------------
serve
for i in 1 2 3 4; do status "off-$i" 200 "$B/api/jobs"; done
expect off-no-ratelimit test -z "$(header RateLimit-Limit)"
stop_server

echo "test_limits: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
