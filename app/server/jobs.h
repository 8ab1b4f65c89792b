/* jobs.h - the durable job store of `dumu serve` and `dumu worker`: jobs (rows, claims,
 * leases), their event histories (for Server-Sent Events) and their files (blobs), kept
 * either in one SQLite file and the data folder (one machine) or in PostgreSQL (a fleet of
 * API nodes and workers; store.h says how each does it).
 *
 * One srv_jobs per process, opened by serve.c and shared by every thread; all functions are
 * thread-safe. Structs are copied out (srv_job in caller storage); nothing borrowed stays
 * valid after a call. Functions that return int give 0 on success and -1 on a database or
 * file error (logged on stderr; with PostgreSQL, also when the database cannot be reached),
 * unless they say otherwise.
 *
 * Files: a job's files are named as srv_jobs_path lays them out under DATA_DIR. Whoever
 * makes one writes it there and publishes it (srv_jobs_publish); whoever reads one fetches it
 * first (srv_jobs_fetch), which with SQLite finds it where it lies and with PostgreSQL copies
 * the stored one into DATA_DIR, this node's cache.
 */
#ifndef DUMU_SRV_JOBS_H
#define DUMU_SRV_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

/* A job's owner: "a:" and an account's id, or "t:" and the SHA-256 (hex) of an anonymous
 * browser's token; NUL included. */
#define SRV_OWNER_LEN 72
/* A tier's name, NUL included: a word such as "anonymous", "free" or "pro". */
#define SRV_TIER_LEN 16

/* A name given to an API key, NUL included: enough to say which script holds it. */
#define SRV_KEY_NAME_LEN 64

/* A webhook URL, NUL included: 2048 bytes is what browsers and proxies reliably carry. */
#define SRV_URL_LEN 2049
/* A key's name as the result says it ("F# minor"), NUL included. */
#define SRV_KEY_LEN 16
/* Files in one batch at most: an album, and few enough that one request's checks (a full
 * decode of each) finish well inside a client's patience. */
#define SRV_BATCH_MAX 20

enum srv_state { SRV_QUEUED, SRV_RUNNING, SRV_DONE, SRV_FAILED, SRV_CANCELLED };

/* "queued", "running", "done", "failed" or "cancelled". */
const char *srv_state_name(enum srv_state state);

struct srv_job {
    char id[SRV_ID_LEN + 1];
    enum srv_state state;
    double progress; /* 0..100 */
    char stage[16];  /* queued | decode | tempo | separate | transcribe | midi */
    char message[128];
    char name[SRV_NAME_LEN];   /* sanitised upload base name: "song" for "My/song.flac" */
    char title[SRV_TITLE_LEN]; /* the upload's own file name, shown as the job's title */
    int64_t created;           /* unix seconds */
    int64_t updated;
    double duration; /* audio seconds; < 0 while unknown */
    struct srv_params params;
    double bpm; /* tempo of the result; 0 until done */
    char error_code[32];
    char error_message[256];
    char owned_by[SRV_OWNER_LEN];      /* whose it is (dumu serve --auth); "" with --auth off */
    char key[SRV_KEY_LEN];             /* the result's key ("E minor"); "" until done or unknown */
    char batch_id[SRV_ID_LEN + 1];     /* the batch it came in (struct srv_batch); "" alone */
    char webhook_url[SRV_URL_LEN];     /* told when it ends (webhook.h); "" for none */
    char webhook_secret[SRV_HASH_LEN]; /* its calls' signing key (hex), given to the uploader */
};

/* Several uploads of one request (POST /api/batches): its jobs carry its id in batch_id. */
struct srv_batch {
    char id[SRV_ID_LEN + 1];
    char owned_by[SRV_OWNER_LEN];      /* as its jobs' */
    int64_t created;                   /* unix seconds */
    char webhook_url[SRV_URL_LEN];     /* told once every job of it has ended; "" for none */
    char webhook_secret[SRV_HASH_LEN]; /* its calls' signing key (hex), given to the uploader */
};

