/* basic_pitch.c - Spotify's Basic Pitch (ICASSP 2022) in C: model loading, the per-window
 * network on a fast and a reference path, windowing and stitching.
 *
 * Spec: docs/basic_pitch.md (§1 windowing, §2 front end, §3 network, §4 weights, §6
 * numerics). The parity target is @spotify/basic-pitch 1.0.1 on tfjs 3.21 `cpu`.
 *
 * DESIGN
 *   Loading parses model.json (cJSON), walks weightsManifest[0].weights accumulating byte
 *   offsets, checks the shard size and the shape of every tensor used, and reads the
 *   canonical copies (§4.2). It then precomputes the fast path's tap plans; the model is
 *   immutable afterwards and shared by every thread.
 *
 *   Windows are independent (§1.2): a run cuts them, processes them in batches of
 *   n_threads (one window per thread, each thread with its own scratch allocated once per
 *   run), writes each window's kept frames straight into the stitched outputs and reports
 *   progress between batches from the calling thread. Results do not depend on the thread
 *   count.
 *
 *   Reference path (reference = 1): the §6.1 recipe everywhere - exact front end, NHWC
 *   tensors, dumu_conv2d_ref. It reproduces tfjs-cpu bit for bit and is slow.
 *
 *   Fast path: the front end is the same computation with SIMD kernels (bit-identical;
 *   the logs and sigmoids are exact too, see dumu_simd_log_f32). The network runs on
 *   time-major planes (row = frequency bin, column = frame; kernels vectorise over frames)
 *   with float32 accumulation, ~1e-6 from the reference:
 *   - The harmonic stack is never built. Channel c of H is B shifted by s_c bins, so the
 *     convolutions read the transposed B directly.
 *   - conv2d_1 (3x39 over 8 channels, 65 % of the FLOPs): taps with equal total offset
 *     kw - 19 + s_c merge into 3 x 176 taps on B alone, which is a convolution along
 *     frequency done with 512-point FFTs: spectra of 32 frames per complex FFT, three
 *     complex multiply-adds per bin and output, one inverse FFT per 2 outputs x 16 frames.
 *   - conv2d_4 reads B's rows at stride 3 with rows shifted by s_c per channel; conv2d_2
 *     reads the contour at stride 3. A stride along frequency is just a row stride here.
 *   - H is zero outside bins [0, 264) where B is not, so output bins whose taps reach that
 *     padding (conv2d_1: 19 at each side; conv2d_4: the first and last) start from bias
 *     minus those taps' contributions (dumu_bp_edge).
 *   - Every other layer is a tap list for one register-blocked kernel (nn/kernels/bp_kernels.c); the
 *     single-output ones (contours-reduced, conv2d_3, conv2d_5) share input rows between
 *     four output bins (dumu_simd_conv1_rows).
 *   - Only the frames that reach the kept outputs are computed: onset 15..156 needs
 *     conv2d_4/note 14..157, conv2d_2 11..160, contour 8..163, conv2d_1 6..165. A conv
 *     output frame depends only on its input frames, so the kept values are unchanged.
 */
#include "models/basic_pitch.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/simd.h"

/* ---------------------------------------------------------------------------------------- */
/* Time-major planes of the fast path: row = frequency bin, column = frame, element (row, t)
 * at base[row * RS + t] (see nn/conv.h, with "rows" and "columns" in these roles). Every
 * plane has zero rows above/below and zero columns left/right, so no tap needs a bounds
 * check; the kernels vectorise over frames. */

#define NB DUMU_CQT_BINS    /* 309 */
#define NF DUMU_BP_FRAMES   /* 172 */
#define NS DUMU_CQT_STACKED /* 264 */
#define NQ 88

#define RS   192 /* row stride: frames [-16, 176); the layers read frames 3 .. 175 */
#define COL0 16  /* column of frame 0 */
/* B transposed: rows [-40, 372), frames [-16, 240) (the FFT batches read frames 5..196);
 * conv2d_4 reads rows 3j + d, j < 88, d in [-37, 104]. */
#define BT_RS   256
#define BT_ROW0 40
#define BT_ROWS (BT_ROW0 + 372)
/* Wide planes (264 bins): rows [-2, 266); contours-reduced and conv2d_2 read rows -2..265. */
#define W_ROW0 2
#define W_PS   ((NS + 2 * W_ROW0) * RS)
/* Narrow planes (88 bins): rows [-1, 89). */
#define N_ROW0 1
#define N_PS   ((NQ + 2 * N_ROW0) * RS)

/* conv2d_1 by FFT: 512 points >= 264 outputs + 176 merged taps - 1, so the circular
 * convolution does not wrap onto [0, 264). */
#define FFT_LOG2 9
#define FFT_N    512
#define FFT_K    257 /* bins of a real signal's half spectrum */
#define XS       208 /* columns of the spectra: B rows 5..196 (the last batch overruns) */
#define EDGE_MAX 40  /* conv2d_1 edge columns: 19 on each side */
/* conv2d_4 by FFT: 384 = 3 x 128 points >= its outputs' reach (bins up to 261 plus taps
 * d in [-37, 104] -> linear support [-104, 345]; the negative part wraps to [280, 384)). */
#define F4_N   384
#define F4_M   128        /* F4_N / 3 */
#define F4_K   193        /* half spectrum */
#define E4_MAX 2          /* conv2d_4 edge bins: 0 and 87 */
#define D_MIN  (-19 - 36) /* merged tap offsets kw - 19 + s_c */
#define D_MAX  (19 + 101)

/* Arena, in floats. */
enum {
    A_BT = 0,                      /* B transposed */
    A_C1 = A_BT + BT_ROWS * BT_RS, /* 8 wide: conv2d_1 */
    A_CONT = A_C1 + 8 * W_PS,      /* 1 wide: contour (before and after the sigmoid) */
    A_CAT = A_CONT + W_PS,         /* 33 narrow: note, conv2d_4 x 32 (the concat). Planes
                                      1..32 first hold conv2d_2, which conv2d_3 consumes
                                      before conv2d_4 overwrites them; conv2d_5 reads only
                                      frames conv2d_4 wrote, and no one writes the pad rows */
    A_NPRE = A_CAT + 33 * N_PS,    /* 1 narrow: note before sigmoid */
    A_OPRE = A_NPRE + N_PS,        /* 1 narrow: onset before sigmoid */
    A_XRE = A_OPRE + N_PS,         /* (257, XS) spectra of B rows, frame r at column r */
    A_XIM = A_XRE + FFT_K * XS,
    A_FFT = A_XIM + FFT_K * XS,                  /* (2, 512, 16) one batch of FFTs */
    A_CORR = A_FFT + 2 * FFT_N * DUMU_FFT_LANES, /* (EDGE_MAX, 8, RS) conv2d_1 edges */
    A_X4RE = A_CORR + EDGE_MAX * 8 * RS,         /* (193, XS) 384-point spectra of B rows */
    A_X4IM = A_X4RE + F4_K * XS,
    A_FFT3 = A_X4IM + F4_K * XS, /* (2, 3, 128, 16) the 128-point FFTs of a 384 one */
    A_CORR4 = A_FFT3 + 2 * F4_N * DUMU_FFT_LANES, /* (E4_MAX, 32, RS) conv2d_4 edges */
    A_SIZE = A_CORR4 + E4_MAX * 32 * RS,
};

