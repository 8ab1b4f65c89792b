/* store.h - inside the job store: what its two implementations share and the table of their
 * operations. Only jobs.c (the public srv_jobs_* functions, see jobs.h) and the
 * implementations include it:
 *   store_sqlite.c  SQLite file DATA_DIR/dumu.db; the data folder is the blob store
 *   store_pg.c      PostgreSQL (jobs, events and blobs in the database); the data folder is
 *                   this node's scratch space and cache of blobs
 *
 * The three interfaces of the issue are the three groups of `struct srv_store_ops`:
 *   jobs    rows, claims, leases, the end of a job, expiry
 *   events  a job's progress history and waiting for new events
 *   blobs   uploads, stems, exports, result files: a file is written under DATA_DIR by whoever
 *           makes it, `publish`ed to the store, and `fetch`ed to a local copy to be read
 * Waiting (claim, events) uses the shared mutex and condition variables below; each
 * implementation wakes them when something arrives (SQLite: its own writes; PostgreSQL:
 * LISTEN/NOTIFY from any node).
 */
#ifndef DUMU_SRV_STORE_H
#define DUMU_SRV_STORE_H

#include <cjson/cJSON.h>
#include <pthread.h>

#include "jobs.h"

struct srv_store_ops {
    const char *kind; /* "sqlite" or "postgresql", as /health names it */
    int (*open)(srv_jobs *jobs, const char *url);
    void (*close)(srv_jobs *jobs);
    /* jobs */
    int (*insert)(srv_jobs *jobs, const struct srv_job *job);
    int (*get)(srv_jobs *jobs, const char *id, struct srv_job *out);
    int (*list)(srv_jobs *jobs, const struct srv_job_query *q, struct srv_job *out, int cap,
                int *total);
    int (*counts)(srv_jobs *jobs, int *queued, int *running);
    int (*claim)(srv_jobs *jobs, struct srv_job *out, int timeout_ms);
    int (*progress)(srv_jobs *jobs, const char *id, double progress, const char *stage,
                    const char *message);
    int (*finish)(srv_jobs *jobs, const char *id, enum srv_state state, double bpm, const char *key,
                  double duration, const char *code, const char *message);
    void (*requeue)(srv_jobs *jobs, const char *id);
    int (*set_params)(srv_jobs *jobs, const char *id, const struct srv_params *params);
    int (*remove)(srv_jobs *jobs, const char *id, enum srv_state *was);
    int (*queue_ahead)(srv_jobs *jobs, const char *id, int *ahead, double *audio_s);
    int (*retry)(srv_jobs *jobs, const char *id);
    int (*ping)(srv_jobs *jobs);
    int (*workers)(srv_jobs *jobs);
    int (*expire)(srv_jobs *jobs, int64_t before, int by_tier);
    void *(*hold)(srv_jobs *jobs, const char *id); /* NULL: one process has the store */
    void (*release)(srv_jobs *jobs, const char *id, void *token);
    /* events */
    int (*events)(srv_jobs *jobs, const char *id, int64_t *after, int timeout_ms, char **text,
                  size_t *len, int *final);
    /* blobs: NULL where the data folder is the store (fetch: the file is where it lies) */
    int (*fetch)(srv_jobs *jobs, const char *id, const char *what, char *path, size_t cap);
    int (*publish)(srv_jobs *jobs, const char *id, const char *what, const char *path);
    int (*discard)(srv_jobs *jobs, const char *id, const char *what);
    /* accounts and credentials (jobs.h) */
    int (*account_add)(srv_jobs *jobs, const struct srv_account *a, const char *pwhash);
    int (*account_find)(srv_jobs *jobs, const char *email, const char *id, struct srv_account *out,
                        char *pwhash, size_t cap);
    int (*account_list)(srv_jobs *jobs, struct srv_account *out, int cap);
    int (*account_remove)(srv_jobs *jobs, const char *id);
    int (*cred_add)(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash,
                    const struct srv_cred *cred);
    int (*cred_find)(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash, int64_t now,
                     struct srv_cred *out);
    int (*cred_list)(srv_jobs *jobs, enum srv_cred_kind kind, const char *account,
                     struct srv_cred *out, int cap);
    int (*cred_remove)(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash, const char *id,
                       const char *account);
    int (*failures)(srv_jobs *jobs, const char *key, int64_t since, int *n, int64_t *oldest);
    int (*failure_note)(srv_jobs *jobs, const char *key, int64_t at, int clear);
    /* fair use (jobs.h) */
    int (*tier_list)(srv_jobs *jobs, struct srv_tier *out, int cap);
    int (*tier_get)(srv_jobs *jobs, const char *name, const char *account, struct srv_tier *out);
    int (*tier_set)(srv_jobs *jobs, const struct srv_tier *t);
    int (*account_set_tier)(srv_jobs *jobs, const char *account, const char *tier);
    int (*bucket_take)(srv_jobs *jobs, const char *key, int rpm, double now, double *tokens);
    int (*usage_add)(srv_jobs *jobs, const char *key, int64_t day, double seconds, double limit_s,
                     double *used);
    int (*usage_get)(srv_jobs *jobs, const char *key, int64_t day, double *used);
    int (*owner_active)(srv_jobs *jobs, const char *owned_by, int *n);
    int (*owner_move)(srv_jobs *jobs, const char *from, const char *to);
    /* batches and webhook deliveries (jobs.h) */
    int (*batch_insert)(srv_jobs *jobs, const struct srv_batch *b);
    int (*batch_get)(srv_jobs *jobs, const char *id, struct srv_batch *out);
    int (*delivery_add)(srv_jobs *jobs, const struct srv_delivery *d, const char *body,
                        int64_t now);
    int (*delivery_claim)(srv_jobs *jobs, int64_t now, int lease_s, struct srv_delivery *out,
                          char **body);
    int (*delivery_update)(srv_jobs *jobs, const struct srv_delivery *d, int64_t now);
    int (*delivery_list)(srv_jobs *jobs, const char *target, struct srv_delivery *out, int cap);
};

