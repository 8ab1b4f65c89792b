/* eval.c - `dumu eval MANIFEST...`: runs the extraction on every item of one or more test-data
 * manifests (the format of ../shared/testdata/manifest.json) that has ground truth, and scores
 * it: notes in raw and bass mode (precision / recall / F1 with 50 ms onsets, the same with
 * offsets, and octave-forgiving), tempo, key (where the manifest gives one) and the bass
 * stem's SDR against the item's bass.flac. Prints a table with a mean row per manifest (and
 * one over all of them), then the grid table, then where bass mode's notes go wrong
 * (dumu_score_note_errors: each unmatched note in one class, totals per manifest), and writes
 * JSON with --json.
 *
 * GRID METRICS
 *   The beat grid is scored as a DAW shows it: the transcription is encoded exactly as
 *   `dumu extract` writes its .mid (dumu_transcription_midi, default MIDI parameters), the
 *   bytes are parsed back (dumu_midi_read_grid), and the file's quarter notes and bar lines
 *   over the audio's duration are matched against those of the manifest's true tempo map
 *   (tempo_changes, else tempo_bpm) and time_signature, from 0 s, where each excerpt starts
 *   on a bar line. Reading the file rather than tr->tempo.beats means the lead-in, the tempo
 *   rounding and the bar layout of the writer are all part of the score.
 *
 * STEM CACHE
 *   Separation is ~85 % of the run time and does not change while the tempo, note or export
 *   code is tuned, so --stem-cache DIR keeps each item's bass and other stems as
 *   DIR/<id>-<first 16 hex digits of the mix's sha256 in the manifest>.wav and ...-other.wav
 *   (-fast.wav and -fast-other.wav with --fast),
 *   32-bit float (bit-exact), and later runs decode them and pass them as
 *   dumu_extract_params.bass_stem and other_stem instead of separating again (the other stem
 *   is the fallback source of the notes, src/pipeline.c; a cache without it separates again). The hash in the name makes a changed mix a cache miss; a
 *   change to the separation itself is not seen, so empty DIR after one. Items without a
 *   sha256 in the manifest are not cached. A stem is written to a temporary name and
 *   renamed, so an interrupted run leaves no half-written stem behind. */
#include "cli/eval.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/exit_codes.h"
#include "common/files.h"
#include "common/models.h"

typedef struct item_result {
    char id[128];
    double bpm, ref_bpm;
    bool bpm_ok, bpm_tolerant_ok;
    char key[32], ref_key[32];
    double key_score; /* MIREX; < 0: no reference key */
    double sdr_db;
    dumu_note_scores raw, bass;
    dumu_note_errors raw_errors, bass_errors; /* where the unmatched notes go */
    bool stem_cached;                         /* the stems came from --stem-cache */
    char source[16];                          /* where the notes came from: "bass_stem" ... */
    /* The grid of the MIDI file as written, against the true tempo map and meter. */
    bool has_grid; /* false: the manifest gives no tempo */
    dumu_grid_scores grid;
    int64_t n_tempo_events; /* set_tempo events in the file */
    bool steady;            /* the manifest's tempo_constant */
    char meter[16];         /* the file's last time signature, "4/4" */
    char ref_meter[16];     /* the manifest's time_signature */
    int manifest;           /* index among the manifests given */
} item_result;

/* Running sums over items for a mean row: P/R/F1 of each matching summed field by field. */
typedef struct sums {
    int n, n_bpm_ok, n_key;
    dumu_note_scores raw, bass;
    /* note-error counts summed (totals); onset_bias_ms holds the sum of each item's median
     * times its matched notes, so / n_matched is their matched-weighted mean (an item with no
     * match has no median and weighs nothing) */
    dumu_note_errors raw_errors, bass_errors;
    int64_t n_bass_ref, n_bass_est; /* note counts of bass mode's matching, summed */
    double sdr_db, key_score;
    /* grid metrics, over the items that have them; [0] steady, [1] drifting tempo */
    int n_grid, n_acc1, n_acc2;
    double beat_f1, downbeat_f1;
    int n_tempo[2];
    double dev_max[2], dev_sum[2]; /* largest tempo-event deviation, fraction */
    double events_sum[2];
} sums;

/* What every item needs besides its manifest entry. The separator is opened on the first item
 * that has to be separated, so a run served wholly from the stem cache never loads it. */
typedef struct eval_ctx {
    const dumu_bp_model *bp;
    dumu_separator *sep; /* NULL until needed; owned */
    const char *sep_path;
    const char *stem_cache; /* directory, or NULL */
    const char *notes_out;  /* directory for each item's bass-mode notes as CSV, or NULL */
    int threads;
    bool fast; /* --fast: bf16 separation (dumu_separate_params.fast) */
} eval_ctx;

