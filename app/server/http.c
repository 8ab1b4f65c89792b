/* http.c - libmicrohttpd daemon, routing, JSON replies, access log and static files.
 *
 * Threading: one thread per connection (MHD_USE_THREAD_PER_CONNECTION, poll() for the
 * listening socket, so there is no FD_SETSIZE limit). SSE streams block in their content
 * callback on the job store's condition variable, which is simple and keeps /health fast
 * while hundreds of streams are open and a job runs on the workers (bench/bench_server.sh
 * measures it). Every open connection holds a thread, so idle ones close soon: a new one
 * after 10 s idle before its first request's headers are in, then after 20 s idle
 * (HEADERS_TIMEOUT_S, IDLE_TIMEOUT_S). Re-transcriptions run synchronously on their
 * request's thread, one at a time per job, and a deletion of the job waits for the one
 * running (job_hold).
 *
 * Routes (the API contract; every error is JSON {code, message}):
 *   GET  /health  /openapi.json  /docs
 *   POST /api/process                    POST /api/batches (upload.c)
 *   GET  /api/batches/{id}               GET /api/batches/{id}/zip (batches.c)
 *   GET  /api/progress/batch/{id}        sse.c
 *   GET  /api/jobs                       GET|DELETE /api/jobs/{id}
 *   GET  /api/jobs/{id}/midi             GET /api/jobs/{id}/stems/{name}
 *   POST /api/jobs/{id}/transcribe       GET /api/result/{id}
 *   GET  /api/progress/{id}              sse.c
 *   GET|POST|DELETE /api/account   GET|POST|DELETE /api/session   GET|POST /api/keys
 *   DELETE /api/keys/{id}                account.c (--auth optional|required)
 *   anything else under /api/ is 404; other GETs serve WEB_DIR (index.html when not a file)
 *
 * With --auth on, who is asking is settled at a request's first handler call (account.c
 * srv_auth_request), every API request takes a token from its asker's bucket (limits.c), and
 * a refusal is answered before its route's work; every job route answers
 * 404 for a job that is not the asker's (load_job, srv_req_owns), as for one that does not
 * exist, so job ids of others cannot even be confirmed.
 */
#include "http.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "docs.h"
#include "openapi.h"
#include "webhook.h"

/* Seconds a connection may sit idle (MHD counts from its last byte in or out). Until its
 * first request line and headers are in, 10: a client that never finishes them (slow loris)
 * holds its thread that long and no more. Then 5 s above the SSE keepalive interval: a stream
 * blocks in its content callback up to that long between writes, and MHD checks the timeout
 * as the callback returns, so a shorter one would cut every quiet stream. */
enum { HEADERS_TIMEOUT_S = 10, IDLE_TIMEOUT_S = SRV_SSE_KEEPALIVE_MS / 1000 + 5 };

enum route {
    R_NONE,
    R_HEALTH,
    R_OPENAPI,
    R_DOCS,
    R_PROCESS,
    R_JOBS,
    R_JOB,
    R_MIDI,
    R_MUSICXML,
    R_TAB,
    R_STEM,
    R_MIX,
    R_RETRY,
    R_TRANSCRIBE,
    R_PROGRESS,
    R_RESULT,
    R_BATCHES,
    R_BATCH,
    R_BATCH_ZIP,
    R_BATCH_PROGRESS,
    R_ACCOUNT,
    R_SESSION,
    R_KEYS,
    R_KEY,
    R_API_UNKNOWN,
    R_STATIC,
};

/* Allowed methods per route ("GET" also allows HEAD). */
static const char *const allowed[] = {
    [R_HEALTH] = "GET, HEAD",
    [R_OPENAPI] = "GET, HEAD",
    [R_DOCS] = "GET, HEAD",
    [R_PROCESS] = "POST",
    [R_JOBS] = "GET, HEAD",
    [R_JOB] = "GET, HEAD, DELETE",
    [R_MIDI] = "GET, HEAD",
    [R_STEM] = "GET, HEAD",
    [R_TRANSCRIBE] = "POST",
    [R_MUSICXML] = "GET, HEAD",
    [R_TAB] = "GET, HEAD",
    [R_PROGRESS] = "GET",
    [R_RESULT] = "GET, HEAD",
    [R_STATIC] = "GET, HEAD",
    [R_MIX] = "GET, HEAD",
    [R_BATCHES] = "POST",
    [R_BATCH] = "GET, HEAD",
    [R_BATCH_ZIP] = "GET, HEAD",
    [R_BATCH_PROGRESS] = "GET",
    [R_RETRY] = "POST",
    [R_ACCOUNT] = "GET, HEAD, POST, DELETE",
    [R_SESSION] = "GET, HEAD, POST, DELETE",
    [R_KEYS] = "GET, HEAD, POST",
    [R_KEY] = "DELETE",
};

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------------------------------- */
/* Replies */

