/* Basic Pitch kernels: every fast kernel equals its reference loop on random data (sizes 1,
 * primes, non-multiples of the SIMD width; NaN propagation), the planar/tap-list convolution
 * equals the bit-exact NHWC reference, the exact CQT kernels are bit-identical to their
 * loops, and the stored CQT constants equal their closed forms (docs/basic_pitch.md §2.3,
 * §2.4). The last group reads the pinned model (DUMU_MODELS_DIR).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/cqt.h"
#include "models/basic_pitch.h"
#include "nn/conv.h"
#include "nn/simd.h"
#include "testutil.h"

/* Deterministic uniform floats in [lo, hi). */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static float frand(float lo, float hi) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return lo + (hi - lo) * (float)((double)(g_rng >> 11) / 9007199254740992.0);
}

static void fill(float *a, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        a[i] = frand(lo, hi);
}

/* ---------------------------------------------------------------------------------------- */
/* Planar convolution: dumu_conv_plan_run (SIMD) == dumu_conv_plan_run_ref */

#define PAD 24 /* zero border of the test planes, >= any tap offset + vector overrun */

struct planes {
    float *buf;
    float *base; /* (0, 0, 0) */
    ptrdiff_t ps, rs;
};

static void planes_new(struct planes *p, int c, int rows, int cols, int pad_rows) {
    p->rs = cols + 2 * PAD + 64;
    p->ps = (ptrdiff_t)(rows + 2 * pad_rows) * p->rs;
    p->buf = calloc((size_t)(c * p->ps + 2 * p->rs), sizeof(float));
    assert_non_null(p->buf);
    p->base = p->buf + pad_rows * p->rs + PAD;
}

static void check_plan(int n_taps, int cout, int rows, int n_cols, dumu_act act, int accumulate,
                       int with_nan) {
    const int cin = 3, pad_rows = 3;
    struct planes in, out_fast, out_ref;
    planes_new(&in, cin, rows, n_cols, pad_rows);
    planes_new(&out_fast, cout, rows, n_cols, pad_rows);
    planes_new(&out_ref, cout, rows, n_cols, pad_rows);
    for (int c = 0; c < cin; c++) {
        for (int t = 0; t < rows; t++)
            fill(in.base + c * in.ps + t * in.rs, (size_t)n_cols, -1, 1);
    }
    dumu_conv_plan p;
    assert_int_equal(dumu_conv_plan_alloc(&p, n_taps, cout, in.ps, in.rs), DUMU_OK);
    for (int i = 0; i < n_taps; i++) {
        int c = i % cin, dt = (i / cin) % 5 - 2, dj = (i * 7) % 9 - 4;
        p.off[i] = (int32_t)(c * in.ps + dt * in.rs + dj);
        for (int o = 0; o < cout; o++)
            *dumu_conv_plan_weight(&p, i, o) = frand(-0.5f, 0.5f);
    }
    fill(p.bias, (size_t)cout, -0.2f, 0.2f);
    if (with_nan) in.base[1 * in.ps + (rows / 2) * in.rs + n_cols / 2] = NAN;
    if (accumulate) {
        for (int o = 0; o < cout; o++) {
            for (int t = 0; t < rows; t++) {
                float *a = out_fast.base + o * out_fast.ps + t * out_fast.rs;
                fill(a, (size_t)n_cols, -1, 1);
                memcpy(out_ref.base + o * out_ref.ps + t * out_ref.rs, a, (size_t)n_cols * 4);
            }
        }
    }
    /* Sentinels right of the columns must survive (the kernel writes only [0, n_cols)). */
    for (int o = 0; o < cout; o++) {
        for (int t = 0; t < rows; t++)
            out_fast.base[o * out_fast.ps + t * out_fast.rs + n_cols] = 7;
    }
    dumu_conv_plan_run(&p, in.base, out_fast.base, out_fast.ps, out_fast.rs, 0, rows, n_cols, act,
                       accumulate);
    dumu_conv_plan_run_ref(&p, in.base, out_ref.base, out_ref.ps, out_ref.rs, 0, rows, n_cols, act,
                           accumulate);
    int n_nan = 0;
    for (int o = 0; o < cout; o++) {
        for (int t = 0; t < rows; t++) {
            const float *a = out_fast.base + o * out_fast.ps + t * out_fast.rs;
            const float *b = out_ref.base + o * out_ref.ps + t * out_ref.rs;
            assert_true(a[n_cols] == 7.0f);
            for (int j = 0; j < n_cols; j++) {
                assert_int_equal(isnan(a[j]) != 0, isnan(b[j]) != 0);
                if (isnan(b[j])) {
                    n_nan++;
                    continue;
                }
                /* float vs double accumulation of n_taps terms of size <= 0.5 */
                if (fabsf(a[j] - b[j]) > 1e-6f * (float)n_taps + 1e-6f * fabsf(b[j])) {
                    fprintf(stderr, "taps %d cout %d cols %d: o %d t %d j %d: %.9g vs %.9g\n",
                            n_taps, cout, n_cols, o, t, j, (double)a[j], (double)b[j]);
                    fail();
                }
            }
        }
    }
    if (with_nan) assert_true(n_nan > 0);
    dumu_conv_plan_free(&p);
    free(in.buf);
    free(out_fast.buf);
    free(out_ref.buf);
}