/* "<dir of manifest>/<rel>" into out. */
static int join(char *out, size_t cap, const char *manifest, const char *rel) {
    const char *slash = strrchr(manifest, '/');
    int dir = slash ? (int)(slash - manifest) : 0;
    int n =
        slash ? snprintf(out, cap, "%.*s/%s", dir, manifest, rel) : snprintf(out, cap, "%s", rel);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static const char *file_of(const cJSON *item, const char *name) {
    const cJSON *f = cJSON_GetObjectItem(cJSON_GetObjectItem(item, "files"), name);
    const cJSON *p = cJSON_GetObjectItem(f, "path");
    return cJSON_IsString(p) ? p->valuestring : NULL;
}

/* "E minor", "Bb major", "F# minor" -> tonic pitch class and mode; -1 if not a key name. */
static int parse_key(const char *s, int *tonic, bool *minor) {
    static const char *names[] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
    static const char *flats[] = {"C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "Cb"};
    char name[8], mode[8];
    if (sscanf(s, "%7s %7s", name, mode) != 2) return -1;
    *minor = strcasecmp(mode, "minor") == 0;
    if (!*minor && strcasecmp(mode, "major") != 0) return -1;
    for (int i = 0; i < 12; i++) {
        if (strcmp(name, names[i]) == 0 || strcmp(name, flats[i]) == 0) {
            *tonic = i == 11 && name[1] == 'b' ? 11 : i;
            return 0;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Stem cache */

/* "DIR/<id>-<16 hex digits><suffix>.wav" into out; -1 when the item cannot be cached (no
 * sha256 of its mix in the manifest, an id that is not a plain file name, or a path over cap).
 * suffix: "" for the bass stem, "-other" for the other stem. */
static int cache_path(char *out, size_t cap, const char *dir, const char *id, const cJSON *item,
                      const char *suffix) {
    const cJSON *mix = cJSON_GetObjectItem(cJSON_GetObjectItem(item, "files"), "mix");
    const cJSON *sha = cJSON_GetObjectItem(mix, "sha256");
    if (!cJSON_IsString(sha) || strlen(sha->valuestring) < 16 || !id[0] || strchr(id, '/') ||
        id[0] == '.')
        return -1;
    for (int i = 0; i < 16; i++)
        if (!isxdigit((unsigned char)sha->valuestring[i])) return -1;
    int n = snprintf(out, cap, "%s/%s-%.16s%s.wav", dir, id, sha->valuestring, suffix);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* mkdir -p: creates `dir` and its missing parents. 0, or -1 with errno set. */
static int make_dirs(const char *dir) {
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, len + 1);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) return -1;
        *p = c;
        if (c == '\0') break;
    }
    struct stat st;
    if (stat(dir, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* Writes `stem` to `path` as 32-bit float WAV through a temporary name. 0 or -1 (printed). */
static int cache_store(const char *path, const dumu_audio *stem) {
    char tmp[4096 + 32];
    dumu_error err = {0};
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    if (dumu_audio_write_file(tmp, stem, DUMU_AUDIO_WAV_FLOAT, &err) == DUMU_OK &&
        rename(tmp, path) == 0)
        return 0;
    fprintf(stderr, "dumu eval: warning: cannot cache the stem as %s: %s\n", path,
            err.message[0] ? err.message : strerror(errno));
    remove(tmp);
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Grid metrics */

/* The true tempo map of an item: tempo_changes ([seconds, bpm] pairs), else one change at
 * tempo_bpm. *map is malloc'ed; 0, or -1 when the manifest gives no usable tempo. */
static int item_tempo_map(const cJSON *item, dumu_tempo_change **map, int64_t *n) {
    const cJSON *changes = cJSON_GetObjectItem(item, "tempo_changes");
    int count = cJSON_IsArray(changes) ? cJSON_GetArraySize(changes) : 0;
    double bpm = cJSON_GetNumberValue(cJSON_GetObjectItem(item, "tempo_bpm"));
    if (count == 0 && !(bpm > 0.0)) return -1;
    *map = malloc((size_t)(count ? count : 1) * sizeof **map);
    if (!*map) return -1;
    *n = count ? count : 1;
    if (!count) (*map)[0] = (dumu_tempo_change){0.0, bpm};
    for (int i = 0; i < count; i++) {
        const cJSON *c = cJSON_GetArrayItem(changes, i);
        (*map)[i].time_s = cJSON_GetNumberValue(cJSON_GetArrayItem(c, 0));
        (*map)[i].bpm = cJSON_GetNumberValue(cJSON_GetArrayItem(c, 1));
    }
    return 0;
}

/* Encodes the transcription exactly as `dumu extract` writes its .mid, reads the bytes back
 * and scores their grid over the audio's duration against the item's true tempo map and
 * time signature (4/4 when the manifest names none). Returns a status with err set. */
static dumu_status eval_grid(const cJSON *item, const dumu_transcription *tr, double duration_s,
                             item_result *r, dumu_error *err) {
    dumu_tempo_change *map = NULL;
    int64_t n_map = 0;
    if (item_tempo_map(item, &map, &n_map)) return DUMU_OK; /* no truth: has_grid stays off */
    const cJSON *ts = cJSON_GetObjectItem(item, "time_signature");
    int num = 4, den = 4;
    if (cJSON_IsString(ts) &&
        (sscanf(ts->valuestring, "%d/%d", &num, &den) != 2 || num < 1 || den < 1)) {
        free(map);
        snprintf(err->message, sizeof err->message, "time_signature \"%s\" is not N/D",
                 ts->valuestring);
        return err->status = DUMU_E_FORMAT;
    }
    snprintf(r->ref_meter, sizeof r->ref_meter, "%d/%d", num, den);
    r->steady = cJSON_IsTrue(cJSON_GetObjectItem(item, "tempo_constant"));

    uint8_t *mid = NULL;
    size_t size = 0;
    dumu_midi_grid mg = {0};
    dumu_grid est = {0}, ref = {0};
    dumu_midi_params mp = dumu_midi_default_params();
    dumu_status rc = dumu_transcription_midi(tr, &mp, &mid, &size, err);
    if (!rc) rc = dumu_midi_read_grid(mid, size, &mg, err);
    if (!rc) rc = dumu_midi_grid_times(&mg, duration_s, &est, err);
    if (!rc) rc = dumu_tempo_map_grid(map, n_map, num * 4.0 / den, duration_s, &ref, err);
    if (!rc) rc = dumu_score_grid(&ref, &est, r->ref_bpm, NULL, &r->grid, err);
    if (!rc) {
        r->has_grid = true;
        r->n_tempo_events = mg.n_tempos;
        snprintf(r->meter, sizeof r->meter, "-");
        if (mg.n_time_signatures) {
            const dumu_midi_time_signature *last = &mg.time_signatures[mg.n_time_signatures - 1];
            snprintf(r->meter, sizeof r->meter, "%d/%lld", (int)last->numerator,
                     1LL << last->denominator_log2);
        }
    }
    dumu_grid_deinit(&ref);
    dumu_grid_deinit(&est);
    dumu_midi_grid_deinit(&mg);
    dumu_free(mid);
    free(map);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* One item */

/* DIR/<id>.csv: the notes in the test data's bass_notes.csv format (onset_s, offset_s,
 * midi_pitch, velocity as the MIDI file writes it) plus their confidence, so they can be set
 * beside the truth. */
static int write_notes(const char *dir, const char *id, const dumu_note_list *notes) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s.csv", dir, id);
    if (n < 0 || (size_t)n >= sizeof path) return -1;
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "onset_s,offset_s,midi_pitch,velocity,confidence\n");
    int32_t min_velocity = dumu_midi_default_params().min_velocity;
    for (int64_t i = 0; i < notes->n_notes; i++) {
        const dumu_note *nt = &notes->notes[i];
        fprintf(f, "%.6f,%.6f,%d,%d,%.3f\n", nt->start_s, nt->end_s, (int)nt->pitch,
                (int)dumu_midi_velocity(nt->amplitude, min_velocity), nt->confidence);
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* Extracts one item and scores it. Returns 0, or an exit code with a message printed. */
static int eval_item(const cJSON *item, const char *manifest, eval_ctx *ctx, item_result *r) {
    char path[4096], stem_path[4096], other_path[4096];
    const char *mix = file_of(item, "mix"), *bass = file_of(item, "bass"),
               *notes = file_of(item, "notes");
    dumu_error err = {0};
    dumu_audio audio = {0}, truth = {0}, stem = {0}, other = {0};
    dumu_extraction ex = {0};
    dumu_note_list raw = {0};
    dumu_note *ref = NULL;
    int64_t n_ref = 0;
    int code = EXIT_INPUT;
    dumu_decode_params dp = dumu_decode_default_params();
    if (join(path, sizeof path, manifest, mix) || dumu_audio_decode_file(path, &dp, &audio, &err))
        goto fail;
    dumu_extract_params ep = dumu_extract_default_params();
    ep.separate.n_threads = ctx->threads;
    ep.separate.fast = ctx->fast;
    ep.transcribe.bp.n_threads = ctx->threads;
    bool cacheable = ctx->stem_cache &&
                     cache_path(stem_path, sizeof stem_path, ctx->stem_cache, r->id, item,
                                ctx->fast ? "-fast" : "") == 0 &&
                     cache_path(other_path, sizeof other_path, ctx->stem_cache, r->id, item,
                                ctx->fast ? "-fast-other" : "-other") == 0;
    if (cacheable && access(stem_path, F_OK) == 0 && access(other_path, F_OK) == 0) {
        /* dp keeps the file's rate and channels: the stems come back as they were written. */
        if (dumu_audio_decode_file(stem_path, &dp, &stem, &err) == DUMU_OK &&
            dumu_audio_decode_file(other_path, &dp, &other, &err) == DUMU_OK) {
            ep.bass_stem = &stem;
            ep.other_stem = &other;
            r->stem_cached = true;
        } else {
            fprintf(stderr, "dumu eval: warning: %s: separating again: %s\n", stem_path,
                    err.message);
            err = (dumu_error){0};
        }
    }
    if (!ep.bass_stem && !ctx->sep && dumu_separator_open(ctx->sep_path, &ctx->sep, &err)) {
        fprintf(stderr, "dumu eval: %s\n", err.message);
        code = EXIT_MODEL;
        goto done;
    }
    int32_t other_i = ctx->sep ? dumu_separator_stem_index(ctx->sep, "other") : -1;
    if (cacheable && !r->stem_cached && other_i >= 0) ep.separate.stems |= 1u << other_i;
    if (dumu_extract(ctx->sep, ctx->bp, &audio, &ep, &ex, &err)) goto fail;
    const dumu_audio *made_other = dumu_stems_find(&ex.stems, "other");
    if (cacheable && !r->stem_cached && made_other) {
        cache_store(stem_path, dumu_stems_find(&ex.stems, "bass"));
        cache_store(other_path, made_other);
    }
    snprintf(r->source, sizeof r->source, "%s", dumu_bass_source_name(ex.source));
    const dumu_transcription *tr = &ex.transcription;
    dumu_note_params np = ep.transcribe.notes;
    np.pitch_bends = false;
    if (dumu_notes_create(&tr->activations, &np, &raw, &err)) goto fail;
    if (join(path, sizeof path, manifest, notes) || dumu_notes_read_csv(path, &ref, &n_ref, &err))
        goto fail;
    if (dumu_score_notes(ref, n_ref, raw.notes, raw.n_notes, NULL, &r->raw, &err) ||
        dumu_score_notes(ref, n_ref, tr->notes.notes, tr->notes.n_notes, NULL, &r->bass, &err) ||
        dumu_score_note_errors(ref, n_ref, raw.notes, raw.n_notes, NULL, &r->raw_errors, &err) ||
        dumu_score_note_errors(ref, n_ref, tr->notes.notes, tr->notes.n_notes, NULL,
                               &r->bass_errors, &err))
        goto fail;
    if (ctx->notes_out && write_notes(ctx->notes_out, r->id, &tr->notes) != 0)
        fprintf(stderr, "dumu eval: warning: %s: cannot write its notes to %s\n", r->id,
                ctx->notes_out);
    r->bpm = tr->tempo.bpm;
    r->ref_bpm = cJSON_GetNumberValue(cJSON_GetObjectItem(item, "tempo_bpm"));
    if (eval_grid(item, tr, (double)audio.n_frames / audio.sample_rate, r, &err)) goto fail;
    r->bpm_ok = dumu_score_tempo(r->bpm, r->ref_bpm, 0.04);
    r->bpm_tolerant_ok = dumu_score_tempo_tolerant(r->bpm, r->ref_bpm, 0.04);
    snprintf(r->key, sizeof r->key, "%s", dumu_key_name(tr->key.tonic, tr->key.minor));
    r->key_score = -1.0;
    const cJSON *k = cJSON_GetObjectItem(item, "key");
    int tonic;
    bool minor;
    if (cJSON_IsString(k) && parse_key(k->valuestring, &tonic, &minor) == 0) {
        snprintf(r->ref_key, sizeof r->ref_key, "%s", k->valuestring);
        r->key_score = dumu_score_key(tonic, minor, tr->key.tonic, tr->key.minor);
    }
    r->sdr_db = 0.0;
    if (bass && join(path, sizeof path, manifest, bass) == 0 &&
        dumu_audio_decode_file(path, &dp, &truth, &err) == DUMU_OK) {
        const dumu_audio *est = dumu_stems_find(&ex.stems, "bass");
        if (truth.n_channels == est->n_channels && truth.sample_rate == est->sample_rate) {
            int64_t n = truth.n_frames < est->n_frames ? truth.n_frames : est->n_frames;
            r->sdr_db = dumu_score_sdr(truth.samples, est->samples, n * truth.n_channels);
        }
    }
    code = EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "dumu eval: %s: %s\n", r->id,
            err.message[0] ? err.message : "bad manifest entry");
done:
    dumu_free(ref);
    dumu_note_list_deinit(&raw);
    dumu_extraction_deinit(&ex);
    dumu_audio_deinit(&other);
    dumu_audio_deinit(&stem);
    dumu_audio_deinit(&truth);
    dumu_audio_deinit(&audio);
    return code;
}

/* ---------------------------------------------------------------------------------------- */
/* Output */

/* counts: the note counts of one item (a mean has none) */
static void json_prf(cJSON *o, const char *name, const dumu_prf *p, bool counts) {
    cJSON *x = cJSON_AddObjectToObject(o, name);
    cJSON_AddNumberToObject(x, "precision", p->precision);
    cJSON_AddNumberToObject(x, "recall", p->recall);
    cJSON_AddNumberToObject(x, "f1", p->f1);
    if (!counts) return;
    cJSON_AddNumberToObject(x, "n_ref", (double)p->n_ref);
    cJSON_AddNumberToObject(x, "n_est", (double)p->n_est);
    cJSON_AddNumberToObject(x, "n_matched", (double)p->n_matched);
}

static void json_scores(cJSON *o, const char *name, const dumu_note_scores *s, bool counts) {
    cJSON *x = cJSON_AddObjectToObject(o, name);
    json_prf(x, "onset", &s->onset, counts);
    json_prf(x, "onset_offset", &s->onset_offset, counts);
    json_prf(x, "octave_forgiving", &s->chroma, counts);
}

/* The classes of dumu_note_errors in its order: JSON keys, table columns, counts. */
static const char *est_keys[7] = {"timing",   "octave", "harmonic", "pitch",
                                  "fragment", "ghost",  "other"};
static const char *est_columns[7] = {"time", "oct", "harm", "pitch", "frag", "ghost", "other"};
static const char *ref_keys[4] = {"merged", "timing", "pitch", "missed"};
static const char *ref_columns[4] = {"merged", "time", "pitch", "missed"};
static const char *register_keys[3] = {"B0-F1", "F#1-B1", "C2_up"};

static void est_counts(const dumu_note_errors *e, int64_t c[7]) {
    c[0] = e->n_est_timing;
    c[1] = e->n_est_octave;
    c[2] = e->n_est_harmonic;
    c[3] = e->n_est_pitch;
    c[4] = e->n_est_fragment;
    c[5] = e->n_est_ghost;
    c[6] = e->n_est_other;
}

static void ref_counts(const dumu_note_errors *e, int64_t c[4]) {
    c[0] = e->n_ref_merged;
    c[1] = e->n_ref_timing;
    c[2] = e->n_ref_pitch;
    c[3] = e->n_ref_missed;
}

/* The bias of a sum (see `sums`). */
static double total_bias_ms(const dumu_note_errors *e) {
    return e->n_matched ? e->onset_bias_ms / (double)e->n_matched : 0.0;
}

/* The breakdown as o[name]; total: e is a sum (see `sums`). */
static void json_errors(cJSON *o, const char *name, const dumu_note_errors *e, bool total) {
    cJSON *x = cJSON_AddObjectToObject(o, name);
    cJSON_AddNumberToObject(x, "n_matched", (double)e->n_matched);
    int64_t ce[7], cr[4];
    est_counts(e, ce);
    ref_counts(e, cr);
    cJSON *est = cJSON_AddObjectToObject(x, "unmatched_est");
    for (int k = 0; k < 7; k++)
        cJSON_AddNumberToObject(est, est_keys[k], (double)ce[k]);
    cJSON *ref = cJSON_AddObjectToObject(x, "unmatched_ref");
    for (int k = 0; k < 4; k++)
        cJSON_AddNumberToObject(ref, ref_keys[k], (double)cr[k]);
    if (total)
        cJSON_AddNumberToObject(x, "onset_bias_ms_weighted_mean", total_bias_ms(e));
    else
        cJSON_AddNumberToObject(x, "onset_bias_ms", e->onset_bias_ms);
    cJSON_AddNumberToObject(x, "octave_below", (double)e->n_est_octave_below);
    cJSON *cal = cJSON_AddArrayToObject(x, "confidence_bins");
    for (int b = 0; b < DUMU_CONFIDENCE_BINS; b++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "from", (double)b / DUMU_CONFIDENCE_BINS);
        cJSON_AddNumberToObject(c, "n", (double)e->n_by_confidence[b]);
        cJSON_AddNumberToObject(c, "right", (double)e->n_right_by_confidence[b]);
        cJSON_AddNumberToObject(c, "confidence_sum", e->confidence_sum[b]);
        cJSON_AddItemToArray(cal, c);
    }
    cJSON *oct = cJSON_AddObjectToObject(x, "octave_by_register");
    cJSON *all = cJSON_AddObjectToObject(x, "ref_by_register");
    for (int k = 0; k < 3; k++) {
        cJSON_AddNumberToObject(oct, register_keys[k], (double)e->n_octave_by_register[k]);
        cJSON_AddNumberToObject(all, register_keys[k], (double)e->n_ref_by_register[k]);
    }
}

static cJSON *json_item(const item_result *r, const char *manifest) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", r->id);
    cJSON_AddStringToObject(j, "manifest", manifest);
    json_scores(j, "raw", &r->raw, true);
    json_scores(j, "bass", &r->bass, true);
    cJSON *errors = cJSON_AddObjectToObject(j, "note_errors");
    json_errors(errors, "raw", &r->raw_errors, false);
    json_errors(errors, "bass", &r->bass_errors, false);
    cJSON_AddNumberToObject(j, "bpm", r->bpm);
    cJSON_AddNumberToObject(j, "ref_bpm", r->ref_bpm);
    cJSON_AddBoolToObject(j, "bpm_ok", r->bpm_ok);
    cJSON_AddBoolToObject(j, "bpm_ok_tolerant", r->bpm_tolerant_ok);
    cJSON_AddStringToObject(j, "key", r->key);
    if (r->key_score >= 0.0) {
        cJSON_AddStringToObject(j, "ref_key", r->ref_key);
        cJSON_AddNumberToObject(j, "key_score", r->key_score);
    }
    cJSON_AddNumberToObject(j, "bass_sdr_db", r->sdr_db);
    cJSON_AddBoolToObject(j, "stem_cached", r->stem_cached);
    cJSON_AddStringToObject(j, "source", r->source);
    if (!r->has_grid) return j;
    cJSON *g = cJSON_AddObjectToObject(j, "grid");
    cJSON_AddNumberToObject(g, "bpm", r->grid.bpm);
    cJSON_AddNumberToObject(g, "ref_bpm", r->ref_bpm);
    cJSON_AddBoolToObject(g, "acc1", r->grid.tempo_ok);
    cJSON_AddBoolToObject(g, "acc2", r->grid.tempo_ok_tolerant);
    json_prf(g, "beat", &r->grid.beats, true);
    json_prf(g, "downbeat", &r->grid.downbeats, true);
    cJSON_AddNumberToObject(g, "max_tempo_event_dev_pct", 100.0 * r->grid.max_tempo_dev);
    cJSON_AddNumberToObject(g, "n_tempo_events", (double)r->n_tempo_events);
    cJSON_AddBoolToObject(g, "tempo_constant", r->steady);
    cJSON_AddStringToObject(g, "time_signature", r->meter);
    cJSON_AddStringToObject(g, "ref_time_signature", r->ref_meter);
    return j;
}

static void add_prf(dumu_prf *sum, const dumu_prf *p) {
    sum->precision += p->precision;
    sum->recall += p->recall;
    sum->f1 += p->f1;
}

/* The counts of item b added into the sum a, and b's bias as `sums` keeps it. */
static void add_errors(dumu_note_errors *a, const dumu_note_errors *b) {
    a->n_matched += b->n_matched;
    a->n_est_timing += b->n_est_timing;
    a->n_est_octave += b->n_est_octave;
    a->n_est_harmonic += b->n_est_harmonic;
    a->n_est_pitch += b->n_est_pitch;
    a->n_est_fragment += b->n_est_fragment;
    a->n_est_ghost += b->n_est_ghost;
    a->n_est_other += b->n_est_other;
    a->n_ref_merged += b->n_ref_merged;
    a->n_ref_timing += b->n_ref_timing;
    a->n_ref_pitch += b->n_ref_pitch;
    a->n_ref_missed += b->n_ref_missed;
    a->n_est_octave_below += b->n_est_octave_below;
    a->onset_bias_ms += b->onset_bias_ms * (double)b->n_matched;
    for (int k = 0; k < 3; k++) {
        a->n_octave_by_register[k] += b->n_octave_by_register[k];
        a->n_ref_by_register[k] += b->n_ref_by_register[k];
    }
    for (int k = 0; k < DUMU_CONFIDENCE_BINS; k++) {
        a->n_by_confidence[k] += b->n_by_confidence[k];
        a->n_right_by_confidence[k] += b->n_right_by_confidence[k];
        a->confidence_sum[k] += b->confidence_sum[k];
    }
}

static void sums_add(sums *s, const item_result *r) {
    add_errors(&s->raw_errors, &r->raw_errors);
    add_errors(&s->bass_errors, &r->bass_errors);
    s->n_bass_ref += r->bass.onset.n_ref;
    s->n_bass_est += r->bass.onset.n_est;
    const dumu_note_scores *src[2] = {&r->raw, &r->bass};
    dumu_note_scores *dst[2] = {&s->raw, &s->bass};
    for (int i = 0; i < 2; i++) {
        add_prf(&dst[i]->onset, &src[i]->onset);
        add_prf(&dst[i]->onset_offset, &src[i]->onset_offset);
        add_prf(&dst[i]->chroma, &src[i]->chroma);
    }
    s->n_bpm_ok += r->bpm_ok;
    s->sdr_db += r->sdr_db;
    if (r->key_score >= 0.0) {
        s->key_score += r->key_score;
        s->n_key++;
    }
    s->n++;
    if (!r->has_grid) return;
    s->n_grid++;
    s->n_acc1 += r->grid.tempo_ok;
    s->n_acc2 += r->grid.tempo_ok_tolerant;
    s->beat_f1 += r->grid.beats.f1;
    s->downbeat_f1 += r->grid.downbeats.f1;
    int k = r->steady ? 0 : 1;
    s->n_tempo[k]++;
    if (r->grid.max_tempo_dev > s->dev_max[k]) s->dev_max[k] = r->grid.max_tempo_dev;
    s->dev_sum[k] += r->grid.max_tempo_dev;
    s->events_sum[k] += (double)r->n_tempo_events;
}

static void div_prf(dumu_prf *p, int n) {
    p->precision /= n;
    p->recall /= n;
    p->f1 /= n;
}

/* The means of s (s->n > 0) as an item_result-shaped row: bpm holds the count of tempo hits. */
static item_result sums_mean(const sums *s) {
    item_result m = {0};
    m.raw = s->raw;
    m.bass = s->bass;
    dumu_note_scores *all[2] = {&m.raw, &m.bass};
    for (int i = 0; i < 2; i++) {
        div_prf(&all[i]->onset, s->n);
        div_prf(&all[i]->onset_offset, s->n);
        div_prf(&all[i]->chroma, s->n);
    }
    m.sdr_db = s->sdr_db / s->n;
    m.key_score = s->n_key ? s->key_score / s->n_key : -1.0;
    return m;
}

static void print_header(void) {
    printf("%-36s %-20s  %-20s  %-13s  %-11s %7s  %-9s %s\n", "", "raw Basic Pitch", "bass mode",
           "bass mode", "tempo", "bass", "key", "notes from");
    printf("%-36s %6s %6s %6s  %6s %6s %6s  %6s %6s  %6s %-4s %7s\n", "item", "P", "R", "F1", "P",
           "R", "F1", "offF1", "octF1", "BPM", "4%", "SDR dB");
}

static void print_row(const char *id, const item_result *r) {
    printf("%-36s %6.3f %6.3f %6.3f  %6.3f %6.3f %6.3f  %6.3f %6.3f  %6.1f %-4s %7.2f  %-9s %s\n",
           id, r->raw.onset.precision, r->raw.onset.recall, r->raw.onset.f1,
           r->bass.onset.precision, r->bass.onset.recall, r->bass.onset.f1, r->bass.onset_offset.f1,
           r->bass.chroma.f1, r->bpm, r->bpm_ok ? "ok" : "no", r->sdr_db, r->key, r->source);
}

static void print_mean(const char *label, const sums *s) {
    item_result m = sums_mean(s);
    char key[32] = "(no reference keys)";
    if (s->n_key) snprintf(key, sizeof key, "key %.3f", m.key_score);
    printf("%-36s %6.3f %6.3f %6.3f  %6.3f %6.3f %6.3f  %6.3f %6.3f  %3d/%-2d %-4s %7.2f  %s\n",
           label, m.raw.onset.precision, m.raw.onset.recall, m.raw.onset.f1, m.bass.onset.precision,
           m.bass.onset.recall, m.bass.onset.f1, m.bass.onset_offset.f1, m.bass.chroma.f1,
           s->n_bpm_ok, s->n, "", m.sdr_db, key);
}

static cJSON *json_mean(const sums *s) {
    item_result m = sums_mean(s);
    cJSON *j = cJSON_CreateObject();
    json_scores(j, "raw", &m.raw, false);
    json_scores(j, "bass", &m.bass, false);
    /* totals, not means: apart from the mean scores */
    cJSON *errors = cJSON_AddObjectToObject(j, "note_errors_total");
    json_errors(errors, "raw", &s->raw_errors, true);
    json_errors(errors, "bass", &s->bass_errors, true);
    cJSON_AddNumberToObject(j, "bpm_accuracy", (double)s->n_bpm_ok / s->n);
    cJSON_AddNumberToObject(j, "bass_sdr_db", m.sdr_db);
    if (s->n_key) cJSON_AddNumberToObject(j, "key_score", m.key_score);
    cJSON_AddNumberToObject(j, "n_items", s->n);
    if (!s->n_grid) return j;
    cJSON *g = cJSON_AddObjectToObject(j, "grid");
    cJSON_AddNumberToObject(g, "n_items", s->n_grid);
    cJSON_AddNumberToObject(g, "beat_f1", s->beat_f1 / s->n_grid);
    cJSON_AddNumberToObject(g, "downbeat_f1", s->downbeat_f1 / s->n_grid);
    cJSON_AddNumberToObject(g, "acc1_count", s->n_acc1);
    cJSON_AddNumberToObject(g, "acc1", (double)s->n_acc1 / s->n_grid);
    cJSON_AddNumberToObject(g, "acc2_count", s->n_acc2);
    cJSON_AddNumberToObject(g, "acc2", (double)s->n_acc2 / s->n_grid);
    const char *names[2] = {"steady", "drifting"};
    for (int k = 0; k < 2; k++) {
        cJSON *x = cJSON_AddObjectToObject(g, names[k]);
        cJSON_AddNumberToObject(x, "n_items", s->n_tempo[k]);
        if (!s->n_tempo[k]) continue;
        cJSON_AddNumberToObject(x, "max_tempo_event_dev_pct_max", 100.0 * s->dev_max[k]);
        cJSON_AddNumberToObject(x, "max_tempo_event_dev_pct_mean",
                                100.0 * s->dev_sum[k] / s->n_tempo[k]);
        cJSON_AddNumberToObject(x, "n_tempo_events_mean", s->events_sum[k] / s->n_tempo[k]);
    }
    return j;
}

static void print_grid_header(void) {
    printf("\ngrid of the MIDI file as written, read back: beats every quarter note, bar lines "
           "from its time signatures\n");
    printf("%-36s %7s %7s %-4s %-4s %6s %6s %7s %6s  %-8s %s\n", "item", "fileBPM", "refBPM",
           "Acc1", "Acc2", "beatF", "downF", "maxdev%", "events", "tempo", "meter (file/true)");
}

static void print_grid_row(const item_result *r) {
    if (!r->has_grid) {
        printf("%-36s (no true tempo in the manifest)\n", r->id);
        return;
    }
    printf("%-36s %7.2f %7.2f %-4s %-4s %6.3f %6.3f %7.2f %6lld  %-8s %s, %s\n", r->id, r->grid.bpm,
           r->ref_bpm, r->grid.tempo_ok ? "ok" : "no", r->grid.tempo_ok_tolerant ? "ok" : "no",
           r->grid.beats.f1, r->grid.downbeats.f1, 100.0 * r->grid.max_tempo_dev,
           (long long)r->n_tempo_events, r->steady ? "steady" : "drifting", r->meter, r->ref_meter);
}

/* Two lines: the means of the F-measures and the Acc counts, then the tempo-event deviation
 * and event counts of steady and drifting items. */
static void print_grid_mean(const char *label, const sums *s) {
    if (!s->n_grid) return;
    char acc1[16], acc2[16];
    snprintf(acc1, sizeof acc1, "%d/%d", s->n_acc1, s->n_grid);
    snprintf(acc2, sizeof acc2, "%d/%d", s->n_acc2, s->n_grid);
    printf("%-36s %7s %7s %-4s %-4s %6.3f %6.3f\n", label, "", "", acc1, acc2,
           s->beat_f1 / s->n_grid, s->downbeat_f1 / s->n_grid);
    printf("%-36s", "");
    const char *names[2] = {"steady", "drifting"};
    for (int k = 0; k < 2; k++) {
        if (s->n_tempo[k])
            printf("  %s %d: maxdev max %.2f%% mean %.2f%%, events %.1f;", names[k], s->n_tempo[k],
                   100.0 * s->dev_max[k], 100.0 * s->dev_sum[k] / s->n_tempo[k],
                   s->events_sum[k] / s->n_tempo[k]);
        else
            printf("  %s: none;", names[k]);
    }
    printf("\n");
}

static void print_errors_header(void) {
    printf("\nnote errors of bass mode: each note the onset matching leaves unmatched in one "
           "class (see --help)\n");
    printf("%-36s %5s %5s %5s |%-43s|%-29s| %6s | %s\n", "", "", "", "",
           " unmatched estimated notes", " unmatched reference notes", "onset",
           "octave errors by register");
    printf("%-36s %5s %5s %5s |", "item", "ref", "est", "match");
    for (int k = 0; k < 7; k++)
        printf(" %5s", est_columns[k]);
    printf(" |");
    for (int k = 0; k < 4; k++)
        printf(" %6s", ref_columns[k]);
    printf(" | %6s | %6s %6s %6s\n", "biasms", register_keys[0], register_keys[1], "C2+");
}

/* One row: the counts of an item or a sum, with bias_ms. */
static void print_errors_row(const char *label, const dumu_note_errors *e, int64_t n_ref,
                             int64_t n_est, double bias_ms) {
    int64_t ce[7], cr[4];
    est_counts(e, ce);
    ref_counts(e, cr);
    printf("%-36s %5lld %5lld %5lld |", label, (long long)n_ref, (long long)n_est,
           (long long)e->n_matched);
    for (int k = 0; k < 7; k++)
        printf(" %5lld", (long long)ce[k]);
    printf(" |");
    for (int k = 0; k < 4; k++)
        printf(" %6lld", (long long)cr[k]);
    printf(" | %6.1f | %6lld %6lld %6lld\n", bias_ms, (long long)e->n_octave_by_register[0],
           (long long)e->n_octave_by_register[1], (long long)e->n_octave_by_register[2]);
}

static void print_errors_total(const char *label, const sums *s) {
    if (s->n)
        print_errors_row(label, &s->bass_errors, s->n_bass_ref, s->n_bass_est,
                         total_bias_ms(&s->bass_errors));
}

static void print_calibration_header(void) {
    printf("\nconfidence of bass mode's notes: in each tenth of confidence, right notes (onset "
           "matching) / notes, and their mean confidence\n%-36s",
           "item");
    for (int b = 0; b < DUMU_CONFIDENCE_BINS; b++)
        printf(" %8.1f-%.1f", (double)b / DUMU_CONFIDENCE_BINS,
               (double)(b + 1) / DUMU_CONFIDENCE_BINS);
    printf("\n");
}

static void print_calibration_row(const char *label, const dumu_note_errors *e) {
    printf("%-36s", label);
    for (int b = 0; b < DUMU_CONFIDENCE_BINS; b++) {
        if (e->n_by_confidence[b])
            printf(" %4lld/%-4lld.%02.0f", (long long)e->n_right_by_confidence[b],
                   (long long)e->n_by_confidence[b],
                   fmin(99.0, 100.0 * e->confidence_sum[b] / (double)e->n_by_confidence[b]));
        else
            printf(" %12s", "-");
    }
    printf("\n");
}

/* The label of a manifest's mean or total rows: `word` and its folder's name ("mean
 * testdata2"), or its path when the folder has no useful name. */
static const char *row_label(const char *word, const char *manifest, char *buf, size_t cap) {
    const char *slash = strrchr(manifest, '/'), *start = slash;
    while (start && start > manifest && start[-1] != '/')
        start--;
    int len = slash ? (int)(slash - start) : 0;
    if (len == 0 || (len <= 2 && strncmp(start, "..", (size_t)len) == 0))
        snprintf(buf, cap, "%s %s", word, manifest);
    else
        snprintf(buf, cap, "%s %.*s", word, len, start);
    return buf;
}

/* ---------------------------------------------------------------------------------------- */
/* Command */

static const char usage_line[] =
    "usage: dumu eval MANIFEST... [--json OUT] [--stem-cache DIR] [--notes-out DIR]\n"
    "                 [--threads N] [--models DIR] [--fast]\n";

int dumu_cli_eval(int argc, char **argv) {
    static const struct option opts[] = {
        {"json", required_argument, NULL, 'j'},
        {"threads", required_argument, NULL, 't'},
        {"models", required_argument, NULL, 'm'},
        {"stem-cache", required_argument, NULL, 's'},
        {"notes-out", required_argument, NULL, 'n'},
        {"fast", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *json_path = NULL, *models = NULL;
    eval_ctx ctx = {0};
    ctx.threads = 2;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json_path = optarg; break;
        case 't':
            ctx.threads = atoi(optarg);
            if (ctx.threads < 1 || ctx.threads > 64) {
                fprintf(stderr, "dumu eval: --threads must be 1..64\n");
                return EXIT_USAGE;
            }
            break;
        case 'm': models = optarg; break;
        case 's': ctx.stem_cache = optarg; break;
        case 'n': ctx.notes_out = optarg; break;
        case 'f':
            ctx.fast = dumu_fast_available();
            if (!ctx.fast) fprintf(stderr, "dumu eval: --fast needs AVX512_BF16: exact mode\n");
            break;
        case 'h':
            printf("%s", usage_line);
            printf(
                "  Extracts every item of each MANIFEST that has ground-truth notes and scores\n"
                "  it: note P/R/F1 (onset 50 ms, exact pitch) for raw Basic Pitch and bass mode,\n"
                "  bass mode with offsets and octave-forgiving, tempo within 4 %%, key (when\n"
                "  the manifest names one) and the bass stem's SDR against bass.flac. Prints a\n"
                "  mean row per manifest and, with several, one over all items.\n"
                "\n"
                "  A second table scores the beat grid of the MIDI file exactly as `dumu extract`\n"
                "  writes it, read back as a DAW reads it (quarter notes through its tempo map,\n"
                "  bar lines from its time signatures), against the manifest's true tempo map\n"
                "  (tempo_changes, else tempo_bpm) and time_signature over the audio's length:\n"
                "      fileBPM  the file's mean tempo: its quarter notes in the audio per minute\n"
                "      Acc1     fileBPM within 4 %% of tempo_bpm; Acc2: of 1, 2, 1/2, 3 or 1/3 x "
                "it\n"
                "      beatF    F-measure of the file's quarter notes against the true ones,\n"
                "               +-70 ms, one-to-one, every beat in [0, duration] (none skipped)\n"
                "      downF    the same for bar lines (downbeats)\n"
                "      maxdev%%  the largest |event BPM / true BPM - 1| of any tempo event over\n"
                "               the true tempi in force while it is (overlaps over 1 ms)\n"
                "      events   the number of tempo events in the file\n"
                "  Means: beatF and downF; Acc1 and Acc2 as counts; maxdev (max and mean) and\n"
                "  events (mean) apart for steady (tempo_constant) and drifting items.\n"
                "\n"
                "  A third table shows where bass mode's notes go wrong: every note the onset\n"
                "  matching (50 ms, exact pitch) leaves unmatched, in the first class that fits\n"
                "  (near: onsets within 50 ms; sounding: from 50 ms before a note's onset to its\n"
                "  end). Unmatched estimated notes:\n"
                "      time     overlaps an unmatched true note of its pitch (onset > 50 ms off)\n"
                "      oct      near a true onset a whole number of octaves away\n"
                "      harm     starts while a true note sounds, 7, 12, 19 or 24 semitones\n"
                "               above it (a partial, or the third partial an octave down)\n"
                "      pitch    near a true onset at another pitch\n"
                "      frag     starts while a found true note of its pitch sounds: a\n"
                "               re-triggered piece or a duplicate\n"
                "      ghost    no true note sounds at its onset\n"
                "      other    none of those (an unrelated pitch over a sounding note)\n"
                "  Unmatched true notes:\n"
                "      merged   an estimated note of its pitch started > 50 ms earlier, still\n"
                "               sounds and also covers an earlier true note of that pitch\n"
                "      time     overlaps an unmatched estimated note of its pitch\n"
                "      pitch    an estimated onset is near it at another pitch\n"
                "      missed   nothing estimated for it\n"
                "      biasms   median estimated - true onset of the matched notes, ms\n"
                "      B0-F1, F#1-B1, C2+  the oct errors by the true note's register\n"
                "               (MIDI <= 29, under 45 Hz; 30-35; 36 and up)\n"
                "  Total rows sum the counts; their biasms is the mean of the items' medians,\n"
                "  weighted by their matched notes.\n"
                "  The JSON has the same for raw Basic Pitch, the true notes per register and\n"
                "  how many oct errors lie below their true note (octave_below).\n"
                "\n"
                "  A fourth table checks the notes' confidence: in each tenth of confidence,\n"
                "  how many of bass mode's notes the onset matching found right, of how many,\n"
                "  and their mean confidence (JSON: confidence_bins).\n"
                "\n"
                "      --json OUT        also write every score and the means as JSON\n"
                "      --stem-cache DIR  keep each item's bass and other stems as\n"
                "                        DIR/<id>-<mix sha256>[-fast][-other].wav (float) and\n"
                "                        reuse them instead of separating again\n"
                "      --notes-out DIR   write each item's bass-mode notes as DIR/<id>.csv, in\n"
                "                        the bass_notes.csv format (velocity as in the MIDI)\n"
                "                        with the notes' confidence as a fifth column\n"
                "      --threads N       worker threads (default 2)\n"
                "      --models DIR      model folder (default: see dumu --help)\n"
                "      --fast            separate with bf16 products (dumu extract --fast)\n");
            return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "%s", usage_line);
        return EXIT_USAGE;
    }
    /* Every manifest is read before any work, so a typo in the last one fails at once. */
    int n_manifests = argc - optind, code = EXIT_OK, n_results = 0;
    cJSON **roots = calloc((size_t)n_manifests, sizeof *roots);
    sums *msums = calloc((size_t)n_manifests, sizeof *msums);
    item_result *results = NULL; /* kept for the grid table after the notes table */
    if (!roots || !msums) {
        free(roots);
        free(msums);
        return EXIT_INTERNAL;
    }
    for (int m = 0; m < n_manifests && code == EXIT_OK; m++) {
        char *text = dumu_app_read_file(argv[optind + m], (size_t)64 << 20, NULL);
        roots[m] = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (!cJSON_IsArray(cJSON_GetObjectItem(roots[m], "items"))) {
            fprintf(stderr, "dumu eval: %s: not a manifest (no items array)\n", argv[optind + m]);
            code = EXIT_INPUT;
        }
    }
    const char *dirs[2] = {ctx.stem_cache, ctx.notes_out};
    for (int i = 0; i < 2 && code == EXIT_OK; i++) {
        if (dirs[i] && make_dirs(dirs[i]) != 0) {
            fprintf(stderr, "dumu eval: cannot create %s: %s\n", dirs[i], strerror(errno));
            code = EXIT_OUTPUT;
        }
    }
    char buf[4096], bp_dir[4096], sep_path[4096];
    const char *dir = dumu_app_find_models(models, buf, sizeof buf);
    snprintf(bp_dir, sizeof bp_dir, "%s/basic-pitch", dir);
    snprintf(sep_path, sizeof sep_path, "%s/%s", dir, DUMU_APP_SEPARATOR_FILE);
    ctx.sep_path = sep_path;
    dumu_error err = {0};
    dumu_bp_model *bp = NULL;
    if (code == EXIT_OK && dumu_bp_model_open(bp_dir, &bp, &err)) {
        fprintf(stderr, "dumu eval: %s\n", err.message);
        code = EXIT_MODEL;
    }
    ctx.bp = bp;

    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "dumu_version", dumu_version());
    cJSON *jmanifests = cJSON_AddArrayToObject(out, "manifests");
    cJSON *jitems = cJSON_AddArrayToObject(out, "items");
    if (code == EXIT_OK) print_header();
    sums all = {0};
    char label[128];
    for (int m = 0; m < n_manifests && code == EXIT_OK; m++) {
        const char *manifest = argv[optind + m];
        const cJSON *items = cJSON_GetObjectItem(roots[m], "items");
        sums *ms = &msums[m];
        for (int i = 0; i < cJSON_GetArraySize(items) && code == EXIT_OK; i++) {
            const cJSON *it = cJSON_GetArrayItem(items, i);
            const cJSON *id = cJSON_GetObjectItem(it, "id");
            if (!cJSON_IsString(id) || !file_of(it, "notes") || !file_of(it, "mix")) continue;
            item_result r = {0};
            snprintf(r.id, sizeof r.id, "%s", id->valuestring);
            r.manifest = m;
            code = eval_item(it, manifest, &ctx, &r);
            if (code) break;
            print_row(r.id, &r);
            fflush(stdout);
            cJSON_AddItemToArray(jitems, json_item(&r, manifest));
            sums_add(ms, &r);
            sums_add(&all, &r);
            item_result *grown = realloc(results, (size_t)(n_results + 1) * sizeof *results);
            if (!grown) {
                code = EXIT_INTERNAL;
                break;
            }
            results = grown;
            results[n_results++] = r;
        }
        if (code) break;
        if (ms->n == 0) {
            fprintf(stderr, "dumu eval: %s: no item with ground-truth notes\n", manifest);
            code = EXIT_INPUT;
            break;
        }
        print_mean(row_label("mean", manifest, label, sizeof label), ms);
        cJSON *jm = cJSON_CreateObject();
        cJSON_AddStringToObject(jm, "manifest", manifest);
        cJSON_AddItemToObject(jm, "mean", json_mean(ms));
        cJSON_AddItemToArray(jmanifests, jm);
    }
    if (code == EXIT_OK) {
        if (n_manifests > 1) print_mean("mean all", &all);
        cJSON_AddItemToObject(out, "mean", json_mean(&all));
        print_grid_header();
        for (int m = 0, i = 0; m < n_manifests; m++) {
            for (; i < n_results && results[i].manifest == m; i++)
                print_grid_row(&results[i]);
            print_grid_mean(row_label("mean", argv[optind + m], label, sizeof label), &msums[m]);
        }
        if (n_manifests > 1) print_grid_mean("mean all", &all);
        print_errors_header();
        for (int m = 0, i = 0; m < n_manifests; m++) {
            for (; i < n_results && results[i].manifest == m; i++)
                print_errors_row(results[i].id, &results[i].bass_errors,
                                 results[i].bass.onset.n_ref, results[i].bass.onset.n_est,
                                 results[i].bass_errors.onset_bias_ms);
            print_errors_total(row_label("total", argv[optind + m], label, sizeof label),
                               &msums[m]);
        }
        if (n_manifests > 1) print_errors_total("total all", &all);
        print_calibration_header();
        for (int m = 0; m < n_manifests; m++)
            if (msums[m].n)
                print_calibration_row(row_label("total", argv[optind + m], label, sizeof label),
                                      &msums[m].bass_errors);
        if (n_manifests > 1) print_calibration_row("total all", &all.bass_errors);
    }
    if (code == EXIT_OK && json_path) {
        char *s = cJSON_Print(out);
        FILE *f = s ? fopen(json_path, "w") : NULL;
        int bad = !f || fputs(s, f) < 0 || fputc('\n', f) < 0;
        if (f) bad |= fclose(f) != 0;
        if (bad) {
            fprintf(stderr, "dumu eval: cannot write %s\n", json_path);
            code = EXIT_OUTPUT;
        }
        cJSON_free(s);
    }
    cJSON_Delete(out);
    for (int m = 0; m < n_manifests; m++)
        cJSON_Delete(roots[m]);
    free(roots);
    free(msums);
    free(results);
    dumu_bp_model_free(bp);
    dumu_separator_free(ctx.sep);
    return code;
}
