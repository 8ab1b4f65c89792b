/* http.h - the HTTP side of `dumu serve`: the libmicrohttpd daemon, routing, JSON replies,
 * the access log and static files; shared by upload.c and sse.c.
 *
 * One srv_server per process, filled by serve.c, which owns it and everything it points to
 * (models, job store, pool); the HTTP threads only borrow it between srv_http_start and
 * srv_http_stop. A srv_req lives from a request's first handler call to the later of its
 * completion and the end of its response's content callback (reference counted).
 */
#ifndef DUMU_SRV_HTTP_H
#define DUMU_SRV_HTTP_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dumu/dumu.h"

#include "auth.h"
#include "jobs.h"
#include "worker.h"

/* A job a request changes the files of (re-transcription, deletion): a node on that request's
 * own stack, in srv_server.busy while it holds or waits for the job (http.c job_hold). */
struct srv_busy {
    const char *id;
    void *store_hold; /* srv_jobs_hold's token: the other nodes' turns */
    struct srv_busy *next;
};

struct srv_server {
    srv_jobs *jobs;
    srv_pool *pool;
    const dumu_separator *sep; /* NULL on a node without workers */
    const dumu_bp_model *bp;
    int workers;                /* worker threads */
    int threads;                /* inference threads per worker */
    int max_upload_mb;          /* uploads over this many MiB get 413 */
    int max_queue;              /* queued jobs beyond this get 429 */
    bool fast;                  /* the `fast` parameter's default (dumu serve --fast) */
    const char *web_dir;        /* built web app (index.html + assets) */
    const char *cors_origin;    /* Access-Control-Allow-Origin value, NULL = no CORS headers */
    enum srv_auth_mode auth;    /* dumu serve --auth */
    bool secure_cookies;        /* cookies get `Secure` (dumu serve --secure-cookies: behind TLS) */
    bool webhook_allow_private; /* webhooks may call private addresses (--webhook-allow-private) */
    atomic_int stopping;        /* set on SIGTERM: SSE streams end */
    pthread_mutex_t busy_mu;    /* guards busy; initialised by serve.c */
    pthread_cond_t busy_cv;     /* broadcast when a request lets go of a job */
    struct srv_busy *busy;      /* in arrival order; a job's first node holds it */
};

struct srv_upload; /* upload.c */

/* Per-request state, MHD's *req_cls. */
struct srv_req {
    atomic_int refs; /* 1 for the request, +1 while an SSE content callback holds it */
    double t0;       /* monotonic seconds at the first call, for the access log */
    char method[16];
    char path[160]; /* the URL as logged (cut) */
    int route;      /* http.c's route number */
    char id[SRV_ID_LEN + 1];
    char stem[16];
    int status;         /* the status sent, for the log */
    atomic_llong bytes; /* body bytes sent */
    struct srv_upload *upload;
    char *body; /* JSON request body (re-transcribe, accounts), at most SRV_BODY_MAX bytes; owned */
    size_t body_len;
    int body_too_big;
    /* Who is asking (account.c srv_auth_request; all "" with --auth off). */
    char principal[SRV_OWNER_LEN];   /* whose jobs it sees and makes (srv_job.owned_by) */
    char account[SRV_ID_LEN + 1];    /* the account signed in or holding the API key */
    char session_hash[SRV_HASH_LEN]; /* the session cookie's token hash, for logout */
    char csrf[SRV_HASH_LEN];         /* the X-CSRF-Token this request's cookie calls for */
    int auth_status; /* a refusal found from the headers (401, 403, 429, 503), or 0 */
    char auth_code[24];
    char auth_message[96];
    int auth_retry_after; /* seconds for the refusal's Retry-After; 0: none */
    /* Fair use (limits.c; --auth optional|required): the asker's tier ("" name: no limits),
     * the key of its bucket and daily minutes ("a:ACCOUNT", or "ip:ADDRESS" without an
     * account), and the RateLimit-* headers of the reply (rl_limit 0: none) */
    struct srv_tier tier;
    char usage_key[SRV_OWNER_LEN];
    int rl_limit, rl_remaining, rl_reset;
    int n_cookies;
    /* Set-Cookie headers of the reply: at most two (a stale session's removal and a new
     * anonymous token), each a name, a 50-byte token and the attributes, under 160 bytes */
    char set_cookie[2][192];
    int no_store; /* the reply holds a secret (a new key, a CSRF token): Cache-Control: no-store */
};