/* Which jobs srv_jobs_list returns; NULL or "" fields do not narrow it, but for owned_by. */
struct srv_job_query {
    const char *owned_by; /* srv_job.owned_by; NULL: everyone's; "": nobody's (an anonymous
                           * browser without its token yet) */
    const char *batch_id; /* only the jobs of this batch */
    const char *search;   /* only jobs whose title or key holds this text (ASCII letters in either
                          * case) */
    int offset;           /* skip this many of the newest first */
};

/* Runs a job may start: one that was running when the server died this many times fails
 * (error code "poison") instead of running again. */
#define SRV_MAX_ATTEMPTS 3

/* Seconds a claimed job stays with its worker without a sign of life (PostgreSQL): workers
 * renew it at every progress step and every SRV_HEARTBEAT_S, so a minute is many missed
 * renewals, yet a job of a dead worker waits at most this long to run elsewhere. */
#define SRV_LEASE_S     60
#define SRV_HEARTBEAT_S 5

/* "queued", ... back to the state; an unknown name reads as SRV_FAILED. */
enum srv_state srv_state_from_name(const char *name);

typedef struct srv_jobs srv_jobs;

/* Opens the store. `db_url` NULL: SQLite in DATA_DIR/dumu.db, with the files in DATA_DIR
 * (jobs left `running` by a crash go back to `queued`, stray temporary uploads go). Else a
 * PostgreSQL connection string ("postgresql://user@host/db"): the schema is brought up to
 * date under a lock, and DATA_DIR is only this node's scratch space and cache (NULL: a fresh
 * temporary folder, removed at close). Either way DATA_DIR/dumu.lock is taken first (flock,
 * held until srv_jobs_close; -1 with "another dumu process is using DIR" when another
 * process holds it) and the folders DATA_DIR/uploads and DATA_DIR/jobs are made. */
int srv_jobs_open(const char *data_dir, const char *db_url, srv_jobs **out);

/* srv_jobs_open for `dumu admin`, beside a running server: SQLite opens DATA_DIR/dumu.db
 * without the folder's lock and without the crash recovery (the server's running jobs stay
 * running); PostgreSQL ignores `data_dir` (a private scratch folder). No workers, no waits. */
int srv_jobs_open_admin(const char *data_dir, const char *db_url, srv_jobs **out);

/* DATA_DIR as opened (a temporary folder's name when none was given); borrowed. */
const char *srv_jobs_dir(const srv_jobs *jobs);

/* "sqlite" or "postgresql", as /health names the store. */
const char *srv_jobs_kind(const srv_jobs *jobs);

/* This process runs `n_workers` worker threads whose claims hold for `lease_s` seconds (0:
 * SRV_LEASE_S): with PostgreSQL it then sends a heartbeat every SRV_HEARTBEAT_S that keeps
 * its leases and shows it in srv_jobs_workers. */
void srv_jobs_set_worker(srv_jobs *jobs, int n_workers, int lease_s);

/* Closes the database; wakes nobody (callers stop their threads first). NULL is fine. */
void srv_jobs_close(srv_jobs *jobs);

/* Writes DATA_DIR/uploads/<id>.part ("part"), DATA_DIR/uploads/<id>.audio ("upload"),
 * DATA_DIR/jobs/<id> ("dir") or DATA_DIR/jobs/<id>/<file> (any other `what`) into buf.
 * `id` must be a valid job id (srv_id_valid), `what` our own constant. Returns -1 when it
 * does not fit. */
int srv_jobs_path(const srv_jobs *jobs, const char *id, const char *what, char *buf, size_t cap);

/* Writes `msg` to `out` (`cap` bytes, cut to fit) with every path in the data directory
 * replaced by what the file is to a client: "the upload" (uploads/<id>.part or .audio),
 * "the job's folder" (jobs/<id>), "the data folder" (DATA_DIR itself) or else the file's own
 * name ("bass.mid" for jobs/<id>/bass.mid). Messages from libdumu and the workers name the
 * files they failed on, and error bodies must not show where the server keeps its data. */
void srv_jobs_scrub(const srv_jobs *jobs, const char *msg, char *out, size_t cap);

/* Records a new queued job (fully written upload already renamed in place) and its first
 * progress event, then wakes one worker. Durable when it returns. */
int srv_jobs_insert(srv_jobs *jobs, const struct srv_job *job);

