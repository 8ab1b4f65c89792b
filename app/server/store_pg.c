/* store_pg.c - the job store in PostgreSQL, for a fleet of API nodes and workers (see
 * store.h).
 *
 * DESIGN
 *   Every node's truth is the database; a node keeps nothing another node needs.
 *   - jobs: one row per job. A worker claims the oldest queued row with FOR UPDATE SKIP
 *     LOCKED (two workers never take one job) and holds it by a lease (`owner`,
 *     `lease_until`, in the database's clock) that it renews at every progress step and in
 *     its heartbeat. Whoever claims next first returns jobs with a lapsed lease to the queue
 *     (or fails them as poison after SRV_MAX_ATTEMPTS starts). A job's owner alone may move
 *     it on: a worker that lost its lease finds its writes refused and stops.
 *   - events: one row per SSE event, ids from one sequence (increasing per job, so
 *     Last-Event-ID works on any node). A trigger NOTIFYs `dumu_events` on every insert and
 *     `dumu_queue` when a job becomes queued; each process LISTENs on one connection of its
 *     own (the listener thread) and wakes its waiting SSE streams and workers.
 *   - blobs: files in 1 MiB bytea chunks (`blob_chunks`) under a `blobs` row whose `gen`
 *     changes with every version. Publishing streams a local file in, in one transaction,
 *     and removes it; fetching streams the chunks (single-row mode) into
 *     DATA_DIR/cache/<id>.<gen>.<name>, which stays valid until a newer version exists: the
 *     fetch asks for the generation first, so a copy is reused until the file changes.
 *   - deliveries: webhook calls to make, one row per (target, event), so that a job's end is
 *     told once however many nodes see it. A sender claims the oldest due one with FOR
 *     UPDATE SKIP LOCKED and holds it by moving its next_at a lease ahead: no other node
 *     calls the same URL meanwhile, and one that died leaves it due again.
 *   Statements run on a small pool of connections, each used by one thread at a time. A
 *   statement that fails because the server went away fails its caller (-1: API nodes answer
 *   503, workers keep their results and try again); the connection is reset before its next
 *   use. Every change that must happen together is one statement (data-modifying WITH) or
 *   one transaction.
 *
 *   SCHEMA VERSIONS (table dumu_schema), applied in order under an advisory lock, so nodes
 *   starting together are fine and any earlier version is brought up to date:
 *     1  jobs, events, blobs, blob_chunks and the NOTIFY triggers
 *     2  workers: heartbeats, for /health
 *     3  jobs.fast: the job separates with bf16 products
 *     4  jobs.owned_by, accounts, credentials (sessions and API keys, by token hash) and
 *        login_failures (throttling): dumu serve --auth, the same rules on every node
 *     5  fair use: tiers (seeded with srv_tier_seeds), buckets (requests per minute),
 *        audio_usage (seconds of audio per asker and day), jobs.started and its sequence
 *        (the claims' order, for the fair queue: store.h)
 *     6  batches, deliveries (webhook calls) and jobs.result_key, batch_id, webhook_url and
 *        webhook_secret
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

enum {
    POOL = 8,              /* connections per process: HTTP threads and workers share them */
    CHUNK = 1 << 20,       /* bytes per blob chunk: big enough to stream at disk speed */
    RING = 256,            /* notifications remembered: more than arrive while a stream looks */
    SCHEMA_LOCK = 0x64756d /* pg_advisory_lock key of the migrations ("dum") */
};

#define SCHEMA_VERSION 6

static const char *const k_schema[SCHEMA_VERSION] = {
    /* 1 */
    "CREATE TABLE jobs(id text PRIMARY KEY, seq bigserial NOT NULL, state text NOT NULL,"
    " progress double precision NOT NULL DEFAULT 0, stage text, message text,"
    " name text NOT NULL, title text, created bigint NOT NULL, updated bigint NOT NULL,"
    " duration double precision, onset double precision, frame double precision,"
    " min_note_ms double precision, stems text, bpm double precision, mode text,"
    " quantize text, qstrength double precision, result_bpm double precision,"
    " error_code text, error_message text, attempts integer NOT NULL DEFAULT 0,"
    " owner text, lease_until timestamptz);"
    "CREATE INDEX jobs_state_seq ON jobs(state, seq);"
    "CREATE TABLE events(id bigserial PRIMARY KEY, job_id text NOT NULL, type text NOT NULL,"
    " data text NOT NULL, at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX events_job ON events(job_id, id);"
    "CREATE TABLE blobs(job_id text NOT NULL, name text NOT NULL, gen bigserial NOT NULL,"
    " size bigint NOT NULL, stored timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY(job_id, name));"
    "CREATE TABLE blob_chunks(job_id text NOT NULL, name text NOT NULL, n integer NOT NULL,"
    " data bytea NOT NULL, PRIMARY KEY(job_id, name, n),"
    " FOREIGN KEY(job_id, name) REFERENCES blobs ON DELETE CASCADE);"
    "CREATE FUNCTION dumu_notify_event() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN PERFORM pg_notify('dumu_events', NEW.job_id); RETURN NULL; END$$;"
    "CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW"
    " EXECUTE FUNCTION dumu_notify_event();"
    "CREATE FUNCTION dumu_notify_queue() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN IF NEW.state = 'queued' THEN PERFORM pg_notify('dumu_queue', ''); END IF;"
    " RETURN NULL; END$$;"
    "CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF state ON jobs FOR EACH ROW"
    " EXECUTE FUNCTION dumu_notify_queue();",
    /* 2 */
    "CREATE TABLE workers(id text PRIMARY KEY, threads integer NOT NULL,"
    " seen timestamptz NOT NULL);",
    /* 3 */
    "ALTER TABLE jobs ADD COLUMN fast boolean NOT NULL DEFAULT false;",
    /* 4 */
    "ALTER TABLE jobs ADD COLUMN owned_by text;"
    "CREATE INDEX jobs_owned_by ON jobs(owned_by, seq);"
    "CREATE TABLE accounts(id text PRIMARY KEY, seq bigserial NOT NULL,"
    " email text NOT NULL UNIQUE, pwhash text NOT NULL, tier text NOT NULL DEFAULT 'free',"
    " created bigint NOT NULL);"
    "CREATE TABLE credentials(hash text PRIMARY KEY, seq bigserial NOT NULL, kind text NOT NULL,"
    " id text, account_id text NOT NULL REFERENCES accounts ON DELETE CASCADE, name text,"
    " csrf text, created bigint NOT NULL, expires bigint NOT NULL);"
    "CREATE INDEX credentials_account ON credentials(account_id, kind);"
    "CREATE TABLE login_failures(key text NOT NULL, at bigint NOT NULL);"
    "CREATE INDEX login_failures_key ON login_failures(key, at);",
    /* 5; the seeds follow in migrate() */
    "ALTER TABLE jobs ADD COLUMN started bigint;"
    "CREATE SEQUENCE jobs_started;"
    "CREATE INDEX jobs_owner_started ON jobs(owned_by, started);"
    "CREATE TABLE tiers(name text PRIMARY KEY, rpm integer NOT NULL, concurrent integer NOT NULL,"
    " minutes_per_day integer NOT NULL, max_song_s integer NOT NULL,"
    " retention_h integer NOT NULL);"
    "CREATE TABLE buckets(key text PRIMARY KEY, tokens double precision NOT NULL,"
    " at double precision NOT NULL, took integer NOT NULL);"
    "CREATE TABLE audio_usage(key text NOT NULL, day bigint NOT NULL,"
    " seconds double precision NOT NULL, PRIMARY KEY(key, day));",
    /* 6 */
    "ALTER TABLE jobs ADD COLUMN result_key text, ADD COLUMN batch_id text,"
    " ADD COLUMN webhook_url text, ADD COLUMN webhook_secret text;"
    "CREATE INDEX jobs_batch ON jobs(batch_id);"
    "CREATE TABLE batches(id text PRIMARY KEY, owned_by text, created bigint NOT NULL,"
    " webhook_url text, webhook_secret text);"
    "CREATE TABLE deliveries(id bigserial PRIMARY KEY, target text NOT NULL, event text NOT NULL,"
    " url text NOT NULL, secret text NOT NULL, body text NOT NULL, state text NOT NULL,"
    " attempts integer NOT NULL, last_status integer NOT NULL, last_error text,"
    " created bigint NOT NULL, next_at bigint NOT NULL, updated bigint NOT NULL,"
    " UNIQUE(target, event));"
    /* what a claim asks for: the pending rows, few beside the delivered and failed ones kept */
    "CREATE INDEX deliveries_due ON deliveries(next_at, id) WHERE state = 'pending';",
};

struct pg_state {
    char *url;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    PGconn *conn[POOL];
    int busy[POOL];
    atomic_int down; /* the last statement failed on the connection: log once */
    pthread_t listener;
    int listening;   /* the listener thread runs */
    atomic_int stop; /* the listener ends */
    /* The store at a glance, as /health and the upload's queue check read it: refreshed by
     * the listener every second, so that they never wait on the database. */
    atomic_int reachable; /* the listener is connected and its last look succeeded */
    atomic_int n_queued, n_running, n_live;
    /* The job of each of the last RING `dumu_events` notifications, at event_gen % RING
     * ("": any job, after a reconnection); guarded by jobs->mu. A waiting SSE stream wakes
     * for the events of its own job alone. */
    char ring[RING][SRV_ID_LEN + 1];
};

#define PG(jobs) ((struct pg_state *)(jobs)->impl)

/* ---------------------------------------------------------------------------------------- */
/* Connections and statements */