struct srv_jobs {
    const struct srv_store_ops *ops;
    char *dir;               /* DATA_DIR; owned */
    int own_dir;             /* DATA_DIR was made for this process: removed at close */
    int admin;               /* opened by srv_jobs_open_admin: no lock, no recovery, no waits */
    int lock_fd;             /* DATA_DIR/dumu.lock, flock'ed while the store is open; -1 before */
    pthread_mutex_t mu;      /* guards woken, the generations and the implementation's own state */
    pthread_cond_t queue_cv; /* a job may be waiting: queue_gen moved */
    pthread_cond_t event_cv; /* an event may have arrived: event_gen moved */
    unsigned long queue_gen, event_gen;
    int woken;
    int lease_s;     /* seconds a claim holds a job without a sign of life (PostgreSQL) */
    int n_workers;   /* worker threads of this process, for its heartbeat */
    char owner[128]; /* this process in a claim: "host:pid:random" */
    void *impl;      /* the implementation's own state; owned by it */
};

extern const struct srv_store_ops srv_store_sqlite, srv_store_pg;

/* The kinds of credential as the stores' `credentials.kind` column names them. */
const char *srv_cred_kind_name(enum srv_cred_kind kind);

/* The columns of table `jobs` that a srv_job is read from, in the order both implementations'
 * read_job take them (their schemas name them alike). */
#define JOB_COLUMNS                                                                               \
    "id, state, progress, stage, message, name, created, updated, duration, onset, frame, "       \
    "min_note_ms, stems, bpm, mode, result_bpm, error_code, error_message, quantize, qstrength, " \
    "title, fast, owned_by, result_key, batch_id, webhook_url, webhook_secret"

/* The columns of table `deliveries` that a srv_delivery is read from, in order. */
#define DELIVERY_COLUMNS                                                                   \
    "id, target, event, url, state, attempts, last_status, last_error, created, next_at, " \
    "updated, secret"

/* The order of claims, in both implementations: fair across owners (an account, an anonymous
 * browser, or "" for jobs without one). Among the queued jobs, those of the owner with the
 * fewest running jobs go first, then those of the owner whose last claim is the oldest (never
 * claimed: first), then the oldest job: owners take turns, so one account's hundred uploads
 * do not hold back the next person's one. `jobs.started` numbers the claims in order.
 * queue_ahead follows it: a queued job has ahead of it its owner's older queued jobs (k of
 * them) and, of every other owner, the first k queued (k + 1 when that owner goes before its
 * own in a round): exact while no job ends out of turn, an estimate otherwise. */

/* The retention of an owned job's tier in SQL (both dialects), for expiry: the hours of the
 * tier of the account "a:ID" owning it, else of SRV_TIER_ANONYMOUS. */
#define TIER_RETENTION_SQL                                                                  \
    "(SELECT t.retention_h FROM tiers t WHERE t.name = CASE WHEN jobs.owned_by LIKE 'a:%' " \
    "THEN (SELECT a.tier FROM accounts a WHERE a.id = substr(jobs.owned_by, 3)) ELSE "      \
    "'" SRV_TIER_ANONYMOUS "' END)"

/* Removes a folder of plain files (one level, as the result folders are). */
void srv_store_remove_dir(const char *path);

/* The data of a job's events (a new cJSON object, the caller's): `progress` {progress, stage,
 * message, ts}, `error` {code, message, ts} and `done` {job_id, progress: 100, ts}; ts in
 * unix seconds. */
cJSON *srv_event_progress(double progress, const char *stage, const char *message);
cJSON *srv_event_error(const char *code, const char *message);
cJSON *srv_event_done(const char *id);

/* An absolute CLOCK_REALTIME deadline `timeout_ms` from now, for pthread_cond_timedwait. */
struct timespec srv_store_deadline(int timeout_ms);

#endif /* DUMU_SRV_STORE_H */
