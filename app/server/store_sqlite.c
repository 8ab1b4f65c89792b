/* store_sqlite.c - the job store in one SQLite file, for one machine (see store.h).
 *
 * DESIGN
 *   The SQLite database DATA_DIR/dumu.db (WAL, synchronous=FULL) is the source of truth:
 *   table `jobs` holds one row per job, `events` every SSE event a job has emitted. A job is
 *   recorded only after its upload is fully written, fsynced and renamed, so a 202 always
 *   means the work survives a crash; on open, rows left `running` go back to `queued` and run
 *   again from the saved upload.
 *
 *   One connection serves the whole process, behind one mutex: every statement is short (a
 *   row), so sharing it costs less than a connection per HTTP thread (SSE holds hundreds of
 *   them). The same mutex guards the in-memory histories, a linked list of per-job event
 *   arrays holding preformatted SSE text, and two condition variables: `queue_cv` wakes
 *   workers when a job is inserted, `event_cv` wakes SSE streams when any event is appended
 *   (a broadcast; each stream checks its own job). A history is loaded from the `events`
 *   table on first use, so reconnecting after a restart still replays it. The queued/running
 *   counters are atomics so that /health never waits behind an fsync.
 *
 *   One process per data folder (jobs.c's lock on DATA_DIR/dumu.lock), since the crash
 *   recovery above would take another server's running jobs for a crash's.
 *
 *   Blobs are the files in the data folder themselves (jobs.h's layout): publishing is a
 *   no-op and fetching finds the file where it lies.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

struct srv_event {
    int64_t id;
    int final;  /* a done or error event: the stream ends after it */
    char *text; /* "id: N\nevent: T\ndata: {...}\n\n"; owned */
    size_t len;
};

struct srv_history {
    char id[SRV_ID_LEN + 1];
    struct srv_event *ev; /* (n) ascending ids; owned */
    size_t n, cap;
    int64_t next_id;
    struct srv_history *next;
};

/* The SQLite implementation's state (srv_jobs.impl). */
struct sq_state {
    sqlite3 *db;
    struct srv_history *histories;
    atomic_int n_queued, n_running; /* so that /health never waits behind an fsync */
};

#define SQ(jobs) ((struct sq_state *)(jobs)->impl)

static int64_t now_unix(void) {
    return (int64_t)time(NULL);
}

static void db_warn(srv_jobs *jobs, const char *what) {
    fprintf(stderr, "dumu serve: database: %s: %s\n", what, sqlite3_errmsg(SQ(jobs)->db));
}

static sqlite3_stmt *prepare(srv_jobs *jobs, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(SQ(jobs)->db, sql, -1, &st, NULL) != SQLITE_OK) db_warn(jobs, sql);
    return st;
}

/* Runs a statement with up to two text parameters (NULL = unused), no result rows. */
static int exec_text(srv_jobs *jobs, const char *sql, const char *a, const char *b) {
    sqlite3_stmt *st = prepare(jobs, sql);
    if (!st) return -1;
    if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
    if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        db_warn(jobs, sql);
        return -1;
    }
    return 0;
}

static void copy_col(sqlite3_stmt *st, int col, char *out, size_t cap) {
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static void read_job(sqlite3_stmt *st, struct srv_job *j) {
    memset(j, 0, sizeof *j);
    copy_col(st, 0, j->id, sizeof j->id);
    j->state = srv_state_from_name((const char *)sqlite3_column_text(st, 1));
    j->progress = sqlite3_column_double(st, 2);
    copy_col(st, 3, j->stage, sizeof j->stage);
    copy_col(st, 4, j->message, sizeof j->message);
    copy_col(st, 5, j->name, sizeof j->name);
    j->created = sqlite3_column_int64(st, 6);
    j->updated = sqlite3_column_int64(st, 7);
    j->duration = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1.0 : sqlite3_column_double(st, 8);
    j->params.onset_threshold = sqlite3_column_double(st, 9);
    j->params.frame_threshold = sqlite3_column_double(st, 10);
    j->params.min_note_ms = sqlite3_column_double(st, 11);
    copy_col(st, 12, j->params.stems, sizeof j->params.stems);
    j->params.bpm = sqlite3_column_double(st, 13);
    copy_col(st, 14, j->params.mode, sizeof j->params.mode);
    j->bpm = sqlite3_column_double(st, 15);
    copy_col(st, 16, j->error_code, sizeof j->error_code);
    copy_col(st, 17, j->error_message, sizeof j->error_message);
    copy_col(st, 18, j->params.quantize, sizeof j->params.quantize);
    if (!j->params.quantize[0]) strcpy(j->params.quantize, "off");
    j->params.quantize_strength =
        sqlite3_column_type(st, 19) == SQLITE_NULL ? 100.0 : sqlite3_column_double(st, 19);
    copy_col(st, 20, j->title, sizeof j->title);
    if (!j->title[0]) snprintf(j->title, sizeof j->title, "%s", j->name); /* rows from before */
    j->params.fast = sqlite3_column_int(st, 21) != 0;
    copy_col(st, 22, j->owned_by, sizeof j->owned_by);
    copy_col(st, 23, j->key, sizeof j->key);
    copy_col(st, 24, j->batch_id, sizeof j->batch_id);
    copy_col(st, 25, j->webhook_url, sizeof j->webhook_url);
    copy_col(st, 26, j->webhook_secret, sizeof j->webhook_secret);
}

/* ---------------------------------------------------------------------------------------- */
/* Event histories (mu held) */

static struct srv_history *history_find(srv_jobs *jobs, const char *id) {
    for (struct srv_history *h = SQ(jobs)->histories; h; h = h->next)
        if (strcmp(h->id, id) == 0) return h;
    return NULL;
}

static int history_push(struct srv_history *h, int64_t id, const char *type, const char *data) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        struct srv_event *ev = realloc(h->ev, cap * sizeof *ev);
        if (!ev) return -1;
        h->ev = ev;
        h->cap = cap;
    }
    size_t need = strlen(type) + strlen(data) + 64;
    char *text = malloc(need);
    if (!text) return -1;
    int n = snprintf(text, need, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)id, type, data);
    h->ev[h->n++] = (struct srv_event){id, strcmp(type, "progress") != 0, text, (size_t)n};
    if (id >= h->next_id) h->next_id = id + 1;
    return 0;
}

static void history_free(struct srv_history *h) {
    for (size_t i = 0; i < h->n; i++)
        free(h->ev[i].text);
    free(h->ev);
    free(h);
}

/* The history of `id`, loaded from the events table on first use. Without `create`, NULL
 * when the job has no events at all (unknown); NULL also when memory ran out. */
static struct srv_history *history_load(srv_jobs *jobs, const char *id, int create) {
    struct srv_history *h = history_find(jobs, id);
    if (h) return h;
    h = calloc(1, sizeof *h);
    if (!h) return NULL;
    snprintf(h->id, sizeof h->id, "%s", id);
    h->next_id = 1;
    sqlite3_stmt *st = prepare(jobs, "SELECT id, type, data FROM events WHERE job_id = ? "
                                     "ORDER BY id");
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW)
            history_push(h, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                         (const char *)sqlite3_column_text(st, 2));
        sqlite3_finalize(st);
    }
    if (!h->n && !create) {
        history_free(h);
        return NULL;
    }
    h->next = SQ(jobs)->histories;
    SQ(jobs)->histories = h;
    return h;
}

/* Appends an event to the job's history and the events table, and wakes SSE streams.
 * `store` 0 keeps it in memory only (the row is being deleted). */