static void no_notices(void *arg, const char *message) {
    (void)arg;
    (void)message; /* "relation ... already exists, skipping" and the like */
}

static PGconn *connect_to(const char *url) {
    PGconn *c = PQconnectdb(url);
    if (c) PQsetNoticeProcessor(c, no_notices, NULL);
    return c;
}

static PGconn *conn_get(srv_jobs *jobs) {
    struct pg_state *p = PG(jobs);
    pthread_mutex_lock(&p->pool_mu);
    int i;
    for (;;) {
        for (i = 0; i < POOL && p->busy[i]; i++) {
        }
        if (i < POOL) break;
        pthread_cond_wait(&p->pool_cv, &p->pool_mu);
    }
    p->busy[i] = 1;
    pthread_mutex_unlock(&p->pool_mu);
    PGconn *c = p->conn[i];
    if (!c) {
        c = p->conn[i] = connect_to(p->url);
    } else if (PQstatus(c) != CONNECTION_OK) {
        PQreset(c);
    }
    return c;
}

static void conn_put(srv_jobs *jobs, PGconn *c) {
    struct pg_state *p = PG(jobs);
    pthread_mutex_lock(&p->pool_mu);
    for (int i = 0; i < POOL; i++)
        if (p->conn[i] == c) p->busy[i] = 0;
    pthread_cond_signal(&p->pool_cv);
    pthread_mutex_unlock(&p->pool_mu);
}

/* Logs a failed statement: every one while the server answers, the first one when it went
 * away (until a statement succeeds again). */
static void warn(srv_jobs *jobs, PGconn *c, const PGresult *r, const char *what) {
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
    int lost = PQstatus(c) != CONNECTION_OK;
    if (lost && atomic_exchange(&PG(jobs)->down, 1)) return;
    fprintf(stderr, "dumu: database: %s: %s", what, msg && *msg ? msg : "failed\n");
}

/* Runs `sql` with `n` text parameters (NULL: SQL NULL) on `c`. Returns the result when it
 * is `want` (PGRES_COMMAND_OK or PGRES_TUPLES_OK), else NULL (logged). */
static PGresult *exec_on(srv_jobs *jobs, PGconn *c, const char *sql, int n,
                         const char *const *params, ExecStatusType want) {
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (r && PQresultStatus(r) == want) {
        atomic_store(&PG(jobs)->down, 0);
        return r;
    }
    warn(jobs, c, r, sql);
    PQclear(r);
    return NULL;
}

/* exec_on, on a connection of the pool. */
static PGresult *exec(srv_jobs *jobs, const char *sql, int n, const char *const *params,
                      ExecStatusType want) {
    PGconn *c = conn_get(jobs);
    PGresult *r = exec_on(jobs, c, sql, n, params, want);
    conn_put(jobs, c);
    return r;
}

/* Rows a data-modifying statement touched (PQcmdTuples), or -1 when it failed. */
static int exec_count(srv_jobs *jobs, const char *sql, int n, const char *const *params) {
    PGresult *r = exec(jobs, sql, n, params, PGRES_COMMAND_OK);
    if (!r) return -1;
    int count = atoi(PQcmdTuples(r));
    PQclear(r);
    return count;
}

/* Text parameters for one statement: numbers printed into storage of their own. */
struct args {
    const char *v[24];
    char num[24][32];
    int n;
};

static void arg_text(struct args *a, const char *s) {
    a->v[a->n++] = s;
}

static void arg_num(struct args *a, double x) {
    snprintf(a->num[a->n], sizeof a->num[0], "%.17g", x);
    a->v[a->n] = a->num[a->n];
    a->n++;
}

static void arg_json(struct args *a, cJSON *data, char **keep) {
    *keep = cJSON_PrintUnformatted(data);
    cJSON_Delete(data);
    a->v[a->n++] = *keep ? *keep : "{}";
}

static double now_unix(void) {
    return (double)time(NULL);
}

static void copy_val(const PGresult *r, int row, int col, char *out, size_t cap) {
    snprintf(out, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

static double num_val(const PGresult *r, int row, int col, double null_value) {
    return PQgetisnull(r, row, col) ? null_value : strtod(PQgetvalue(r, row, col), NULL);
}

static void read_job(const PGresult *r, int row, struct srv_job *j) {
    memset(j, 0, sizeof *j);
    copy_val(r, row, 0, j->id, sizeof j->id);
    j->state = srv_state_from_name(PQgetvalue(r, row, 1));
    j->progress = num_val(r, row, 2, 0.0);
    copy_val(r, row, 3, j->stage, sizeof j->stage);
    copy_val(r, row, 4, j->message, sizeof j->message);
    copy_val(r, row, 5, j->name, sizeof j->name);
    j->created = (int64_t)num_val(r, row, 6, 0.0);
    j->updated = (int64_t)num_val(r, row, 7, 0.0);
    j->duration = num_val(r, row, 8, -1.0);
    j->params.onset_threshold = num_val(r, row, 9, 0.0);
    j->params.frame_threshold = num_val(r, row, 10, 0.0);
    j->params.min_note_ms = num_val(r, row, 11, 0.0);
    copy_val(r, row, 12, j->params.stems, sizeof j->params.stems);
    j->params.bpm = num_val(r, row, 13, 0.0);
    copy_val(r, row, 14, j->params.mode, sizeof j->params.mode);
    j->bpm = num_val(r, row, 15, 0.0);
    copy_val(r, row, 16, j->error_code, sizeof j->error_code);
    copy_val(r, row, 17, j->error_message, sizeof j->error_message);
    copy_val(r, row, 18, j->params.quantize, sizeof j->params.quantize);
    j->params.quantize_strength = num_val(r, row, 19, 100.0);
    copy_val(r, row, 20, j->title, sizeof j->title);
    j->params.fast = strcmp(PQgetvalue(r, row, 21), "t") == 0;
    copy_val(r, row, 22, j->owned_by, sizeof j->owned_by);
    copy_val(r, row, 23, j->key, sizeof j->key);
    copy_val(r, row, 24, j->batch_id, sizeof j->batch_id);
    copy_val(r, row, 25, j->webhook_url, sizeof j->webhook_url);
    copy_val(r, row, 26, j->webhook_secret, sizeof j->webhook_secret);
}

/* ---------------------------------------------------------------------------------------- */
/* The listener: NOTIFY to condition variables, and the heartbeat */

/* An event of job `id` ("": of any job) arrived (jobs->mu held). */
static void note_event(srv_jobs *jobs, const char *id) {
    snprintf(PG(jobs)->ring[jobs->event_gen % RING], SRV_ID_LEN + 1, "%s", id);
    jobs->event_gen++;
}

/* 1 when a notification since generation `seen` may concern job `id` (jobs->mu held). */
static int event_for(srv_jobs *jobs, const char *id, unsigned long seen) {
    if (jobs->event_gen - seen > RING) return 1;
    for (unsigned long g = seen; g != jobs->event_gen; g++) {
        const char *r = PG(jobs)->ring[g % RING];
        if (!r[0] || strcmp(r, id) == 0) return 1;
    }
    return 0;
}

/* Queue depth, running jobs and live workers into pg_state, on connection `c`. */
static void look(srv_jobs *jobs, PGconn *c) {
    struct pg_state *p = PG(jobs);
    struct args a = {0};
    arg_num(&a, 3 * SRV_HEARTBEAT_S);
    PGresult *r = exec_on(jobs, c,
                          "SELECT count(*) FILTER (WHERE state = 'queued'),"
                          " count(*) FILTER (WHERE state = 'running'),"
                          " (SELECT count(*) FROM workers"
                          " WHERE seen > now() - make_interval(secs => $1)) FROM jobs",
                          a.n, a.v, PGRES_TUPLES_OK);
    if (r) {
        atomic_store(&p->n_queued, atoi(PQgetvalue(r, 0, 0)));
        atomic_store(&p->n_running, atoi(PQgetvalue(r, 0, 1)));
        atomic_store(&p->n_live, atoi(PQgetvalue(r, 0, 2)));
    }
    atomic_store(&p->reachable, r != NULL);
    PQclear(r);
}

/* This process is alive and still runs its jobs: its row in `workers` and its leases. */
static void heartbeat(srv_jobs *jobs, PGconn *c) {
    pthread_mutex_lock(&jobs->mu);
    int n = jobs->n_workers, lease = jobs->lease_s;
    pthread_mutex_unlock(&jobs->mu);
    if (n <= 0) return;
    struct args a = {0};
    arg_text(&a, jobs->owner);
    arg_num(&a, n);
    arg_num(&a, lease);
    PQclear(exec_on(jobs, c,
                    "WITH w AS (INSERT INTO workers(id, threads, seen) VALUES ($1, $2, now())"
                    " ON CONFLICT (id) DO UPDATE SET threads = $2, seen = now())"
                    " UPDATE jobs SET lease_until = now() + make_interval(secs => $3)"
                    " WHERE owner = $1 AND state = 'running'",
                    a.n, a.v, PGRES_COMMAND_OK));
}

static void *listen_main(void *arg) {
    srv_jobs *jobs = arg;
    struct pg_state *p = PG(jobs);
    PGconn *c = NULL;
    time_t last_beat = 0, last_look = 0;
    while (!atomic_load(&p->stop)) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            atomic_store(&p->reachable, 0);
            if (c) PQfinish(c);
            c = connect_to(p->url);
            PGresult *r = PQstatus(c) == CONNECTION_OK
                              ? PQexec(c, "LISTEN dumu_events; LISTEN dumu_queue")
                              : NULL;
            int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) {
                PQfinish(c);
                c = NULL;
                sleep(1);
                continue;
            }
            pthread_mutex_lock(&jobs->mu); /* whatever happened while we were not listening */
            note_event(jobs, "");
            jobs->queue_gen++;
            pthread_cond_broadcast(&jobs->event_cv);
            pthread_cond_broadcast(&jobs->queue_cv);
            pthread_mutex_unlock(&jobs->mu);
        }
        if (time(NULL) - last_beat >= SRV_HEARTBEAT_S) {
            heartbeat(jobs, c);
            last_beat = time(NULL);
        }
        if (time(NULL) != last_look) {
            look(jobs, c);
            last_look = time(NULL);
        }
        struct pollfd pfd = {PQsocket(c), POLLIN, 0};
        if (poll(&pfd, 1, 1000) <= 0) continue;
        if (!PQconsumeInput(c)) continue; /* reconnects above */
        int queue = 0, events = 0;
        PGnotify *n;
        pthread_mutex_lock(&jobs->mu);
        while ((n = PQnotifies(c))) {
            if (strcmp(n->relname, "dumu_queue") == 0) {
                queue = 1;
            } else {
                events = 1;
                note_event(jobs, srv_id_valid(n->extra) ? n->extra : "");
            }
            PQfreemem(n);
        }
        if (queue) {
            jobs->queue_gen++;
            pthread_cond_broadcast(&jobs->queue_cv);
        }
        if (events) pthread_cond_broadcast(&jobs->event_cv);
        pthread_mutex_unlock(&jobs->mu);
    }
    if (c) {
        /* a clean stop leaves the fleet at once */
        const char *id = jobs->owner;
        PQclear(PQexecParams(c, "DELETE FROM workers WHERE id = $1", 1, NULL, &id, NULL, NULL, 0));
        PQfinish(c);
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Open and close */

static int migrate(srv_jobs *jobs) {
    PGconn *c = conn_get(jobs);
    int rc = -1, version = -1;
    char lock[64];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%d)", SCHEMA_LOCK);
    PGresult *r = exec_on(jobs, c, lock, 0, NULL, PGRES_TUPLES_OK);
    if (!r) goto out;
    PQclear(r);
    PQclear(exec_on(jobs, c, "CREATE TABLE IF NOT EXISTS dumu_schema(version integer NOT NULL)", 0,
                    NULL, PGRES_COMMAND_OK));
    r = exec_on(jobs, c, "SELECT coalesce(max(version), 0) FROM dumu_schema", 0, NULL,
                PGRES_TUPLES_OK);
    if (r) version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (version > SCHEMA_VERSION)
        fprintf(stderr, "dumu: the database is of schema version %d, newer than this dumu (%d)\n",
                version, SCHEMA_VERSION);
    rc = version < 0 || version > SCHEMA_VERSION ? -1 : 0;
    for (int v = version + 1; !rc && v <= SCHEMA_VERSION; v++) {
        char set[96];
        snprintf(set, sizeof set, "DELETE FROM dumu_schema; INSERT INTO dumu_schema VALUES (%d)",
                 v);
        PGresult *b = PQexec(c, "BEGIN");
        PQclear(b);
        r = PQexec(c, k_schema[v - 1]);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) fprintf(stderr, "dumu: schema version %d: %s", v, PQresultErrorMessage(r));
        PQclear(r);
        int n_seeds;
        const struct srv_tier *seeds = srv_tier_seeds(&n_seeds);
        for (int i = 0; ok && v == 5 && i < n_seeds; i++) {
            char sql[256];
            snprintf(sql, sizeof sql,
                     "INSERT INTO tiers VALUES ('%s', %d, %d, %d, %d, %d) ON CONFLICT DO NOTHING",
                     seeds[i].name, seeds[i].rpm, seeds[i].concurrent, seeds[i].minutes_per_day,
                     seeds[i].max_song_s, seeds[i].retention_h);
            r = PQexec(c, sql);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            if (!ok) fprintf(stderr, "dumu: schema version %d: %s", v, PQresultErrorMessage(r));
            PQclear(r);
        }
        if (ok) {
            r = PQexec(c, set);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
        PQclear(PQexec(c, ok ? "COMMIT" : "ROLLBACK"));
        rc = ok ? 0 : -1;
    }
    snprintf(lock, sizeof lock, "SELECT pg_advisory_unlock(%d)", SCHEMA_LOCK);
    PQclear(PQexec(c, lock));
out:
    conn_put(jobs, c);
    return rc;
}

