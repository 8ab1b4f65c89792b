/* upload.c - POST /api/process and POST /api/batches: streams a multipart upload to disk and
 * accepts it as one job, or as a batch of jobs (one per `file` field, the same parameters for
 * all, at most SRV_BATCH_MAX).
 *
 * Order, so that a 202 means the jobs survive a crash:
 *   1. before reading the body: 413 when Content-Length is over the limit (each file
 *      max_upload_mb; a batch SRV_BATCH_MAX of them); when who is asking may not upload (401,
 *      403 without the CSRF token: account.c; 429 over its requests per minute or jobs at
 *      once: limits.c), the queue is full (429) or the body is not multipart/form-data (400),
 *      the body is read and dropped before the answer, since a server that closes on unread
 *      bytes resets the connection and the client may never see the answer;
 *   2. each `file` field streams into DATA_DIR/uploads/<id>.part (never held in memory; over
 *      the limit, writing stops and the rest of the body is read and dropped, then 413);
 *      `webhook_url` (up to 2048 bytes) is kept; the other fields (at most 16, each under
 *      128 bytes) are parameters (params.c);
 *   3. at the end of the body: 400 for a malformed or truncated multipart body, a bad
 *      parameter, a refused webhook URL (webhook.h) or no file; fsync; the content check of
 *      every file (a full decode: 415 naming the file when one is not audio or holds none),
 *      so that a batch is taken whole or not at all; rename to <id>.audio; room in the queue;
 *      the asker's limits (limits.c: each song's length 413, today's minutes and its jobs
 *      429); publish the uploads to the job store (PostgreSQL: streamed into the database,
 *      503 when it cannot be reached); insert the jobs' rows, then the batch's; 202
 *      {job_id, state} or {batch_id, job_ids, state}, with webhook_secret when a webhook
 *      was given.
 * Temporary files and uploads not yet in a job are removed on every failure (srv_upload_free).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "webhook.h"

enum { MAX_FIELDS = 16, FIELD_KEY = 32, FIELD_VALUE = 128 };

/* Per-file and whole-body allowance for the multipart framing and the parameters: well over
 * what a form adds to its files. */
#define FRAMING_BYTES 65536u

/* One `file` field: one job to be. */
struct upfile {
    char id[SRV_ID_LEN + 1];
    char part[4096]; /* its temporary path; "" once renamed or removed */
    int stored;      /* renamed to its upload (and published): removed unless it became a job */
    int job;         /* its job is in the store: the upload is the job's now */
    uint64_t bytes;
    char raw[256];             /* the client's file name as sent (cut), to tell parts apart */
    char name[SRV_NAME_LEN];   /* sanitised client file name */
    char title[SRV_TITLE_LEN]; /* the client file name as shown (srv_title_of) */
    double duration;           /* seconds, from the content check */
};

struct srv_upload {
    struct srv_server *s;
    struct MHD_PostProcessor *pp;
    int batch;      /* POST /api/batches: up to SRV_BATCH_MAX files */
    int fd;         /* the open file's, -1 between files */
    uint64_t limit; /* max_upload_mb in bytes, per file */
    struct upfile files[SRV_BATCH_MAX];
    int n_files;
    int too_large;             /* a file or the body is over the limit: keep reading, answer 413 */
    char bad[160];             /* first problem with a field, answered 400 */
    int store_errno;           /* why the upload could not be written: the server's fault */
    char webhook[SRV_URL_LEN]; /* the `webhook_url` field */
    size_t webhook_len;

    struct {
        char key[FIELD_KEY];
        char value[FIELD_VALUE];
        size_t len;
    } fields[MAX_FIELDS];

    int n_fields;
    uint64_t body_bytes; /* whole body received */
    uint64_t body_limit; /* whole body allowed */

    enum {
        REFUSE_NONE,
        REFUSE_AUTH, /* who is asking may not upload (req->auth_status): account.c, limits.c */
        REFUSE_QUEUE_FULL,
        REFUSE_NOT_MULTIPART
    } refuse; /* drain, then say */
};

/* Closes the open file; its bytes on disk first (fsync) unless writing failed already. */
static void close_file(struct srv_upload *u) {
    if (u->fd < 0) return;
    int e = !u->store_errno && fsync(u->fd) ? errno : 0;
    if (close(u->fd) && !e) e = errno;
    u->fd = -1;
    if (!u->store_errno) u->store_errno = e;
}