/* Frame ranges computed per layer (see DESIGN). */
#define T1_0 6
#define T1_1 166
#define TC_0 8
#define TC_1 164
#define T2_0 11
#define T2_1 161
#define T3_0 14
#define T3_1 158
#define T5_0 15
#define T5_1 157

/* Reference-path NHWC tensors, offsets in floats. */
enum {
    R_H = 0,                        /* (172, 264, 8) harmonic stack */
    R_C1 = R_H + NF * NS * 8,       /* (172, 264, 8) conv2d_1 */
    R_CONT = R_C1 + NF * NS * 8,    /* (172, 264, 1) contour */
    R_C2 = R_CONT + NF * NS,        /* (172, 88, 32) */
    R_NOTE = R_C2 + NF * NQ * 32,   /* (172, 88, 1) */
    R_C4 = R_NOTE + NF * NQ,        /* (172, 88, 32) */
    R_CAT = R_C4 + NF * NQ * 32,    /* (172, 88, 33) */
    R_ONSET = R_CAT + NF * NQ * 33, /* (172, 88, 1) */
    R_SIZE = R_ONSET + NF * NQ,
};

/* ---------------------------------------------------------------------------------------- */
/* Scratch */

dumu_status dumu_bp_work_init(dumu_bp_work *w, int reference) {
    memset(w, 0, sizeof *w);
    dumu_status st = dumu_cqt_work_init(&w->cqt);
    if (st) return st;
    w->x = dumu_malloc(DUMU_BP_WINDOW * sizeof(float));
    w->C = dumu_malloc(NF * NB * sizeof(float));
    w->N = dumu_malloc(NF * NB * sizeof(float));
    w->arena = dumu_calloc((size_t)A_SIZE, sizeof(float));
    if (reference) w->ref = dumu_calloc((size_t)R_SIZE, sizeof(float));
    if (!w->x || !w->C || !w->N || !w->arena || (reference && !w->ref)) {
        dumu_bp_work_deinit(w);
        return DUMU_E_NOMEM;
    }
    return DUMU_OK;
}

void dumu_bp_work_deinit(dumu_bp_work *w) {
    if (!w) return;
    dumu_cqt_work_deinit(&w->cqt);
    dumu_free(w->x);
    dumu_free(w->C);
    dumu_free(w->N);
    dumu_free(w->arena);
    dumu_free(w->ref);
    memset(w, 0, sizeof *w);
}

/* ---------------------------------------------------------------------------------------- */
/* Per-window network */

/* Sigmoid of rows [0, n_rows), frames [t0, t1), into out (may alias). */
static void sigmoid_rows(const float *in, float *out, int n_rows, int t0, int t1) {
    for (int r = 0; r < n_rows; r++) {
        dumu_bp_simd()->sigmoid_f32(in + r * RS + t0, out + r * RS + t0, t1 - t0);
    }
}

/* Kept frames 15 .. 15 + n_out - 1 of a time-major plane (n_bins rows) into a frame-major
 * output (n_out, n_bins). */
static void transpose_out(const float *in, int n_bins, float *out, int n_out) {
    for (int t = 0; t < n_out; t++) {
        const float *x = in + DUMU_BP_TRIM + t;
        float *y = out + (size_t)t * (size_t)n_bins;
        for (int r = 0; r < n_bins; r++)
            y[r] = x[r * RS];
    }
}

static void copy_rows(const float *in, ptrdiff_t irs, float *out, int n_cols, int first,
                      int n_rows) {
    for (int r = 0; r < n_rows; r++) {
        memcpy(out + (size_t)r * (size_t)n_cols, in + (ptrdiff_t)(first + r) * irs,
               (size_t)n_cols * sizeof(float));
    }
}

/* conv2d_1 + ReLU by FFT along frequency (see DESIGN): frames [T1_0, T1_1) of the 8 wide
 * planes at c1, from the transposed B at bt. */
static void conv1_fft(const dumu_bp_model *m, float *a, const float *bt, float *c1) {
    float *xre = a + A_XRE, *xim = a + A_XIM;
    float *fre = a + A_FFT, *fim = fre + FFT_N * DUMU_FFT_LANES;
    float *corr = a + A_CORR;
    const int L = DUMU_FFT_LANES;

    /* Half spectra of B frames T1_0 - 1 .. T1_1, 32 frames per complex FFT (a + i b). */
    for (int r0 = T1_0 - 1; r0 < T1_1 + 1; r0 += 2 * L) {
        for (int x = 0; x < NB; x++) {
            memcpy(fre + x * L, bt + x * BT_RS + r0, (size_t)L * sizeof(float));
            memcpy(fim + x * L, bt + x * BT_RS + r0 + L, (size_t)L * sizeof(float));
        }
        memset(fre + NB * L, 0, (size_t)(FFT_N - NB) * (size_t)L * sizeof(float));
        memset(fim + NB * L, 0, (size_t)(FFT_N - NB) * (size_t)L * sizeof(float));
        dumu_bp_simd()->fft16(fre, fim, FFT_LOG2, m->fft_cos, m->fft_sin, -1);
        dumu_bp_simd()->split_pair(fre, fim, FFT_N, xre + r0, xim + r0, xre + r0 + L, xim + r0 + L,
                                   XS);
    }
    /* Edge corrections, (column, o, frame - T1_0). */
    for (int e = 0; e < m->e1.n; e++) {
        dumu_conv_plan_run(&m->e1.plans[e], bt + T1_0, corr + (size_t)e * 8 * RS, RS, 0, 0, 1,
                           T1_1 - T1_0, DUMU_ACT_NONE, 0);
    }
    /* Outputs o, o+1 of 16 frames per inverse FFT; its row f is bin f of 16 frames, which
     * is where the time-major planes want it. */
    for (int t0 = T1_0; t0 < T1_1; t0 += L) {
        int nt = T1_1 - t0 < L ? T1_1 - t0 : L;
        for (int o = 0; o < 8; o += 2) {
            const float *ua_re = m->u1_re + o * 3 * FFT_K, *ua_im = m->u1_im + o * 3 * FFT_K;
            dumu_bp_simd()->spectral_pair(xre + t0 - 1, xim + t0 - 1, XS, 3, ua_re, ua_im,
                                          ua_re + 3 * FFT_K, ua_im + 3 * FFT_K, FFT_N, fre, fim);
            dumu_bp_simd()->fft16(fre, fim, FFT_LOG2, m->fft_cos, m->fft_sin, +1);
            for (int e = 0; e < m->e1.n; e++) {
                const float *ca = corr + ((size_t)e * 8 + (size_t)o) * RS + (t0 - T1_0);
                float *yr = fre + m->e1.col[e] * L, *yi = fim + m->e1.col[e] * L;
                for (int l = 0; l < nt; l++) {
                    yr[l] -= ca[l];
                    yi[l] -= ca[RS + l];
                }
            }
            float *ya = c1 + (ptrdiff_t)o * W_PS + t0;
            dumu_bp_simd()->bias_relu_rows(fre, m->b1[o], ya, RS, NS, nt);
            dumu_bp_simd()->bias_relu_rows(fim, m->b1[o + 1], ya + W_PS, RS, NS, nt);
        }
    }
}

