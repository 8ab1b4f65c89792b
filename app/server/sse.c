/* sse.c - GET /api/progress/{id}: a job's events as Server-Sent Events; GET
 * /api/progress/batch/{id}: a batch's.
 *
 * The stream starts with "retry: 2000", then every stored event with an id above the
 * Last-Event-ID header (all of them without it, or when it is no number; none when it is past
 * the last one, however many digits it has), then live events as the job store appends them,
 * and ends after the job's `done` or `error` event. The content callback runs on the
 * connection's own thread (thread per connection) and blocks in srv_jobs_events for up to
 * 15 s; when nothing happened it sends ": keepalive". It never returns 0, which would make
 * MHD call it again at once.
 *
 * A batch's stream sends its whole document (srv_batch_json) as `event: batch` each time it
 * changed, and last as `event: done` once every job has ended. It waits on the events of its
 * oldest job still queued or running (the one its owner's turn runs first), for at most
 * BATCH_POLL_MS, so the other jobs' changes show within that time. Its events carry no id: each
 * is whole, so a reconnecting client needs none of the ones it missed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "docs.h"
#include "http.h"

/* How long a batch's stream waits on one job before it looks at the others again, ms: a
 * progress bar a second behind is not seen as late. */
#define BATCH_POLL_MS 1000

struct sse {
    struct srv_server *s;
    int batch;                    /* a batch's stream */
    char *sent;                   /* batch: the document sent last; owned */
    char waiting[SRV_ID_LEN + 1]; /* batch: the job whose events it waits on */
    int quiet_ms;                 /* batch: time since it last sent anything */
    struct srv_req *req;          /* holds a reference, for the byte count in the access log */
    int64_t after; /* id of the last event sent (batch: of the waiting job's, seen) */
    char *text;    /* pending bytes; owned */
    size_t len, off;
    int ended; /* the final event is in `text` */
};

/* The batch's next block of text, like srv_jobs_events: 1 with *text, 0 when nothing
 * changed, -1 when the batch is gone or the store failed. */
static int batch_events(struct sse *e, char **text, size_t *len, int *final) {
    struct srv_batch b;
    struct srv_job *jobs = malloc(SRV_BATCH_MAX * sizeof *jobs);
    int n = 0;
    int found = jobs ? srv_batch_load(e->s, e->req, &b, jobs, &n) : -1;
    if (found != 1) {
        free(jobs);
        return -1;
    }
    *final = srv_batch_ended(jobs, n);
    int i = 0;
    while (i < n && jobs[i].state != SRV_QUEUED && jobs[i].state != SRV_RUNNING)
        i++;
    if (i == n) {
        e->waiting[0] = '\0';
    } else if (strcmp(e->waiting, jobs[i].id) != 0) {
        snprintf(e->waiting, sizeof e->waiting, "%s", jobs[i].id);
        e->after = 0; /* its events so far come at once, then it waits for new ones */
    }
    cJSON *o = srv_batch_json(e->s, &b, jobs, n);
    free(jobs);
    /* its queue estimate moves with every look: not a change worth a message */
    cJSON *arr = cJSON_GetObjectItem(o, "jobs");
    for (cJSON *j = arr ? arr->child : NULL; j; j = j->next)
        cJSON_DeleteItemFromObject(j, "queue");
    char *doc = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!doc) return -1;
    if (!*final && e->sent && strcmp(doc, e->sent) == 0) {
        free(doc);
        return 0;
    }
    free(e->sent);
    e->sent = doc;
    size_t cap = strlen(doc) + 32;
    if (!(*text = malloc(cap))) return -1;
    *len = (size_t)snprintf(*text, cap, "event: %s\ndata: %s\n\n", *final ? "done" : "batch", doc);
    return 1;
}

/* Waits for a change of the batch: on its waiting job's events, or a pause. */
static void batch_wait(struct sse *e) {
    char *text = NULL;
    size_t len;
    int final;
    if (!e->waiting[0] || srv_jobs_events(e->s->jobs, e->waiting, &e->after, BATCH_POLL_MS, &text,
                                          &len, &final) < 0) {
        struct timespec pause = {0, BATCH_POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    free(text);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct sse *e = cls;
    while (e->off == e->len) {
        free(e->text);
        e->text = NULL;
        e->len = e->off = 0;
        if (e->ended || atomic_load(&e->s->stopping)) return MHD_CONTENT_READER_END_OF_STREAM;
        char *text;
        size_t len;
        int final, rc;
        if (e->batch) {
            rc = batch_events(e, &text, &len, &final);
            if (rc == 0 && (e->quiet_ms += BATCH_POLL_MS) < SRV_SSE_KEEPALIVE_MS) {
                batch_wait(e);
                continue;
            }
            if (rc) e->quiet_ms = 0;
        } else {
            rc = srv_jobs_events(e->s->jobs, e->req->id, &e->after, SRV_SSE_KEEPALIVE_MS, &text,
                                 &len, &final);
        }
        if (rc < 0) return MHD_CONTENT_READER_END_OF_STREAM;
        if (rc == 0) {
            e->quiet_ms = 0;
            if (atomic_load(&e->s->stopping)) return MHD_CONTENT_READER_END_OF_STREAM;
            text = strdup(": keepalive\n\n");
            if (!text) return MHD_CONTENT_READER_END_WITH_ERROR;
            len = strlen(text);
        }
        e->text = text;
        e->len = len;
        e->ended = final;
    }
    size_t n = e->len - e->off < max ? e->len - e->off : max;
    memcpy(buf, e->text + e->off, n);
    e->off += n;
    atomic_fetch_add(&e->req->bytes, (long long)n);
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    struct sse *e = cls;
    free(e->text);
    free(e->sent);
    srv_req_release(e->req);
    free(e);
}

enum MHD_Result srv_sse_handle(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                               int batch) {
    struct srv_job job;
    struct srv_batch b;
    int found;
    if (batch) { /* its jobs are looked at as the stream starts */
        found = srv_jobs_batch_get(s->jobs, req->id, &b);
        if (found == 1 && !srv_req_owns(s, req, b.owned_by)) found = 0; /* someone else's */
    } else {
        found = srv_jobs_get(s->jobs, req->id, &job);
        if (found == 1 && !srv_req_owns(s, req, job.owned_by)) found = 0;
    }
    if (found != 1)
        return found == 0 ? srv_reply_error(s, c, req, 404, "not_found",
                                            batch ? "no such batch" : "no such job")
                          : srv_reply_store_error(s, c, req);
    struct sse *e = calloc(1, sizeof *e);
    if (!e || !(e->text = strdup("retry: 2000\n\n"))) {
        free(e);
        return MHD_NO;
    }
    e->s = s;
    e->req = req;
    e->batch = batch;
    e->len = strlen(e->text);
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (srv_parse_last_event_id(last, &e->after)) e->after = 0;
    atomic_fetch_add(&req->refs, 1);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, e, sse_free);
    if (!resp) {
        sse_free(e);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return srv_queue(s, c, req, 200, resp, 0);
}