#define SRV_BODY_MAX 65536

/* An SSE stream sends a keepalive comment after this many milliseconds without an event. */
#define SRV_SSE_KEEPALIVE_MS 15000

/* Queues `resp` with status `status` (adding CORS headers) and destroys our reference. */
enum MHD_Result srv_queue(const struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                          unsigned status, struct MHD_Response *resp, int64_t bytes);

/* Replies with the JSON text `json` (copied). */
enum MHD_Result srv_reply_json(const struct srv_server *s, struct MHD_Connection *c,
                               struct srv_req *req, unsigned status, const char *json);

/* Replies {"code": code, "message": message}, the message without the data directory's
 * paths (srv_jobs_scrub). */
enum MHD_Result srv_reply_error(const struct srv_server *s, struct MHD_Connection *c,
                                struct srv_req *req, unsigned status, const char *code,
                                const char *message);

/* A job store error: 503 {code: "store_unavailable"} with Retry-After when the store cannot
 * be reached (the request may be repeated), else 500. */
enum MHD_Result srv_reply_store_error(const struct srv_server *s, struct MHD_Connection *c,
                                      struct srv_req *req);

/* The same with a Retry-After header of `retry_after` seconds (none when 0): a refusal the
 * client may try again later (a full queue, a full disk). */
enum MHD_Result srv_reply_later(const struct srv_server *s, struct MHD_Connection *c,
                                struct srv_req *req, unsigned status, const char *code,
                                const char *message, int retry_after);

/* Drops one reference to `req` and frees it at zero. */
void srv_req_release(struct srv_req *req);

/* POST /api/process, or with `batch` POST /api/batches (upload.c): called for each handler
 * call of the request. */
enum MHD_Result srv_upload_handle(struct srv_server *s, struct MHD_Connection *c,
                                  struct srv_req *req, int batch, const char *data, size_t *size);

/* Frees an upload's state and removes its temporary file unless it was accepted. */
void srv_upload_free(struct srv_upload *u);

/* GET /api/progress/{id} (sse.c): answers the event stream of job req->id, or with `batch`
 * (GET /api/progress/batch/{id}) that of batch req->id. */
enum MHD_Result srv_sse_handle(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                               int batch);

/* Replies with a cJSON tree (NULL: out of memory, 500) and deletes it. */
enum MHD_Result srv_reply_tree(const struct srv_server *s, struct MHD_Connection *c,
                               struct srv_req *req, unsigned status, cJSON *tree);

/* A job as the API shows it (docs.h srv_job_doc): a queued one with its place in the queue and
 * when it should start (from the audio ahead of it and the measured speed), one with a webhook
 * with its deliveries. A new object, the caller's. */
cJSON *srv_job_json(struct srv_server *s, const struct srv_job *j);

/* Adds `hook` (srv_webhook_doc's, taken over) to `o` as "webhook", or null when NULL. */
void srv_add_webhook(cJSON *o, cJSON *hook);

/* batches.c: batch req->id if it is the asker's, in *b, with its jobs oldest first in `jobs`
 * (SRV_BATCH_MAX of them) and their count in *n: 1, 0 when there is none (or it is someone
 * else's), -1 when the store failed. */
int srv_batch_load(struct srv_server *s, const struct srv_req *req, struct srv_batch *b,
                   struct srv_job *jobs, int *n);

/* batches.c: a batch as the API shows it (docs.h srv_batch_doc, each job as srv_job_json, its
 * webhook with its deliveries). A new object, the caller's. */
cJSON *srv_batch_json(struct srv_server *s, const struct srv_batch *b, const struct srv_job *jobs,
                      int n);

/* batches.c: GET /api/batches/{id}, or with `zip` GET /api/batches/{id}/zip. */
enum MHD_Result srv_batch_handle(struct srv_server *s, struct MHD_Connection *c,
                                 struct srv_req *req, int zip);

/* What a route asks of the one asking, with --auth on:
 *   PUBLIC    nothing (/health, /openapi.json, /docs, the web page, GET /api/session)
 *   SIGN_IN   nothing, and no CSRF token: the password is the proof (POST /api/account,
 *             POST /api/session)
 *   LOGOUT    nothing, but a session cookie needs its CSRF token (DELETE /api/session)
 *   PRIVATE   an account with --auth required, or (optional) an anonymous browser
 *   UPLOAD    PRIVATE; an anonymous browser without a token gets one (--auth optional) */