/* conv2d_4 + ReLU by FFT along frequency: frames [T3_0, T3_1) of the 32 narrow planes at
 * c4. Channel c of the stack is B shifted by s_c, so each output is one convolution of B
 * (40 taps spread over [-37, 104]) read at bins 3j: a 384-point forward FFT per 32 frames,
 * five complex multiply-adds per bin and output, and a 128-point inverse FFT of the
 * spectrum folded three ways per 2 outputs x 16 frames. */
static void conv4_fft(const dumu_bp_model *m, float *a, const float *bt, float *c4) {
    float *xre = a + A_X4RE, *xim = a + A_X4IM;
    float *fre = a + A_FFT, *fim = fre + FFT_N * DUMU_FFT_LANES;
    float *sre = a + A_FFT3, *sim = sre + F4_N * DUMU_FFT_LANES;
    float *corr = a + A_CORR4;
    const int L = DUMU_FFT_LANES;

    /* Half spectra of B frames T3_0 - 2 .. T3_1 + 1, 32 per complex FFT. */
    for (int r0 = T3_0 - 2; r0 < T3_1 + 2; r0 += 2 * L) {
        for (int x = 0; x < F4_N; x++) {
            float *dr = sre + ((x % 3) * F4_M + x / 3) * L,
                  *di = sim + ((x % 3) * F4_M + x / 3) * L;
            if (x < NB) {
                memcpy(dr, bt + x * BT_RS + r0, (size_t)L * sizeof(float));
                memcpy(di, bt + x * BT_RS + r0 + L, (size_t)L * sizeof(float));
            } else {
                memset(dr, 0, (size_t)L * sizeof(float));
                memset(di, 0, (size_t)L * sizeof(float));
            }
        }
        for (int r = 0; r < 3; r++) {
            dumu_bp_simd()->fft16(sre + r * F4_M * L, sim + r * F4_M * L, 7, m->fft7_cos,
                                  m->fft7_sin, -1);
        }
        dumu_bp_simd()->radix3_combine(sre, sim, F4_M, m->fft3_cos, m->fft3_sin, fre, fim);
        dumu_bp_simd()->split_pair(fre, fim, F4_N, xre + r0, xim + r0, xre + r0 + L, xim + r0 + L,
                                   XS);
    }
    for (int e = 0; e < m->e4.n; e++) {
        dumu_conv_plan_run(&m->e4.plans[e], bt + T3_0, corr + (size_t)e * 32 * RS, RS, 0, 0, 1,
                           T3_1 - T3_0, DUMU_ACT_NONE, 0);
    }
    for (int t0 = T3_0; t0 < T3_1; t0 += L) {
        int nt = T3_1 - t0 < L ? T3_1 - t0 : L;
        for (int o = 0; o < 32; o += 2) {
            const float *ua_re = m->u4_re + o * 5 * F4_K, *ua_im = m->u4_im + o * 5 * F4_K;
            dumu_bp_simd()->spectral_pair(xre + t0 - 2, xim + t0 - 2, XS, 5, ua_re, ua_im,
                                          ua_re + 5 * F4_K, ua_im + 5 * F4_K, F4_N, fre, fim);
            dumu_bp_simd()->fold3(fre, fim, F4_N);
            dumu_bp_simd()->fft16(fre, fim, 7, m->fft7_cos, m->fft7_sin, +1);
            for (int e = 0; e < m->e4.n; e++) {
                const float *ca = corr + ((size_t)e * 32 + (size_t)o) * RS + (t0 - T3_0);
                float *yr = fre + m->e4.col[e] * L, *yi = fim + m->e4.col[e] * L;
                for (int l = 0; l < nt; l++) {
                    yr[l] -= ca[l];
                    yi[l] -= ca[RS + l];
                }
            }
            float *ya = c4 + (ptrdiff_t)o * N_PS + t0;
            dumu_bp_simd()->bias_relu_rows(fre, m->b4[o], ya, RS, NQ, nt);
            dumu_bp_simd()->bias_relu_rows(fim, m->b4[o + 1], ya + N_PS, RS, NQ, nt);
        }
    }
}

static void window_fast(const dumu_bp_model *m, dumu_bp_work *w, float *note, float *onset,
                        float *contour, int n_rows) {
    float *a = w->arena;
    float *bt = a + A_BT + BT_ROW0 * BT_RS + COL0;
    float *c1 = a + A_C1 + W_ROW0 * RS + COL0;
    float *cont = a + A_CONT + W_ROW0 * RS + COL0;
    float *cat = a + A_CAT + N_ROW0 * RS + COL0;
    float *c2 = cat + N_PS; /* shares conv2d_4's planes, see the arena */
    float *npre = a + A_NPRE + N_ROW0 * RS + COL0;
    float *opre = a + A_OPRE + N_ROW0 * RS + COL0;
    float *c4 = cat + N_PS;

    /* Front end (bit-exact) -> B (172, 309) in w->N, then transposed. */
    dumu_cqt_magnitude(&m->cqt, w->x, w->C, &w->cqt, 1);
    dumu_cqt_normalized_log(&m->cqt, w->C, w->N, 1);
    dumu_cqt_batch_norm(&m->cqt, w->N, w->N, NF * NB);
    for (int t = 0; t < NF; t++) {
        for (int b = 0; b < NB; b++)
            bt[b * BT_RS + t] = w->N[t * NB + b];
    }

    /* Contour branch: conv2d_1 + ReLU, contours-reduced + sigmoid. */
    conv1_fft(m, a, bt, c1);
    dumu_bp_simd()->conv1_rows(&m->pcr, 5, 5, 8, W_PS, RS, c1 + TC_0, cont + TC_0, RS, 0, NS,
                               TC_1 - TC_0, DUMU_ACT_NONE);
    sigmoid_rows(cont, cont, NS, TC_0, TC_1);
    transpose_out(cont, NS, contour, n_rows);

    /* Note branch: conv2d_2 (stride 3: input row stride 3 * RS) + ReLU, conv2d_3 + sigmoid
     * -> plane 0 of cat. */
    dumu_conv_plan_run(&m->p2, cont + T2_0, c2 + T2_0, N_PS, RS, 0, NQ, T2_1 - T2_0, DUMU_ACT_RELU,
                       0);
    dumu_bp_simd()->conv1_rows(&m->p3, 7, 3, 32, N_PS, RS, c2 + T3_0, npre + T3_0, RS, 0, NQ,
                               T3_1 - T3_0, DUMU_ACT_NONE);
    sigmoid_rows(npre, cat, NQ, T3_0, T3_1);
    transpose_out(cat, NQ, note, n_rows);

    /* Onset branch: conv2d_4 + ReLU -> planes 1..32 of cat, conv2d_5 + sigmoid. */
    conv4_fft(m, a, bt, c4);
    dumu_bp_simd()->conv1_rows(&m->p5, 3, 3, 33, N_PS, RS, cat + T5_0, opre + T5_0, RS, 0, NQ,
                               T5_1 - T5_0, DUMU_ACT_NONE);
    sigmoid_rows(opre, opre, NQ, T5_0, T5_1);
    transpose_out(opre, NQ, onset, n_rows);
}

