/* serve.c - `dumu serve` and `dumu worker`: options, startup, the signal loop and shutdown
 * (see server.h).
 *
 * serve: open the models once (shared read-only by every worker; an API node without
 * workers needs none, and re-transcribes only with a Basic Pitch model), open the job store
 * (SQLite: refused when another server has the data folder, re-queues jobs a crash left
 * running; PostgreSQL with --db), expire old results, start the workers and the webhook
 * sender (webhook.h), then the HTTP daemon. SIGTERM/SIGINT are blocked in every thread and
 * taken by the main thread with sigtimedwait, which also wakes it every minute for the expiry
 * pass (every 10 minutes).
 * Shutdown: the workers stop at their next chunk and their jobs go back to queued (they run
 * again on the next start, or at once on another worker of the fleet), the webhook sender
 * drops a call in flight (made again after its lease), SSE streams end, the daemon stops, the
 * database closes.
 * worker: the same without HTTP, expiry and webhook sender, on PostgreSQL only.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dumu/dumu.h"

#include "../common/models.h"
#include "http.h"
#include "server.h"
#include "webhook.h"

enum { EXIT_USAGE = 1, EXIT_MODEL = 3, EXIT_SETUP = 4, EXIT_INTERNAL = 5 };

static void usage(FILE *f) {
    fprintf(f,
            "usage: dumu serve [--host 127.0.0.1] [--port 8000] [--data-dir data]\n"
            "                  [--db postgresql://USER@HOST/DB] [--web-dir web/dist]\n"
            "                  [--workers 1] [--threads N] [--max-upload-mb 100]\n"
            "                  [--max-queue 16] [--ttl-hours 24] [--cors-origin ORIGIN]\n"
            "                  [--models DIR] [--fast] [--auth %s]\n"
            "                  [--secure-cookies] [--webhook-allow-private]\n"
            "\n"
            "Serves the HTTP API (/api/..., /health, /openapi.json, /docs) and the web app.\n"
            "  --port N           0 picks a free port (printed on start)\n"
            "  --db URL           keep jobs, progress and files in PostgreSQL, shared by\n"
            "                     every node of a fleet (default: SQLite in --data-dir)\n"
            "  --data-dir DIR     SQLite: the store; with --db: this node's cache\n"
            "                     (default: a temporary folder)\n"
            "  --workers N        worker threads running jobs; 0 (with --db): HTTP only\n"
            "  --fast             jobs separate with bf16 products unless they ask for\n"
            "                     exact (fast=false): 12-26 %% less time, stems ~45 dB from exact\n"
            "  --threads N        inference threads per worker (default: cores / workers)\n"
            "  --max-queue N      queued jobs beyond this are refused with 429\n"
            "  --ttl-hours H      finished jobs and their files are deleted after H hours\n"
            "  --cors-origin O    send Access-Control-Allow-Origin: O\n"
            "  --auth MODE        off: one user, every job is everyone's (default %s);\n"
            "                     optional: anonymous browsers and accounts, each sees only\n"
            "                     its own jobs; required: an account's session or API key\n"
            "                     for everything but signing up and in\n"
            "  --secure-cookies   session cookies only over HTTPS (behind a TLS proxy)\n"
            "  --webhook-allow-private\n"
            "                     webhooks may call loopback, private and link-local\n"
            "                     addresses (a receiver on this machine or network)\n",
            srv_auth_mode_list(), srv_auth_mode_name(SRV_AUTH_DEFAULT));
}

static void worker_usage(FILE *f) {
    fprintf(f, "usage: dumu worker --db postgresql://USER@HOST/DB [--threads N]\n"
               "                   [--concurrency 1] [--data-dir DIR] [--models DIR]\n"
               "                   [--lease-s 60]\n"
               "\n"
               "Claims and runs jobs from the fleet's PostgreSQL store; no HTTP.\n"
               "  --concurrency N    jobs run at once (default 1)\n"
               "  --threads N        inference threads per job (default: cores / concurrency)\n"
               "  --data-dir DIR     scratch space (default: a temporary folder)\n"
               "  --lease-s S        a job this worker stops renewing (it died) runs elsewhere\n"
               "                     after S seconds\n"
               "SIGTERM puts the running job back in the queue at once.\n");
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Opens the models in `models` (NULL: found as dumu_app_find_models does): the separator when
 * `need_sep` (it must make every stem the API offers), Basic Pitch always, or only when
 * present unless `need_bp`. Returns 0, or EXIT_USAGE/EXIT_MODEL (said on stderr). */