enum MHD_Result srv_queue(const struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                          unsigned status, struct MHD_Response *resp, int64_t bytes) {
    if (!resp) return MHD_NO;
    if (s->cors_origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", s->cors_origin);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    for (int i = 0; i < req->n_cookies; i++)
        MHD_add_response_header(resp, "Set-Cookie", req->set_cookie[i]);
    if (req->no_store) MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (req->rl_limit > 0) { /* limits.c: the bucket's, or the daily minutes' on an upload */
        char v[3][16];
        snprintf(v[0], sizeof v[0], "%d", req->rl_limit);
        snprintf(v[1], sizeof v[1], "%d", req->rl_remaining);
        snprintf(v[2], sizeof v[2], "%d", req->rl_reset);
        MHD_add_response_header(resp, "RateLimit-Limit", v[0]);
        MHD_add_response_header(resp, "RateLimit-Remaining", v[1]);
        MHD_add_response_header(resp, "RateLimit-Reset", v[2]);
    }
    req->status = (int)status;
    if (bytes > 0) atomic_fetch_add(&req->bytes, bytes);
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* `status` with the `n` bytes at `data` (copied) as `type`; `disposition` and `retry_after`
 * (seconds) are headers when non-NULL / positive. */
static enum MHD_Result reply_bytes(const struct srv_server *s, struct MHD_Connection *c,
                                   struct srv_req *req, unsigned status, const void *data, size_t n,
                                   const char *type, const char *disposition, int retry_after) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (resp) {
        MHD_add_response_header(resp, "Content-Type", type);
        if (disposition) MHD_add_response_header(resp, "Content-Disposition", disposition);
        char secs[16];
        snprintf(secs, sizeof secs, "%d", retry_after);
        if (retry_after > 0) MHD_add_response_header(resp, "Retry-After", secs);
    }
    return srv_queue(s, c, req, status, resp, (int64_t)n);
}

enum MHD_Result srv_reply_json(const struct srv_server *s, struct MHD_Connection *c,
                               struct srv_req *req, unsigned status, const char *json) {
    return reply_bytes(s, c, req, status, json, strlen(json), "application/json", NULL, 0);
}

/* 200 with `text` (copied) as `type`. */
static enum MHD_Result reply_text(const struct srv_server *s, struct MHD_Connection *c,
                                  struct srv_req *req, const char *text, const char *type) {
    return reply_bytes(s, c, req, 200, text, strlen(text), type, NULL, 0);
}

enum MHD_Result srv_reply_error(const struct srv_server *s, struct MHD_Connection *c,
                                struct srv_req *req, unsigned status, const char *code,
                                const char *message) {
    return srv_reply_later(s, c, req, status, code, message, 0);
}

enum MHD_Result srv_reply_later(const struct srv_server *s, struct MHD_Connection *c,
                                struct srv_req *req, unsigned status, const char *code,
                                const char *message, int retry_after) {
    char clean[512]; /* messages are one line: a dumu_error's at most 256 bytes */
    srv_jobs_scrub(s->jobs, message, clean, sizeof clean);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", clean);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return MHD_NO;
    enum MHD_Result r =
        reply_bytes(s, c, req, status, text, strlen(text), "application/json", NULL, retry_after);
    free(text);
    return r;
}

enum MHD_Result srv_reply_tree(const struct srv_server *s, struct MHD_Connection *c,
                               struct srv_req *req, unsigned status, cJSON *tree) {
    char *text = tree ? cJSON_PrintUnformatted(tree) : NULL;
    cJSON_Delete(tree);
    if (!text) return srv_reply_error(s, c, req, 500, "internal", "out of memory");
    enum MHD_Result r = srv_reply_json(s, c, req, status, text);
    free(text);
    return r;
}

static enum MHD_Result reply_not_found(const struct srv_server *s, struct MHD_Connection *c,
                                       struct srv_req *req) {
    return srv_reply_error(s, c, req, 404, "not_found", "no such job or resource");
}

enum MHD_Result srv_reply_store_error(const struct srv_server *s, struct MHD_Connection *c,
                                      struct srv_req *req) {
    if (srv_jobs_ping(s->jobs) == 0)
        return srv_reply_error(s, c, req, 500, "internal", "database error");
    return srv_reply_later(s, c, req, 503, "store_unavailable",
                           "the job store cannot be reached; try again shortly", SRV_STORE_RETRY_S);
}

/* A job's file that srv_jobs_fetch could not give: 404, or 503 when the store is away. */
static enum MHD_Result reply_missing(const struct srv_server *s, struct MHD_Connection *c,
                                     struct srv_req *req) {
    if (srv_jobs_ping(s->jobs)) return srv_reply_store_error(s, c, req);
    return reply_not_found(s, c, req);
}

/* Replies with a file's bytes; `disposition` NULL for inline. */
static enum MHD_Result reply_file(const struct srv_server *s, struct MHD_Connection *c,
                                  struct srv_req *req, const char *path, const char *type,
                                  const char *disposition) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        if (fd >= 0) close(fd);
        return reply_not_found(s, c, req);
    }
    /* One byte range when asked (audio players seek with them), else the whole file. */
    int64_t size = (int64_t)sb.st_size, first = 0, last = size - 1;
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    int r = srv_parse_range(range, size, &first, &last);
    char cr[96];
    if (r < 0) {
        close(fd);
        struct MHD_Response *e = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        if (!e) return MHD_NO;
        snprintf(cr, sizeof cr, "bytes */%lld", (long long)size);
        MHD_add_response_header(e, "Content-Range", cr);
        return srv_queue(s, c, req, 416, e, 0);
    }
    if (r > 0) { /* the whole file */
        first = 0;
        last = size - 1;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_fd_at_offset64((uint64_t)(last - first + 1), fd, (uint64_t)first);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (disposition) MHD_add_response_header(resp, "Content-Disposition", disposition);
    if (r == 0) {
        snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)first, (long long)last,
                 (long long)size);
        MHD_add_response_header(resp, "Content-Range", cr);
    }
    return srv_queue(s, c, req, r == 0 ? 206 : 200, resp, last - first + 1);
}

