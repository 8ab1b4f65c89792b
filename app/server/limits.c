/* limits.c - fair use for `dumu serve --auth optional|required`: the asker's tier and its
 * limits, checked on every API request and on every upload (see http.h; the rows are the job
 * store's, jobs.h, so every API node of a fleet counts the same things).
 *
 * Who is counted: an account (signed in or by API key) under "a:ID" in its tier; anyone else
 * (anonymous browsers of --auth optional, and sign-ups, sign-ins or refused requests) under
 * "ip:ADDRESS" in the tier SRV_TIER_ANONYMOUS: a browser's token cookie costs nothing to drop,
 * an address does. Behind a reverse proxy every anonymous asker shares the proxy's address.
 * Jobs at once are counted per job owner (the account, or the anonymous browser's token).
 *
 *   requests per minute  a token bucket per asker of `rpm` tokens refilled at rpm / 60 a
 *                        second; every API request takes one (/health, /openapi.json, /docs
 *                        and the web page's files do not). Empty: 429 rate_limited with
 *                        Retry-After (when the next token comes). Every API reply carries
 *                        RateLimit-Limit (rpm), RateLimit-Remaining (whole tokens left) and
 *                        RateLimit-Reset (seconds until the bucket is full).
 *   jobs at once         queued + running jobs of the owner: an upload over it gets 429
 *                        too_many_jobs, checked before its body and again once it is in
 *                        (a count, not a reservation: two uploads of one owner ending at the
 *                        same instant, on two nodes, may both pass it).
 *   minutes per day      the decoded length of every accepted upload counts toward the UTC
 *                        day's total. The upload is decoded whole anyway (upload.c's content
 *                        check), so the length is exact and an upload that would go past the
 *                        day's rest is refused there and then (429 daily_minutes, Retry-After
 *                        until UTC midnight) instead of failing later as a job. An upload's
 *                        RateLimit-* headers speak of the day's minutes (limit, minutes left,
 *                        seconds to midnight). A job that fails or is deleted keeps its
 *                        minutes: the work was asked for.
 *   longest song         413 song_too_long: waiting does not help, so no Retry-After.
 *   retention            srv_jobs_expire keeps a finished job its owner's tier's hours.
 * With --auth off none of this runs: the server's own limits (--max-queue, --max-upload-mb,
 * --ttl-hours) are all there is, as before.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http.h"

/* Seconds in a UTC day: the daily minutes' period. */
#define DAY_S 86400
/* Retry-After of too_many_jobs: a job's end cannot be known, and a short song takes about
 * this long on one worker (README: speed), so a client that waits this long rarely waits
 * in vain. */
#define JOB_WAIT_S 30

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds from `now` (unix seconds) to the next UTC midnight, at least 1. */
static int to_midnight(double now) {
    int64_t t = (int64_t)now;
    int left = (int)(DAY_S - t % DAY_S);
    return left > 0 ? left : 1;
}

void srv_limits_request(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req) {
    if (s->auth == SRV_AUTH_OFF) return;
    int found;
    if (req->account[0]) {
        snprintf(req->usage_key, sizeof req->usage_key, "a:%s", req->account);
        found = srv_jobs_tier_get(s->jobs, NULL, req->account, &req->tier);
    } else {
        char addr[64]; /* an IPv6 address as text takes at most 46 bytes */
        srv_client_addr(c, addr, sizeof addr);
        snprintf(req->usage_key, sizeof req->usage_key, "ip:%s", addr);
        found = srv_jobs_tier_get(s->jobs, SRV_TIER_ANONYMOUS, NULL, &req->tier);
    }
    if (found != 1) { /* no tier (removed by hand from the store): no limits, as with off */
        req->tier.name[0] = '\0';
        if (found < 0) srv_req_refuse_store(req);
        return;
    }
    double tokens = 0.0, rate = req->tier.rpm / 60.0; /* tokens per second */
    int took = srv_jobs_bucket_take(s->jobs, req->usage_key, req->tier.rpm, now_s(), &tokens);
    if (took < 0) {
        srv_req_refuse_store(req);
        return;
    }
    if (tokens < 0.0) tokens = 0.0;
    req->rl_limit = req->tier.rpm;
    req->rl_remaining = (int)floor(tokens);
    req->rl_reset = (int)ceil((req->tier.rpm - tokens) / rate);
    if (!took) {
        char msg[96];
        snprintf(msg, sizeof msg, "more than %d requests a minute; slow down", req->tier.rpm);
        int wait = (int)ceil((1.0 - tokens) / rate);
        srv_req_refuse(req, 429, "rate_limited", msg, wait > 0 ? wait : 1);
    }
}

/* 1 when `more` jobs would take the owner of the request past its tier's number of jobs
 * queued or running (the request refused: 429 too_many_jobs), 0 when not, -1 when the store
 * failed (refused: 503). */