static void event_append(srv_jobs *jobs, const char *id, const char *type, cJSON *data, int store) {
    char *text = cJSON_PrintUnformatted(data);
    struct srv_history *h = text ? history_load(jobs, id, 1) : NULL;
    if (h) {
        int64_t eid = h->next_id;
        if (store) {
            sqlite3_stmt *st = prepare(jobs, "INSERT INTO events(job_id, id, type, data) "
                                             "VALUES (?, ?, ?, ?)");
            if (st) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 2, eid);
                sqlite3_bind_text(st, 3, type, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 4, text, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) != SQLITE_DONE) db_warn(jobs, "insert event");
                sqlite3_finalize(st);
            }
        }
        history_push(h, eid, type, text);
        pthread_cond_broadcast(&jobs->event_cv);
    }
    free(text);
    cJSON_Delete(data);
}

/* ---------------------------------------------------------------------------------------- */
/* Open and close */

static int count_state(srv_jobs *jobs, const char *state) {
    sqlite3_stmt *st = prepare(jobs, "SELECT count(*) FROM jobs WHERE state = ?");
    int n = 0;
    if (!st) return 0;
    sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Removes leftover DATA_DIR/uploads/<id>.part files of uploads cut off by a crash. */
static void remove_parts(srv_jobs *jobs) {
    char path[4096];
    snprintf(path, sizeof path, "%s/uploads", jobs->dir);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 5 && strcmp(e->d_name + n - 5, ".part") == 0) {
            snprintf(path, sizeof path, "%s/uploads/%s", jobs->dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* SCHEMA VERSIONS (PRAGMA user_version). Each step brings a store from the version before it
 * inside one write transaction, under the data folder's lock: a store of any earlier version
 * opens (tests/scripts/test_store.sh starts from the first one). Version 0 is a new file or a
 * store from before versions were kept, whose later columns may or may not be there.
 *   1  jobs and events, every column up to the job's title
 *   2  jobs.attempts: how many runs a job has started (a job that stopped the server
 *      SRV_MAX_ATTEMPTS times fails instead of running again)
 *   3  jobs.fast: the job separates with bf16 products (dumu_separate_params.fast)
 *   4  jobs.owned_by, accounts, credentials (sessions and API keys, by token hash) and
 *      login_failures (throttling): dumu serve --auth
 *   5  fair use: tiers (seeded with srv_tier_seeds), buckets (requests per minute),
 *      audio_usage (seconds of audio per asker and day) and jobs.started (the claims'
 *      order, for the fair queue: store.h)
 *   6  batches, deliveries (webhook calls) and jobs.result_key, batch_id, webhook_url and
 *      webhook_secret */
static const char k_schema_1[] =
    "CREATE TABLE IF NOT EXISTS jobs(id TEXT PRIMARY KEY, state TEXT NOT NULL,"
    " progress REAL NOT NULL, stage TEXT, message TEXT, name TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, duration REAL, onset REAL,"
    " frame REAL, min_note_ms REAL, stems TEXT, bpm REAL, mode TEXT, result_bpm REAL,"
    " error_code TEXT, error_message TEXT);"
    "CREATE TABLE IF NOT EXISTS events(job_id TEXT NOT NULL, id INTEGER NOT NULL,"
    " type TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY(job_id, id));";
static const char k_schema_4[] =
    "ALTER TABLE jobs ADD COLUMN owned_by TEXT;"
    "CREATE INDEX jobs_owned_by ON jobs(owned_by);"
    "CREATE TABLE accounts(id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, pwhash TEXT NOT NULL,"
    " tier TEXT NOT NULL DEFAULT 'free', created INTEGER NOT NULL);"
    "CREATE TABLE credentials(hash TEXT PRIMARY KEY, kind TEXT NOT NULL, id TEXT,"
    " account_id TEXT NOT NULL, name TEXT, csrf TEXT, created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL);"
    "CREATE INDEX credentials_account ON credentials(account_id, kind);"
    "CREATE TABLE login_failures(key TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX login_failures_key ON login_failures(key, at);";
static const char k_schema_5[] =
    "ALTER TABLE jobs ADD COLUMN started INTEGER;"
    "CREATE INDEX jobs_owner_started ON jobs(owned_by, started);"
    "CREATE TABLE tiers(name TEXT PRIMARY KEY, rpm INTEGER NOT NULL, concurrent INTEGER NOT NULL,"
    " minutes_per_day INTEGER NOT NULL, max_song_s INTEGER NOT NULL,"
    " retention_h INTEGER NOT NULL);"
    "CREATE TABLE buckets(key TEXT PRIMARY KEY, tokens REAL NOT NULL, at REAL NOT NULL,"
    " took INTEGER NOT NULL);"
    "CREATE TABLE audio_usage(key TEXT NOT NULL, day INTEGER NOT NULL, seconds REAL NOT NULL,"
    " PRIMARY KEY(key, day));";
static const char k_schema_6[] =
    "ALTER TABLE jobs ADD COLUMN result_key TEXT;"
    "ALTER TABLE jobs ADD COLUMN batch_id TEXT;"
    "ALTER TABLE jobs ADD COLUMN webhook_url TEXT;"
    "ALTER TABLE jobs ADD COLUMN webhook_secret TEXT;"
    "CREATE INDEX jobs_batch ON jobs(batch_id);"
    "CREATE TABLE batches(id TEXT PRIMARY KEY, owned_by TEXT, created INTEGER NOT NULL,"
    " webhook_url TEXT, webhook_secret TEXT);"
    "CREATE TABLE deliveries(id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL,"
    " event TEXT NOT NULL, url TEXT NOT NULL, secret TEXT NOT NULL, body TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, last_status INTEGER NOT NULL, last_error TEXT,"
    " created INTEGER NOT NULL, next_at INTEGER NOT NULL, updated INTEGER NOT NULL,"
    " UNIQUE(target, event));"
    "CREATE INDEX deliveries_due ON deliveries(state, next_at);";
#define SCHEMA_VERSION 6
#define STR_(x)        #x
#define STR(x)         STR_(x) /* a number macro's digits, for SQL text */

/* 1 when query `sql` with one text parameter returns a row, 0 when not, -1 when it cannot
 * run. */
static int has_row(srv_jobs *jobs, const char *sql, const char *arg) {
    sqlite3_stmt *st = prepare(jobs, sql);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* True when table `jobs` has column `name`. */
static int has_column(srv_jobs *jobs, const char *name) {
    return has_row(jobs, "SELECT 1 FROM pragma_table_info('jobs') WHERE name = ?", name) == 1;
}

static int migrate(srv_jobs *jobs, const char *path) {
    char *msg = NULL;
    int rc = sqlite3_exec(SQ(jobs)->db,
                          "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; BEGIN IMMEDIATE",
                          NULL, NULL, &msg);
    sqlite3_stmt *st = rc ? NULL : prepare(jobs, "PRAGMA user_version");
    int version = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (!rc && version < 1) {
        rc = sqlite3_exec(SQ(jobs)->db, k_schema_1, NULL, NULL, &msg);
        static const char *const later[][2] = {
            {"quantize", "ALTER TABLE jobs ADD COLUMN quantize TEXT"},
            {"qstrength", "ALTER TABLE jobs ADD COLUMN qstrength REAL"},
            {"title", "ALTER TABLE jobs ADD COLUMN title TEXT"},
        };
        for (size_t i = 0; !rc && i < sizeof later / sizeof later[0]; i++)
            if (!has_column(jobs, later[i][0]))
                rc = sqlite3_exec(SQ(jobs)->db, later[i][1], NULL, NULL, &msg);
    }
    if (!rc && version < 2)
        rc = sqlite3_exec(SQ(jobs)->db,
                          "ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0", NULL,
                          NULL, &msg);
    if (!rc && version < 3)
        rc = sqlite3_exec(SQ(jobs)->db,
                          "ALTER TABLE jobs ADD COLUMN fast INTEGER NOT NULL DEFAULT 0", NULL, NULL,
                          &msg);
    if (!rc && version < 4) rc = sqlite3_exec(SQ(jobs)->db, k_schema_4, NULL, NULL, &msg);
    if (!rc && version < 5) rc = sqlite3_exec(SQ(jobs)->db, k_schema_5, NULL, NULL, &msg);
    if (!rc && version < 6) rc = sqlite3_exec(SQ(jobs)->db, k_schema_6, NULL, NULL, &msg);
    int n_seeds;
    const struct srv_tier *seeds = srv_tier_seeds(&n_seeds);
    for (int i = 0; !rc && version < 5 && i < n_seeds; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO tiers VALUES ('%s', %d, %d, %d, %d, %d)",
                 seeds[i].name, seeds[i].rpm, seeds[i].concurrent, seeds[i].minutes_per_day,
                 seeds[i].max_song_s, seeds[i].retention_h);
        rc = sqlite3_exec(SQ(jobs)->db, sql, NULL, NULL, &msg);
    }
    if (!rc && version > SCHEMA_VERSION) {
        fprintf(stderr, "dumu serve: %s is of schema version %d, newer than this dumu (%d)\n", path,
                version, SCHEMA_VERSION);
        rc = SQLITE_ERROR;
    }
    /* jobs left running by a crash: back to the queue, or failed after too many tries (not
     * for dumu admin, which runs beside a live server) */
    static const char recover[] =
        "UPDATE jobs SET state = 'failed', error_code = 'poison', error_message = 'this song "
        "stopped the server " STR(
            SRV_MAX_ATTEMPTS) " times while it was processed; it is not "
                              "tried again' WHERE state = 'running' AND attempts >= " STR(
                                  SRV_MAX_ATTEMPTS) ";"
                                                    "UPDATE jobs SET state = 'queued', progress = "
                                                    "0, stage = 'queued', message = 'restarted "
                                                    "after an interruption' WHERE state = "
                                                    "'running';";
    if (!rc && !jobs->admin) rc = sqlite3_exec(SQ(jobs)->db, recover, NULL, NULL, &msg);
    if (!rc)
        rc = sqlite3_exec(SQ(jobs)->db, "PRAGMA user_version = " STR(SCHEMA_VERSION) "; COMMIT",
                          NULL, NULL, &msg);
    if (rc) {
        fprintf(stderr, "dumu serve: %s: %s\n", path,
                msg           ? msg
                : version < 0 ? "cannot read the schema version"
                              : "schema failed");
        sqlite3_exec(SQ(jobs)->db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_free(msg);
    return rc ? -1 : 0;
}

static void sq_close(srv_jobs *jobs);

static int sq_open(srv_jobs *jobs, const char *url) {
    (void)url;
    if (!(jobs->impl = calloc(1, sizeof(struct sq_state)))) return -1;
    char path[4096];
    int rc = 0;
    snprintf(path, sizeof path, "%s/dumu.db", jobs->dir);
    if (!rc &&
        sqlite3_open_v2(path, &SQ(jobs)->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) {
        fprintf(stderr, "dumu serve: cannot open %s: %s\n", path,
                SQ(jobs)->db ? sqlite3_errmsg(SQ(jobs)->db) : "out of memory");
        rc = -1;
    }
    if (!rc) {
        sqlite3_busy_timeout(SQ(jobs)->db, 5000);
        rc = migrate(jobs, path);
    }
    if (rc) {
        sq_close(jobs);
        return -1;
    }
    if (jobs->admin) return 0; /* the server's uploads and jobs are the server's */
    remove_parts(jobs);
    /* A job that stopped the server too often (migrate failed it): its streams hear why. */
    sqlite3_stmt *poison =
        prepare(jobs, "SELECT id, error_message FROM jobs WHERE state = 'failed' AND error_code ="
                      " 'poison' AND NOT EXISTS (SELECT 1 FROM events WHERE job_id = jobs.id AND"
                      " type = 'error')");
    while (poison && sqlite3_step(poison) == SQLITE_ROW) {
        char id[SRV_ID_LEN + 1], why[256];
        copy_col(poison, 0, id, sizeof id);
        copy_col(poison, 1, why, sizeof why);
        event_append(jobs, id, "error", srv_event_error("poison", why), 1);
    }
    sqlite3_finalize(poison);
    /* Tell streams that reconnect to a job interrupted by a crash that it starts over. */
    sqlite3_stmt *st = prepare(jobs, "SELECT id FROM jobs WHERE state = 'queued' AND message = "
                                     "'restarted after an interruption'");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        char id[SRV_ID_LEN + 1];
        copy_col(st, 0, id, sizeof id);
        event_append(jobs, id, "progress",
                     srv_event_progress(0.0, "queued", "restarted after an interruption"), 1);
    }
    sqlite3_finalize(st);
    atomic_store(&SQ(jobs)->n_queued, count_state(jobs, "queued"));
    return 0;
}

static void sq_close(srv_jobs *jobs) {
    if (!SQ(jobs)) return;
    while (SQ(jobs)->histories) {
        struct srv_history *h = SQ(jobs)->histories;
        SQ(jobs)->histories = h->next;
        history_free(h);
    }
    sqlite3_close(SQ(jobs)->db);
    free(jobs->impl);
    jobs->impl = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Rows */

static int sq_insert(srv_jobs *jobs, const struct srv_job *j) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st =
        prepare(jobs, "INSERT INTO jobs(" JOB_COLUMNS ") VALUES "
                      "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL,?,?,?,?,?,NULL,?,?,?)");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, j->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, "queued", -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, 0.0);
        sqlite3_bind_text(st, 4, "queued", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, j->message, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, j->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 7, j->created);
        sqlite3_bind_int64(st, 8, j->created);
        if (j->duration >= 0.0) sqlite3_bind_double(st, 9, j->duration);
        sqlite3_bind_double(st, 10, j->params.onset_threshold);
        sqlite3_bind_double(st, 11, j->params.frame_threshold);
        sqlite3_bind_double(st, 12, j->params.min_note_ms);
        sqlite3_bind_text(st, 13, j->params.stems, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 14, j->params.bpm);
        sqlite3_bind_text(st, 15, j->params.mode, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 16, 0.0);
        sqlite3_bind_text(st, 17, j->params.quantize, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 18, j->params.quantize_strength);
        sqlite3_bind_text(st, 19, j->title, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 20, j->params.fast);
        if (j->owned_by[0]) sqlite3_bind_text(st, 21, j->owned_by, -1, SQLITE_TRANSIENT);
        if (j->batch_id[0]) sqlite3_bind_text(st, 22, j->batch_id, -1, SQLITE_TRANSIENT);
        if (j->webhook_url[0]) sqlite3_bind_text(st, 23, j->webhook_url, -1, SQLITE_TRANSIENT);
        if (j->webhook_url[0]) sqlite3_bind_text(st, 24, j->webhook_secret, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        if (rc) db_warn(jobs, "insert job");
        sqlite3_finalize(st);
    }
    if (!rc) {
        event_append(jobs, j->id, "progress", srv_event_progress(0.0, "queued", j->message), 1);
        atomic_fetch_add(&SQ(jobs)->n_queued, 1);
        pthread_cond_signal(&jobs->queue_cv);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_get(srv_jobs *jobs, const char *id, struct srv_job *out) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int s = sqlite3_step(st);
        rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
        if (rc == 1) read_job(st, out);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

/* The rows of a srv_job_query: ?1 owner, ?2 batch, ?3 search text (NULL: not narrowed). */
#define QUERY_WHERE                                                                          \
    " WHERE (?1 IS NULL OR owned_by = ?1) AND (?2 IS NULL OR batch_id = ?2) AND (?3 IS NULL" \
    " OR instr(lower(title), lower(?3)) > 0 OR instr(lower(coalesce(result_key, '')),"       \
    " lower(?3)) > 0)"

static void bind_query(sqlite3_stmt *st, const struct srv_job_query *q) {
    if (q->owned_by) sqlite3_bind_text(st, 1, q->owned_by, -1, SQLITE_TRANSIENT);
    if (q->batch_id && q->batch_id[0]) sqlite3_bind_text(st, 2, q->batch_id, -1, SQLITE_TRANSIENT);
    if (q->search && q->search[0]) sqlite3_bind_text(st, 3, q->search, -1, SQLITE_TRANSIENT);
}

static int sq_list(srv_jobs *jobs, const struct srv_job_query *q, struct srv_job *out, int cap,
                   int *total) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT " JOB_COLUMNS " FROM jobs" QUERY_WHERE
                                     " ORDER BY rowid DESC LIMIT ?4 OFFSET ?5");
    int n = -1;
    if (st) {
        bind_query(st, q);
        sqlite3_bind_int(st, 4, cap);
        sqlite3_bind_int(st, 5, q->offset);
        n = 0;
        while (n < cap && sqlite3_step(st) == SQLITE_ROW)
            read_job(st, &out[n++]);
        sqlite3_finalize(st);
    }
    st = n < 0 ? NULL : prepare(jobs, "SELECT count(*) FROM jobs" QUERY_WHERE);
    if (st) {
        bind_query(st, q);
        *total = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : n;
        sqlite3_finalize(st);
    } else {
        n = -1;
    }
    pthread_mutex_unlock(&jobs->mu);
    return n;
}

static int sq_queue_ahead(srv_jobs *jobs, const char *id, int *ahead, double *audio_s) {
    *ahead = 0;
    *audio_s = 0.0;
    pthread_mutex_lock(&jobs->mu);
    /* the queued jobs that go before this one in the fair order (store.h),
     * then what the running ones have left */
    sqlite3_stmt *st = prepare(
        jobs, "WITH q AS (SELECT rowid AS r, owned_by AS o, MAX(duration, 0) AS d,"
              " row_number() OVER (PARTITION BY owned_by ORDER BY rowid) AS n FROM jobs"
              " WHERE state = 'queued'),"
              " me AS (SELECT o, n FROM q WHERE r = (SELECT rowid FROM jobs WHERE id = ?1)),"
              " turn AS (SELECT o, (SELECT count(*) FROM jobs x WHERE x.state = 'running'"
              " AND x.owned_by IS q.o) AS run, (SELECT coalesce(max(x.started), 0) FROM jobs x"
              " WHERE x.owned_by IS q.o) AS last, min(r) AS first FROM q GROUP BY o)"
              " SELECT COUNT(*), TOTAL(q.d) FROM q, me, turn t, turn tm WHERE t.o IS q.o"
              " AND tm.o IS me.o AND q.n < me.n + CASE WHEN q.o IS me.o THEN 0"
              " WHEN (t.run, t.last, t.first) < (tm.run, tm.last, tm.first) THEN 1 ELSE 0 END"
              " UNION ALL SELECT COUNT(*), TOTAL(MAX(duration, 0) * (100 - progress) / 100)"
              " FROM jobs WHERE state = 'running'");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        for (int row = 0; sqlite3_step(st) == SQLITE_ROW; row++) {
            if (row == 0) *ahead = sqlite3_column_int(st, 0);
            *audio_s += sqlite3_column_double(st, 1);
            rc = 0;
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_ping(srv_jobs *jobs) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT count(*) FROM jobs");
    int ok = st && sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    pthread_mutex_unlock(&jobs->mu);
    return ok ? 0 : -1;
}

static int sq_counts(srv_jobs *jobs, int *queued, int *running) {
    *queued = atomic_load(&SQ(jobs)->n_queued);
    *running = atomic_load(&SQ(jobs)->n_running);
    return 0;
}

static int sq_claim(srv_jobs *jobs, struct srv_job *out, int timeout_ms) {
    struct timespec until = srv_store_deadline(timeout_ms);
    int claimed = 0;
    pthread_mutex_lock(&jobs->mu);
    while (!jobs->woken) {
        /* store.h: the fair order */
        sqlite3_stmt *st = prepare(
            jobs,
            "SELECT " JOB_COLUMNS " FROM jobs j WHERE state = 'queued' ORDER BY"
            " (SELECT count(*) FROM jobs r WHERE r.state = 'running'"
            " AND r.owned_by IS j.owned_by),"
            " (SELECT coalesce(max(r.started), 0) FROM jobs r WHERE r.owned_by IS j.owned_by),"
            " j.rowid LIMIT 1");
        if (st && sqlite3_step(st) == SQLITE_ROW) {
            read_job(st, out);
            claimed = 1;
        }
        sqlite3_finalize(st);
        if (claimed) {
            out->state = SRV_RUNNING;
            if (exec_text(jobs,
                          "UPDATE jobs SET state = 'running', attempts = attempts + 1, started ="
                          " (SELECT coalesce(max(started), 0) + 1 FROM jobs) WHERE id = ?",
                          out->id, NULL))
                claimed = 0;
            break;
        }
        if (pthread_cond_timedwait(&jobs->queue_cv, &jobs->mu, &until)) break;
    }
    if (claimed) {
        atomic_fetch_sub(&SQ(jobs)->n_queued, 1);
        atomic_fetch_add(&SQ(jobs)->n_running, 1);
    }
    pthread_mutex_unlock(&jobs->mu);
    return claimed;
}

static int sq_progress(srv_jobs *jobs, const char *id, double progress, const char *stage,
                       const char *message) {
    int gone = 0;
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "UPDATE jobs SET progress = ?, stage = ?, message = ?, "
                                     "updated = ? WHERE id = ? AND state = 'running'");
    if (st) {
        sqlite3_bind_double(st, 1, progress);
        sqlite3_bind_text(st, 2, stage, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, message, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, now_unix());
        sqlite3_bind_text(st, 5, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) db_warn(jobs, "update progress");
        /* A removed job has no row and no more events. */
        if (sqlite3_changes(SQ(jobs)->db) == 1)
            event_append(jobs, id, "progress", srv_event_progress(progress, stage, message), 1);
        else
            gone = 1;
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return gone;
}

static int sq_finish(srv_jobs *jobs, const char *id, enum srv_state state, double bpm,
                     const char *key, double duration, const char *code, const char *message) {
    int gone = 1;
    pthread_mutex_lock(&jobs->mu);
    atomic_fetch_sub(&SQ(jobs)->n_running, 1);
    sqlite3_stmt *st = prepare(jobs, "UPDATE jobs SET state = ?, progress = ?, stage = ?, "
                                     "message = ?, updated = ?, result_bpm = ?, duration = ?, "
                                     "error_code = ?, error_message = ?, result_key = ? "
                                     "WHERE id = ? AND state = 'running'");
    if (st) {
        int done = state == SRV_DONE;
        sqlite3_bind_text(st, 1, srv_state_name(state), -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, done ? 100.0 : 0.0);
        sqlite3_bind_text(st, 3, done ? "midi" : "failed", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, done ? "done" : message, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, now_unix());
        sqlite3_bind_double(st, 6, bpm);
        sqlite3_bind_double(st, 7, duration);
        if (!done) sqlite3_bind_text(st, 8, code, -1, SQLITE_TRANSIENT);
        if (!done) sqlite3_bind_text(st, 9, message, -1, SQLITE_TRANSIENT);
        if (key[0]) sqlite3_bind_text(st, 10, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 11, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) db_warn(jobs, "finish job");
        if (sqlite3_changes(SQ(jobs)->db) == 1) {
            gone = 0;
            cJSON *data = done ? srv_event_done(id) : srv_event_error(code, message);
            event_append(jobs, id, done ? "done" : "error", data, 1);
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return gone;
}

static int sq_retry(srv_jobs *jobs, const char *id) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "UPDATE jobs SET state = 'queued', progress = 0, stage = "
                                     "'queued', message = 'tried again', error_code = NULL, "
                                     "error_message = NULL, updated = ? WHERE id = ? AND state = "
                                     "'failed' AND error_code = 'storage'");
    int changed = 0;
    if (st) {
        sqlite3_bind_int64(st, 1, now_unix());
        sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
        changed = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(SQ(jobs)->db) == 1;
        sqlite3_finalize(st);
    }
    if (changed) {
        /* the failure's error event goes: a stream of the retried job must not end on it (ids
         * go on from the history's next one, so Last-Event-ID stays meaningful) */
        exec_text(jobs, "DELETE FROM events WHERE job_id = ? AND type = 'error'", id, NULL);
        struct srv_history *h = history_load(jobs, id, 0);
        size_t kept = 0;
        for (size_t i = 0; h && i < h->n; i++) {
            if (h->ev[i].final)
                free(h->ev[i].text);
            else
                h->ev[kept++] = h->ev[i];
        }
        if (h) h->n = kept;
        atomic_fetch_add(&SQ(jobs)->n_queued, 1);
        event_append(jobs, id, "progress", srv_event_progress(0.0, "queued", "tried again"), 1);
        pthread_cond_signal(&jobs->queue_cv);
    }
    pthread_mutex_unlock(&jobs->mu);
    return changed ? 0 : -1;
}

static void sq_requeue(srv_jobs *jobs, const char *id) {
    pthread_mutex_lock(&jobs->mu);
    atomic_fetch_sub(&SQ(jobs)->n_running, 1);
    if (!exec_text(jobs,
                   "UPDATE jobs SET state = 'queued', progress = 0, stage = 'queued', "
                   "message = 'interrupted by a server stop; resumes on the next start' "
                   "WHERE id = ? AND state = 'running'",
                   id, NULL) &&
        sqlite3_changes(SQ(jobs)->db) == 1)
        atomic_fetch_add(&SQ(jobs)->n_queued, 1);
    pthread_mutex_unlock(&jobs->mu);
}

static int sq_set_params(srv_jobs *jobs, const char *id, const struct srv_params *p) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "UPDATE jobs SET onset = ?, frame = ?, min_note_ms = ?, "
                                     "mode = ?, updated = ?, quantize = ?, qstrength = ?, "
                                     "bpm = ? WHERE id = ?");
    int rc = -1;
    if (st) {
        sqlite3_bind_double(st, 1, p->onset_threshold);
        sqlite3_bind_double(st, 2, p->frame_threshold);
        sqlite3_bind_double(st, 3, p->min_note_ms);
        sqlite3_bind_text(st, 4, p->mode, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, now_unix());
        sqlite3_bind_text(st, 6, p->quantize, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 7, p->quantize_strength);
        sqlite3_bind_double(st, 8, p->bpm);
        sqlite3_bind_text(st, 9, id, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        if (rc) db_warn(jobs, "update params");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_remove(srv_jobs *jobs, const char *id, enum srv_state *was) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT state FROM jobs WHERE id = ?");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int s = sqlite3_step(st);
        rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
        if (rc == 1) *was = srv_state_from_name((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    if (rc == 1 && (exec_text(jobs, "DELETE FROM jobs WHERE id = ?", id, NULL) ||
                    exec_text(jobs, "DELETE FROM events WHERE job_id = ?", id, NULL) ||
                    exec_text(jobs, "DELETE FROM deliveries WHERE target = ?", id, NULL)))
        rc = -1;
    if (rc == 1 && (*was == SRV_QUEUED || *was == SRV_RUNNING))
        event_append(jobs, id, "error", srv_event_error("cancelled", "the job was cancelled"), 0);
    if (rc == 1 && *was == SRV_QUEUED) atomic_fetch_sub(&SQ(jobs)->n_queued, 1);
    pthread_mutex_unlock(&jobs->mu);
    if (rc == 1 && *was != SRV_RUNNING) srv_jobs_remove_files(jobs, id);
    return rc;
}

/* 1 when `name` (a file or folder under uploads/ or jobs/) starts with the id of a job that
 * has a row, or changed in the last 10 minutes (an upload between its rename and insert). */
static int keep_file(srv_jobs *jobs, const char *folder, const char *name) {
    char id[SRV_ID_LEN + 1], path[4096];
    if (strlen(name) < SRV_ID_LEN) return 1;
    memcpy(id, name, SRV_ID_LEN);
    id[SRV_ID_LEN] = '\0';
    if (!srv_id_valid(id)) return 1;
    snprintf(path, sizeof path, "%s/%s/%s", jobs->dir, folder, name);
    struct stat sb;
    if (stat(path, &sb) == 0 && sb.st_mtime > now_unix() - 600) return 1;
    return has_row(jobs, "SELECT 1 FROM jobs WHERE id = ?", id) != 0; /* kept when unsure */
}

static int sq_expire(srv_jobs *jobs, int64_t before, int by_tier) {
    enum { BATCH = 256 };

    char(*ids)[SRV_ID_LEN + 1] = malloc(BATCH * sizeof *ids);
    if (!ids) return 0;
    int n = 0;
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT id FROM jobs WHERE state IN ('done', 'failed') "
                                     "AND updated < CASE WHEN ?2 AND owned_by <> '' THEN "
                                     "coalesce(?3 - 3600 * " TIER_RETENTION_SQL ", ?1) ELSE ?1 "
                                     "END LIMIT 256");
    if (st) {
        sqlite3_bind_int64(st, 1, before);
        sqlite3_bind_int(st, 2, by_tier);
        sqlite3_bind_int64(st, 3, now_unix());
        while (n < BATCH && sqlite3_step(st) == SQLITE_ROW)
            copy_col(st, 0, ids[n++], SRV_ID_LEN + 1);
        sqlite3_finalize(st);
    }
    for (int i = 0; i < n; i++) {
        exec_text(jobs, "DELETE FROM jobs WHERE id = ?", ids[i], NULL);
        exec_text(jobs, "DELETE FROM events WHERE job_id = ?", ids[i], NULL);
        exec_text(jobs, "DELETE FROM deliveries WHERE target = ?", ids[i], NULL);
    }
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)now_unix());
    exec_text(jobs, "DELETE FROM credentials WHERE expires > 0 AND expires < CAST(? AS INTEGER)",
              now, NULL);
    exec_text(jobs,
              "DELETE FROM login_failures WHERE at < CAST(? AS INTEGER) - " STR(SRV_FAILURE_KEEP_S),
              now, NULL);
    /* a bucket idle for an hour is full again anyway; yesterday's usage is still shown */
    exec_text(jobs, "DELETE FROM buckets WHERE at < CAST(? AS REAL) - 3600", now, NULL);
    exec_text(jobs, "DELETE FROM audio_usage WHERE day < CAST(? AS INTEGER) / 86400 - 1", now,
              NULL);
    /* batches whose jobs are all gone (an hour after they were made: their jobs go in
     * within their request) and their deliveries */
    exec_text(jobs,
              "DELETE FROM batches WHERE created < CAST(? AS INTEGER) - 3600 AND NOT EXISTS "
              "(SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id)",
              now, NULL);
    exec_text(jobs,
              "DELETE FROM deliveries WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = "
              "target) AND NOT EXISTS (SELECT 1 FROM batches WHERE batches.id = target)",
              NULL, NULL);
    /* Histories are dropped here unless their job is still queued or running: the events
     * of finished jobs reload from the table on demand, and removed jobs keep theirs until
     * now so that a stream still connected to a cancelled job gets its final event. Streams
     * hold no pointer into a history between calls. */
    for (struct srv_history **hp = &SQ(jobs)->histories; *hp;) {
        struct srv_history *h = *hp;
        sqlite3_stmt *q = prepare(jobs, "SELECT 1 FROM jobs WHERE id = ? AND state IN "
                                        "('queued', 'running')");
        int exists = 1;
        if (q) {
            sqlite3_bind_text(q, 1, h->id, -1, SQLITE_TRANSIENT);
            exists = sqlite3_step(q) == SQLITE_ROW;
            sqlite3_finalize(q);
        }
        if (exists) {
            hp = &h->next;
        } else {
            *hp = h->next;
            history_free(h);
        }
    }
    /* Orphans: result folders and uploads whose row is gone. */
    static const char *const folders[] = {"jobs", "uploads"};
    char path[4096];
    for (int f = 0; f < 2; f++) {
        snprintf(path, sizeof path, "%s/%s", jobs->dir, folders[f]);
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (e->d_name[0] == '.' || (len > 5 && strcmp(e->d_name + len - 5, ".part") == 0))
                continue;
            if (keep_file(jobs, folders[f], e->d_name)) continue;
            snprintf(path, sizeof path, "%s/%s/%s", jobs->dir, folders[f], e->d_name);
            if (f == 0)
                srv_store_remove_dir(path);
            else
                unlink(path);
        }
        if (d) closedir(d);
    }
    pthread_mutex_unlock(&jobs->mu);
    for (int i = 0; i < n; i++)
        srv_jobs_remove_files(jobs, ids[i]);
    free(ids);
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* SSE */

static int sq_events(srv_jobs *jobs, const char *id, int64_t *after, int timeout_ms, char **text,
                     size_t *len, int *final) {
    struct timespec until = srv_store_deadline(timeout_ms);
    *text = NULL;
    *len = 0;
    *final = 0;
    int rc = 0;
    pthread_mutex_lock(&jobs->mu);
    for (;;) {
        struct srv_history *h = history_load(jobs, id, 0);
        if (!h) {
            rc = -1;
            break;
        }
        size_t total = 0, first = h->n;
        for (size_t i = h->n; i-- > 0 && h->ev[i].id > *after;)
            first = i;
        for (size_t i = first; i < h->n; i++)
            total += h->ev[i].len;
        if (total) {
            char *buf = malloc(total + 1);
            if (!buf) {
                rc = -1;
                break;
            }
            size_t off = 0;
            for (size_t i = first; i < h->n; i++) {
                memcpy(buf + off, h->ev[i].text, h->ev[i].len);
                off += h->ev[i].len;
                *final |= h->ev[i].final;
                *after = h->ev[i].id;
            }
            buf[off] = '\0';
            *text = buf;
            *len = off;
            rc = 1;
            break;
        }
        if (jobs->woken || pthread_cond_timedwait(&jobs->event_cv, &jobs->mu, &until)) break;
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

/* One process per data folder (jobs.c's lock): no other workers to count. */
static int sq_workers(srv_jobs *jobs) {
    (void)jobs;
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Accounts and credentials */

static int sq_account_add(srv_jobs *jobs, const struct srv_account *a, const char *pwhash) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "INSERT INTO accounts(id, email, pwhash, tier, created) "
                                     "VALUES (?, ?, ?, ?, ?)");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, a->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, a->email, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, pwhash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, a->tier, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, a->created);
        int s = sqlite3_step(st);
        rc = s == SQLITE_DONE ? 0 : s == SQLITE_CONSTRAINT ? 1 : -1;
        if (rc < 0) db_warn(jobs, "insert account");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static void read_account(sqlite3_stmt *st, struct srv_account *a) {
    memset(a, 0, sizeof *a);
    copy_col(st, 0, a->id, sizeof a->id);
    copy_col(st, 1, a->email, sizeof a->email);
    copy_col(st, 2, a->tier, sizeof a->tier);
    a->created = sqlite3_column_int64(st, 3);
}

static int sq_account_find(srv_jobs *jobs, const char *email, const char *id,
                           struct srv_account *out, char *pwhash, size_t cap) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, email ? "SELECT id, email, tier, created, pwhash FROM "
                                             "accounts WHERE email = ?"
                                           : "SELECT id, email, tier, created, pwhash FROM "
                                             "accounts WHERE id = ?");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, email ? email : id, -1, SQLITE_TRANSIENT);
        int s = sqlite3_step(st);
        rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
        if (rc == 1) read_account(st, out);
        if (rc == 1 && pwhash) copy_col(st, 4, pwhash, cap);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_account_list(srv_jobs *jobs, struct srv_account *out, int cap) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st =
        prepare(jobs, "SELECT id, email, tier, created FROM accounts ORDER BY rowid LIMIT ?");
    int n = -1;
    if (st) {
        sqlite3_bind_int(st, 1, cap);
        n = 0;
        while (n < cap && sqlite3_step(st) == SQLITE_ROW)
            read_account(st, &out[n++]);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return n;
}

static int sq_account_remove(srv_jobs *jobs, const char *id) {
    pthread_mutex_lock(&jobs->mu);
    int rc = exec_text(jobs, "BEGIN IMMEDIATE", NULL, NULL);
    if (!rc) rc = exec_text(jobs, "DELETE FROM credentials WHERE account_id = ?", id, NULL);
    if (!rc)
        rc = exec_text(jobs,
                       "DELETE FROM deliveries WHERE target IN (SELECT id FROM batches WHERE "
                       "owned_by = 'a:' || ?)",
                       id, NULL);
    if (!rc) rc = exec_text(jobs, "DELETE FROM batches WHERE owned_by = 'a:' || ?", id, NULL);
    if (!rc) rc = exec_text(jobs, "DELETE FROM accounts WHERE id = ?", id, NULL);
    int found = !rc && sqlite3_changes(SQ(jobs)->db) == 1;
    if (!rc) rc = exec_text(jobs, "COMMIT", NULL, NULL);
    if (rc) exec_text(jobs, "ROLLBACK", NULL, NULL);
    pthread_mutex_unlock(&jobs->mu);
    return rc ? -1 : found;
}

static int sq_cred_add(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash,
                       const struct srv_cred *c) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "INSERT INTO credentials(hash, kind, id, account_id, name, "
                                     "csrf, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, srv_cred_kind_name(kind), -1, SQLITE_STATIC);
        if (c->id[0]) sqlite3_bind_text(st, 3, c->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, c->account, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, c->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, c->csrf, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 7, c->created);
        sqlite3_bind_int64(st, 8, c->expires);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        if (rc) db_warn(jobs, "insert credential");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

#define CRED_COLUMNS "id, account_id, name, csrf, created, expires"

static void read_cred(sqlite3_stmt *st, struct srv_cred *c) {
    memset(c, 0, sizeof *c);
    copy_col(st, 0, c->id, sizeof c->id);
    copy_col(st, 1, c->account, sizeof c->account);
    copy_col(st, 2, c->name, sizeof c->name);
    copy_col(st, 3, c->csrf, sizeof c->csrf);
    c->created = sqlite3_column_int64(st, 4);
    c->expires = sqlite3_column_int64(st, 5);
}

static int sq_cred_find(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash, int64_t now,
                        struct srv_cred *out) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT " CRED_COLUMNS " FROM credentials WHERE hash = ? "
                                     "AND kind = ? AND (expires = 0 OR expires >= ?)");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, srv_cred_kind_name(kind), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        int s = sqlite3_step(st);
        rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
        if (rc == 1) read_cred(st, out);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_cred_list(srv_jobs *jobs, enum srv_cred_kind kind, const char *account,
                        struct srv_cred *out, int cap) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT " CRED_COLUMNS " FROM credentials WHERE "
                                     "account_id = ? AND kind = ? ORDER BY rowid LIMIT ?");
    int n = -1;
    if (st) {
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, srv_cred_kind_name(kind), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, cap);
        n = 0;
        while (n < cap && sqlite3_step(st) == SQLITE_ROW)
            read_cred(st, &out[n++]);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return n;
}