/* ---------------------------------------------------------------------------------------- */
/* Jobs */

void srv_add_webhook(cJSON *o, cJSON *hook) {
    if (hook)
        cJSON_AddItemToObject(o, "webhook", hook);
    else
        cJSON_AddNullToObject(o, "webhook");
}

cJSON *srv_job_json(struct srv_server *s, const struct srv_job *j) {
    cJSON *o = srv_job_doc(j);
    int ahead = 0;
    double audio_s = 0.0;
    if (j->state == SRV_QUEUED && !srv_jobs_queue_ahead(s->jobs, j->id, &ahead, &audio_s)) {
        cJSON *q = cJSON_AddObjectToObject(o, "queue");
        cJSON_AddNumberToObject(q, "position", ahead + 1);
        int fleet = srv_jobs_workers(s->jobs); /* worker processes; -1: this one alone */
        int workers = fleet >= 0 ? fleet : s->workers;
        double wait =
            audio_s / 60.0 * srv_pool_seconds_per_minute(s->pool) / (workers > 0 ? workers : 1);
        cJSON_AddNumberToObject(q, "starts_in_s", round(wait));
    }
    srv_add_webhook(o, srv_webhook_doc(s->jobs, j->id, j->webhook_url));
    return o;
}

/* Looks up req->id; replies 404/500 itself and returns 0 when there is no job. */
static int load_job(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                    struct srv_job *job, enum MHD_Result *r) {
    int found = srv_jobs_get(s->jobs, req->id, job);
    if (found == 1 && srv_req_owns(s, req, job->owned_by)) return 1;
    if (found == 1) found = 0; /* someone else's: as if there were none */
    *r = found == 0 ? reply_not_found(s, c, req) : srv_reply_store_error(s, c, req);
    return 0;
}

/* A whole number query argument `name` in lo..hi, `dflt` when absent: 0, or -1 when it is
 * something else. */
static int int_arg(struct MHD_Connection *c, const char *name, int lo, int hi, int dflt, int *out) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    *out = dflt;
    if (!v) return 0;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < lo || n > hi) return -1;
    *out = (int)n;
    return 0;
}

/* 409 for a job without a result yet. */
static enum MHD_Result reply_not_done(const struct srv_server *s, struct MHD_Connection *c,
                                      struct srv_req *req, const struct srv_job *job) {
    if (job->state == SRV_FAILED || job->state == SRV_CANCELLED)
        return srv_reply_error(s, c, req, 409, srv_state_name(job->state),
                               job->error_message[0] ? job->error_message : "the job failed");
    return srv_reply_error(s, c, req, 409, "not_ready", "the job is not done yet");
}

/* Holds job `id` with `b` (on the caller's stack) until job_release, once every request that
 * asked for it earlier has let go: re-transcriptions of a job rewrite the same result files
 * and a deletion removes them, so they take turns in arrival order, and each one must look
 * the job up again once it holds it. The node's own requests queue here; then the store
 * makes the fleet's nodes take turns too (srv_jobs_hold). */
static void job_hold(struct srv_server *s, struct srv_busy *b, const char *id) {
    b->id = id;
    b->next = NULL;
    pthread_mutex_lock(&s->busy_mu);
    struct srv_busy **p = &s->busy;
    while (*p)
        p = &(*p)->next;
    *p = b;
    for (;;) {
        const struct srv_busy *o = s->busy;
        while (o != b && strcmp(o->id, id) != 0)
            o = o->next;
        if (o == b) break; /* first in line */
        pthread_cond_wait(&s->busy_cv, &s->busy_mu);
    }
    pthread_mutex_unlock(&s->busy_mu);
    b->store_hold = srv_jobs_hold(s->jobs, id);
}

static void job_release(struct srv_server *s, struct srv_busy *b) {
    srv_jobs_release(s->jobs, b->id, b->store_hold);
    pthread_mutex_lock(&s->busy_mu);
    struct srv_busy **p = &s->busy;
    while (*p != b)
        p = &(*p)->next;
    *p = b->next;
    pthread_cond_broadcast(&s->busy_cv);
    pthread_mutex_unlock(&s->busy_mu);
}

int srv_job_delete(struct srv_server *s, const char *id, enum srv_state *was) {
    struct srv_busy hold;
    job_hold(s, &hold, id);
    struct srv_job job; /* as it was, for its batch's webhook */
    int known = srv_jobs_get(s->jobs, id, &job);
    /* Flag the worker first, so that a job finishing meanwhile still has its files
     * removed by one side or the other. */
    srv_pool_cancel(s->pool, id);
    int found = srv_jobs_remove(s->jobs, id, was);
    /* Again, for a job that a worker claimed between the two calls. */
    if (found == 1 && *was == SRV_RUNNING) srv_pool_cancel(s->pool, id);
    job_release(s, &hold);
    /* a cancelled job may be the last of its batch to end (webhook.h) */
    if (found == 1 && known == 1 && (*was == SRV_QUEUED || *was == SRV_RUNNING)) {
        job.state = SRV_CANCELLED;
        srv_webhook_job_ended(s->jobs, &job);
    }
    return found;
}

