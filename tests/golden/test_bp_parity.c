/* Basic Pitch parity with the reference, @spotify/basic-pitch 1.0.1 on tfjs 3.21 `cpu`, on real
 * music: the fixtures in tests/fixtures/bp/ (tools/reference/make_bp_fixtures.sh writes them;
 * the layout is described there).
 *
 * Per fixture:
 *   - notes only: dumu_notes_create on the reference's own activations (the stored frame rows)
 *     must give the reference's note list exactly: count, order, frames, pitch, amplitude bit
 *     for bit, times, bends. This isolates note creation from the network.
 *   - network: input.flac decoded by dumu_audio_decode_file, dumu_bp_run on it; the frame
 *     count must match and every stored output value must be within 1e-4 of the reference
 *     (the max abs error is printed); then the notes made from Dumu's own activations must
 *     be the reference's notes for the whole excerpt (amplitude within 1e-6, the rest exact).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/notes.h"
#include "testutil.h"

#define NN 88
#define NC 264

static const char *const k_fixtures[] = {"dm01_bass", "dm04_bass", "dm06_mix", "dr02_mix"};
#define N_FIXTURES (sizeof k_fixtures / sizeof k_fixtures[0])

/* ---------------------------------------------------------------------------------------- */
/* Fixture files */

static char *fixture_path(const char *name, const char *file) {
    char rel[512];
    snprintf(rel, sizeof rel, "bp/%s/%s", name, file);
    const char *p = test_path("DUMU_FIXTURES_DIR", rel);
    char *copy = malloc(strlen(p) + 1);
    assert_non_null(copy);
    strcpy(copy, p);
    return copy;
}

static cJSON *read_json(const char *name, const char *file) {
    char *path = fixture_path(name, file);
    size_t size = 0;
    char *text = test_read_file(path, &size);
    cJSON *doc = cJSON_ParseWithLength(text, size);
    if (!doc) fprintf(stderr, "%s: not valid JSON\n", path);
    assert_non_null(doc);
    free(text);
    free(path);
    return doc;
}

static float *read_f32(const char *name, const char *file, size_t count) {
    char *path = fixture_path(name, file);
    size_t size = 0;
    float *data = test_read_file(path, &size);
    if (size != count * sizeof(float)) {
        fprintf(stderr, "%s: %zu bytes, expected %zu\n", path, size, count * sizeof(float));
        fail();
    }
    free(path);
    return data;
}

static double json_number(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(item)) {
        fprintf(stderr, "JSON key %s: not a number\n", key);
        fail();
    }
    return item->valuedouble;
}

static bool json_bool(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    assert_true(cJSON_IsBool(item));
    return cJSON_IsTrue(item);
}

/* The fixture's description: frame count and the stored rows [a, b). */
typedef struct fixture_meta {
    int64_t n_samples, n_frames, a, b;
} fixture_meta;

static fixture_meta read_meta(const char *name) {
    cJSON *meta = read_json(name, "meta.json");
    fixture_meta m;
    m.n_samples = (int64_t)json_number(meta, "n_samples");
    m.n_frames = (int64_t)json_number(meta, "n_frames");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(meta, "rows");
    assert_true(cJSON_IsArray(rows) && cJSON_GetArraySize(rows) == 2);
    m.a = (int64_t)cJSON_GetArrayItem(rows, 0)->valuedouble;
    m.b = (int64_t)cJSON_GetArrayItem(rows, 1)->valuedouble;
    assert_true(m.n_frames > 0 && 0 <= m.a && m.a < m.b && m.b <= m.n_frames);
    assert_true(m.n_frames == (m.n_samples * 86) / 22050); /* docs/basic_pitch.md §1.3 */
    cJSON_Delete(meta);
    return m;
}

/* The reference's note parameters, as stored in a notes file, in Dumu's terms. */
static dumu_note_params params_of(const cJSON *doc) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(doc, "params");
    assert_non_null(p);
    dumu_note_params q = dumu_note_default_params();
    q.onset_threshold = json_number(p, "onset_threshold");
    const cJSON *ft = cJSON_GetObjectItemCaseSensitive(p, "frame_threshold");
    q.frame_threshold = cJSON_IsNull(ft) ? -1.0 : json_number(p, "frame_threshold");
    q.min_note_frames = (int32_t)json_number(p, "min_note_len");
    q.infer_onsets = json_bool(p, "infer_onsets");
    q.melodia_trick = json_bool(p, "melodia_trick");
    q.energy_tolerance = (int32_t)json_number(p, "energy_tolerance");
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(p, "min_freq");
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(p, "max_freq");
    q.min_freq_hz = cJSON_IsNumber(lo) ? lo->valuedouble : 0.0;
    q.max_freq_hz = cJSON_IsNumber(hi) ? hi->valuedouble : 0.0;
    q.pitch_bends = true;
    assert_int_equal((int)json_number(p, "pitch_bend_tolerance"), DUMU_NOTES_BEND_TOLERANCE);
    return q;
}

