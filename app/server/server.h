/* server.h - `dumu serve`, the HTTP service, and `dumu worker`, a worker of a fleet (entry
 * points for app/cli/main.c).
 *
 * app/server/ files and what they own:
 *   serve.c    options, models, startup, signals, periodic cleanup, shutdown (this header)
 *              of both commands
 *   http.c/h   libmicrohttpd daemon, routing, replies, access log, static files
 *   upload.c   POST /api/process (multipart streaming, content check, 202)
 *   sse.c      GET /api/progress/{id} (Server-Sent Events)
 *   jobs.c/h   the job store's interface, data-dir layout (store.h: its two kinds)
 *   store_sqlite.c, store_pg.c  the store in SQLite (one machine) or PostgreSQL (a fleet)
 *   worker.c/h worker threads, re-transcription, result files
 *   params.c/h parsing of untrusted request bytes (fuzzed)
 *   auth.c/h   auth modes, password hashes, tokens (libsodium)
 *   account.c  who is asking (API keys, sessions, CSRF, throttling) and the account routes
 *   admin.c    `dumu admin`: accounts and API keys from the command line
 *   openapi.c/h  /openapi.json and /docs
 */
#ifndef DUMU_SERVER_H
#define DUMU_SERVER_H

/* Runs the service until SIGTERM or SIGINT; argv[0] is "serve". Returns a process exit code:
 * 0 after a clean shutdown, 1 usage error, 3 model missing or invalid, 4 cannot open the data
 * directory or listen, 5 internal error. Installs its own signal handling. */
int dumu_serve_main(int argc, char **argv);

/* `dumu worker` (argv[0] "worker"): claims and runs jobs of a PostgreSQL store until SIGTERM
 * or SIGINT, which put its running jobs back in the queue. Exit codes as dumu_serve_main. */
int dumu_worker_main(int argc, char **argv);

/* `dumu admin` (argv[0] "admin"): lists accounts, makes, lists and revokes API keys on the
 * store of `dumu serve` (--data-dir or --db), also while it runs. Returns 0, 1 usage error,
 * 2 no such account or key, 4 the store cannot be opened or failed. */
int dumu_admin_main(int argc, char **argv);

#endif /* DUMU_SERVER_H */
