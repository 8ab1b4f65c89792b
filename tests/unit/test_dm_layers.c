/* htdemucs layers (src/models/demucs_layers.c): every fast kernel against its reference loop
 * on small random shapes with odd sizes, tiling forced by tiny scratch, bit-identical results
 * for 1 and 2 threads; the host DSP (reflect padding, STFT against a direct DFT, the
 * STFT -> ISTFT round trip) and the chunking / overlap-add rules of docs/htdemucs.md §1.3. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "models/demucs_layers.h"
#include "nn/simd.h"
#include "testutil.h"

#ifndef M_PI
#    define M_PI 3.14159265358979323846
#endif

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static float frand(void) { /* uniform in [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *rnd(int64_t n, float scale, float offset) {
    float *p = dumu_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = offset + scale * frand();
    return p;
}

static float *zeros(int64_t n) {
    float *p = dumu_calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    assert_non_null(p);
    return p;
}

static float *copy_of(const float *x, int64_t n) {
    float *p = dumu_malloc((size_t)n * sizeof(float));
    assert_non_null(p);
    memcpy(p, x, (size_t)n * sizeof(float));
    return p;
}

/* Relative RMS difference of a against b. */
static double rel_rms(const float *a, const float *b, int64_t n) {
    double d = 0.0, r = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)a[i] - (double)b[i];
        d += e * e;
        r += (double)b[i] * (double)b[i];
    }
    return sqrt(d / (r > 0.0 ? r : 1.0));
}

/* Random DConv weights for c channels (to be freed with free_dconv). */
static void make_dconv(dumu_dm_dconv_w *d, int32_t c) {
    d->c = c;
    d->h = c / 8;
    for (int j = 0; j < 2; j++) {
        d->w0[j] = rnd((int64_t)d->h * c * 3, 1.0f / sqrtf(3.0f * (float)c), 0.0f);
        d->b0[j] = rnd(d->h, 0.1f, 0.0f);
        d->g1[j] = rnd(d->h, 0.2f, 1.0f);
        d->be1[j] = rnd(d->h, 0.1f, 0.0f);
        d->w3[j] = rnd((int64_t)2 * c * d->h, 1.0f / sqrtf((float)d->h), 0.0f);
        d->b3[j] = rnd(2 * c, 0.1f, 0.0f);
        d->g4[j] = rnd(2 * c, 0.2f, 1.0f);
        d->be4[j] = rnd(2 * c, 0.1f, 0.0f);
        d->scale[j] = rnd(c, 0.3f, 0.5f);
    }
}

static void free_dconv(dumu_dm_dconv_w *d) {
    for (int j = 0; j < 2; j++) {
        dumu_free((void *)d->w0[j]);
        dumu_free((void *)d->b0[j]);
        dumu_free((void *)d->g1[j]);
        dumu_free((void *)d->be1[j]);
        dumu_free((void *)d->w3[j]);
        dumu_free((void *)d->b3[j]);
        dumu_free((void *)d->g4[j]);
        dumu_free((void *)d->be4[j]);
        dumu_free((void *)d->scale[j]);
    }
}

static void make_enc(dumu_dm_enc_w *e, int32_t cin, int32_t c) {
    e->cin = cin;
    e->c = c;
    e->conv_w = rnd((int64_t)c * cin * 8, 1.0f / sqrtf(8.0f * (float)cin), 0.0f);
    e->conv_b = rnd(c, 0.1f, 0.0f);
    make_dconv(&e->dconv, c);
    e->rw_w = rnd((int64_t)2 * c * c, 1.0f / sqrtf((float)c), 0.0f);
    e->rw_b = rnd(2 * c, 0.1f, 0.0f);
}

static void free_enc(dumu_dm_enc_w *e) {
    dumu_free((void *)e->conv_w);
    dumu_free((void *)e->conv_b);
    dumu_free((void *)e->rw_w);
    dumu_free((void *)e->rw_b);
    free_dconv(&e->dconv);
}

static void make_dec(dumu_dm_dec_w *d, int32_t cin, int32_t cout, int taps) {
    d->cin = cin;
    d->cout = cout;
    d->rw_w = rnd((int64_t)2 * cin * cin * taps, 1.0f / sqrtf((float)(cin * taps)), 0.0f);
    d->rw_b = rnd(2 * cin, 0.1f, 0.0f);
    make_dconv(&d->dconv, cin);
    d->tr_w = rnd((int64_t)cin * cout * 8, 1.0f / sqrtf(2.0f * (float)cin), 0.0f);
    d->tr_b = rnd(cout, 0.1f, 0.0f);
}

static void free_dec(dumu_dm_dec_w *d) {
    dumu_free((void *)d->rw_w);
    dumu_free((void *)d->rw_b);
    dumu_free((void *)d->tr_w);
    dumu_free((void *)d->tr_b);
    free_dconv(&d->dconv);
}

/* ---- elementwise ---------------------------------------------------------------------------- */

