/* server.h - `dumu serve`, the HTTP service (entry point for app/cli/main.c).
 *
 * app/server/ files and what they own:
 *   serve.c    options, models, startup, signals, periodic cleanup, shutdown (this header)
 *   http.c/h   libmicrohttpd daemon, routing, replies, access log, static files
 *   upload.c   POST /api/process (multipart streaming, content check, 202)
 *   sse.c      GET /api/progress/{id} (Server-Sent Events)
 *   jobs.c/h   SQLite job store, event histories, data-dir layout
 *   worker.c/h worker threads, re-transcription, result files
 *   params.c/h parsing of untrusted request bytes (fuzzed)
 *   openapi.c/h  /openapi.json and /docs
 */
#ifndef DUMU_SERVER_H
#define DUMU_SERVER_H

/* Runs the service until SIGTERM or SIGINT; argv[0] is "serve". Returns a process exit code:
 * 0 after a clean shutdown, 1 usage error, 3 model missing or invalid, 4 cannot open the data
 * directory or listen, 5 internal error. Installs its own signal handling. */
int dumu_serve_main(int argc, char **argv);

#endif /* DUMU_SERVER_H */
