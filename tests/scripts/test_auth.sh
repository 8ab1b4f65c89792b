#!/usr/bin/env bash
# `dumu serve --auth` end to end on SQLite: a real server on a loopback port and curl.
#   required: everything but signing up/in, /health, /openapi.json, /docs and the web page
#     answers 401 without a session or key; sign-up (bad e-mail, short password, taken
#     e-mail), the cookie's attributes, CSRF refused (403) and accepted, API keys made, used,
#     listed and revoked (also with `dumu admin` beside the running server), wrong passwords
#     throttled (429 + Retry-After, even for the right one then), logout revoking the cookie
#     at once, and ownership: every job and batch route of the OpenAPI document, walked with
#     another account's cookie and key, answers 404 (the job untouched), its owner gets it;
#     deleting an account deletes its jobs and their files;
#   optional: an anonymous browser gets a token cookie with its first upload and sees only
#     its own jobs; its CSRF token comes from GET /api/session; signing up takes its jobs and
#     batches into the account; --secure-cookies;
#   off: the account routes are 404 and jobs are everyone's, as before.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
server_script
ERRORS_ARE_JSON=1 # every refusal of these routes must say why: status checks {code, message}

serve() { start_server --max-queue 64 --web-dir "${DUMU_SOURCE_DIR:?}/web/dist" "$@"; } # start_server (lib.sh) as this script runs it

# sign_up NAME EMAIL: an account; sets COOKIE_<NAME> and CSRF_<NAME>
sign_up() {
    status "sign-up-$1" 201 -X POST -d "{\"email\":\"$2\",\"password\":\"a long enough password\"}" "$B/api/account"
    printf -v "COOKIE_$1" %s "dumu_session=$(cookie dumu_session)"
    printf -v "CSRF_$1" %s "$(json "$tmp/body" "d['csrf_token']")"
}

ffmpeg -loglevel error -y -t 3 -i "$TD/dm04_openmsx_train_filled_with_cash/mix.flac" "$tmp/clip.flac"
: >"$tmp/server.log"

# ---- required -----------------------------------------------------------------------------
serve --auth required
status public-health 200 "$B/health"
status public-openapi 200 "$B/openapi.json"
cp "$tmp/body" "$tmp/openapi.json"
status public-docs 200 "$B/docs"
status public-web-page 200 "$B/"
status anon-jobs 401 "$B/api/jobs"
status anon-upload 401 -F "file=@$tmp/clip.flac" "$B/api/process"
status anon-account 401 "$B/api/account"
status anon-keys 401 "$B/api/keys"
status anon-session-info 200 "$B/api/session"
expect anon-session-info-body test "$(json "$tmp/body" "(d['auth'], d['account'], d['csrf_token'])")" = "('required', None, None)"
status bad-key 401 -H "Authorization: Bearer dumu_k_nonsense" "$B/api/jobs"
status bad-authorization 401 -H "Authorization: Basic YTpi" "$B/api/jobs"

status sign-up-bad-email 400 -X POST -d '{"email":"not-an-address","password":"a long enough password"}' "$B/api/account"
status sign-up-short-password 400 -X POST -d '{"email":"x@example.org","password":"short"}' "$B/api/account"
expect sign-up-short-code test "$(json "$tmp/body" "d['code']")" = weak_password
status sign-up-not-json 400 -X POST -d 'email=x' "$B/api/account"
sign_up alice Alice@Example.org
expect cookie-httponly grep -qi '^Set-Cookie: dumu_session=dumu_s_[A-Za-z0-9_-]\{43\}; Path=/; Max-Age=[0-9]*; HttpOnly; SameSite=Lax' "$tmp/headers"
expect cookie-not-secure-by-default bash -c "! grep -qi '^Set-Cookie:.*Secure' '$tmp/headers'"
expect sign-up-account test "$(json "$tmp/body" "(d['account']['email'], d['account']['tier'])")" = "('alice@example.org', 'free')"
status sign-up-taken 409 -X POST -d '{"email":"alice@example.org","password":"another long password"}' "$B/api/account"
sign_up bob bob@example.org
status account 200 -H "Cookie: $COOKIE_alice" "$B/api/account"
expect account-body $PY -c "
import json, sys, time; d = json.load(open(sys.argv[1]))
assert d['email'] == 'alice@example.org' and d['tier'] == 'free' and abs(d['created'] - time.time()) < 120, d" "$tmp/body"
status session-info 200 -H "Cookie: $COOKIE_alice" "$B/api/session"
expect session-info-csrf test "$(json "$tmp/body" "d['csrf_token']")" = "$CSRF_alice"