static int sq_cred_remove(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash, const char *id,
                          const char *account) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "DELETE FROM credentials WHERE kind = ?1 AND "
                                     "(?2 IS NULL OR hash = ?2) AND (?3 IS NULL OR id = ?3) AND "
                                     "(?4 IS NULL OR account_id = ?4) AND "
                                     "(?2 IS NOT NULL OR ?3 IS NOT NULL)");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, srv_cred_kind_name(kind), -1, SQLITE_STATIC);
        if (hash) sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
        if (id) sqlite3_bind_text(st, 3, id, -1, SQLITE_TRANSIENT);
        if (account) sqlite3_bind_text(st, 4, account, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = sqlite3_changes(SQ(jobs)->db) > 0;
        else
            db_warn(jobs, "delete credential");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_failures(srv_jobs *jobs, const char *key, int64_t since, int *n, int64_t *oldest) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT count(*), coalesce(min(at), 0) FROM login_failures "
                                     "WHERE key = ? AND at >= ?");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, since);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *n = sqlite3_column_int(st, 0);
            *oldest = sqlite3_column_int64(st, 1);
            rc = 0;
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_failure_note(srv_jobs *jobs, const char *key, int64_t at, int clear) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st =
        prepare(jobs, clear ? "DELETE FROM login_failures WHERE key = ?1 OR at < ?2 - ?3"
                            : "INSERT INTO login_failures(key, at) VALUES (?1, ?2)");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, at);
        if (clear) sqlite3_bind_int64(st, 3, SRV_FAILURE_KEEP_S);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        if (rc) db_warn(jobs, "login failures");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Fair use */