static void window_ref(const dumu_bp_model *m, dumu_bp_work *w, float *note, float *onset,
                       float *contour, int n_rows) {
    float *r = w->ref;
    float *H = r + R_H, *c1 = r + R_C1, *cont = r + R_CONT, *c2 = r + R_C2;
    float *nt = r + R_NOTE, *c4 = r + R_C4, *cat = r + R_CAT, *on = r + R_ONSET;

    dumu_cqt_magnitude(&m->cqt, w->x, w->C, &w->cqt, 0);
    dumu_cqt_normalized_log(&m->cqt, w->C, w->N, 0);
    dumu_cqt_batch_norm(&m->cqt, w->N, w->N, NF * NB);
    dumu_cqt_harmonic_stack(w->N, H);

    dumu_conv2d_ref(
        H, m->w1, m->b1,
        (dumu_conv2d_geom){.h = NF, .w = NS, .cin = 8, .kh = 3, .kw = 39, .cout = 8, .sw = 1},
        DUMU_ACT_RELU, c1, T1_0, T1_1);
    dumu_conv2d_ref(
        c1, m->wcr, m->bcr,
        (dumu_conv2d_geom){.h = NF, .w = NS, .cin = 8, .kh = 5, .kw = 5, .cout = 1, .sw = 1},
        DUMU_ACT_SIGMOID, cont, TC_0, TC_1);
    dumu_conv2d_ref(
        cont, m->w2, m->b2,
        (dumu_conv2d_geom){.h = NF, .w = NS, .cin = 1, .kh = 7, .kw = 7, .cout = 32, .sw = 3},
        DUMU_ACT_RELU, c2, T2_0, T2_1);
    dumu_conv2d_ref(
        c2, m->w3, m->b3,
        (dumu_conv2d_geom){.h = NF, .w = NQ, .cin = 32, .kh = 7, .kw = 3, .cout = 1, .sw = 1},
        DUMU_ACT_SIGMOID, nt, T3_0, T3_1);
    dumu_conv2d_ref(
        H, m->w4, m->b4,
        (dumu_conv2d_geom){.h = NF, .w = NS, .cin = 8, .kh = 5, .kw = 5, .cout = 32, .sw = 3},
        DUMU_ACT_RELU, c4, T3_0, T3_1);
    for (int t = T3_0; t < T3_1; t++) {
        for (int j = 0; j < NQ; j++) {
            float *y = cat + ((size_t)t * NQ + (size_t)j) * 33;
            y[0] = nt[t * NQ + j];
            memcpy(y + 1, c4 + ((size_t)t * NQ + (size_t)j) * 32, 32 * sizeof(float));
        }
    }
    dumu_conv2d_ref(
        cat, m->w5, m->b5,
        (dumu_conv2d_geom){.h = NF, .w = NQ, .cin = 33, .kh = 3, .kw = 3, .cout = 1, .sw = 1},
        DUMU_ACT_SIGMOID, on, T5_0, T5_1);

    copy_rows(cont, NS, contour, NS, DUMU_BP_TRIM, n_rows);
    copy_rows(nt, NQ, note, NQ, DUMU_BP_TRIM, n_rows);
    copy_rows(on, NQ, onset, NQ, DUMU_BP_TRIM, n_rows);
}