static void test_plan_run_matches_reference(void **state) {
    (void)state;
    const int cols[] = {1, 7, 13, 16, 17, 37, 48, 49, 88, 97, 264};
    const int couts[] = {1, 8, 32, 5};
    for (size_t a = 0; a < sizeof cols / sizeof cols[0]; a++) {
        for (size_t b = 0; b < sizeof couts / sizeof couts[0]; b++) {
            int taps = 1 + (int)((a * 13 + b * 5) % 40);
            check_plan(taps, couts[b], 3, cols[a], DUMU_ACT_NONE, 0, 0);
            check_plan(taps, couts[b], 2, cols[a], DUMU_ACT_RELU, 1, 0);
        }
    }
    check_plan(1, 1, 1, 1, DUMU_ACT_NONE, 0, 0);
    check_plan(176, 8, 4, 264, DUMU_ACT_RELU, 1, 0);
}

static void test_plan_run_propagates_nan(void **state) {
    (void)state;
    check_plan(9, 8, 5, 37, DUMU_ACT_NONE, 0, 1);
    check_plan(9, 8, 5, 37, DUMU_ACT_RELU, 0, 1); /* ReLU keeps NaN, like x < 0 ? 0 : x */
    check_plan(11, 1, 5, 97, DUMU_ACT_RELU, 1, 1);
    check_plan(11, 32, 5, 17, DUMU_ACT_NONE, 1, 1);
}

/* Row-blocked single-output kernel == the plan's reference loop. */
static void check_conv1_rows(int kh, int kw, int cin, int rows, int n_cols, dumu_act act) {
    const int pad_rows = 8;
    struct planes in, out_fast, out_ref;
    planes_new(&in, cin, rows, n_cols, pad_rows);
    planes_new(&out_fast, 1, rows, n_cols, pad_rows);
    planes_new(&out_ref, 1, rows, n_cols, pad_rows);
    for (int c = 0; c < cin; c++) {
        for (int r = 0; r < rows; r++)
            fill(in.base + c * in.ps + r * in.rs, (size_t)n_cols, -1, 1);
    }
    dumu_conv_plan p;
    assert_int_equal(dumu_conv_plan_alloc(&p, kh * kw * cin, 1, in.ps, in.rs), DUMU_OK);
    int i = 0;
    for (int a = 0; a < kh; a++) {
        for (int b = 0; b < kw; b++) {
            for (int c = 0; c < cin; c++, i++) {
                p.off[i] = (int32_t)(c * in.ps + (b - (kw - 1) / 2) * in.rs + (a - (kh - 1) / 2));
                p.w[i] = frand(-0.5f, 0.5f);
            }
        }
    }
    p.bias[0] = 0.25f;
    /* sentinel past the columns */
    for (int r = 0; r < rows; r++)
        out_fast.base[r * out_fast.rs + n_cols] = 7;
    dumu_bp_simd()->conv1_rows(&p, kh, kw, cin, in.ps, in.rs, in.base, out_fast.base, out_fast.rs,
                               0, rows, n_cols, act);
    dumu_conv_plan_run_ref(&p, in.base, out_ref.base, out_ref.ps, out_ref.rs, 0, rows, n_cols, act,
                           0);
    for (int r = 0; r < rows; r++) {
        assert_true(out_fast.base[r * out_fast.rs + n_cols] == 7.0f);
        assert_allclose_f32(out_fast.base + r * out_fast.rs, out_ref.base + r * out_ref.rs,
                            (size_t)n_cols, 1e-6 * kh * kw * cin, 1e-6, "conv1_rows");
    }
    dumu_conv_plan_free(&p);
    free(in.buf);
    free(out_fast.buf);
    free(out_ref.buf);
}

static void test_conv1_rows_matches_reference(void **state) {
    (void)state;
    check_conv1_rows(5, 5, 8, 12, 156, DUMU_ACT_NONE); /* contours-reduced-like */
    check_conv1_rows(7, 3, 32, 8, 144, DUMU_ACT_NONE); /* conv2d_3-like */
    check_conv1_rows(3, 3, 33, 5, 142, DUMU_ACT_RELU); /* conv2d_5-like, partial row block */
    check_conv1_rows(1, 1, 1, 1, 1, DUMU_ACT_NONE);
    check_conv1_rows(3, 5, 2, 7, 17, DUMU_ACT_RELU);
    check_conv1_rows(2, 4, 3, 3, 65, DUMU_ACT_NONE);
}

/* ---------------------------------------------------------------------------------------- */
/* Planar plan (plan_init + phase split + kernel) == bit-exact NHWC reference conv2d */