/* A new `file` field named `filename` begins: its temporary file. 0, or -1 with the problem
 * noted (u->bad, u->store_errno). */
static int start_file(struct srv_upload *u, const char *filename) {
    if (u->n_files == (u->batch ? SRV_BATCH_MAX : 1)) {
        if (u->bad[0]) return -1;
        if (u->batch)
            snprintf(u->bad, sizeof u->bad, "at most %d files per batch", SRV_BATCH_MAX);
        else
            snprintf(u->bad, sizeof u->bad,
                     "send one file per request (POST /api/batches takes several)");
        return -1;
    }
    close_file(u);
    struct upfile *f = &u->files[u->n_files++];
    snprintf(f->raw, sizeof f->raw, "%s", filename ? filename : "");
    srv_sanitize_name(filename, f->name);
    srv_title_of(filename, f->title);
    srv_uuid_new(f->id);
    if (srv_jobs_path(u->s->jobs, f->id, "part", f->part, sizeof f->part)) {
        f->part[0] = '\0';
        u->store_errno = ENAMETOOLONG;
        return -1;
    }
    u->fd = open(f->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        u->store_errno = errno;
        f->part[0] = '\0';
        return -1;
    }
    return 0;
}

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *filename, const char *content_type,
                                const char *transfer_encoding, const char *data, uint64_t off,
                                size_t size) {
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    struct srv_upload *u = cls;
    /* MHD passes key NULL for a part whose Content-Disposition has no name="..." (found by
     * tests/fuzz/fuzz_server_batch.c: the strcmp below crashed the server) */
    if (!key) {
        if (!u->bad[0]) snprintf(u->bad, sizeof u->bad, "a form field without a name");
        return MHD_YES;
    }
    if (strcmp(key, "file") == 0) {
        /* MHD calls with offset 0 at least once per part (an empty first piece may come
         * before the data, also at offset 0): a part is new when the file before it has
         * bytes or another name */
        struct upfile *f = u->n_files ? &u->files[u->n_files - 1] : NULL;
        if (off == 0 && (!f || f->bytes > 0 ||
                         strncmp(f->raw, filename ? filename : "", sizeof f->raw - 1) != 0)) {
            if (u->too_large || u->bad[0] || u->store_errno || start_file(u, filename))
                return MHD_YES;
            f = &u->files[u->n_files - 1];
        }
        if (!f) return MHD_YES;
        f->bytes += size;
        if (f->bytes > u->limit) u->too_large = 1;
        if (u->too_large || u->bad[0] || u->store_errno || u->fd < 0 || !size) return MHD_YES;
        for (size_t done = 0; done < size;) {
            ssize_t w = write(u->fd, data + done, size - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                u->store_errno = w < 0 ? errno : ENOSPC;
                u->too_large = 1; /* drain the rest of the body unwritten */
                return MHD_YES;
            }
            done += (size_t)w;
        }
        return MHD_YES;
    }
    if (strcmp(key, "webhook_url") == 0) {
        if (u->webhook_len + size >= sizeof u->webhook) {
            if (!u->bad[0]) snprintf(u->bad, sizeof u->bad, "webhook_url is too long");
            return MHD_YES;
        }
        memcpy(u->webhook + u->webhook_len, data, size);
        u->webhook_len += size;
        u->webhook[u->webhook_len] = '\0';
        return MHD_YES;
    }
    /* A parameter; MHD may deliver a value in pieces (off > 0). */
    int i = u->n_fields - 1;
    if (off == 0 || i < 0 || strcmp(u->fields[i].key, key) != 0) {
        if (u->n_fields == MAX_FIELDS || strlen(key) >= FIELD_KEY) {
            if (!u->bad[0]) snprintf(u->bad, sizeof u->bad, "too many or too long fields");
            return MHD_YES;
        }
        i = u->n_fields++;
        snprintf(u->fields[i].key, FIELD_KEY, "%s", key);
        u->fields[i].len = 0;
    }
    if (u->fields[i].len + size >= FIELD_VALUE) {
        if (!u->bad[0])
            snprintf(u->bad, sizeof u->bad, "field '%.32s' is too long or not a parameter", key);
        return MHD_YES;
    }
    memcpy(u->fields[i].value + u->fields[i].len, data, size);
    u->fields[i].len += size;
    return MHD_YES;
}