void dumu_bp_window(const dumu_bp_model *m, const float *x, dumu_bp_work *w, int reference,
                    float *note, float *onset, float *contour, int n_rows) {
    DUMU_ASSERT(n_rows >= 0 && n_rows <= DUMU_BP_KEPT);
    DUMU_ASSERT(!reference || w->ref);
    if (x != w->x) memcpy(w->x, x, DUMU_BP_WINDOW * sizeof(float));
    if (reference) {
        window_ref(m, w, note, onset, contour, n_rows);
    } else {
        window_fast(m, w, note, onset, contour, n_rows);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Run: windowing, threads, stitching */

int64_t dumu_bp_n_windows(int64_t n_samples) {
    if (n_samples <= 0) return 0;
    return (n_samples + DUMU_BP_LEAD + DUMU_BP_HOP - 1) / DUMU_BP_HOP;
}

int64_t dumu_bp_n_frames(int64_t n_samples) {
    if (n_samples <= 0) return 0;
    /* floor(N * (86 / 22050)) in double, exactly as the reference writes it. */
    return (int64_t)floor((double)n_samples * (86.0 / 22050.0));
}

struct run_ctx {
    const dumu_bp_model *model;
    const float *audio;
    int64_t n_samples, n_frames;
    int64_t w0, w1; /* windows of this batch */
    int reference;
    dumu_bp_work *works; /* (n_threads) */
    dumu_bp_output *out;
};

static void run_task(void *p, int ith, int nth) {
    (void)nth;
    struct run_ctx *c = p;
    int64_t win = c->w0 + ith;
    if (win >= c->w1) return;
    int64_t g0 = win * DUMU_BP_KEPT; /* first stitched frame of this window */
    int64_t rows = c->n_frames - g0;
    if (rows <= 0) return; /* the reference computes and then drops it */
    if (rows > DUMU_BP_KEPT) rows = DUMU_BP_KEPT;
    dumu_bp_work *w = &c->works[ith];
    int64_t start = win * DUMU_BP_HOP - DUMU_BP_LEAD;
    for (int64_t i = 0; i < DUMU_BP_WINDOW; i++) {
        int64_t j = start + i;
        w->x[i] = (j >= 0 && j < c->n_samples) ? c->audio[j] : 0.0f;
    }
    dumu_bp_window(c->model, w->x, w, c->reference, c->out->note + g0 * DUMU_BP_N_NOTES,
                   c->out->onset + g0 * DUMU_BP_N_NOTES, c->out->contour + g0 * DUMU_BP_N_CONTOUR,
                   (int)rows);
}

dumu_bp_params dumu_bp_default_params(void) {
    dumu_bp_params p = {.n_threads = 2, .progress = NULL, .progress_user = NULL};
    return p;
}

void dumu_bp_output_deinit(dumu_bp_output *out) {
    if (!out) return;
    dumu_free(out->note);
    dumu_free(out->onset);
    dumu_free(out->contour);
    memset(out, 0, sizeof *out);
}

dumu_status dumu_bp_run_path(const dumu_bp_model *model, const float *audio, int64_t n_samples,
                             const dumu_bp_params *params, int reference, dumu_bp_output *out,
                             dumu_error *err) {
    if (!out) return dumu_fail(err, DUMU_E_INVALID_ARG, "basic-pitch: out is NULL");
    memset(out, 0, sizeof *out);
    if (!model) return dumu_fail(err, DUMU_E_INVALID_ARG, "basic-pitch: model is NULL");
    if (n_samples < 0 || (n_samples > 0 && !audio)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "basic-pitch: no audio");
    }
    dumu_bp_params defaults = dumu_bp_default_params();
    if (!params) params = &defaults;
    if (params->n_threads < 1) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "basic-pitch: n_threads must be >= 1 (got %d)",
                         (int)params->n_threads);
    }
    if (n_samples == 0) return DUMU_OK;
    for (int64_t i = 0; i < n_samples; i++) {
        if (!isfinite(audio[i])) {
            return dumu_fail(err, DUMU_E_INVALID_ARG, "basic-pitch: sample %lld is not finite",
                             (long long)i);
        }
    }

    dumu_status st = DUMU_OK;
    int64_t n_frames = dumu_bp_n_frames(n_samples);
    int64_t n_windows = dumu_bp_n_windows(n_samples);
    int nth = params->n_threads < n_windows ? (int)params->n_threads : (int)n_windows;
    dumu_bp_work *works = NULL;
    size_t n_notes = 0, n_contour = 0;
    if (dumu_mul_size((size_t)n_frames, DUMU_BP_N_NOTES, &n_notes) ||
        dumu_mul_size((size_t)n_frames, DUMU_BP_N_CONTOUR, &n_contour)) {
        return dumu_fail(err, DUMU_E_TOO_LONG, "basic-pitch: input too long");
    }
    out->n_frames = n_frames;
    if (n_frames > 0) {
        out->note = dumu_calloc(n_notes, sizeof(float));
        out->onset = dumu_calloc(n_notes, sizeof(float));
        out->contour = dumu_calloc(n_contour, sizeof(float));
        if (!out->note || !out->onset || !out->contour) {
            st = dumu_fail(err, DUMU_E_NOMEM, "basic-pitch: out of memory for the outputs");
            goto done;
        }
    }
    works = dumu_calloc((size_t)nth, sizeof *works);
    if (!works) {
        st = dumu_fail(err, DUMU_E_NOMEM, "basic-pitch: out of memory");
        goto done;
    }
    for (int i = 0; i < nth; i++) {
        if (dumu_bp_work_init(&works[i], reference)) {
            st = dumu_fail(err, DUMU_E_NOMEM, "basic-pitch: out of memory for scratch");
            goto done;
        }
    }
    struct run_ctx ctx = {.model = model,
                          .audio = audio,
                          .n_samples = n_samples,
                          .n_frames = n_frames,
                          .reference = reference,
                          .works = works,
                          .out = out};
    for (int64_t w0 = 0; w0 < n_windows; w0 += nth) {
        ctx.w0 = w0;
        ctx.w1 = w0 + nth < n_windows ? w0 + nth : n_windows;
        dumu_parallel((int)(ctx.w1 - ctx.w0), run_task, &ctx);
        if (params->progress &&
            params->progress(DUMU_STAGE_BASIC_PITCH, (float)((double)ctx.w1 / (double)n_windows),
                             params->progress_user)) {
            st = dumu_fail(err, DUMU_E_CANCELLED, "basic-pitch: cancelled");
            goto done;
        }
    }

done:
    if (works) {
        for (int i = 0; i < nth; i++)
            dumu_bp_work_deinit(&works[i]);
        dumu_free(works);
    }
    if (st) dumu_bp_output_deinit(out);
    return st;
}

dumu_status dumu_bp_run(const dumu_bp_model *model, const float *audio, int64_t n_samples,
                        const dumu_bp_params *params, dumu_bp_output *out, dumu_error *err) {
    return dumu_bp_run_path(model, audio, n_samples, params, 0, out, err);
}

/* ---------------------------------------------------------------------------------------- */
/* Loading */

#define TENSOR_PREFIX "StatefulPartitionedCall/model_1/"

struct tensor_spec {
    const char *name; /* without TENSOR_PREFIX */
    int rank;
    int shape[4];
    size_t offset; /* filled while walking the manifest */
    int found;
};

enum {
    T_CR_W,
    T_CR_B,
    T_C2_W,
    T_C2_B,
    T_C3_W,
    T_C3_B,
    T_LOG_EPS,
    T_LOG_MUL,
    T_LOWPASS,
    T_KRE,
    T_KIM,
    T_SQRT,
    T_C5_W,
    T_C5_B,
    T_C1_W,
    T_C1_B,
    T_BN_SCALE,
    T_C4_W,
    T_C4_B,
    T_BN_OFFSET,
    T_COUNT
};

static const struct tensor_spec k_specs[T_COUNT] = {
    [T_CR_W] = {"contours-reduced/Conv2D/ReadVariableOp", 4, {5, 5, 8, 1}, 0, 0},
    [T_CR_B] = {"contours-reduced/BiasAdd/ReadVariableOp", 1, {1}, 0, 0},
    [T_C2_W] = {"conv2d_2/Conv2D/ReadVariableOp", 4, {7, 7, 1, 32}, 0, 0},
    [T_C2_B] = {"conv2d_2/BiasAdd/ReadVariableOp", 1, {32}, 0, 0},
    [T_C3_W] = {"conv2d_3/Conv2D/ReadVariableOp", 4, {7, 3, 32, 1}, 0, 0},
    [T_C3_B] = {"conv2d_3/BiasAdd/ReadVariableOp", 1, {1}, 0, 0},
    [T_LOG_EPS] = {"normalized_log_1/add/y", 0, {0}, 0, 0},
    [T_LOG_MUL] = {"normalized_log_1/truediv", 0, {0}, 0, 0},
    [T_LOWPASS] = {"cq_t2010v2_1/conv1d_2/ExpandDims_1", 4, {1, 256, 1, 1}, 0, 0},
    [T_KRE] = {"cq_t2010v2_1/conv1d/ExpandDims_1", 4, {1, 256, 1, 36}, 0, 0},
    [T_KIM] = {"cq_t2010v2_1/conv1d_1/ExpandDims_1", 4, {1, 256, 1, 36}, 0, 0},
    [T_SQRT] = {"cq_t2010v2_1/Sqrt", 3, {309, 1, 1}, 0, 0},
    [T_C5_W] = {"conv2d_5/Conv2D/ReadVariableOp", 4, {3, 3, 33, 1}, 0, 0},
    [T_C5_B] = {"conv2d_5/BiasAdd/ReadVariableOp", 1, {1}, 0, 0},
    [T_C1_W] = {"conv2d_1/Conv2D_weights", 4, {3, 39, 8, 8}, 0, 0},
    [T_C1_B] = {"conv2d_1/Conv2D_bn_offset", 1, {8}, 0, 0},
    [T_BN_SCALE] = {"batch_normalization/FusedBatchNormV3/Scaled", 1, {1}, 0, 0},
    [T_C4_W] = {"conv2d_4/Conv2D_weights", 4, {5, 5, 8, 32}, 0, 0},
    [T_C4_B] = {"conv2d_4/Conv2D_bn_offset", 1, {32}, 0, 0},
    [T_BN_OFFSET] = {"batch_normalization/FusedBatchNormV3/Offset", 1, {1}, 0, 0},
};