static void check_conv2d(int h, int w, int cin, int cout, int kh, int kw, int sw, dumu_act act) {
    size_t nin = (size_t)h * (size_t)w * (size_t)cin;
    int pad; /* unused: the plan derives the padding from the geometry */
    int wo = dumu_conv_same(w, kw, sw, &pad);
    size_t nout = (size_t)h * (size_t)wo * (size_t)cout;
    float *x = malloc(nin * sizeof(float)), *k = malloc((size_t)(kh * kw * cin * cout) * 4);
    float *bias = malloc((size_t)cout * 4), *ref = calloc(nout, 4), *got = calloc(nout, 4);
    assert_non_null(x);
    assert_non_null(k);
    assert_non_null(bias);
    assert_non_null(ref);
    assert_non_null(got);
    fill(x, nin, -1, 1);
    fill(k, (size_t)(kh * kw * cin * cout), -0.3f, 0.3f);
    fill(bias, (size_t)cout, -0.1f, 0.1f);
    dumu_conv2d_geom g = {.h = h, .w = w, .cin = cin, .kh = kh, .kw = kw, .cout = cout, .sw = sw};
    dumu_conv2d_ref(x, k, bias, g, act, ref, 0, h);

    /* planar input, phase-split when strided */
    int wq = (w + sw - 1) / sw, pad_t = (kh - 1) / 2;
    struct planes pin, pph, pout;
    planes_new(&pin, cin, h, w, pad_t);
    planes_new(&pph, cin * sw, h, wq, pad_t);
    planes_new(&pout, cout, h, wo, 0);
    dumu_nhwc_to_planar(x, h, w, cin, pin.base, pin.ps, pin.rs, 0, h);
    const struct planes *src = &pin;
    if (sw > 1) {
        dumu_conv_phase_split(pin.base, pin.ps, pin.rs, cin, 0, h, w, sw, pph.base, pph.ps, pph.rs);
        src = &pph;
    }
    dumu_conv_plan p;
    assert_int_equal(dumu_conv_plan_init(&p, k, bias, g, src->ps, src->rs), DUMU_OK);
    dumu_act a = act == DUMU_ACT_SIGMOID ? DUMU_ACT_NONE : act;
    dumu_conv_plan_run(&p, src->base, pout.base, pout.ps, pout.rs, 0, h, wo, a, 0);
    dumu_planar_to_nhwc(pout.base, pout.ps, pout.rs, h, wo, cout, got, 0, h);
    if (act == DUMU_ACT_SIGMOID) {
        for (size_t i = 0; i < nout; i++)
            got[i] = dumu_sigmoid_ref(got[i]);
    }
    assert_allclose_f32(got, ref, nout, 2e-6 * kh * kw * cin, 1e-6, "conv2d planar vs NHWC");
    dumu_conv_plan_free(&p);
    free(pin.buf);
    free(pph.buf);
    free(pout.buf);
    free(x);
    free(k);
    free(bias);
    free(ref);
    free(got);
}

static void test_conv2d_planar_matches_reference(void **state) {
    (void)state;
    check_conv2d(5, 17, 3, 8, 3, 5, 1, DUMU_ACT_RELU);
    check_conv2d(7, 31, 2, 32, 5, 5, 3, DUMU_ACT_RELU);    /* conv2d_4-like, w % 3 == 1 */
    check_conv2d(9, 23, 1, 32, 7, 7, 3, DUMU_ACT_NONE);    /* conv2d_2-like, w % 3 == 2 */
    check_conv2d(8, 29, 32, 1, 7, 3, 1, DUMU_ACT_SIGMOID); /* conv2d_3-like */
    check_conv2d(4, 19, 33, 1, 3, 3, 1, DUMU_ACT_SIGMOID); /* conv2d_5-like */
    check_conv2d(3, 47, 8, 8, 3, 39, 1, DUMU_ACT_RELU); /* conv2d_1-like, kernel wider than half */
    check_conv2d(1, 1, 1, 1, 1, 1, 1, DUMU_ACT_NONE);
    check_conv2d(2, 1, 1, 8, 3, 3, 3, DUMU_ACT_NONE);
}

static void test_conv_same_padding(void **state) {
    (void)state;
    int pad;
    /* §3.2: conv2d_1 f 19/19, conv2d_4 f 1/1, conv2d_2 f 2/2, contours-reduced 2/2 */
    assert_int_equal(dumu_conv_same(264, 39, 1, &pad), 264);
    assert_int_equal(pad, 19);
    assert_int_equal(dumu_conv_same(264, 5, 3, &pad), 88);
    assert_int_equal(pad, 1);
    assert_int_equal(dumu_conv_same(264, 7, 3, &pad), 88);
    assert_int_equal(pad, 2);
    assert_int_equal(dumu_conv_same(264, 5, 1, &pad), 264);
    assert_int_equal(pad, 2);
    assert_int_equal(dumu_conv_same(88, 3, 1, &pad), 88);
    assert_int_equal(pad, 1);
    assert_true(dumu_sigmoid_ref(0.0f) == 0.5f);
    assert_true(dumu_sigmoid_ref(-200.0f) == 0.0f);
    assert_true(dumu_sigmoid_ref(200.0f) == 1.0f);
}

/* ---------------------------------------------------------------------------------------- */
/* FFT and the convolution-by-FFT helpers */

