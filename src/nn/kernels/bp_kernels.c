/* bp_kernels.c - vector kernels for the Basic Pitch fast path: the register-blocked planar
 * convolution, the batched FFT pieces and the exact-recipe CQT correlations; exported as one
 * dumu_bp_kernels table per instruction set (see nn/simd.h and kernels/variant.h).
 *
 * DESIGN
 *   One body per kernel, written against a tiny vector vocabulary (vf_* for float lanes,
 *   vd_* for double lanes) that maps to AVX-512, AVX2+FMA or plain C, whichever this
 *   compilation targets. The plain-C mapping is the scalar table; the reference loops the tests compare against live next to the
 *   callers (nn/conv.c dumu_conv_plan_run_ref, dsp/cqt.c dumu_cqt_*_ref).
 *
 *   Convolution (conv_planar): output channels in blocks of 8 with the weights broadcast,
 *   J vectors of consecutive output columns per block (AVX-512: 8 x 3 = 24 accumulators in
 *   registers), one unaligned load per tap and column vector. Single-output layers use one
 *   channel x up to 6 column vectors. Float accumulation, order: bias, then taps in list
 *   order; not bit-exact with the reference, ~1e-7 relative.
 *
 *   Exact correlations (decim_exact, cqt_exact): the tfjs-cpu recipe
 *   acc = (float)((double)acc + (double)x * (double)w), one accumulator per output in tap
 *   order, vectorised across outputs (decimation) or frames (CQT) so that no lane changes
 *   its order. The double FMA is exact here (the product of two floats fits a double), and
 *   the per-step rounding to float is a convert pair. Results are bit-identical to the
 *   scalar loops.
 */
#include <math.h>
#include <string.h>

#include "nn/kernels/variant.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#    include <immintrin.h>
#endif

#if defined(__GNUC__)
#    define DUMU_INLINE    static inline __attribute__((always_inline))
#    define DUMU_PRAGMA(x) _Pragma(#    x)
#    define DUMU_UNROLL    DUMU_PRAGMA(GCC unroll 8)
#else
#    define DUMU_INLINE static inline
#    define DUMU_UNROLL
#endif

/* ---------------------------------------------------------------------------------------- */
/* Vector vocabulary */

#if defined(__AVX512F__)
typedef __m512 vf;
typedef __m512d vd;
#    define VF_N             16
#    define VD_N             8
#    define J8_MAX           3
#    define J1_MAX           6
#    define vf_load(p)       _mm512_loadu_ps(p)
#    define vf_store(p, v)   _mm512_storeu_ps((p), (v))
#    define vf_set1(x)       _mm512_set1_ps(x)
#    define vf_fma(a, b, c)  _mm512_fmadd_ps((a), (b), (c))
#    define vf_fnma(a, b, c) _mm512_fnmadd_ps((a), (b), (c))         /* c - a*b */
#    define vf_relu(v)       _mm512_max_ps(_mm512_setzero_ps(), (v)) /* NaN passes, like x<0?0:x */
#    define vd_load(p)       _mm512_loadu_pd(p)
#    define vd_set1(x)       _mm512_set1_pd(x)
#    define vd_zero()        _mm512_setzero_pd()
#    define vd_fma(a, b, c)  _mm512_fmadd_pd((a), (b), (c))
#    define vd_round_f32(v)  _mm512_cvtps_pd(_mm512_cvtpd_ps(v))
/* Veltkamp split: c = v * (2^29 + 1), v rounded to 24 bits = c - (c - v). Equal to the
 * convert pair (ties to even included) for |v| in float's normal range; the explicit
 * rounding forms keep the compiler from fusing it into FMAs. */
#    define DUMU_RN (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#    define vd_round_f32_b(v)                                                                 \
        _mm512_sub_round_pd(                                                                  \
            _mm512_mul_round_pd((v), vd_set1(536870913.0), DUMU_RN),                          \
            _mm512_sub_round_pd(_mm512_mul_round_pd((v), vd_set1(536870913.0), DUMU_RN), (v), \
                                DUMU_RN),                                                     \
            DUMU_RN)
#    define vd_store_f32(p, v) _mm256_storeu_ps((p), _mm512_cvtpd_ps(v))
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vf;
typedef __m256d vd;
#    define VF_N               8
#    define VD_N               4
#    define J8_MAX             1
#    define J1_MAX             4
#    define vf_load(p)         _mm256_loadu_ps(p)
#    define vf_store(p, v)     _mm256_storeu_ps((p), (v))
#    define vf_set1(x)         _mm256_set1_ps(x)
#    define vf_fma(a, b, c)    _mm256_fmadd_ps((a), (b), (c))
#    define vf_fnma(a, b, c)   _mm256_fnmadd_ps((a), (b), (c))
#    define vf_relu(v)         _mm256_max_ps(_mm256_setzero_ps(), (v))
#    define vd_load(p)         _mm256_loadu_pd(p)
#    define vd_set1(x)         _mm256_set1_pd(x)
#    define vd_zero()          _mm256_setzero_pd()
#    define vd_fma(a, b, c)    _mm256_fmadd_pd((a), (b), (c))
#    define vd_round_f32(v)    _mm256_cvtps_pd(_mm256_cvtpd_ps(v))
#    define vd_round_f32_b(v)  vd_round_f32(v)
#    define vd_store_f32(p, v) _mm_storeu_ps((p), _mm256_cvtpd_ps(v))
#else
typedef float vf;
typedef double vd;
#    define VF_N               1
#    define VD_N               1
#    define J8_MAX             1
#    define J1_MAX             4
#    define vf_load(p)         (*(p))
#    define vf_store(p, v)     (*(p) = (v))
#    define vf_set1(x)         (x)
#    define vf_fma(a, b, c)    ((a) * (b) + (c))
#    define vf_fnma(a, b, c)   ((c) - (a) * (b))
#    define vf_relu(v)         ((v) < 0.0f ? 0.0f : (v))
#    define vd_load(p)         (*(p))
#    define vd_set1(x)         (x)
#    define vd_zero()          0.0
/* the product of two floats is exact in double, so mul + add rounds once, like an FMA */
#    define vd_fma(a, b, c)    ((a) * (b) + (c))
#    define vd_round_f32(v)    ((double)(float)(v))
#    define vd_round_f32_b(v)  vd_round_f32(v)
#    define vd_store_f32(p, v) (*(p) = (float)(v))
#endif