/* DELETE /api/jobs/{id} of a job the asker owns (load_job). */
static enum MHD_Result delete_job(struct srv_server *s, struct MHD_Connection *c,
                                  struct srv_req *req) {
    enum srv_state was;
    int found = srv_job_delete(s, req->id, &was);
    if (found != 1)
        return found == 0 ? reply_not_found(s, c, req) : srv_reply_store_error(s, c, req);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job_id", req->id);
    cJSON_AddStringToObject(o, "state",
                            was == SRV_QUEUED || was == SRV_RUNNING ? "cancelled" : "deleted");
    return srv_reply_tree(s, c, req, 200, o);
}

/* POST /api/jobs/{id}/transcribe, holding the job (job_hold): it is looked up here, after
 * any re-transcription or deletion before this one. */
static enum MHD_Result retranscribe(struct srv_server *s, struct MHD_Connection *c,
                                    struct srv_req *req) {
    struct srv_job job;
    enum MHD_Result r = MHD_NO;
    if (!load_job(s, c, req, &job, &r)) return r;
    struct srv_params p = job.params;
    char why[160];
    if (srv_params_from_json(&p, req->body ? req->body : "", req->body_len, why, sizeof why))
        return srv_reply_error(s, c, req, 400, "bad_request", why);
    if (job.state != SRV_DONE) return reply_not_done(s, c, req, &job);
    if (!s->bp)
        return srv_reply_error(s, c, req, 503, "no_models",
                               "this node has no Basic Pitch model to re-transcribe with");
    char *json = NULL;
    dumu_error err = {0};
    dumu_status rc = srv_retranscribe(s->jobs, s->bp, s->threads, &job, &p, &json, &err);
    if (rc == DUMU_E_UNSUPPORTED)
        return srv_reply_error(s, c, req, 409, "no_bass_line", err.message);
    if (rc) return srv_reply_error(s, c, req, 500, "failed", err.message);
    srv_jobs_set_params(s->jobs, job.id, &p);
    r = srv_reply_json(s, c, req, 200, json);
    free(json);
    return r;
}