static void test_fft_matches_dft(void **state) {
    (void)state;
    const int L = DUMU_FFT_LANES;
    for (int log2n = 1; log2n <= 9; log2n++) {
        int n = 1 << log2n;
        float *re = malloc((size_t)n * L * 4), *im = malloc((size_t)n * L * 4);
        float *rr = malloc((size_t)n * L * 4), *ri = malloc((size_t)n * L * 4);
        float *x0 = malloc((size_t)n * L * 4);
        float *c = malloc((size_t)n / 2 * 4 + 4), *sn = malloc((size_t)n / 2 * 4 + 4);
        assert_true(re && im && rr && ri && x0 && c && sn);
        fill(re, (size_t)n * L, -1, 1);
        fill(im, (size_t)n * L, -1, 1);
        memcpy(x0, re, (size_t)n * L * 4);
        memcpy(rr, re, (size_t)n * L * 4);
        memcpy(ri, im, (size_t)n * L * 4);
        dumu_fft_twiddles(log2n, c, sn);
        for (int sign = -1; sign <= 1; sign += 2) {
            dumu_bp_simd()->fft16(re, im, log2n, c, sn, sign);
            dumu_dft16_ref(rr, ri, n, sign);
            double rms = 0.0; /* float FFT error: ~eps log2(n) rms(X) per value */
            for (int i = 0; i < n * L; i++) {
                rms += (double)rr[i] * (double)rr[i] + (double)ri[i] * (double)ri[i];
            }
            rms = sqrt(rms / (n * L));
            double tol = 1e-6 * log2n * rms;
            assert_allclose_f32(re, rr, (size_t)n * L, tol, 0, "fft re");
            assert_allclose_f32(im, ri, (size_t)n * L, tol, 0, "fft im");
        }
        /* forward then inverse is n times the input */
        for (int i = 0; i < n * L; i++)
            re[i] /= (float)n;
        assert_allclose_f32(re, x0, (size_t)n * L, 1e-5 * log2n, 0, "fft roundtrip");
        free(re);
        free(im);
        free(rr);
        free(ri);
        free(x0);
        free(c);
        free(sn);
    }
}

/* 384-point FFT = three 128-point FFTs + radix-3 combine; inverse at every 3rd sample =
 * fold + 128-point inverse FFT. */
static void test_fft_radix3_and_fold(void **state) {
    (void)state;

    enum { M = 128, N = 384 };

    const int L = DUMU_FFT_LANES;
    float *xr = malloc(N * 16 * 4), *xi = malloc(N * 16 * 4), *rr = malloc(N * 16 * 4);
    float *ri = malloc(N * 16 * 4), *sr = malloc(N * 16 * 4), *si = malloc(N * 16 * 4);
    float *zr = malloc(N * 16 * 4), *zi = malloc(N * 16 * 4);
    assert_true(xr && xi && rr && ri && sr && si && zr && zi);
    fill(xr, N * 16, -1, 1);
    fill(xi, N * 16, -1, 1);
    float c3[N], s3[N], c7[M / 2], s7[M / 2];
    const double pi = 3.14159265358979323846;
    for (int j = 0; j < N; j++) {
        c3[j] = (float)cos(2 * pi * j / N);
        s3[j] = (float)sin(2 * pi * j / N);
    }
    dumu_fft_twiddles(7, c7, s7);
    for (int x = 0; x < N; x++) {
        memcpy(sr + ((x % 3) * M + x / 3) * L, xr + x * L, 64);
        memcpy(si + ((x % 3) * M + x / 3) * L, xi + x * L, 64);
    }
    for (int r = 0; r < 3; r++)
        dumu_bp_simd()->fft16(sr + r * M * L, si + r * M * L, 7, c7, s7, -1);
    dumu_bp_simd()->radix3_combine(sr, si, M, c3, s3, zr, zi);
    memcpy(rr, xr, N * 64);
    memcpy(ri, xi, N * 64);
    dumu_dft16_ref(rr, ri, N, -1);
    assert_allclose_f32(zr, rr, N * 16, 2e-4, 0, "fft384 re");
    assert_allclose_f32(zi, ri, N * 16, 2e-4, 0, "fft384 im");
    /* fold + inverse 128 == samples 0, 3, 6, ... of the inverse 384 */
    memcpy(rr, zr, N * 64);
    memcpy(ri, zi, N * 64);
    dumu_dft16_ref(rr, ri, N, +1);
    dumu_bp_simd()->fold3(zr, zi, N);
    dumu_bp_simd()->fft16(zr, zi, 7, c7, s7, +1);
    for (int j = 0; j < M; j++) {
        for (int l = 0; l < L; l++) {
            assert_true(fabsf(zr[j * L + l] - rr[3 * j * L + l]) < 2e-2f); /* values ~ 384 */
            assert_true(fabsf(zi[j * L + l] - ri[3 * j * L + l]) < 2e-2f);
            assert_true(fabsf(zr[j * L + l] / N - xr[3 * j * L + l]) < 1e-5f);
        }
    }
    free(xr);
    free(xi);
    free(rr);
    free(ri);
    free(sr);
    free(si);
    free(zr);
    free(zi);
}

/* The FFT path of a 3-row convolution along frequency (as conv2d_1 uses it): half spectra of
 * real rows in pairs, spectral products for two kernels, inverse FFT -> both outputs,
 * against the direct sum out_k[l][f] = sum_j sum_d v_kj[d] b[l + j][f + d]. */