#define TIER_COLUMNS "name, rpm, concurrent, minutes_per_day, max_song_s, retention_h"

static void read_tier(sqlite3_stmt *st, struct srv_tier *t) {
    memset(t, 0, sizeof *t);
    copy_col(st, 0, t->name, sizeof t->name);
    t->rpm = sqlite3_column_int(st, 1);
    t->concurrent = sqlite3_column_int(st, 2);
    t->minutes_per_day = sqlite3_column_int(st, 3);
    t->max_song_s = sqlite3_column_int(st, 4);
    t->retention_h = sqlite3_column_int(st, 5);
}

static int sq_tier_list(srv_jobs *jobs, struct srv_tier *out, int cap) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT " TIER_COLUMNS " FROM tiers ORDER BY name LIMIT ?");
    int n = -1;
    if (st) {
        sqlite3_bind_int(st, 1, cap);
        n = 0;
        while (n < cap && sqlite3_step(st) == SQLITE_ROW)
            read_tier(st, &out[n++]);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return n;
}

static int sq_tier_get(srv_jobs *jobs, const char *name, const char *account,
                       struct srv_tier *out) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT " TIER_COLUMNS " FROM tiers WHERE name = coalesce(?1,"
                                     " (SELECT a.tier FROM accounts a WHERE a.id = ?2 AND"
                                     " EXISTS (SELECT 1 FROM tiers t WHERE t.name = a.tier)),"
                                     " '" SRV_TIER_ANONYMOUS "')");
    int rc = -1;
    if (st) {
        if (name) sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        if (account) sqlite3_bind_text(st, 2, account, -1, SQLITE_TRANSIENT);
        int s = sqlite3_step(st);
        rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
        if (rc == 1) read_tier(st, out);
        if (rc < 0) db_warn(jobs, "tier");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_tier_set(srv_jobs *jobs, const struct srv_tier *t) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "INSERT OR REPLACE INTO tiers(" TIER_COLUMNS ") VALUES "
                                     "(?, ?, ?, ?, ?, ?)");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, t->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 2, t->rpm);
        sqlite3_bind_int(st, 3, t->concurrent);
        sqlite3_bind_int(st, 4, t->minutes_per_day);
        sqlite3_bind_int(st, 5, t->max_song_s);
        sqlite3_bind_int(st, 6, t->retention_h);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        if (rc) db_warn(jobs, "set tier");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_account_set_tier(srv_jobs *jobs, const char *account, const char *tier) {
    pthread_mutex_lock(&jobs->mu);
    int rc = exec_text(jobs, "UPDATE accounts SET tier = ?2 WHERE id = ?1", account, tier);
    if (!rc) rc = sqlite3_changes(SQ(jobs)->db) > 0;
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

/* The bucket's refill: its tokens plus rpm / 60 a second since it was last touched, at most
 * rpm (?2 rpm, ?3 now). SET reads the row as it was, so `took` and `tokens` agree. */
#define REFILL "min(?2, tokens + max(0, ?3 - at) * ?2 / 60.0)"

static int sq_bucket_take(srv_jobs *jobs, const char *key, int rpm, double now, double *tokens) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "INSERT INTO buckets(key, tokens, at, took) VALUES"
                                     " (?1, ?2 - 1, ?3, 1) ON CONFLICT(key) DO UPDATE SET"
                                     " tokens = " REFILL " - (" REFILL " >= 1),"
                                     " took = (" REFILL " >= 1), at = max(at, ?3)"
                                     " RETURNING tokens, took");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 2, rpm);
        sqlite3_bind_double(st, 3, now);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *tokens = sqlite3_column_double(st, 0);
            rc = sqlite3_column_int(st, 1) ? 1 : 0;
        } else {
            db_warn(jobs, "bucket");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int usage_read(srv_jobs *jobs, const char *key, int64_t day, double *used) {
    sqlite3_stmt *st = prepare(
        jobs, "SELECT coalesce(sum(seconds), 0) FROM audio_usage WHERE key = ? AND day = ?");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, day);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *used = sqlite3_column_double(st, 0);
            rc = 0;
        }
        sqlite3_finalize(st);
    }
    return rc;
}