static void test_expf_gelu_glu(void **state) {
    (void)state;
    double worst = 0.0;
    for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
        double r = fabs((double)dumu_dm_simd()->expf(x) / exp((double)x) - 1.0);
        if (r > worst) worst = r;
    }
    printf("expf: max relative error %.3g\n", worst);
    assert_true(worst < 4e-7);
    assert_true(isnan(dumu_dm_simd()->expf(NAN)));

    enum { N = 40001 };

    float *x = zeros(N + 4), *y = zeros(N + 4);
    for (int i = 0; i < N; i++)
        x[i] = -14.0f + 28.0f * (float)i / (N - 1);
    x[N] = 0.0f;
    x[N + 1] = -0.0f;
    x[N + 2] = 60.0f;
    x[N + 3] = -60.0f;
    memcpy(y, x, sizeof(float) * (N + 4));
    dumu_dm_simd()->gelu(x, N + 4);
    dumu_dm_gelu_ref(y, N + 4);
    worst = 0.0;
    for (int i = 0; i < N + 4; i++) {
        double tol = 4e-7 * fmax(1.0, fabs((double)y[i]));
        double d = fabs((double)x[i] - (double)y[i]);
        if (d / tol > worst) worst = d / tol;
    }
    printf("gelu: max error / tolerance %.3f\n", worst);
    assert_true(worst <= 1.0);
    assert_true(x[N + 2] == 60.0f && x[N + 3] == 0.0f && x[N] == 0.0f);
    float nan_in = NAN;
    dumu_dm_simd()->gelu(&nan_in, 1);
    assert_true(isnan(nan_in));

    /* GLU on odd n (vector blocks + tail), in place */
    int64_t n = 1237;
    float *a = rnd(n, 4.0f, 0.0f), *b = rnd(n, 12.0f, 0.0f), *ref = zeros(n);
    dumu_dm_glu_ref(a, b, ref, n);
    dumu_dm_simd()->glu(a, b, a, n);
    assert_allclose_f32(a, ref, (size_t)n, 1e-6, 4e-7, "glu");
    dumu_free(x);
    dumu_free(y);
    dumu_free(a);
    dumu_free(b);
    dumu_free(ref);
}

/* ---- statistics ------------------------------------------------------------------------------ */

static void test_block_stats(void **state) {
    (void)state;
    const int64_t shapes[][3] = {{1, 1, 1},     {1, 7, 7},       {3, 5, 9},    {7, 13, 13},
                                 {2, 336, 400}, {5, 1001, 1003}, {96, 85, 85}, {1, 100003, 100003}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t rows = shapes[s][0], cols = shapes[s][1], ld = shapes[s][2];
        float *x = rnd(rows * ld, 2.0f, 0.3f);
        float m1, v1, m2, v2;
        dumu_dm_block_stats(x, rows, cols, ld, DUMU_DM_STATS_LANES8, &m1, &v1);
        dumu_dm_block_stats_ref(x, rows, cols, ld, DUMU_DM_STATS_LANES8, &m2, &v2);
        assert_true(m1 == m2 && v1 == v2); /* bit-exact: same additions in the same order */
        dumu_dm_block_stats(x, rows, cols, ld, DUMU_DM_STATS_DOUBLE, &m1, &v1);
        dumu_dm_block_stats_ref(x, rows, cols, ld, DUMU_DM_STATS_DOUBLE, &m2, &v2);
        assert_true(fabs((double)m1 - (double)m2) <= 1e-6 * (1.0 + sqrt((double)v2)));
        assert_true(fabs((double)v1 - (double)v2) <= 1e-6 * ((double)v2 + 1e-30));
        dumu_free(x);
    }
}

static void test_groupnorm_and_normalize(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        int64_t c = 24, t = 3001, cs = 3005; /* > 65536 values: the threaded paths */
        float *x = rnd(c * cs, 3.0f, -0.7f);
        float *g = rnd(c, 0.3f, 1.0f), *b = rnd(c, 0.5f, 0.0f);
        float *y1 = copy_of(x, c * cs), *y2 = copy_of(x, c * cs), *yr = copy_of(x, c * cs);
        dumu_dm_groupnorm(y1, c, t, cs, g, b, (dumu_dm_stats_mode)mode, 1);
        dumu_dm_groupnorm(y2, c, t, cs, g, b, (dumu_dm_stats_mode)mode, 2);
        dumu_dm_groupnorm_ref(yr, c, t, cs, g, b, (dumu_dm_stats_mode)mode);
        assert_memory_equal(y1, y2, (size_t)(c * cs) * sizeof(float));
        assert_allclose_f32(y1, yr, (size_t)(c * cs), 2e-6, 2e-6, "groupnorm");
        /* the padding between rows is untouched */
        assert_true(y1[t] == x[t] && y1[cs + t + 3] == x[cs + t + 3]);
        if (mode == DUMU_DM_STATS_LANES8) assert_memory_equal(y1, yr, (size_t)(c * cs) * 4);
        dumu_free(x);
        dumu_free(g);
        dumu_free(b);
        dumu_free(y1);
        dumu_free(y2);
        dumu_free(yr);

        int64_t n = 70001;
        float *u = rnd(n, 0.2f, 0.01f), *ur = copy_of(u, n);
        float m1, s1, m2, s2;
        dumu_dm_normalize(u, n, (dumu_dm_stats_mode)mode, &m1, &s1, 2);
        dumu_dm_normalize_ref(ur, n, (dumu_dm_stats_mode)mode, &m2, &s2);
        assert_true(fabs((double)m1 - (double)m2) < 1e-7 &&
                    fabs((double)s1 / (double)s2 - 1.0) < 1e-6);
        assert_allclose_f32(u, ur, (size_t)n, 1e-5, 1e-5, "normalize");
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < n; i++)
            mean += (double)u[i];
        mean /= n;
        for (int64_t i = 0; i < n; i++)
            var += ((double)u[i] - mean) * ((double)u[i] - mean);
        assert_true(fabs(mean) < 1e-5 && fabs(sqrt(var / (n - 1)) - 1.0) < 1e-3);
        dumu_free(u);
        dumu_free(ur);
    }
}