static void test_fft_convolution_helpers(void **state) {
    (void)state;

    enum { LOG2 = 6, N = 64, K = N / 2 + 1, W = 40, DMIN = -5, DMAX = 10, ROWS = 34, XS_ = 40 };

    const int L = DUMU_FFT_LANES;
    const double pi = 3.14159265358979323846;
    float b[ROWS][N] = {{0}}, v[2][3][DMAX - DMIN + 1];
    for (int r = 0; r < ROWS; r++)
        fill(b[r], W, -1, 1);
    fill(&v[0][0][0], sizeof v / sizeof(float), -1, 1);
    float c[N / 2], sn[N / 2], fre[N * 16], fim[N * 16];
    float xre[K * XS_], xim[K * XS_], ure[2][3 * K], uim[2][3 * K];
    dumu_fft_twiddles(LOG2, c, sn);
    for (int r0 = 0; r0 < 32; r0 += 32) {
        for (int x = 0; x < N; x++) {
            for (int l = 0; l < L; l++) {
                fre[x * L + l] = b[r0 + l][x];
                fim[x * L + l] = b[r0 + L + l][x];
            }
        }
        dumu_bp_simd()->fft16(fre, fim, LOG2, c, sn, -1);
        dumu_bp_simd()->split_pair(fre, fim, N, xre + r0, xim + r0, xre + r0 + L, xim + r0 + L,
                                   XS_);
    }
    /* rows 32, 33 (needed by lanes 14, 15 at j = 2) by the direct DFT */
    for (int r = 32; r < ROWS; r++) {
        for (int k = 0; k < K; k++) {
            double sr = 0, si = 0;
            for (int x = 0; x < N; x++) {
                sr += (double)b[r][x] * cos(2 * pi * k * x / N);
                si -= (double)b[r][x] * sin(2 * pi * k * x / N);
            }
            xre[k * XS_ + r] = (float)sr;
            xim[k * XS_ + r] = (float)si;
        }
    }
    for (int o = 0; o < 2; o++) {
        for (int j = 0; j < 3; j++) {
            for (int k = 0; k < K; k++) {
                double sr = 0, si = 0;
                for (int d = DMIN; d <= DMAX; d++) {
                    sr += (double)v[o][j][d - DMIN] * cos(2 * pi * k * d / N);
                    si += (double)v[o][j][d - DMIN] * sin(2 * pi * k * d / N);
                }
                ure[o][j * K + k] = (float)(sr / N);
                uim[o][j * K + k] = (float)(si / N);
            }
        }
    }
    dumu_bp_simd()->spectral_pair(xre, xim, XS_, 3, ure[0], uim[0], ure[1], uim[1], N, fre, fim);
    dumu_bp_simd()->fft16(fre, fim, LOG2, c, sn, +1);
    for (int o = 0; o < 2; o++) {
        for (int l = 0; l < L; l++) {
            for (int f = 0; f < W; f++) {
                double s = 0;
                for (int j = 0; j < 3; j++) {
                    for (int d = DMIN; d <= DMAX; d++) {
                        if (f + d >= 0 && f + d < N) {
                            s += (double)v[o][j][d - DMIN] * (double)b[l + j][f + d];
                        }
                    }
                }
                float got = o == 0 ? fre[f * L + l] : fim[f * L + l];
                if (fabs((double)got - s) > 2e-5) {
                    fprintf(stderr, "o %d lane %d f %d: %.7g vs %.7g\n", o, l, f, (double)got, s);
                    fail();
                }
            }
        }
    }
}

static void test_log_and_sigmoid_are_exact(void **state) {
    (void)state;

    enum { N = 200003 };

    float *x = malloc(N * 4), *y = malloc(N * 4);
    assert_non_null(x);
    assert_non_null(y);
    for (int i = 0; i < N; i++)
        x[i] = powf(10.0f, frand(-12, 6)); /* CQT powers + 1e-10 */
    const float special[] = {1.0f,      2.0f,      0.5f,    1e-10f, 1.0000001f, 0.99999994f,
                             0x1p-126f, 0x1p-140f, FLT_MAX, 0.0f,   INFINITY,   3.0f};
    memcpy(x, special, sizeof special);
    x[100] = 0x1.2b01cep-2f; /* log within 215 double ulps of a float midpoint */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) memcpy(y, x, N * 4); /* in place: out aliases x */
        dumu_bp_simd()->log_f32(pass ? y : x, y, N);
        for (int i = 0; i < N; i++) {
            float want = (float)log((double)x[i]);
            if (memcmp(&want, &y[i], 4) != 0) {
                fprintf(stderr, "log(%a): %a vs %a\n", (double)x[i], (double)y[i], (double)want);
                fail();
            }
        }
    }
    for (int i = 0; i < N; i++)
        x[i] = frand(-30, 30) * (i % 5 == 0 ? 3.5f : 1.0f);
    const float zs[] = {0.0f,     -0.0f,     80.0f, -80.0f, 100.0f, -100.0f, 1e-8f,
                        INFINITY, -INFINITY, NAN,   87.0f,  -87.5f, -104.0f};
    memcpy(x, zs, sizeof zs);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) memcpy(y, x, N * 4); /* in place */
        dumu_bp_simd()->sigmoid_f32(pass ? y : x, y, N);
        for (int i = 0; i < N; i++) {
            float want = dumu_sigmoid_ref(x[i]);
            if (isnan(want)) {
                assert_true(isnan(y[i]));
            } else if (memcmp(&want, &y[i], 4) != 0) {
                fprintf(stderr, "sigmoid(%a): %a vs %a\n", (double)x[i], (double)y[i],
                        (double)want);
                fail();
            }
        }
    }
    free(x);
    free(y);
}