static void pg_close(srv_jobs *jobs);

static int pg_open(srv_jobs *jobs, const char *url) {
    struct pg_state *p = calloc(1, sizeof *p);
    if (!p) return -1;
    jobs->impl = p;
    pthread_mutex_init(&p->pool_mu, NULL);
    pthread_cond_init(&p->pool_cv, NULL);
    if (!(p->url = strdup(url))) return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/cache", jobs->dir);
    if (mkdir(path, 0755) && errno != EEXIST) {
        fprintf(stderr, "dumu: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    PGconn *c = conn_get(jobs);
    int ok = PQstatus(c) == CONNECTION_OK;
    if (!ok) fprintf(stderr, "dumu: cannot connect to the database: %s", PQerrorMessage(c));
    conn_put(jobs, c);
    if (!ok || migrate(jobs)) return -1;
    c = conn_get(jobs); /* the first look before the first request */
    look(jobs, c);
    conn_put(jobs, c);
    if (pthread_create(&p->listener, NULL, listen_main, jobs)) return -1;
    p->listening = 1;
    return 0;
}

static void pg_close(srv_jobs *jobs) {
    struct pg_state *p = PG(jobs);
    if (!p) return;
    if (p->listening) {
        atomic_store(&p->stop, 1);
        pthread_join(p->listener, NULL);
    }
    for (int i = 0; i < POOL; i++)
        if (p->conn[i]) PQfinish(p->conn[i]);
    pthread_cond_destroy(&p->pool_cv);
    pthread_mutex_destroy(&p->pool_mu);
    free(p->url);
    free(p);
    jobs->impl = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Jobs */

static int pg_insert(srv_jobs *jobs, const struct srv_job *j) {
    struct args a = {0};
    char *ev;
    arg_text(&a, j->id);
    arg_text(&a, j->message);
    arg_text(&a, j->name);
    arg_num(&a, (double)j->created);
    if (j->duration >= 0.0)
        arg_num(&a, j->duration);
    else
        arg_text(&a, NULL);
    arg_num(&a, j->params.onset_threshold);
    arg_num(&a, j->params.frame_threshold);
    arg_num(&a, j->params.min_note_ms);
    arg_text(&a, j->params.stems);
    arg_num(&a, j->params.bpm);
    arg_text(&a, j->params.mode);
    arg_text(&a, j->params.quantize);
    arg_num(&a, j->params.quantize_strength);
    arg_text(&a, j->title);
    arg_json(&a, srv_event_progress(0.0, "queued", j->message), &ev);
    arg_text(&a, j->params.fast ? "true" : "false");
    arg_text(&a, j->owned_by[0] ? j->owned_by : NULL);
    arg_text(&a, j->batch_id[0] ? j->batch_id : NULL);
    arg_text(&a, j->webhook_url[0] ? j->webhook_url : NULL);
    arg_text(&a, j->webhook_url[0] ? j->webhook_secret : NULL); /* no URL, nothing to sign */
    int n = exec_count(jobs,
                       "WITH j AS (INSERT INTO jobs(id, state, progress, stage, message, name,"
                       " created, updated, duration, onset, frame, min_note_ms, stems, bpm, mode,"
                       " result_bpm, quantize, qstrength, title, fast, owned_by, batch_id,"
                       " webhook_url, webhook_secret) VALUES ($1, 'queued', 0, 'queued', $2, $3,"
                       " $4, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14, $16, $17, $18,"
                       " $19, $20)"
                       " RETURNING id)"
                       " INSERT INTO events(job_id, type, data) SELECT id, 'progress', $15 FROM j",
                       a.n, a.v);
    free(ev);
    return n == 1 ? 0 : -1;
}

static int pg_get(srv_jobs *jobs, const char *id, struct srv_job *out) {
    PGresult *r =
        exec(jobs, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = $1", 1, &id, PGRES_TUPLES_OK);
    if (!r) return -1;
    int found = PQntuples(r) == 1;
    if (found) read_job(r, 0, out);
    PQclear(r);
    return found;
}

/* The rows of a srv_job_query: $1 owner, $2 batch, $3 search text (NULL: not narrowed).
 * strpos, not LIKE: the text is the asker's, and its % and _ are letters like any other. */
#define QUERY_WHERE                                                                      \
    " WHERE ($1::text IS NULL OR owned_by = $1) AND ($2::text IS NULL OR batch_id = $2)" \
    " AND ($3::text IS NULL OR strpos(lower(title), lower($3)) > 0"                      \
    " OR strpos(lower(coalesce(result_key, '')), lower($3)) > 0)"

static int pg_list(srv_jobs *jobs, const struct srv_job_query *q, struct srv_job *out, int cap,
                   int *total) {
    /* PostgreSQL refuses such text as a parameter, and no title (made valid: params.c) or key
     * holds it: no match, rather than a store that seems to be down */
    if (q->search && !srv_utf8_valid(q->search)) {
        *total = 0;
        return 0;
    }
    struct args a = {0};
    arg_text(&a, q->owned_by);
    arg_text(&a, q->batch_id && q->batch_id[0] ? q->batch_id : NULL);
    arg_text(&a, q->search && q->search[0] ? q->search : NULL);
    arg_num(&a, cap > 0 ? cap : 0); /* PostgreSQL refuses negative ones */
    arg_num(&a, q->offset > 0 ? q->offset : 0);
    /* the count of all matches comes with the page, from the same snapshot */
    PGresult *r = exec(jobs,
                       "SELECT " JOB_COLUMNS ", count(*) OVER () FROM jobs" QUERY_WHERE
                       " ORDER BY seq DESC LIMIT $4 OFFSET $5",
                       a.n, a.v, PGRES_TUPLES_OK);
    if (!r) return -1;
    int n = PQntuples(r) < cap ? PQntuples(r) : cap;
    for (int i = 0; i < n; i++)
        read_job(r, i, &out[i]);
    *total = n ? atoi(PQgetvalue(r, 0, 27)) : 0;
    PQclear(r);
    if (n == 0) { /* no row to carry it (none match, or the page is past the end) */
        r = exec(jobs, "SELECT count(*) FROM jobs" QUERY_WHERE, 3, a.v, PGRES_TUPLES_OK);
        if (!r) return -1;
        *total = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    return n;
}

static int pg_counts(srv_jobs *jobs, int *queued, int *running) {
    *queued = atomic_load(&PG(jobs)->n_queued);
    *running = atomic_load(&PG(jobs)->n_running);
    return atomic_load(&PG(jobs)->reachable) ? 0 : -1;
}

static int pg_queue_ahead(srv_jobs *jobs, const char *id, int *ahead, double *audio_s) {
    *ahead = 0;
    *audio_s = 0.0;
    /* the queued jobs that go before this one in the fair order (store.h), then what the
     * running ones have left */
    PGresult *r = exec(jobs,
                       "WITH q AS (SELECT seq AS r, owned_by AS o, greatest(duration, 0) AS d,"
                       " row_number() OVER (PARTITION BY owned_by ORDER BY seq) AS n FROM jobs"
                       " WHERE state = 'queued'),"
                       " me AS (SELECT o, n FROM q WHERE r = (SELECT seq FROM jobs WHERE id = $1)),"
                       " turn AS (SELECT q.o, (SELECT count(*) FROM jobs x WHERE x.state ="
                       " 'running' AND x.owned_by IS NOT DISTINCT FROM q.o) AS run,"
                       " (SELECT coalesce(max(x.started), 0) FROM jobs x"
                       " WHERE x.owned_by IS NOT DISTINCT FROM q.o) AS last, min(q.r) AS first"
                       " FROM q GROUP BY q.o)"
                       " SELECT count(*), coalesce(sum(q.d), 0) FROM q, me, turn t, turn tm"
                       " WHERE t.o IS NOT DISTINCT FROM q.o AND tm.o IS NOT DISTINCT FROM me.o"
                       " AND q.n < me.n + CASE WHEN q.o IS NOT DISTINCT FROM me.o THEN 0"
                       " WHEN (t.run, t.last, t.first) < (tm.run, tm.last, tm.first) THEN 1"
                       " ELSE 0 END UNION ALL SELECT count(*),"
                       " coalesce(sum(greatest(duration, 0) * (100 - progress) / 100), 0)"
                       " FROM jobs WHERE state = 'running'",
                       1, &id, PGRES_TUPLES_OK);
    if (!r) return -1;
    for (int row = 0; row < PQntuples(r); row++) {
        if (row == 0) *ahead = atoi(PQgetvalue(r, 0, 0));
        *audio_s += num_val(r, row, 1, 0.0);
    }
    PQclear(r);
    return 0;
}

static int pg_ping(srv_jobs *jobs) {
    return atomic_load(&PG(jobs)->reachable) ? 0 : -1;
}

static int pg_workers(srv_jobs *jobs) {
    return atomic_load(&PG(jobs)->reachable) ? atomic_load(&PG(jobs)->n_live) : -1;
}

/* Jobs whose worker stopped renewing its lease: back to the queue, or failed as poison after
 * SRV_MAX_ATTEMPTS starts. Any claimer does it, first. */
static void reap(srv_jobs *jobs) {
    char why[160], *ev;
    snprintf(why, sizeof why,
             "this song stopped a worker %d times while it was processed; it is not tried again",
             SRV_MAX_ATTEMPTS);
    struct args a = {0};
    arg_text(&a, why);
    arg_num(&a, now_unix());
    arg_num(&a, SRV_MAX_ATTEMPTS);
    arg_json(&a, srv_event_error("poison", why), &ev);
    exec_count(jobs,
               "WITH dead AS (UPDATE jobs SET state = 'failed', progress = 0, stage = 'failed',"
               " message = $1, error_code = 'poison', error_message = $1, updated = $2,"
               " owner = NULL WHERE state = 'running' AND lease_until < now()"
               " AND attempts >= $3 RETURNING id)"
               " INSERT INTO events(job_id, type, data) SELECT id, 'error', $4 FROM dead",
               a.n, a.v);
    free(ev);
    const char *msg = "restarted after an interruption";
    struct args b = {0};
    arg_text(&b, msg);
    arg_num(&b, now_unix());
    arg_json(&b, srv_event_progress(0.0, "queued", msg), &ev);
    exec_count(jobs,
               "WITH back AS (UPDATE jobs SET state = 'queued', progress = 0, stage = 'queued',"
               " message = $1, updated = $2, owner = NULL WHERE state = 'running'"
               " AND lease_until < now() RETURNING id)"
               " INSERT INTO events(job_id, type, data) SELECT id, 'progress', $3 FROM back",
               b.n, b.v);
    free(ev);
}

static int pg_claim(srv_jobs *jobs, struct srv_job *out, int timeout_ms) {
    struct timespec until = srv_store_deadline(timeout_ms);
    for (;;) {
        pthread_mutex_lock(&jobs->mu);
        unsigned long gen = jobs->queue_gen;
        int woken = jobs->woken, lease = jobs->lease_s;
        pthread_mutex_unlock(&jobs->mu);
        if (woken) return 0;
        reap(jobs);
        struct args a = {0};
        arg_text(&a, jobs->owner);
        arg_num(&a, lease);
        arg_num(&a, now_unix());
        PGresult *r = exec(jobs,
                           "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
                           " owner = $1, lease_until = now() + make_interval(secs => $2),"
                           " updated = $3, started = nextval('jobs_started')"
                           " WHERE id = (SELECT j.id FROM jobs j WHERE j.state = 'queued'"
                           /* store.h: the fair order */
                           " ORDER BY (SELECT count(*) FROM jobs r WHERE r.state = 'running'"
                           " AND r.owned_by IS NOT DISTINCT FROM j.owned_by),"
                           " (SELECT coalesce(max(r.started), 0) FROM jobs r"
                           " WHERE r.owned_by IS NOT DISTINCT FROM j.owned_by), j.seq"
                           " LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " JOB_COLUMNS,
                           a.n, a.v, PGRES_TUPLES_OK);
        int claimed = r && PQntuples(r) == 1;
        if (claimed) read_job(r, 0, out);
        PQclear(r);
        if (claimed) return 1;
        int timed_out = 0;
        pthread_mutex_lock(&jobs->mu);
        while (!timed_out && !jobs->woken && jobs->queue_gen == gen)
            timed_out = pthread_cond_timedwait(&jobs->queue_cv, &jobs->mu, &until) != 0;
        pthread_mutex_unlock(&jobs->mu);
        if (timed_out) return 0;
    }
}

static int pg_progress(srv_jobs *jobs, const char *id, double progress, const char *stage,
                       const char *message) {
    struct args a = {0};
    char *ev;
    arg_text(&a, id);
    arg_num(&a, progress);
    arg_text(&a, stage);
    arg_text(&a, message);
    arg_num(&a, now_unix());
    arg_num(&a, jobs->lease_s);
    arg_text(&a, jobs->owner);
    arg_json(&a, srv_event_progress(progress, stage, message), &ev);
    int n = exec_count(jobs,
                       "WITH u AS (UPDATE jobs SET progress = $2, stage = $3, message = $4,"
                       " updated = $5, lease_until = now() + make_interval(secs => $6)"
                       " WHERE id = $1 AND state = 'running' AND owner = $7 RETURNING id)"
                       " INSERT INTO events(job_id, type, data) SELECT id, 'progress', $8 FROM u",
                       a.n, a.v);
    free(ev);
    return n < 0 ? -1 : n == 0;
}

static int pg_finish(srv_jobs *jobs, const char *id, enum srv_state state, double bpm,
                     const char *key, double duration, const char *code, const char *message) {
    int done = state == SRV_DONE;
    struct args a = {0};
    char *ev;
    arg_text(&a, id);
    arg_text(&a, srv_state_name(state));
    arg_num(&a, done ? 100.0 : 0.0);
    arg_text(&a, done ? "midi" : "failed");
    arg_text(&a, done ? "done" : message);
    arg_num(&a, now_unix());
    arg_num(&a, bpm);
    arg_num(&a, duration);
    arg_text(&a, done ? NULL : code);
    arg_text(&a, done ? NULL : message);
    arg_text(&a, jobs->owner);
    arg_text(&a, done ? "done" : "error");
    arg_json(&a, done ? srv_event_done(id) : srv_event_error(code, message), &ev);
    arg_text(&a, key[0] ? key : NULL);
    int n = exec_count(jobs,
                       "WITH u AS (UPDATE jobs SET state = $2, progress = $3, stage = $4,"
                       " message = $5, updated = $6, result_bpm = $7, duration = $8,"
                       " error_code = $9, error_message = $10, result_key = $14, owner = NULL"
                       " WHERE id = $1 AND state = 'running' AND owner = $11 RETURNING id)"
                       " INSERT INTO events(job_id, type, data) SELECT id, $12, $13 FROM u",
                       a.n, a.v);
    free(ev);
    return n < 0 ? -1 : n == 0;
}

static void pg_requeue(srv_jobs *jobs, const char *id) {
    /* a stop is not the song's fault: the start it made is not counted against it */
    const char *msg = "interrupted by a worker stop; it runs again";
    struct args a = {0};
    char *ev;
    arg_text(&a, id);
    arg_text(&a, msg);
    arg_num(&a, now_unix());
    arg_text(&a, jobs->owner);
    arg_json(&a, srv_event_progress(0.0, "queued", msg), &ev);
    exec_count(jobs,
               "WITH u AS (UPDATE jobs SET state = 'queued', progress = 0, stage = 'queued',"
               " message = $2, updated = $3, attempts = greatest(attempts - 1, 0), owner = NULL"
               " WHERE id = $1 AND state = 'running' AND owner = $4 RETURNING id)"
               " INSERT INTO events(job_id, type, data) SELECT id, 'progress', $5 FROM u",
               a.n, a.v);
    free(ev);
}

static int pg_set_params(srv_jobs *jobs, const char *id, const struct srv_params *p) {
    struct args a = {0};
    arg_text(&a, id);
    arg_num(&a, p->onset_threshold);
    arg_num(&a, p->frame_threshold);
    arg_num(&a, p->min_note_ms);
    arg_text(&a, p->mode);
    arg_num(&a, now_unix());
    arg_text(&a, p->quantize);
    arg_num(&a, p->quantize_strength);
    arg_num(&a, p->bpm);
    return exec_count(jobs,
                      "UPDATE jobs SET onset = $2, frame = $3, min_note_ms = $4, mode = $5,"
                      " updated = $6, quantize = $7, qstrength = $8, bpm = $9 WHERE id = $1",
                      a.n, a.v) < 0
               ? -1
               : 0;
}

/* Removes this node's cached copies of job `id`: of its file `what` except `keep` (an older
 * version), or all of them (what NULL). */
static void drop_cache(srv_jobs *jobs, const char *id, const char *what, const char *keep) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cache", jobs->dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t id_len = strlen(id), what_len = what ? strlen(what) : 0;
    while (d && (e = readdir(d))) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        if (strncmp(n, id, id_len) != 0 || n[id_len] != '.') continue;
        if (what && (len < what_len + 1 || strcmp(n + len - what_len, what) != 0 ||
                     n[len - what_len - 1] != '.'))
            continue;
        char file[sizeof dir + sizeof e->d_name + 1];
        snprintf(file, sizeof file, "%s/%s", dir, n);
        if (!keep || strcmp(file, keep) != 0) unlink(file);
    }
    if (d) closedir(d);
}

static int pg_remove(srv_jobs *jobs, const char *id, enum srv_state *was) {
    struct args a = {0};
    char *ev;
    arg_text(&a, id);
    arg_json(&a, srv_event_error("cancelled", "the job was cancelled"), &ev);
    /* one snapshot: the history goes, the final event for streams still connected stays */
    PGresult *r = exec(jobs,
                       "WITH d AS (DELETE FROM jobs WHERE id = $1 RETURNING state),"
                       " e AS (DELETE FROM events WHERE job_id = $1 AND EXISTS (SELECT 1 FROM d)),"
                       " b AS (DELETE FROM blobs WHERE job_id = $1 AND EXISTS (SELECT 1 FROM d)),"
                       " w AS (DELETE FROM deliveries WHERE target = $1"
                       " AND EXISTS (SELECT 1 FROM d)),"
                       " i AS (INSERT INTO events(job_id, type, data) SELECT $1, 'error', $2"
                       " FROM d WHERE state IN ('queued', 'running'))"
                       " SELECT state FROM d",
                       a.n, a.v, PGRES_TUPLES_OK);
    free(ev);
    if (!r) return -1;
    int found = PQntuples(r) == 1;
    if (found) *was = srv_state_from_name(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (found) { /* this node's copies; a worker drops its own */
        srv_jobs_remove_files(jobs, id);
        drop_cache(jobs, id, NULL, NULL);
    }
    return found;
}

static int pg_retry(srv_jobs *jobs, const char *id) {
    struct args a = {0};
    char *ev;
    arg_text(&a, id);
    arg_num(&a, now_unix());
    arg_json(&a, srv_event_progress(0.0, "queued", "tried again"), &ev);
    /* the failure's error event goes: a stream of the retried job must not end on it */
    int n = exec_count(jobs,
                       "WITH u AS (UPDATE jobs SET state = 'queued', progress = 0,"
                       " stage = 'queued', message = 'tried again', error_code = NULL,"
                       " error_message = NULL, updated = $2 WHERE id = $1 AND state = 'failed'"
                       " AND error_code = 'storage' RETURNING id),"
                       " d AS (DELETE FROM events WHERE job_id IN (SELECT id FROM u)"
                       " AND type = 'error')"
                       " INSERT INTO events(job_id, type, data) SELECT id, 'progress', $3 FROM u",
                       a.n, a.v);
    free(ev);
    return n == 1 ? 0 : -1;
}

/* This node's cached copies of jobs that have no row any more. */
static void expire_cache(srv_jobs *jobs) {
    static const char *const folders[] = {"cache", "jobs", "uploads"};
    char path[4096];
    for (int f = 0; f < 3; f++) {
        snprintf(path, sizeof path, "%s/%s", jobs->dir, folders[f]);
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char id[SRV_ID_LEN + 1], file[4200];
            if (strlen(e->d_name) < SRV_ID_LEN) continue;
            memcpy(id, e->d_name, SRV_ID_LEN);
            id[SRV_ID_LEN] = '\0';
            if (!srv_id_valid(id)) continue;
            snprintf(file, sizeof file, "%s/%s", path, e->d_name);
            struct stat sb;
            if (stat(file, &sb) || sb.st_mtime > time(NULL) - 600) continue; /* in use */
            const char *p = id;
            PGresult *r = exec(jobs, "SELECT 1 FROM jobs WHERE id = $1", 1, &p, PGRES_TUPLES_OK);
            int gone = r && PQntuples(r) == 0;
            PQclear(r);
            if (gone && unlink(file)) srv_store_remove_dir(file);
        }
        if (d) closedir(d);
    }
}

static int pg_expire(srv_jobs *jobs, int64_t before, int by_tier) {
    struct args a = {0};
    arg_num(&a, (double)before);
    arg_text(&a, by_tier ? "true" : "false");
    arg_num(&a, now_unix());
    PGresult *r = exec(jobs,
                       "WITH x AS (DELETE FROM jobs WHERE state IN ('done', 'failed')"
                       " AND updated < CASE WHEN $2::boolean AND owned_by <> '' THEN"
                       " coalesce($3::float8 - 3600 * " TIER_RETENTION_SQL ", $1::float8)"
                       " ELSE $1::float8 END RETURNING id),"
                       " e AS (DELETE FROM events WHERE job_id IN (SELECT id FROM x)),"
                       " b AS (DELETE FROM blobs WHERE job_id IN (SELECT id FROM x)),"
                       " w AS (DELETE FROM deliveries WHERE target IN (SELECT id FROM x))"
                       " SELECT count(*) FROM x",
                       a.n, a.v, PGRES_TUPLES_OK);
    int n = r ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    /* what a removed job or a cut-off upload left: its final event (streams had 10 minutes
     * to read it), blobs stored without a row, workers long gone */
    exec_count(jobs,
               "DELETE FROM events WHERE at < now() - interval '10 minutes' AND NOT EXISTS"
               " (SELECT 1 FROM jobs WHERE jobs.id = events.job_id)",
               0, NULL);
    exec_count(jobs,
               "DELETE FROM blobs WHERE stored < now() - interval '10 minutes' AND NOT EXISTS"
               " (SELECT 1 FROM jobs WHERE jobs.id = blobs.job_id)",
               0, NULL);
    exec_count(jobs, "DELETE FROM workers WHERE seen < now() - interval '1 hour'", 0, NULL);
    struct args c = {0};
    arg_num(&c, now_unix());
    arg_num(&c, SRV_FAILURE_KEEP_S);
    exec_count(jobs, "DELETE FROM credentials WHERE expires > 0 AND expires < $1", 1, c.v);
    exec_count(jobs, "DELETE FROM login_failures WHERE at < $1::bigint - $2::bigint", c.n, c.v);
    /* a bucket idle for an hour is full again anyway; yesterday's usage is still shown */
    exec_count(jobs, "DELETE FROM buckets WHERE at < $1::float8 - 3600", 1, c.v);
    exec_count(jobs, "DELETE FROM audio_usage WHERE day < floor($1::float8 / 86400) - 1", 1, c.v);
    /* batches whose jobs are all gone (an hour after they were made: their jobs go in within
     * their request), then the deliveries about a job or batch that is no more */
    exec_count(jobs,
               "DELETE FROM batches WHERE created < $1::bigint - 3600 AND NOT EXISTS"
               " (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id)",
               1, c.v);
    exec_count(jobs,
               "DELETE FROM deliveries WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id ="
               " deliveries.target) AND NOT EXISTS (SELECT 1 FROM batches"
               " WHERE batches.id = deliveries.target)",
               0, NULL);
    expire_cache(jobs);
    return n;
}

/* A job's turn: a session advisory lock on a connection kept until release. The two-key
 * form keeps these apart from the single-key lock of the migrations. */
static void *pg_hold(srv_jobs *jobs, const char *id) {
    PGconn *c = conn_get(jobs);
    PGresult *r =
        exec_on(jobs, c, "SELECT pg_advisory_lock(1, hashtext($1))", 1, &id, PGRES_TUPLES_OK);
    if (!r) {
        conn_put(jobs, c);
        return NULL;
    }
    PQclear(r);
    return c;
}

static void pg_release(srv_jobs *jobs, const char *id, void *token) {
    PGconn *c = token;
    PQclear(
        exec_on(jobs, c, "SELECT pg_advisory_unlock(1, hashtext($1))", 1, &id, PGRES_TUPLES_OK));
    conn_put(jobs, c);
}

/* ---------------------------------------------------------------------------------------- */
/* Events */

static int pg_events(srv_jobs *jobs, const char *id, int64_t *after, int timeout_ms, char **text,
                     size_t *len, int *final) {
    struct timespec until = srv_store_deadline(timeout_ms);
    *text = NULL;
    *len = 0;
    *final = 0;
    for (;;) {
        pthread_mutex_lock(&jobs->mu);
        unsigned long gen = jobs->event_gen;
        int woken = jobs->woken;
        pthread_mutex_unlock(&jobs->mu);
        if (woken) return 0;
        struct args a = {0};
        arg_text(&a, id);
        arg_num(&a, (double)*after);
        PGresult *r = exec(jobs,
                           "SELECT id, type, data FROM events WHERE job_id = $1 AND id > $2"
                           " ORDER BY id",
                           a.n, a.v, PGRES_TUPLES_OK);
        if (!r) return -1;
        size_t total = 0;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++)
            total += (size_t)PQgetlength(r, i, 1) + (size_t)PQgetlength(r, i, 2) + 64;
        if (rows) {
            char *buf = malloc(total + 1);
            if (!buf) {
                PQclear(r);
                return -1;
            }
            size_t off = 0;
            for (int i = 0; i < rows; i++) {
                const char *type = PQgetvalue(r, i, 1);
                off +=
                    (size_t)snprintf(buf + off, total + 1 - off, "id: %s\nevent: %s\ndata: %s\n\n",
                                     PQgetvalue(r, i, 0), type, PQgetvalue(r, i, 2));
                *final |= strcmp(type, "progress") != 0;
                *after = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            }
            PQclear(r);
            *text = buf;
            *len = off;
            return 1;
        }
        PQclear(r);
        if (*after == 0) { /* no history at all: an unknown job */
            r = exec(jobs, "SELECT 1 FROM events WHERE job_id = $1 LIMIT 1", 1, &id,
                     PGRES_TUPLES_OK);
            int known = r && PQntuples(r) == 1;
            PQclear(r);
            if (!known) return -1;
        }
        int timed_out = 0;
        pthread_mutex_lock(&jobs->mu);
        while (!timed_out && !jobs->woken && !event_for(jobs, id, gen)) {
            gen = jobs->event_gen;
            timed_out = pthread_cond_timedwait(&jobs->event_cv, &jobs->mu, &until) != 0;
        }
        pthread_mutex_unlock(&jobs->mu);
        if (timed_out) return 0;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Blobs */

static int pg_publish(srv_jobs *jobs, const char *id, const char *what, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat sb;
    char *buf = malloc(CHUNK);
    PGconn *c = conn_get(jobs);
    int ok = buf && fstat(fd, &sb) == 0;
    if (ok) {
        PGresult *r = PQexec(c, "BEGIN");
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    struct args a = {0};
    arg_text(&a, id);
    arg_text(&a, what);
    arg_num(&a, (double)sb.st_size);
    if (ok)
        PQclear(exec_on(jobs, c, "DELETE FROM blobs WHERE job_id = $1 AND name = $2", 2, a.v,
                        PGRES_COMMAND_OK));
    PGresult *r = ok ? exec_on(jobs, c, "INSERT INTO blobs(job_id, name, size) VALUES ($1, $2, $3)",
                               3, a.v, PGRES_COMMAND_OK)
                     : NULL;
    ok = r != NULL;
    PQclear(r);
    for (int n = 0; ok; n++) {
        ssize_t got = 0;
        while (got < CHUNK) {
            ssize_t k = read(fd, buf + got, (size_t)(CHUNK - got));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                ok = k == 0;
                break;
            }
            got += k;
        }
        if (!ok || got == 0) break;
        char num[16];
        snprintf(num, sizeof num, "%d", n);
        const char *v[4] = {id, what, num, buf};
        const int lens[4] = {0, 0, 0, (int)got};
        const int formats[4] = {0, 0, 0, 1};
        r = PQexecParams(c,
                         "INSERT INTO blob_chunks(job_id, name, n, data) VALUES ($1, $2, $3, $4)",
                         4, NULL, v, lens, formats, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) warn(jobs, c, r, "store a blob chunk");
        PQclear(r);
    }
    r = PQexec(c, ok ? "COMMIT" : "ROLLBACK");
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    conn_put(jobs, c);
    free(buf);
    close(fd);
    if (ok) unlink(path);
    return ok ? 0 : -1;
}

/* Streams the chunks of (id, what) into `tmp`. */
static int download(srv_jobs *jobs, const char *id, const char *what, const char *tmp) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    PGconn *c = conn_get(jobs);
    const char *v[2] = {id, what};
    int ok = PQsendQueryParams(c,
                               "SELECT data FROM blob_chunks WHERE job_id = $1 AND name = $2"
                               " ORDER BY n",
                               2, NULL, v, NULL, NULL, 1) &&
             PQsetSingleRowMode(c);
    PGresult *r;
    while ((r = PQgetResult(c))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE) {
            const char *data = PQgetvalue(r, 0, 0);
            size_t n = (size_t)PQgetlength(r, 0, 0);
            for (size_t done = 0; ok && done < n;) {
                ssize_t w = write(fd, data + done, n - done);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0)
                    ok = 0;
                else
                    done += (size_t)w;
            }
        } else if (st != PGRES_TUPLES_OK) {
            warn(jobs, c, r, "read a blob");
            ok = 0;
        }
        PQclear(r); /* the rest is read to the end: the connection goes back clean */
    }
    conn_put(jobs, c);
    if (close(fd)) ok = 0;
    return ok ? 0 : -1;
}

static int pg_fetch(srv_jobs *jobs, const char *id, const char *what, char *path, size_t cap) {
    const char *v[2] = {id, what};
    PGresult *r =
        exec(jobs, "SELECT gen FROM blobs WHERE job_id = $1 AND name = $2", 2, v, PGRES_TUPLES_OK);
    if (!r) return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 1;
    }
    char cached[4096];
    int n = snprintf(cached, sizeof cached, "%s/cache/%s.%s.%s", jobs->dir, id, PQgetvalue(r, 0, 0),
                     what);
    PQclear(r);
    if (n < 0 || (size_t)n >= sizeof cached || (size_t)n >= cap) return -1;
    if (access(cached, R_OK) != 0) {
        static atomic_uint serial;
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.%u.tmp", cached, atomic_fetch_add(&serial, 1));
        if (download(jobs, id, what, tmp) || rename(tmp, cached)) {
            unlink(tmp);
            return -1;
        }
        drop_cache(jobs, id, what, cached); /* older versions */
    }
    memcpy(path, cached, (size_t)n + 1);
    return 0;
}

