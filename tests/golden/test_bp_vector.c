/* Basic Pitch network: the test vector of docs/basic_pitch.md §9 (produced by
 * @spotify/basic-pitch 1.0.1 on tfjs 3.21 `cpu`), plus the properties of dumu_bp_run that
 * need the real model: reference path bit-exact with tfjs-cpu, fast path within 1e-5,
 * fast front end bit-identical to the reference one, thread-count independence, progress
 * and cancel, loader errors, and fast vs reference on real music.
 *
 * Note on §9's "window 0 intermediates": they are the CQT of the signal's first 43844
 * samples fed to the graph directly (no 3840-sample lead of §1.2); with the lead the sums
 * are different (5093.5085 / 11591.5886) while the network outputs still match §9.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "models/basic_pitch.h"
#include "testutil.h"

#define N_TV 66150 /* 3 s at 22050 Hz */

struct fixture {
    dumu_bp_model *model;
    float *x; /* (N_TV) the §9 signal */
};

static const char *model_dir(void) {
    return test_path("DUMU_MODELS_DIR", "basic-pitch");
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    dumu_error err = {0};
    if (dumu_bp_model_open(model_dir(), &f->model, &err) != DUMU_OK) {
        fprintf(stderr, "cannot open the Basic Pitch model: %s\n", err.message);
        free(f);
        return -1;
    }
    /* §9, evaluated in double exactly as written, then rounded to float32. */
    f->x = malloc(N_TV * sizeof(float));
    assert_non_null(f->x);
    const double pi = 3.14159265358979323846;
    for (int n = 0; n < N_TV; n++) {
        double v = 0.0;
        if (n >= 11025 && n < 44100) v += 0.4 * sin(((2 * pi * 261.6255653) * n) / 22050);
        if (n >= 22050 && n < 55125) v += 0.3 * sin(((2 * pi * 391.995436) * n) / 22050);
        f->x[n] = (float)v;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    dumu_bp_model_free(f->model);
    free(f->x);
    free(f);
    return 0;
}

static double sum_of(const float *a, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i];
    return s;
}

static size_t argmax_of(const float *a, size_t n) {
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (a[i] > a[k]) k = i;
    }
    return k;
}

/* Checks one output against §9: sum (relative tolerance), max value and position. */
static void check_output(const float *a, int64_t rows, int cols, double sum, double max, int at_t,
                         int at_f, double atol, double sum_rtol, const char *what) {
    size_t n = (size_t)rows * (size_t)cols;
    double s = sum_of(a, n);
    size_t k = argmax_of(a, n);
    fprintf(stderr, "  %-8s sum %.5f (expect %.5f)  max %.9g at (%zu, %zu)\n", what, s, sum,
            (double)a[k], k / (size_t)cols, k % (size_t)cols);
    assert_true(fabs(s - sum) <= sum_rtol * sum);
    assert_int_equal(k / (size_t)cols, at_t);
    assert_int_equal(k % (size_t)cols, at_f);
    assert_true(fabs((double)a[k] - max) <= atol);
    for (size_t i = 0; i < n; i++)
        assert_true(a[i] > 0.0f && a[i] < 1.0f);
}

static void check_vector(const dumu_bp_output *o, double atol, double sum_rtol) {
    assert_int_equal(o->n_frames, 258);
    check_output(o->note, o->n_frames, 88, 2377.36399, 0.762354553, 48, 39, atol, sum_rtol, "note");
    check_output(o->onset, o->n_frames, 88, 2235.58835, 0.688032448, 43, 39, atol, sum_rtol,
                 "onset");
    check_output(o->contour, o->n_frames, 264, 6851.62482, 0.542467296, 77, 118, atol, sum_rtol,
                 "contour");
    assert_true(fabs((double)o->note[100 * 88 + 39] - 0.532263339) <= atol);
    assert_true(fabs((double)o->note[100 * 88 + 46] - 0.621628642) <= atol);
    assert_true(fabs((double)o->onset[43 * 88 + 39] - 0.688032448) <= atol);
}

/* ---------------------------------------------------------------------------------------- */

static void test_vector_fast(void **state) {
    struct fixture *f = *state;
    dumu_bp_output o = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_bp_run(f->model, f->x, N_TV, NULL, &o, &err), DUMU_OK);
    check_vector(&o, 1e-5, 2e-6);
    dumu_bp_output_deinit(&o);
    assert_null(o.note);
}

