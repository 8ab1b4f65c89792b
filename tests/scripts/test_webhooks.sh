#!/usr/bin/env bash
# Webhooks of `dumu serve` end to end (issue 15): a real server on a loopback port, curl as
# the client and a receiver on loopback (Python's http.server) that writes down every call.
#   --webhook-allow-private: an upload with webhook_url gets its signing secret in the 202;
#     when the job is done the receiver gets exactly one POST (Dumu-Event job.done, the job's
#     document, a signature that the secret verifies) and GET /api/jobs/{id} lists the
#     delivery as delivered; a batch of two files with webhook_url gets one batch.done call
#     listing both jobs, and a batch whose last job is deleted gets one counting it cancelled;
#   without it: loopback and localhost URLs are refused with 400 (private addresses), as is
#     anything but http(s), and no job is made.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
server_script
rpid= # the receiver's
trap '[[ -n $rpid ]] && kill -9 "$rpid" 2>/dev/null; server_script_end' EXIT
ERRORS_ARE_JSON=1 # every refusal says why: status checks {code, message}

wait_json() { # wait_json URL PY-CONDITION-ON-d SECONDS: until the document at URL meets it
    for _ in $(seq 1 $(($3 * 10))); do
        curl -s "$1" -o "$tmp/wait.json"
        [[ $(json "$tmp/wait.json" "bool($2)" 2>/dev/null) == True ]] && return 0
        sleep 0.1
    done
    echo "waited $3 s for $2 at $1:"; head -c 600 "$tmp/wait.json"; echo
    return 1
}
calls() { # calls EVENT: how many calls of EVENT the receiver got
    $PY -c "
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)['headers'].get('Dumu-Event') == sys.argv[2]))" "$tmp/calls.jsonl" "$1"
}
wait_calls() { # wait_calls EVENT N SECONDS
    for _ in $(seq 1 $(($3 * 10))); do
        [[ $(calls "$1") -ge $2 ]] && return 0
        sleep 0.1
    done
    return 1
}
# check_call EVENT ID SECRET PY-CONDITION-ON-body: exactly one call of EVENT is about job or
# batch ID; it carries a signature that SECRET verifies (HMAC-SHA256 keyed with the secret's
# text over "<t>." + the body, t recent) and a body that meets the condition
check_call() {
    $PY - "$tmp/calls.jsonl" "$@" <<'PYEOF'
import hashlib, hmac, json, sys, time
path, event, target, secret, cond = sys.argv[1:]
def about(c):
    b = json.loads(c["body"])
    return b.get("job", b.get("batch", {})).get("job_id" if "job" in b else "batch_id")
calls = [json.loads(l) for l in open(path)]
calls = [c for c in calls if c["headers"].get("Dumu-Event") == event and about(c) == target]
assert len(calls) == 1, len(calls)
c = calls[0]
h = c["headers"]
assert c["path"] == "/hook", c["path"]
assert h["Content-Type"] == "application/json", h
assert h["Dumu-Delivery"].isdigit(), h
assert h["User-Agent"].startswith("dumu/"), h
sig = dict(kv.split("=", 1) for kv in h["Dumu-Signature"].split(","))
raw = c["body"].encode("latin-1")
want = hmac.new(secret.encode(), sig["t"].encode() + b"." + raw, hashlib.sha256).hexdigest()
assert hmac.compare_digest(want, sig["v1"]), (h["Dumu-Signature"], want)
assert abs(time.time() - int(sig["t"])) < 300, sig
body = json.loads(raw)
assert body["event"] == event, body
assert eval(cond), body
PYEOF
}

# ---- the receiver ----------------------------------------------------------------------
: >"$tmp/calls.jsonl"
$PY - "$tmp/calls.jsonl" "$tmp/receiver.port" <<'PYEOF' >"$tmp/receiver.log" 2>&1 &
import http.server, json, os, sys
out, port_file = sys.argv[1:]
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "a") as f:  # one line per call; bytes kept exact through latin-1
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers),
                                "body": body.decode("latin-1")}) + "\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
with open(port_file + ".part", "w") as f:
    f.write(str(server.server_port))
os.rename(port_file + ".part", port_file)
server.serve_forever()
PYEOF
rpid=$!
for _ in $(seq 1 100); do [[ -s $tmp/receiver.port ]] && break; sleep 0.1; done
HOOK=http://127.0.0.1:$(cat "$tmp/receiver.port")/hook

wav "$tmp/a.wav" 2
wav "$tmp/b.wav" 3
wav "$tmp/long.wav" 8

