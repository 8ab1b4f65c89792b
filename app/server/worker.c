/* worker.c - worker threads, re-transcription and result files (see worker.h).
 *
 * A worker claims the oldest queued job, decodes its saved upload, runs dumu_extract with a
 * progress callback that reports to the job store and polls the worker's cancel flag (so a
 * cancel or a shutdown lands at the next chunk), then writes DATA_DIR/jobs/<id>/:
 *   <stem>.flac    every kept stem, 24-bit FLAC at the upload's sample rate (the download)
 *   bass.mp3       the bass stem as an MP3 preview (44.1 kHz), which the page streams
 *   mix.mp3        the upload as mono MP3 at 22.05 kHz, written as the job starts: every
 *                  view of the job draws the song's waveform and spectrogram from it
 *   <stem>.wav, <stem>.mp3  made from <stem>.flac when first asked for (srv_stem_file); jobs
 *                  from before FLAC was kept have <stem>.wav (16-bit) instead
 *   source.wav     the audio the notes were made from exactly as Basic Pitch read it (32-bit
 *                  float, mono, 22050 Hz: dumu_extraction.notes_audio), for re-transcription
 *   bass.mid       the MIDI file (tempo map, meter, key)
 *   bass.musicxml, tab4.txt, tab5.txt  the notation and the 4- and 5-string tab
 *   result.json    the GET /api/result body, MIDI included as base64 (the newest run's)
 *   first.json     the first run's result: its beats, meter, key and parameters are what
 *                  every re-transcription keeps
 * Files are written to a temporary name and renamed, so a reader never sees half a file.
 * The saved upload is deleted when a job ends; a job stopped by a shutdown keeps it and runs
 * again on the next start.
 */
#include "worker.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/files.h"
#include "webhook.h"

enum { CANCEL_NONE = 0, CANCEL_USER = 1, CANCEL_SHUTDOWN = 2 };

struct srv_worker {
    srv_pool *pool;
    pthread_t thread;
    char id[SRV_ID_LEN + 1]; /* job being run, "" when idle; guarded by pool->mu */
    atomic_int cancel;       /* CANCEL_* for the current job */
    /* progress throttling: an event only when the whole percent or the stage changes */
    int last_percent;
    const char *last_stage;
};

struct srv_pool {
    srv_jobs *jobs;
    const dumu_separator *sep;
    const dumu_bp_model *bp;
    int n_threads;
    int n_workers;
    atomic_int stopping;
    pthread_mutex_t mu;
    struct srv_worker *workers; /* (n_workers) */
    double s_per_min;           /* measured processing seconds per audio minute; guarded by mu */
};

/* ---------------------------------------------------------------------------------------- */
/* Result files */

static char *base64(const uint8_t *data, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < n) v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < n) v |= data[i + 2];
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* Sets *err to `rc` with a message (printf-style) and returns rc. */
static dumu_status fail(dumu_error *err, dumu_status rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return err->status = rc;
}

/* Creates the job's result folder (an existing one is fine). */
static dumu_status make_dir(srv_jobs *jobs, const char *id, dumu_error *err) {
    char path[4096];
    if (srv_jobs_path(jobs, id, "dir", path, sizeof path))
        return fail(err, DUMU_E_IO, "result folder path too long");
    if (mkdir(path, 0755) && errno != EEXIST)
        return fail(err, DUMU_E_IO, "cannot create the result folder: %s", strerror(errno));
    return DUMU_OK;
}

/* Writes `n` bytes to the job file `file` through a temporary name and a rename. */
static dumu_status write_job_file(srv_jobs *jobs, const char *id, const char *file,
                                  const void *data, size_t n, dumu_error *err) {
    char path[4096], tmp[4200];
    if (srv_jobs_path(jobs, id, file, path, sizeof path))
        return fail(err, DUMU_E_IO, "path too long");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int bad = !f || fwrite(data, 1, n, f) != n;
    if (f) bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return fail(err, DUMU_E_IO, "cannot write %s: %s", file, strerror(e));
    }
    return DUMU_OK;
}

/* The note mode of a job's API parameters. */
static dumu_note_mode transcribe_mode(const struct srv_params *p) {
    return strcmp(p->mode, "raw") == 0 ? DUMU_NOTES_RAW : DUMU_NOTES_BASS;
}

/* The source a result names (dumu_bass_source_name); a result from before sources were
 * chosen names none: the bass stem. */
static dumu_bass_source source_of(const char *name) {
    for (int s = DUMU_BASS_SOURCE_BASS_STEM; s <= DUMU_BASS_SOURCE_NONE; s++)
        if (strcmp(name, dumu_bass_source_name((dumu_bass_source)s)) == 0)
            return (dumu_bass_source)s;
    return DUMU_BASS_SOURCE_BASS_STEM;
}