static void test_vector_reference_is_bit_exact(void **state) {
    struct fixture *f = *state;
    dumu_bp_output o = {0};
    dumu_error err = {0};
    dumu_bp_params p = dumu_bp_default_params();
    assert_int_equal(dumu_bp_run_path(f->model, f->x, N_TV, &p, 1, &o, &err), DUMU_OK);
    /* §9 prints 9 significant digits (exact for a float) and sums to 5 decimals. */
    check_vector(&o, 1e-9, 3e-9);
    assert_true(o.note[48 * 88 + 39] == 0.762354553f);
    assert_true(o.onset[43 * 88 + 39] == 0.688032448f);
    assert_true(o.contour[77 * 264 + 118] == 0.542467296f);
    assert_true(o.note[100 * 88 + 39] == 0.532263339f);
    assert_true(o.note[100 * 88 + 46] == 0.621628642f);

    /* The fast path stays close to it everywhere. */
    dumu_bp_output q = {0};
    assert_int_equal(dumu_bp_run(f->model, f->x, N_TV, &p, &q, &err), DUMU_OK);
    double e = 0.0;
    e = fmax(e, assert_allclose_f32(q.note, o.note, 258 * 88, 1e-5, 0, "note"));
    e = fmax(e, assert_allclose_f32(q.onset, o.onset, 258 * 88, 1e-5, 0, "onset"));
    e = fmax(e, assert_allclose_f32(q.contour, o.contour, 258 * 264, 1e-5, 0, "contour"));
    fprintf(stderr, "  fast vs reference on the test vector: max abs diff %.3g\n", e);
    dumu_bp_output_deinit(&o);
    dumu_bp_output_deinit(&q);
}

static void cqt_stats(const float *a, double *sum, float *max, float *min) {
    *sum = sum_of(a, DUMU_CQT_FRAMES * DUMU_CQT_BINS);
    *max = -INFINITY;
    *min = INFINITY;
    for (int i = 0; i < DUMU_CQT_FRAMES * DUMU_CQT_BINS; i++) {
        *max = fmaxf(*max, a[i]);
        *min = fminf(*min, a[i]);
    }
}

static void test_window0_intermediates(void **state) {
    struct fixture *f = *state;
    const dumu_cqt_plan *p = &f->model->cqt;
    dumu_cqt_work w;
    assert_int_equal(dumu_cqt_work_init(&w), DUMU_OK);
    size_t n = DUMU_CQT_FRAMES * DUMU_CQT_BINS;
    float *c_ref = malloc(n * sizeof(float)), *c_fast = malloc(n * sizeof(float));
    float *n_ref = malloc(n * sizeof(float)), *n_fast = malloc(n * sizeof(float));
    float *x = calloc(DUMU_CQT_WINDOW, sizeof(float));
    assert_non_null(c_ref);
    assert_non_null(c_fast);
    assert_non_null(n_ref);
    assert_non_null(n_fast);
    assert_non_null(x);

    /* §9 window 0: the first 43844 samples of the signal. */
    memcpy(x, f->x, DUMU_CQT_WINDOW * sizeof(float));
    for (int fast = 0; fast <= 1; fast++) {
        float *c = fast ? c_fast : c_ref, *nl = fast ? n_fast : n_ref;
        dumu_cqt_magnitude(p, x, c, &w, fast);
        dumu_cqt_normalized_log(p, c, nl, fast);
        double s;
        float mx, mn;
        cqt_stats(c, &s, &mx, &mn);
        fprintf(stderr, "  CQT (%s) sum %.5f max %.9g min %g\n", fast ? "fast" : "ref", s,
                (double)mx, (double)mn);
        assert_true(fabs(s - 5751.10731) <= 6e-6);
        assert_true(mx == 13.1672764f);
        assert_true(mn == 0.0f);
        double sn = sum_of(nl, n);
        fprintf(stderr, "  normalised log sum %.4f\n", sn);
        assert_true(fabs(sn - 12372.2276) <= 6e-5);
    }
    assert_memory_equal(c_fast, c_ref, n * sizeof(float));
    assert_memory_equal(n_fast, n_ref, n * sizeof(float));

    /* The run's real window 0 (3840 zeros first), and window 1: still bit-identical. */
    for (int win = 0; win < 2; win++) {
        for (int i = 0; i < DUMU_CQT_WINDOW; i++) {
            int j = i + win * DUMU_BP_HOP - DUMU_BP_LEAD;
            x[i] = (j >= 0 && j < N_TV) ? f->x[j] : 0.0f;
        }
        dumu_cqt_magnitude(p, x, c_ref, &w, 0);
        dumu_cqt_magnitude(p, x, c_fast, &w, 1);
        assert_memory_equal(c_fast, c_ref, n * sizeof(float));
        dumu_cqt_normalized_log(p, c_ref, n_ref, 0);
        dumu_cqt_normalized_log(p, c_fast, n_fast, 1);
        assert_memory_equal(n_fast, n_ref, n * sizeof(float));
    }
    dumu_cqt_work_deinit(&w);
    free(c_ref);
    free(c_fast);
    free(n_ref);
    free(n_fast);
    free(x);
}