/* 1 and *out when the job exists, 0 when not, -1 on error. */
int srv_jobs_get(srv_jobs *jobs, const char *id, struct srv_job *out);

/* Up to `cap` jobs that match `q`, newest first, after skipping q->offset of them; returns
 * the count or -1. *total (when non-NULL) is how many match in all. */
int srv_jobs_list(srv_jobs *jobs, const struct srv_job_query *q, struct srv_job *out, int cap,
                  int *total);

/* Current numbers of queued and running jobs (SQLite: kept in memory, never waits on the
 * disk). */
int srv_jobs_counts(srv_jobs *jobs, int *queued, int *running);

/* Waits up to `timeout_ms` for a queued job, marks the next one in the fair order (store.h:
 * owners take turns; the oldest first among jobs of no owner) running and copies it to
 * *out. Returns 1 when it claimed one, 0 on timeout or after srv_jobs_wake. */
int srv_jobs_claim(srv_jobs *jobs, struct srv_job *out, int timeout_ms);

/* A running job's progress: updates the row, renews the claim's lease and appends a
 * `progress` event. Returns 0, 1 when the job is no longer this worker's (removed, or its
 * lease ran out and the job went back to the queue: the worker stops), -1 when the store
 * cannot be reached (the worker goes on). */
int srv_jobs_progress(srv_jobs *jobs, const char *id, double progress, const char *stage,
                      const char *message);

/* Ends a running job: SRV_DONE (with its tempo, key and duration; appends `done`) or SRV_FAILED
 * (appends `error` with code/message, stored scrubbed: srv_jobs_scrub). Returns 0, 1 when
 * the job is no longer this worker's (removed meanwhile: only counted down), -1 when the
 * store cannot be reached (try again later). */
int srv_jobs_finish(srv_jobs *jobs, const char *id, enum srv_state state, double bpm,
                    const char *key, double duration, const char *code, const char *message);

/* Puts a running job back to queued (the server is stopping; it re-runs on the next start). */
void srv_jobs_requeue(srv_jobs *jobs, const char *id);

/* After a re-transcription: the job's new parameters. */
int srv_jobs_set_params(srv_jobs *jobs, const char *id, const struct srv_params *params);

/* Deletes the job's row, files and webhook deliveries. A queued job's history gets a final `error` event with
 * code "cancelled" for connected SSE clients. Returns 1 and *was (the state it had), 0 when
 * it does not exist, -1 on error. A running job's files are removed by its worker
 * afterwards (srv_jobs_remove_files), since it may still be writing them. */
int srv_jobs_remove(srv_jobs *jobs, const char *id, enum srv_state *was);

/* Removes the job's upload, temporary upload and result folder; missing files are fine. */
void srv_jobs_remove_files(const srv_jobs *jobs, const char *id);

/* For queued job `id`: the queued jobs ahead of it in the fair order (store.h) in *ahead
 * (0: it starts next) and, in *audio_s, the seconds of audio still to process before it can
 * start (theirs, plus what the running jobs have left by their progress). Returns 0, or -1
 * on a database error. */
int srv_jobs_queue_ahead(srv_jobs *jobs, const char *id, int *ahead, double *audio_s);

/* Puts a job that failed for want of disk space (error code "storage", its upload kept) back
 * in the queue. Returns 0, or -1 when the job is not such a failure. */
int srv_jobs_retry(srv_jobs *jobs, const char *id);

/* 0 when the store answers a query, -1 when it does not. */
int srv_jobs_ping(srv_jobs *jobs);

/* Worker processes that sent a heartbeat in the last 3 * SRV_HEARTBEAT_S (PostgreSQL); -1
 * where only this process runs jobs (SQLite) or the store cannot be reached. */
int srv_jobs_workers(srv_jobs *jobs);

/* Deletes finished jobs (done, failed) last updated before `before` (unix seconds), their
 * files and histories, plus result folders and uploads that have no row. With `by_tier`
 * (dumu serve --auth optional|required) a job with an owner is kept instead for its owner's
 * tier's retention_h (an account's tier; "anonymous" for an anonymous browser's job).
 * Returns the count. */
int srv_jobs_expire(srv_jobs *jobs, int64_t before, int by_tier);