/* ---------------------------------------------------------------------------------------- */
/* Planar convolution */

/* Stores nv vectors of one output row, the last one cut to the n_valid columns left. */
DUMU_INLINE void store_row(float *y, const vf *acc, int nv, int n_valid, int relu) {
    DUMU_UNROLL
    for (int v = 0; v < nv; v++) {
        vf a = relu ? vf_relu(acc[v]) : acc[v];
        if (v < nv - 1 || n_valid >= nv * VF_N) {
            vf_store(y + v * VF_N, a);
        } else {
            float tmp[VF_N];
            vf_store(tmp, a);
            int n = n_valid - v * VF_N;
            for (int l = 0; l < n; l++)
                y[v * VF_N + l] = tmp[l];
        }
    }
}

/* 8 output channels x nv column vectors. x: input at (t, j0); y: output plane 0 at (t, j0);
 * w: (n_taps, 8) weights of this channel block. */
DUMU_INLINE void conv_ob8(const int32_t *off, const float *w, int n_taps, const float *x, float *y,
                          ptrdiff_t ps, const float *bias, int nv, int n_valid, int relu,
                          int accumulate) {
    vf acc[8][J8_MAX];
    DUMU_UNROLL
    for (int o = 0; o < 8; o++) {
        DUMU_UNROLL
        for (int v = 0; v < nv; v++) {
            acc[o][v] = accumulate ? vf_load(y + o * ps + v * VF_N) : vf_set1(bias[o]);
        }
    }
    for (int i = 0; i < n_taps; i++) {
        const float *xi = x + off[i];
        const float *wi = w + 8 * i;
        vf xv[J8_MAX];
        DUMU_UNROLL
        for (int v = 0; v < nv; v++)
            xv[v] = vf_load(xi + v * VF_N);
        DUMU_UNROLL
        for (int o = 0; o < 8; o++) {
            vf wb = vf_set1(wi[o]);
            DUMU_UNROLL
            for (int v = 0; v < nv; v++)
                acc[o][v] = vf_fma(wb, xv[v], acc[o][v]);
        }
    }
    DUMU_UNROLL
    for (int o = 0; o < 8; o++)
        store_row(y + o * ps, acc[o], nv, n_valid, relu);
}

/* 1 output channel x nv column vectors. */
DUMU_INLINE void conv_ob1(const int32_t *off, const float *w, int n_taps, const float *x, float *y,
                          float bias, int nv, int n_valid, int relu, int accumulate) {
    vf acc[J1_MAX];
    DUMU_UNROLL
    for (int v = 0; v < nv; v++)
        acc[v] = accumulate ? vf_load(y + v * VF_N) : vf_set1(bias);
    for (int i = 0; i < n_taps; i++) {
        const float *xi = x + off[i];
        vf wb = vf_set1(w[i]);
        DUMU_UNROLL
        for (int v = 0; v < nv; v++)
            acc[v] = vf_fma(wb, vf_load(xi + v * VF_N), acc[v]);
    }
    store_row(y, acc, nv, n_valid, relu);
}

static void conv_block8(const int32_t *off, const float *w, int n_taps, const float *x, float *y,
                        ptrdiff_t ps, const float *bias, int nv, int n_valid, int relu,
                        int accumulate) {
    switch (nv) {
#if J8_MAX >= 3
    case 3: conv_ob8(off, w, n_taps, x, y, ps, bias, 3, n_valid, relu, accumulate); break;
    case 2: conv_ob8(off, w, n_taps, x, y, ps, bias, 2, n_valid, relu, accumulate); break;
#endif
    default: conv_ob8(off, w, n_taps, x, y, ps, bias, 1, n_valid, relu, accumulate); break;
    }
}

static void conv_block1(const int32_t *off, const float *w, int n_taps, const float *x, float *y,
                        float bias, int nv, int n_valid, int relu, int accumulate) {
    switch (nv) {
#if J1_MAX >= 6
    case 6: conv_ob1(off, w, n_taps, x, y, bias, 6, n_valid, relu, accumulate); break;
    case 5: conv_ob1(off, w, n_taps, x, y, bias, 5, n_valid, relu, accumulate); break;
#endif
    case 4: conv_ob1(off, w, n_taps, x, y, bias, 4, n_valid, relu, accumulate); break;
    case 3: conv_ob1(off, w, n_taps, x, y, bias, 3, n_valid, relu, accumulate); break;
    case 2: conv_ob1(off, w, n_taps, x, y, bias, 2, n_valid, relu, accumulate); break;
    default: conv_ob1(off, w, n_taps, x, y, bias, 1, n_valid, relu, accumulate); break;
    }
}