/* ---------------------------------------------------------------------------------------- */
/* Note list comparison */

/* Fails unless `got` is the reference's list in `doc`, in the same (emission) order. The
 * amplitude may differ by amp_tol (0: bit for bit); everything else must be identical. */
static void expect_reference_notes(const dumu_note_list *got, const cJSON *doc, double amp_tol,
                                   const char *what) {
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(doc, "notes");
    assert_true(cJSON_IsArray(notes));
    int64_t n_ref = cJSON_GetArraySize(notes);
    assert_true(n_ref == (int64_t)json_number(doc, "n_notes"));
    if (got->n_notes != n_ref) {
        fprintf(stderr, "%s: %lld notes, reference %lld\n", what, (long long)got->n_notes,
                (long long)n_ref);
    }
    double worst_amp = 0.0;
    int64_t k = 0;
    const cJSON *ref;
    cJSON_ArrayForEach(ref, notes) {
        if (k >= got->n_notes) break;
        const dumu_note *n = &got->notes[k];
        int32_t start = (int32_t)json_number(ref, "start_frame");
        int32_t end = (int32_t)json_number(ref, "end_frame");
        int32_t pitch = (int32_t)json_number(ref, "pitch");
        double amp = json_number(ref, "amplitude");
        double start_s = json_number(ref, "start_s");
        double duration_s = json_number(ref, "duration_s");
        const cJSON *bends = cJSON_GetObjectItemCaseSensitive(ref, "bends");
        bool same = n->start_frame == start && n->end_frame == end && n->pitch == pitch &&
                    fabs(n->amplitude - amp) <= amp_tol && n->start_s == start_s &&
                    n->end_s - n->start_s == duration_s && cJSON_IsArray(bends) &&
                    n->n_bends == cJSON_GetArraySize(bends) && n->n_bends == end - start;
        for (int32_t t = 0; same && t < n->n_bends; t++) {
            same = n->bends[t] == (int32_t)cJSON_GetArrayItem(bends, t)->valuedouble;
        }
        if (!same) {
            fprintf(stderr,
                    "%s: note %lld differs: got (%d, %d, pitch %d, amp %.17g, %.17g s), "
                    "reference (%d, %d, pitch %d, amp %.17g, %.17g s)\n",
                    what, (long long)k, n->start_frame, n->end_frame, n->pitch, n->amplitude,
                    n->start_s, start, end, pitch, amp, start_s);
            fail();
        }
        if (fabs(n->amplitude - amp) > worst_amp) worst_amp = fabs(n->amplitude - amp);
        k++;
    }
    assert_true(got->n_notes == n_ref);
    printf("    %s: %lld notes identical (max amplitude difference %.3g)\n", what, (long long)n_ref,
           worst_amp);
}

/* Note creation on the stored reference rows, checked against notes file `file`. */
static void notes_only(const char *name, const fixture_meta *m, const char *file) {
    int64_t rows = m->b - m->a;
    dumu_bp_output ref = {0};
    ref.n_frames = rows;
    ref.note = read_f32(name, "note.f32", (size_t)(rows * NN));
    ref.onset = read_f32(name, "onset.f32", (size_t)(rows * NN));
    ref.contour = read_f32(name, "contour.f32", (size_t)(rows * NC));
    cJSON *doc = read_json(name, file);
    assert_true((int64_t)json_number(doc, "n_frames") == rows);
    dumu_note_params p = params_of(doc);
    dumu_note_list fast, naive;
    dumu_error err = {0};
    assert_int_equal(dumu_notes_create(&ref, &p, &fast, &err), DUMU_OK);
    assert_int_equal(dumu_notes_create_with(&ref, &p, DUMU_NOTES_ARGMAX_NAIVE, &naive, &err),
                     DUMU_OK);
    char what[256];
    snprintf(what, sizeof what, "%s/%s (reference activations, min len %d)", name, file,
             (int)p.min_note_frames);
    expect_reference_notes(&fast, doc, 0.0, what);
    snprintf(what, sizeof what, "%s/%s (naive argmax)", name, file);
    expect_reference_notes(&naive, doc, 0.0, what);
    dumu_note_list_deinit(&fast);
    dumu_note_list_deinit(&naive);
    cJSON_Delete(doc);
    free((void *)ref.note);
    free((void *)ref.onset);
    free((void *)ref.contour);
}

/* ---------------------------------------------------------------------------------------- */
/* Tests */

static void run_notes_only(const char *name) {
    fixture_meta m = read_meta(name);
    bool all_rows = m.a == 0 && m.b == m.n_frames;
    notes_only(name, &m, all_rows ? "notes.json" : "notes_rows.json");
    if (strcmp(name, "dm01_bass") == 0) notes_only(name, &m, "notes_min5.json");
}