/* For one SSE stream: waits up to `timeout_ms` for events of `id` with ids > *after and
 * returns them as one malloc'd block of SSE text in *text (free with free), *len bytes,
 * advancing *after. *final is set once the block holds the job's done/error event. Returns
 * 1 with events, 0 on timeout or wake (no text), -1 when the job has no history (unknown).
 */
int srv_jobs_events(srv_jobs *jobs, const char *id, int64_t *after, int timeout_ms, char **text,
                    size_t *len, int *final);

/* Job `id`'s turn among the nodes sharing the store, for work that rewrites or removes its
 * files (re-transcription, deletion): waits until no other node holds it and returns a
 * token for srv_jobs_release (NULL with SQLite, where one process has the store, or when the
 * store cannot be reached: the work then fails on its own). */
void *srv_jobs_hold(srv_jobs *jobs, const char *id);
void srv_jobs_release(srv_jobs *jobs, const char *id, void *token);

/* Wakes every waiting worker and SSE stream (shutdown); later waits return at once. */
void srv_jobs_wake(srv_jobs *jobs);

/* Blobs. A local copy of the job's file `what` (srv_jobs_path's names) to read, at `path`
 * (cap bytes): 0, 1 when the store has no such file, -1 on an error. The copy stays valid
 * for an open descriptor even when a newer one replaces it. */
int srv_jobs_fetch(srv_jobs *jobs, const char *id, const char *what, char *path, size_t cap);

/* Stores the written local file `what` of job `id` (replacing an older one); with
 * PostgreSQL the local file is removed once stored. 0, or -1 (it stays local). */
int srv_jobs_publish(srv_jobs *jobs, const char *id, const char *what);

/* srv_jobs_publish for every file in the job's folder. */
int srv_jobs_publish_all(srv_jobs *jobs, const char *id);

/* Removes the job's file `what`, local and stored. */
void srv_jobs_discard(srv_jobs *jobs, const char *id, const char *what);

/* ---------------------------------------------------------------------------------------- */
/* Accounts and credentials (dumu serve --auth; auth.h). Rows live in the store, so every API
 * node of a fleet sees a new session, a revoked key or a deleted account at once. */

struct srv_account {
    char id[SRV_ID_LEN + 1];
    char email[SRV_EMAIL_LEN]; /* lowercase */
    char tier[SRV_TIER_LEN];   /* its tier's name (struct srv_tier): "free" at sign-up */
    int64_t created;           /* unix seconds */
};

/* A credential's kind: a browser session (sent as a cookie, with a CSRF token) or an API key
 * (sent as a bearer token). Both are stored as the SHA-256 of the token (auth.h). */
enum srv_cred_kind { SRV_CRED_SESSION, SRV_CRED_KEY };

struct srv_cred {
    char id[SRV_ID_LEN + 1]; /* API keys: the id to list and revoke them by; sessions: "" */
    char account[SRV_ID_LEN + 1];
    char name[SRV_KEY_NAME_LEN]; /* API keys: what its owner called it */
    char csrf[SRV_HASH_LEN];     /* sessions: the token X-CSRF-Token must carry */
    int64_t created;             /* unix seconds */
    int64_t expires;             /* unix seconds; 0: never (API keys until revoked) */
};

/* Adds an account with its password hash (auth.h srv_password_hash). 0, 1 when the e-mail
 * has an account already, -1 on error. */
int srv_jobs_account_add(srv_jobs *jobs, const struct srv_account *a, const char *pwhash);

/* The account of e-mail `email` (or, with `email` NULL, of id `id`): 1 with *out and, when
 * `pwhash` is non-NULL, its password hash (`cap` bytes); 0 when there is none; -1 on error. */
int srv_jobs_account_find(srv_jobs *jobs, const char *email, const char *id,
                          struct srv_account *out, char *pwhash, size_t cap);

/* Up to `cap` accounts, oldest first; the count or -1. */
int srv_jobs_account_list(srv_jobs *jobs, struct srv_account *out, int cap);

/* Deletes the account and its sessions and API keys (its jobs are the caller's to delete
 * first: their files need srv_jobs_remove). 1, 0 when there was none, -1 on error. */
int srv_jobs_account_remove(srv_jobs *jobs, const char *id);