static enum MHD_Result handle_job_route(struct srv_server *s, struct MHD_Connection *c,
                                        struct srv_req *req, int is_delete) {
    struct srv_job job;
    struct srv_busy hold;
    enum MHD_Result r = MHD_NO;
    char path[4096], disp[SRV_NAME_LEN + 64];
    if (!load_job(s, c, req, &job, &r)) return r;
    if (req->route == R_JOB && is_delete) return delete_job(s, c, req);
    switch (req->route) {
    case R_JOB: return srv_reply_tree(s, c, req, 200, srv_job_json(s, &job));
    case R_RESULT:
        if (job.state != SRV_DONE) return reply_not_done(s, c, req, &job);
        if (srv_jobs_fetch(s->jobs, job.id, "result.json", path, sizeof path))
            return reply_missing(s, c, req);
        return reply_file(s, c, req, path, "application/json", NULL);
    case R_MIDI: {
        const char *tempo = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tempo");
        if (tempo && strcmp(tempo, "map") != 0 && strcmp(tempo, "constant") != 0)
            return srv_reply_error(s, c, req, 400, "bad_request", "tempo must be map or constant");
        if (job.state != SRV_DONE) return reply_not_done(s, c, req, &job);
        if (tempo && strcmp(tempo, "constant") == 0) {
            uint8_t *midi = NULL;
            size_t size = 0;
            dumu_error err = {0};
            if (srv_midi_constant(s->jobs, &job, &midi, &size, &err))
                return srv_reply_error(s, c, req, 500, "failed", err.message);
            snprintf(disp, sizeof disp, "attachment; filename=\"%s-bass-constant-tempo.mid\"",
                     job.name);
            r = reply_bytes(s, c, req, 200, midi, size, "audio/midi", disp, 0);
            dumu_free(midi);
            return r;
        }
        snprintf(disp, sizeof disp, "attachment; filename=\"%s-bass.mid\"", job.name);
        if (srv_jobs_fetch(s->jobs, job.id, "bass.mid", path, sizeof path))
            return reply_missing(s, c, req);
        return reply_file(s, c, req, path, "audio/midi", disp);
    }
    case R_MUSICXML:
        if (job.state != SRV_DONE) return reply_not_done(s, c, req, &job);
        snprintf(disp, sizeof disp, "attachment; filename=\"%s-bass.musicxml\"", job.name);
        if (srv_jobs_fetch(s->jobs, job.id, "bass.musicxml", path, sizeof path))
            return reply_missing(s, c, req);
        return reply_file(s, c, req, path, "application/vnd.recordare.musicxml+xml", disp);
    case R_TAB: {
        const char *strings = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "strings");
        if (strings && strcmp(strings, "4") != 0 && strcmp(strings, "5") != 0)
            return srv_reply_error(s, c, req, 400, "bad_request", "strings must be 4 or 5");
        if (job.state != SRV_DONE) return reply_not_done(s, c, req, &job);
        int five = strings && strcmp(strings, "5") == 0;
        int w; /* 0: the tab file's own lines */
        if (int_arg(c, "width", 20, 1000, 0, &w))
            return srv_reply_error(s, c, req, 400, "bad_request",
                                   "width must be 20..1000 characters");
        if (w) {
            char *text = NULL;
            dumu_error err = {0};
            if (srv_tab(s->jobs, &job, five ? 5 : 4, w, &text, &err))
                return srv_reply_error(s, c, req, 500, "failed", err.message);
            r = reply_text(s, c, req, text, "text/plain; charset=utf-8");
            dumu_free(text);
            return r;
        }
        snprintf(disp, sizeof disp, "attachment; filename=\"%s-bass-tab%s.txt\"", job.name,
                 five ? "-5" : "");
        if (srv_jobs_fetch(s->jobs, job.id, five ? "tab5.txt" : "tab4.txt", path, sizeof path))
            return reply_missing(s, c, req);
        return reply_file(s, c, req, path, "text/plain; charset=utf-8", disp);
    }
    case R_STEM: {
        int kept = 0;
        uint32_t mask = srv_stems_mask(job.params.stems);
        for (int k = 0; k < SRV_N_STEMS; k++)
            if ((mask & (1u << k)) && strcmp(req->stem, srv_stem_name(k)) == 0) kept = 1;
        if (!kept) return reply_not_found(s, c, req);
        const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
        if (!format) format = "wav";
        const char *type = strcmp(format, "wav") == 0    ? "audio/wav"
                           : strcmp(format, "flac") == 0 ? "audio/flac"
                           : strcmp(format, "mp3") == 0  ? "audio/mpeg"
                                                         : NULL;
        if (!type)
            return srv_reply_error(s, c, req, 400, "bad_request",
                                   "format must be wav, flac or mp3");
        if (job.state != SRV_DONE) return reply_not_done(s, c, req, &job);
        dumu_error err = {0};
        if (srv_stem_file(s->jobs, job.id, req->stem, format, path, sizeof path, &err))
            return reply_not_found(s, c, req);
        snprintf(disp, sizeof disp, "attachment; filename=\"%s-%s.%s\"", job.name, req->stem,
                 format);
        return reply_file(s, c, req, path, type, disp);
    }
    case R_RETRY: {
        /* a job that failed for want of disk space kept its upload: it can run again */
        if (srv_jobs_fetch(s->jobs, job.id, "upload", path, sizeof path))
            return srv_reply_error(s, c, req, 409, "upload_gone",
                                   "this job's upload is gone: it cannot run again");
        if (srv_jobs_retry(s->jobs, job.id))
            return srv_reply_error(s, c, req, 409, "not_retryable",
                                   "only a job that failed for want of disk space runs again");
        char body[96];
        snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"state\":\"queued\"}", job.id);
        return srv_reply_json(s, c, req, 202, body);
    }
    case R_MIX:
        /* written by the worker as it starts the job (see worker.c): 404 until then */
        snprintf(disp, sizeof disp, "attachment; filename=\"%s-mix.mp3\"", job.name);
        if (srv_jobs_fetch(s->jobs, job.id, SRV_FILE_MIX, path, sizeof path))
            return reply_missing(s, c, req);
        return reply_file(s, c, req, path, "audio/mpeg", disp);
    case R_TRANSCRIBE:
        if (req->body_too_big)
            return srv_reply_error(s, c, req, 413, "too_large", "the JSON body is too large");
        job_hold(s, &hold, req->id);
        r = retranscribe(s, c, req);
        job_release(s, &hold);
        return r;
    default: return reply_not_found(s, c, req);
    }
}

static enum MHD_Result handle_health(struct srv_server *s, struct MHD_Connection *c,
                                     struct srv_req *req) {
    int queued, running;
    const int reachable = srv_jobs_ping(s->jobs) == 0;
    srv_jobs_counts(s->jobs, &queued, &running);
    const int fleet = srv_jobs_workers(s->jobs);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", reachable ? "ok" : "store_unreachable");
    cJSON_AddStringToObject(o, "version", dumu_version());
    cJSON *store = cJSON_AddObjectToObject(o, "store");
    cJSON_AddStringToObject(store, "kind", srv_jobs_kind(s->jobs));
    cJSON_AddBoolToObject(store, "reachable", reachable);
    cJSON_AddNumberToObject(o, "queue_depth", queued);
    cJSON_AddNumberToObject(o, "running", running);
    cJSON_AddNumberToObject(o, "workers", s->workers);
    /* worker processes alive in the fleet (PostgreSQL: their heartbeats); null alone */
    if (fleet >= 0)
        cJSON_AddNumberToObject(o, "live_workers", fleet);
    else
        cJSON_AddNullToObject(o, "live_workers");
    cJSON_AddNumberToObject(o, "threads_per_worker", s->threads);
    cJSON *m = cJSON_AddObjectToObject(o, "models_loaded");
    cJSON_AddBoolToObject(m, "htdemucs", s->sep != NULL); /* the API's name for the separator */
    cJSON_AddBoolToObject(m, "basic_pitch", s->bp != NULL);
    cJSON_AddNumberToObject(o, "max_upload_mb", s->max_upload_mb);
    /* whether `fast` takes effect on this node (AVX512_BF16), and its default */
    cJSON_AddBoolToObject(o, "fast_available", dumu_fast_available());
    cJSON_AddBoolToObject(o, "fast_default", s->fast);
    cJSON_AddNumberToObject(o, "seconds_per_audio_minute",
                            (double)(int)(srv_pool_seconds_per_minute(s->pool) * 10.0 + 0.5) /
                                10.0);
    return srv_reply_tree(s, c, req, reachable ? 200 : 503, o);
}