/* The note parameters of a job as result.json lists them ("params", "first_params"). */
static void add_note_params(cJSON *root, const char *name, const struct srv_params *p) {
    cJSON *o = cJSON_AddObjectToObject(root, name);
    cJSON_AddNumberToObject(o, "onset_threshold", p->onset_threshold);
    cJSON_AddNumberToObject(o, "frame_threshold", p->frame_threshold);
    cJSON_AddNumberToObject(o, "min_note_ms", p->min_note_ms);
    cJSON_AddStringToObject(o, "mode", p->mode);
    cJSON_AddStringToObject(o, "quantize", p->quantize);
    cJSON_AddNumberToObject(o, "quantize_strength", p->quantize_strength);
    if (p->bpm > 0.0) cJSON_AddNumberToObject(o, "bpm", p->bpm);
}

/* Writes the transcription's MIDI (tempo map, meter, key), MusicXML and 4- and 5-string tab
 * (bass.mid, bass.musicxml, tab4.txt, tab5.txt) and result.json, and returns the body.
 * source: where the notes come from, a dumu_bass_source_name; params: this run's note
 * parameters, first: the job's first run's (the same for the first run). */
static dumu_status save_result(srv_jobs *jobs, const char *id, const char *name,
                               const dumu_transcription *tr, const char *source,
                               const struct srv_params *params, const struct srv_params *first,
                               double duration, char **json, dumu_error *err) {
    dumu_midi_params mp = dumu_midi_default_params();
    uint8_t *midi = NULL;
    size_t midi_size = 0, size = 0;
    char *b64 = NULL, *text = NULL, *extra = NULL, *doc = NULL, filename[SRV_NAME_LEN + 16];
    cJSON *root = NULL;
    *json = NULL;
    dumu_status rc = dumu_transcription_midi(tr, &mp, &midi, &midi_size, err);
    if (rc) goto done;
    rc = write_job_file(jobs, id, SRV_FILE_MIDI, midi, midi_size, err);
    if (rc) goto done;
    dumu_notation_params np = dumu_notation_default_params();
    np.title = name;
    rc = dumu_transcription_musicxml(tr, &np, &text, &size, err);
    if (!rc) rc = write_job_file(jobs, id, SRV_FILE_MUSICXML, text, size, err);
    for (int strings = 4; !rc && strings <= 5; strings++) {
        dumu_free(text);
        text = NULL;
        np.tab_strings = strings;
        rc = dumu_transcription_tab(tr, &np, &text, err);
        if (!rc)
            rc = write_job_file(jobs, id, strings == 4 ? SRV_FILE_TAB4 : SRV_FILE_TAB5, text,
                                strlen(text), err);
    }
    if (rc) goto done;
    snprintf(filename, sizeof filename, "%s-bass.mid", name);
    b64 = base64(midi, midi_size);
    root = cJSON_CreateObject(); /* the server's own members; the library adds the rest */
    if (!b64 || !root) {
        rc = fail(err, DUMU_E_NOMEM, "out of memory");
        goto done;
    }
    cJSON_AddStringToObject(root, "job_id", id);
    cJSON_AddStringToObject(root, "midi_b64", b64);
    cJSON_AddStringToObject(root, "filename", filename);
    add_note_params(root, "params", params);
    add_note_params(root, "first_params", first);
    extra = cJSON_PrintUnformatted(root);
    dumu_result_info info = {duration, transcribe_mode(params), true, source_of(source), &mp,
                             extra};
    rc = extra ? dumu_transcription_json(tr, &info, &doc, err)
               : fail(err, DUMU_E_NOMEM, "out of memory");
    if (!rc) rc = write_job_file(jobs, id, SRV_FILE_RESULT, doc, strlen(doc), err);
    /* the first run's result stays apart: what every re-transcription keeps (the first run
     * passes its parameters as both params and first) */
    if (!rc && first == params)
        rc = write_job_file(jobs, id, SRV_FILE_FIRST, doc, strlen(doc), err);
    if (!rc && !(*json = strdup(doc))) rc = fail(err, DUMU_E_NOMEM, "out of memory");
done:
    cJSON_Delete(root);
    cJSON_free(extra);
    dumu_free(doc);
    free(b64);
    dumu_free(text);
    dumu_free(midi);
    return rc;
}

/* The library's transcription parameters of a job's API parameters. */
static void transcribe_params(const struct srv_params *p, dumu_transcribe_params *tp) {
    tp->notes.onset_threshold = p->onset_threshold;
    tp->notes.frame_threshold = p->frame_threshold;
    tp->notes.min_note_frames = dumu_note_ms_to_frames(p->min_note_ms);
    tp->mode = transcribe_mode(p);
    tp->quantize = srv_quantize_steps(p->quantize);
    tp->quantize_strength = p->quantize_strength / 100.0;
}

