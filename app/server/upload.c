/* upload.c - POST /api/process: streams a multipart upload to disk and accepts it as a job.
 *
 * Order, so that a 202 means the job survives a crash:
 *   1. before reading the body: 413 when Content-Length is over the limit; when who is asking
 *      may not upload (401, 403 without the CSRF token: account.c; 429 over its requests per
 *      minute or jobs at once: limits.c), the queue is full (429)
 *      or the body is not multipart/form-data (400), the body is read and dropped before the
 *      answer, since a server that closes on unread bytes resets the connection
 *      and the client may never see the answer;
 *   2. the `file` field streams into DATA_DIR/uploads/<id>.part (never held in memory; over
 *      the limit, writing stops and the rest of the body is read and dropped, then 413);
 *      the other fields (at most 16, each under 128 bytes) are parameters (params.c);
 *   3. at the end of the body: 400 for a malformed or truncated multipart body, a bad
 *      parameter or no file; fsync; the content check (a full decode: 415 when it is not
 *      audio or holds none); rename to <id>.audio; the asker's limits (limits.c: the song's
 *      length 413, today's minutes and its jobs 429); publish it to the job store (PostgreSQL:
 *      streamed into the database, 503 when it cannot be reached); insert the row; 202
 *      {job_id, state}.
 * The temporary file is removed on every failure (srv_upload_free).
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

enum { MAX_FIELDS = 16, FIELD_KEY = 32, FIELD_VALUE = 128 };

struct srv_upload {
    struct srv_server *s;
    struct MHD_PostProcessor *pp;
    char id[SRV_ID_LEN + 1];
    char part[4096]; /* temporary path, "" once renamed or removed */
    int fd;
    uint64_t file_bytes;       /* bytes of the `file` field received */
    uint64_t limit;            /* max_upload_mb in bytes */
    int has_file;              /* a `file` field started */
    int too_large;             /* over the limit: keep reading, answer 413 */
    char bad[160];             /* first problem with a field, answered 400 */
    int store_errno;           /* why the upload could not be written: the server's fault */
    char name[SRV_NAME_LEN];   /* sanitised client file name */
    char title[SRV_TITLE_LEN]; /* the client file name as shown (srv_title_of) */

    struct {
        char key[FIELD_KEY];
        char value[FIELD_VALUE];
        size_t len;
    } fields[MAX_FIELDS];

    int n_fields;
    uint64_t body_bytes; /* whole body received */

    enum {
        REFUSE_NONE,
        REFUSE_AUTH, /* who is asking may not upload (req->auth_status): account.c, limits.c */
        REFUSE_QUEUE_FULL,
        REFUSE_NOT_MULTIPART
    } refuse; /* drain, then say */
};

/* A random (version 4) UUID from getrandom. */
static int make_id(char out[SRV_ID_LEN + 1]) {
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) return -1;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, SRV_ID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
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
    if (strcmp(key, "file") == 0) {
        if (off == 0 && u->has_file && u->file_bytes > 0 && !u->bad[0])
            snprintf(u->bad, sizeof u->bad, "send one file per request");
        if (!u->has_file) {
            srv_sanitize_name(filename, u->name);
            srv_title_of(filename, u->title);
        }
        u->has_file = 1;
        u->file_bytes += size;
        if (u->file_bytes > u->limit) u->too_large = 1;
        if (u->too_large || u->bad[0] || !size) return MHD_YES;
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
    if (u->part[0]) unlink(u->part);
    free(u);
}

