/* jobs.c - the job store's public face (see jobs.h): the data folder's layout and lock, and
 * the srv_jobs_* functions, each handed to the implementation that the store was opened
 * with (store.h: SQLite or PostgreSQL).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static const char *const state_names[] = {"queued", "running", "done", "failed", "cancelled"};

const char *srv_state_name(enum srv_state state) {
    return state_names[state];
}

enum srv_state srv_state_from_name(const char *s) {
    for (int i = 0; i < 5; i++)
        if (s && strcmp(s, state_names[i]) == 0) return (enum srv_state)i;
    return SRV_FAILED;
}

static double now_unix(void) {
    return (double)time(NULL);
}

cJSON *srv_event_progress(double progress, const char *stage, const char *message) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "progress", progress);
    cJSON_AddStringToObject(o, "stage", stage);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddNumberToObject(o, "ts", now_unix());
    return o;
}

cJSON *srv_event_error(const char *code, const char *message) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddNumberToObject(o, "ts", now_unix());
    return o;
}

cJSON *srv_event_done(const char *id) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job_id", id);
    cJSON_AddNumberToObject(o, "progress", 100);
    cJSON_AddNumberToObject(o, "ts", now_unix());
    return o;
}

struct timespec srv_store_deadline(int timeout_ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

/* ---------------------------------------------------------------------------------------- */
/* Paths and files */

int srv_jobs_path(const srv_jobs *jobs, const char *id, const char *what, char *buf, size_t cap) {
    int n;
    if (strcmp(what, "part") == 0)
        n = snprintf(buf, cap, "%s/uploads/%s.part", jobs->dir, id);
    else if (strcmp(what, "upload") == 0)
        n = snprintf(buf, cap, "%s/uploads/%s.audio", jobs->dir, id);
    else if (strcmp(what, "dir") == 0)
        n = snprintf(buf, cap, "%s/jobs/%s", jobs->dir, id);
    else
        n = snprintf(buf, cap, "%s/jobs/%s/%s", jobs->dir, id, what);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* 1 for a byte that ends (or comes before) a path in a message: they are written "PATH: why",
 * "cannot open PATH", "file=PATH" or quoted. */
static int path_end(char c) {
    return c == '\0' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\'' || c == '"' ||
           c == ',' || c == ';' || c == '(' || c == ')' || c == '=';
}

void srv_jobs_scrub(const srv_jobs *jobs, const char *msg, char *out, size_t cap) {
    size_t dir_len = strlen(jobs->dir), w = 0;
    /* DATA_DIR alone is a path when it has a '/' ("data" alone is a word) */
    int alone = strchr(jobs->dir, '/') != NULL;
    if (!cap) return;
    for (const char *m = msg; *m && w + 1 < cap;) {
        /* DATA_DIR where a path starts, followed by the rest of one or by its end */
        if (!(m == msg || path_end(m[-1])) || strncmp(m, jobs->dir, dir_len) != 0 ||
            !(m[dir_len] == '/' || (alone && path_end(m[dir_len])))) {
            out[w++] = *m++;
            continue;
        }
        const char *rel = m + dir_len, *end = rel, *base = rel;
        for (; !path_end(*end); end++)
            if (*end == '/') base = end + 1;
        char role[SRV_NAME_LEN];
        size_t id_len = strlen("/jobs/") + SRV_ID_LEN;
        if (strncmp(rel, "/uploads/", 9) == 0)
            snprintf(role, sizeof role, "the upload");
        else if (strncmp(rel, "/jobs/", 6) == 0 && (size_t)(end - rel) == id_len)
            snprintf(role, sizeof role, "the job's folder");
        else if (end == rel || base == end)
            snprintf(role, sizeof role, "the data folder");
        else
            snprintf(role, sizeof role, "%.*s", (int)(end - base), base);
        for (const char *r = role; *r && w + 1 < cap; r++)
            out[w++] = *r;
        m = end;
    }
    out[w] = '\0';
}

/* Removes a folder of plain files (one level, as the result folders are). */
void srv_store_remove_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    char file[4096];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        int n = snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (n > 0 && (size_t)n < sizeof file) unlink(file);
    }
    closedir(d);
    rmdir(path);
}

