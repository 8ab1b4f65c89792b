#!/usr/bin/env bash
# Web app: Vitest unit tests, then the Playwright end-to-end test in Debian's Chromium against a
# real `dumu serve` on a free port, fed an 8 s excerpt of a test-data song (dm03: htdemucs
# separates its bass well, SDR 10 dB, so the stem, spectrogram and notes show real content);
# then the accounts flow (web/e2e/accounts.mjs) against a second server with --auth required.
# Expects web/node_modules (npm ci) and web/dist (npm run build); scripts/setup makes both.
set -euo pipefail
CLI=${DUMU_CLI:?run through ctest}
SRC=${DUMU_SOURCE_DIR:?}
TD=${DUMU_TESTDATA_DIR:?}
MODELS=${DUMU_MODELS_DIR:?}
WEB=$SRC/web

if [[ ! -d $WEB/node_modules ]]; then
    echo "FAIL: $WEB/node_modules is missing: run 'npm ci' in web/ (scripts/setup does)"; exit 1
fi
if [[ ! -f $WEB/dist/index.html ]]; then
    echo "FAIL: $WEB/dist/index.html is missing: run 'npm run build' in web/"; exit 1
fi
if [[ ! -x /usr/bin/chromium ]]; then
    echo "FAIL: /usr/bin/chromium is missing: apt-get install chromium (scripts/setup does)"; exit 1
fi

tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# start_server LOG ARGS...: `dumu serve` on a free port in the background (server_pid, port),
# answering /health within 20 s.
start_server() {
    local log=$1
    shift
    port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
    "$CLI" serve --port "$port" --web-dir "$WEB/dist" --models "$MODELS" "$@" >"$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "FAIL: dumu serve exited:"; sed 's/^/  | /' "$log"; exit 1
        fi
        sleep 0.2
    done
    echo "FAIL: dumu serve did not answer /health in 20 s"; exit 1
}

stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

echo "== unit tests (vitest)"
(cd "$WEB" && npm test --silent)

echo "== end to end (chromium against dumu serve)"
ffmpeg -loglevel error -y -i "$TD/dm03_freedoom2_d_read_m/mix.flac" -t 8 "$tmp/dm03-excerpt.flac"
start_server "$tmp/server.log" --data-dir "$tmp/data"

if ! (cd "$WEB" && DUMU_URL="http://127.0.0.1:$port" DUMU_E2E_CLIP="$tmp/dm03-excerpt.flac" npm run e2e --silent); then
    echo "server log (last 30 lines):"; tail -30 "$tmp/server.log" | sed 's/^/  | /'
    exit 1
fi
stop_server

echo "== accounts end to end (chromium against dumu serve --auth required)"
start_server "$tmp/server-auth.log" --data-dir "$tmp/data-auth" --auth required
if ! (cd "$WEB" && DUMU_URL="http://127.0.0.1:$port" DUMU_E2E_CLIP="$tmp/dm03-excerpt.flac" node e2e/accounts.mjs); then
    echo "server log (last 30 lines):"; tail -30 "$tmp/server-auth.log" | sed 's/^/  | /'
    exit 1
fi