/* ---- convolutions ---------------------------------------------------------------------------- */

static void test_conv(void **state) {
    (void)state;
    /* cin, outer, len, inner, cout, k, stride, pad, dil, lout */
    const int64_t cases[][10] = {
        {3, 1, 37, 1, 5, 8, 4, 2, 1, 10}, /* time conv (padded to a multiple of 4) */
        {8, 3, 11, 1, 2, 3, 1, 2, 2, 11}, /* DConv dilation 2 over 3 rows */
        {8, 3, 11, 1, 2, 3, 1, 1, 1, 11}, /* DConv dilation 1 */
        {2, 1, 16, 7, 3, 8, 4, 2, 1, 4},  /* freq conv: inner = frames */
        {5, 2, 9, 1, 6, 1, 1, 0, 1, 9},   /* 1x1 */
        {7, 1, 23, 1, 4, 3, 1, 1, 1, 23}, /* decoder rewrite k 3 */
        {1, 1, 1, 1, 1, 8, 4, 2, 1, 1},   /* a single sample */
    };
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
        const int64_t *c = cases[s];
        int64_t cin = c[0], outer = c[1], len = c[2], inner = c[3], cout = c[4];
        int k = (int)c[5], stride = (int)c[6], pad = (int)c[7], dil = (int)c[8];
        int64_t lout = c[9], ncol = outer * lout * inner, xcs = outer * len * inner + 3;
        float *x = rnd(cin * xcs, 1.0f, 0.0f), *w = rnd(cout * cin * k, 0.5f, 0.0f);
        float *b = rnd(cout, 0.5f, 0.0f);
        float *ref = zeros(cout * ncol), *y = zeros(cout * (ncol + 5));
        dumu_dm_src xv = {
            .data = x, .c = cin, .cs = xcs, .rows = outer, .len = len, .inner = inner};
        dumu_dm_conv_geom g = {.k = k, .stride = stride, .pad = pad, .dil = dil};
        dumu_dm_conv_ref(
            xv, w, b, g,
            (dumu_dm_dst){
                .data = ref, .c = cout, .cs = ncol, .rows = outer, .len = lout, .inner = inner});
        /* ample scratch, then the minimum (one column group per tile) */
        int64_t caps[2] = {cin * k * ncol + 100, cin * k * inner};
        for (int ci = 0; ci < 2; ci++) {
            float *cols = zeros(caps[ci]);
            memset(y, 0, sizeof(float) * (size_t)(cout * (ncol + 5)));
            dumu_dm_conv(xv, w, b, g,
                         (dumu_dm_dst){.data = y,
                                       .c = cout,
                                       .cs = ncol + 5,
                                       .rows = outer,
                                       .len = lout,
                                       .inner = inner},
                         0, ncol, cols, caps[ci], 1 + ci);
            for (int64_t o = 0; o < cout; o++) {
                assert_allclose_f32(y + o * (ncol + 5), ref + o * ncol, (size_t)ncol, 1e-5, 1e-5,
                                    "conv");
            }
            /* a sub-range of columns */
            int64_t j0 = (ncol / inner / 3) * inner, j1 = ncol - (ncol / inner / 4) * inner;
            if (j1 > j0) {
                dumu_dm_conv(xv, w, b, g,
                             (dumu_dm_dst){.data = y,
                                           .c = cout,
                                           .cs = j1 - j0,
                                           .rows = outer,
                                           .len = lout,
                                           .inner = inner},
                             j0, j1, cols, caps[ci], 1);
                for (int64_t o = 0; o < cout; o++) {
                    assert_allclose_f32(y + o * (j1 - j0), ref + o * ncol + j0, (size_t)(j1 - j0),
                                        1e-5, 1e-5, "conv range");
                }
            }
            dumu_free(cols);
        }
        dumu_free(x);
        dumu_free(w);
        dumu_free(b);
        dumu_free(ref);
        dumu_free(y);
    }
}