/* GET /api/jobs?q=TEXT&limit=N&offset=N: the asker's jobs, newest first, a page at a time,
 * those whose title or key holds q only. */
static enum MHD_Result handle_jobs_list(struct srv_server *s, struct MHD_Connection *c,
                                        struct srv_req *req) {
    enum { MAX_LIST = 100, DEFAULT_LIST = 50 }; /* a page, and what a page fetches unasked */

    int limit, offset;
    if (int_arg(c, "limit", 1, MAX_LIST, DEFAULT_LIST, &limit))
        return srv_reply_error(s, c, req, 400, "bad_request", "limit must be 1..100");
    if (int_arg(c, "offset", 0, 1 << 30, 0, &offset))
        return srv_reply_error(s, c, req, 400, "bad_request", "offset must be 0 or more");
    const char *search = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
    if (search && strlen(search) > SRV_TITLE_LEN)
        return srv_reply_error(s, c, req, 400, "bad_request", "q is too long");
    if (search && !srv_utf8_valid(search))
        return srv_reply_error(s, c, req, 400, "bad_request", "q is not UTF-8");
    struct srv_job *list = malloc(MAX_LIST * sizeof *list);
    /* with --auth on, one's own only (none for an anonymous browser without its token yet) */
    struct srv_job_query q = {.owned_by = s->auth == SRV_AUTH_OFF ? NULL : req->principal,
                              .search = search,
                              .offset = offset};
    int total = 0;
    int n = list ? srv_jobs_list(s->jobs, &q, list, limit, &total) : -1;
    if (n < 0) {
        free(list);
        return srv_reply_store_error(s, c, req);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "jobs");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, srv_job_json(s, &list[i]));
    free(list);
    cJSON_AddNumberToObject(o, "total", total);
    cJSON_AddNumberToObject(o, "limit", limit);
    cJSON_AddNumberToObject(o, "offset", offset);
    return srv_reply_tree(s, c, req, 200, o);
}

/* ---------------------------------------------------------------------------------------- */
/* Static files */

static const char *content_type(const char *path) {
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".woff", "font/woff"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
        {".wasm", "application/wasm"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i][0]) == 0) return types[i][1];
    return "application/octet-stream";
}

/* A URL path is served only if every segment is plain: no "..", no hidden files, no
 * backslashes or control bytes (MHD has already percent-decoded it). */
static int safe_static_path(const char *url) {
    if (url[0] != '/' || strlen(url) > 512) return 0;
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == '\\') return 0;
        if (p[0] == '/' && p[1] == '.') return 0;
        if (p[0] == '/' && p[1] == '/') return 0;
    }
    return 1;
}

static enum MHD_Result handle_static(struct srv_server *s, struct MHD_Connection *c,
                                     struct srv_req *req, const char *url) {
    char path[4096];
    struct stat sb;
    if (safe_static_path(url) && strcmp(url, "/") != 0) {
        int n = snprintf(path, sizeof path, "%s%s", s->web_dir, url);
        if (n > 0 && (size_t)n < sizeof path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            return reply_file(s, c, req, path, content_type(path), NULL);
    }
    /* SPA routing: the app decides what an unknown path shows. */
    snprintf(path, sizeof path, "%s/index.html", s->web_dir);
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        return reply_file(s, c, req, path, "text/html; charset=utf-8", NULL);
    return srv_reply_error(s, c, req, 404, "not_found",
                           "the web app is not built (see the README) - the API is under /api");
}

/* ---------------------------------------------------------------------------------------- */
/* Routing */

/* Fills req->route, req->id and req->stem from the URL. */
static void route(struct srv_req *req, const char *url) {
    static const struct {
        const char *path;
        enum route r;
    } fixed[] = {
        {"/health", R_HEALTH},       {"/openapi.json", R_OPENAPI}, {"/docs", R_DOCS},
        {"/api/process", R_PROCESS}, {"/api/jobs", R_JOBS},        {"/api/account", R_ACCOUNT},
        {"/api/session", R_SESSION}, {"/api/keys", R_KEYS},        {"/api/batches", R_BATCHES},
    };

    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (strcmp(url, fixed[i].path) == 0) {
            req->route = fixed[i].r;
            return;
        }
    }
    if (strncmp(url, "/api/", 5) != 0 && strcmp(url, "/api") != 0) {
        req->route = R_STATIC;
        return;
    }
    req->route = R_API_UNKNOWN;
    char buf[256];
    if (strlen(url) >= sizeof buf) return;
    strcpy(buf, url);
    char *seg[8], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(buf, "/", &save); t && n < 8; t = strtok_r(NULL, "/", &save))
        seg[n++] = t;
    if (n < 3) return;
    /* An id that is no UUID is an unknown job: 404, as the contract says. */
    snprintf(req->id, sizeof req->id, "%s", srv_id_valid(seg[2]) ? seg[2] : "");
    if (n == 3 && strcmp(seg[1], "jobs") == 0) req->route = R_JOB;
    if (n == 3 && strcmp(seg[1], "progress") == 0) req->route = R_PROGRESS;
    if (n == 3 && strcmp(seg[1], "result") == 0) req->route = R_RESULT;
    if (n == 3 && strcmp(seg[1], "keys") == 0) req->route = R_KEY;
    if (n == 3 && strcmp(seg[1], "batches") == 0) req->route = R_BATCH;
    if (n == 4 && strcmp(seg[1], "batches") == 0 && strcmp(seg[3], "zip") == 0)
        req->route = R_BATCH_ZIP;
    if (n == 4 && strcmp(seg[1], "progress") == 0 && strcmp(seg[2], "batch") == 0) {
        req->route = R_BATCH_PROGRESS;
        snprintf(req->id, sizeof req->id, "%s", srv_id_valid(seg[3]) ? seg[3] : "");
    }
    if (n == 4 && strcmp(seg[1], "jobs") == 0 && strcmp(seg[3], "midi") == 0) req->route = R_MIDI;
    if (n == 4 && strcmp(seg[1], "jobs") == 0 && strcmp(seg[3], "musicxml") == 0)
        req->route = R_MUSICXML;
    if (n == 4 && strcmp(seg[1], "jobs") == 0 && strcmp(seg[3], "tab") == 0) req->route = R_TAB;
    if (n == 4 && strcmp(seg[1], "jobs") == 0 && strcmp(seg[3], "mix") == 0) req->route = R_MIX;
    if (n == 4 && strcmp(seg[1], "jobs") == 0 && strcmp(seg[3], "retry") == 0) req->route = R_RETRY;
    if (n == 4 && strcmp(seg[1], "jobs") == 0 && strcmp(seg[3], "transcribe") == 0)
        req->route = R_TRANSCRIBE;
    if (n == 5 && strcmp(seg[1], "jobs") == 0 && strcmp(seg[3], "stems") == 0) {
        req->route = R_STEM;
        snprintf(req->stem, sizeof req->stem, "%s", seg[4]);
    }
}