/* ---------------------------------------------------------------------------------------- */
/* CQT kernels */

/* A plan from the closed-form constants (no model file needed). */
static dumu_cqt_plan *closed_form_plan(void) {
    dumu_cqt_plan *p = calloc(1, sizeof *p);
    assert_non_null(p);
    double *kre = malloc(256 * 36 * sizeof(double)), *kim = malloc(256 * 36 * sizeof(double));
    double h[256];
    assert_non_null(kre);
    assert_non_null(kim);
    dumu_cqt_kernel_closed_form(kre, kim);
    dumu_cqt_lowpass_closed_form(h);
    for (int i = 0; i < 256 * 36; i++) {
        p->kre[i] = (float)kre[i];
        p->kim[i] = (float)kim[i];
    }
    for (int n = 0; n < 256; n++)
        p->lowpass[n] = (float)h[n];
    for (int b = 0; b < DUMU_CQT_BINS; b++) {
        p->scale[b] = (float)sqrt(ceil(51.438625969451479 * 22050 / (27.5 * pow(2, b / 36.0))));
    }
    p->log_eps = 1e-10f;
    p->log_mul = 4.342944622039795f;
    p->bn_scale = 2.480741024017334f;
    p->bn_offset = -0.8769183158874512f;
    assert_int_equal(dumu_cqt_plan_finish(p, NULL), DUMU_OK);
    free(kre);
    free(kim);
    return p;
}

static void test_decimate_fast_is_bit_identical(void **state) {
    (void)state;
    dumu_cqt_plan *p = closed_form_plan();
    const int64_t sizes[] = {2, 3, 17, 131, 257, 1000, 10961, DUMU_CQT_WINDOW};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        float *x = malloc((size_t)n * 4), *a = malloc((size_t)n * 2 + 4),
              *b = malloc((size_t)n * 2 + 4);
        double *scratch = malloc((size_t)dumu_cqt_decimate_scratch(n) * sizeof(double));
        assert_non_null(x);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(scratch);
        fill(x, (size_t)n, -1, 1);
        if (n > 100) x[n / 3] = 1e-30f; /* tiny values take the same roundings */
        dumu_cqt_decimate_ref(x, n, p->lowpass, a);
        dumu_cqt_decimate_fast(p, x, n, b, scratch);
        assert_memory_equal(a, b, (size_t)(n / 2) * sizeof(float));
        free(x);
        free(a);
        free(b);
        free(scratch);
    }
    free(p);
}

/* The two exact roundings (convert pair, Veltkamp split) agree on float-normal sums. */
static void test_mixed_rounding_is_identical(void **state) {
    (void)state;
    dumu_cqt_plan *p = closed_form_plan();
    const int64_t n = 4000;
    double *e = calloc((size_t)n + 512, sizeof(double)), *o = calloc((size_t)n + 512, 8);
    float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
    assert_non_null(e);
    assert_non_null(o);
    assert_non_null(a);
    assert_non_null(b);
    for (int64_t i = 0; i < n + 128; i++) {
        e[i] = (double)frand(-1, 1) * (i % 7 == 0 ? 1e-6 : 1.0);
        o[i] = (double)frand(-1, 1);
    }
    dumu_bp_simd()->decim_exact(e, o, p->lowpass_d, 128, a, n, 0);
    dumu_bp_simd()->decim_exact(e, o, p->lowpass_d, 128, b, n, 1);
    assert_memory_equal(a, b, (size_t)n * 4);
    free(e);
    free(o);
    free(a);
    free(b);
    free(p);
}

