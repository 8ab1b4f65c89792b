/* docs.h - the JSON documents of a job and of a batch: one shape, made here, for the API
 * (http.c adds a queued job's place in the queue and its webhook deliveries) and for the
 * webhooks that tell of their end (webhook.c). Each returns a new cJSON object, the caller's.
 */
#ifndef DUMU_SRV_DOCS_H
#define DUMU_SRV_DOCS_H

#include <cjson/cJSON.h>

#include "jobs.h"

/* A job: {job_id, state, progress, stage, message, filename, title, created, updated,
 * duration, bpm, key, batch_id, params{...}, error, stems[]}; bpm, key and batch_id are null
 * until known or when none. */
cJSON *srv_job_doc(const struct srv_job *j);

/* A batch and its `n` jobs (`jobs`, oldest first): {batch_id, created, state, progress,
 * counts{queued, running, done, failed, cancelled}, jobs}: `job_docs` (an array of the jobs'
 * documents, taken over) or, when NULL, an array of their srv_job_doc. state: "queued"
 * while none started, "running" while any is queued or running, else "done" (counts say how
 * each ended); progress: the mean of the jobs' (an ended one counts 100), 0 without jobs. */
cJSON *srv_batch_doc(const struct srv_batch *b, const struct srv_job *jobs, int n, cJSON *job_docs);

/* 1 when every one of the `n` jobs has ended (done, failed or cancelled). */
int srv_batch_ended(const struct srv_job *jobs, int n);

#endif /* DUMU_SRV_DOCS_H */