/* The reading of a result file: the source of the notes, the beat grid and tempo
 * confidence, the meter, the key and the first run's parameters. A result written before
 * these were kept leaves the fields it lacks to be estimated again (beats NULL, has_meter /
 * has_key false) and first = the job's params. A re-transcription keeps the first run's
 * (first.json); the exports read the newest result's (result.json). */
struct first_run {
    char source[32];
    double *beats; /* (n_beats); malloc'd */
    int64_t n_beats;
    double tempo_confidence; /* < 0: not kept */
    dumu_meter meter;
    dumu_key key;
    bool has_meter, has_key;
    struct srv_params first;
};

static double number_of(const cJSON *o, const char *name, double fallback) {
    const cJSON *v = cJSON_GetObjectItem(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

/* The job's result file `file` parsed (free with cJSON_Delete), NULL when it cannot be read. */
static cJSON *read_result(srv_jobs *jobs, const char *id, const char *file) {
    char path[4096];
    if (srv_jobs_fetch(jobs, id, file, path, sizeof path)) return NULL;
    size_t len = 0;
    char *text = dumu_app_read_file(path, (size_t)256 << 20, &len);
    cJSON *root = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    return root;
}

/* The reading of a parsed result file (NULL: none). */
static void parse_run(const cJSON *root, const struct srv_job *job, struct first_run *r) {
    char why[128];
    memset(r, 0, sizeof *r);
    snprintf(r->source, sizeof r->source, "%s", dumu_bass_source_name(DUMU_BASS_SOURCE_BASS_STEM));
    r->tempo_confidence = -1.0;
    r->first = job->params;
    const cJSON *src = cJSON_GetObjectItem(root, "source");
    if (cJSON_IsString(src)) snprintf(r->source, sizeof r->source, "%s", src->valuestring);
    const cJSON *arr = cJSON_GetObjectItem(root, "beats");
    int count = cJSON_GetArraySize(arr);
    r->beats = count >= 2 ? malloc(sizeof(double) * (size_t)count) : NULL;
    for (int i = 0; r->beats && i < count; i++)
        r->beats[i] = cJSON_GetNumberValue(cJSON_GetArrayItem(arr, i));
    if (r->beats) r->n_beats = count;
    r->tempo_confidence = number_of(root, "tempo_confidence", -1.0);
    const cJSON *compound = cJSON_GetObjectItem(root, "compound");
    r->has_meter =
        cJSON_IsNumber(cJSON_GetObjectItem(root, "beats_per_bar")) && cJSON_IsBool(compound);
    r->meter.beats_per_bar = (int32_t)number_of(root, "beats_per_bar", 4.0);
    r->meter.first_downbeat = (int32_t)number_of(root, "first_downbeat", 0.0);
    r->meter.compound = cJSON_IsTrue(compound);
    const cJSON *key = cJSON_GetObjectItem(root, "key");
    const cJSON *minor = cJSON_GetObjectItem(key, "minor");
    r->has_key = cJSON_IsNumber(cJSON_GetObjectItem(key, "confidence")) && cJSON_IsBool(minor);
    r->key.tonic = (int32_t)number_of(key, "tonic", 0.0);
    r->key.fifths = (int32_t)number_of(key, "fifths", 0.0);
    r->key.confidence = number_of(key, "confidence", 0.0);
    r->key.minor = cJSON_IsTrue(minor);
    char *first = cJSON_PrintUnformatted(cJSON_GetObjectItem(root, "first_params"));
    if (first) srv_params_from_json(&r->first, first, strlen(first), why, sizeof why);
    free(first);
}

/* The reading of result file `file` (SRV_FILE_FIRST falls back to SRV_FILE_RESULT: jobs from
 * before the first result was kept apart). */
static void read_run(srv_jobs *jobs, const struct srv_job *job, const char *file,
                     struct first_run *r) {
    cJSON *root = read_result(jobs, job->id, file);
    if (!root && strcmp(file, SRV_FILE_FIRST) == 0)
        root = read_result(jobs, job->id, SRV_FILE_RESULT);
    parse_run(root, job, r);
    cJSON_Delete(root);
}

/* The done job's result as a transcription for the exports: its notes (velocity back to
 * amplitude, as dumu_midi_velocity maps it), beats, tempo, meter and key. The notes and beats
 * are malloc'd: release with free_stored. */
static dumu_status read_stored(srv_jobs *jobs, const struct srv_job *job, dumu_transcription *tr,
                               dumu_error *err) {
    struct first_run run;
    cJSON *root = read_result(jobs, job->id, SRV_FILE_RESULT);
    parse_run(root, job, &run);
    memset(tr, 0, sizeof *tr);
    const cJSON *arr = cJSON_GetObjectItem(root, "notes");
    int n = cJSON_GetArraySize(arr);
    tr->notes.notes = malloc(sizeof(dumu_note) * (size_t)(n > 0 ? n : 1));
    if (!tr->notes.notes) {
        cJSON_Delete(root);
        free(run.beats);
        return fail(err, DUMU_E_NOMEM, "out of memory");
    }
    const int min_velocity = dumu_midi_default_params().min_velocity;
    for (int i = 0; i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(arr, i);
        dumu_note *nt = &tr->notes.notes[tr->notes.n_notes++];
        memset(nt, 0, sizeof *nt);
        nt->pitch = (int32_t)number_of(o, "pitch", 0.0);
        nt->start_s = number_of(o, "start", 0.0);
        nt->end_s = number_of(o, "end", 0.0);
        nt->amplitude = (number_of(o, "velocity", 127.0) - min_velocity) / (127.0 - min_velocity);
        nt->confidence = number_of(o, "confidence", 0.0);
    }
    tr->tempo.bpm = number_of(root, "bpm", 120.0);
    cJSON_Delete(root);
    tr->tempo.beats = run.beats;
    tr->tempo.n_beats = run.n_beats;
    tr->meter = run.has_meter ? run.meter : (dumu_meter){.beats_per_bar = 4};
    tr->key = run.key;
    return DUMU_OK;
}

static void free_stored(dumu_transcription *tr) {
    free(tr->notes.notes);
    free(tr->tempo.beats);
    memset(tr, 0, sizeof *tr);
}

dumu_status srv_tab(srv_jobs *jobs, const struct srv_job *job, int strings, int width, char **text,
                    dumu_error *err) {
    *text = NULL;
    dumu_transcription tr;
    dumu_status rc = read_stored(jobs, job, &tr, err);
    if (rc) return rc;
    dumu_notation_params np = dumu_notation_default_params();
    np.tab_strings = strings;
    np.tab_line_width = width;
    rc = dumu_transcription_tab(&tr, &np, text, err);
    free_stored(&tr);
    return rc;
}

dumu_status srv_midi_constant(srv_jobs *jobs, const struct srv_job *job, uint8_t **midi,
                              size_t *size, dumu_error *err) {
    *midi = NULL;
    dumu_transcription tr;
    dumu_status rc = read_stored(jobs, job, &tr, err);
    if (rc) return rc;
    dumu_midi_params mp = dumu_midi_default_params();
    mp.constant_tempo = true;
    rc = dumu_transcription_midi(&tr, &mp, midi, size, err);
    free_stored(&tr);
    return rc;
}

dumu_status srv_retranscribe(srv_jobs *jobs, const dumu_bp_model *bp, int n_threads,
                             const struct srv_job *job, const struct srv_params *params,
                             char **json, dumu_error *err) {
    char path[4096];
    dumu_audio audio = {0};
    dumu_transcription tr = {0};
    struct first_run run;
    /* the first run's beats, meter and key (from the whole mix) stay: finding them again on
     * the notes' source alone could lock onto another pulse or harmony; a tempo the person
     * gives that the first run did not have makes a steady grid at it instead */
    read_run(jobs, job, SRV_FILE_FIRST, &run);
    const bool new_tempo = params->bpm > 0.0 && params->bpm != run.first.bpm;
    *json = NULL;
    if (strcmp(run.source, dumu_bass_source_name(DUMU_BASS_SOURCE_NONE)) == 0) {
        free(run.beats);
        return fail(err, DUMU_E_UNSUPPORTED,
                    "no bass line was found in this song: there is nothing to re-transcribe");
    }
    /* source.wav is the first run's own Basic Pitch input; a job from before it was kept
     * has its low-passed source there, or the bass stem's bass.wav */
    dumu_status rc = DUMU_E_IO;
    if (!srv_jobs_fetch(jobs, job->id, SRV_FILE_SOURCE, path, sizeof path) ||
        !srv_jobs_fetch(jobs, job->id, "bass.wav", path, sizeof path))
        rc = dumu_audio_decode_file(path, NULL, &audio, err);
    else
        fail(err, DUMU_E_IO, "the job's bass source cannot be read");
    if (!rc) {
        dumu_transcribe_params tp = dumu_transcribe_default_params();
        tp.bp.n_threads = n_threads;
        transcribe_params(params, &tp);
        tp.beats = new_tempo ? NULL : run.beats;
        tp.n_beats = new_tempo ? 0 : run.n_beats;
        if (!tp.beats) tp.fixed_bpm = new_tempo ? params->bpm : job->bpm > 0.0 ? job->bpm : 120.0;
        tp.meter = run.has_meter && !new_tempo ? &run.meter : NULL;
        tp.key = run.has_key ? &run.key : NULL;
        rc = dumu_transcribe(bp, &audio, &tp, &tr, err);
        /* same beats, same tempo: the figures the first run reported */
        if (!rc && !new_tempo && job->bpm > 0.0) tr.tempo.bpm = job->bpm;
        if (!rc && !new_tempo && run.tempo_confidence >= 0.0)
            tr.tempo.confidence = run.tempo_confidence;
    }
    if (!rc) rc = make_dir(jobs, job->id, err);
    if (!rc)
        rc = save_result(jobs, job->id, job->name, &tr, run.source, params, &run.first,
                         job->duration, json, err);
    if (!rc && srv_jobs_publish_all(jobs, job->id))
        rc = fail(err, DUMU_E_IO, "the job store cannot keep the new result");
    free(run.beats);
    dumu_transcription_deinit(&tr);
    dumu_audio_deinit(&audio);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Workers */

struct run_ctx {
    struct srv_worker *w;
    const char *id;
};

/* Library stage names to the API's (queued|decode|tempo|separate|transcribe|midi). */
static const char *api_stage(dumu_stage stage, const char **message) {
    switch (stage) {
    case DUMU_STAGE_TEMPO: *message = "detecting the tempo"; return "tempo";
    case DUMU_STAGE_SEPARATE: *message = "separating the bass (htdemucs)"; return "separate";
    case DUMU_STAGE_DONE: *message = "writing the MIDI file and stems"; return "midi";
    case DUMU_STAGE_DECODE: *message = "decoding the upload"; return "decode";
    case DUMU_STAGE_RESAMPLE:
    case DUMU_STAGE_BASIC_PITCH:
    case DUMU_STAGE_NOTES: break;
    }
    *message = "transcribing the notes (Basic Pitch)";
    return "transcribe";
}

static void report(struct run_ctx *c, double percent, const char *stage, const char *message) {
    int p = (int)percent;
    percent = (double)(int)(percent * 10.0 + 0.5) / 10.0; /* one decimal is plenty */
    if (p == c->w->last_percent && stage == c->w->last_stage) return;
    c->w->last_percent = p;
    c->w->last_stage = stage;
    /* removed, or taken back from a worker that went silent too long: stop */
    if (srv_jobs_progress(c->w->pool->jobs, c->id, percent, stage, message) == 1)
        atomic_store(&c->w->cancel, CANCEL_USER);
}

/* dumu_extract's overall fraction maps to 3..95 %; decode is below, writing above. */
static int on_progress(dumu_stage stage, float fraction, void *user) {
    struct run_ctx *c = user;
    const char *message;
    const char *s = api_stage(stage, &message);
    report(c, 3.0 + 92.0 * (double)fraction, s, message);
    return atomic_load(&c->w->cancel) != CANCEL_NONE;
}

/* Maps a failure to the error event's code. */
static const char *error_code(dumu_status rc) {
    switch (rc) {
    case DUMU_E_FORMAT:
    case DUMU_E_UNSUPPORTED:
    case DUMU_E_TRUNCATED:
    case DUMU_E_EMPTY: return "unsupported_media";
    case DUMU_E_TOO_LONG: return "too_large";
    case DUMU_E_NOMEM: return "out_of_memory";
    default: return "failed";
    }
}

/* Writes `a` as the job file `file` in `format`, resampled to `rate` (0: its own), through a
 * temporary name of its own (two HTTP threads may make the same file at once). */
static dumu_status write_audio(srv_jobs *jobs, const char *id, const char *file,
                               const dumu_audio *a, int32_t rate, dumu_audio_format format,
                               dumu_error *err) {
    static atomic_uint serial;
    char path[4096], tmp[4200];
    if (srv_jobs_path(jobs, id, file, path, sizeof path)) return DUMU_E_IO;
    snprintf(tmp, sizeof tmp, "%s.%u.tmp", path, atomic_fetch_add(&serial, 1));
    dumu_audio resampled = {0};
    dumu_status rc = DUMU_OK;
    if (rate && a->sample_rate != rate) {
        rc = dumu_audio_resample(a, rate, &resampled, err);
        a = &resampled;
    }
    if (!rc) rc = dumu_audio_write_file(tmp, a, format, err);
    dumu_audio_deinit(&resampled);
    if (!rc && rename(tmp, path))
        rc = fail(err, DUMU_E_IO, "cannot rename %s: %s", file, strerror(errno));
    if (rc) unlink(tmp);
    return rc;
}

/* MP3 takes MPEG rates alone: other rates are previewed at 44.1 kHz. */
static int32_t mp3_rate(int32_t rate) {
    return rate == 32000 || rate == 44100 || rate == 48000 ? 0 : 44100;
}

/* Writes each stem of the API's `mask` that the extraction made as 24-bit FLAC at `rate`, and
 * the bass stem's MP3 preview. */
static dumu_status write_stems(srv_jobs *jobs, const char *id, const dumu_stems *stems,
                               uint32_t mask, int32_t rate, dumu_error *err) {
    for (int k = 0; k < SRV_N_STEMS; k++) {
        const dumu_audio *a = dumu_stems_find(stems, srv_stem_name(k));
        if (!(mask & (1u << k)) || !a) continue;
        char file[32];
        snprintf(file, sizeof file, "%s.flac", srv_stem_name(k));
        dumu_status rc = write_audio(jobs, id, file, a, rate, DUMU_AUDIO_FLAC_24, err);
        if (!rc && k == SRV_STEM_BASS)
            rc =
                write_audio(jobs, id, "bass.mp3", a, mp3_rate(a->sample_rate), DUMU_AUDIO_MP3, err);
        if (rc) return rc;
    }
    return DUMU_OK;
}

static const struct {
    const char *ext;
    dumu_audio_format format;
} k_stem_formats[] = {
    {"flac", DUMU_AUDIO_FLAC_24}, {"wav", DUMU_AUDIO_WAV_PCM24}, {"mp3", DUMU_AUDIO_MP3}};

dumu_status srv_stem_file(srv_jobs *jobs, const char *id, const char *stem, const char *ext,
                          char *path, size_t cap, dumu_error *err) {
    int want = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(ext, k_stem_formats[i].ext) == 0) want = i;
    char file[48], from[4096];
    snprintf(file, sizeof file, "%s.%s", stem, ext);
    if (want < 0 || srv_jobs_path(jobs, id, file, path, cap))
        return fail(err, DUMU_E_INVALID_ARG, "no such stem file: %s", file);
    /* stored, or made here before (with PostgreSQL a derived file stays on its node) */
    int found = srv_jobs_fetch(jobs, id, file, path, cap);
    if (found < 0) return fail(err, DUMU_E_IO, "the job store cannot be read");
    if (!found || access(path, R_OK) == 0) return DUMU_OK;
    /* made from the full-quality file: FLAC, or the 16-bit WAV of an older job */
    for (int i = 0; i < 2; i++) {
        snprintf(file, sizeof file, "%s.%s", stem, k_stem_formats[i].ext);
        if (i == want || srv_jobs_fetch(jobs, id, file, from, sizeof from)) continue;
        dumu_audio a = {0};
        dumu_status rc = dumu_audio_decode_file(from, NULL, &a, err);
        if (!rc) rc = make_dir(jobs, id, err);
        if (!rc) {
            snprintf(file, sizeof file, "%s.%s", stem, ext);
            int32_t rate =
                k_stem_formats[want].format == DUMU_AUDIO_MP3 ? mp3_rate(a.sample_rate) : 0;
            rc = write_audio(jobs, id, file, &a, rate, k_stem_formats[want].format, err);
        }
        dumu_audio_deinit(&a);
        return rc;
    }
    return fail(err, DUMU_E_IO, "the %s stem was not kept", stem);
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The dumu_separate_params.stems mask of the API's stem `mask` (every API stem is one of the
 * separator's: dumu serve checks at start). */
static uint32_t separator_stems(const dumu_separator *sep, uint32_t mask) {
    uint32_t stems = 0;
    for (int k = 0; k < SRV_N_STEMS; k++) {
        int32_t i = dumu_separator_stem_index(sep, srv_stem_name(k));
        if ((mask & (1u << k)) && i >= 0) stems |= 1u << i;
    }
    return stems;
}

static void run_job(struct srv_worker *w, const struct srv_job *job) {
    srv_pool *pool = w->pool;
    double t0 = mono_s();
    struct run_ctx ctx = {w, job->id};
    char path[4096];
    dumu_error err = {0};
    dumu_audio mix = {0};
    dumu_extraction ex = {0};
    char *json = NULL;
    w->last_percent = -1;
    w->last_stage = NULL;
    double duration = -1.0, bpm = 0.0;
    char key[SRV_KEY_LEN] = ""; /* the key's name when the notes can tell it */
    uint32_t mask = srv_stems_mask(job->params.stems);

    const char *decode_msg, *decode = api_stage(DUMU_STAGE_DECODE, &decode_msg);
    report(&ctx, 0.0, decode, decode_msg);
    dumu_status rc = DUMU_E_IO;
    int fetched = srv_jobs_fetch(pool->jobs, job->id, "upload", path, sizeof path);
    if (fetched < 0) { /* the store is away: the job waits in the queue, or for its lease */
        srv_jobs_requeue(pool->jobs, job->id);
        sleep(1);
        return;
    }
    if (!fetched)
        rc = dumu_audio_decode_file(path, NULL, &mix, &err);
    else
        fail(&err, DUMU_E_IO, "the upload is gone");
    if (!rc) {
        duration = (double)mix.n_frames / mix.sample_rate;
        make_dir(pool->jobs, job->id, &err);
        /* the summary is a picture aid: a failure to write it costs the job nothing */
        dumu_audio mono = {0};
        if (!err.status && !dumu_audio_to_mono(&mix, &mono, &err) &&
            !write_audio(pool->jobs, job->id, SRV_FILE_MIX, &mono, 22050, DUMU_AUDIO_MP3, &err))
            srv_jobs_publish(pool->jobs, job->id, SRV_FILE_MIX);
        dumu_audio_deinit(&mono);
        if (err.status) fprintf(stderr, "dumu: job %s: no mix summary: %s\n", job->id, err.message);
        err = (dumu_error){0};
        report(&ctx, 3.0, decode, "decoded");
        dumu_extract_params ep = dumu_extract_default_params();
        ep.separate.n_threads = pool->n_threads;
        ep.separate.stems = separator_stems(pool->sep, mask);
        ep.separate.fast = job->params.fast;
        ep.transcribe.bp.n_threads = pool->n_threads;
        transcribe_params(&job->params, &ep.transcribe);
        ep.transcribe.fixed_bpm = job->params.bpm;
        ep.progress = on_progress;
        ep.progress_user = &ctx;
        rc = dumu_extract(pool->sep, pool->bp, &mix, &ep, &ex, &err);
    }
    /* from here on a failure is the server's (its disk), not the song's: the upload stays, so
     * the job can be retried (POST /api/jobs/{id}/retry) */
    const bool extracted = !rc;
    if (!rc) {
        bpm = ex.transcription.tempo.bpm > 0.0 ? ex.transcription.tempo.bpm : 120.0;
        const dumu_transcription *tr = &ex.transcription;
        if (dumu_key_found(&tr->key, tr->notes.notes, tr->notes.n_notes))
            snprintf(key, sizeof key, "%s", dumu_key_name(tr->key.tonic, tr->key.minor));
        rc = make_dir(pool->jobs, job->id, &err);
    }
    if (!rc) rc = write_stems(pool->jobs, job->id, &ex.stems, mask, mix.sample_rate, &err);
    if (!rc && ex.notes_audio.samples)
        rc = write_audio(pool->jobs, job->id, SRV_FILE_SOURCE, &ex.notes_audio, 0,
                         DUMU_AUDIO_WAV_FLOAT, &err);
    if (!rc)
        rc = save_result(pool->jobs, job->id, job->name, &ex.transcription,
                         dumu_bass_source_name(ex.source), &job->params, &job->params, duration,
                         &json, &err);
    free(json);
    dumu_extraction_deinit(&ex);
    dumu_audio_deinit(&mix);
    /* the results into the store; while it is away, the worker holds them and tries again */
    while (!rc && srv_jobs_publish_all(pool->jobs, job->id)) {
        if (atomic_load(&pool->stopping) || !srv_jobs_ping(pool->jobs)) {
            rc = fail(&err, DUMU_E_IO, "the job store cannot keep the results");
            break;
        }
        sleep(2);
    }

    int cancel = atomic_load(&w->cancel);
    if (rc == DUMU_E_CANCELLED && cancel == CANCEL_SHUTDOWN) {
        srv_jobs_requeue(pool->jobs, job->id);
        if (strcmp(srv_jobs_kind(pool->jobs), "sqlite") == 0)
            fprintf(stderr, "dumu: job %s stopped by shutdown; it resumes on restart\n", job->id);
        else
            fprintf(stderr, "dumu: job %s stopped by shutdown; it is back in the queue\n", job->id);
        srv_jobs_remove_files(pool->jobs, job->id);
        return;
    }
    int gone;
    while ((gone = rc ? srv_jobs_finish(pool->jobs, job->id, SRV_FAILED, 0.0, NULL, duration,
                                        extracted ? "storage" : error_code(rc), err.message)
                      : srv_jobs_finish(pool->jobs, job->id, SRV_DONE, bpm, key, duration, NULL,
                                        NULL)) < 0 &&
           !atomic_load(&pool->stopping))
        sleep(2);
    /* its end as the store has it now (state, tempo, key, error) to whoever asked to be told */
    struct srv_job ended;
    int known = gone == 0 ? srv_jobs_get(pool->jobs, job->id, &ended) : -1;
    if (known == 0) {
        /* deleted just after it ended, so the deletion saw it ended and told no one: its own
         * calls went with it, but its batch may have been waiting for it */
        ended = *job;
        ended.state = rc ? SRV_FAILED : SRV_DONE;
        ended.webhook_url[0] = '\0';
    }
    if (known >= 0) srv_webhook_job_ended(pool->jobs, &ended);
    if (gone == 1 && cancel != CANCEL_USER) {
        /* removed, or its lease lapsed and another worker has it now */
        fprintf(stderr, "dumu: job %s was taken away from this worker\n", job->id);
        srv_jobs_remove_files(pool->jobs, job->id);
        return;
    }
    if (!rc && duration >= 5.0) {
        /* A moving average over recent jobs (clips under 5 s are mostly fixed costs). */
        double sample = (mono_s() - t0) / (duration / 60.0);
        pthread_mutex_lock(&pool->mu);
        pool->s_per_min = pool->s_per_min > 0.0 ? 0.7 * pool->s_per_min + 0.3 * sample : sample;
        pthread_mutex_unlock(&pool->mu);
    }
    if (cancel == CANCEL_USER)
        fprintf(stderr, "dumu: job %s cancelled\n", job->id);
    else if (rc)
        fprintf(stderr, "dumu: job %s failed: %s\n", job->id, err.message);
    else
        fprintf(stderr, "dumu: job %s done\n", job->id);
    if (cancel == CANCEL_USER) {
        srv_jobs_remove_files(pool->jobs, job->id);
    } else if (!(rc && extracted)) {
        srv_jobs_discard(pool->jobs, job->id, "upload");
    }
    /* a copy fetched from the store (PostgreSQL) was this run's alone */
    char local[4096];
    if (!fetched && !srv_jobs_path(pool->jobs, job->id, "upload", local, sizeof local) &&
        strcmp(local, path) != 0)
        unlink(path);
}

static void *worker_main(void *arg) {
    struct srv_worker *w = arg;
    srv_pool *pool = w->pool;
    while (!atomic_load(&pool->stopping)) {
        struct srv_job job;
        if (!srv_jobs_claim(pool->jobs, &job, 1000)) continue;
        pthread_mutex_lock(&pool->mu);
        snprintf(w->id, sizeof w->id, "%s", job.id);
        atomic_store(&w->cancel, atomic_load(&pool->stopping) ? CANCEL_SHUTDOWN : CANCEL_NONE);
        pthread_mutex_unlock(&pool->mu);
        run_job(w, &job);
        pthread_mutex_lock(&pool->mu);
        w->id[0] = '\0';
        pthread_mutex_unlock(&pool->mu);
    }
    return NULL;
}

int srv_pool_start(srv_jobs *jobs, const dumu_separator *sep, const dumu_bp_model *bp,
                   int n_workers, int n_threads, srv_pool **out) {
    *out = NULL;
    srv_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return -1;
    pool->workers = calloc((size_t)n_workers, sizeof *pool->workers);
    if (!pool->workers) {
        free(pool);
        return -1;
    }
    pool->jobs = jobs;
    pool->sep = sep;
    pool->bp = bp;
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->mu, NULL);
    for (int i = 0; i < n_workers; i++) {
        pool->workers[i].pool = pool;
        if (pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i])) {
            srv_pool_stop(pool);
            return -1;
        }
        pool->n_workers++;
    }
    *out = pool;
    return 0;
}