static void test_correlate_fast_is_bit_identical(void **state) {
    (void)state;
    dumu_cqt_plan *p = closed_form_plan();
    float *re_a = malloc(172 * 36 * 4), *im_a = malloc(172 * 36 * 4);
    float *re_b = malloc(172 * 36 * 4), *im_b = malloc(172 * 36 * 4);
    assert_non_null(re_a);
    assert_non_null(im_a);
    assert_non_null(re_b);
    assert_non_null(im_b);
    for (int m = 0; m < DUMU_CQT_LEVELS; m++) {
        int hop = 256 >> m;
        int64_t len = DUMU_CQT_WINDOW;
        for (int i = 0; i < m; i++)
            len /= 2;
        float *x = malloc((size_t)len * 4), *xpad = malloc((size_t)(len + 256) * 4);
        double *scratch = malloc((size_t)dumu_cqt_correlate_scratch(len + 256, hop) * 8);
        assert_non_null(x);
        assert_non_null(xpad);
        assert_non_null(scratch);
        fill(x, (size_t)len, -1, 1);
        if (m % 2) x[len / 2] = 1e-35f; /* too small for the mixed rounding: convert path */
        dumu_cqt_reflect_pad(x, len, xpad);
        assert_true(xpad[127] == x[1] && xpad[128] == x[0] && xpad[128 + len] == x[len - 2]);
        int k0 = m == 8 ? 15 : m % 2; /* also an odd bin count */
        memset(re_b, 0, 172 * 36 * 4);
        memset(im_b, 0, 172 * 36 * 4);
        memset(re_a, 0, 172 * 36 * 4);
        memset(im_a, 0, 172 * 36 * 4);
        dumu_cqt_correlate_ref(xpad, hop, p->kre, p->kim, k0, re_a, im_a);
        dumu_cqt_correlate_fast(xpad, len + 256, hop, p, k0, re_b, im_b, scratch);
        assert_memory_equal(re_a, re_b, 172 * 36 * 4);
        assert_memory_equal(im_a, im_b, 172 * 36 * 4);

        /* NaN in the middle of frame 100 (tap 128: inside every kernel column's support)
         * reaches every bin of that frame on both paths. */
        xpad[100 * hop + 128] = NAN;
        dumu_cqt_correlate_ref(xpad, hop, p->kre, p->kim, k0, re_a, im_a);
        dumu_cqt_correlate_fast(xpad, len + 256, hop, p, k0, re_b, im_b, scratch);
        for (int k = k0; k < 36; k++) {
            assert_true(isnan(re_a[100 * 36 + k]) && isnan(re_b[100 * 36 + k]));
            assert_true(isnan(im_a[100 * 36 + k]) && isnan(im_b[100 * 36 + k]));
        }
        free(x);
        free(xpad);
        free(scratch);
    }
    free(re_a);
    free(im_a);
    free(re_b);
    free(im_b);
    free(p);
}

static void test_window_front_end_fast_is_bit_identical(void **state) {
    (void)state;
    dumu_cqt_plan *p = closed_form_plan();
    dumu_cqt_work w;
    assert_int_equal(dumu_cqt_work_init(&w), DUMU_OK);
    size_t n = 172 * 309;
    float *x = calloc(DUMU_CQT_WINDOW, 4), *a = malloc(n * 4), *b = malloc(n * 4);
    float *na = malloc(n * 4), *nb = malloc(n * 4);
    assert_non_null(x);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(na);
    assert_non_null(nb);
    /* Noise with a quiet stretch: no exact zeros anywhere, so the log min is a noise cell. */
    fill(x, DUMU_CQT_WINDOW, -0.3f, 0.3f);
    for (int i = 10000; i < 20000; i++)
        x[i] *= 1e-4f;
    dumu_cqt_magnitude(p, x, a, &w, 0);
    dumu_cqt_magnitude(p, x, b, &w, 1);
    assert_memory_equal(a, b, n * 4);
    dumu_cqt_normalized_log(p, a, na, 0);
    dumu_cqt_normalized_log(p, b, nb, 1);
    assert_memory_equal(na, nb, n * 4);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = fminf(lo, na[i]);
        hi = fmaxf(hi, na[i]);
    }
    assert_true(lo == 0.0f && hi == 1.0f);

    /* Silence: magnitude 0, log constant, normalised log 0 (DivNoNan), B = offset. */
    memset(x, 0, DUMU_CQT_WINDOW * 4);
    dumu_cqt_magnitude(p, x, a, &w, 1);
    dumu_cqt_normalized_log(p, a, na, 1);
    dumu_cqt_batch_norm(p, na, na, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        assert_true(a[i] == 0.0f);
        assert_true(na[i] == p->bn_offset);
    }
    dumu_cqt_work_deinit(&w);
    free(x);
    free(a);
    free(b);
    free(na);
    free(nb);
    free(p);
}

static void test_harmonic_stack_zero_cells(void **state) {
    (void)state;
    float *B = malloc(172 * 309 * 4), *H = malloc(172 * 264 * 8 * 4);
    assert_non_null(B);
    assert_non_null(H);
    for (int i = 0; i < 172 * 309; i++)
        B[i] = 1.0f + (float)(i % 309); /* no zeros */
    dumu_cqt_harmonic_stack(B, H);
    /* §2.7: zero cells by channel */
    const int zero_from[8] = {264, 264, 264, 252, 237, 225, 216, 208}; /* and c 0: f < 36 */
    for (int t = 0; t < 172; t += 57) {
        for (int f = 0; f < 264; f++) {
            for (int c = 0; c < 8; c++) {
                float v = H[((size_t)t * 264 + (size_t)f) * 8 + (size_t)c];
                int zero = (c == 0 && f < 36) || f >= zero_from[c];
                if (zero) {
                    assert_true(v == 0.0f);
                } else {
                    assert_true(v == B[t * 309 + f + dumu_cqt_harmonic_shift[c]]);
                }
            }
        }
    }
    free(B);
    free(H);
}

/* ---------------------------------------------------------------------------------------- */
/* Stored constants == closed forms (needs the pinned model) */

static int ulps_apart(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    int64_t d = (int64_t)ia - (int64_t)ib;
    return (int)(d < 0 ? -d : d);
}