static int sq_usage_add(srv_jobs *jobs, const char *key, int64_t day, double seconds,
                        double limit_s, double *used) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "INSERT INTO audio_usage(key, day, seconds) SELECT ?1, ?2,"
                                     " max(0, ?3) WHERE ?3 <= ?4 ON CONFLICT(key, day) DO UPDATE"
                                     " SET seconds = max(0, seconds + ?3)"
                                     " WHERE seconds + ?3 <= ?4");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, day);
        sqlite3_bind_double(st, 3, seconds);
        sqlite3_bind_double(st, 4, limit_s);
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = sqlite3_changes(SQ(jobs)->db) > 0;
        else
            db_warn(jobs, "usage");
        sqlite3_finalize(st);
    }
    if (rc >= 0 && usage_read(jobs, key, day, used)) rc = -1;
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_usage_get(srv_jobs *jobs, const char *key, int64_t day, double *used) {
    pthread_mutex_lock(&jobs->mu);
    int rc = usage_read(jobs, key, day, used);
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_owner_active(srv_jobs *jobs, const char *owned_by, int *n) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT count(*) FROM jobs WHERE owned_by = ? AND state IN"
                                     " ('queued', 'running')");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, owned_by, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *n = sqlite3_column_int(st, 0);
            rc = 0;
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_owner_move(srv_jobs *jobs, const char *from, const char *to) {
    pthread_mutex_lock(&jobs->mu);
    int rc = exec_text(jobs, "UPDATE batches SET owned_by = ?2 WHERE owned_by = ?1", from, to);
    if (!rc) rc = exec_text(jobs, "UPDATE jobs SET owned_by = ?2 WHERE owned_by = ?1", from, to);
    if (!rc) rc = sqlite3_changes(SQ(jobs)->db);
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Batches and webhook deliveries */

static int sq_batch_insert(srv_jobs *jobs, const struct srv_batch *b) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "INSERT INTO batches(id, owned_by, created, webhook_url, "
                                     "webhook_secret) VALUES (?, ?, ?, ?, ?)");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, b->id, -1, SQLITE_TRANSIENT);
        if (b->owned_by[0]) sqlite3_bind_text(st, 2, b->owned_by, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, b->created);
        if (b->webhook_url[0]) sqlite3_bind_text(st, 4, b->webhook_url, -1, SQLITE_TRANSIENT);
        if (b->webhook_url[0]) sqlite3_bind_text(st, 5, b->webhook_secret, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        if (rc) db_warn(jobs, "insert batch");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_batch_get(srv_jobs *jobs, const char *id, struct srv_batch *out) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st =
        prepare(jobs, "SELECT id, owned_by, created, webhook_url, webhook_secret FROM batches "
                      "WHERE id = ?");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int s = sqlite3_step(st);
        rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
        if (rc == 1) {
            memset(out, 0, sizeof *out);
            copy_col(st, 0, out->id, sizeof out->id);
            copy_col(st, 1, out->owned_by, sizeof out->owned_by);
            out->created = sqlite3_column_int64(st, 2);
            copy_col(st, 3, out->webhook_url, sizeof out->webhook_url);
            copy_col(st, 4, out->webhook_secret, sizeof out->webhook_secret);
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static const char *const delivery_states[] = {"pending", "delivered", "failed"};

static void read_delivery(sqlite3_stmt *st, struct srv_delivery *d) {
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    copy_col(st, 1, d->target, sizeof d->target);
    copy_col(st, 2, d->event, sizeof d->event);
    copy_col(st, 3, d->url, sizeof d->url);
    const char *state = (const char *)sqlite3_column_text(st, 4);
    for (int k = 0; k < 3; k++)
        if (state && strcmp(state, delivery_states[k]) == 0) d->state = (enum srv_delivery_state)k;
    d->attempts = sqlite3_column_int(st, 5);
    d->last_status = sqlite3_column_int(st, 6);
    copy_col(st, 7, d->last_error, sizeof d->last_error);
    d->created = sqlite3_column_int64(st, 8);
    d->next_at = sqlite3_column_int64(st, 9);
    d->updated = sqlite3_column_int64(st, 10);
    copy_col(st, 11, d->secret, sizeof d->secret);
}

static int sq_delivery_add(srv_jobs *jobs, const struct srv_delivery *d, const char *body,
                           int64_t now) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "INSERT OR IGNORE INTO deliveries(target, event, url, "
                                     "secret, body, state, attempts, last_status, last_error, "
                                     "created, next_at, updated) VALUES (?1, ?2, ?3, ?6, ?4, "
                                     "'pending', 0, 0, '', ?5, ?5, ?5)");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, d->target, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, d->event, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, d->url, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, body, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_text(st, 6, d->secret, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = sqlite3_changes(SQ(jobs)->db) == 1 ? 0 : 1;
        else
            db_warn(jobs, "add delivery");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_delivery_claim(srv_jobs *jobs, int64_t now, int lease_s, struct srv_delivery *out,
                             char **body) {
    *body = NULL;
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st =
        prepare(jobs, "UPDATE deliveries SET next_at = ?2 WHERE id = (SELECT id "
                      "FROM deliveries WHERE state = 'pending' AND next_at <= ?1 "
                      "ORDER BY next_at, id LIMIT 1) RETURNING " DELIVERY_COLUMNS ", body");
    int rc = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, now + lease_s);
        int s = sqlite3_step(st);
        rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
        if (rc == 1) {
            read_delivery(st, out);
            const char *b = (const char *)sqlite3_column_text(st, 12);
            if (!(*body = strdup(b ? b : ""))) rc = -1;
        }
        if (rc < 0) db_warn(jobs, "claim delivery");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_delivery_update(srv_jobs *jobs, const struct srv_delivery *d, int64_t now) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "UPDATE deliveries SET state = ?, attempts = ?, "
                                     "last_status = ?, last_error = ?, next_at = ?, updated = ? "
                                     "WHERE id = ?");
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, delivery_states[d->state], -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, d->attempts);
        sqlite3_bind_int(st, 3, d->last_status);
        sqlite3_bind_text(st, 4, d->last_error, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, d->next_at);
        sqlite3_bind_int64(st, 6, now);
        sqlite3_bind_int64(st, 7, d->id);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        if (rc) db_warn(jobs, "update delivery");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