# ---- allowed: a job and a batch --------------------------------------------------------
start_server --webhook-allow-private
status job-upload 202 -F "file=@$tmp/a.wav" -F "webhook_url=$HOOK" "$B/api/process"
id=$(json "$tmp/body" "d['job_id']")
secret=$(json "$tmp/body" "d['webhook_secret']")
expect job-secret-hex $PY -c "import re,sys; assert re.fullmatch('[0-9a-f]{64}', sys.argv[1])" "$secret"
expect job-done wait_json "$B/api/jobs/$id" "d['state'] == 'done'" 300
expect job-called wait_calls job.done 1 15
expect job-call check_call job.done "$id" "$secret" "body['job']['state'] == 'done'"
expect job-delivered wait_json "$B/api/jobs/$id" "d['webhook']['deliveries'][0]['state'] == 'delivered'" 10
expect job-webhook-doc $PY -c "
import json, sys
d = json.load(open(sys.argv[1])); w = d['webhook']
assert w['url'] == sys.argv[2] and len(w['deliveries']) == 1, w
e = w['deliveries'][0]
assert e['event'] == 'job.done' and e['attempts'] == 1 and e['last_status'] == 204, e
assert e['last_error'] is None and e['next_attempt'] is None, e
assert sys.argv[3] not in open(sys.argv[1]).read(), 'the secret is shown once, in the 202'" "$tmp/wait.json" "$HOOK" "$secret"

status batch-upload 202 -F "file=@$tmp/a.wav" -F "file=@$tmp/b.wav" -F "webhook_url=$HOOK" "$B/api/batches"
bid=$(json "$tmp/body" "d['batch_id']")
bsecret=$(json "$tmp/body" "d['webhook_secret']")
expect batch-secret-differs test "$bsecret" != "$secret"
expect batch-done wait_json "$B/api/batches/$bid" "d['state'] == 'done'" 300
jobs=$(json "$tmp/wait.json" "sorted(j['job_id'] for j in d['jobs'])")
expect batch-called wait_calls batch.done 1 15
expect batch-call check_call batch.done "$bid" "$bsecret" "sorted(j['job_id'] for j in body['batch']['jobs']) == $jobs and body['batch']['counts']['done'] == 2"
expect batch-delivered wait_json "$B/api/batches/$bid" "d['webhook']['deliveries'][0]['state'] == 'delivered'" 10
expect log-delivered grep -q "webhook batch.done of $bid delivered" "$tmp/server.log"

# a batch whose last job is deleted ends with it: done 1, cancelled 1 (the longer song is
# still queued or running when the shorter is done: one worker)
status batch2-upload 202 -F "file=@$tmp/a.wav" -F "file=@$tmp/long.wav" -F "webhook_url=$HOOK" "$B/api/batches"
bid2=$(json "$tmp/body" "d['batch_id']")
bsecret2=$(json "$tmp/body" "d['webhook_secret']")
expect batch2-one-done wait_json "$B/api/batches/$bid2" "any(j['state'] == 'done' for j in d['jobs'])" 300
left=$(json "$tmp/wait.json" "[j['job_id'] for j in d['jobs'] if j['state'] != 'done'][0]")
status batch2-delete 200 -X DELETE "$B/api/jobs/$left"
expect batch2-called wait_calls batch.done 2 15
expect batch2-call check_call batch.done "$bid2" "$bsecret2" "body['batch']['counts'] == {'queued': 0, 'running': 0, 'done': 1, 'failed': 0, 'cancelled': 1} and '$left' in [j['job_id'] for j in body['batch']['jobs']]"
sleep 2 # anything more would come within the sender's next look (every second)
expect one-call-each test "$(calls job.done)/$(calls batch.done)" = 1/2

status refused-scheme 400 -F "file=@$tmp/a.wav" -F "webhook_url=ftp://example.org/hook" "$B/api/process"
stop_server
expect stopped-cleanly grep -q 'dumu serve: stopped' "$tmp/server.log"

# ---- not allowed: private targets refused at upload --------------------------------------
start_server
n_jobs=$(curl -s "$B/api/jobs" | $PY -c "import json,sys; print(json.load(sys.stdin)['total'])")
for url in "$HOOK" "http://localhost/" "http://[::1]:8080/x" "http://169.254.169.254/latest"; do
    status "refused-private $url" 400 -F "file=@$tmp/a.wav" -F "webhook_url=$url" "$B/api/process"
    expect "refused-private-says-why $url" grep -q 'private' "$tmp/body"
done
status refused-private-batch 400 -F "file=@$tmp/a.wav" -F "webhook_url=$HOOK" "$B/api/batches"
status refused-ftp 400 -F "file=@$tmp/a.wav" -F "webhook_url=ftp://example.org" "$B/api/process"
expect refused-ftp-says-why grep -q 'http' "$tmp/body"
status refused-credentials 400 -F "file=@$tmp/a.wav" -F "webhook_url=http://user:pw@example.org/" "$B/api/process"
expect refused-made-no-job test "$(curl -s "$B/api/jobs" | $PY -c "import json,sys; print(json.load(sys.stdin)['total'])")" = "$n_jobs"
expect help-names-option sh -c "'$CLI' serve --help | grep -q -- --webhook-allow-private"
stop_server

echo "test_webhooks: $passed passed, $failed failed"
[[ $failed -eq 0 ]] || { echo "--- server log"; tail -40 "$tmp/server.log"; exit 1; }