static void test_stored_constants_match_closed_forms(void **state) {
    (void)state;
    dumu_bp_model *m = NULL;
    dumu_error err = {0};
    if (dumu_bp_model_open(test_path("DUMU_MODELS_DIR", "basic-pitch"), &m, &err)) {
        fprintf(stderr, "%s\n", err.message);
        fail();
    }
    const dumu_cqt_plan *p = &m->cqt;
    double *kre = malloc(256 * 36 * sizeof(double)), *kim = malloc(256 * 36 * sizeof(double));
    double h[256];
    assert_non_null(kre);
    assert_non_null(kim);
    dumu_cqt_kernel_closed_form(kre, kim);
    dumu_cqt_lowpass_closed_form(h);
    int worst = 0, n_exact = 0;
    for (int i = 0; i < 256 * 36; i++) {
        int u = ulps_apart((float)kre[i], p->kre[i]);
        int v = ulps_apart((float)kim[i], p->kim[i]);
        worst = u > worst ? u : worst;
        worst = v > worst ? v : worst;
        n_exact += (u == 0) + (v == 0);
        /* zero exactly where the closed form is zero */
        assert_int_equal(kre[i] == 0.0, p->kre[i] == 0.0f);
    }
    fprintf(stderr, "  CQT kernel: %d of %d values bit-exact, worst %d ulp\n", n_exact,
            2 * 256 * 36, worst);
    assert_true(worst <= 1);
    worst = 0;
    for (int n = 0; n < 256; n++) {
        int u = ulps_apart((float)h[n], p->lowpass[n]);
        worst = u > worst ? u : worst;
        assert_true(p->lowpass[n] == p->lowpass[255 - n]); /* linear phase */
    }
    fprintf(stderr, "  low-pass: worst %d ulp\n", worst);
    assert_true(worst <= 1);
    /* §2.3 kernel lengths and placements */
    const int len[36] = {216, 211, 207, 203, 200, 196, 192, 188, 185, 181, 178, 175,
                         171, 168, 165, 162, 159, 156, 153, 150, 147, 144, 141, 139,
                         136, 133, 131, 128, 126, 124, 121, 119, 117, 114, 112, 110};
    const int start[36] = {20, 22, 24, 26, 28, 30, 32, 34, 35, 37, 39, 40, 42, 44, 45, 47, 48, 50,
                           51, 53, 54, 56, 57, 58, 60, 61, 62, 64, 65, 66, 67, 68, 69, 71, 72, 73};
    for (int k = 0; k < 36; k++) {
        /* the Hann window is zero at its first tap, so the support starts one later */
        assert_int_equal(p->kb[k], start[k] + 1);
        assert_int_equal(p->ke[k], start[k] + len[k]);
    }
    /* §2.1: S_0 = sqrt(41245), S_308 = sqrt(110) (within the stored rounding) */
    assert_true(fabs((double)p->scale[0] - sqrt(41245.0)) < 1e-3);
    assert_true(fabs((double)p->scale[308] - sqrt(110.0)) < 1e-5);
    assert_true(p->log_eps == 1e-10f);
    assert_true(p->log_mul == 4.342944622039795f);
    assert_true(p->bn_scale == 2.480741024017334f);
    assert_true(p->bn_offset == -0.8769183158874512f);
    free(kre);
    free(kim);
    dumu_bp_model_free(m);
}

static void test_frame_counts(void **state) {
    (void)state;
    assert_int_equal(dumu_bp_n_frames(66150), 258);
    assert_int_equal(dumu_bp_n_windows(66150), 2);
    assert_int_equal(dumu_bp_n_windows(36164 - 3840), 1);
    assert_int_equal(dumu_bp_n_windows(36164 - 3840 + 1), 2);
    assert_int_equal(dumu_bp_n_frames(0), 0);
    assert_int_equal(dumu_bp_n_windows(0), 0);
    for (int64_t n = 1; n < 3000000; n += 997) {
        assert_int_equal(dumu_bp_n_frames(n), 86 * n / 22050);
        /* the kept frames of all windows always cover the stitched length */
        assert_true(dumu_bp_n_windows(n) * DUMU_BP_KEPT >= dumu_bp_n_frames(n));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_run_matches_reference),
        cmocka_unit_test(test_plan_run_propagates_nan),
        cmocka_unit_test(test_conv1_rows_matches_reference),
        cmocka_unit_test(test_conv2d_planar_matches_reference),
        cmocka_unit_test(test_conv_same_padding),
        cmocka_unit_test(test_fft_matches_dft),
        cmocka_unit_test(test_fft_radix3_and_fold),
        cmocka_unit_test(test_fft_convolution_helpers),
        cmocka_unit_test(test_log_and_sigmoid_are_exact),
        cmocka_unit_test(test_decimate_fast_is_bit_identical),
        cmocka_unit_test(test_mixed_rounding_is_identical),
        cmocka_unit_test(test_correlate_fast_is_bit_identical),
        cmocka_unit_test(test_window_front_end_fast_is_bit_identical),
        cmocka_unit_test(test_harmonic_stack_zero_cells),
        cmocka_unit_test(test_stored_constants_match_closed_forms),
        cmocka_unit_test(test_frame_counts),
    };
    /* Every kernel table this CPU can run, each against the same reference loops. */
    int failed = 0;
    for (int isa = 0; isa <= (int)dumu_simd_best(); isa++) {
        dumu_simd_force((dumu_isa)isa);
        failed += cmocka_run_group_tests_name(dumu_isa_name((dumu_isa)isa), tests, NULL, NULL);
    }
    return failed;
}
