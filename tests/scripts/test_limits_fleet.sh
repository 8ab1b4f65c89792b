#!/usr/bin/env bash
# Fair use as a fleet (app/server/limits.c): two API nodes without workers on one throwaway
# PostgreSQL (tests/scripts/pg.sh), then one `dumu worker`. Every limit lives in the store,
# so it must hold across nodes:
#   - `dumu admin tiers|users set-tier|usage --db` on the fleet's store;
#   - one account's requests per minute are one bucket, whichever node they reach (429
#     rate_limited with Retry-After and RateLimit-*);
#   - today's minutes add up across nodes (429 daily_minutes);
#   - the fair claim order: account A queues five jobs, then B one; one worker starts B's
#     second.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
server_script

admin() { "$CLI" admin --db "$DB" "$@"; }
account() { # account NAME EMAIL: signs up and sets KEY_<NAME>, an API key made by dumu admin
    status "sign-up-$1" 201 -X POST -d "{\"email\":\"$2\",\"password\":\"a long enough password\"}" "$A/api/account"
    printf -v "KEY_$1" %s "$(admin keys create "$2" 2>/dev/null)"
}

wav "$tmp/s2.wav" 2
wav "$tmp/s40.wav" 40
pg_start "$tmp/pg" || { echo "FAIL cannot start PostgreSQL"; exit 1; }
api_node A --auth required || exit 1
api_node B --auth required || exit 1
A=$URL_A B=$URL_B
account a a@example.org
account b b@example.org
account c c@example.org

# ---- dumu admin on the fleet's store -----------------------------------------------------
expect admin-tiers-seeded test "$(admin tiers | cut -f1 | tr '\n' ' ')" = "tier anonymous free pro "
admin tiers set free --rpm 6 --concurrent 10 >/dev/null
expect admin-tier-set grep -q "^free	6	10	30	900	72$" <(admin tiers)
admin tiers set tight --minutes-per-day 1 >/dev/null
admin users set-tier c@example.org tight >/dev/null
expect admin-set-tier grep -q "c@example.org	tight" <(admin users)

# ---- one bucket across nodes: 6 a minute, taken alternately on A and B --------------------
n=0
for node in "$A" "$B" "$A" "$B" "$A" "$B"; do
    n=$((n + 1))
    status "rpm-$n" 200 -H "Authorization: Bearer $KEY_a" "$node/api/jobs"
    expect "rpm-$n-remaining" test "$(header RateLimit-Remaining)" = $((6 - n))
done
status rpm-over-a 429 -H "Authorization: Bearer $KEY_a" "$A/api/jobs"
status rpm-over-b 429 -H "Authorization: Bearer $KEY_a" "$B/api/jobs"
expect rpm-over-code test "$(json "$tmp/body" "d['code']")" = rate_limited
ra=$(header Retry-After)
expect rpm-retry-after test "${ra:-0}" -ge 1 -a "${ra:-99}" -le 10
expect rpm-limit-header test "$(header RateLimit-Limit)" = 6
admin tiers set free --rpm 1000 >/dev/null

# ---- today's minutes across nodes ----------------------------------------------------------
status daily-a 202 -H "Authorization: Bearer $KEY_c" -F "file=@$tmp/s40.wav" "$A/api/process"
status daily-b-over 429 -H "Authorization: Bearer $KEY_c" -F "file=@$tmp/s40.wav" "$B/api/process"
expect daily-code test "$(json "$tmp/body" "d['code']")" = daily_minutes
expect admin-usage grep -q "^c@example.org	tight	0.7	1	1$" <(admin usage c@example.org)

# ---- the fair claim order --------------------------------------------------------------
for i in 1 2 3 4 5; do
    node=$A; [[ $((i % 2)) == 0 ]] && node=$B
    status "fair-a-$i" 202 -H "Authorization: Bearer $KEY_a" -F "file=@$tmp/s2.wav" "$node/api/process"
done
status fair-b 202 -H "Authorization: Bearer $KEY_b" -F "file=@$tmp/s2.wav" "$B/api/process"
bid=$(json "$tmp/body" "d['job_id']")
# c's 40 s job would go first (its owner never started one): gone, so the order is A's and B's
status fair-drop-c 200 -X DELETE -H "Authorization: Bearer $KEY_c" "$A/api/jobs/$(psql_q "SELECT id FROM jobs WHERE owned_by LIKE 'a:%' AND duration > 30")"
# the place each node shows: B's one comes right after A's first, A's last after four
status fair-b-place 200 -H "Authorization: Bearer $KEY_b" "$A/api/jobs/$bid"
expect fair-b-position test "$(json "$tmp/body" "d['queue']['position']")" = 2
last_a=$(psql_q "SELECT id FROM jobs WHERE state = 'queued' AND id <> '$bid' ORDER BY seq DESC LIMIT 1")
status fair-a-place 200 -H "Authorization: Bearer $KEY_a" "$B/api/jobs/$last_a"
expect fair-a-position test "$(json "$tmp/body" "d['queue']['position']")" = 6
"$CLI" worker --db "$DB" --concurrency 1 --threads 2 --lease-s 10 >"$tmp/worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do
    [[ $(psql_q "SELECT started IS NOT NULL FROM jobs WHERE id = '$bid'") == t ]] && break
    sleep 0.2
done
b_at=$(psql_q "SELECT count(*) FROM jobs WHERE started <= (SELECT started FROM jobs WHERE id = '$bid')")
expect fair-b-second test "$b_at" = 2 || psql_q "SELECT owned_by, started FROM jobs ORDER BY started"

for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
wait
pids=()
echo "test_limits_fleet: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