static void test_conv3x3(void **state) {
    (void)state;
    int64_t cin = 3, F = 5, T = 7, cout = 4, xcs = F * T;
    float *x = rnd(cin * xcs, 1.0f, 0.0f), *x2 = rnd(cin * xcs, 1.0f, 0.0f);
    float *w = rnd(cout * cin * 9, 0.4f, 0.0f), *b = rnd(cout, 0.3f, 0.0f);
    for (int with2 = 0; with2 < 2; with2++) {
        const float *s2 = with2 ? x2 : NULL;
        int64_t f0 = with2 ? 1 : 0, f1 = with2 ? 4 : F, n = (f1 - f0) * T;
        float *ref = zeros(cout * n), *y = zeros(cout * n);
        dumu_dm_src xv = {.data = x, .c = cin, .cs = xcs, .rows = 1, .len = F, .inner = T};
        dumu_dm_conv3x3_ref(
            xv, s2, w, b,
            (dumu_dm_dst){.data = ref, .c = cout, .cs = n, .rows = 1, .len = F, .inner = T}, f0,
            f1);
        int64_t caps[2] = {cin * 9 * T, cin * 9 * T * F};
        for (int ci = 0; ci < 2; ci++) {
            float *cols = zeros(caps[ci]);
            dumu_dm_conv3x3(
                xv, s2, w, b,
                (dumu_dm_dst){.data = y, .c = cout, .cs = n, .rows = 1, .len = F, .inner = T}, f0,
                f1, cols, caps[ci], 1);
            assert_allclose_f32(y, ref, (size_t)(cout * n), 1e-5, 1e-5, "conv3x3");
            dumu_free(cols);
        }
        dumu_free(ref);
        dumu_free(y);
    }
    dumu_free(x);
    dumu_free(x2);
    dumu_free(w);
    dumu_free(b);
}

static void test_convtr(void **state) {
    (void)state;
    for (int64_t inner = 1; inner <= 5; inner += 4) {
        int64_t cin = 4, nl = 9, cout_total = 6, o0 = 2, cout = 3, lout = 4 * nl;
        float *x = rnd(cin * nl * inner, 1.0f, 0.0f), *w = rnd(cin * cout_total * 8, 0.5f, 0.0f);
        float *ref = zeros(cout * lout * inner), *y = zeros(cout * lout * inner);
        dumu_dm_conv_geom g = {.k = 8, .stride = 4, .pad = 2, .dil = 1};
        dumu_dm_dst yref = {
            .data = ref, .c = cout, .cs = lout * inner, .rows = 1, .len = lout, .inner = inner};
        dumu_dm_dst yv = yref;
        yv.data = y;
        dumu_dm_convtr_ref(
            (dumu_dm_src){
                .data = x, .c = cin, .cs = nl * inner, .rows = 1, .len = nl, .inner = inner},
            w, (dumu_dm_convtr_part){.l0 = 0, .o0 = o0, .w_cout = cout_total}, g, yref);
        /* two position tiles [0, 4) and [4, 9) accumulate into the same output, each with the
         * minimum scratch (one position per internal tile) */
        float *cols = zeros(cout * 8 * inner);
        dumu_dm_convtr(
            (dumu_dm_src){
                .data = x, .c = cin, .cs = nl * inner, .rows = 1, .len = 4, .inner = inner},
            w, (dumu_dm_convtr_part){.l0 = 0, .o0 = o0, .w_cout = cout_total}, g, yv, cols,
            cout * 8 * inner, 1);
        dumu_dm_convtr((dumu_dm_src){.data = x + 4 * inner,
                                     .c = cin,
                                     .cs = nl * inner,
                                     .rows = 1,
                                     .len = nl - 4,
                                     .inner = inner},
                       w, (dumu_dm_convtr_part){.l0 = 4, .o0 = o0, .w_cout = cout_total}, g, yv,
                       cols, cout * 8 * inner, 2);
        assert_allclose_f32(y, ref, (size_t)(cout * lout * inner), 1e-5, 1e-5, "convtr");
        dumu_free(x);
        dumu_free(w);
        dumu_free(ref);
        dumu_free(y);
        dumu_free(cols);
    }
}

/* ---- DConv and layers ------------------------------------------------------------------------ */

static void test_dconv(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        dumu_dm_dconv_w d;
        make_dconv(&d, 16);
        const int64_t shapes[][2] = {{3, 13}, {1, 3001}};
        for (int s = 0; s < 2; s++) {
            int64_t r = shapes[s][0], t = shapes[s][1], n = 16 * r * t;
            float *x = rnd(n, 1.0f, 0.1f), *ref = copy_of(x, n);
            dumu_dm_dconv_ref(&d, ref, r, t, (dumu_dm_stats_mode)mode);
            /* minimal scratch (im2col, one column per tile) and ample (shifted GEMMs) */
            int64_t caps[2] = {(2 * 16 + 2) * r * t + 48, (2 * 16 + 2) * r * t + 16 * 16 * 3};
            for (int ci = 0; ci < 2; ci++) {
                float *y1 = copy_of(x, n), *y2 = copy_of(x, n), *tmp = zeros(caps[ci]);
                dumu_dm_dconv(&d, y1, r, t, tmp, caps[ci], (dumu_dm_stats_mode)mode, 1);
                dumu_dm_dconv(&d, y2, r, t, tmp, caps[ci], (dumu_dm_stats_mode)mode, 2);
                assert_memory_equal(y1, y2, (size_t)n * sizeof(float));
                assert_allclose_f32(y1, ref, (size_t)n, 2e-5, 2e-5, "dconv");
                dumu_free(y1);
                dumu_free(y2);
                dumu_free(tmp);
            }
            dumu_free(x);
            dumu_free(ref);
        }
        free_dconv(&d);
    }
}

