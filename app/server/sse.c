/* sse.c - GET /api/progress/{id}: a job's events as Server-Sent Events.
 *
 * The stream starts with "retry: 2000", then every stored event with an id above the
 * Last-Event-ID header (all of them without it, or when it is no number; none when it is past
 * the last one, however many digits it has), then live events as the job store appends them,
 * and ends after the job's `done` or `error` event. The content callback runs on the
 * connection's own thread (thread per connection) and blocks in srv_jobs_events for up to
 * 15 s; when nothing happened it sends ": keepalive". It never returns 0, which would make
 * MHD call it again at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

struct sse {
    struct srv_server *s;
    struct srv_req *req; /* holds a reference, for the byte count in the access log */
    int64_t after;       /* id of the last event sent */
    char *text;          /* pending bytes; owned */
    size_t len, off;
    int ended; /* the final event is in `text` */
};

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
        int final;
        int rc = srv_jobs_events(e->s->jobs, e->req->id, &e->after, SRV_SSE_KEEPALIVE_MS, &text,
                                 &len, &final);
        if (rc < 0) return MHD_CONTENT_READER_END_OF_STREAM;
        if (rc == 0) {
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
    srv_req_release(e->req);
    free(e);
}

enum MHD_Result srv_sse_handle(struct srv_server *s, struct MHD_Connection *c,
                               struct srv_req *req) {
    struct srv_job job;
    int found = srv_jobs_get(s->jobs, req->id, &job);
    if (found == 1 && !srv_req_owns(s, req, &job)) found = 0; /* someone else's */
    if (found != 1)
        return found == 0 ? srv_reply_error(s, c, req, 404, "not_found", "no such job")
                          : srv_reply_store_error(s, c, req);
    struct sse *e = calloc(1, sizeof *e);
    if (!e || !(e->text = strdup("retry: 2000\n\n"))) {
        free(e);
        return MHD_NO;
    }
    e->s = s;
    e->req = req;
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