/* Max abs difference over rows [a, b) of `got` (n_frames x width) against `ref` (b - a rows). */
static double compare_rows(const float *got, const float *ref, const fixture_meta *m, int width,
                           const char *what) {
    size_t count = (size_t)((m->b - m->a) * width);
    return assert_allclose_f32(got + m->a * width, ref, count, 1e-4, 0.0, what);
}

static void run_network(const char *name) {
    fixture_meta m = read_meta(name);
    dumu_error err = {0};

    char *flac = fixture_path(name, "input.flac");
    dumu_decode_params dp = dumu_decode_default_params();
    dumu_audio audio = {0};
    dumu_status rc = dumu_audio_decode_file(flac, &dp, &audio, &err);
    if (rc) fprintf(stderr, "%s: %s\n", flac, err.message);
    assert_int_equal(rc, DUMU_OK);
    free(flac);
    assert_int_equal(audio.sample_rate, DUMU_BP_SAMPLE_RATE);
    assert_int_equal(audio.n_channels, 1);
    assert_true(audio.n_frames == m.n_samples);

    dumu_bp_model *model = NULL;
    rc = dumu_bp_model_open(test_path("DUMU_MODELS_DIR", "basic-pitch"), &model, &err);
    if (rc) fprintf(stderr, "model: %s\n", err.message);
    assert_int_equal(rc, DUMU_OK);
    dumu_bp_params bp = dumu_bp_default_params();
    dumu_bp_output out = {0};
    rc = dumu_bp_run(model, audio.samples, audio.n_frames, &bp, &out, &err);
    if (rc) fprintf(stderr, "dumu_bp_run: %s\n", err.message);
    assert_int_equal(rc, DUMU_OK);
    assert_true(out.n_frames == m.n_frames);

    int64_t rows = m.b - m.a;
    float *note = read_f32(name, "note.f32", (size_t)(rows * NN));
    float *onset = read_f32(name, "onset.f32", (size_t)(rows * NN));
    float *contour = read_f32(name, "contour.f32", (size_t)(rows * NC));
    double e_note = compare_rows(out.note, note, &m, NN, "note");
    double e_onset = compare_rows(out.onset, onset, &m, NN, "onset");
    double e_contour = compare_rows(out.contour, contour, &m, NC, "contour");
    printf("    %s: %lld frames, rows [%lld, %lld): max abs error note %.3g, onset %.3g, "
           "contour %.3g\n",
           name, (long long)out.n_frames, (long long)m.a, (long long)m.b, e_note, e_onset,
           e_contour);

    cJSON *doc = read_json(name, "notes.json");
    assert_true((int64_t)json_number(doc, "n_frames") == out.n_frames);
    dumu_note_params p = params_of(doc);
    dumu_note_list list;
    assert_int_equal(dumu_notes_create(&out, &p, &list, &err), DUMU_OK);
    char what[256];
    snprintf(what, sizeof what, "%s/notes.json (Dumu's network)", name);
    expect_reference_notes(&list, doc, 1e-6, what);

    dumu_note_list_deinit(&list);
    cJSON_Delete(doc);
    free(note);
    free(onset);
    free(contour);
    dumu_bp_output_deinit(&out);
    dumu_bp_model_free(model);
    dumu_audio_deinit(&audio);
}

#define FIXTURE_TESTS(i, id)                         \
    static void test_notes_only_##id(void **state) { \
        (void)state;                                 \
        run_notes_only(k_fixtures[i]);               \
    }                                                \
    static void test_network_##id(void **state) {    \
        (void)state;                                 \
        run_network(k_fixtures[i]);                  \
    }

FIXTURE_TESTS(0, dm01_bass)
FIXTURE_TESTS(1, dm04_bass)
FIXTURE_TESTS(2, dm06_mix)
FIXTURE_TESTS(3, dr02_mix)

static void test_fixture_set(void **state) {
    (void)state;
    /* Every fixture directory that make_bp_fixtures.sh writes is tested here. */
    assert_int_equal(N_FIXTURES, 4);
    for (size_t i = 0; i < N_FIXTURES; i++) {
        fixture_meta m = read_meta(k_fixtures[i]);
        /* >= 5 model windows: the stitching is exercised */
        assert_true((m.n_samples + 3840 + 36163) / 36164 >= 5);
        /* the stored rows cross a window seam (142 frames per window) */
        assert_true(m.a < 142 && m.b > 142);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_set),          cmocka_unit_test(test_notes_only_dm01_bass),
        cmocka_unit_test(test_notes_only_dm04_bass), cmocka_unit_test(test_notes_only_dm06_mix),
        cmocka_unit_test(test_notes_only_dr02_mix),  cmocka_unit_test(test_network_dm01_bass),
        cmocka_unit_test(test_network_dm04_bass),    cmocka_unit_test(test_network_dm06_mix),
        cmocka_unit_test(test_network_dr02_mix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