static int pg_discard(srv_jobs *jobs, const char *id, const char *what) {
    const char *v[2] = {id, what};
    return exec_count(jobs, "DELETE FROM blobs WHERE job_id = $1 AND name = $2", 2, v) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Accounts and credentials */

static int pg_account_add(srv_jobs *jobs, const struct srv_account *acc, const char *pwhash) {
    struct args a = {0};
    arg_text(&a, acc->id);
    arg_text(&a, acc->email);
    arg_text(&a, pwhash);
    arg_text(&a, acc->tier);
    arg_num(&a, (double)acc->created);
    int n = exec_count(jobs,
                       "INSERT INTO accounts(id, email, pwhash, tier, created)"
                       " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING",
                       a.n, a.v);
    return n < 0 ? -1 : n == 0;
}

static void read_account(const PGresult *r, int row, struct srv_account *a) {
    memset(a, 0, sizeof *a);
    copy_val(r, row, 0, a->id, sizeof a->id);
    copy_val(r, row, 1, a->email, sizeof a->email);
    copy_val(r, row, 2, a->tier, sizeof a->tier);
    a->created = (int64_t)num_val(r, row, 3, 0.0);
}

static int pg_account_find(srv_jobs *jobs, const char *email, const char *id,
                           struct srv_account *out, char *pwhash, size_t cap) {
    const char *key = email ? email : id;
    PGresult *r =
        exec(jobs,
             email ? "SELECT id, email, tier, created, pwhash FROM accounts WHERE email = $1"
                   : "SELECT id, email, tier, created, pwhash FROM accounts WHERE id = $1",
             1, &key, PGRES_TUPLES_OK);
    if (!r) return -1;
    int found = PQntuples(r) == 1;
    if (found) read_account(r, 0, out);
    if (found && pwhash) copy_val(r, 0, 4, pwhash, cap);
    PQclear(r);
    return found;
}

static int pg_account_list(srv_jobs *jobs, struct srv_account *out, int cap) {
    struct args a = {0};
    arg_num(&a, cap);
    PGresult *r = exec(jobs, "SELECT id, email, tier, created FROM accounts ORDER BY seq LIMIT $1",
                       a.n, a.v, PGRES_TUPLES_OK);
    if (!r) return -1;
    int n = PQntuples(r) < cap ? PQntuples(r) : cap;
    for (int i = 0; i < n; i++)
        read_account(r, i, &out[i]);
    PQclear(r);
    return n;
}

/* The credentials go with it (ON DELETE CASCADE), its batches and their deliveries in the
 * same statement; its jobs are the caller's (account.c, through remove). */
static int pg_account_remove(srv_jobs *jobs, const char *id) {
    int n = exec_count(jobs,
                       "WITH b AS (DELETE FROM batches WHERE owned_by = 'a:' || $1 RETURNING id),"
                       " w AS (DELETE FROM deliveries WHERE target IN (SELECT id FROM b))"
                       " DELETE FROM accounts WHERE id = $1",
                       1, &id);
    return n < 0 ? -1 : n > 0;
}

static int pg_cred_add(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash,
                       const struct srv_cred *c) {
    struct args a = {0};
    arg_text(&a, hash);
    arg_text(&a, srv_cred_kind_name(kind));
    arg_text(&a, c->id[0] ? c->id : NULL);
    arg_text(&a, c->account);
    arg_text(&a, c->name);
    arg_text(&a, c->csrf);
    arg_num(&a, (double)c->created);
    arg_num(&a, (double)c->expires);
    return exec_count(jobs,
                      "INSERT INTO credentials(hash, kind, id, account_id, name, csrf, created,"
                      " expires) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      a.n, a.v) == 1
               ? 0
               : -1;
}

#define CRED_COLUMNS "id, account_id, name, csrf, created, expires"

static void read_cred(const PGresult *r, int row, struct srv_cred *c) {
    memset(c, 0, sizeof *c);
    copy_val(r, row, 0, c->id, sizeof c->id);
    copy_val(r, row, 1, c->account, sizeof c->account);
    copy_val(r, row, 2, c->name, sizeof c->name);
    copy_val(r, row, 3, c->csrf, sizeof c->csrf);
    c->created = (int64_t)num_val(r, row, 4, 0.0);
    c->expires = (int64_t)num_val(r, row, 5, 0.0);
}

static int pg_cred_find(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash, int64_t now,
                        struct srv_cred *out) {
    struct args a = {0};
    arg_text(&a, hash);
    arg_text(&a, srv_cred_kind_name(kind));
    arg_num(&a, (double)now);
    PGresult *r = exec(jobs,
                       "SELECT " CRED_COLUMNS " FROM credentials WHERE hash = $1 AND kind = $2"
                       " AND (expires = 0 OR expires >= $3)",
                       a.n, a.v, PGRES_TUPLES_OK);
    if (!r) return -1;
    int found = PQntuples(r) == 1;
    if (found) read_cred(r, 0, out);
    PQclear(r);
    return found;
}

static int pg_cred_list(srv_jobs *jobs, enum srv_cred_kind kind, const char *account,
                        struct srv_cred *out, int cap) {
    struct args a = {0};
    arg_text(&a, account);
    arg_text(&a, srv_cred_kind_name(kind));
    arg_num(&a, cap);
    PGresult *r = exec(jobs,
                       "SELECT " CRED_COLUMNS " FROM credentials WHERE account_id = $1"
                       " AND kind = $2 ORDER BY seq LIMIT $3",
                       a.n, a.v, PGRES_TUPLES_OK);
    if (!r) return -1;
    int n = PQntuples(r) < cap ? PQntuples(r) : cap;
    for (int i = 0; i < n; i++)
        read_cred(r, i, &out[i]);
    PQclear(r);
    return n;
}

static int pg_cred_remove(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash, const char *id,
                          const char *account) {
    if (!hash && !id) return 0;
    struct args a = {0};
    arg_text(&a, srv_cred_kind_name(kind));
    arg_text(&a, hash);
    arg_text(&a, id);
    arg_text(&a, account);
    int n = exec_count(jobs,
                       "DELETE FROM credentials WHERE kind = $1 AND ($2::text IS NULL OR hash = $2)"
                       " AND ($3::text IS NULL OR id = $3)"
                       " AND ($4::text IS NULL OR account_id = $4)",
                       a.n, a.v);
    return n < 0 ? -1 : n > 0;
}

static int pg_failures(srv_jobs *jobs, const char *key, int64_t since, int *n, int64_t *oldest) {
    struct args a = {0};
    arg_text(&a, key);
    arg_num(&a, (double)since);
    PGresult *r = exec(jobs,
                       "SELECT count(*), coalesce(min(at), 0) FROM login_failures"
                       " WHERE key = $1 AND at >= $2",
                       a.n, a.v, PGRES_TUPLES_OK);
    if (!r) return -1;
    *n = atoi(PQgetvalue(r, 0, 0));
    *oldest = (int64_t)num_val(r, 0, 1, 0.0);
    PQclear(r);
    return 0;
}

static int pg_failure_note(srv_jobs *jobs, const char *key, int64_t at, int clear) {
    struct args a = {0};
    arg_text(&a, key);
    arg_num(&a, (double)at);
    if (clear) arg_num(&a, SRV_FAILURE_KEEP_S);
    return exec_count(
               jobs,
               clear ? "DELETE FROM login_failures WHERE key = $1 OR at < $2::bigint - $3::bigint"
                     : "INSERT INTO login_failures(key, at) VALUES ($1, $2)",
               a.n, a.v) < 0
               ? -1
               : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Fair use */

#define TIER_COLUMNS "name, rpm, concurrent, minutes_per_day, max_song_s, retention_h"

static void read_tier(const PGresult *r, int row, struct srv_tier *t) {
    memset(t, 0, sizeof *t);
    copy_val(r, row, 0, t->name, sizeof t->name);
    t->rpm = atoi(PQgetvalue(r, row, 1));
    t->concurrent = atoi(PQgetvalue(r, row, 2));
    t->minutes_per_day = atoi(PQgetvalue(r, row, 3));
    t->max_song_s = atoi(PQgetvalue(r, row, 4));
    t->retention_h = atoi(PQgetvalue(r, row, 5));
}

static int pg_tier_list(srv_jobs *jobs, struct srv_tier *out, int cap) {
    struct args a = {0};
    arg_num(&a, cap);
    PGresult *r = exec(jobs, "SELECT " TIER_COLUMNS " FROM tiers ORDER BY name LIMIT $1", a.n, a.v,
                       PGRES_TUPLES_OK);
    if (!r) return -1;
    int n = PQntuples(r) < cap ? PQntuples(r) : cap;
    for (int i = 0; i < n; i++)
        read_tier(r, i, &out[i]);
    PQclear(r);
    return n;
}

static int pg_tier_get(srv_jobs *jobs, const char *name, const char *account,
                       struct srv_tier *out) {
    const char *v[2] = {name, account};
    PGresult *r = exec(jobs,
                       "SELECT " TIER_COLUMNS " FROM tiers WHERE name = coalesce($1,"
                       " (SELECT a.tier FROM accounts a WHERE a.id = $2 AND"
                       " EXISTS (SELECT 1 FROM tiers t WHERE t.name = a.tier)),"
                       " '" SRV_TIER_ANONYMOUS "')",
                       2, v, PGRES_TUPLES_OK);
    if (!r) return -1;
    int found = PQntuples(r) == 1;
    if (found) read_tier(r, 0, out);
    PQclear(r);
    return found;
}

static int pg_tier_set(srv_jobs *jobs, const struct srv_tier *t) {
    struct args a = {0};
    arg_text(&a, t->name);
    arg_num(&a, t->rpm);
    arg_num(&a, t->concurrent);
    arg_num(&a, t->minutes_per_day);
    arg_num(&a, t->max_song_s);
    arg_num(&a, t->retention_h);
    return exec_count(jobs,
                      "INSERT INTO tiers(" TIER_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6)"
                      " ON CONFLICT (name) DO UPDATE SET rpm = $2, concurrent = $3,"
                      " minutes_per_day = $4, max_song_s = $5, retention_h = $6",
                      a.n, a.v) < 0
               ? -1
               : 0;
}

static int pg_owner_move(srv_jobs *jobs, const char *from, const char *to) {
    const char *v[2] = {from, to};
    /* one statement: the batches move with their jobs or not at all */
    return exec_count(jobs,
                      "WITH b AS (UPDATE batches SET owned_by = $2 WHERE owned_by = $1) "
                      "UPDATE jobs SET owned_by = $2 WHERE owned_by = $1",
                      2, v);
}

static int pg_account_set_tier(srv_jobs *jobs, const char *account, const char *tier) {
    const char *v[2] = {account, tier};
    int n = exec_count(jobs, "UPDATE accounts SET tier = $2 WHERE id = $1", 2, v);
    return n < 0 ? -1 : n > 0;
}

/* The bucket's refill: its tokens plus rpm / 60 a second since it was last touched, at most
 * rpm ($2 rpm, $3 now). SET reads the row as it was, so `took` and `tokens` agree; the row's
 * lock makes the nodes' takes one after another. */
#define REFILL "LEAST($2::float8, buckets.tokens + GREATEST(0, $3::float8 - buckets.at) * $2 / 60)"

static int pg_bucket_take(srv_jobs *jobs, const char *key, int rpm, double now, double *tokens) {
    struct args a = {0};
    arg_text(&a, key);
    arg_num(&a, rpm);
    arg_num(&a, now);
    PGresult *r = exec(jobs,
                       "INSERT INTO buckets(key, tokens, at, took) VALUES ($1, $2::float8 - 1, $3,"
                       " 1) ON CONFLICT (key) DO UPDATE SET tokens = " REFILL " - CASE WHEN " REFILL
                       " >= 1 THEN 1 ELSE 0 END,"
                       " took = CASE WHEN " REFILL " >= 1 THEN 1 ELSE 0 END,"
                       " at = GREATEST(buckets.at, $3::float8) RETURNING tokens, took",
                       a.n, a.v, PGRES_TUPLES_OK);
    if (!r) return -1;
    int rc = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 1)) : -1;
    if (rc >= 0) *tokens = num_val(r, 0, 0, 0.0);
    PQclear(r);
    return rc;
}