static size_t spec_count(const struct tensor_spec *s) {
    size_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= (size_t)s->shape[i];
    return n;
}

/* Reads a whole file (at most `limit` bytes) into a dumu_malloc'ed buffer, NUL-terminated. */
static dumu_status read_file(const char *path, size_t limit, char **data, size_t *size,
                             dumu_error *err) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        return dumu_fail(err, DUMU_E_MODEL,
                         "basic-pitch model: cannot open %s: %s (run scripts/setup --models)", path,
                         strerror(errno));
    }
    dumu_status st = DUMU_OK;
    char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = dumu_fail(err, DUMU_E_MODEL, "basic-pitch model: cannot read %s", path);
        goto done;
    }
    if ((size_t)len > limit) {
        st = dumu_fail(err, DUMU_E_MODEL, "basic-pitch model: %s is too large (%ld bytes)", path,
                       len);
        goto done;
    }
    buf = dumu_malloc((size_t)len + 1);
    if (!buf) {
        st = dumu_fail(err, DUMU_E_NOMEM, "basic-pitch model: out of memory");
        goto done;
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        st = dumu_fail(err, DUMU_E_MODEL, "basic-pitch model: cannot read %s", path);
        goto done;
    }
    buf[len] = '\0';
    *data = buf;
    *size = (size_t)len;
    buf = NULL;
done:
    dumu_free(buf);
    fclose(f);
    return st;
}

/* Walks weightsManifest[0].weights, recording the offsets of the tensors in `specs`. */
static dumu_status walk_manifest(const char *json, const char *path, struct tensor_spec *specs,
                                 size_t *total, dumu_error *err) {
    dumu_status st = DUMU_OK;
    cJSON *root = cJSON_Parse(json);
    if (!root) return dumu_fail(err, DUMU_E_MODEL, "basic-pitch model: %s is not JSON", path);
    const cJSON *man = cJSON_GetObjectItemCaseSensitive(root, "weightsManifest");
    const cJSON *group = cJSON_IsArray(man) ? cJSON_GetArrayItem(man, 0) : NULL;
    const cJSON *paths = group ? cJSON_GetObjectItemCaseSensitive(group, "paths") : NULL;
    const cJSON *weights = group ? cJSON_GetObjectItemCaseSensitive(group, "weights") : NULL;
    const cJSON *p0 = cJSON_IsArray(paths) ? cJSON_GetArrayItem(paths, 0) : NULL;
    if (!cJSON_IsArray(weights) || !cJSON_IsString(p0) || cJSON_GetArraySize(paths) != 1 ||
        strcmp(p0->valuestring, "group1-shard1of1.bin") != 0) {
        st = dumu_fail(err, DUMU_E_MODEL,
                       "basic-pitch model: %s has no weightsManifest[0] with one shard "
                       "group1-shard1of1.bin",
                       path);
        goto done;
    }
    size_t off = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, weights) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        if (!cJSON_IsString(name) || !cJSON_IsArray(shape) || !cJSON_IsString(dtype)) {
            st = dumu_fail(err, DUMU_E_MODEL, "basic-pitch model: malformed weight entry in %s",
                           path);
            goto done;
        }
        if (cJSON_GetObjectItemCaseSensitive(e, "quantization")) {
            st = dumu_fail(err, DUMU_E_MODEL, "basic-pitch model: %s: quantized tensor %s", path,
                           name->valuestring);
            goto done;
        }
        if (strcmp(dtype->valuestring, "float32") != 0 &&
            strcmp(dtype->valuestring, "int32") != 0) {
            st = dumu_fail(err, DUMU_E_MODEL, "basic-pitch model: %s: tensor %s has dtype %s", path,
                           name->valuestring, dtype->valuestring);
            goto done;
        }
        size_t count = 1;
        int rank = 0, dims[8] = {0};
        const cJSON *d;
        cJSON_ArrayForEach(d, shape) {
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e9 ||
                dumu_mul_size(count, (size_t)d->valuedouble, &count)) {
                st = dumu_fail(err, DUMU_E_MODEL, "basic-pitch model: %s: bad shape of %s", path,
                               name->valuestring);
                goto done;
            }
            if (rank < 8) dims[rank] = (int)d->valuedouble;
            rank++;
        }
        size_t bytes;
        if (dumu_mul_size(count, 4, &bytes) || off + bytes < off) {
            st = dumu_fail(err, DUMU_E_MODEL, "basic-pitch model: %s: tensor %s too large", path,
                           name->valuestring);
            goto done;
        }
        const char *nm = name->valuestring;
        if (strncmp(nm, TENSOR_PREFIX, strlen(TENSOR_PREFIX)) == 0) {
            nm += strlen(TENSOR_PREFIX);
            for (int i = 0; i < T_COUNT; i++) {
                struct tensor_spec *s = &specs[i];
                if (strcmp(nm, s->name) != 0) continue;
                int ok = rank == s->rank && strcmp(dtype->valuestring, "float32") == 0;
                for (int j = 0; ok && j < rank; j++)
                    ok = dims[j] == s->shape[j];
                if (!ok) {
                    st = dumu_fail(err, DUMU_E_MODEL,
                                   "basic-pitch model: %s: tensor %s has an unexpected shape or "
                                   "dtype",
                                   path, name->valuestring);
                    goto done;
                }
                s->offset = off;
                s->found = 1;
            }
        }
        off += bytes;
    }
    *total = off;
    for (int i = 0; i < T_COUNT; i++) {
        if (!specs[i].found) {
            st = dumu_fail(err, DUMU_E_MODEL, "basic-pitch model: %s: tensor %s%s is missing", path,
                           TENSOR_PREFIX, specs[i].name);
            goto done;
        }
    }
done:
    cJSON_Delete(root);
    return st;
}

/* Little-endian float32 at byte offset `off`. */
static void read_f32(const unsigned char *bin, size_t off, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const unsigned char *b = bin + off + 4 * i;
        uint32_t u =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&dst[i], &u, 4);
    }
}

/* Builds edge corrections for a SAME conv over the harmonic stack of B (HWIO kernel k):
 * for each output bin j, the taps (a, b, c) whose stack bin x = j*sw + b - pad_l is outside
 * [0, 264) while B bin x + s_c exists become taps of the bin's plan over the transposed B
 * (offset = B bin * BT_RS + frame offset), merged by (a, B bin). Bins without such taps get no
 * plan. */