static int method_allowed(enum route r, const char *method) {
    const char *list = allowed[r];
    if (!list) return 1;
    size_t n = strlen(method);
    for (const char *p = strstr(list, method); p; p = strstr(p + 1, method))
        if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

/* What route `r` asks of the one asking (http.h enum srv_access). */
static enum srv_access access_of(enum route r, const char *method) {
    int post = strcmp(method, "POST") == 0;
    if (strcmp(method, "OPTIONS") == 0) return SRV_ACCESS_PUBLIC;
    switch (r) {
    case R_PROCESS:
    case R_BATCHES: return SRV_ACCESS_UPLOAD;
    case R_BATCH:
    case R_BATCH_ZIP:
    case R_BATCH_PROGRESS:
    case R_JOBS:
    case R_JOB:
    case R_MIDI:
    case R_MUSICXML:
    case R_TAB:
    case R_STEM:
    case R_MIX:
    case R_RETRY:
    case R_TRANSCRIBE:
    case R_PROGRESS:
    case R_RESULT:
    case R_KEYS:
    case R_KEY: return SRV_ACCESS_PRIVATE;
    case R_ACCOUNT: return post ? SRV_ACCESS_SIGN_IN : SRV_ACCESS_PRIVATE;
    case R_SESSION:
        return post                            ? SRV_ACCESS_SIGN_IN
               : strcmp(method, "DELETE") == 0 ? SRV_ACCESS_LOGOUT
                                               : SRV_ACCESS_PUBLIC;
    default: return SRV_ACCESS_PUBLIC;
    }
}

/* 1 for the routes whose JSON body is read (up to SRV_BODY_MAX); others' bodies are dropped. */
static int takes_body(enum route r) {
    return r == R_TRANSCRIBE || r == R_ACCOUNT || r == R_SESSION || r == R_KEYS;
}

static enum MHD_Result dispatch(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                                const char *url) {
    const char *m = req->method;
    if (req->route == R_API_UNKNOWN)
        return srv_reply_error(s, c, req, 404, "not_found", "no such API route");
    if (strcmp(m, "OPTIONS") == 0 && s->cors_origin) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allowed[req->route]);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Content-Type, Last-Event-ID, Authorization, X-CSRF-Token");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
        return srv_queue(s, c, req, 204, resp, 0);
    }
    if (!method_allowed((enum route)req->route, m)) {
        struct MHD_Response *resp = NULL;
        cJSON *o = cJSON_CreateObject();
        char msg[96];
        snprintf(msg, sizeof msg, "use %s", allowed[req->route]);
        cJSON_AddStringToObject(o, "code", "method_not_allowed");
        cJSON_AddStringToObject(o, "message", msg);
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (text) resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
            free(text);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Allow", allowed[req->route]);
        return srv_queue(s, c, req, 405, resp, (int64_t)strlen(text));
    }
    if (req->auth_status)
        return srv_reply_later(s, c, req, (unsigned)req->auth_status, req->auth_code,
                               req->auth_message, req->auth_retry_after);
    switch (req->route) {
    case R_HEALTH: return handle_health(s, c, req);
    case R_ACCOUNT: return srv_account_handle(s, c, req, SRV_ROUTE_ACCOUNT);
    case R_SESSION: return srv_account_handle(s, c, req, SRV_ROUTE_SESSION);
    case R_KEYS: return srv_account_handle(s, c, req, SRV_ROUTE_KEYS);
    case R_KEY: return srv_account_handle(s, c, req, SRV_ROUTE_KEY);
    case R_OPENAPI: return srv_reply_json(s, c, req, 200, srv_openapi_json());
    case R_DOCS: {
        const char *html = srv_docs_html();
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(strlen(html), (void *)html, MHD_RESPMEM_PERSISTENT);
        if (resp) MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
        return srv_queue(s, c, req, 200, resp, (int64_t)strlen(html));
    }
    case R_JOBS: return handle_jobs_list(s, c, req);
    case R_PROGRESS:
    case R_BATCH_PROGRESS:
        if (!req->id[0]) return reply_not_found(s, c, req);
        return srv_sse_handle(s, c, req, req->route == R_BATCH_PROGRESS);
    case R_BATCH:
    case R_BATCH_ZIP:
        if (!req->id[0]) return reply_not_found(s, c, req);
        return srv_batch_handle(s, c, req, req->route == R_BATCH_ZIP);
    case R_JOB:
    case R_RESULT:
    case R_MIDI:
    case R_MUSICXML:
    case R_TAB:
    case R_STEM:
    case R_MIX:
    case R_RETRY:
    case R_TRANSCRIBE:
        if (!req->id[0]) return reply_not_found(s, c, req);
        return handle_job_route(s, c, req, strcmp(m, "DELETE") == 0);
    default: return handle_static(s, c, req, url);
    }
}

