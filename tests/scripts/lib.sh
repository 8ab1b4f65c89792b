# lib.sh - what the scripted tests share (sourced, not run): the pass/fail counters and
# `expect NAME CONDITION-CMD...`, which counts a check and names it when it fails.
passed=0 failed=0
expect() {
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $name"; fi
}

# server_script: the start of a script that runs `dumu serve` or `dumu worker` (after `set -uo
# pipefail` and sourcing this file, and pg.sh for a fleet): CLI, TD, PY, a fresh folder $tmp,
# and at exit (server_script_end) the server $pid and the fleet's $pids killed, the
# PostgreSQL cluster stopped (pg.sh's pg_stop, when sourced) and $tmp removed.
server_script() {
    CLI=${DUMU_CLI:?run through ctest}
    TD=${DUMU_TESTDATA_DIR:?}
    export DUMU_MODELS_DIR=${DUMU_MODELS_DIR:?}
    PY=/usr/bin/python3
    tmp=$(mktemp -d)
    pid=
    pids=()
    trap server_script_end EXIT
}
server_script_end() {
    [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    declare -F pg_stop >/dev/null && pg_stop
    rm -rf "$tmp"
}

# id_routes OPENAPI_FILE: "METHOD PATH" of every /api/ operation on a job's or batch's id in
# the description (PATH with ID for the id and bass for a stem), for the ownership walks.
id_routes() {
    $PY - "$1" <<'PYEOF'
import json, sys
api = json.load(open(sys.argv[1]))
for path, item in api["paths"].items():
    if "{id}" not in path or not path.startswith("/api/") or path.startswith("/api/keys"):
        continue
    for method in item:
        if method in ("get", "post", "put", "patch", "delete"):
            print(method.upper(), path.replace("{id}", "ID").replace("{name}", "bass"))
PYEOF
}

# The HTTP helpers of the server scripts; they write to $tmp and run Python as $PY, both set by
# the script that sources this file, and start `$CLI serve` ($CLI too).

# start_server ARGS...: `dumu serve` on a free loopback port with the data folder $tmp/data
# and ARGS, its log appended to $tmp/server.log; sets pid and B (the base URL), or exits the
# script when the server does not come up.
start_server() {
    local skip port=
    touch "$tmp/server.log"
    skip=$(wc -l <"$tmp/server.log")
    "$CLI" serve --port 0 --data-dir "$tmp/data" "$@" >>"$tmp/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        port=$(tail -n +$((skip + 1)) "$tmp/server.log" | grep -o 'listening on http://127.0.0.1:[0-9]*' | cut -d: -f3)
        [[ -n $port ]] && break
        sleep 0.1
    done
    B=http://127.0.0.1:$port
    [[ -n $port ]] || { echo "server did not start"; cat "$tmp/server.log"; exit 1; }
}
# stop_server: SIGTERM, and waits for it to end.
stop_server() { kill -TERM "$pid"; wait "$pid"; pid=; }

# status NAME WANT CURL-ARGS...: counts a check that the request's HTTP status matches the
# pattern WANT ("200", "401|404"); the body goes to $tmp/body, the headers to $tmp/headers.
# With ERRORS_ARE_JSON=1 an error status must also come with a JSON {code, message} body.
status() {
    local name=$1 want=$2; shift 2
    local got
    got=$(curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' --max-time 60 "$@")
    if [[ $got =~ ^($want)$ ]]; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAIL $name: HTTP $got, expected $want"; head -c 300 "$tmp/body"; echo
    fi
    if [[ ${ERRORS_ARE_JSON:-0} == 1 && $got -ge 400 ]] &&
        ! $PY -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['code'] and d['message']" "$tmp/body" 2>/dev/null; then
        failed=$((failed + 1)); echo "FAIL $name: error body is not {code, message}"
    fi
}

# json FILE PY-EXPR-ON-d: prints the expression over the JSON document in FILE.
json() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# header NAME / cookie NAME: the value of the last answer's header, or of the cookie it sets.
header() { grep -i "^$1:" "$tmp/headers" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'; }
cookie() { grep -i "^Set-Cookie: $1=" "$tmp/headers" | head -1 | sed "s/^[^=]*=//; s/;.*//" | tr -d '\r'; }

# wav FILE SECONDS: a 220 Hz tone, mono 16-bit at 22050 Hz.
wav() {
    $PY - "$1" "$2" <<'PYEOF'
import math, struct, sys, wave
n = int(22050 * float(sys.argv[2]))
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / 22050))) for i in range(n)))
PYEOF
}
