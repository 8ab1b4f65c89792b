#!/usr/bin/env bash
# Web app: Vitest unit tests, then the Playwright end-to-end test in Debian's Chromium against a
# real `dumu serve` on a free port, fed an 8 s excerpt of a test-data song (dm03: htdemucs
# separates its bass well, SDR 10 dB, so the stem, spectrogram and notes show real content).
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

echo "== unit tests (vitest)"
(cd "$WEB" && npm test --silent)

echo "== end to end (chromium against dumu serve)"
ffmpeg -loglevel error -y -i "$TD/dm03_freedoom2_d_read_m/mix.flac" -t 8 "$tmp/dm03-excerpt.flac"
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
"$CLI" serve --port "$port" --data-dir "$tmp/data" --web-dir "$WEB/dist" --models "$MODELS" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "FAIL: dumu serve exited:"; sed 's/^/  | /' "$tmp/server.log"; exit 1
    fi
    sleep 0.2
done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { echo "FAIL: dumu serve did not answer /health in 20 s"; exit 1; }

if ! (cd "$WEB" && DUMU_URL="http://127.0.0.1:$port" DUMU_E2E_CLIP="$tmp/dm03-excerpt.flac" npm run e2e --silent); then
    echo "server log (last 30 lines):"; tail -30 "$tmp/server.log" | sed 's/^/  | /'
    exit 1
fi