static int pg_usage_get(srv_jobs *jobs, const char *key, int64_t day, double *used) {
    struct args a = {0};
    arg_text(&a, key);
    arg_num(&a, (double)day);
    PGresult *r = exec(jobs,
                       "SELECT coalesce(sum(seconds), 0) FROM audio_usage WHERE key = $1"
                       " AND day = $2",
                       a.n, a.v, PGRES_TUPLES_OK);
    if (!r) return -1;
    *used = num_val(r, 0, 0, 0.0);
    PQclear(r);
    return 0;
}

static int pg_usage_add(srv_jobs *jobs, const char *key, int64_t day, double seconds,
                        double limit_s, double *used) {
    struct args a = {0};
    arg_text(&a, key);
    arg_num(&a, (double)day);
    arg_num(&a, seconds);
    arg_num(&a, limit_s);
    int n = exec_count(jobs,
                       "INSERT INTO audio_usage(key, day, seconds) SELECT $1, $2, GREATEST(0,"
                       " $3::float8) WHERE $3::float8 <= $4::float8 ON CONFLICT (key, day) DO"
                       " UPDATE SET seconds = GREATEST(0, audio_usage.seconds + $3::float8)"
                       " WHERE audio_usage.seconds + $3::float8 <= $4::float8",
                       a.n, a.v);
    if (n < 0 || pg_usage_get(jobs, key, day, used)) return -1;
    return n > 0;
}