static int open_models(const char *prog, const char *models, int need_sep, int need_bp,
                       dumu_separator **sep, dumu_bp_model **bp) {
    char buf[PATH_MAX], bp_dir[PATH_MAX], sep_path[PATH_MAX];
    const char *dir = dumu_app_find_models(models, buf, sizeof buf);
    dumu_error err = {0};
    if (snprintf(bp_dir, sizeof bp_dir, "%s/basic-pitch", dir) >= (int)sizeof bp_dir ||
        snprintf(sep_path, sizeof sep_path, "%s/%s", dir, DUMU_APP_SEPARATOR_FILE) >=
            (int)sizeof sep_path) {
        fprintf(stderr, "%s: model path too long\n", prog);
        return EXIT_USAGE;
    }
    if (dumu_bp_model_open(bp_dir, bp, &err)) {
        if (need_bp) {
            fprintf(stderr, "%s: %s\n", prog, err.message);
            return EXIT_MODEL;
        }
        fprintf(stderr, "%s: no Basic Pitch model (%s): re-transcription is refused here\n", prog,
                err.message);
    }
    if (need_sep && dumu_separator_open(sep_path, sep, &err)) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return EXIT_MODEL;
    }
    for (int k = 0; need_sep && k < SRV_N_STEMS; k++) {
        if (dumu_separator_stem_index(*sep, srv_stem_name(k)) < 0) {
            fprintf(stderr, "%s: %s has no %s stem\n", prog, sep_path, srv_stem_name(k));
            return EXIT_MODEL;
        }
    }
    return 0;
}

/* SIGTERM and SIGINT blocked in this thread and every thread started after it (taken with
 * sigtimedwait), SIGPIPE ignored. */
static void block_stop_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Inference threads per worker: all cores shared among the workers (an API node without
 * workers assumes the fleet's workers are machines like itself, for its queue estimates). */
static long default_threads(int workers) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (workers < 1) workers = 1;
    return cores > workers ? cores / workers : 1;
}