/* Stores a credential of `kind` under `hash` (the token's SHA-256). 0 or -1. */
int srv_jobs_cred_add(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash,
                      const struct srv_cred *cred);

/* The credential of `kind` stored under `hash`, unless it expired before `now` (unix
 * seconds): 1 with *out, 0 when there is none, -1 on error. */
int srv_jobs_cred_find(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash, int64_t now,
                       struct srv_cred *out);

/* Up to `cap` credentials of `kind` of account `account`, oldest first; the count or -1. */
int srv_jobs_cred_list(srv_jobs *jobs, enum srv_cred_kind kind, const char *account,
                       struct srv_cred *out, int cap);

/* Deletes the credential of `kind` stored under `hash`, or (hash NULL) the one of id `id`,
 * then only if it is account `account`'s (NULL: anyone's, for dumu admin). 1, 0 when there
 * was none, -1 on error. */
int srv_jobs_cred_remove(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash, const char *id,
                         const char *account);

/* Failed logins under `key` ("account:EMAIL", "addr:IP") since `since` (unix seconds): their
 * number in *n and the oldest one's time in *oldest. 0 or -1. */
int srv_jobs_failures(srv_jobs *jobs, const char *key, int64_t since, int *n, int64_t *oldest);

/* Failed logins are kept this long (seconds): longer than any throttling window looks back. */
#define SRV_FAILURE_KEEP_S 86400

/* Notes a failed login under `key` at `at`, or (clear) forgets the key's failures (a login
 * that succeeded) and every failure older than SRV_FAILURE_KEEP_S before `at`. 0 or -1. */
int srv_jobs_failure_note(srv_jobs *jobs, const char *key, int64_t at, int clear);

/* ---------------------------------------------------------------------------------------- */
/* Fair use (dumu serve --auth optional|required): tiers of limits, a token bucket per asker
 * and the audio each one sent today. All of it lives in the store, so every API node of a
 * fleet counts the same requests and minutes. */

/* A tier's limits; every one is > 0. */
struct srv_tier {
    char name[SRV_TIER_LEN];
    int rpm;             /* requests per minute: the token bucket's size and refill per minute */
    int concurrent;      /* jobs queued or running at once */
    int minutes_per_day; /* minutes of audio accepted per UTC day */
    int max_song_s;      /* the longest song accepted, seconds */
    int retention_h;     /* hours a finished job is kept */
};

/* The tiers a new store starts with (anonymous, free, pro; jobs.c says why each number):
 * `*n` of them, static. */
const struct srv_tier *srv_tier_seeds(int *n);

/* The name for askers without an account (--auth optional): one of the seeds. */
#define SRV_TIER_ANONYMOUS "anonymous"
/* The tier of a new account: one of the seeds. */
#define SRV_TIER_NEW "free"

/* Up to `cap` tiers, by name; the count or -1. */
int srv_jobs_tier_list(srv_jobs *jobs, struct srv_tier *out, int cap);

/* The tier `name` (1 and *out, 0 when there is none, -1), or with `name` NULL the tier of
 * account `account` (SRV_TIER_ANONYMOUS's when `account` is NULL or has no such tier). */
int srv_jobs_tier_get(srv_jobs *jobs, const char *name, const char *account, struct srv_tier *out);

/* Adds or replaces the tier t->name. 0 or -1. */
int srv_jobs_tier_set(srv_jobs *jobs, const struct srv_tier *t);

/* Puts account `account` in tier `tier` (which must exist). 1, 0 when there is no such
 * account, -1 on error. */
int srv_jobs_account_set_tier(srv_jobs *jobs, const char *account, const char *tier);

/* Takes a token from the bucket `key` ("a:ACCOUNT", "ip:ADDRESS"), which holds up to `rpm`
 * tokens and gains rpm / 60 a second, at `now` (unix seconds, with fractions). Returns 1 when
 * a token was taken, 0 when the bucket was empty, -1 on error; *tokens is what is left
 * (fractions included). One statement: nodes sharing the store share the bucket. */
int srv_jobs_bucket_take(srv_jobs *jobs, const char *key, int rpm, double now, double *tokens);