# CSRF: a cookie alone does not change anything
status csrf-upload-missing 403 -H "Cookie: $COOKIE_alice" -F "file=@$tmp/clip.flac" "$B/api/process"
expect csrf-code test "$(json "$tmp/body" "d['code']")" = csrf
status csrf-upload-wrong 403 -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_bob" -F "file=@$tmp/clip.flac" "$B/api/process"
status csrf-upload-ok 202 -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_alice" -F "file=@$tmp/clip.flac" "$B/api/process"
id=$(json "$tmp/body" "d['job_id']")
for _ in $(seq 1 600); do
    curl -s -H "Cookie: $COOKIE_alice" "$B/api/jobs/$id" -o "$tmp/state.json"
    [[ $(json "$tmp/state.json" "d.get('state')" 2>/dev/null) == done ]] && break
    sleep 0.2
done
expect alice-job-done test "$(json "$tmp/state.json" "d.get('state')")" = done
status csrf-batch-missing 403 -H "Cookie: $COOKIE_alice" -F "file=@$tmp/clip.flac" -F "file=@$tmp/clip.flac" "$B/api/batches"
status batch-ok 202 -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_alice" -F "file=@$tmp/clip.flac" -F "file=@$tmp/clip.flac" "$B/api/batches"
bid=$(json "$tmp/body" "d['batch_id']")
for _ in $(seq 1 600); do
    curl -s -H "Cookie: $COOKIE_alice" "$B/api/batches/$bid" -o "$tmp/state.json"
    [[ $(json "$tmp/state.json" "d.get('state')" 2>/dev/null) == done ]] && break
    sleep 0.2
done
expect alice-batch-done test "$(json "$tmp/state.json" "(d.get('state'), d.get('counts', {}).get('done'))")" = "('done', 2)"

# API keys: made with the session (CSRF), used without cookie or CSRF, revoked
status key-no-csrf 403 -X POST -H "Cookie: $COOKIE_alice" -d '{"name":"ci"}' "$B/api/keys"
status key-bad-name 400 -X POST -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_alice" -d '{"name":""}' "$B/api/keys"
status key-create 201 -X POST -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_alice" -d '{"name":"ci"}' "$B/api/keys"
KEY_alice=$(json "$tmp/body" "d['key']")
key_id=$(json "$tmp/body" "d['id']")
expect key-no-store grep -qi '^Cache-Control: no-store' "$tmp/headers"
expect key-shape test "$(json "$tmp/body" "(d['name'], d['key'].startswith('dumu_k_'), len(d['key']))")" = "('ci', True, 50)"
status key-list 200 -H "Authorization: Bearer $KEY_alice" "$B/api/keys"
expect key-list-no-secret $PY -c "
import json, sys; d = json.load(open(sys.argv[1]))
assert [(k['id'], k['name']) for k in d['keys']] == [(sys.argv[2], 'ci')] and 'key' not in d['keys'][0], d" "$tmp/body" "$key_id"
expect key-not-stored-plain bash -c "! grep -rq '$KEY_alice' '$tmp/data'"
status key-use 200 -H "Authorization: Bearer $KEY_alice" "$B/api/jobs"
expect key-sees-own grep -q "$id" "$tmp/body"
status key-post-no-csrf 200 -X POST -H "Authorization: Bearer $KEY_alice" -d '{}' "$B/api/jobs/$id/transcribe"
sign_up carol carol@example.org
status key-carol 201 -X POST -H "Cookie: $COOKIE_carol" -H "X-CSRF-Token: $CSRF_carol" -d '{"name":"x"}' "$B/api/keys"
KEY_carol=$(json "$tmp/body" "d['key']")
status key-revoke-other 404 -X DELETE -H "Authorization: Bearer $KEY_carol" "$B/api/keys/$key_id"
status key-revoke 204 -X DELETE -H "Authorization: Bearer $KEY_alice" "$B/api/keys/$key_id"
status key-revoked 401 -H "Authorization: Bearer $KEY_alice" "$B/api/jobs"