static dumu_dm_scratch make_scratch(int64_t slot, int n_slots, int64_t big) {
    dumu_dm_scratch s = {0};
    s.slot = slot;
    s.n_slots = n_slots;
    s.buf = zeros(slot * n_slots);
    s.big_cap = big;
    s.big = zeros(big);
    return s;
}

static void free_scratch(dumu_dm_scratch *s) {
    dumu_free(s->buf);
    dumu_free(s->big);
}

static void test_time_encoder(void **state) {
    (void)state;
    int64_t cin = 2, c = 16, tin = 1001, tout = 251;
    dumu_dm_enc_w e;
    make_enc(&e, (int32_t)cin, (int32_t)c);
    float *x = rnd(cin * tin, 1.0f, 0.0f), *ref = zeros(c * tout);
    float *y1 = zeros(c * tout), *y2 = zeros(c * tout);
    dumu_dm_scratch s = make_scratch(0, 0, dumu_dm_time_scratch_size(c, tout));
    dumu_dm_time_encoder_ref(&e, x, tin, ref, DUMU_DM_STATS_DOUBLE);
    dumu_dm_time_encoder(&e, x, tin, y1, &s, DUMU_DM_STATS_DOUBLE, 1);
    dumu_dm_time_encoder(&e, x, tin, y2, &s, DUMU_DM_STATS_DOUBLE, 2);
    assert_memory_equal(y1, y2, (size_t)(c * tout) * sizeof(float));
    printf("time encoder: rel RMS %.3g\n", rel_rms(y1, ref, c * tout));
    assert_allclose_f32(y1, ref, (size_t)(c * tout), 1e-5, 1e-4, "time encoder");
    free_scratch(&s);
    free_enc(&e);
    dumu_free(x);
    dumu_free(ref);
    dumu_free(y1);
    dumu_free(y2);
}

static void test_freq_encoder(void **state) {
    (void)state;
    int64_t cin = 4, c = 16, fin = 32, T = 9, fout = 8, n = c * fout * T;
    dumu_dm_enc_w e;
    make_enc(&e, (int32_t)cin, (int32_t)c);
    float *x = rnd(cin * fin * T, 1.0f, 0.0f), *emb = rnd(c * fout, 1.0f, 0.0f);
    float *ref = zeros(n), *y1 = zeros(n), *y2 = zeros(n);
    dumu_dm_freq_encoder_ref(&e, x, fin, T, ref, emb, 0.2f, DUMU_DM_STATS_LANES8);
    /* slot for 3 rows per tile: tiles of 3, 3, 2 rows */
    int64_t per = dumu_dm_freq_slot_min(cin, c, T);
    dumu_dm_scratch s = make_scratch(3 * per, 2, 0);
    dumu_dm_freq_encoder(&e, x, fin, T, y1, emb, 0.2f, &s, DUMU_DM_STATS_LANES8, 1);
    dumu_dm_freq_encoder(&e, x, fin, T, y2, emb, 0.2f, &s, DUMU_DM_STATS_LANES8, 2);
    assert_memory_equal(y1, y2, (size_t)n * sizeof(float));
    printf("freq encoder: rel RMS %.3g\n", rel_rms(y1, ref, n));
    assert_allclose_f32(y1, ref, (size_t)n, 1e-5, 1e-4, "freq encoder");
    free_scratch(&s);
    free_enc(&e);
    dumu_free(x);
    dumu_free(emb);
    dumu_free(ref);
    dumu_free(y1);
    dumu_free(y2);
}

static void test_time_decoder(void **state) {
    (void)state;
    int64_t cin = 16, cout = 8, t = 251, tout = 1001;
    dumu_dm_dec_w d;
    make_dec(&d, (int32_t)cin, (int32_t)cout, 3);
    dumu_dm_outsel sel = {2, 2, {2, 6}};
    for (int last = 0; last < 2; last++) {
        float *x = rnd(cin * t, 1.0f, 0.0f), *skip = rnd(cin * t, 1.0f, 0.0f);
        float *x1 = copy_of(x, cin * t), *x2 = copy_of(x, cin * t);
        int64_t n = 4 * tout;
        float *ref = zeros(n), *y1 = zeros(n), *y2 = zeros(n);
        dumu_dm_scratch s = make_scratch(0, 0, dumu_dm_time_scratch_size(cin, t));
        dumu_dm_time_decoder_ref(&d, x, skip, t, &sel, ref, tout, last, DUMU_DM_STATS_DOUBLE);
        dumu_dm_time_decoder(&d, x1, skip, t, &sel, y1, tout, last, &s, DUMU_DM_STATS_DOUBLE, 1);
        dumu_dm_time_decoder(&d, x2, skip, t, &sel, y2, tout, last, &s, DUMU_DM_STATS_DOUBLE, 2);
        assert_memory_equal(y1, y2, (size_t)n * sizeof(float));
        assert_allclose_f32(y1, ref, (size_t)n, 1e-5, 1e-4, "time decoder");
        free_scratch(&s);
        dumu_free(x);
        dumu_free(skip);
        dumu_free(x1);
        dumu_free(x2);
        dumu_free(ref);
        dumu_free(y1);
        dumu_free(y2);
    }
    free_dec(&d);
}

