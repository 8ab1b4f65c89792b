#!/usr/bin/env bash
# `dumu serve --auth required` as a fleet: two API nodes (no workers: jobs stay queued, which
# is all ownership needs) on one throwaway PostgreSQL (tests/scripts/pg.sh). Every rule must
# hold across nodes, since each node keeps nothing of its own:
#   - an account made on one node signs in on the other, and a session cookie and its CSRF
#     token from one node work on the other;
#   - a job or batch uploaded through one node is its owner's on both; every job and batch
#     route of the OpenAPI document answers 404 on both nodes to another account (cookie and
#     API key), the job untouched, and job lists show one's own only;
#   - an API key made on one node works on the other, and revoked there it is refused here at
#     once; `dumu admin keys create --db` makes one that both accept;
#   - failed logins count across nodes (429 + Retry-After);
#   - logout on one node ends the session on the other; deleting the account through one
#     node removes its jobs, their blobs and its credentials from the database.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
server_script

sign_up() { # sign_up NAME EMAIL BASE: sets COOKIE_<NAME> and CSRF_<NAME>
    status "sign-up-$1" 201 -X POST -d "{\"email\":\"$2\",\"password\":\"a long enough password\"}" "$3/api/account"
    printf -v "COOKIE_$1" %s "dumu_session=$(cookie dumu_session)"
    printf -v "CSRF_$1" %s "$(json "$tmp/body" "d['csrf_token']")"
}

ffmpeg -loglevel error -y -t 3 -i "$TD/dm04_openmsx_train_filled_with_cash/mix.flac" "$tmp/clip.flac"
pg_start "$tmp/pg" || { echo "FAIL cannot start PostgreSQL"; exit 1; }
api_node A --auth required || exit 1
api_node B --auth required || exit 1
A=$URL_A B=$URL_B

# ---- accounts and sessions across nodes --------------------------------------------------
status anonymous-refused-a 401 "$A/api/jobs"
status anonymous-refused-b 401 -F "file=@$tmp/clip.flac" "$B/api/process"
sign_up alice alice@example.org "$A"
status taken-on-other-node 409 -X POST -d '{"email":"alice@example.org","password":"a long enough password"}' "$B/api/account"
status session-on-other-node 200 -H "Cookie: $COOKIE_alice" "$B/api/account"
status csrf-on-other-node 202 -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_alice" -F "file=@$tmp/clip.flac" "$B/api/process"
id=$(json "$tmp/body" "d['job_id']")
status csrf-missing-other-node 403 -H "Cookie: $COOKIE_alice" -F "file=@$tmp/clip.flac" "$A/api/process"
status owner-on-a 200 -H "Cookie: $COOKIE_alice" "$A/api/jobs/$id"
status batch-on-b 202 -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_alice" -F "file=@$tmp/clip.flac" "$B/api/batches"
bid=$(json "$tmp/body" "d['batch_id']")
bjob=$(json "$tmp/body" "d['job_ids'][0]")
status batch-seen-on-a 200 -H "Cookie: $COOKIE_alice" "$A/api/batches/$bid"
expect batch-doc-on-a test "$(json "$tmp/body" "(d['state'], [j['job_id'] for j in d['jobs']])")" = "('queued', ['$bjob'])"
expect owned-in-db test "$(psql_q "SELECT owned_by LIKE 'a:%' FROM jobs WHERE id = '$id'")" = t
status login-on-b 200 -X POST -d '{"email":"alice@example.org","password":"a long enough password"}' "$B/api/session"
login_cookie="dumu_session=$(cookie dumu_session)"
login_csrf=$(json "$tmp/body" "d['csrf_token']")
status login-used-on-a 200 -H "Cookie: $login_cookie" "$A/api/account"
status logout-on-a 204 -X DELETE -H "Cookie: $login_cookie" -H "X-CSRF-Token: $login_csrf" "$A/api/session"
status logged-out-on-b 401 -H "Cookie: $login_cookie" "$B/api/account"

# ---- API keys across nodes ---------------------------------------------------------------
status key-create-a 201 -X POST -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_alice" -d '{"name":"ci"}' "$A/api/keys"
key=$(json "$tmp/body" "d['key']")
key_id=$(json "$tmp/body" "d['id']")
status key-used-on-b 200 -H "Authorization: Bearer $key" "$B/api/jobs/$id"
status key-revoke-on-b 204 -X DELETE -H "Authorization: Bearer $key" "$B/api/keys/$key_id"
status key-refused-on-a 401 -H "Authorization: Bearer $key" "$A/api/jobs"
admin_key=$("$CLI" admin keys create alice@example.org --name deploy --db "$DB" 2>"$tmp/admin.err")
status admin-key-a 200 -H "Authorization: Bearer $admin_key" "$A/api/account"
status admin-key-b 200 -H "Authorization: Bearer $admin_key" "$B/api/account"
"$CLI" admin users --db "$DB" >"$tmp/users.txt"
expect admin-users test "$(cut -f2 "$tmp/users.txt")" = alice@example.org
"$CLI" admin keys list alice@example.org --db "$DB" >"$tmp/keys.txt"
expect admin-keys-list test "$(cut -f2 "$tmp/keys.txt")" = deploy
"$CLI" admin keys revoke "$(cut -f1 "$tmp/keys.txt")" --db "$DB"
status admin-revoked-a 401 -H "Authorization: Bearer $admin_key" "$A/api/account"
status admin-revoked-b 401 -H "Authorization: Bearer $admin_key" "$B/api/account"