void srv_upload_free(struct srv_upload *u) {
    if (!u) return;
    if (u->pp) MHD_destroy_post_processor(u->pp);
    if (u->fd >= 0) close(u->fd);
    for (int i = 0; i < u->n_files; i++) {
        struct upfile *f = &u->files[i];
        if (f->part[0]) unlink(f->part);
        if (f->stored && !f->job) srv_jobs_discard(u->s->jobs, f->id, "upload");
    }
    free(u);
}

/* 1 when `n` more jobs would pass the queue's limit. */
static int queue_full(const struct srv_server *s, int n) {
    int queued, running;
    srv_jobs_counts(s->jobs, &queued, &running);
    return queued + n > s->max_queue;
}

static enum MHD_Result reply_queue_full(const struct srv_server *s, struct MHD_Connection *c,
                                        struct srv_req *req) {
    return srv_reply_later(s, c, req, 429, "queue_full",
                           "too many jobs are waiting; try again later", 30);
}

/* The upload could not be written (errno `e`): the server's fault, never the client's. A full
 * disk is 507 with a time to come back; anything else is 500. */
static enum MHD_Result reply_no_store(const struct srv_server *s, struct MHD_Connection *c,
                                      struct srv_req *req, int e) {
    if (e != ENOSPC && e != EDQUOT)
        return srv_reply_error(s, c, req, 500, "internal", "cannot store the upload");
    return srv_reply_later(s, c, req, 507, "insufficient_storage",
                           "the server is out of disk space; try again later", 300);
}

static enum MHD_Result reply_too_large(const struct srv_server *s, struct MHD_Connection *c,
                                       struct srv_req *req, int batch) {
    char msg[96];
    if (batch)
        snprintf(msg, sizeof msg, "each upload is limited to %d MB, a batch to %d files",
                 s->max_upload_mb, SRV_BATCH_MAX);
    else
        snprintf(msg, sizeof msg, "uploads are limited to %d MB", s->max_upload_mb);
    return srv_reply_error(s, c, req, 413, "too_large", msg);
}

/* Step 1: checks before the body and the upload's state. */
static enum MHD_Result begin(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                             int batch) {
    uint64_t limit = (uint64_t)s->max_upload_mb << 20;
    uint64_t body_limit = (limit + FRAMING_BYTES) * (batch ? SRV_BATCH_MAX : 1);
    const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (len && strtoull(len, NULL, 10) > body_limit) return reply_too_large(s, c, req, batch);
    struct srv_upload *u = calloc(1, sizeof *u);
    if (!u) return MHD_NO;
    u->s = s;
    u->fd = -1;
    u->batch = batch;
    u->limit = limit;
    u->body_limit = body_limit;
    req->upload = u;
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (req->auth_status || srv_limits_upload_begin(s, req))
        u->refuse = REFUSE_AUTH;
    else if (queue_full(s, 1))
        u->refuse = REFUSE_QUEUE_FULL;
    else if (!type || strncasecmp(type, "multipart/form-data", 19) != 0)
        u->refuse = REFUSE_NOT_MULTIPART;
    if (u->refuse) return MHD_YES;
    u->pp = MHD_create_post_processor(c, 16384, on_field, u);
    if (!u->pp) return srv_reply_error(s, c, req, 400, "bad_request", "malformed multipart header");
    return MHD_YES;
}

/* The content check of file `f` (a full decode): 0 with f->duration, else the reply. A
 * batch's messages name the file. */
static int check_audio(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                       struct srv_upload *u, struct upfile *f, enum MHD_Result *r) {
    char msg[SRV_TITLE_LEN + 128], who[SRV_TITLE_LEN + 8] = "the file";
    if (u->batch) snprintf(who, sizeof who, "'%s'", f->title);
    if (f->bytes == 0) {
        snprintf(msg, sizeof msg, "%s is empty", who);
        *r = srv_reply_error(s, c, req, 415, "unsupported_media", msg);
        return -1;
    }
    dumu_audio audio = {0};
    dumu_error err = {0};
    dumu_status rc = dumu_audio_decode_file(f->part, NULL, &audio, &err);
    if (!rc) f->duration = (double)audio.n_frames / audio.sample_rate;
    dumu_audio_deinit(&audio);
    if (!rc) return 0;
    if (rc == DUMU_E_TOO_LONG) {
        snprintf(msg, sizeof msg, "%s%s%s", u->batch ? who : "", u->batch ? ": " : "", err.message);
        *r = srv_reply_error(s, c, req, 413, "too_large", msg);
    } else if (rc == DUMU_E_NOMEM) {
        *r = srv_reply_error(s, c, req, 500, "internal", "out of memory");
    } else if (rc == DUMU_E_IO) {
        *r = srv_reply_error(s, c, req, 500, "internal", "cannot read the stored upload");
    } else {
        snprintf(msg, sizeof msg, "%s is not audio that Dumu can decode (WAV, FLAC, OGG, MP3)",
                 who);
        *r = srv_reply_error(s, c, req, 415, "unsupported_media", msg);
    }
    return -1;
}