static void conv_planar(const dumu_conv_plan *p, const float *in, float *out, ptrdiff_t out_ps,
                        ptrdiff_t out_rs, int t0, int t1, int n_cols, dumu_act act,
                        int accumulate) {
    int relu = act == DUMU_ACT_RELU;
    int jmax = p->ob == 8 ? J8_MAX : J1_MAX;
    int step = jmax * VF_N;
    /* Channel block outermost: its weights (n_taps * 8 floats) stay in L1 while the rows
     * stream by; consecutive rows share most of their input rows. */
    for (int b = 0; b < p->cout / p->ob; b++) {
        const float *w = p->w + (size_t)b * (size_t)p->n_taps * (size_t)p->ob;
        for (int t = t0; t < t1; t++) {
            const float *x = in + (ptrdiff_t)t * p->in_rs;
            float *yrow = out + (ptrdiff_t)(b * p->ob) * out_ps + (ptrdiff_t)t * out_rs;
            for (int j0 = 0; j0 < n_cols; j0 += step) {
                int rem = n_cols - j0;
                int nv = (rem + VF_N - 1) / VF_N;
                if (nv > jmax) nv = jmax;
                int n_valid = rem < nv * VF_N ? rem : nv * VF_N;
                if (p->ob == 8) {
                    conv_block8(p->off, w, p->n_taps, x + j0, yrow + j0, out_ps, p->bias + 8 * b,
                                nv, n_valid, relu, accumulate);
                } else {
                    conv_block1(p->off, w, p->n_taps, x + j0, yrow + j0, p->bias[b], nv, n_valid,
                                relu, accumulate);
                }
            }
        }
    }
}

/* Rows [t, t + R) x nv vectors of a single-output conv, input rows shared: for each (a, c)
 * input row q (relative to the first output row, q < R + kw - 1) feeds output rows
 * i = q - b, b < kw. The tap of (a, b, c) is the plan's tap i = (a*kw + b)*cin + c, whose
 * offset gives the frame and plane; the row part b*row_rs is replaced by the shared rows. */
#define R1 4 /* output rows per block */
#if defined(__AVX512F__) || !(defined(__AVX2__) && defined(__FMA__))
#    define R1_NV 4 /* column vectors per block: 16 accumulators */
#else
#    define R1_NV 2 /* AVX2: 16 registers */
#endif

DUMU_INLINE void conv1_rows_block(const dumu_conv_plan *p, int kh, int kw, int cin,
                                  ptrdiff_t row_rs, const float *x, float *y, ptrdiff_t out_rs,
                                  int n_out_rows, int nv, int n_valid, int relu) {
    vf acc[R1][R1_NV];
    DUMU_UNROLL
    for (int i = 0; i < R1; i++) {
        DUMU_UNROLL
        for (int v = 0; v < nv; v++)
            acc[i][v] = vf_set1(p->bias[0]);
    }
    for (int a = 0; a < kh; a++) {
        for (int c = 0; c < cin; c++) {
            int tap0 = (a * kw) * cin + c; /* tap (a, 0, c); (a, b, c) is tap0 + b * cin */
            const float *base = x + p->off[tap0];
            const float *w = p->w + tap0;
            DUMU_PRAGMA(GCC unroll 16)
            for (int q = 0; q < R1 + kw - 1; q++) {
                vf xv[R1_NV];
                DUMU_UNROLL
                for (int v = 0; v < nv; v++)
                    xv[v] = vf_load(base + q * row_rs + v * VF_N);
                DUMU_UNROLL
                for (int i = 0; i < R1; i++) {
                    if (q - i < 0 || q - i >= kw) continue; /* constant after unrolling */
                    vf wb = vf_set1(w[(q - i) * cin]);
                    DUMU_UNROLL
                    for (int v = 0; v < nv; v++)
                        acc[i][v] = vf_fma(wb, xv[v], acc[i][v]);
                }
            }
        }
    }
    DUMU_UNROLL
    for (int i = 0; i < R1; i++) {
        if (i < n_out_rows) store_row(y + i * out_rs, acc[i], nv, n_valid, relu);
    }
}

/* kw and nv as compile-time constants, so the accumulators stay in registers. */
#define CONV1_ROWS_KW(KW)                                                                     \
    static void conv1_rows_kw##KW(const dumu_conv_plan *p, int kh, int cin, ptrdiff_t row_rs, \
                                  const float *x, float *y, ptrdiff_t out_rs, int nr, int nv, \
                                  int n_valid, int relu) {                                    \
        switch (nv) {                                                                         \
        case 4:                                                                               \
            conv1_rows_block(p, kh, KW, cin, row_rs, x, y, out_rs, nr, R1_NV < 4 ? R1_NV : 4, \
                             n_valid, relu);                                                  \
            break;                                                                            \
        case 3:                                                                               \
            conv1_rows_block(p, kh, KW, cin, row_rs, x, y, out_rs, nr, R1_NV < 3 ? R1_NV : 3, \
                             n_valid, relu);                                                  \
            break;                                                                            \
        case 2: conv1_rows_block(p, kh, KW, cin, row_rs, x, y, out_rs, nr, 2, n_valid, relu); \
            break;                                                                            \
        default:                                                                              \
            conv1_rows_block(p, kh, KW, cin, row_rs, x, y, out_rs, nr, 1, n_valid, relu);     \
            break;                                                                            \
        }                                                                                     \
    }
