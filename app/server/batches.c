/* batches.c - GET /api/batches/{id} (the batch and its jobs) and GET /api/batches/{id}/zip
 * (every done job's MIDI, MusicXML and 4-string tab in one archive). POST /api/batches is
 * upload.c's, the batch's event stream sse.c's.
 *
 * A batch, like a job, is 404 to everyone but its owner (srv_req_owns).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/files.h"
#include "docs.h"
#include "http.h"
#include "webhook.h"
#include "zip.h"

int srv_batch_load(struct srv_server *s, const struct srv_req *req, struct srv_batch *b,
                   struct srv_job *jobs, int *n) {
    *n = 0;
    int found = srv_jobs_batch_get(s->jobs, req->id, b);
    if (found != 1) return found;
    if (!srv_req_owns(s, req, b->owned_by)) return 0;
    *n = srv_jobs_batch_jobs(s->jobs, b->id, jobs);
    return *n < 0 ? -1 : 1;
}

cJSON *srv_batch_json(struct srv_server *s, const struct srv_batch *b, const struct srv_job *jobs,
                      int n) {
    cJSON *docs = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(docs, srv_job_json(s, &jobs[i]));
    cJSON *o = srv_batch_doc(b, jobs, n, docs);
    srv_add_webhook(o, srv_webhook_doc(s->jobs, b->id, b->webhook_url));
    return o;
}

/* The files of a done job in the zip, under its folder: the stored file and the name the
 * download routes give it (http.c). */
static const char *const zip_files[][2] = {
    {SRV_FILE_MIDI, "%s-bass.mid"},
    {SRV_FILE_MUSICXML, "%s-bass.musicxml"},
    {SRV_FILE_TAB4, "%s-bass-tab.txt"},
};

/* The largest result file read into the zip: a MusicXML of an hour of bass is a few MiB. */
#define ZIP_FILE_MAX (64u << 20)

/* The zip of the `n` jobs' results, each done job in a folder named after it ("song",
 * "song (2)" for a second song of that name). 1 with *out and *len, 0 when no job is done, -1
 * when a file is missing or the archive fails. */
static int make_zip(struct srv_server *s, const struct srv_job *jobs, int n, uint8_t **out,
                    size_t *len) {
    struct srv_zip z = {0};
    int done = 0;
    for (int i = 0; i < n; i++) {
        const struct srv_job *j = &jobs[i];
        if (j->state != SRV_DONE) continue;
        int same = 0; /* earlier done jobs of this name */
        for (int k = 0; k < i; k++)
            same += jobs[k].state == SRV_DONE && strcmp(jobs[k].name, j->name) == 0;
        char folder[SRV_NAME_LEN + 8];
        if (same)
            snprintf(folder, sizeof folder, "%s (%d)", j->name, same + 1);
        else
            snprintf(folder, sizeof folder, "%s", j->name);
        for (size_t f = 0; f < sizeof zip_files / sizeof zip_files[0]; f++) {
            char path[4096], base[SRV_NAME_LEN + 32], name[sizeof folder + sizeof base + 1];
            size_t size = 0;
            char *bytes = NULL;
            if (!srv_jobs_fetch(s->jobs, j->id, zip_files[f][0], path, sizeof path))
                bytes = dumu_app_read_file(path, ZIP_FILE_MAX, &size);
            snprintf(base, sizeof base, zip_files[f][1], j->name);
            snprintf(name, sizeof name, "%s/%s", folder, base);
            int rc = bytes ? srv_zip_add(&z, name, bytes, size, (time_t)j->updated) : -1;
            free(bytes);
            if (rc) {
                srv_zip_free(&z);
                return -1;
            }
        }
        done++;
    }
    if (!done) {
        srv_zip_free(&z);
        return 0;
    }
    return srv_zip_finish(&z, out, len) ? -1 : 1;
}

enum MHD_Result srv_batch_handle(struct srv_server *s, struct MHD_Connection *c,
                                 struct srv_req *req, int zip) {
    struct srv_batch b;
    struct srv_job *jobs = malloc(SRV_BATCH_MAX * sizeof *jobs);
    int n = 0;
    int found = jobs ? srv_batch_load(s, req, &b, jobs, &n) : -1;
    if (found != 1) {
        free(jobs);
        return found == 0 ? srv_reply_error(s, c, req, 404, "not_found", "no such batch")
                          : srv_reply_store_error(s, c, req);
    }
    if (!zip) {
        cJSON *o = srv_batch_json(s, &b, jobs, n);
        free(jobs);
        return srv_reply_tree(s, c, req, 200, o);
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    int made = make_zip(s, jobs, n, &bytes, &len);
    free(jobs);
    if (made == 0)
        return srv_reply_error(s, c, req, 409, "not_ready", "no song of this batch is done yet");
    if (made < 0) return srv_reply_error(s, c, req, 500, "internal", "cannot make the zip");
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, bytes, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(bytes);
        return MHD_NO;
    }
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"dumu-batch-%.8s.zip\"", b.id);
    MHD_add_response_header(resp, "Content-Type", "application/zip");
    MHD_add_response_header(resp, "Content-Disposition", disp);
    return srv_queue(s, c, req, 200, resp, (int64_t)len);
}