static void test_threads_do_not_change_results(void **state) {
    struct fixture *f = *state;
    /* 5.5 s: 4 windows, so 3 threads get an uneven last batch. */
    int n = 121275;
    float *x = malloc((size_t)n * sizeof(float));
    assert_non_null(x);
    for (int i = 0; i < n; i++)
        x[i] = f->x[i % N_TV] * (float)(1.0 + 0.5 * sin(i * 1e-4));
    dumu_bp_output o[3] = {{0}};
    for (int k = 0; k < 3; k++) {
        dumu_bp_params p = dumu_bp_default_params();
        p.n_threads = k + 1;
        assert_int_equal(dumu_bp_run(f->model, x, n, &p, &o[k], NULL), DUMU_OK);
        assert_int_equal(o[k].n_frames, (int64_t)floor(n * (86.0 / 22050.0)));
    }
    for (int k = 1; k < 3; k++) {
        size_t nn = (size_t)o[0].n_frames * 88, nc = (size_t)o[0].n_frames * 264;
        assert_int_equal(o[k].n_frames, o[0].n_frames);
        assert_memory_equal(o[k].note, o[0].note, nn * sizeof(float));
        assert_memory_equal(o[k].onset, o[0].onset, nn * sizeof(float));
        assert_memory_equal(o[k].contour, o[0].contour, nc * sizeof(float));
    }
    for (int k = 0; k < 3; k++)
        dumu_bp_output_deinit(&o[k]);
    free(x);
}

struct progress_log {
    int calls;
    int cancel_at; /* cancel on this call (1-based); 0 never */
    float last;
    int monotonic;
};

static int on_progress(dumu_stage stage, float fraction, void *user) {
    struct progress_log *l = user;
    assert_int_equal(stage, DUMU_STAGE_BASIC_PITCH);
    if (fraction < l->last || fraction > 1.0f) l->monotonic = 0;
    l->last = fraction;
    l->calls++;
    return l->cancel_at && l->calls >= l->cancel_at;
}

static void test_progress_and_cancel(void **state) {
    struct fixture *f = *state;
    int n = 121275; /* 4 windows */
    float *x = calloc((size_t)n, sizeof(float));
    assert_non_null(x);
    memcpy(x, f->x, N_TV * sizeof(float));

    struct progress_log l = {0, 0, 0.0f, 1};
    dumu_bp_params p = dumu_bp_default_params();
    p.n_threads = 1;
    p.progress = on_progress;
    p.progress_user = &l;
    dumu_bp_output o = {0};
    assert_int_equal(dumu_bp_run(f->model, x, n, &p, &o, NULL), DUMU_OK);
    assert_int_equal(l.calls, 4);
    assert_true(l.monotonic);
    assert_true(l.last == 1.0f);
    dumu_bp_output_deinit(&o);

    struct progress_log c = {0, 2, 0.0f, 1};
    p.progress_user = &c;
    dumu_error err = {0};
    assert_int_equal(dumu_bp_run(f->model, x, n, &p, &o, &err), DUMU_E_CANCELLED);
    assert_int_equal(err.status, DUMU_E_CANCELLED);
    assert_int_equal(c.calls, 2);
    assert_null(o.note);
    assert_null(o.onset);
    assert_null(o.contour);
    assert_int_equal(o.n_frames, 0);
    free(x);
}