CONV1_ROWS_KW(3)
CONV1_ROWS_KW(5)

static void conv1_rows(const dumu_conv_plan *p, int kh, int kw, int cin, ptrdiff_t in_ps,
                       ptrdiff_t row_rs, const float *in, float *out, ptrdiff_t out_rs, int t0,
                       int t1, int n_cols, dumu_act act) {
    (void)in_ps;
    if (kw != 3 && kw != 5) {
        conv_planar(p, in, out, 0, out_rs, t0, t1, n_cols, act, 0);
        return;
    }
    const int relu = act == DUMU_ACT_RELU;
    for (int t = t0; t < t1; t += R1) {
        int nr = t1 - t < R1 ? t1 - t : R1;
        const float *x = in + (ptrdiff_t)t * row_rs;
        for (int j0 = 0; j0 < n_cols; j0 += R1_NV * VF_N) {
            int rem = n_cols - j0;
            int nv = (rem + VF_N - 1) / VF_N;
            if (nv > R1_NV) nv = R1_NV;
            int n_valid = rem < nv * VF_N ? rem : nv * VF_N;
            float *y = out + (ptrdiff_t)t * out_rs + j0;
            if (kw == 3) {
                conv1_rows_kw3(p, kh, cin, row_rs, x + j0, y, out_rs, nr, nv, n_valid, relu);
            } else {
                conv1_rows_kw5(p, kh, cin, row_rs, x + j0, y, out_rs, nr, nv, n_valid, relu);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Batched FFT: 16 independent transforms, lane index fastest, so every butterfly is plain
 * vertical vector arithmetic. Iterative radix-2 DIT after a bit-reversal permutation. */

#define FL DUMU_FFT_LANES
#define FV (FL / VF_N) /* vectors per row */

DUMU_INLINE void swap_rows(float *a, float *b) {
    DUMU_UNROLL
    for (int v = 0; v < FV; v++) {
        vf x = vf_load(a + v * VF_N), y = vf_load(b + v * VF_N);
        vf_store(a + v * VF_N, y);
        vf_store(b + v * VF_N, x);
    }
}

static void fft16(float *re, float *im, int log2n, const float *tw_cos, const float *tw_sin,
                  int sign) {
    const int n = 1 << log2n;
    for (int i = 0, j = 0; i < n; i++) {
        if (i < j) {
            swap_rows(re + i * FL, re + j * FL);
            swap_rows(im + i * FL, im + j * FL);
        }
        int bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j |= bit;
    }
    /* Stage 1: twiddle 1. */
    for (int g = 0; g < n; g += 2) {
        float *ar = re + g * FL, *ai = im + g * FL, *br = ar + FL, *bi = ai + FL;
        DUMU_UNROLL
        for (int v = 0; v < FV; v++) {
            vf xr = vf_load(ar + v * VF_N), xi = vf_load(ai + v * VF_N);
            vf yr = vf_load(br + v * VF_N), yi = vf_load(bi + v * VF_N);
            vf_store(ar + v * VF_N, xr + yr);
            vf_store(ai + v * VF_N, xi + yi);
            vf_store(br + v * VF_N, xr - yr);
            vf_store(bi + v * VF_N, xi - yi);
        }
    }
    for (int h = 2; h < n; h *= 2) {
        const int step = n / (2 * h);
        for (int g = 0; g < n; g += 2 * h) {
            for (int j = 0; j < h; j++) {
                vf wr = vf_set1(tw_cos[j * step]);
                vf wi = vf_set1(sign < 0 ? -tw_sin[j * step] : tw_sin[j * step]);
                float *ar = re + (g + j) * FL, *ai = im + (g + j) * FL;
                float *br = ar + h * FL, *bi = ai + h * FL;
                DUMU_UNROLL
                for (int v = 0; v < FV; v++) {
                    vf xr = vf_load(ar + v * VF_N), xi = vf_load(ai + v * VF_N);
                    vf yr = vf_load(br + v * VF_N), yi = vf_load(bi + v * VF_N);
                    vf tr = vf_fma(yr, wr, -(yi * wi)); /* (yr + i yi)(wr + i wi) */
                    vf ti = vf_fma(yr, wi, yi * wr);
                    vf_store(ar + v * VF_N, xr + tr);
                    vf_store(ai + v * VF_N, xi + ti);
                    vf_store(br + v * VF_N, xr - tr);
                    vf_store(bi + v * VF_N, xi - ti);
                }
            }
        }
    }
}

/* One bin k of spectral_pair, lane vector v: returns Ya, Yb. */
DUMU_INLINE void spectral_bin(const float *xre, const float *xim, ptrdiff_t xs, int n_kh,
                              const float *ua_re, const float *ua_im, const float *ub_re,
                              const float *ub_im, int nk, int k, int v, vf *ar, vf *ai, vf *br,
                              vf *bi) {
    vf a_r = vf_set1(0.0f), a_i = a_r, b_r = a_r, b_i = a_r;
    for (int j = 0; j < n_kh; j++) {
        const float *pr = xre + k * xs + j + v * VF_N, *pi = xim + k * xs + j + v * VF_N;
        vf x_r = vf_load(pr), x_i = vf_load(pi);
        vf uar = vf_set1(ua_re[j * nk + k]), uai = vf_set1(ua_im[j * nk + k]);
        vf ubr = vf_set1(ub_re[j * nk + k]), ubi = vf_set1(ub_im[j * nk + k]);
        a_r = vf_fnma(x_i, uai, vf_fma(x_r, uar, a_r));
        a_i = vf_fma(x_i, uar, vf_fma(x_r, uai, a_i));
        b_r = vf_fnma(x_i, ubi, vf_fma(x_r, ubr, b_r));
        b_i = vf_fma(x_i, ubr, vf_fma(x_r, ubi, b_i));
    }
    *ar = a_r;
    *ai = a_i;
    *br = b_r;
    *bi = b_i;
}

DUMU_INLINE void spectral_store(float *zre, float *zim, int n, int k, int v, vf ar, vf ai, vf br,
                                vf bi) {
    vf_store(zre + k * FL + v * VF_N, ar - bi);
    vf_store(zim + k * FL + v * VF_N, ai + br);
    if (k > 0 && k < n / 2) {
        vf_store(zre + (n - k) * FL + v * VF_N, ar + bi);
        vf_store(zim + (n - k) * FL + v * VF_N, br - ai);
    }
}

static void spectral_pair(const float *xre, const float *xim, ptrdiff_t xs, int n_kh,
                          const float *ua_re, const float *ua_im, const float *ub_re,
                          const float *ub_im, int n, float *zre, float *zim) {
    const int nk = n / 2 + 1;
    int k = 0;
    for (; k + 1 < nk; k += 2) { /* two bins: 8 independent accumulator chains */
        DUMU_UNROLL
        for (int v = 0; v < FV; v++) {
            vf ar0, ai0, br0, bi0, ar1, ai1, br1, bi1;
            spectral_bin(xre, xim, xs, n_kh, ua_re, ua_im, ub_re, ub_im, nk, k, v, &ar0, &ai0, &br0,
                         &bi0);
            spectral_bin(xre, xim, xs, n_kh, ua_re, ua_im, ub_re, ub_im, nk, k + 1, v, &ar1, &ai1,
                         &br1, &bi1);
            spectral_store(zre, zim, n, k, v, ar0, ai0, br0, bi0);
            spectral_store(zre, zim, n, k + 1, v, ar1, ai1, br1, bi1);
        }
    }
    for (; k < nk; k++) {
        DUMU_UNROLL
        for (int v = 0; v < FV; v++) {
            vf ar, ai, br, bi;
            spectral_bin(xre, xim, xs, n_kh, ua_re, ua_im, ub_re, ub_im, nk, k, v, &ar, &ai, &br,
                         &bi);
            spectral_store(zre, zim, n, k, v, ar, ai, br, bi);
        }
    }
}

static void split_pair(const float *zre, const float *zim, int n, float *are, float *aim,
                       float *bre, float *bim, ptrdiff_t xs) {
    const vf half = vf_set1(0.5f);
    for (int k = 0; k <= n / 2; k++) {
        int kc = k == 0 ? 0 : n - k;
        DUMU_UNROLL
        for (int v = 0; v < FV; v++) {
            vf zr = vf_load(zre + k * FL + v * VF_N), zi = vf_load(zim + k * FL + v * VF_N);
            vf cr = vf_load(zre + kc * FL + v * VF_N), ci = vf_load(zim + kc * FL + v * VF_N);
            /* conj Z[n-k] = cr - i ci */
            vf_store(are + k * xs + v * VF_N, (zr + cr) * half);
            vf_store(aim + k * xs + v * VF_N, (zi - ci) * half);
            vf_store(bre + k * xs + v * VF_N, (zi + ci) * half);
            vf_store(bim + k * xs + v * VF_N, (cr - zr) * half);
        }
    }
}

static void radix3_combine(const float *fre, const float *fim, int m, const float *tw_cos,
                           const float *tw_sin, float *xre, float *xim) {
    const int n = 3 * m;
    for (int k = 0; k < n; k++) {
        int km = k % m, k2 = (2 * k) % n;
        vf c1 = vf_set1(tw_cos[k]), s1 = vf_set1(-tw_sin[k]); /* e^{-i 2 pi k / n} */
        vf c2 = vf_set1(tw_cos[k2]), s2 = vf_set1(-tw_sin[k2]);
        DUMU_UNROLL
        for (int v = 0; v < FV; v++) {
            const float *a0r = fre + km * FL + v * VF_N, *a0i = fim + km * FL + v * VF_N;
            vf f0r = vf_load(a0r), f0i = vf_load(a0i);
            vf f1r = vf_load(a0r + m * FL), f1i = vf_load(a0i + m * FL);
            vf f2r = vf_load(a0r + 2 * m * FL), f2i = vf_load(a0i + 2 * m * FL);
            vf r = f0r + vf_fma(f1r, c1, -(f1i * s1)) + vf_fma(f2r, c2, -(f2i * s2));
            vf i = f0i + vf_fma(f1r, s1, f1i * c1) + vf_fma(f2r, s2, f2i * c2);
            vf_store(xre + k * FL + v * VF_N, r);
            vf_store(xim + k * FL + v * VF_N, i);
        }
    }
}

static void fold3(float *zre, float *zim, int n) {
    const int m = n / 3;
    for (int k = 0; k < m; k++) {
        DUMU_UNROLL
        for (int v = 0; v < FV; v++) {
            float *r = zre + k * FL + v * VF_N, *i = zim + k * FL + v * VF_N;
            vf_store(r, vf_load(r) + vf_load(r + m * FL) + vf_load(r + 2 * m * FL));
            vf_store(i, vf_load(i) + vf_load(i + m * FL) + vf_load(i + 2 * m * FL));
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Exact log and sigmoid */

#if defined(__AVX512F__)
/* Lanes whose double v would round to float differently if v moved by 2^8 double ulps:
 * the low 29 mantissa bits are near the half-way pattern 0x10000000. Only meaningful for
 * v in float's normal range, which the callers ensure. */
DUMU_INLINE __mmask8 near_float_midpoint(__m512d v) {
    __m512i low = _mm512_and_si512(_mm512_castpd_si512(v), _mm512_set1_epi64(0x1FFFFFFF));
    __m512i d = _mm512_abs_epi64(_mm512_sub_epi64(low, _mm512_set1_epi64(0x10000000)));
    return _mm512_cmp_epi64_mask(d, _mm512_set1_epi64(256), _MM_CMPINT_LE);
}

/* exp(x) for |x| <= 100: x = k ln2 + r, |r| <= ln2/2, degree-13 Taylor (truncation < 5e-18
 * relative), scaled by 2^k. */
DUMU_INLINE __m512d exp_pd(__m512d x) {
    const __m512d log2e = _mm512_set1_pd(1.4426950408889634);
    const __m512d ln2_hi = _mm512_set1_pd(6.93147180369123816490e-01);
    const __m512d ln2_lo = _mm512_set1_pd(1.90821492927058770002e-10);
    __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(x, log2e), _MM_FROUND_TO_NEAREST_INT);
    __m512d r = _mm512_fnmadd_pd(k, ln2_hi, x);
    r = _mm512_fnmadd_pd(k, ln2_lo, r);
    static const double c[14] = {1.0,
                                 1.0,
                                 1.0 / 2,
                                 1.0 / 6,
                                 1.0 / 24,
                                 1.0 / 120,
                                 1.0 / 720,
                                 1.0 / 5040,
                                 1.0 / 40320,
                                 1.0 / 362880,
                                 1.0 / 3628800,
                                 1.0 / 39916800,
                                 1.0 / 479001600,
                                 1.0 / 6227020800.0};
    __m512d p = _mm512_set1_pd(c[13]);
    for (int i = 12; i >= 0; i--)
        p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c[i]));
    return _mm512_scalef_pd(p, k);
}

/* log(x) for normal positive x: x = 2^e m, m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(s), s = (m - 1)/(m + 1), |s| <= 0.1716, series to s^23. */
DUMU_INLINE __m512d log_pd(__m512d x) {
    __m512d m = _mm512_getmant_pd(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
    __m512d e = _mm512_getexp_pd(x);
    __mmask8 big = _mm512_cmp_pd_mask(m, _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
    e = _mm512_mask_add_pd(e, big, e, _mm512_set1_pd(1.0));
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d s = _mm512_div_pd(_mm512_sub_pd(m, one), _mm512_add_pd(m, one));
    __m512d s2 = _mm512_mul_pd(s, s);
    __m512d p = _mm512_set1_pd(1.0 / 23);
    for (int i = 21; i >= 1; i -= 2)
        p = _mm512_fmadd_pd(p, s2, _mm512_set1_pd(1.0 / i));
    __m512d lm = _mm512_mul_pd(_mm512_add_pd(s, s), p); /* 2 s (1 + s^2/3 + ...) */
    const __m512d ln2_hi = _mm512_set1_pd(6.93147180369123816490e-01);
    const __m512d ln2_lo = _mm512_set1_pd(1.90821492927058770002e-10);
    return _mm512_fmadd_pd(e, ln2_hi, _mm512_fmadd_pd(e, ln2_lo, lm));
}
#endif

static void log_f32(const float *x, float *out, int64_t n) {
    int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 8 <= n; i += 8) {
        __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
        /* normal, finite, positive, and a result of float-normal size (|log| >= 2^-100) */
        __mmask8 ok = _mm512_cmp_pd_mask(v, _mm512_set1_pd(0x1p-126), _CMP_GE_OQ) &
                      _mm512_cmp_pd_mask(v, _mm512_set1_pd(0x1p127), _CMP_LE_OQ) &
                      _mm512_cmp_pd_mask(_mm512_abs_pd(_mm512_sub_pd(v, _mm512_set1_pd(1.0))),
                                         _mm512_set1_pd(0x1p-20), _CMP_GE_OQ);
        __m512d r = log_pd(v);
        __mmask8 redo = (__mmask8)(~ok | near_float_midpoint(r));
        if (redo) {
            double xin[8], rr[8]; /* out may alias x: keep the inputs */
            _mm512_storeu_pd(xin, v);
            _mm512_storeu_pd(rr, r);
            for (int l = 0; l < 8; l++) {
                out[i + l] = (redo & (1u << l)) ? (float)log(xin[l]) : (float)rr[l];
            }
        } else {
            _mm256_storeu_ps(out + i, _mm512_cvtpd_ps(r));
        }
    }
#endif
    for (; i < n; i++)
        out[i] = (float)log((double)x[i]);
}

static void sigmoid_f32(const float *x, float *out, int64_t n) {
    int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 8 <= n; i += 8) {
        __m512d z = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
        /* |z| <= 80 keeps 1/(1 + e^-z) in float's normal range; NaN fails the compare */
        __mmask8 ok = _mm512_cmp_pd_mask(_mm512_abs_pd(z), _mm512_set1_pd(80.0), _CMP_LE_OQ);
        __m512d e = exp_pd(_mm512_sub_pd(_mm512_setzero_pd(), z));
        __m512d s = _mm512_div_pd(_mm512_set1_pd(1.0), _mm512_add_pd(_mm512_set1_pd(1.0), e));
        __mmask8 redo = (__mmask8)(~ok | near_float_midpoint(s));
        if (redo) {
            float xin[8];
            double ss[8]; /* out may alias x: keep the inputs */
            _mm256_storeu_ps(xin, _mm512_cvtpd_ps(z));
            _mm512_storeu_pd(ss, s);
            for (int l = 0; l < 8; l++) {
                out[i + l] = (redo & (1u << l)) ? dumu_sigmoid_ref(xin[l]) : (float)ss[l];
            }
        } else {
            _mm256_storeu_ps(out + i, _mm512_cvtpd_ps(s));
        }
    }
#endif
    for (; i < n; i++)
        out[i] = dumu_sigmoid_ref(x[i]);
}

static void bias_relu_rows(const float *x, float bias, float *y, ptrdiff_t y_rs, int n_rows,
                           int n) {
    vf b = vf_set1(bias);
    for (int r = 0; r < n_rows; r++) {
        const float *xr = x + r * FL;
        float *yr = y + r * y_rs;
        int i = 0;
        for (; i + VF_N <= n; i += VF_N)
            vf_store(yr + i, vf_relu(vf_load(xr + i) + b));
        for (; i < n; i++) {
            float v = xr[i] + bias;
            yr[i] = v < 0.0f ? 0.0f : v;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Magnitude range */

static void abs_range(const float *x, int64_t n, float *min_nonzero, float *max) {
    float lo = INFINITY, hi = 0.0f;
    int64_t i = 0;
#if defined(__AVX512F__)
    __m512 vlo = _mm512_set1_ps(INFINITY), vhi = _mm512_setzero_ps();
    const __m512 inf = _mm512_set1_ps(INFINITY);
    for (; i + 16 <= n; i += 16) {
        __m512 a = _mm512_abs_ps(_mm512_loadu_ps(x + i));
        vhi = _mm512_max_ps(vhi, a);
        __mmask16 nz = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        vlo = _mm512_min_ps(vlo, _mm512_mask_blend_ps(nz, inf, a));
    }
    lo = _mm512_reduce_min_ps(vlo);
    hi = _mm512_reduce_max_ps(vhi);
#endif
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > hi) hi = a;
        if (a != 0.0f && a < lo) lo = a;
    }
    *min_nonzero = lo;
    *max = hi;
}

/* ---------------------------------------------------------------------------------------- */
/* Exact-recipe correlations */

/* Stores one vector of double accumulators as floats to dst[l*stride], l < n. */
DUMU_INLINE void store_lanes(float *dst, ptrdiff_t stride, vd v, int n) {
    float tmp[VD_N];
    vd_store_f32(tmp, v);
    for (int l = 0; l < n; l++)
        dst[l * stride] = tmp[l];
}

/* Rounding of chain v: the first third of the chains use the convert pair, the rest the
 * Veltkamp split when `mixed` (the caller guarantees float-normal magnitudes), which runs
 * on other execution ports: ~1/3 more throughput on Zen 4. */
#define ROUND_CHAIN(v, x, mixed, n_chains) \
    (((mixed) && 3 * (v) >= (n_chains)) ? vd_round_f32_b(x) : vd_round_f32(x))

#define DECIM_NV 12 /* output vectors in flight: independent chains to cover the latency */

DUMU_INLINE void decim_body(const double *even, const double *odd, const double *h, int n_half,
                            float *out, int64_t n_out, int mixed) {
    for (int64_t i0 = 0; i0 < n_out; i0 += DECIM_NV * VD_N) {
        vd acc[DECIM_NV];
        DUMU_UNROLL
        for (int v = 0; v < DECIM_NV; v++)
            acc[v] = vd_zero();
        const double *e = even + i0, *o = odd + i0;
        for (int a = 0; a < n_half; a++) {
            vd he = vd_set1(h[2 * a]), ho = vd_set1(h[2 * a + 1]);
            DUMU_PRAGMA(GCC unroll 12)
            for (int v = 0; v < DECIM_NV; v++) {
                vd t = vd_fma(vd_load(e + a + v * VD_N), he, acc[v]);
                acc[v] = ROUND_CHAIN(v, t, mixed, DECIM_NV);
            }
            DUMU_PRAGMA(GCC unroll 12)
            for (int v = 0; v < DECIM_NV; v++) {
                vd t = vd_fma(vd_load(o + a + v * VD_N), ho, acc[v]);
                acc[v] = ROUND_CHAIN(v, t, mixed, DECIM_NV);
            }
        }
        for (int v = 0; v < DECIM_NV; v++) {
            int64_t i = i0 + v * VD_N;
            if (i >= n_out) break;
            int n = n_out - i < VD_N ? (int)(n_out - i) : VD_N;
            store_lanes(out + i, 1, acc[v], n);
        }
    }
}

static void decim_exact(const double *even, const double *odd, const double *h, int n_half,
                        float *out, int64_t n_out, int mixed) {
    if (mixed) {
        decim_body(even, odd, h, n_half, out, n_out, 1);
    } else {
        decim_body(even, odd, h, n_half, out, n_out, 0);
    }
}

#define DUMU_CQT_TAPS_MAX 256
#define CQT_KB            36
#define CQT_NB            3 /* kernel bins per block */

DUMU_INLINE void cqt_body(const double *P, const int32_t *poff, const double *kre,
                          const double *kim, const int32_t *kb, const int32_t *ke, int k0,
                          int n_frames, float *re, float *im, int mixed) {
    /* Blocks of 2 frame vectors x 3 bins x (re, im): 12 independent chains; chain index
     * 4*bin + 2*(im) + vector, so bin 0's four chains use the convert pair. */
    for (int t0 = 0; t0 < n_frames; t0 += 2 * VD_N) {
        for (int k = k0; k < CQT_KB; k += CQT_NB) {
            int kk[CQT_NB];
            int nb = DUMU_CQT_TAPS_MAX, ne = 0;
            for (int b = 0; b < CQT_NB; b++) {
                kk[b] = k + b < CQT_KB ? k + b : CQT_KB - 1; /* a short block repeats a bin */
                nb = kb[kk[b]] < nb ? kb[kk[b]] : nb;
                ne = ke[kk[b]] > ne ? ke[kk[b]] : ne;
            }
            vd acc[4 * CQT_NB];
            DUMU_UNROLL
            for (int c = 0; c < 4 * CQT_NB; c++)
                acc[c] = vd_zero();
            for (int n = nb; n < ne; n++) {
                const double *xp = P + poff[n] + t0;
                vd x0 = vd_load(xp), x1 = vd_load(xp + VD_N);
                const double *kr = kre + (size_t)n * CQT_KB, *ki = kim + (size_t)n * CQT_KB;
                DUMU_UNROLL
                for (int b = 0; b < CQT_NB; b++) {
                    vd wr = vd_set1(kr[kk[b]]), wi = vd_set1(ki[kk[b]]);
                    acc[4 * b + 0] = ROUND_CHAIN(b, vd_fma(x0, wr, acc[4 * b + 0]), mixed, 3);
                    acc[4 * b + 1] = ROUND_CHAIN(b, vd_fma(x1, wr, acc[4 * b + 1]), mixed, 3);
                    acc[4 * b + 2] = ROUND_CHAIN(b, vd_fma(x0, wi, acc[4 * b + 2]), mixed, 3);
                    acc[4 * b + 3] = ROUND_CHAIN(b, vd_fma(x1, wi, acc[4 * b + 3]), mixed, 3);
                }
            }
            int n0 = n_frames - t0 < VD_N ? n_frames - t0 : VD_N;
            int n1 = n_frames - t0 - VD_N < VD_N ? n_frames - t0 - VD_N : VD_N;
            for (int b = 0; b < CQT_NB; b++) {
                size_t base = (size_t)t0 * CQT_KB + (size_t)kk[b];
                store_lanes(re + base, CQT_KB, acc[4 * b + 0], n0);
                store_lanes(im + base, CQT_KB, acc[4 * b + 2], n0);
                if (n1 > 0) {
                    store_lanes(re + base + (size_t)VD_N * CQT_KB, CQT_KB, acc[4 * b + 1], n1);
                    store_lanes(im + base + (size_t)VD_N * CQT_KB, CQT_KB, acc[4 * b + 3], n1);
                }
            }
        }
    }
}

static void cqt_exact(const double *P, const int32_t *poff, const double *kre, const double *kim,
                      const int32_t *kb, const int32_t *ke, int k0, int n_frames, float *re,
                      float *im, int mixed) {
    if (mixed) {
        cqt_body(P, poff, kre, kim, kb, ke, k0, n_frames, re, im, 1);
    } else {
        cqt_body(P, poff, kre, kim, kb, ke, k0, n_frames, re, im, 0);
    }
}

/* ---------------------------------------------------------------------------------------- */

const dumu_bp_kernels DUMU_VARIANT(dumu_bp_kernels) = {
    .conv = conv_planar,
    .conv1_rows = conv1_rows,
    .fft16 = fft16,
    .spectral_pair = spectral_pair,
    .radix3_combine = radix3_combine,
    .fold3 = fold3,
    .split_pair = split_pair,
    .log_f32 = log_f32,
    .sigmoid_f32 = sigmoid_f32,
    .bias_relu_rows = bias_relu_rows,
    .abs_range = abs_range,
    .decim_exact = decim_exact,
    .cqt_exact = cqt_exact,
};
