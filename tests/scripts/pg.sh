# pg.sh - a throwaway PostgreSQL cluster for the fleet's tests and benchmark (sourced, not
# run): `pg_start DIR` makes a cluster in DIR with initdb and starts it with pg_ctl, listening
# on a Unix socket in DIR only (no TCP port to collide with, no system service), and sets
# DB to its connection string; `pg_stop` and `pg_start_again` stop and restart it; the caller
# calls pg_stop on exit. As root the server runs as the postgres user (initdb refuses root).
PG_BIN=$(pg_config --bindir)
as_pg() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_start() { # pg_start DIR
    PG_DIR=$1
    mkdir -p "$PG_DIR"
    [[ $(id -u) == 0 ]] && chown postgres "$PG_DIR" && chmod 755 "$(dirname "$PG_DIR")"
    as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U dumu --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 ||
        { cat "$PG_DIR/initdb.log"; return 1; }
    pg_start_again || return 1
    as_pg "$PG_BIN/createdb" -h "$PG_DIR" -U dumu dumu || return 1
    DB="postgresql://dumu@/dumu?host=$PG_DIR"
}
pg_start_again() {
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
        -o "-c listen_addresses='' -k $PG_DIR -c fsync=off" start >/dev/null
}
pg_stop() {
    [[ -n ${PG_DIR:-} && -f $PG_DIR/data/postmaster.pid ]] &&
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    return 0
}
psql_q() { # psql_q SQL: the rows, fields joined by |
    psql "$DB" -XAtq -c "$1"
}

# api_node NAME [SERVE-ARGS...]: a `dumu serve` API node without workers on the cluster ($DB,
# $CLI; log in $tmp/api-NAME.log, pid added to pids); sets URL_<NAME> once it listens, or
# prints its log and returns 1 after 30 s.
api_node() {
    local name=$1
    shift
    "$CLI" serve --port 0 --db "$DB" --workers 0 --web-dir /nonexistent "$@" \
        >"$tmp/api-$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 300); do
        local port
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/api-$name.log" | cut -d: -f3)
        [[ -n $port ]] && { printf -v "URL_$name" %s "http://127.0.0.1:$port"; return 0; }
        sleep 0.1
    done
    cat "$tmp/api-$name.log"
    return 1
}