static void test_empty_and_bad_input(void **state) {
    struct fixture *f = *state;
    dumu_bp_output o = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_bp_run(f->model, NULL, 0, NULL, &o, &err), DUMU_OK);
    assert_int_equal(o.n_frames, 0);
    assert_null(o.note);
    assert_null(o.onset);
    assert_null(o.contour);
    dumu_bp_output_deinit(&o);

    /* 255 samples: one window, floor(255 * 86 / 22050) = 0 frames. */
    float few[255] = {0};
    assert_int_equal(dumu_bp_run(f->model, few, 255, NULL, &o, &err), DUMU_OK);
    assert_int_equal(o.n_frames, 0);
    dumu_bp_output_deinit(&o);
    /* 257 samples: 1 frame. */
    float more[257] = {0};
    assert_int_equal(dumu_bp_run(f->model, more, 257, NULL, &o, &err), DUMU_OK);
    assert_int_equal(o.n_frames, 1);
    assert_non_null(o.note);
    dumu_bp_output_deinit(&o);

    assert_int_equal(dumu_bp_run(f->model, NULL, 10, NULL, &o, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_bp_run(f->model, few, -1, NULL, &o, &err), DUMU_E_INVALID_ARG);
    dumu_bp_params p = dumu_bp_default_params();
    assert_int_equal(p.n_threads, 2);
    p.n_threads = 0;
    assert_int_equal(dumu_bp_run(f->model, few, 255, &p, &o, &err), DUMU_E_INVALID_ARG);
    few[100] = NAN;
    assert_int_equal(dumu_bp_run(f->model, few, 255, NULL, &o, &err), DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "100"));
    assert_null(o.note);
    dumu_bp_output_deinit(NULL);
    dumu_bp_model_free(NULL);
}

/* Every allocation of model open and of a run may fail: the call reports DUMU_E_NOMEM (or
 * succeeds when the failing allocation was not needed), leaks nothing (ASan) and leaves the
 * outputs zeroed. */