/* Takes the jobs of the checked files out of the store again (a later one failed). */
static void remove_jobs(struct srv_server *s, struct srv_upload *u) {
    for (int i = 0; i < u->n_files; i++) {
        enum srv_state was;
        if (u->files[i].job && srv_jobs_remove(s->jobs, u->files[i].id, &was) >= 0)
            u->files[i].job = 0; /* removed with its files */
    }
}

/* Step 3: the whole body is in. */
static enum MHD_Result finish(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                              struct srv_upload *u) {
    enum MHD_Result complete = MHD_destroy_post_processor(u->pp), r = MHD_NO;
    u->pp = NULL;
    close_file(u);
    if (u->store_errno) return reply_no_store(s, c, req, u->store_errno);
    if (u->too_large) return reply_too_large(s, c, req, u->batch);
    if (complete != MHD_YES)
        return srv_reply_error(s, c, req, 400, "bad_request",
                               "malformed or truncated multipart body");
    if (u->bad[0]) return srv_reply_error(s, c, req, 400, "bad_request", u->bad);
    if (!u->n_files) return srv_reply_error(s, c, req, 400, "bad_request", "missing field 'file'");
    struct srv_job job;
    memset(&job, 0, sizeof job);
    job.params = srv_params_default();
    job.params.fast = s->fast; /* the server's default, which the form may override */
    char why[256];
    for (int i = 0; i < u->n_fields; i++)
        if (srv_params_set(&job.params, u->fields[i].key, u->fields[i].value, u->fields[i].len, why,
                           sizeof why))
            return srv_reply_error(s, c, req, 400, "bad_request", why);
    /* a webhook's URL is checked now, as well as before each call (webhook.h) */
    char secret[SRV_HASH_LEN] = "";
    if (u->webhook_len) {
        srv_webhook_target target;
        if (srv_webhook_check(u->webhook, s->webhook_allow_private, &target, why, sizeof why))
            return srv_reply_error(s, c, req, 400, "bad_request", why);
        srv_webhook_new_secret(secret);
    }
    double total_s = 0.0;
    for (int i = 0; i < u->n_files; i++) {
        if (check_audio(s, c, req, u, &u->files[i], &r)) return r;
        total_s += u->files[i].duration;
    }
    char path[4096];
    for (int i = 0; i < u->n_files; i++) {
        struct upfile *f = &u->files[i];
        if (srv_jobs_path(s->jobs, f->id, "upload", path, sizeof path) || rename(f->part, path))
            return srv_reply_error(s, c, req, 500, "internal", "cannot store the upload");
        f->part[0] = '\0';
        f->stored = 1;
    }
    /* The queue may have filled while this body streamed in. */
    if (queue_full(s, u->n_files)) return reply_queue_full(s, c, req);
    /* The asker's limits (limits.c): each song's length, today's minutes, its jobs. */
    double durations[SRV_BATCH_MAX];
    for (int i = 0; i < u->n_files; i++)
        durations[i] = u->files[i].duration;
    if (srv_limits_upload_audio(s, c, req, durations, u->n_files, &r)) return r;
    /* Into the store (PostgreSQL: streamed into the database, the local file removed). */
    struct srv_batch batch = {0};
    int failed = 0;
    for (int i = 0; i < u->n_files && !failed; i++)
        failed = srv_jobs_publish(s->jobs, u->files[i].id, "upload") != 0;
    if (u->batch) srv_uuid_new(batch.id);
    snprintf(job.message, sizeof job.message, "waiting for a worker");
    job.created = (int64_t)time(NULL);
    /* the asker's (account.c); "" with --auth off */
    snprintf(job.owned_by, sizeof job.owned_by, "%s", req->principal);
    snprintf(job.batch_id, sizeof job.batch_id, "%s", batch.id);
    if (!u->batch) { /* a batch's webhook speaks for all its jobs at once */
        snprintf(job.webhook_url, sizeof job.webhook_url, "%s", u->webhook);
        snprintf(job.webhook_secret, sizeof job.webhook_secret, "%s", secret);
    }
    for (int i = 0; i < u->n_files && !failed; i++) {
        struct upfile *f = &u->files[i];
        snprintf(job.id, sizeof job.id, "%s", f->id);
        snprintf(job.name, sizeof job.name, "%s", f->name[0] ? f->name : "audio");
        snprintf(job.title, sizeof job.title, "%s", f->title[0] ? f->title : job.name);
        job.duration = f->duration;
        failed = srv_jobs_insert(s->jobs, &job) != 0;
        if (!failed) f->job = 1;
    }
    /* The batch after its jobs: until all of them are in, a job that ends finds no batch to
     * call done; once it is in, it may have ended already (webhook.h: told once). */
    if (!failed && u->batch) {
        snprintf(batch.owned_by, sizeof batch.owned_by, "%s", req->principal);
        batch.created = (int64_t)time(NULL);
        snprintf(batch.webhook_url, sizeof batch.webhook_url, "%s", u->webhook);
        snprintf(batch.webhook_secret, sizeof batch.webhook_secret, "%s", secret);
        failed = srv_jobs_batch_insert(s->jobs, &batch) != 0;
        if (!failed && batch.webhook_url[0]) srv_webhook_job_ended(s->jobs, &job);
    }
    if (failed) {
        remove_jobs(s, u);
        srv_limits_upload_undo(s, req, total_s);
        return srv_reply_store_error(s, c, req);
    }
    cJSON *o = cJSON_CreateObject();
    if (u->batch) {
        cJSON_AddStringToObject(o, "batch_id", batch.id);
        cJSON *ids = cJSON_AddArrayToObject(o, "job_ids");
        for (int i = 0; i < u->n_files; i++)
            cJSON_AddItemToArray(ids, cJSON_CreateString(u->files[i].id));
    } else {
        cJSON_AddStringToObject(o, "job_id", job.id);
    }
    cJSON_AddStringToObject(o, "state", "queued");
    if (secret[0]) cJSON_AddStringToObject(o, "webhook_secret", secret);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return MHD_NO;
    req->no_store = secret[0] != 0; /* the secret is shown this once */
    r = srv_reply_json(s, c, req, 202, text);
    free(text);
    return r;
}