# dumu admin beside the running server
"$CLI" admin users --data-dir "$tmp/data" >"$tmp/users.txt" 2>"$tmp/admin.err"
expect admin-users test "$(cut -f2 "$tmp/users.txt" | tr '\n' ' ')" = "alice@example.org bob@example.org carol@example.org "
KEY_admin=$("$CLI" admin keys create ALICE@example.org --name deploy --data-dir "$tmp/data" 2>"$tmp/admin.err")
expect admin-key-create test "${KEY_admin:0:7}" = dumu_k_
status admin-key-works 200 -H "Authorization: Bearer $KEY_admin" "$B/api/account"
"$CLI" admin keys list alice@example.org --data-dir "$tmp/data" >"$tmp/keys.txt"
expect admin-key-list test "$(cut -f2 "$tmp/keys.txt")" = deploy
"$CLI" admin keys revoke "$(cut -f1 "$tmp/keys.txt")" --data-dir "$tmp/data"
expect admin-key-revoke test $? = 0
status admin-key-revoked 401 -H "Authorization: Bearer $KEY_admin" "$B/api/account"
"$CLI" admin keys list nobody@example.org --data-dir "$tmp/data" 2>/dev/null
expect admin-no-account test $? = 2
"$CLI" admin keys revoke 00000000-0000-4000-8000-000000000000 --data-dir "$tmp/data" 2>/dev/null
expect admin-no-key test $? = 2
"$CLI" admin frobnicate 2>/dev/null
expect admin-usage test $? = 1
status key-bob 201 -X POST -H "Cookie: $COOKIE_bob" -H "X-CSRF-Token: $CSRF_bob" -d '{"name":"b"}' "$B/api/keys"
KEY_bob=$(json "$tmp/body" "d['key']")

# ---- ownership: every job route of the description, with someone else's job --------------
id_routes "$tmp/openapi.json" >"$tmp/routes.txt"
expect routes-found test "$(wc -l <"$tmp/routes.txt")" -ge 14
while read -r method path; do
    url=$B${path/ID/$id}
    [[ $path == */batch* ]] && url=$B${path/ID/$bid} # a batch's routes, with alice's batch
    body=(); [[ $method == POST ]] && body=(-H 'Content-Type: application/json' -d '{}')
    status "other-cookie $method $path" 404 -X "$method" "${body[@]}" -H "Cookie: $COOKIE_bob" -H "X-CSRF-Token: $CSRF_bob" "$url"
    status "other-key $method $path" 404 -X "$method" "${body[@]}" -H "Authorization: Bearer $KEY_bob" "$url"
    status "anonymous $method $path" 401 -X "$method" "${body[@]}" "$url"
    # its owner gets past the lookup (a retry of a done job is refused as not_retryable)
    if [[ $method != DELETE ]]; then
        status "owner $method $path" '200|206|409' -X "$method" "${body[@]}" -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_alice" "$url"
    fi
done <"$tmp/routes.txt"
status owner-list 200 -H "Cookie: $COOKIE_alice" "$B/api/jobs?limit=100"
expect owner-list-has-all test "$(json "$tmp/body" "(d['total'], len(d['jobs']))")" = "(3, 3)"
status other-list 200 -H "Cookie: $COOKIE_bob" "$B/api/jobs"
expect other-list-empty test "$(json "$tmp/body" "len(d['jobs'])")" = 0
status owner-still-has-it 200 -H "Cookie: $COOKIE_alice" "$B/api/jobs/$id"
expect owner-job-done test "$(json "$tmp/body" "d['state']")" = done

