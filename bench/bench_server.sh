#!/usr/bin/env bash
# bench_server.sh - responsiveness of `dumu serve`: /health latency (p50/p99, wrk) on an idle
# server, then while a job runs and 200 SSE clients are connected to it.
#
#   bench/bench_server.sh [--clients 200] [--seconds 10] [--connections 8]
#
# Environment: DUMU_BIN (default build/dumu), DUMU_TESTDATA_DIR (default ../shared/testdata),
# DUMU_MODELS_DIR (passed through to dumu). Needs wrk (Debian), curl and ffmpeg. Writes to
# bench/out/server/ (git-ignored). The job is 4 minutes of dm04's mix (looped), which keeps one
# worker (all cores: --workers 1, default threads) busy for the whole measurement; the SSE
# clients are curl processes following that job's progress stream.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
dumu=${DUMU_BIN:-$root/build/dumu}
testdata=${DUMU_TESTDATA_DIR:-$root/../shared/testdata}
out=$here/out/server
clients=200
seconds=10
connections=8

while [ $# -gt 0 ]; do
    case $1 in
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench_server: unknown argument $1" >&2; exit 2 ;;
    esac
done

die() { echo "bench_server: $*" >&2; exit 1; }
[ -x "$dumu" ] || die "$dumu not found: build it first (cmake --build build), or set DUMU_BIN"
for tool in wrk curl ffmpeg; do command -v $tool >/dev/null || die "$tool not found"; done

rm -rf "$out"
mkdir -p "$out/sse"
pids=()
server=
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$server" ] && kill -TERM "$server" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

ffmpeg -loglevel error -y -stream_loop 4 -i "$testdata/dm04_openmsx_train_filled_with_cash/mix.flac" \
    -t 240 "$out/job.flac"

"$dumu" serve --port 0 --data-dir "$out/data" --max-queue 4 >"$out/server.log" 2>&1 &
server=$!
port=
for _ in $(seq 1 300); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$out/server.log" | cut -d: -f3 || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || die "the server did not start (see $out/server.log)"
base=http://127.0.0.1:$port

# health_latency NAME LABEL: wrk on /health into wrk_NAME.txt; prints "LABEL p50 p99 req/s".
health_latency() {
    local f=$out/wrk_$1.txt p50 p99 rps
    wrk -t 2 -c "$connections" -d "${seconds}s" --latency "$base/health" >"$f"
    p50=$(awk '$1 == "50%" {print $2}' "$f")
    p99=$(awk '$1 == "99%" {print $2}' "$f")
    rps=$(awk '$1 == "Requests/sec:" {print $2}' "$f")
    printf '| %s | %s | %s | %s |\n' "$2" "$p50" "$p99" "$rps"
}

echo "| /health, $connections connections, ${seconds} s | p50 | p99 | requests/s |"
echo "|---|---|---|---|"
health_latency idle "idle"

job=$(curl -s -F "file=@$out/job.flac" "$base/api/process" | sed 's/.*"job_id":"\([^"]*\)".*/\1/')
for i in $(seq 1 "$clients"); do
    curl -sN "$base/api/progress/$job" >"$out/sse/$i.txt" 2>/dev/null &
    pids+=($!)
done
# Wait until the job runs and every stream has its first bytes.
for _ in $(seq 1 600); do
    running=$(curl -s "$base/health" | sed 's/.*"running":\([0-9]*\).*/\1/')
    ready=$(find "$out/sse" -type f -size +0 | wc -l)
    [ "$running" = 1 ] && [ "$ready" -ge "$clients" ] && break
    sleep 0.1
done
[ "$running" = 1 ] || die "the job is not running"
health_latency busy "job running + $ready SSE clients"
state=$(curl -s "$base/api/jobs/$job" | sed 's/.*"state":"\([^"]*\)".*/\1/')
echo
echo "job state after the measurement: $state (it must still be running for the figures to count)"