static int too_many_jobs(struct srv_server *s, struct srv_req *req, int more) {
    int n = 0;
    if (srv_jobs_owner_active(s->jobs, req->principal, &n)) {
        srv_req_refuse_store(req);
        return -1;
    }
    if (n + more <= req->tier.concurrent) return 0;
    char msg[128];
    if (more > 1)
        snprintf(msg, sizeof msg,
                 "%d songs at once are more than your %d jobs queued or running (%d now)", more,
                 req->tier.concurrent, n);
    else
        snprintf(msg, sizeof msg, "%d of your jobs are queued or running; wait for one to end",
                 req->tier.concurrent);
    srv_req_refuse(req, 429, "too_many_jobs", msg, JOB_WAIT_S);
    return 1;
}

int srv_limits_upload_begin(struct srv_server *s, struct srv_req *req) {
    if (s->auth == SRV_AUTH_OFF || !req->tier.name[0] || !req->principal[0]) return 0;
    return too_many_jobs(s, req, 1) ? -1 : 0;
}

int srv_limits_upload_audio(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                            const double *durations, int n, enum MHD_Result *result) {
    if (s->auth == SRV_AUTH_OFF || !req->tier.name[0]) return 0;
    char msg[128];
    double duration = 0.0;
    for (int i = 0; i < n; i++) {
        duration += durations[i];
        if (durations[i] <= req->tier.max_song_s) continue;
        snprintf(msg, sizeof msg, "the song is %.0f s long; your tier takes up to %d s",
                 durations[i], req->tier.max_song_s);
        *result = srv_reply_error(s, c, req, 413, "song_too_long", msg);
        return -1;
    }
    if (too_many_jobs(s, req, n)) {
        *result = srv_reply_later(s, c, req, (unsigned)req->auth_status, req->auth_code,
                                  req->auth_message, req->auth_retry_after);
        return -1;
    }
    double now = now_s(), used = 0.0, limit_s = req->tier.minutes_per_day * 60.0;
    int added =
        srv_jobs_usage_add(s->jobs, req->usage_key, (int64_t)now / DAY_S, duration, limit_s, &used);
    if (added < 0) {
        *result = srv_reply_store_error(s, c, req);
        return -1;
    }
    /* from here the headers speak of the day's minutes */
    req->rl_limit = req->tier.minutes_per_day;
    req->rl_remaining = used < limit_s ? (int)floor((limit_s - used) / 60.0) : 0;
    req->rl_reset = to_midnight(now);
    if (!added) {
        snprintf(msg, sizeof msg, "%s %.1f minutes; %.1f of your %d minutes are left today",
                 n > 1 ? "the songs are" : "the song is", duration / 60.0,
                 used < limit_s ? (limit_s - used) / 60.0 : 0.0, req->tier.minutes_per_day);
        *result = srv_reply_later(s, c, req, 429, "daily_minutes", msg, to_midnight(now));
        return -1;
    }
    return 0;
}

void srv_limits_upload_undo(struct srv_server *s, struct srv_req *req, double duration) {
    double used;
    if (s->auth == SRV_AUTH_OFF || !req->tier.name[0]) return;
    srv_jobs_usage_add(s->jobs, req->usage_key, (int64_t)now_s() / DAY_S, -duration,
                       (double)INFINITY, &used);
}

int srv_limits_account_json(struct srv_server *s, struct srv_req *req, cJSON *o) {
    struct srv_tier t;
    double now = now_s(), used = 0.0;
    int active = 0;
    char key[SRV_OWNER_LEN];
    snprintf(key, sizeof key, "a:%s", req->account);
    if (srv_jobs_tier_get(s->jobs, NULL, req->account, &t) != 1 ||
        srv_jobs_usage_get(s->jobs, key, (int64_t)now / DAY_S, &used) ||
        srv_jobs_owner_active(s->jobs, req->principal, &active))
        return -1;
    cJSON *l = cJSON_AddObjectToObject(o, "limits");
    cJSON_AddStringToObject(l, "tier", t.name);
    cJSON_AddNumberToObject(l, "requests_per_minute", t.rpm);
    cJSON_AddNumberToObject(l, "concurrent_jobs", t.concurrent);
    cJSON_AddNumberToObject(l, "minutes_per_day", t.minutes_per_day);
    cJSON_AddNumberToObject(l, "max_song_s", t.max_song_s);
    cJSON_AddNumberToObject(l, "retention_h", t.retention_h);
    double limit = t.minutes_per_day;
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "minutes_used", round(used / 60.0 * 10.0) / 10.0);
    cJSON_AddNumberToObject(u, "minutes_left", round(fmax(0.0, limit - used / 60.0) * 10.0) / 10.0);
    cJSON_AddNumberToObject(u, "jobs_active", active);
    cJSON_AddNumberToObject(u, "resets_in_s", to_midnight(now));
    return 0;
}