static int sq_delivery_list(srv_jobs *jobs, const char *target, struct srv_delivery *out, int cap) {
    pthread_mutex_lock(&jobs->mu);
    sqlite3_stmt *st = prepare(jobs, "SELECT " DELIVERY_COLUMNS " FROM deliveries WHERE target = "
                                     "? ORDER BY id LIMIT ?");
    int n = -1;
    if (st) {
        sqlite3_bind_text(st, 1, target, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 2, cap);
        n = 0;
        while (n < cap && sqlite3_step(st) == SQLITE_ROW)
            read_delivery(st, &out[n++]);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&jobs->mu);
    return n;
}

const struct srv_store_ops srv_store_sqlite = {
    .kind = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .insert = sq_insert,
    .get = sq_get,
    .list = sq_list,
    .counts = sq_counts,
    .claim = sq_claim,
    .progress = sq_progress,
    .finish = sq_finish,
    .requeue = sq_requeue,
    .set_params = sq_set_params,
    .remove = sq_remove,
    .queue_ahead = sq_queue_ahead,
    .retry = sq_retry,
    .ping = sq_ping,
    .workers = sq_workers,
    .expire = sq_expire,
    .events = sq_events,
    .account_add = sq_account_add,
    .account_find = sq_account_find,
    .account_list = sq_account_list,
    .account_remove = sq_account_remove,
    .cred_add = sq_cred_add,
    .cred_find = sq_cred_find,
    .cred_list = sq_cred_list,
    .cred_remove = sq_cred_remove,
    .failures = sq_failures,
    .failure_note = sq_failure_note,
    .tier_list = sq_tier_list,
    .tier_get = sq_tier_get,
    .tier_set = sq_tier_set,
    .account_set_tier = sq_account_set_tier,
    .bucket_take = sq_bucket_take,
    .usage_add = sq_usage_add,
    .usage_get = sq_usage_get,
    .owner_active = sq_owner_active,
    .owner_move = sq_owner_move,
    .batch_insert = sq_batch_insert,
    .batch_get = sq_batch_get,
    .delivery_add = sq_delivery_add,
    .delivery_claim = sq_delivery_claim,
    .delivery_update = sq_delivery_update,
    .delivery_list = sq_delivery_list,
};