void srv_jobs_remove_files(const srv_jobs *jobs, const char *id) {
    char path[4096];
    if (!srv_jobs_path(jobs, id, "part", path, sizeof path)) unlink(path);
    if (!srv_jobs_path(jobs, id, "upload", path, sizeof path)) unlink(path);
    if (!srv_jobs_path(jobs, id, "dir", path, sizeof path)) srv_store_remove_dir(path);
}

/* ---------------------------------------------------------------------------------------- */
/* Open and close */

static int make_dir(const char *path) {
    if (mkdir(path, 0755) && errno != EEXIST) {
        fprintf(stderr, "dumu: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* srv_jobs_open and srv_jobs_open_admin (`admin`). */
static int open_store(const char *data_dir, const char *db_url, int admin, srv_jobs **out) {
    *out = NULL;
    srv_jobs *jobs = calloc(1, sizeof *jobs);
    if (!jobs) return -1;
    jobs->admin = admin;
    if (admin && db_url) data_dir = NULL; /* a private scratch folder, not the server's */
    jobs->ops = db_url ? &srv_store_pg : &srv_store_sqlite;
    jobs->lock_fd = -1;
    jobs->lease_s = SRV_LEASE_S;
    pthread_mutex_init(&jobs->mu, NULL);
    pthread_cond_init(&jobs->queue_cv, NULL);
    pthread_cond_init(&jobs->event_cv, NULL);
    uint32_t tag = 0;
    char host[64] = "host";
    getrandom(&tag, sizeof tag, 0);
    gethostname(host, sizeof host - 1);
    snprintf(jobs->owner, sizeof jobs->owner, "%s:%d:%08x", host, (int)getpid(), tag);
    int rc = 0;
    if (data_dir) {
        jobs->dir = strdup(data_dir);
        rc = jobs->dir ? make_dir(data_dir) : -1;
    } else { /* a node of a fleet without a folder of its own: a private one, removed at close */
        const char *tmp = getenv("TMPDIR");
        char path[4096];
        snprintf(path, sizeof path, "%s/dumu-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        jobs->dir = mkdtemp(path) ? strdup(path) : NULL;
        jobs->own_dir = jobs->dir != NULL;
        if (!jobs->dir) {
            fprintf(stderr, "dumu: cannot make a scratch folder in %s: %s\n",
                    tmp && *tmp ? tmp : "/tmp", strerror(errno));
            rc = -1;
        }
    }
    /* One process per data folder, checked before anything in it is touched: a second
     * SQLite server would put the first one's running jobs back in the queue and delete its
     * uploads in progress, and two fleet nodes would share one cache unknowingly. The lock
     * goes with the process, however it ends. */
    char path[4096];
    if (!rc && !admin) {
        snprintf(path, sizeof path, "%s/dumu.lock", jobs->dir);
        jobs->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (jobs->lock_fd < 0) {
            fprintf(stderr, "dumu: cannot open %s: %s\n", path, strerror(errno));
            rc = -1;
        } else if (flock(jobs->lock_fd, LOCK_EX | LOCK_NB)) {
            if (errno == EWOULDBLOCK)
                fprintf(stderr, "dumu: another dumu process is using %s\n", jobs->dir);
            else
                fprintf(stderr, "dumu: cannot lock %s: %s\n", path, strerror(errno));
            rc = -1;
        }
    }
    snprintf(path, sizeof path, "%s/uploads", jobs->dir ? jobs->dir : "");
    if (!rc) rc = make_dir(path);
    snprintf(path, sizeof path, "%s/jobs", jobs->dir ? jobs->dir : "");
    if (!rc) rc = make_dir(path);
    if (!rc) rc = jobs->ops->open(jobs, db_url);
    if (rc) {
        srv_jobs_close(jobs);
        return -1;
    }
    *out = jobs;
    return 0;
}

int srv_jobs_open(const char *data_dir, const char *db_url, srv_jobs **out) {
    return open_store(data_dir, db_url, 0, out);
}

int srv_jobs_open_admin(const char *data_dir, const char *db_url, srv_jobs **out) {
    return open_store(data_dir, db_url, 1, out);
}

/* Removes DATA_DIR made by srv_jobs_open: its folders of job folders and files. */
static void remove_own_dir(const char *dir) {
    static const char *const folders[] = {"cache", "jobs", "uploads"};
    char path[4096];
    for (int f = 0; f < 3; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, folders[f]);
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char sub[sizeof path + sizeof e->d_name + 1];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            if (unlink(sub)) srv_store_remove_dir(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    }
    snprintf(path, sizeof path, "%s/dumu.lock", dir);
    unlink(path);
    rmdir(dir);
}

void srv_jobs_close(srv_jobs *jobs) {
    if (!jobs) return;
    jobs->ops->close(jobs);
    if (jobs->own_dir) remove_own_dir(jobs->dir);
    if (jobs->lock_fd >= 0) close(jobs->lock_fd);
    pthread_cond_destroy(&jobs->event_cv);
    pthread_cond_destroy(&jobs->queue_cv);
    pthread_mutex_destroy(&jobs->mu);
    free(jobs->dir);
    free(jobs);
}

const char *srv_jobs_dir(const srv_jobs *jobs) {
    return jobs->dir;
}

const char *srv_jobs_kind(const srv_jobs *jobs) {
    return jobs->ops->kind;
}

void srv_jobs_set_worker(srv_jobs *jobs, int n_workers, int lease_s) {
    pthread_mutex_lock(&jobs->mu);
    jobs->n_workers = n_workers;
    if (lease_s > 0) jobs->lease_s = lease_s;
    pthread_mutex_unlock(&jobs->mu);
}

void srv_jobs_wake(srv_jobs *jobs) {
    pthread_mutex_lock(&jobs->mu);
    jobs->woken = 1;
    pthread_cond_broadcast(&jobs->queue_cv);
    pthread_cond_broadcast(&jobs->event_cv);
    pthread_mutex_unlock(&jobs->mu);
}

/* ---------------------------------------------------------------------------------------- */
/* Jobs and events: straight to the implementation */

int srv_jobs_insert(srv_jobs *jobs, const struct srv_job *job) {
    return jobs->ops->insert(jobs, job);
}

int srv_jobs_get(srv_jobs *jobs, const char *id, struct srv_job *out) {
    return jobs->ops->get(jobs, id, out);
}

int srv_jobs_list(srv_jobs *jobs, const struct srv_job_query *q, struct srv_job *out, int cap,
                  int *total) {
    int all;
    return jobs->ops->list(jobs, q, out, cap, total ? total : &all);
}

int srv_jobs_counts(srv_jobs *jobs, int *queued, int *running) {
    return jobs->ops->counts(jobs, queued, running);
}

int srv_jobs_claim(srv_jobs *jobs, struct srv_job *out, int timeout_ms) {
    return jobs->ops->claim(jobs, out, timeout_ms);
}

int srv_jobs_progress(srv_jobs *jobs, const char *id, double progress, const char *stage,
                      const char *message) {
    return jobs->ops->progress(jobs, id, progress, stage, message);
}

int srv_jobs_finish(srv_jobs *jobs, const char *id, enum srv_state state, double bpm,
                    const char *key, double duration, const char *code, const char *message) {
    char clean[512];
    if (message) {
        srv_jobs_scrub(jobs, message, clean, sizeof clean);
        message = clean;
    }
    return jobs->ops->finish(jobs, id, state, bpm, key ? key : "", duration, code, message);
}

void srv_jobs_requeue(srv_jobs *jobs, const char *id) {
    jobs->ops->requeue(jobs, id);
}

int srv_jobs_set_params(srv_jobs *jobs, const char *id, const struct srv_params *params) {
    return jobs->ops->set_params(jobs, id, params);
}

int srv_jobs_remove(srv_jobs *jobs, const char *id, enum srv_state *was) {
    return jobs->ops->remove(jobs, id, was);
}

int srv_jobs_queue_ahead(srv_jobs *jobs, const char *id, int *ahead, double *audio_s) {
    return jobs->ops->queue_ahead(jobs, id, ahead, audio_s);
}

int srv_jobs_retry(srv_jobs *jobs, const char *id) {
    return jobs->ops->retry(jobs, id);
}

int srv_jobs_ping(srv_jobs *jobs) {
    return jobs->ops->ping(jobs);
}

int srv_jobs_workers(srv_jobs *jobs) {
    return jobs->ops->workers(jobs);
}

int srv_jobs_expire(srv_jobs *jobs, int64_t before, int by_tier) {
    return jobs->ops->expire(jobs, before, by_tier);
}

void *srv_jobs_hold(srv_jobs *jobs, const char *id) {
    return jobs->ops->hold ? jobs->ops->hold(jobs, id) : NULL;
}

void srv_jobs_release(srv_jobs *jobs, const char *id, void *token) {
    if (token) jobs->ops->release(jobs, id, token);
}

int srv_jobs_events(srv_jobs *jobs, const char *id, int64_t *after, int timeout_ms, char **text,
                    size_t *len, int *final) {
    return jobs->ops->events(jobs, id, after, timeout_ms, text, len, final);
}

/* ---------------------------------------------------------------------------------------- */
/* Blobs */

int srv_jobs_fetch(srv_jobs *jobs, const char *id, const char *what, char *path, size_t cap) {
    if (srv_jobs_path(jobs, id, what, path, cap)) return -1;
    if (jobs->ops->fetch) return jobs->ops->fetch(jobs, id, what, path, cap);
    return access(path, R_OK) == 0 ? 0 : 1;
}

int srv_jobs_publish(srv_jobs *jobs, const char *id, const char *what) {
    char path[4096];
    if (!jobs->ops->publish) return 0;
    if (srv_jobs_path(jobs, id, what, path, sizeof path)) return -1;
    return jobs->ops->publish(jobs, id, what, path);
}

int srv_jobs_publish_all(srv_jobs *jobs, const char *id) {
    char dir[4096];
    if (!jobs->ops->publish) return 0;
    if (srv_jobs_path(jobs, id, "dir", dir, sizeof dir)) return -1;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || (n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0)) continue;
        rc = srv_jobs_publish(jobs, id, e->d_name);
    }
    closedir(d);
    if (!rc) rmdir(dir); /* empty now: publishing moved each file into the store */
    return rc;
}

void srv_jobs_discard(srv_jobs *jobs, const char *id, const char *what) {
    char path[4096];
    if (!srv_jobs_path(jobs, id, what, path, sizeof path)) unlink(path);
    if (jobs->ops->discard) jobs->ops->discard(jobs, id, what);
}

/* ---------------------------------------------------------------------------------------- */
/* Accounts and credentials: straight to the implementation */

const char *srv_cred_kind_name(enum srv_cred_kind kind) {
    return kind == SRV_CRED_SESSION ? "session" : "key";
}

int srv_jobs_account_add(srv_jobs *jobs, const struct srv_account *a, const char *pwhash) {
    return jobs->ops->account_add(jobs, a, pwhash);
}

int srv_jobs_account_find(srv_jobs *jobs, const char *email, const char *id,
                          struct srv_account *out, char *pwhash, size_t cap) {
    return jobs->ops->account_find(jobs, email, id, out, pwhash, cap);
}

int srv_jobs_account_list(srv_jobs *jobs, struct srv_account *out, int cap) {
    return jobs->ops->account_list(jobs, out, cap);
}

int srv_jobs_account_remove(srv_jobs *jobs, const char *id) {
    return jobs->ops->account_remove(jobs, id);
}

int srv_jobs_cred_add(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash,
                      const struct srv_cred *cred) {
    return jobs->ops->cred_add(jobs, kind, hash, cred);
}

int srv_jobs_cred_find(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash, int64_t now,
                       struct srv_cred *out) {
    return jobs->ops->cred_find(jobs, kind, hash, now, out);
}

int srv_jobs_cred_list(srv_jobs *jobs, enum srv_cred_kind kind, const char *account,
                       struct srv_cred *out, int cap) {
    return jobs->ops->cred_list(jobs, kind, account, out, cap);
}

int srv_jobs_cred_remove(srv_jobs *jobs, enum srv_cred_kind kind, const char *hash, const char *id,
                         const char *account) {
    return jobs->ops->cred_remove(jobs, kind, hash, id, account);
}

int srv_jobs_failures(srv_jobs *jobs, const char *key, int64_t since, int *n, int64_t *oldest) {
    return jobs->ops->failures(jobs, key, since, n, oldest);
}

int srv_jobs_failure_note(srv_jobs *jobs, const char *key, int64_t at, int clear) {
    return jobs->ops->failure_note(jobs, key, at, clear);
}

/* ---------------------------------------------------------------------------------------- */
/* Fair use: straight to the implementation */

/* The seeds. A minute of audio costs a worker about a minute of CPU (README: speed), so the
 * daily minutes are what one worker can give a person without others waiting long. */
static const struct srv_tier k_seeds[] = {
    /* anonymous: a page polls a job about once a second while it runs, so 120 a minute lets
     * one browser watch its job and click around; two jobs at once (a song and a second try
     * with other settings), 10 minutes a day (two or three songs to try it), songs up to 10
     * minutes, results kept a day as before (--ttl-hours' default) */
    {SRV_TIER_ANONYMOUS, 120, 2, 10, 600, 24},
    /* free: the same pace, two jobs at once, half an hour of songs a day, up to 15 minutes
     * each (a long live take), kept three days */
    {SRV_TIER_NEW, 120, 2, 30, 900, 72},
    /* pro: scripts through an API key (5 a second), a batch of 8 at once, 10 hours a day, an
     * hour-long set, kept a month */
    {"pro", 300, 8, 600, 3600, 720},
};

const struct srv_tier *srv_tier_seeds(int *n) {
    *n = (int)(sizeof k_seeds / sizeof k_seeds[0]);
    return k_seeds;
}

int srv_jobs_tier_list(srv_jobs *jobs, struct srv_tier *out, int cap) {
    return jobs->ops->tier_list(jobs, out, cap);
}

int srv_jobs_tier_get(srv_jobs *jobs, const char *name, const char *account, struct srv_tier *out) {
    return jobs->ops->tier_get(jobs, name, account, out);
}

int srv_jobs_tier_set(srv_jobs *jobs, const struct srv_tier *t) {
    return jobs->ops->tier_set(jobs, t);
}

int srv_jobs_account_set_tier(srv_jobs *jobs, const char *account, const char *tier) {
    return jobs->ops->account_set_tier(jobs, account, tier);
}

int srv_jobs_bucket_take(srv_jobs *jobs, const char *key, int rpm, double now, double *tokens) {
    return jobs->ops->bucket_take(jobs, key, rpm, now, tokens);
}

int srv_jobs_usage_add(srv_jobs *jobs, const char *key, int64_t day, double seconds, double limit_s,
                       double *used) {
    return jobs->ops->usage_add(jobs, key, day, seconds, limit_s, used);
}

int srv_jobs_usage_get(srv_jobs *jobs, const char *key, int64_t day, double *used) {
    return jobs->ops->usage_get(jobs, key, day, used);
}

int srv_jobs_owner_active(srv_jobs *jobs, const char *owned_by, int *n) {
    return jobs->ops->owner_active(jobs, owned_by, n);
}

int srv_jobs_owner_move(srv_jobs *jobs, const char *from, const char *to) {
    return jobs->ops->owner_move(jobs, from, to);
}

/* ---------------------------------------------------------------------------------------- */
/* Batches and webhook deliveries: straight to the implementation */

int srv_jobs_batch_insert(srv_jobs *jobs, const struct srv_batch *b) {
    return jobs->ops->batch_insert(jobs, b);
}

int srv_jobs_batch_jobs(srv_jobs *jobs, const char *batch_id, struct srv_job *out) {
    struct srv_job_query q = {.batch_id = batch_id};
    int n = srv_jobs_list(jobs, &q, out, SRV_BATCH_MAX, NULL);
    for (int i = 0, k = n - 1; i < k; i++, k--) { /* newest first to oldest first */
        struct srv_job t = out[i];
        out[i] = out[k];
        out[k] = t;
    }
    return n;
}

int srv_jobs_batch_get(srv_jobs *jobs, const char *id, struct srv_batch *out) {
    return jobs->ops->batch_get(jobs, id, out);
}

int srv_jobs_delivery_add(srv_jobs *jobs, const struct srv_delivery *d, const char *body,
                          int64_t now) {
    return jobs->ops->delivery_add(jobs, d, body, now);
}

int srv_jobs_delivery_claim(srv_jobs *jobs, int64_t now, int lease_s, struct srv_delivery *out,
                            char **body) {
    return jobs->ops->delivery_claim(jobs, now, lease_s, out, body);
}

int srv_jobs_delivery_update(srv_jobs *jobs, const struct srv_delivery *d, int64_t now) {
    return jobs->ops->delivery_update(jobs, d, now);
}

int srv_jobs_delivery_list(srv_jobs *jobs, const char *target, struct srv_delivery *out, int cap) {
    return jobs->ops->delivery_list(jobs, target, out, cap);
}