/* Adds `seconds` of audio to the usage of `key` on UTC day `day` (unix seconds / 86400) if
 * the day's total stays at most `limit_s`: 1 added, 0 refused (nothing added), -1 on error.
 * *used is the day's total after the call. A negative `seconds` gives audio back (an upload
 * that failed after it was counted). */
int srv_jobs_usage_add(srv_jobs *jobs, const char *key, int64_t day, double seconds, double limit_s,
                       double *used);

/* The seconds of audio `key` sent on UTC day `day` (0 when none). 0 or -1. */
int srv_jobs_usage_get(srv_jobs *jobs, const char *key, int64_t day, double *used);

/* The jobs of owner `owned_by` that are queued or running, in *n. 0 or -1. */
int srv_jobs_owner_active(srv_jobs *jobs, const char *owned_by, int *n);

/* Gives every job and batch of owner `from` to owner `to`: an anonymous browser's songs follow
 * it into the account it signs up for or in. The number of jobs moved, or -1. */
int srv_jobs_owner_move(srv_jobs *jobs, const char *from, const char *to);

/* ---------------------------------------------------------------------------------------- */
/* Batches and webhook deliveries (POST /api/batches; webhook.h sends the deliveries). */

/* Records a batch, after its jobs were inserted with its id (upload.c: a job that ends before
 * the batch is recorded cannot take it for ended while jobs of it are still to come). 0 or
 * -1. */
int srv_jobs_batch_insert(srv_jobs *jobs, const struct srv_batch *b);

/* The jobs of batch `batch_id`, oldest first (the order of its files), into `out`
 * (SRV_BATCH_MAX of them): the count, or -1. */
int srv_jobs_batch_jobs(srv_jobs *jobs, const char *batch_id, struct srv_job *out);

/* 1 and *out when batch `id` exists, 0 when not, -1 on error. A batch lives while any of its
 * jobs does (srv_jobs_expire removes the empty ones; an account's go with it). */
int srv_jobs_batch_get(srv_jobs *jobs, const char *id, struct srv_batch *out);

enum srv_delivery_state { SRV_DELIVERY_PENDING, SRV_DELIVERY_DELIVERED, SRV_DELIVERY_FAILED };

/* One webhook call to make: a job's or batch's end, told to its URL until it is taken (a 2xx
 * answer) or its tries run out (webhook.h). */
struct srv_delivery {
    int64_t id;
    char target[SRV_ID_LEN + 1]; /* the job's or the batch's id */
    char event[24];              /* "job.done", "job.failed", "batch.done" */
    char url[SRV_URL_LEN];
    char secret[SRV_HASH_LEN]; /* the signing key, the job's or batch's webhook_secret */
    enum srv_delivery_state state;
    int attempts;         /* calls made so far */
    int last_status;      /* the HTTP status of the last call; 0: none or no answer */
    char last_error[256]; /* why the last call failed; "" */
    int64_t created;      /* unix seconds */
    int64_t next_at;      /* a pending one's next call, unix seconds */
    int64_t updated;      /* the last call, unix seconds (created before any) */
};

/* Adds a pending delivery of d->event about d->target to d->url, signed with d->secret, with
 * JSON `body` (copied), due at once (the rest of *d is not read). 0, 1 when that target
 * already has that event's delivery (nothing added: a job ends once), -1 on error. */
int srv_jobs_delivery_add(srv_jobs *jobs, const struct srv_delivery *d, const char *body,
                          int64_t now);

/* Takes the oldest pending delivery due at `now` (next_at <= now) for this process: moves its
 * next_at to now + lease_s, so no other node of the fleet takes it meanwhile, and returns 1
 * with *out and its body in *body (malloc'd; free with free); 0 when none is due; -1. */
int srv_jobs_delivery_claim(srv_jobs *jobs, int64_t now, int lease_s, struct srv_delivery *out,
                            char **body);

/* After a call: d->state, attempts, last_status, last_error and next_at as given, updated at
 * `now`. 0 or -1. */
int srv_jobs_delivery_update(srv_jobs *jobs, const struct srv_delivery *d, int64_t now);

/* Up to `cap` deliveries about `target`, oldest first; the count or -1. */
int srv_jobs_delivery_list(srv_jobs *jobs, const char *target, struct srv_delivery *out, int cap);

#endif /* DUMU_SRV_JOBS_H */