/* 1 for POST /api/process and POST /api/batches: their bodies stream through upload.c. */
static int is_upload(const struct srv_req *req, const char *method) {
    return (req->route == R_PROCESS || req->route == R_BATCHES) && strcmp(method, "POST") == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
    (void)version;
    struct srv_server *s = cls;
    struct srv_req *req = *req_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req) return MHD_NO;
        atomic_init(&req->refs, 1);
        atomic_init(&req->bytes, 0);
        req->t0 = mono_s();
        snprintf(req->method, sizeof req->method, "%s", method);
        snprintf(req->path, sizeof req->path, "%s", url);
        *req_cls = req;
        /* the headers are in: from now on the connection may idle as an SSE stream does */
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S);
        route(req, url);
        srv_auth_request(s, c, req, access_of((enum route)req->route, method));
        /* every API request counts against its asker's bucket (limits.c) */
        if (req->route >= R_PROCESS && req->route <= R_API_UNKNOWN && strcmp(method, "OPTIONS"))
            srv_limits_request(s, c, req);
        /* Only an upload answers in this first call (its early errors: the body is then
         * dropped and the connection closed). Everything else answers in a later call, since
         * MHD 0.9.75 closes the connection after a reply queued in the first one. */
        if (is_upload(req, method))
            return srv_upload_handle(s, c, req, req->route == R_BATCHES, upload_data,
                                     upload_data_size);
        return MHD_YES;
    }
    if (is_upload(req, method))
        return srv_upload_handle(s, c, req, req->route == R_BATCHES, upload_data, upload_data_size);
    if (*upload_data_size) { /* a JSON body (re-transcribe); other routes' bodies are dropped */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->body_too_big || req->body_len + n > SRV_BODY_MAX) {
            req->body_too_big = 1;
            /* A body that keeps coming for a route that takes none is cut off. */
            return takes_body((enum route)req->route) ? MHD_YES : MHD_NO;
        }
        if (!takes_body((enum route)req->route)) {
            req->body_len += n;
            return MHD_YES;
        }
        char *b = realloc(req->body, req->body_len + n + 1);
        if (!b) return MHD_NO;
        memcpy(b + req->body_len, upload_data, n);
        req->body = b;
        req->body_len += n;
        b[req->body_len] = '\0';
        return MHD_YES;
    }
    return dispatch(s, c, req, url);
}

void srv_req_release(struct srv_req *req) {
    if (atomic_fetch_sub(&req->refs, 1) != 1) return;
    srv_upload_free(req->upload);
    free(req->body);
    free(req);
}

/* The access log: one line per request when it completes. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    struct srv_req *req = *req_cls;
    if (!req) return;
    fprintf(stderr, "%s %s %d %lld %.1fms%s\n", req->method, req->path, req->status,
            (long long)atomic_load(&req->bytes), (mono_s() - req->t0) * 1000.0,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    *req_cls = NULL;
    srv_req_release(req);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    fputs("dumu serve: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

struct MHD_Daemon *srv_http_start(struct srv_server *s, const char *host, int port) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    int gai = getaddrinfo(host, port_text, &hints, &ai);
    if (gai) {
        fprintf(stderr, "dumu serve: cannot resolve %s: %s\n", host, gai_strerror(gai));
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        /* Request line + headers must fit in 32 KiB, else 431. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
        /* raised to IDLE_TIMEOUT_S once a request's headers are in (on_request) */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HEADERS_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        2048u, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) fprintf(stderr, "dumu serve: cannot listen on %s:%d\n", host, port);
    return d;
}

void srv_http_stop(struct MHD_Daemon *d) {
    if (d) MHD_stop_daemon(d);
}