static dumu_status edge_build(dumu_bp_edge *e, const float *k, int kh, int kw, int cout, int sw,
                              int pad_l, int n_cols) {
    memset(e, 0, sizeof *e);
    const int cin = DUMU_CQT_N_HARM, pad_t = (kh - 1) / 2;
    dumu_status st = DUMU_OK;
    int32_t *slot = dumu_malloc((size_t)kh * NB * sizeof *slot);
    int32_t *tap_a = dumu_malloc((size_t)kh * NB * sizeof *tap_a);
    int32_t *tap_b = dumu_malloc((size_t)kh * NB * sizeof *tap_b);
    double *acc = dumu_malloc((size_t)kh * NB * (size_t)cout * sizeof *acc);
    e->col = dumu_calloc((size_t)n_cols, sizeof *e->col);
    e->plans = dumu_calloc((size_t)n_cols, sizeof *e->plans);
    if (!slot || !tap_a || !tap_b || !acc || !e->col || !e->plans) {
        st = DUMU_E_NOMEM;
        goto done;
    }
    for (int j = 0; j < n_cols; j++) {
        int n = 0;
        for (int i = 0; i < kh * NB; i++)
            slot[i] = -1;
        for (int a = 0; a < kh; a++) {
            for (int b = 0; b < kw; b++) {
                int x = j * sw + b - pad_l;
                if (x >= 0 && x < NS) continue;
                for (int c = 0; c < cin; c++) {
                    int bc = x + dumu_cqt_harmonic_shift[c];
                    if (bc < 0 || bc >= NB) continue; /* B is zero there too */
                    int32_t *sl = &slot[a * NB + bc];
                    if (*sl < 0) {
                        *sl = n++;
                        tap_a[*sl] = a;
                        tap_b[*sl] = bc;
                        for (int o = 0; o < cout; o++)
                            acc[(size_t)*sl * (size_t)cout + o] = 0.0;
                    }
                    for (int o = 0; o < cout; o++) {
                        acc[(size_t)*sl * (size_t)cout + (size_t)o] += (double)
                            k[(((size_t)a * (size_t)kw + (size_t)b) * (size_t)cin + (size_t)c) *
                                  (size_t)cout +
                              (size_t)o];
                    }
                }
            }
        }
        if (n == 0) continue;
        dumu_conv_plan *p = &e->plans[e->n];
        st = dumu_conv_plan_alloc(p, n, cout, 0, 0);
        if (st) goto done;
        e->col[e->n++] = j;
        for (int i = 0; i < n; i++) {
            p->off[i] = (int32_t)(tap_b[i] * BT_RS + (tap_a[i] - pad_t));
            for (int o = 0; o < cout; o++) {
                *dumu_conv_plan_weight(p, i, o) = (float)acc[(size_t)i * (size_t)cout + o];
            }
        }
    }
done:
    dumu_free(slot);
    dumu_free(tap_a);
    dumu_free(tap_b);
    dumu_free(acc);
    return st;
}

static void edge_free(dumu_bp_edge *e) {
    for (int i = 0; e->plans && i < e->n; i++)
        dumu_conv_plan_free(&e->plans[i]);
    dumu_free(e->plans);
    dumu_free(e->col);
    memset(e, 0, sizeof *e);
}

/* Plan of a SAME conv2d (HWIO kernel k: kh frames x kw bins x cin x cout) on time-major
 * planes: output (bin j, frame t) reads input bin j*stride + b - pad_f of plane c (plane
 * stride in_ps, row stride in_rs) at frame t + a - (kh - 1)/2. */
static dumu_status plan_t(dumu_conv_plan *p, const float *k, int kh, int kw, int cin, int cout,
                          int stride, int pad_f, ptrdiff_t in_ps, ptrdiff_t in_rs,
                          const float *bias) {
    dumu_status st = dumu_conv_plan_alloc(p, kh * kw * cin, cout, in_ps, stride * in_rs);
    if (st) return st;
    int i = 0;
    for (int a = 0; a < kh; a++) {
        for (int b = 0; b < kw; b++) {
            for (int c = 0; c < cin; c++, i++) {
                int row = b - pad_f;
                p->off[i] = (int32_t)((ptrdiff_t)c * in_ps + row * in_rs + (a - (kh - 1) / 2));
                for (int o = 0; o < cout; o++) {
                    *dumu_conv_plan_weight(p, i, o) =
                        k[(((size_t)a * (size_t)kw + (size_t)b) * (size_t)cin + (size_t)c) *
                              (size_t)cout +
                          (size_t)o];
                }
            }
        }
    }
    for (int o = 0; o < cout; o++)
        p->bias[o] = bias[o];
    return DUMU_OK;
}