static void test_freq_decoder(void **state) {
    (void)state;
    int64_t cin = 16, cout = 8, F = 9, T = 7, fout = 4 * F;
    dumu_dm_dec_w d;
    make_dec(&d, (int32_t)cin, (int32_t)cout, 9);
    dumu_dm_outsel sels[2] = {{1, 8, {0}}, {2, 2, {0, 4}}};
    for (int si = 0; si < 2; si++) {
        const dumu_dm_outsel *sel = &sels[si];
        bool last = si == 1;
        int64_t n = sel->n_groups * sel->gsize * fout * T;
        float *x = rnd(cin * F * T, 1.0f, 0.0f), *skip = rnd(cin * F * T, 1.0f, 0.0f);
        float *ref = zeros(n), *y1 = zeros(n), *y2 = zeros(n), *y3 = zeros(n);
        dumu_dm_freq_decoder_ref(&d, x, skip, F, T, sel, ref, last, DUMU_DM_STATS_DOUBLE);
        int64_t per = dumu_dm_freq_slot_min(cin, cin, T);
        dumu_dm_scratch s1 = make_scratch(per, 3, 0), s2 = make_scratch(4 * per, 2, 0);
        float *xs[3];
        for (int i = 0; i < 3; i++)
            xs[i] = copy_of(x, cin * F * T);
        dumu_dm_freq_decoder(&d, xs[0], skip, F, T, sel, y1, last, &s1, DUMU_DM_STATS_DOUBLE, 1);
        dumu_dm_freq_decoder(&d, xs[1], skip, F, T, sel, y2, last, &s1, DUMU_DM_STATS_DOUBLE, 3);
        dumu_dm_freq_decoder(&d, xs[2], skip, F, T, sel, y3, last, &s2, DUMU_DM_STATS_DOUBLE, 2);
        for (int i = 0; i < cin * F * T; i++)
            assert_true(xs[0][i] == x[i] + skip[i]);
        for (int i = 0; i < 3; i++)
            dumu_free(xs[i]);
        assert_memory_equal(y1, y2, (size_t)n * sizeof(float));
        assert_memory_equal(y1, y3, (size_t)n * sizeof(float));
        printf("freq decoder: rel RMS %.3g\n", rel_rms(y1, ref, n));
        assert_allclose_f32(y1, ref, (size_t)n, 1e-5, 1e-4, "freq decoder");
        free_scratch(&s1);
        free_scratch(&s2);
        dumu_free(x);
        dumu_free(skip);
        dumu_free(ref);
        dumu_free(y1);
        dumu_free(y2);
        dumu_free(y3);
    }
    free_dec(&d);
}

/* ---- host DSP -------------------------------------------------------------------------------- */

static void test_reflect(void **state) {
    (void)state;
    assert_int_equal(dumu_dm_reflect(0, 10), 0);
    assert_int_equal(dumu_dm_reflect(-1, 10), 1);
    assert_int_equal(dumu_dm_reflect(-9, 10), 9);
    assert_int_equal(dumu_dm_reflect(9, 10), 9);
    assert_int_equal(dumu_dm_reflect(10, 10), 8);
    assert_int_equal(dumu_dm_reflect(18, 10), 0);
}