# ---- logins: wrong passwords are throttled, logout ends the session at once ---------------
for i in 1 2 3 4 5; do
    status "wrong-password-$i" 401 -X POST -d '{"email":"carol@example.org","password":"not the password"}' "$B/api/session"
done
status throttled 429 -X POST -d '{"email":"carol@example.org","password":"not the password"}' "$B/api/session"
expect throttled-retry-after grep -qiE '^Retry-After: [1-9][0-9]*' "$tmp/headers"
status throttled-even-right 429 -X POST -d '{"email":"carol@example.org","password":"a long enough password"}' "$B/api/session"
status unknown-email 401 -X POST -d '{"email":"nobody@example.org","password":"a long enough password"}' "$B/api/session"
status login 200 -X POST -d '{"email":"ALICE@example.org","password":"a long enough password"}' "$B/api/session"
login_cookie="dumu_session=$(cookie dumu_session)"
login_csrf=$(json "$tmp/body" "d['csrf_token']")
expect login-new-csrf test "$login_csrf" != "$CSRF_alice"
status login-works 200 -H "Cookie: $login_cookie" "$B/api/account"
status logout-no-csrf 403 -X DELETE -H "Cookie: $login_cookie" "$B/api/session"
status logout 204 -X DELETE -H "Cookie: $login_cookie" -H "X-CSRF-Token: $login_csrf" "$B/api/session"
expect logout-clears-cookie grep -qi '^Set-Cookie: dumu_session=; Path=/; Max-Age=0' "$tmp/headers"
status logout-revoked 401 -H "Cookie: $login_cookie" "$B/api/account"
status logout-revoked-jobs 401 -H "Cookie: $login_cookie" "$B/api/jobs/$id"
status other-session-lives 200 -H "Cookie: $COOKIE_alice" "$B/api/account"

# ---- deleting an account deletes its jobs and their files ---------------------------------
expect files-before test -d "$tmp/data/jobs/$id"
status delete-account-no-csrf 403 -X DELETE -H "Cookie: $COOKIE_alice" "$B/api/account"
status delete-account 204 -X DELETE -H "Cookie: $COOKIE_alice" -H "X-CSRF-Token: $CSRF_alice" "$B/api/account"
status deleted-session 401 -H "Cookie: $COOKIE_alice" "$B/api/account"
status deleted-login 401 -X POST -d '{"email":"alice@example.org","password":"a long enough password"}' "$B/api/session"
expect deleted-job-files test ! -e "$tmp/data/jobs/$id" -a ! -e "$tmp/data/uploads/$id.audio"
expect deleted-rows test "$($PY -c "
import sqlite3, sys; db = sqlite3.connect(sys.argv[1])
print([db.execute(q, (sys.argv[3] if 'batch' in q else sys.argv[2],)).fetchone()[0] for q in (
    'SELECT count(*) FROM jobs WHERE id = ?',
    'SELECT count(*) FROM accounts WHERE email = \\'alice@example.org\\' OR ? IS NULL',
    'SELECT count(*) FROM credentials WHERE account_id NOT IN (SELECT id FROM accounts) OR ? IS NULL',
    'SELECT count(*) FROM batches WHERE id = ?',
    'SELECT count(*) FROM jobs WHERE batch_id = ?')])" \
    "$tmp/data/dumu.db" "$id" "$bid")" = "[0, 0, 0, 0, 0]"
stop_server