static int pg_owner_active(srv_jobs *jobs, const char *owned_by, int *n) {
    PGresult *r = exec(jobs,
                       "SELECT count(*) FROM jobs WHERE owned_by = $1 AND state IN"
                       " ('queued', 'running')",
                       1, &owned_by, PGRES_TUPLES_OK);
    if (!r) return -1;
    *n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Batches and webhook deliveries */

static int pg_batch_insert(srv_jobs *jobs, const struct srv_batch *b) {
    struct args a = {0};
    arg_text(&a, b->id);
    arg_text(&a, b->owned_by[0] ? b->owned_by : NULL);
    arg_num(&a, (double)b->created);
    arg_text(&a, b->webhook_url[0] ? b->webhook_url : NULL);
    arg_text(&a, b->webhook_url[0] ? b->webhook_secret : NULL); /* no URL, nothing to sign */
    return exec_count(jobs,
                      "INSERT INTO batches(id, owned_by, created, webhook_url, webhook_secret)"
                      " VALUES ($1, $2, $3, $4, $5)",
                      a.n, a.v) == 1
               ? 0
               : -1;
}

static int pg_batch_get(srv_jobs *jobs, const char *id, struct srv_batch *out) {
    PGresult *r = exec(jobs,
                       "SELECT id, owned_by, created, webhook_url, webhook_secret FROM batches"
                       " WHERE id = $1",
                       1, &id, PGRES_TUPLES_OK);
    if (!r) return -1;
    int found = PQntuples(r) == 1;
    if (found) {
        memset(out, 0, sizeof *out);
        copy_val(r, 0, 0, out->id, sizeof out->id);
        copy_val(r, 0, 1, out->owned_by, sizeof out->owned_by);
        out->created = (int64_t)num_val(r, 0, 2, 0.0);
        copy_val(r, 0, 3, out->webhook_url, sizeof out->webhook_url);
        copy_val(r, 0, 4, out->webhook_secret, sizeof out->webhook_secret);
    }
    PQclear(r);
    return found;
}

static const char *const delivery_states[] = {"pending", "delivered", "failed"};

/* A row of DELIVERY_COLUMNS. */
static void read_delivery(const PGresult *r, int row, struct srv_delivery *d) {
    memset(d, 0, sizeof *d);
    d->id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
    copy_val(r, row, 1, d->target, sizeof d->target);
    copy_val(r, row, 2, d->event, sizeof d->event);
    copy_val(r, row, 3, d->url, sizeof d->url);
    for (int k = 0; k < 3; k++)
        if (strcmp(PQgetvalue(r, row, 4), delivery_states[k]) == 0)
            d->state = (enum srv_delivery_state)k;
    d->attempts = atoi(PQgetvalue(r, row, 5));
    d->last_status = atoi(PQgetvalue(r, row, 6));
    copy_val(r, row, 7, d->last_error, sizeof d->last_error);
    d->created = strtoll(PQgetvalue(r, row, 8), NULL, 10);
    d->next_at = strtoll(PQgetvalue(r, row, 9), NULL, 10);
    d->updated = strtoll(PQgetvalue(r, row, 10), NULL, 10);
    copy_val(r, row, 11, d->secret, sizeof d->secret);
}

static int pg_delivery_add(srv_jobs *jobs, const struct srv_delivery *d, const char *body,
                           int64_t now) {
    struct args a = {0};
    arg_text(&a, d->target);
    arg_text(&a, d->event);
    arg_text(&a, d->url);
    arg_text(&a, d->secret);
    arg_text(&a, body);
    arg_num(&a, (double)now);
    /* the node that sees a job end second finds the first one's row: nothing to add */
    int n = exec_count(jobs,
                       "INSERT INTO deliveries(target, event, url, secret, body, state, attempts,"
                       " last_status, last_error, created, next_at, updated) VALUES ($1, $2, $3,"
                       " $4, $5, 'pending', 0, 0, '', $6, $6, $6)"
                       " ON CONFLICT (target, event) DO NOTHING",
                       a.n, a.v);
    return n < 0 ? -1 : n == 0;
}

static int pg_delivery_claim(srv_jobs *jobs, int64_t now, int lease_s, struct srv_delivery *out,
                             char **body) {
    *body = NULL;
    struct args a = {0};
    arg_num(&a, (double)now);
    arg_num(&a, (double)now + lease_s);
    /* as a job's claim: nodes asking together skip each other's row, and the lease keeps
     * the row away from them once this one commits */
    PGresult *r = exec(jobs,
                       "UPDATE deliveries SET next_at = $2 WHERE id = (SELECT id FROM deliveries"
                       " WHERE state = 'pending' AND next_at <= $1 ORDER BY next_at, id LIMIT 1"
                       " FOR UPDATE SKIP LOCKED) RETURNING " DELIVERY_COLUMNS ", body",
                       a.n, a.v, PGRES_TUPLES_OK);
    if (!r) return -1;
    int rc = PQntuples(r) == 1;
    if (rc) {
        read_delivery(r, 0, out);
        if (!(*body = strdup(PQgetvalue(r, 0, 12)))) rc = -1;
    }
    PQclear(r);
    return rc;
}

static int pg_delivery_update(srv_jobs *jobs, const struct srv_delivery *d, int64_t now) {
    struct args a = {0};
    arg_num(&a, (double)d->id);
    arg_text(&a, delivery_states[d->state]);
    arg_num(&a, d->attempts);
    arg_num(&a, d->last_status);
    arg_text(&a, d->last_error);
    arg_num(&a, (double)d->next_at);
    arg_num(&a, (double)now);
    return exec_count(jobs,
                      "UPDATE deliveries SET state = $2, attempts = $3, last_status = $4,"
                      " last_error = $5, next_at = $6, updated = $7 WHERE id = $1",
                      a.n, a.v) < 0
               ? -1
               : 0;
}

static int pg_delivery_list(srv_jobs *jobs, const char *target, struct srv_delivery *out, int cap) {
    struct args a = {0};
    arg_text(&a, target);
    arg_num(&a, cap > 0 ? cap : 0);
    PGresult *r = exec(jobs,
                       "SELECT " DELIVERY_COLUMNS " FROM deliveries WHERE target = $1"
                       " ORDER BY id LIMIT $2",
                       a.n, a.v, PGRES_TUPLES_OK);
    if (!r) return -1;
    int n = PQntuples(r) < cap ? PQntuples(r) : cap;
    for (int i = 0; i < n; i++)
        read_delivery(r, i, &out[i]);
    PQclear(r);
    return n;
}

const struct srv_store_ops srv_store_pg = {
    .kind = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .insert = pg_insert,
    .get = pg_get,
    .list = pg_list,
    .counts = pg_counts,
    .claim = pg_claim,
    .progress = pg_progress,
    .finish = pg_finish,
    .requeue = pg_requeue,
    .set_params = pg_set_params,
    .remove = pg_remove,
    .queue_ahead = pg_queue_ahead,
    .retry = pg_retry,
    .ping = pg_ping,
    .workers = pg_workers,
    .expire = pg_expire,
    .hold = pg_hold,
    .release = pg_release,
    .events = pg_events,
    .fetch = pg_fetch,
    .publish = pg_publish,
    .discard = pg_discard,
    .account_add = pg_account_add,
    .account_find = pg_account_find,
    .account_list = pg_account_list,
    .account_remove = pg_account_remove,
    .cred_add = pg_cred_add,
    .cred_find = pg_cred_find,
    .cred_list = pg_cred_list,
    .cred_remove = pg_cred_remove,
    .failures = pg_failures,
    .failure_note = pg_failure_note,
    .tier_list = pg_tier_list,
    .tier_get = pg_tier_get,
    .tier_set = pg_tier_set,
    .account_set_tier = pg_account_set_tier,
    .bucket_take = pg_bucket_take,
    .usage_add = pg_usage_add,
    .usage_get = pg_usage_get,
    .owner_active = pg_owner_active,
    .owner_move = pg_owner_move,
    .batch_insert = pg_batch_insert,
    .batch_get = pg_batch_get,
    .delivery_add = pg_delivery_add,
    .delivery_claim = pg_delivery_claim,
    .delivery_update = pg_delivery_update,
    .delivery_list = pg_delivery_list,
};