# ---- ownership on both nodes -------------------------------------------------------------
sign_up bob bob@example.org "$B"
status key-bob 201 -X POST -H "Cookie: $COOKIE_bob" -H "X-CSRF-Token: $CSRF_bob" -d '{"name":"b"}' "$A/api/keys"
key_bob=$(json "$tmp/body" "d['key']")
curl -s "$A/openapi.json" >"$tmp/openapi.json"
id_routes "$tmp/openapi.json" >"$tmp/routes.txt"
expect routes-found test "$(wc -l <"$tmp/routes.txt")" -ge 14
while read -r method path; do
    for node in "$A" "$B"; do
        url=$node${path/ID/$id}
        [[ $path == */batch* ]] && url=$node${path/ID/$bid} # a batch's routes, with alice's batch
        body=(); [[ $method == POST ]] && body=(-H 'Content-Type: application/json' -d '{}')
        status "other-cookie $method $path" 404 -X "$method" "${body[@]}" -H "Cookie: $COOKIE_bob" -H "X-CSRF-Token: $CSRF_bob" "$url"
        status "other-key $method $path" 404 -X "$method" "${body[@]}" -H "Authorization: Bearer $key_bob" "$url"
    done
done <"$tmp/routes.txt"
status job-untouched 200 -H "Cookie: $COOKIE_alice" "$B/api/jobs/$id"
status other-list 200 -H "Cookie: $COOKIE_bob" "$A/api/jobs"
expect other-list-empty test "$(json "$tmp/body" "len(d['jobs'])")" = 0
status owner-list 200 -H "Cookie: $COOKIE_alice" "$A/api/jobs"
expect owner-list-has-it test "$(json "$tmp/body" "[j['job_id'] for j in d['jobs']]")" = "['$bjob', '$id']"

# ---- failed logins count across nodes ----------------------------------------------------
for i in 1 2 3; do
    status "wrong-a-$i" 401 -X POST -d '{"email":"bob@example.org","password":"not the password"}' "$A/api/session"
done
for i in 1 2; do
    status "wrong-b-$i" 401 -X POST -d '{"email":"bob@example.org","password":"not the password"}' "$B/api/session"
done
status throttled-across-nodes 429 -X POST -d '{"email":"bob@example.org","password":"a long enough password"}' "$A/api/session"
expect throttled-retry-after grep -qiE '^Retry-After: [1-9][0-9]*' "$tmp/headers"

# ---- deleting the account through one node -----------------------------------------------
# a batch of hers and webhook deliveries about it and about her job go with her
batch=bbbbbbbb-0000-4000-8000-000000000001
psql_q "INSERT INTO batches(id, owned_by, created) SELECT '$batch', 'a:' || id,
 extract(epoch FROM now())::bigint FROM accounts WHERE email = 'alice@example.org';
INSERT INTO deliveries(target, event, url, secret, body, state, attempts, last_status, created, next_at, updated)
 SELECT t, 'job.done', 'http://127.0.0.1:9/', 's', '{}', 'pending', 0, 0, 1, 1, 1
 FROM unnest(ARRAY['$id', '$batch']) t" >/dev/null
expect batch-before test "$(psql_q "SELECT count(*) FROM batches WHERE id = '$batch'")" = 1
status delete-account-b 204 -X DELETE -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_alice" "$B/api/account"
status deleted-session-a 401 -H "Cookie: $COOKIE_alice" "$A/api/account"
expect deleted-everything test "$(psql_q "SELECT (SELECT count(*) FROM jobs WHERE id = '$id'),
  (SELECT count(*) FROM blobs WHERE job_id = '$id'),
  (SELECT count(*) FROM accounts WHERE email = 'alice@example.org'),
  (SELECT count(*) FROM credentials WHERE account_id NOT IN (SELECT id FROM accounts)),
  (SELECT count(*) FROM batches WHERE id = '$batch'),
  (SELECT count(*) FROM deliveries WHERE target IN ('$id', '$batch'))")" = "0|0|0|0|0|0"

for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
wait
pids=()
echo "test_auth_fleet: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