static int queue_full(const struct srv_server *s) {
    int queued, running;
    srv_jobs_counts(s->jobs, &queued, &running);
    return queued >= s->max_queue;
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

/* Step 1: checks before the body and the upload's state. */
static enum MHD_Result begin(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req) {
    uint64_t limit = (uint64_t)s->max_upload_mb << 20;
    const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    /* Multipart framing and the parameters add well under 64 KiB to the file. */
    if (len && strtoull(len, NULL, 10) > limit + 65536) {
        char msg[96];
        snprintf(msg, sizeof msg, "uploads are limited to %d MB", s->max_upload_mb);
        return srv_reply_error(s, c, req, 413, "too_large", msg);
    }
    struct srv_upload *u = calloc(1, sizeof *u);
    if (!u) return MHD_NO;
    u->s = s;
    u->fd = -1;
    u->limit = limit;
    req->upload = u;
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (req->auth_status || srv_limits_upload_begin(s, req))
        u->refuse = REFUSE_AUTH;
    else if (queue_full(s))
        u->refuse = REFUSE_QUEUE_FULL;
    else if (!type || strncasecmp(type, "multipart/form-data", 19) != 0)
        u->refuse = REFUSE_NOT_MULTIPART;
    if (u->refuse) return MHD_YES;
    u->pp = MHD_create_post_processor(c, 16384, on_field, u);
    if (!u->pp) return srv_reply_error(s, c, req, 400, "bad_request", "malformed multipart header");
    if (make_id(u->id) || srv_jobs_path(s->jobs, u->id, "part", u->part, sizeof u->part)) {
        u->part[0] = '\0';
        return srv_reply_error(s, c, req, 500, "internal", "cannot make a job id");
    }
    u->fd = open(u->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        u->part[0] = '\0';
        return srv_reply_error(s, c, req, 500, "internal", "cannot store the upload");
    }
    return MHD_YES;
}

/* Step 3: the whole body is in. */
static enum MHD_Result finish(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                              struct srv_upload *u) {
    enum MHD_Result complete = MHD_destroy_post_processor(u->pp);
    u->pp = NULL;
    if (!u->store_errno) { /* the bytes on disk before anything is said about them */
        int e = fsync(u->fd) ? errno : 0;
        if (close(u->fd) && !e) e = errno;
        u->fd = -1;
        u->store_errno = e;
    }
    if (u->store_errno) return reply_no_store(s, c, req, u->store_errno);
    if (u->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "uploads are limited to %d MB", s->max_upload_mb);
        return srv_reply_error(s, c, req, 413, "too_large", msg);
    }
    if (complete != MHD_YES)
        return srv_reply_error(s, c, req, 400, "bad_request",
                               "malformed or truncated multipart body");
    if (u->bad[0]) return srv_reply_error(s, c, req, 400, "bad_request", u->bad);
    if (!u->has_file) return srv_reply_error(s, c, req, 400, "bad_request", "missing field 'file'");
    struct srv_job job;
    memset(&job, 0, sizeof job);
    job.params = srv_params_default();
    job.params.fast = s->fast; /* the server's default, which the form may override */
    char why[160];
    for (int i = 0; i < u->n_fields; i++)
        if (srv_params_set(&job.params, u->fields[i].key, u->fields[i].value, u->fields[i].len, why,
                           sizeof why))
            return srv_reply_error(s, c, req, 400, "bad_request", why);
    if (u->file_bytes == 0)
        return srv_reply_error(s, c, req, 415, "unsupported_media", "the file is empty");

    /* The content check: it must decode. */
    dumu_audio audio = {0};
    dumu_error err = {0};
    dumu_status rc = dumu_audio_decode_file(u->part, NULL, &audio, &err);
    if (!rc) job.duration = (double)audio.n_frames / audio.sample_rate;
    dumu_audio_deinit(&audio);
    if (rc == DUMU_E_TOO_LONG) return srv_reply_error(s, c, req, 413, "too_large", err.message);
    if (rc == DUMU_E_NOMEM) return srv_reply_error(s, c, req, 500, "internal", "out of memory");
    if (rc == DUMU_E_IO)
        return srv_reply_error(s, c, req, 500, "internal", "cannot read the stored upload");
    if (rc)
        return srv_reply_error(s, c, req, 415, "unsupported_media",
                               "the file is not audio that Dumu can decode (WAV, FLAC, OGG, "
                               "MP3)");

    char path[4096];
    if (srv_jobs_path(s->jobs, u->id, "upload", path, sizeof path) || rename(u->part, path))
        return srv_reply_error(s, c, req, 500, "internal", "cannot store the upload");
    u->part[0] = '\0';
    /* The queue may have filled while this body streamed in. */
    if (queue_full(s)) {
        unlink(path);
        return reply_queue_full(s, c, req);
    }
    /* The asker's limits (limits.c): the song's length, today's minutes, its jobs. */
    enum MHD_Result refused;
    if (srv_limits_upload_audio(s, c, req, job.duration, &refused)) {
        unlink(path);
        return refused;
    }
    /* Into the store (PostgreSQL: streamed into the database, the local file removed). */
    if (srv_jobs_publish(s->jobs, u->id, "upload")) {
        srv_jobs_discard(s->jobs, u->id, "upload");
        srv_limits_upload_undo(s, req, job.duration);
        return srv_reply_store_error(s, c, req);
    }
    snprintf(job.id, sizeof job.id, "%s", u->id);
    snprintf(job.name, sizeof job.name, "%s", u->name[0] ? u->name : "audio");
    snprintf(job.title, sizeof job.title, "%s", u->title[0] ? u->title : job.name);
    snprintf(job.message, sizeof job.message, "waiting for a worker");
    job.created = (int64_t)time(NULL);
    /* the asker's (account.c); "" with --auth off */
    snprintf(job.owned_by, sizeof job.owned_by, "%s", req->principal);
    if (srv_jobs_insert(s->jobs, &job)) {
        srv_jobs_discard(s->jobs, u->id, "upload");
        srv_limits_upload_undo(s, req, job.duration);
        return srv_reply_store_error(s, c, req);
    }
    char body[96];
    snprintf(body, sizeof body, "{\"job_id\":\"%s\",\"state\":\"queued\"}", job.id);
    return srv_reply_json(s, c, req, 202, body);
}

enum MHD_Result srv_upload_handle(struct srv_server *s, struct MHD_Connection *c,
                                  struct srv_req *req, const char *data, size_t *size) {
    struct srv_upload *u = req->upload;
    if (!u) {
        if (!req->status) return begin(s, c, req);
        *size = 0; /* an early reply is queued; the body is dropped */
        return MHD_YES;
    }
    if (u->refuse) { /* drained up to the limit, then answered */
        u->body_bytes += *size;
        if (u->body_bytes > u->limit + 65536) return MHD_NO;
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
        if (u->too_large && u->body_bytes > u->limit + (64u << 20)) return MHD_NO;
        if (MHD_post_process(u->pp, data, *size) != MHD_YES && !u->bad[0])
            snprintf(u->bad, sizeof u->bad, "malformed multipart body");
        *size = 0;
        return MHD_YES;
    }
    return finish(s, c, req, u);
}
