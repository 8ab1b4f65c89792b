/* docs.c - the JSON documents of a job and of a batch (docs.h). */
#include "docs.h"

#include <stdio.h>
#include <string.h>

/* `text` under `name`, or null when it is empty. */
static void add_text_or_null(cJSON *o, const char *name, const char *text) {
    if (text[0])
        cJSON_AddStringToObject(o, name, text);
    else
        cJSON_AddNullToObject(o, name);
}

cJSON *srv_job_doc(const struct srv_job *j) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job_id", j->id);
    cJSON_AddStringToObject(o, "state", srv_state_name(j->state));
    cJSON_AddNumberToObject(o, "progress", j->progress);
    cJSON_AddStringToObject(o, "stage", j->stage);
    cJSON_AddStringToObject(o, "message", j->message);
    char filename[SRV_NAME_LEN + 16];
    snprintf(filename, sizeof filename, "%s-bass.mid", j->name);
    cJSON_AddStringToObject(o, "filename", filename);
    cJSON_AddStringToObject(o, "title", j->title);
    cJSON_AddNumberToObject(o, "created", (double)j->created);
    cJSON_AddNumberToObject(o, "updated", (double)j->updated);
    if (j->duration >= 0.0)
        cJSON_AddNumberToObject(o, "duration", j->duration);
    else
        cJSON_AddNullToObject(o, "duration");
    /* the result's tempo (beats per minute) and key */
    if (j->state == SRV_DONE && j->bpm > 0.0)
        cJSON_AddNumberToObject(o, "bpm", j->bpm);
    else
        cJSON_AddNullToObject(o, "bpm");
    add_text_or_null(o, "key", j->key);
    add_text_or_null(o, "batch_id", j->batch_id);
    cJSON *p = cJSON_AddObjectToObject(o, "params");
    cJSON_AddNumberToObject(p, "onset_threshold", j->params.onset_threshold);
    cJSON_AddNumberToObject(p, "frame_threshold", j->params.frame_threshold);
    cJSON_AddNumberToObject(p, "min_note_ms", j->params.min_note_ms);
    cJSON_AddStringToObject(p, "stems", j->params.stems);
    if (j->params.bpm > 0.0)
        cJSON_AddNumberToObject(p, "bpm", j->params.bpm);
    else
        cJSON_AddNullToObject(p, "bpm");
    cJSON_AddStringToObject(p, "mode", j->params.mode);
    cJSON_AddStringToObject(p, "quantize", j->params.quantize);
    cJSON_AddNumberToObject(p, "quantize_strength", j->params.quantize_strength);
    cJSON_AddBoolToObject(p, "fast", j->params.fast);
    if (j->state == SRV_FAILED || j->state == SRV_CANCELLED) {
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", j->error_code[0] ? j->error_code : "failed");
        cJSON_AddStringToObject(e, "message", j->error_message);
    } else {
        cJSON_AddNullToObject(o, "error");
    }
    cJSON *stems = cJSON_AddArrayToObject(o, "stems");
    uint32_t mask = srv_stems_mask(j->params.stems);
    for (int k = 0; k < SRV_N_STEMS; k++)
        if (mask & (1u << k)) cJSON_AddItemToArray(stems, cJSON_CreateString(srv_stem_name(k)));
    return o;
}

static int ended(enum srv_state state) {
    return state != SRV_QUEUED && state != SRV_RUNNING;
}

int srv_batch_ended(const struct srv_job *jobs, int n) {
    for (int i = 0; i < n; i++)
        if (!ended(jobs[i].state)) return 0;
    return 1;
}

cJSON *srv_batch_doc(const struct srv_batch *b, const struct srv_job *jobs, int n,
                     cJSON *job_docs) {
    int counts[SRV_CANCELLED + 1] = {0};
    double progress = 0.0;
    for (int i = 0; i < n; i++) {
        counts[jobs[i].state]++;
        progress += ended(jobs[i].state) ? 100.0 : jobs[i].progress;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "batch_id", b->id);
    cJSON_AddNumberToObject(o, "created", (double)b->created);
    const char *state = srv_batch_ended(jobs, n)  ? "done"
                        : counts[SRV_QUEUED] == n ? "queued"
                                                  : "running";
    cJSON_AddStringToObject(o, "state", state);
    cJSON_AddNumberToObject(o, "progress", n ? progress / n : 0.0);
    cJSON *c = cJSON_AddObjectToObject(o, "counts");
    for (int k = SRV_QUEUED; k <= SRV_CANCELLED; k++)
        cJSON_AddNumberToObject(c, srv_state_name((enum srv_state)k), counts[k]);
    if (!job_docs) {
        job_docs = cJSON_CreateArray();
        for (int i = 0; i < n; i++)
            cJSON_AddItemToArray(job_docs, srv_job_doc(&jobs[i]));
    }
    cJSON_AddItemToObject(o, "jobs", job_docs);
    return o;
}