double srv_pool_seconds_per_minute(srv_pool *pool) {
    pthread_mutex_lock(&pool->mu);
    double v = pool->s_per_min;
    pthread_mutex_unlock(&pool->mu);
    /* Before the first job: the README's separation benchmark (a 4-minute track in 91.8 s on
     * 2 threads, plus 1.3 s of transcription: 23.3 s per minute), scaled to our threads. */
    return v > 0.0 ? v : 23.3 * 2.0 / pool->n_threads;
}

int srv_pool_cancel(srv_pool *pool, const char *id) {
    int found = 0;
    pthread_mutex_lock(&pool->mu);
    for (int i = 0; i < pool->n_workers; i++) {
        if (strcmp(pool->workers[i].id, id) == 0) {
            atomic_store(&pool->workers[i].cancel, CANCEL_USER);
            found = 1;
        }
    }
    pthread_mutex_unlock(&pool->mu);
    return found;
}

void srv_pool_stop(srv_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stopping, 1);
    for (int i = 0; i < pool->n_workers; i++)
        if (pool->workers[i].id[0]) atomic_store(&pool->workers[i].cancel, CANCEL_SHUTDOWN);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->n_workers; i++)
        pthread_join(pool->workers[i].thread, NULL);
    pthread_mutex_destroy(&pool->mu);
    free(pool->workers);
    free(pool);
}