/* The fast path's plans (see DESIGN and the layouts above). */
static dumu_status build_plans(dumu_bp_model *m) {
    dumu_status st;
    int pad;
    /* conv2d_1 on B: tap (a, d) = sum of the kernel taps (a, b, c) with b - 19 + s_c = d;
     * out[f] = sum_d v[d] B[f + d] is a circular convolution with u[n] = v[-n], so its
     * spectrum is U[k] = sum_d v[d] e^{+2 pi i k d / 512}, scaled by 1/512 for the
     * unnormalised inverse FFT. */
    const double pi = 3.14159265358979323846;
    dumu_fft_twiddles(FFT_LOG2, m->fft_cos, m->fft_sin);
    double cs[FFT_N], sn[FFT_N];
    for (int j = 0; j < FFT_N; j++) {
        cs[j] = cos(2.0 * pi * j / FFT_N);
        sn[j] = sin(2.0 * pi * j / FFT_N);
    }
    for (int o = 0; o < 8; o++) {
        for (int a = 0; a < 3; a++) {
            double v[D_MAX - D_MIN + 1];
            for (int d = D_MIN; d <= D_MAX; d++) {
                double sum = 0.0;
                for (int c = 0; c < 8; c++) {
                    int b = d + 19 - dumu_cqt_harmonic_shift[c];
                    if (b >= 0 && b < 39) sum += (double)m->w1[((a * 39 + b) * 8 + c) * 8 + o];
                }
                v[d - D_MIN] = sum;
            }
            for (int k = 0; k < FFT_K; k++) {
                double re = 0.0, im = 0.0;
                for (int d = D_MIN; d <= D_MAX; d++) {
                    int ph = ((k * d) % FFT_N + FFT_N) % FFT_N;
                    re += v[d - D_MIN] * cs[ph];
                    im += v[d - D_MIN] * sn[ph];
                }
                m->u1_re[(o * 3 + a) * FFT_K + k] = (float)(re / FFT_N);
                m->u1_im[(o * 3 + a) * FFT_K + k] = (float)(im / FFT_N);
            }
        }
    }
    st = edge_build(&m->e1, m->w1, 3, 39, 8, 1, 19, NS);
    if (st) return st;
    DUMU_ASSERT(m->e1.n <= EDGE_MAX);

    /* The other layers: tap lists over time-major planes. */
    dumu_conv_same(NS, 5, 1, &pad);
    st = plan_t(&m->pcr, m->wcr, 5, 5, 8, 1, 1, pad, W_PS, RS, m->bcr);
    if (st) return st;
    dumu_conv_same(NS, 7, 3, &pad);
    st = plan_t(&m->p2, m->w2, 7, 7, 1, 32, 3, pad, W_PS, RS, m->b2);
    if (st) return st;
    dumu_conv_same(NQ, 3, 1, &pad);
    st = plan_t(&m->p3, m->w3, 7, 3, 32, 1, 1, pad, N_PS, RS, m->b3);
    if (st) return st;
    /* conv2d_4: tap (a, b, c) is B offset d = b - pad + s_c (all distinct), spectra on 384
     * points scaled by 1/384. */
    dumu_conv_same(NS, 5, 3, &pad);
    {
        double c4s[F4_N], s4s[F4_N];
        for (int j = 0; j < F4_N; j++) {
            c4s[j] = cos(2.0 * pi * j / F4_N);
            s4s[j] = sin(2.0 * pi * j / F4_N);
            m->fft3_cos[j] = (float)c4s[j];
            m->fft3_sin[j] = (float)s4s[j];
        }
        dumu_fft_twiddles(7, m->fft7_cos, m->fft7_sin);
        for (int o = 0; o < 32; o++) {
            for (int a = 0; a < 5; a++) {
                for (int k = 0; k < F4_K; k++) {
                    double re = 0.0, im = 0.0;
                    for (int b = 0; b < 5; b++) {
                        for (int c = 0; c < 8; c++) {
                            int d = b - pad + dumu_cqt_harmonic_shift[c];
                            int ph = ((k * d) % F4_N + F4_N) % F4_N;
                            double v = (double)m->w4[((a * 5 + b) * 8 + c) * 32 + o];
                            re += v * c4s[ph];
                            im += v * s4s[ph];
                        }
                    }
                    m->u4_re[(o * 5 + a) * F4_K + k] = (float)(re / F4_N);
                    m->u4_im[(o * 5 + a) * F4_K + k] = (float)(im / F4_N);
                }
            }
        }
    }
    st = edge_build(&m->e4, m->w4, 5, 5, 32, 3, pad, NQ);
    if (st) return st;
    DUMU_ASSERT(m->e4.n <= E4_MAX);
    dumu_conv_same(NQ, 3, 1, &pad);
    return plan_t(&m->p5, m->w5, 3, 3, 33, 1, 1, pad, N_PS, RS, m->b5);
}

void dumu_bp_model_free(dumu_bp_model *m) {
    if (!m) return;
    dumu_conv_plan_free(&m->pcr);
    dumu_conv_plan_free(&m->p2);
    dumu_conv_plan_free(&m->p3);
    dumu_conv_plan_free(&m->p5);
    edge_free(&m->e1);
    edge_free(&m->e4);
    dumu_free(m);
}

dumu_status dumu_bp_model_open(const char *dir, dumu_bp_model **out, dumu_error *err) {
    if (!out) return dumu_fail(err, DUMU_E_INVALID_ARG, "basic-pitch model: out is NULL");
    *out = NULL;
    if (!dir) return dumu_fail(err, DUMU_E_INVALID_ARG, "basic-pitch model: dir is NULL");
    dumu_status st = DUMU_OK;
    char json_path[4096], bin_path[4096];
    char *json = NULL, *bin = NULL;
    size_t json_size = 0, bin_size = 0, total = 0;
    dumu_bp_model *m = NULL;
    struct tensor_spec specs[T_COUNT];
    memcpy(specs, k_specs, sizeof specs);

    if (snprintf(json_path, sizeof json_path, "%s/model.json", dir) >= (int)sizeof json_path ||
        snprintf(bin_path, sizeof bin_path, "%s/group1-shard1of1.bin", dir) >=
            (int)sizeof bin_path) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "basic-pitch model: path too long");
    }
    st = read_file(json_path, (size_t)64 << 20, &json, &json_size, err);
    if (st) goto done;
    st = walk_manifest(json, json_path, specs, &total, err);
    if (st) goto done;
    if (total != DUMU_BP_FILE_SIZE) {
        st = dumu_fail(err, DUMU_E_MODEL,
                       "basic-pitch model: %s describes %zu bytes of weights, expected %d",
                       json_path, total, DUMU_BP_FILE_SIZE);
        goto done;
    }
    st = read_file(bin_path, (size_t)64 << 20, &bin, &bin_size, err);
    if (st) goto done;
    if (bin_size != total) {
        st = dumu_fail(err, DUMU_E_MODEL,
                       "basic-pitch model: %s has %zu bytes, model.json describes %zu (run "
                       "scripts/setup --models)",
                       bin_path, bin_size, total);
        goto done;
    }

    m = dumu_calloc(1, sizeof *m);
    if (!m) {
        st = dumu_fail(err, DUMU_E_NOMEM, "basic-pitch model: out of memory");
        goto done;
    }
    const unsigned char *b = (const unsigned char *)bin;

    struct {
        int id;
        float *dst;
        size_t n;
    } copies[] = {
        {T_CR_W, m->wcr, sizeof m->wcr / 4},
        {T_CR_B, m->bcr, 1},
        {T_C2_W, m->w2, sizeof m->w2 / 4},
        {T_C2_B, m->b2, 32},
        {T_C3_W, m->w3, sizeof m->w3 / 4},
        {T_C3_B, m->b3, 1},
        {T_LOG_EPS, &m->cqt.log_eps, 1},
        {T_LOG_MUL, &m->cqt.log_mul, 1},
        {T_LOWPASS, m->cqt.lowpass, 256},
        {T_KRE, m->cqt.kre, 256 * 36},
        {T_KIM, m->cqt.kim, 256 * 36},
        {T_SQRT, m->cqt.scale, NB},
        {T_C5_W, m->w5, sizeof m->w5 / 4},
        {T_C5_B, m->b5, 1},
        {T_C1_W, m->w1, sizeof m->w1 / 4},
        {T_C1_B, m->b1, 8},
        {T_BN_SCALE, &m->cqt.bn_scale, 1},
        {T_C4_W, m->w4, sizeof m->w4 / 4},
        {T_C4_B, m->b4, 32},
        {T_BN_OFFSET, &m->cqt.bn_offset, 1},
    };

    for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++) {
        DUMU_ASSERT(spec_count(&specs[copies[i].id]) == copies[i].n);
        read_f32(b, specs[copies[i].id].offset, copies[i].dst, copies[i].n);
    }
    st = dumu_cqt_plan_finish(&m->cqt, err);
    if (st) goto done;
    st = build_plans(m);
    if (st) {
        st = dumu_fail(err, st, "basic-pitch model: out of memory");
        goto done;
    }
    *out = m;
    m = NULL;
done:
    dumu_bp_model_free(m);
    dumu_free(json);
    dumu_free(bin);
    return st;
}
