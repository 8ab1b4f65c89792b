#!/usr/bin/env bash
# Run by test_store.sh inside its own mount namespace (unshare -m): `dumu serve` on a small
# tmpfs. An upload that does not fit answers 507 with Retry-After; a job whose outputs do not
# fit fails with code "storage" and keeps its upload, and runs again once there is room
# (POST /api/jobs/{id}/retry). Prints "N passed, M failed"; exits nonzero on a failure.
set -uo pipefail
CLI=$1 SHORT=$2 tmp=$3
PY=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
disk=$tmp/disk
mkdir -p "$disk"
mount -t tmpfs -o size=3m tmpfs "$disk" || { echo "FAIL mount"; exit 1; }
"$CLI" serve --port 0 --data-dir "$disk/data" >"$tmp/fd.log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null; umount "$disk" 2>/dev/null' EXIT
for _ in $(seq 1 300); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/fd.log" | cut -d: -f3)
    [[ -n $port ]] && break
    sleep 0.1
done
B=http://127.0.0.1:$port
state() { curl -s "$B/api/jobs/$1" | $PY -c "import json,sys; d=json.load(sys.stdin); print(d['state'], (d.get('error') or {}).get('code'))"; }
wait_end() { # wait_end ID: prints the final "state code"
    local s
    for _ in $(seq 1 600); do
        s=$(state "$1")
        [[ $s == done* || $s == failed* ]] && break
        sleep 0.2
    done
    echo "$s"
}

# an upload bigger than the disk: the server's fault, said so, with a time to come back
head -c 4000000 /dev/urandom >"$tmp/big.bin"
code=$(curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -F "file=@$tmp/big.bin;filename=big.wav" "$B/api/process")
expect upload-507 test "$code" = 507
expect upload-507-code grep -q '"code":"insufficient_storage"' "$tmp/body"
expect upload-507-retry-after grep -qi '^Retry-After: [0-9]' "$tmp/headers"
expect upload-no-part-left bash -c "! ls '$disk/data/uploads' | grep -q part"

# a job whose results do not fit: fill the disk to 150 kB of room right after the 202, while
# the network separates (the database's small writes still fit, a FLAC stem does not)
id=$(curl -s -F "file=@$SHORT" "$B/api/process" | $PY -c "import json,sys; print(json.load(sys.stdin)['job_id'])")
room=$(df -k --output=avail "$disk" | tail -1)
dd if=/dev/zero of="$disk/filler" bs=1k count=$((room - 150)) 2>/dev/null
expect full-job-fails-storage test "$(wait_end "$id")" = "failed storage"
expect full-job-keeps-upload test -s "$disk/data/uploads/$id.audio"
# room first: a retry starts at once, and on a loaded machine its first writes came before the
# room did (the job then failed again, cancelled by its progress writes)
rm -f "$disk/filler"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST "$B/api/jobs/$id/retry")
expect retry-accepted test "$code" = 202
expect retry-done test "$(wait_end "$id")" = "done None"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST "$B/api/jobs/$id/retry")
expect retry-done-job-409 test "$code" = 409

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