enum srv_access {
    SRV_ACCESS_PUBLIC,
    SRV_ACCESS_SIGN_IN,
    SRV_ACCESS_LOGOUT,
    SRV_ACCESS_PRIVATE,
    SRV_ACCESS_UPLOAD
};

enum srv_account_route { SRV_ROUTE_ACCOUNT, SRV_ROUTE_SESSION, SRV_ROUTE_KEYS, SRV_ROUTE_KEY };

/* account.c: decides who is asking from the request's headers (API key, session cookie,
 * anonymous cookie) and whether the route lets them in, filling req's principal, account,
 * csrf and, for a refusal, auth_status/code/message (answered by the caller). Called once per
 * request, at its first handler call, after routing. Does nothing with --auth off. */
void srv_auth_request(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                      enum srv_access access);

/* account.c: /api/account, /api/session, /api/keys and /api/keys/{id} (req->id). */
enum MHD_Result srv_account_handle(struct srv_server *s, struct MHD_Connection *c,
                                   struct srv_req *req, enum srv_account_route route);

/* account.c: refuses the request (the first refusal stands), answered by the caller with
 * `status`, {code, message} and, when `retry_after` > 0, Retry-After in seconds. */
void srv_req_refuse(struct srv_req *req, int status, const char *code, const char *message,
                    int retry_after);

/* Retry-After of 503 store_unavailable, seconds: PostgreSQL restarting or a node's connection
 * being reset takes a few seconds, and a client that comes back sooner only adds load. */
#define SRV_STORE_RETRY_S 5

/* account.c: srv_req_refuse with 503 store_unavailable and SRV_STORE_RETRY_S. */
void srv_req_refuse_store(struct srv_req *req);

/* account.c: the client's address as text ("?" when MHD does not say). */
void srv_client_addr(struct MHD_Connection *c, char *out, size_t cap);

/* limits.c: with --auth optional|required, loads the asker's tier and takes a token from its
 * bucket, setting the RateLimit-* headers; an empty bucket refuses the request (429
 * rate_limited with Retry-After). Called once per API request, after srv_auth_request. */
void srv_limits_request(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req);

/* limits.c: before an upload's body: 0, or -1 with the request refused (429 too_many_jobs
 * when the asker has its tier's number of jobs queued or running; 503 when the store
 * failed). Nothing to check (0) with --auth off. */
int srv_limits_upload_begin(struct srv_server *s, struct srv_req *req);

/* limits.c: an upload of `n` songs of durations[i] seconds is in: 0 when they may become
 * jobs, their minutes counted for today (the RateLimit-* headers then say the daily minutes),
 * else -1 and the reply sent in *result: 413 song_too_long (any one song), 429 daily_minutes
 * (Retry-After: UTC midnight), 429 too_many_jobs (room for all n), or a store error. */
int srv_limits_upload_audio(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                            const double *durations, int n, enum MHD_Result *result);

/* limits.c: gives back the `duration` seconds srv_limits_upload_audio counted (the jobs were
 * not made). */
void srv_limits_upload_undo(struct srv_server *s, struct srv_req *req, double duration);

/* limits.c: adds {limits: the tier's, usage: today's} to GET /api/account's object `o`. 0,
 * or -1 when the store failed. */
int srv_limits_account_json(struct srv_server *s, struct srv_req *req, cJSON *o);

/* 1 when the request may see a job or batch whose owned_by is `owned_by`: always with --auth
 * off, else when it is its owner. Everyone else is told it does not exist (404), never that
 * it is someone else's. */
int srv_req_owns(const struct srv_server *s, const struct srv_req *req, const char *owned_by);

/* Deletes job `id` as DELETE /api/jobs/{id} does (its worker stops, its files go), taking
 * its turn with the job's other changes. srv_jobs_remove's answer, with *was. */
int srv_job_delete(struct srv_server *s, const char *id, enum srv_state *was);

/* Starts the daemon on host:port. Returns NULL (logged) on failure. */
struct MHD_Daemon *srv_http_start(struct srv_server *s, const char *host, int port);

/* Stops accepting, ends the connections (SSE streams must have been woken) and joins. */
void srv_http_stop(struct MHD_Daemon *d);

#endif /* DUMU_SRV_HTTP_H */
