/* worker.h - the worker pool of `dumu serve` and everything in it that calls libdumu:
 * extraction jobs, the re-transcription of a cached bass stem, and the result files.
 *
 * The pool borrows the models and the job store (both outlive it: serve.c frees them after
 * srv_pool_stop). The models are shared read-only by all workers and by re-transcriptions
 * running on HTTP threads. All functions are thread-safe.
 */
#ifndef DUMU_SRV_WORKER_H
#define DUMU_SRV_WORKER_H

#include "dumu/dumu.h"

#include "jobs.h"

/* A job's files in its folder (srv_jobs_path), written by the worker (worker.c's header says
 * what each holds); stems are "<stem>.flac", "<stem>.wav", "<stem>.mp3". */
#define SRV_FILE_RESULT   "result.json" /* the newest result: the GET /api/result body */
#define SRV_FILE_FIRST    "first.json"  /* the first run's result, what re-transcriptions keep */
#define SRV_FILE_MIDI     "bass.mid"
#define SRV_FILE_MUSICXML "bass.musicxml"
#define SRV_FILE_TAB4     "tab4.txt"
#define SRV_FILE_TAB5     "tab5.txt"
#define SRV_FILE_SOURCE   "source.wav" /* the audio Basic Pitch read (float, 22050 Hz mono) */
#define SRV_FILE_MIX      "mix.mp3"    /* the upload as mono MP3, for its pictures */

typedef struct srv_pool srv_pool;

/* Starts `n_workers` threads, each running jobs with `n_threads` inference threads. */
int srv_pool_start(srv_jobs *jobs, const dumu_separator *sep, const dumu_bp_model *bp,
                   int n_workers, int n_threads, srv_pool **out);

/* Asks the worker running job `id` to stop at its next chunk and delete the job's files
 * (the job's row is removed by the caller). Returns 1 when a worker was running it. */
int srv_pool_cancel(srv_pool *pool, const char *id);

/* Expected processing seconds per minute of audio: a moving average of the jobs done so far,
 * or a benchmark figure scaled to the thread count before the first one. */
double srv_pool_seconds_per_minute(srv_pool *pool);

/* Stops every worker at its next chunk, puts their jobs back to queued, joins and frees the
 * pool. NULL is fine. */
void srv_pool_stop(srv_pool *pool);

/* The path (cap bytes) of the done job's `stem` ("bass", ...) as `ext`: "flac" (24-bit, kept
 * from the run), "wav" (24-bit PCM) or "mp3" (a preview), the last two made from the FLAC on
 * the first request and kept. DUMU_E_INVALID_ARG for another ext, DUMU_E_IO when the stem was
 * not kept or cannot be made. */
dumu_status srv_stem_file(srv_jobs *jobs, const char *id, const char *stem, const char *ext,
                          char *path, size_t cap, dumu_error *err);

/* The done job's bass tab for `strings` (4 or 5) with lines of at most `width` characters
 * (20..1000; 0: the tab file's 4 bars a line), laid out from its result's notes, beats and
 * meter. *text is NUL-terminated; free it with dumu_free. */
dumu_status srv_tab(srv_jobs *jobs, const struct srv_job *job, int strings, int width, char **text,
                    dumu_error *err);

/* The done job's MIDI file at one constant tempo (dumu_midi_params.constant_tempo): its
 * result's notes at their times, bar lines through its first downbeat. *midi: free with
 * dumu_free. */
dumu_status srv_midi_constant(srv_jobs *jobs, const struct srv_job *job, uint8_t **midi,
                              size_t *size, dumu_error *err);

/* Re-runs Basic Pitch, notes and MIDI on the done job's cached bass stem with `params`
 * (tempo fixed to the job's), replaces its result files and returns the new result body
 * (malloc'd JSON, free with free) in *json. Runs on the caller's thread. */
dumu_status srv_retranscribe(srv_jobs *jobs, const dumu_bp_model *bp, int n_threads,
                             const struct srv_job *job, const struct srv_params *params,
                             char **json, dumu_error *err);

#endif /* DUMU_SRV_WORKER_H */
