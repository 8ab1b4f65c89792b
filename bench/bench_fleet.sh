#!/usr/bin/env bash
# bench_fleet.sh - Dumu as a fleet on this machine, on a throwaway PostgreSQL
# (tests/scripts/pg.sh) with two API nodes (`dumu serve --db ... --workers 0`):
#   1. jobs per hour with 1 worker (all cores) and with 2 workers (cores shared): --jobs
#      uploads of a --clip-s second clip of dm04's mix, sent alternately to both nodes at
#      once, timed from the first upload to the last `done`;
#   2. /health latency (p50/p99, wrk) on node A while --clients SSE clients follow running
#      jobs through A and node B takes an upload every second.
#
#   bench/bench_fleet.sh [--jobs 6] [--clip-s 30] [--clients 200] [--seconds 10]
#                        [--connections 32]
#
# Environment: DUMU_BIN (default build/dumu), DUMU_TESTDATA_DIR (default ../shared/testdata),
# DUMU_MODELS_DIR (passed through). Needs PostgreSQL's programs (scripts/setup), wrk, curl,
# ffmpeg. Writes to bench/out/fleet/ (git-ignored).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
dumu=${DUMU_BIN:-$root/build/dumu}
testdata=${DUMU_TESTDATA_DIR:-$root/../shared/testdata}
out=$here/out/fleet
jobs=6 clip_s=30 clients=200 seconds=10 connections=32
while [ $# -gt 0 ]; do
    case $1 in
    --jobs) jobs=$2; shift 2 ;;
    --clip-s) clip_s=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench_fleet: unknown argument $1" >&2; exit 2 ;;
    esac
done
die() { echo "bench_fleet: $*" >&2; exit 1; }
[ -x "$dumu" ] || die "$dumu not found: build it first (make build), or set DUMU_BIN"
for tool in wrk curl ffmpeg pg_config; do command -v $tool >/dev/null || die "$tool not found"; done

rm -rf "$out"
mkdir -p "$out/sse"
. "$root/tests/scripts/pg.sh"
pids=() workers=()
cleanup() {
    for p in "${pids[@]}" "${workers[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pg_stop
}
trap cleanup EXIT
pg_start "$out/pg" || die "cannot start PostgreSQL"

start_api() { # start_api NAME: sets the variable NAME to the node's base URL
    "$dumu" serve --port 0 --db "$DB" --workers 0 >"$out/api-$1.log" 2>&1 &
    pids+=($!) # here, not in a subshell: the cleanup stops it
    for _ in $(seq 1 300); do
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$out/api-$1.log" | cut -d: -f3 || true)
        [ -n "$port" ] && { printf -v "$1" %s "http://127.0.0.1:$port"; return 0; }
        sleep 0.1
    done
    die "node $1 did not start (see $out/api-$1.log)"
}
start_api A
start_api B
start_workers() { # start_workers N: N workers sharing the cores
    local cores
    cores=$(nproc)
    for i in $(seq 1 "$1"); do
        "$dumu" worker --db "$DB" --threads $((cores / $1 > 0 ? cores / $1 : 1)) >>"$out/worker-$i.log" 2>&1 &
        workers+=($!)
    done
}
stop_workers() {
    kill -TERM "${workers[@]}" 2>/dev/null || true
    wait "${workers[@]}" 2>/dev/null || true
    workers=()
}
state() { curl -s "$1/api/jobs/$2" | sed 's/.*"state":"\([^"]*\)".*/\1/'; }
upload() { curl -s -F "file=@$2" "$1/api/process" | sed 's/.*"job_id":"\([^"]*\)".*/\1/'; }

ffmpeg -loglevel error -y -stream_loop 4 -i "$testdata/dm04_openmsx_train_filled_with_cash/mix.flac" \
    -t "$clip_s" "$out/clip.flac"

# ---- 1. throughput ----------------------------------------------------------------------------
echo "| workers on this machine | jobs | audio | wall time | jobs per hour | audio minutes per hour |"
echo "|---|---|---|---|---|---|"
for n in 1 2; do
    start_workers "$n"
    sleep 2 # models loaded, heartbeats in
    t0=$(date +%s.%N)
    ids=()
    for i in $(seq 1 "$jobs"); do
        if ((i % 2)); then ids+=("$(upload "$A" "$out/clip.flac")"); else ids+=("$(upload "$B" "$out/clip.flac")"); fi
    done
    for id in "${ids[@]}"; do
        until [ "$(state "$A" "$id")" = done ]; do
            s=$(state "$A" "$id")
            [ "$s" = failed ] && die "job $id failed"
            sleep 0.5
        done
    done
    t1=$(date +%s.%N)
    awk -v n="$n" -v j="$jobs" -v c="$clip_s" -v a="$t0" -v b="$t1" 'BEGIN {
        w = b - a; printf "| %d x %d threads | %d | %d x %d s | %.1f s | %.0f | %.1f |\n",
        n, '"$(nproc)"' / n, j, j, c, w, j / w * 3600, j * c / 60 / w * 3600 }'
    stop_workers
done

# ---- 2. /health on one node while it streams and the other takes uploads ------------------------
start_workers 1
sleep 2
long=()
for _ in 1 2 3 4; do long+=("$(upload "$B" "$out/clip.flac")"); done
for i in $(seq 1 "$clients"); do
    curl -sN "$A/api/progress/${long[$((i % 4))]}" >"$out/sse/$i.txt" 2>/dev/null &
    pids+=($!)
done
( while :; do curl -s -o /dev/null -F "file=@$out/clip.flac" "$B/api/process"; sleep 1; done ) &
uploader=$!
pids+=($uploader)
for _ in $(seq 1 600); do
    ready=$(find "$out/sse" -type f -size +0 | wc -l)
    [ "$(state "$A" "${long[0]}")" = running ] && [ "$ready" -ge "$clients" ] && break
    sleep 0.1
done
wrk -t 2 -c "$connections" -d "${seconds}s" --latency "$A/health" >"$out/wrk.txt"
kill "$uploader"
p50=$(awk '$1 == "50%" {print $2}' "$out/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$out/wrk.txt")
rps=$(awk '$1 == "Requests/sec:" {print $2}' "$out/wrk.txt")
echo
echo "| /health on node A, $connections connections, ${seconds} s | p50 | p99 | requests/s |"
echo "|---|---|---|---|"
echo "| a job running, $ready SSE clients on A, an upload a second on B | $p50 | $p99 | $rps |"