# ---- optional: anonymous browsers own their jobs by a token cookie ------------------------
serve --auth optional --secure-cookies
status opt-anon-list 200 "$B/api/jobs"
expect opt-anon-list-empty test "$(json "$tmp/body" "len(d['jobs'])")" = 0
status opt-upload 202 -F "file=@$tmp/clip.flac" "$B/api/process"
anon="dumu_anon=$(cookie dumu_anon)"
aid=$(json "$tmp/body" "d['job_id']")
expect opt-anon-cookie grep -qi '^Set-Cookie: dumu_anon=dumu_a_[A-Za-z0-9_-]\{43\}; Path=/; Max-Age=[0-9]*; HttpOnly; SameSite=Lax; Secure' "$tmp/headers"
status opt-own-job 200 -H "Cookie: $anon" "$B/api/jobs/$aid"
status opt-own-list 200 -H "Cookie: $anon" "$B/api/jobs"
expect opt-own-list-has-it grep -q "$aid" "$tmp/body"
status opt-no-cookie 404 "$B/api/jobs/$aid"
status opt-other-anon 404 -H "Cookie: dumu_anon=dumu_a_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$B/api/jobs/$aid"
status opt-other-anon-sse 404 -H "Cookie: dumu_anon=dumu_a_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$B/api/progress/$aid"
sign_up dave dave@example.org
expect opt-secure-session-cookie grep -qi '^Set-Cookie: dumu_session=.*; HttpOnly; SameSite=Lax; Secure' "$tmp/headers"
status opt-account-not-anon 404 -H "Cookie: $COOKIE_dave" "$B/api/jobs/$aid"
status opt-anon-no-keys 401 -H "Cookie: $anon" "$B/api/keys"
status opt-anon-delete-no-csrf 403 -X DELETE -H "Cookie: $anon" "$B/api/jobs/$aid"
status opt-anon-session 200 -H "Cookie: $anon" "$B/api/session"
anon_csrf=$(json "$tmp/body" "d['csrf_token']")
expect opt-anon-session-body test "$(json "$tmp/body" "(d['auth'], d['account'])")" = "('optional', None)"
status opt-anon-delete 200 -X DELETE -H "Cookie: $anon" -H "X-CSRF-Token: $anon_csrf" "$B/api/jobs/$aid"
status opt-anon-gone 404 -H "Cookie: $anon" "$B/api/jobs/$aid"
# a second upload with the cookie stays the same browser's: no new token
status opt-upload-again 202 -H "Cookie: $anon" -H "X-CSRF-Token: $anon_csrf" -F "file=@$tmp/clip.flac" "$B/api/process"
expect opt-same-token bash -c "! grep -qi '^Set-Cookie: dumu_anon' '$tmp/headers'"
aid=$(json "$tmp/body" "d['job_id']")
status opt-anon-cancel 200 -X DELETE -H "Cookie: $anon" -H "X-CSRF-Token: $anon_csrf" "$B/api/jobs/$aid"
# signing up from an anonymous browser takes its songs (jobs and batches) into the account
status opt-batch-kept 202 -H "Cookie: $anon" -H "X-CSRF-Token: $anon_csrf" -F "file=@$tmp/clip.flac" "$B/api/batches"
kbid=$(json "$tmp/body" "d['batch_id']")
kid=$(json "$tmp/body" "d['job_ids'][0]")
status opt-sign-up-with-songs 201 -H "Cookie: $anon" -X POST -d '{"email":"erin@example.org","password":"a long enough password"}' "$B/api/account"
erin="dumu_session=$(cookie dumu_session)"
status opt-job-moved 200 -H "Cookie: $erin" "$B/api/jobs/$kid"
status opt-batch-moved 200 -H "Cookie: $erin" "$B/api/batches/$kbid"
status opt-anon-gave-them 404 -H "Cookie: $anon" "$B/api/jobs/$kid"
stop_server

# ---- off: as before ------------------------------------------------------------------------
serve
status off-account 404 -X POST -d '{"email":"x@example.org","password":"a long enough password"}' "$B/api/account"
expect off-account-code test "$(json "$tmp/body" "d['code']")" = auth_off
status off-jobs 200 "$B/api/jobs"
status off-upload 202 -F "file=@$tmp/clip.flac" "$B/api/process"
oid=$(json "$tmp/body" "d['job_id']")
status off-job 200 "$B/api/jobs/$oid"
status off-delete 200 -X DELETE "$B/api/jobs/$oid"
stop_server

echo "test_auth: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