static void test_stft_vs_dft(void **state) {
    (void)state;
    dumu_dm_fft f;
    assert_int_equal(dumu_dm_fft_init(&f, NULL), DUMU_OK);
    int64_t len = 10007, nfr = dumu_dm_stft_frames(len);
    assert_int_equal(nfr, 10);
    assert_int_equal(dumu_dm_stft_frames(DUMU_DM_SEGMENT), DUMU_DM_NFRAMES);
    float *x = rnd(2 * len, 0.5f, 0.0f), *spec = zeros(4 * DUMU_DM_NBINS * nfr);
    float *work = zeros(2 * dumu_dm_fft_work_size(len));
    dumu_dm_stft(&f, x, 2, len, spec, work, 2);
    static double re[DUMU_DM_NBINS], im[DUMU_DM_NBINS];
    const int64_t frames[] = {0, 1, 5, 8, 9}; /* 0, 1: left reflection; 8, 9: right */
    for (int ch = 0; ch < 2; ch++) {
        for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
            int64_t t = frames[i];
            dumu_dm_stft_frame_ref(x + ch * len, len, t, re, im);
            double worst = 0.0;
            for (int k = 0; k < DUMU_DM_NBINS; k++) {
                double dr = (double)spec[((2 * ch) * DUMU_DM_NBINS + k) * nfr + t] - re[k];
                double di = (double)spec[((2 * ch + 1) * DUMU_DM_NBINS + k) * nfr + t] - im[k];
                worst = fmax(worst, fmax(fabs(dr), fabs(di)));
            }
            assert_true(worst < 2e-6);
        }
    }
    /* Reflect padding, closed form: a unit impulse at n = 5 appears in frame 0 (samples
     * -1536 .. 2559) at n = 5 and mirrored at n = -5 (PyTorch reflect; the npm bug would
     * leave zeros there); one at len - 6 appears in the last frame at len - 6 and mirrored at
     * len + 4. X[k] = (w[m1] e^(-2 pi i k m1 / 4096) + w[m2] e^(...m2...)) / 64. */
    memset(x, 0, sizeof(float) * 2 * (size_t)len);
    x[5] = 1.0f;
    x[len + len - 6] = 1.0f; /* channel 1 */
    dumu_dm_stft(&f, x, 2, len, spec, work, 1);
    const int64_t pos[2][2] = {{5, -5}, {len - 6, len + 4}};
    const int64_t tf[2] = {0, nfr - 1};
    for (int ch = 0; ch < 2; ch++) {
        int64_t t = tf[ch];
        for (int k = 0; k < DUMU_DM_NBINS; k += 97) {
            double er = 0.0, ei = 0.0;
            for (int q = 0; q < 2; q++) {
                int64_t m = pos[ch][q] - (t * DUMU_DM_HOP - 1536);
                double w = 0.5 - 0.5 * cos(2.0 * M_PI * (double)m / DUMU_DM_NFFT);
                double a = -2.0 * M_PI * (double)((k * m) % DUMU_DM_NFFT) / DUMU_DM_NFFT;
                er += w * cos(a) / 64.0;
                ei += w * sin(a) / 64.0;
            }
            double gr = spec[((2 * ch) * DUMU_DM_NBINS + k) * nfr + t];
            double gi = spec[((2 * ch + 1) * DUMU_DM_NBINS + k) * nfr + t];
            assert_true(fabs(gr - er) < 1e-7 && fabs(gi - ei) < 1e-7);
        }
    }
    dumu_free(x);
    dumu_free(spec);
    dumu_free(work);
    dumu_dm_fft_deinit(&f);
    dumu_dm_fft_deinit(&f); /* twice is harmless */
}

static void test_stft_istft_roundtrip(void **state) {
    (void)state;
    dumu_dm_fft f;
    assert_int_equal(dumu_dm_fft_init(&f, NULL), DUMU_OK);
    int64_t len = DUMU_DM_SEGMENT, nfr = DUMU_DM_NFRAMES;
    float *x = zeros(2 * len);
    /* nothing at Nyquist (that bin is dropped): a few partials, plus noise through an
     * 8-tap moving average, which has a zero at fs/2 */
    for (int ch = 0; ch < 2; ch++) {
        float hist[8] = {0};
        for (int64_t n = 0; n < len; n++) {
            double t = (double)n / 44100.0;
            hist[n % 8] = frand();
            float ma = 0.0f;
            for (int j = 0; j < 8; j++)
                ma += hist[j];
            x[ch * len + n] =
                (float)(0.3 * sin(2 * M_PI * (110.0 + 7 * ch) * t) +
                        0.2 * sin(2 * M_PI * 1234.5 * t + ch) + 0.1 * sin(2 * M_PI * 9876.0 * t)) +
                0.01f * ma;
        }
    }
    float *spec = zeros(4 * DUMU_DM_NBINS * nfr), *y = zeros(2 * len);
    float *work = zeros(2 * dumu_dm_fft_work_size(len));
    dumu_dm_stft(&f, x, 2, len, spec, work, 2);
    dumu_dm_istft_add(&f, spec, 2, len, y, work, 2);
    /* Samples covered by 4 kept frames reconstruct exactly (up to float rounding and the
     * dropped Nyquist bin); the first/last 1536 lack the outer frames (docs/htdemucs.md §1.7). */
    double worst_mid = 0.0, err_all = 0.0, ref_all = 0.0;
    for (int ch = 0; ch < 2; ch++) {
        for (int64_t n = 0; n < len; n++) {
            double d = fabs((double)y[ch * len + n] - (double)x[ch * len + n]);
            err_all += d * d;
            ref_all += (double)x[ch * len + n] * (double)x[ch * len + n];
            if (n >= 1536 && n < len - 2560) worst_mid = fmax(worst_mid, d);
        }
    }
    printf("stft->istft: max error in the middle %.3g, rel RMS overall %.3g\n", worst_mid,
           sqrt(err_all / ref_all));
    assert_true(worst_mid < 2e-5);
    assert_true(sqrt(err_all / ref_all) < 5e-2); /* the edges, see above */
    /* ISTFT adds: a second pass doubles the result */
    dumu_dm_istft_add(&f, spec, 2, len, y, work, 1);
    assert_true(fabs((double)y[len / 2] - 2.0 * (double)x[len / 2]) < 4e-5);
    dumu_free(x);
    dumu_free(spec);
    dumu_free(y);
    dumu_free(work);
    dumu_dm_fft_deinit(&f);
}

/* ---- chunking -------------------------------------------------------------------------------- */