static void test_allocation_failures(void **state) {
    struct fixture *f = *state;
    int failures = 0;
    for (int64_t n = 1;; n++) {
        dumu_bp_model *m = NULL;
        dumu_alloc_fail_after(n);
        dumu_status st = dumu_bp_model_open(model_dir(), &m, NULL);
        int64_t made = dumu_alloc_fail_after(0);
        if (st == DUMU_OK) {
            dumu_bp_model_free(m);
            if (made < n) break; /* the n-th allocation never happened: all paths covered */
            continue;
        }
        assert_int_equal(st, DUMU_E_NOMEM);
        assert_null(m);
        failures++;
    }
    assert_true(failures > 0);
    dumu_bp_params p = dumu_bp_default_params();
    p.n_threads = 1; /* the failure counter is not thread-safe */
    failures = 0;
    for (int64_t n = 1;; n++) {
        dumu_bp_output o = {0};
        dumu_alloc_fail_after(n);
        dumu_status st = dumu_bp_run(f->model, f->x, 20000, &p, &o, NULL);
        int64_t made = dumu_alloc_fail_after(0);
        if (st == DUMU_OK) {
            assert_int_equal(o.n_frames, (int64_t)floor(20000 * (86.0 / 22050.0)));
            dumu_bp_output_deinit(&o);
            if (made < n) break;
            continue;
        }
        assert_int_equal(st, DUMU_E_NOMEM);
        assert_null(o.note);
        assert_null(o.onset);
        assert_null(o.contour);
        assert_int_equal(o.n_frames, 0);
        failures++;
    }
    assert_true(failures > 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Loader errors */

static void copy_file(const char *from, const char *to, long truncate_to) {
    size_t n = 0;
    char *buf = test_read_file(from, &n);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    size_t w = truncate_to >= 0 && (size_t)truncate_to < n ? (size_t)truncate_to : n;
    assert_int_equal(fwrite(buf, 1, w, f), w);
    fclose(f);
    free(buf);
}

static void test_loader_errors(void **state) {
    (void)state;
    dumu_bp_model *m = NULL;
    dumu_error err = {0};
    assert_int_equal(dumu_bp_model_open("/nonexistent/basic-pitch", &m, &err), DUMU_E_MODEL);
    assert_null(m);
    assert_non_null(strstr(err.message, "/nonexistent/basic-pitch/model.json"));
    assert_non_null(strstr(err.message, "scripts/setup"));

    char dir[] = "/tmp/dumu_bp_modelXXXXXX";
    assert_non_null(mkdtemp(dir));
    char src_json[4096], src_bin[4096], json[4200], bin[4200];
    snprintf(src_json, sizeof src_json, "%s/model.json", model_dir());
    snprintf(src_bin, sizeof src_bin, "%s/group1-shard1of1.bin", model_dir());
    snprintf(json, sizeof json, "%s/model.json", dir);
    snprintf(bin, sizeof bin, "%s/group1-shard1of1.bin", dir);

    /* A good copy opens. */
    copy_file(src_json, json, -1);
    copy_file(src_bin, bin, -1);
    assert_int_equal(dumu_bp_model_open(dir, &m, &err), DUMU_OK);
    dumu_bp_model_free(m);
    m = NULL;

    /* Missing shard. */
    unlink(bin);
    assert_int_equal(dumu_bp_model_open(dir, &m, &err), DUMU_E_MODEL);
    assert_non_null(strstr(err.message, "group1-shard1of1.bin"));

    /* Truncated shard. */
    copy_file(src_bin, bin, 742000);
    assert_int_equal(dumu_bp_model_open(dir, &m, &err), DUMU_E_MODEL);
    assert_non_null(strstr(err.message, "742000"));
    copy_file(src_bin, bin, -1);

    /* A used tensor with another shape: conv2d_4's kernel [5,5,8,32] -> [5,5,8,16] (the
     * offsets then no longer add up either, but the shape is reported first). */
    size_t n = 0;
    char *text = test_read_file(src_json, &n);
    const char *entry =
        "\"StatefulPartitionedCall/model_1/conv2d_4/Conv2D_weights\", \"shape\": [5, 5, 8, 32]";
    char *name = strstr(text, entry); /* the manifest entry, not the graph node */
    assert_non_null(name);
    char *shape = name + strlen(entry) - 3;
    assert_memory_equal(shape, "32]", 3);
    shape[0] = '1';
    shape[1] = '6';
    FILE *fj = fopen(json, "wb");
    assert_non_null(fj);
    assert_int_equal(fwrite(text, 1, n, fj), n);
    fclose(fj);
    assert_int_equal(dumu_bp_model_open(dir, &m, &err), DUMU_E_MODEL);
    assert_non_null(strstr(err.message, "conv2d_4/Conv2D_weights"));
    free(text);

    /* Not JSON. */
    FILE *fb = fopen(json, "wb");
    assert_non_null(fb);
    fputs("{not json", fb);
    fclose(fb);
    assert_int_equal(dumu_bp_model_open(dir, &m, &err), DUMU_E_MODEL);
    assert_null(m);

    unlink(json);
    unlink(bin);
    rmdir(dir);
}

/* ---------------------------------------------------------------------------------------- */
/* Real music: fast path vs the bit-exact reference path */

static void test_fast_vs_reference_on_music(void **state) {
    struct fixture *f = *state;
    const char *path = test_path("DUMU_TESTDATA_DIR", "dm01_freedoom2_d_ddtbl2/bass.flac");
    dumu_decode_params dp = dumu_decode_default_params();
    dp.sample_rate = DUMU_BP_SAMPLE_RATE;
    dp.n_channels = 1;
    dumu_audio a = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_audio_decode_file(path, &dp, &a, &err), DUMU_OK);
    int64_t n = a.n_frames < 5 * 22050 ? a.n_frames : 5 * 22050;
    assert_true(n > 4 * 22050);

    dumu_bp_output fast = {0}, ref = {0};
    assert_int_equal(dumu_bp_run(f->model, a.samples, n, NULL, &fast, &err), DUMU_OK);
    assert_int_equal(dumu_bp_run_path(f->model, a.samples, n, NULL, 1, &ref, &err), DUMU_OK);
    assert_int_equal(fast.n_frames, ref.n_frames);
    size_t nn = (size_t)ref.n_frames * 88, nc = (size_t)ref.n_frames * 264;
    double en = assert_allclose_f32(fast.note, ref.note, nn, 2e-5, 0, "note");
    double eo = assert_allclose_f32(fast.onset, ref.onset, nn, 2e-5, 0, "onset");
    double ec = assert_allclose_f32(fast.contour, ref.contour, nc, 2e-5, 0, "contour");
    fprintf(stderr,
            "  dm01 bass, first 5 s: fast vs reference max abs diff note %.3g onset %.3g "
            "contour %.3g\n",
            en, eo, ec);
    /* The music is not trivial: some notes are clearly on. */
    assert_true(ref.note[argmax_of(ref.note, nn)] > 0.5f);
    dumu_bp_output_deinit(&fast);
    dumu_bp_output_deinit(&ref);
    dumu_audio_deinit(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_fast),
        cmocka_unit_test(test_window0_intermediates),
        cmocka_unit_test(test_vector_reference_is_bit_exact),
        cmocka_unit_test(test_threads_do_not_change_results),
        cmocka_unit_test(test_progress_and_cancel),
        cmocka_unit_test(test_empty_and_bad_input),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_loader_errors),
        cmocka_unit_test(test_fast_vs_reference_on_music),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