enum MHD_Result srv_upload_handle(struct srv_server *s, struct MHD_Connection *c,
                                  struct srv_req *req, int batch, const char *data, size_t *size) {
    struct srv_upload *u = req->upload;
    if (!u) {
        if (!req->status) return begin(s, c, req, batch);
        *size = 0; /* an early reply is queued; the body is dropped */
        return MHD_YES;
    }
    if (u->refuse) { /* drained up to the limit, then answered */
        u->body_bytes += *size;
        if (u->body_bytes > u->body_limit) return MHD_NO;
        if (*size) {
            *size = 0;
            return MHD_YES;
        }
        if (u->refuse == REFUSE_AUTH)
            return srv_reply_later(s, c, req, (unsigned)req->auth_status, req->auth_code,
                                   req->auth_message, req->auth_retry_after);
        if (u->refuse == REFUSE_QUEUE_FULL) return reply_queue_full(s, c, req);
        return srv_reply_error(s, c, req, 400, "bad_request",
                               "send multipart/form-data with the audio in field 'file'");
    }
    if (!u->pp) { /* begin() answered an error; the body is dropped */
        *size = 0;
        return MHD_YES;
    }
    if (*size) {
        u->body_bytes += *size;
        /* Past the limit the body is only drained; a client that keeps sending far beyond
         * it is cut off. */
        if (u->body_bytes > u->body_limit) u->too_large = 1;
        if (u->too_large && u->body_bytes > u->body_limit + (64u << 20)) return MHD_NO;
        if (MHD_post_process(u->pp, data, *size) != MHD_YES && !u->bad[0])
            snprintf(u->bad, sizeof u->bad, "malformed multipart body");
        *size = 0;
        return MHD_YES;
    }
    return finish(s, c, req, u);
}