static void test_tri_weights(void **state) {
    (void)state;
    const int64_t S = DUMU_DM_SEGMENT;
    assert_true(dumu_dm_tri_weight(0) == (float)(1.0 / 171991));
    assert_true(dumu_dm_tri_weight(171989) == (float)(171990.0 / 171991));
    assert_true(dumu_dm_tri_weight(171990) == 1.0f);
    assert_true(dumu_dm_tri_weight(171991) == (float)(171989.0 / 171991));
    assert_true(dumu_dm_tri_weight(S - 1) == (float)(1.0 / 171991));
    for (int64_t i = 0; i < S; i++)
        assert_true(dumu_dm_tri_weight(i) > 0.0f);
    assert_int_equal(dumu_dm_chunk_stride(0.25), 257985);
    assert_int_equal(dumu_dm_chunk_stride(0.0), S);
    /* (1 - 0.9) is 0.09999999999999998 in double, as in JS and Python: 34397 */
    assert_int_equal(dumu_dm_chunk_stride(0.9), 34397);

    /* Sum rule: when every chunk's window holds the song itself, the normalised overlap-add
     * gives the song back, whatever the overlap. */
    const double overlaps[] = {0.25, 0.0, 0.9, 0.5};
    int64_t L = S + 257985 + 12345;
    float *song = rnd(2 * L, 1.0f, 0.0f), *out = zeros(2 * L), *win = zeros(2 * S);
    for (size_t oi = 0; oi < sizeof overlaps / sizeof overlaps[0]; oi++) {
        int64_t stride = dumu_dm_chunk_stride(overlaps[oi]), nc = dumu_dm_chunk_count(L, stride);
        memset(out, 0, sizeof(float) * (size_t)(2 * L));
        for (int64_t k = 0; k < nc; k++) {
            dumu_dm_chunk c = dumu_dm_chunk_at(L, stride, k);
            for (int ch = 0; ch < 2; ch++)
                for (int64_t i = 0; i < S; i++) {
                    int64_t n = c.start + i;
                    win[ch * S + i] = (n >= 0 && n < L) ? song[n * 2 + ch] : 0.0f;
                }
            dumu_dm_ola_add(out, 2, win, &c);
            int64_t end = k + 1 < nc ? (k + 1) * stride : L;
            dumu_dm_ola_normalize(out, 2, L, stride, c.off, end);
        }
        assert_allclose_f32(out, song, (size_t)(2 * L), 1e-6, 1e-5, "overlap-add sum rule");
    }
    dumu_free(song);
    dumu_free(out);
    dumu_free(win);
}

static void test_chunk_boundaries(void **state) {
    (void)state;
    const int64_t S = DUMU_DM_SEGMENT, stride = dumu_dm_chunk_stride(0.25);
    const int64_t lengths[] = {1, S - 1, S, S + 1, 3 * S};
    const int64_t counts[] = {1, 2, 2, 2, 4};
    for (int li = 0; li < 5; li++) {
        int64_t L = lengths[li], nc = dumu_dm_chunk_count(L, stride);
        assert_int_equal(nc, counts[li]);
        int64_t covered_to = 0;
        for (int64_t k = 0; k < nc; k++) {
            dumu_dm_chunk c = dumu_dm_chunk_at(L, stride, k);
            assert_int_equal(c.off, k * stride);
            assert_true(c.off < L);
            assert_int_equal(c.len, L - c.off < S ? L - c.off : S);
            assert_int_equal(c.trim, (S - c.len) / 2);
            assert_int_equal(c.start, c.off - (S - c.len) / 2);
            assert_true(c.trim + c.len <= S);
            assert_true(c.off <= covered_to); /* no gaps */
            if (c.off + c.len > covered_to) covered_to = c.off + c.len;
        }
        assert_int_equal(covered_to, L);
    }
    /* L = 1: one chunk, the sample sits in the middle of a zero window */
    dumu_dm_chunk c = dumu_dm_chunk_at(1, stride, 0);
    assert_int_equal(c.len, 1);
    assert_int_equal(c.trim, (S - 1) / 2);
    assert_int_equal(c.start, -((S - 1) / 2));
    /* L = S + 1: the second chunk holds 86 samples, with real audio before it */
    c = dumu_dm_chunk_at(S + 1, stride, 1);
    assert_int_equal(c.off, 257985);
    assert_int_equal(c.len, S + 1 - 257985);
    assert_true(c.start > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expf_gelu_glu),
        cmocka_unit_test(test_block_stats),
        cmocka_unit_test(test_groupnorm_and_normalize),
        cmocka_unit_test(test_conv),
        cmocka_unit_test(test_conv3x3),
        cmocka_unit_test(test_convtr),
        cmocka_unit_test(test_dconv),
        cmocka_unit_test(test_time_encoder),
        cmocka_unit_test(test_freq_encoder),
        cmocka_unit_test(test_time_decoder),
        cmocka_unit_test(test_freq_decoder),
        cmocka_unit_test(test_reflect),
        cmocka_unit_test(test_stft_vs_dft),
        cmocka_unit_test(test_stft_istft_roundtrip),
        cmocka_unit_test(test_tri_weights),
        cmocka_unit_test(test_chunk_boundaries),
    };
    /* Every kernel table this CPU can run, each against the same reference loops. */
    int failed = 0;
    for (int isa = 0; isa <= (int)dumu_simd_best(); isa++) {
        dumu_simd_force((dumu_isa)isa);
        failed += cmocka_run_group_tests_name(dumu_isa_name((dumu_isa)isa), tests, NULL, NULL);
    }
    return failed;
}