int dumu_serve_main(int argc, char **argv) {
    enum {
        OPT_HOST = 256,
        OPT_PORT,
        OPT_DATA,
        OPT_WEB,
        OPT_WORKERS,
        OPT_THREADS,
        OPT_UPLOAD,
        OPT_QUEUE,
        OPT_TTL,
        OPT_CORS,
        OPT_MODELS,
        OPT_DB,
        OPT_FAST,
        OPT_AUTH,
        OPT_SECURE_COOKIES,
        OPT_WEBHOOK_PRIVATE,
    };
    static const struct option opts[] = {
        {"host", required_argument, NULL, OPT_HOST},
        {"db", required_argument, NULL, OPT_DB},
        {"fast", no_argument, NULL, OPT_FAST},
        {"auth", required_argument, NULL, OPT_AUTH},
        {"secure-cookies", no_argument, NULL, OPT_SECURE_COOKIES},
        {"webhook-allow-private", no_argument, NULL, OPT_WEBHOOK_PRIVATE},
        {"port", required_argument, NULL, OPT_PORT},
        {"data-dir", required_argument, NULL, OPT_DATA},
        {"web-dir", required_argument, NULL, OPT_WEB},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"max-upload-mb", required_argument, NULL, OPT_UPLOAD},
        {"max-queue", required_argument, NULL, OPT_QUEUE},
        {"ttl-hours", required_argument, NULL, OPT_TTL},
        {"cors-origin", required_argument, NULL, OPT_CORS},
        {"models", required_argument, NULL, OPT_MODELS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *host = "127.0.0.1", *data_dir = NULL, *models = NULL, *db_url = NULL;
    struct srv_server s;
    memset(&s, 0, sizeof s);
    s.workers = 1;
    s.max_upload_mb = 100;
    s.max_queue = 16;
    s.web_dir = "web/dist";
    s.auth = SRV_AUTH_DEFAULT;
    long port = 8000, ttl_hours = 24, threads = 0, v;
    int c, li = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        switch (c) {
        case OPT_HOST: host = optarg; break;
        case OPT_PORT:
            if (parse_long(optarg, 0, 65535, &port)) goto bad_value;
            break;
        case OPT_DATA: data_dir = optarg; break;
        case OPT_DB: db_url = optarg; break;
        case OPT_FAST:
            s.fast = dumu_fast_available();
            if (!s.fast)
                fprintf(stderr, "dumu serve: --fast needs AVX512_BF16, which this CPU lacks: jobs "
                                "separate in exact mode\n");
            break;
        case OPT_WEB: s.web_dir = optarg; break;
        case OPT_WORKERS:
            if (parse_long(optarg, 0, 64, &v)) goto bad_value;
            s.workers = (int)v;
            break;
        case OPT_THREADS:
            if (parse_long(optarg, 1, 256, &threads)) goto bad_value;
            break;
        case OPT_UPLOAD:
            if (parse_long(optarg, 1, 4096, &v)) goto bad_value;
            s.max_upload_mb = (int)v;
            break;
        case OPT_QUEUE:
            if (parse_long(optarg, 1, 100000, &v)) goto bad_value;
            s.max_queue = (int)v;
            break;
        case OPT_TTL:
            if (parse_long(optarg, 1, 24 * 365, &ttl_hours)) goto bad_value;
            break;
        case OPT_CORS: s.cors_origin = optarg; break;
        case OPT_AUTH:
            if (srv_auth_mode_parse(optarg, &s.auth)) goto bad_value;
            break;
        case OPT_SECURE_COOKIES: s.secure_cookies = true; break;
        case OPT_WEBHOOK_PRIVATE: s.webhook_allow_private = true; break;
        case OPT_MODELS: models = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!s.workers && !db_url) {
        fprintf(stderr, "dumu serve: --workers 0 needs --db: someone else must run the jobs\n");
        return EXIT_USAGE;
    }
    if (!data_dir && !db_url) data_dir = "data";
    if (srv_auth_init()) {
        fprintf(stderr, "dumu serve: libsodium cannot start (no random source)\n");
        return EXIT_INTERNAL;
    }
    if (srv_webhook_global_init()) {
        fprintf(stderr, "dumu serve: libcurl cannot start\n");
        return EXIT_INTERNAL;
    }
    s.threads = (int)(threads ? threads : default_threads(s.workers));

    /* Signals go to the main thread's sigtimedwait only; every thread started below
     * inherits the mask. */
    sigset_t stop_signals;
    block_stop_signals(&stop_signals);
    /* Each connection (an SSE stream lasts minutes) holds a descriptor: allow as many as the
     * hard limit does, since the usual soft limit of 1024 is below our connection limit. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    pthread_mutex_init(&s.busy_mu, NULL);
    pthread_cond_init(&s.busy_cv, NULL);
    dumu_bp_model *bp = NULL;
    dumu_separator *sep = NULL;
    struct MHD_Daemon *d = NULL;
    srv_webhook_sender *sender = NULL;
    int code = open_models("dumu serve", models, s.workers > 0, s.workers > 0, &sep, &bp);
    if (code) goto done;
    s.bp = bp;
    s.sep = sep;
    if (srv_jobs_open(data_dir, db_url, &s.jobs)) {
        code = EXIT_SETUP;
        goto done;
    }
    srv_jobs_set_worker(s.jobs, s.workers, 0);
    int64_t ttl_s = (int64_t)ttl_hours * 3600;
    int expired = srv_jobs_expire(s.jobs, (int64_t)time(NULL) - ttl_s, s.auth != SRV_AUTH_OFF);
    if (expired) fprintf(stderr, "dumu serve: expired %d old jobs\n", expired);
    if (srv_pool_start(s.jobs, sep, bp, s.workers, s.threads, &s.pool)) {
        fprintf(stderr, "dumu serve: cannot start the workers\n");
        code = EXIT_INTERNAL;
        goto done;
    }
    if (srv_webhook_sender_start(s.jobs, s.webhook_allow_private, &sender)) {
        code = EXIT_INTERNAL;
        goto done;
    }
    d = srv_http_start(&s, host, (int)port);
    if (!d) {
        code = EXIT_SETUP;
        goto done;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr,
            "dumu serve: listening on http://%s:%u (%d worker%s x %d threads, %s store, data "
            "in %s, web app from %s, auth %s)\n",
            host, info ? info->port : (unsigned)port, s.workers, s.workers == 1 ? "" : "s",
            s.threads, srv_jobs_kind(s.jobs), srv_jobs_dir(s.jobs), s.web_dir,
            srv_auth_mode_name(s.auth));

    time_t last_expiry = time(NULL);
    for (;;) {
        struct timespec wait = {60, 0};
        int sig = sigtimedwait(&stop_signals, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            fprintf(stderr, "dumu serve: %s, shutting down\n",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (time(NULL) - last_expiry >= 600) {
            srv_jobs_expire(s.jobs, (int64_t)time(NULL) - ttl_s, s.auth != SRV_AUTH_OFF);
            last_expiry = time(NULL);
        }
    }

done:
    /* Workers first: a running job stops at its next chunk and goes back to queued. */
    srv_pool_stop(s.pool);
    /* a webhook call in flight is dropped: it is made again once its lease runs out */
    srv_webhook_sender_stop(sender);
    atomic_store(&s.stopping, 1);
    if (s.jobs) srv_jobs_wake(s.jobs);
    srv_http_stop(d);
    srv_jobs_close(s.jobs);
    dumu_separator_free(sep);
    dumu_bp_model_free(bp);
    pthread_cond_destroy(&s.busy_cv);
    pthread_mutex_destroy(&s.busy_mu);
    if (!code) fprintf(stderr, "dumu serve: stopped\n");
    return code;
bad_value:
    fprintf(stderr, "dumu serve: invalid value '%s' for --%s\n", optarg,
            li >= 0 ? opts[li].name : "?");
    return EXIT_USAGE;
}

int dumu_worker_main(int argc, char **argv) {
    enum { OPT_DB = 256, OPT_THREADS, OPT_CONCURRENCY, OPT_DATA, OPT_MODELS, OPT_LEASE };
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
        {"data-dir", required_argument, NULL, OPT_DATA},
        {"models", required_argument, NULL, OPT_MODELS},
        {"lease-s", required_argument, NULL, OPT_LEASE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_url = NULL, *data_dir = NULL, *models = NULL;
    long threads = 0, concurrency = 1, lease = SRV_LEASE_S;
    int c, li = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        switch (c) {
        case OPT_DB: db_url = optarg; break;
        case OPT_THREADS:
            if (parse_long(optarg, 1, 256, &threads)) goto bad_value;
            break;
        case OPT_CONCURRENCY:
            if (parse_long(optarg, 1, 64, &concurrency)) goto bad_value;
            break;
        case OPT_DATA: data_dir = optarg; break;
        case OPT_MODELS: models = optarg; break;
        case OPT_LEASE:
            /* at least two heartbeats, at most an hour of waiting for a dead worker's job */
            if (parse_long(optarg, 2 * SRV_HEARTBEAT_S, 3600, &lease)) goto bad_value;
            break;
        case 'h': worker_usage(stdout); return 0;
        default: worker_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc || !db_url) {
        worker_usage(stderr);
        return EXIT_USAGE;
    }
    if (!threads) threads = default_threads((int)concurrency);
    sigset_t stop_signals;
    block_stop_signals(&stop_signals);
    dumu_bp_model *bp = NULL;
    dumu_separator *sep = NULL;
    srv_jobs *jobs = NULL;
    srv_pool *pool = NULL;
    int code = open_models("dumu worker", models, 1, 1, &sep, &bp);
    if (code) goto done;
    if (srv_jobs_open(data_dir, db_url, &jobs)) {
        code = EXIT_SETUP;
        goto done;
    }
    srv_jobs_set_worker(jobs, (int)concurrency, (int)lease);
    if (srv_pool_start(jobs, sep, bp, (int)concurrency, (int)threads, &pool)) {
        fprintf(stderr, "dumu worker: cannot start the workers\n");
        code = EXIT_INTERNAL;
        goto done;
    }
    fprintf(stderr,
            "dumu worker: running (%ld job%s at once x %ld threads, lease %ld s, "
            "scratch in %s)\n",
            concurrency, concurrency == 1 ? "" : "s", threads, lease, srv_jobs_dir(jobs));
    for (;;) {
        int sig = sigwaitinfo(&stop_signals, NULL);
        if (sig == SIGTERM || sig == SIGINT) {
            fprintf(stderr, "dumu worker: %s, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
    }
done:
    /* a running job stops at its next chunk and goes back to the queue at once */
    srv_pool_stop(pool);
    srv_jobs_close(jobs);
    dumu_separator_free(sep);
    dumu_bp_model_free(bp);
    if (!code) fprintf(stderr, "dumu worker: stopped\n");
    return code;
bad_value:
    fprintf(stderr, "dumu worker: invalid value '%s' for --%s\n", optarg,
            li >= 0 ? opts[li].name : "?");
    return EXIT_USAGE;
}
