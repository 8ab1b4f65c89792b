/* simd.h - the SIMD kernels of src/nn, chosen at run time for the CPU in hand.
 *
 * Every kernel is written once (src/nn/kernels/) and compiled three times: for AVX-512
 * (F, BW, DQ, VL), for AVX2 + FMA, and as plain C. Each compilation exports one table of
 * function pointers; the library uses the widest table the CPU and OS support, found once,
 * on first use (dumu_simd_best). Callers go through the table (dumu_gemm_simd()->vgelu(...)), so one library
 * binary runs on any x86-64 and uses AVX-512 where it exists. The rest of libdumu is built
 * for baseline x86-64.
 *
 * The plain reference loops that these kernels must match live next to their callers
 * (nn/conv.c, dsp/cqt.c, nn/gemm.c dumu_sgemm_ref); tests/unit/test_bp_kernels.c and
 * test_gemm.c hold every table the machine can run to them.
 *
 * Tables are immutable, statically allocated, and safe to use from any thread. All pointers
 * passed to kernels are borrowed for the call; no kernel allocates. */
#ifndef DUMU_NN_SIMD_H
#define DUMU_NN_SIMD_H

#include <stddef.h>
#include <stdint.h>

#include "nn/conv.h"

typedef enum dumu_isa {
    DUMU_ISA_SCALAR = 0,
    DUMU_ISA_AVX2 = 1,   /* AVX2 + FMA */
    DUMU_ISA_AVX512 = 2, /* AVX-512 F, BW, DQ, VL */
    DUMU_ISA_COUNT
} dumu_isa;

/* The widest instruction set this CPU (and OS: saved register state) supports. Detected once;
 * thread-safe. */
dumu_isa dumu_simd_best(void);

/* The instruction set whose tables dumu_gemm_simd() / dumu_bp_simd() return: dumu_simd_best(),
 * unless a test lowered it with dumu_simd_force(). */
dumu_isa dumu_simd_active(void);

/* Test hook: make the library use the tables of `isa` (clamped to dumu_simd_best()) from now
 * on, so one test binary can run every code path the machine supports; DUMU_ISA_COUNT
 * restores the default. Not thread-safe: call it only while no kernel is running, and never
 * mix packed GEMM operands (their layout depends on the tile size) across a switch. */
void dumu_simd_force(dumu_isa isa);

/* "avx512", "avx2" or "scalar". */
const char *dumu_isa_name(dumu_isa isa);

/* ---------------------------------------------------------------------------------------- */
/* GEMM micro-kernel and the transformer's vector math (src/nn/kernels/gemm_kernels.c) */

typedef struct dumu_gemm_kernels {
    const char *name; /* e.g. "avx512 12x32" */
    int mr;           /* rows of A per micro-tile (<= DUMU_GEMM_MR_MAX) */
    int nr;           /* columns of B per micro-tile (<= DUMU_GEMM_NR_MAX, a divisor of 32) */

    /* One micro-tile: acc[i][j] = sum_{p<kc} ap[p*as + i] * bp[p*bs + j] (fused
     * multiply-adds in order p = 0, 1, ...; the scalar table multiplies and adds), then for
     * i < mr, j < nr:
     *   t = alpha == 1 ? acc : alpha * acc;
     *   c[i*ldc + j] = beta == 0 ? t : beta == 1 ? c + t : beta * c + t.
     * ap: A sliver, MR values per k step, `as` floats apart (MR when packed; rows i >= mr are
     * read but their results discarded, so they must be readable); bp: B sliver, NR values per
     * k step, `bs` floats apart; 1 <= mr <= MR, 1 <= nr <= NR. Every element of a tile sees
     * the same FMA sequence, so C[i][j] depends only on the data and kc. */
    void (*ukernel)(int64_t kc, const float *ap, int64_t as, const float *bp, int64_t bs, float *c,
                    int64_t ldc, int mr, int nr, float alpha, float beta);

    /* Transposing pack: dst[p*width + r] = src[r*ld + p] for r < rows, p < kc, and 0 for
     * rows <= r < width (width <= 32). */
    void (*pack_t)(const float *src, int64_t ld, int rows, int64_t kc, int width, float *dst);

    /* acc[i] = max(acc[i], x[i]) for i < n. */
    void (*vmax_acc)(float *acc, const float *x, int64_t n);

    /* y[i] = dumu_expf(x[i] - shift[i]) and sum[i] += y[i], for i < n (x may equal y). */
    void (*vexp_sub_acc)(const float *x, const float *shift, float *y, float *sum, int64_t n);

    /* x[i] *= s[i] for i < n. */
    void (*vmul_inplace)(float *x, const float *s, int64_t n);

    /* Softmax down each column of s (rows, cols), row stride ld, in place: for every column
     * c, s[p][c] = e_p / sum_q e_q with e_p = dumu_expf(s[p][c] - max_q s[q][c]); the sum in
     * float, over p in order, then one reciprocal multiplied in. rows >= 1. (The attention's
     * keys run down the columns of its transposed score block.) */
    void (*softmax_cols)(float *s, int64_t rows, int64_t cols, int64_t ld);

    /* LayerNorm of one row: y = (x - mean) / sqrt(var + eps) * w + b over x[0..n) (n >= 1),
     * mean and (biased) variance accumulated in double, the rest in float (x may equal y). */
    void (*layernorm_row)(const float *x, int64_t n, const float *w, const float *b, float *y,
                          double eps);

    /* Exact GELU, y[i] = dumu_geluf(x[i]) up to a few 1e-7 relative, for i < n (x may
     * equal y). */
    void (*vgelu)(const float *x, float *y, int64_t n);
} dumu_gemm_kernels;

#define DUMU_GEMM_MR_MAX 12
#define DUMU_GEMM_NR_MAX 32

/* The table for `isa`, or NULL when this CPU cannot run it. */
const dumu_gemm_kernels *dumu_gemm_kernels_for(dumu_isa isa);

/* The table for dumu_simd_active(): what the library uses. */
const dumu_gemm_kernels *dumu_gemm_simd(void);

/* ---------------------------------------------------------------------------------------- */
/* bf16 GEMM (src/nn/kernels_bf16/gemm_bf16_kernels.c): AVX512_BF16 only */

typedef struct dumu_gemm_bf16_kernels {
    const char *name; /* "avx512bf16 12x32" */
    int mr, nr;       /* micro-tile: rows of A, columns of B */

    /* One micro-tile over kq pairs of k steps: ap holds (bf16 pair) words ap[q*mr_full + i],
     * bp words bp[q*nr_full + j] (nr_full = nr of the table, bp 64-byte aligned; the pair's
     * even k in the low half). acc[i][j] += A odd * B odd, then += A even * B even, per pair,
     * in fp32 (vdpbf16ps); then for i < mr, j < nr, as the fp32 ukernel:
     *   t = alpha == 1 ? acc : alpha * acc; c = beta == 0 ? t : beta == 1 ? c + t : beta*c + t. */
    void (*ukernel)(int64_t kq, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc,
                    int mr, int nr, float alpha, float beta);

    /* Rows r < rows of a (`ld` floats apart, each contiguous in k, kc values) as bf16 pairs:
     * out[q*width + r] = (a[r][2q], a[r][2q+1]); rows past `rows` and a missing odd k zero. */
    void (*pack_rows)(const float *a, int64_t ld, int rows, int64_t kc, int width, uint32_t *out);

    /* Columns j < cols of kc consecutive rows (`ld` floats apart): out[q*width + j] =
     * (b[2q][j], b[2q+1][j]); columns past `cols` and a missing odd row zero. */
    void (*pack_cols)(const float *b, int64_t ld, int cols, int64_t kc, int width, uint32_t *out);
} dumu_gemm_bf16_kernels;

/* The table, or NULL when this CPU (or dumu_simd_force) does not offer AVX512_BF16. */
const dumu_gemm_bf16_kernels *dumu_gemm_bf16_simd(void);

/* ---------------------------------------------------------------------------------------- */
/* Basic Pitch kernels (src/nn/kernels/bp_kernels.c) */

typedef struct dumu_bp_kernels {
    /* Fast body of dumu_conv_plan_run (same contract, see nn/conv.h). */
    void (*conv)(const dumu_conv_plan *p, const float *in, float *out, ptrdiff_t out_ps,
                 ptrdiff_t out_rs, int t0, int t1, int n_cols, dumu_act act, int accumulate);

    /* Single-output convolution with row blocking, same result contract as conv (any
     * summation order): p has cout == 1 and taps in (a, b, c) order, tap (a, b, c) at offset
     * c*in_ps + b*row_rs + a0[a] (kh x kw x cin taps; a0 the frame offsets), the output row
     * step being row_rs (stride 1). Four output rows share each loaded input row; rows are
     * computed in fours, so input rows up to 3 past t1's reach are read (results discarded). */
    void (*conv1_rows)(const dumu_conv_plan *p, int kh, int kw, int cin, ptrdiff_t in_ps,
                       ptrdiff_t row_rs, const float *in, float *out, ptrdiff_t out_rs, int t0,
                       int t1, int n_cols, dumu_act act);

    /* In-place complex FFT of n = 2^log2n points on 16 lanes: re, im (n, 16), element
     * (k, lane) at [k*16 + lane]. sign = -1: X[k] = sum_j x[j] e^{-2 pi i jk/n}; sign = +1:
     * the unscaled inverse. Radix-2, float32 (error ~ log2(n) * 6e-8 relative to the
     * signal's norm); twiddles from dumu_fft_twiddles. Reference: dumu_dft16_ref. */
    void (*fft16)(float *re, float *im, int log2n, const float *tw_cos, const float *tw_sin,
                  int sign);

    /* Spectral products for a convolution along frequency by FFT (16 lanes = 16 output rows):
     *     Ya[k][l] = sum_{j < n_kh} X[k][l + j] * Ua[j][k],  Yb likewise with Ub,
     *     Z[k] = Ya[k] + i Yb[k] and Z[n - k] = conj(Ya[k]) + i conj(Yb[k]), k <= n/2,
     * so that the inverse FFT of Z holds output a in its real part and b in its imaginary
     * part. X (re, im): (n/2 + 1, xs) with row r of the input at column r, starting at the
     * first input row of lane 0; U: (n_kh, n/2 + 1). Z: (n, 16). */
    void (*spectral_pair)(const float *xre, const float *xim, ptrdiff_t xs, int n_kh,
                          const float *ua_re, const float *ua_im, const float *ub_re,
                          const float *ub_im, int n, float *zre, float *zim);

    /* Last step of a 3m-point FFT (sign -1) from the m-point FFTs F_r of x[3j + r], r < 3:
     *     X[k] = sum_r e^{-2 pi i r k / 3m} F_r[k mod m],  k < 3m.
     * f (re, im): (3, m, 16); tw: cos/sin(2 pi j / 3m), j < 3m; X: (3m, 16). */
    void (*radix3_combine)(const float *fre, const float *fim, int m, const float *tw_cos,
                           const float *tw_sin, float *xre, float *xim);

    /* Folds an n-point spectrum (n, 16) onto its first n/3 rows: Z'[k] = Z[k] + Z[k + n/3]
     * + Z[k + 2n/3], so that an n/3-point inverse FFT of Z' gives samples 0, 3, 6, ... of
     * the n-point inverse FFT. In place. */
    void (*fold3)(float *zre, float *zim, int n);

    /* Splits the FFT Z (n, 16, n even) of a + i b (a, b real, 16 lanes each) into the half
     * spectra A[k] = (Z[k] + conj Z[n-k]) / 2 and B[k] = (Z[k] - conj Z[n-k]) / 2i,
     * k <= n/2 (Z[n] = Z[0]), written to are/aim[k*xs + l] and bre/bim[k*xs + l]. */
    void (*split_pair)(const float *zre, const float *zim, int n, float *are, float *aim,
                       float *bre, float *bim, ptrdiff_t xs);

    /* out[i] = (float)log((double)x[i]) and out[i] = dumu_sigmoid_ref(x[i]), bit for bit: a
     * vector double approximation (error a few double ulps) decides every value whose
     * double result is not within 2^8 ulps of a float rounding midpoint; the rest (and
     * special or out-of-range inputs) go through libm. in and out may alias. */
    void (*log_f32)(const float *x, float *out, int64_t n);
    void (*sigmoid_f32)(const float *x, float *out, int64_t n);

    /* y[r*y_rs + i] = max(0, x[r*16 + i] + bias) (NaN passes) for r < n_rows, i < n <= 16:
     * rows of an FFT batch (16 lanes) into a plane. */
    void (*bias_relu_rows)(const float *x, float bias, float *y, ptrdiff_t y_rs, int n_rows, int n);

    /* Smallest nonzero and largest |x[i]|, i < n (INFINITY and 0 when all are zero). Finite
     * input only. */
    void (*abs_range)(const float *x, int64_t n, float *min_nonzero, float *max);

    /* Decimating correlation with the exact tfjs-cpu recipe (one float accumulator per
     * output, taps in order, acc = (float)((double)acc + x*h)):
     *     out[i] = sum_{a < n_half} (even[i + a] * h[2a] then odd[i + a] * h[2a + 1])
     * for i < n_out, where even/odd are the even/odd samples of the padded input as doubles.
     * Reads even/odd up to index round_up(n_out, 96) + n_half.
     * mixed = 1 lets some chains round with a Veltkamp split instead of a convert pair; the
     * two agree only while every partial sum is 0 or of float-normal magnitude, which the
     * caller must guarantee (dsp/cqt.c checks the input's magnitudes against the weights'). */
    void (*decim_exact)(const double *even, const double *odd, const double *h, int n_half,
                        float *out, int64_t n_out, int mixed);

    /* CQT kernel correlation with the exact recipe, frames vectorised:
     *     re[t][k] = sum_{n in [kb[k], ke[k])} P[poff[n] + t] * kre[n][k]   (tap order)
     *     im[t][k] = same with kim
     * for t < n_frames and k in [k0, 36); P[poff[n] + t] is sample t*hop + n of the padded
     * signal (polyphase layout built by the caller). kre/kim are (256, 36) doubles; re/im
     * are (n_frames, 36) floats. Reads P up to poff[n] + round_up(n_frames, 16). Taps
     * outside [kb, ke) must be zero in the kernel: they are skipped. `mixed` as above. */
    void (*cqt_exact)(const double *P, const int32_t *poff, const double *kre, const double *kim,
                      const int32_t *kb, const int32_t *ke, int k0, int n_frames, float *re,
                      float *im, int mixed);
} dumu_bp_kernels;

/* The table for `isa`, or NULL when this CPU cannot run it. */
const dumu_bp_kernels *dumu_bp_kernels_for(dumu_isa isa);

/* The table for dumu_simd_active(): what the library uses. */
const dumu_bp_kernels *dumu_bp_simd(void);

/* ---------------------------------------------------------------------------------------- */
/* htdemucs elementwise and statistics loops (src/nn/kernels/dm_kernels.c). Plain loops that
 * each build vectorises for its instruction set; every table gives the same bits. */

typedef struct dumu_dm_kernels {
    void (*add)(float *d, const float *s, int64_t n);                  /* d[i] += s[i] */
    void (*add2)(float *d, const float *a, const float *b, int64_t n); /* d[i] = a[i] + b[i] */
    void (*axpb)(float *p, float a, float b, int64_t n);               /* p[i] = p[i] * a + b */
    void (*addc)(float *p, float b, int64_t n);                        /* p[i] += b */

    /* Vectorisable expf: max relative error ~2 ulp on [-87, 88], 0 below -87.5, clamped at
     * 88 above, NaN in NaN out. Scalar entry, for tests; gelu and glu use it inline. */
    float (*expf)(float x);

    /* Exact GELU in place, x = 0.5 x (1 + erf(x / sqrt 2)), erfc from a Chebyshev fit
     * (relative error < 1.2e-7). Reference: dumu_dm_gelu_ref (models/demucs_layers.h). */
    void (*gelu)(float *x, int64_t n);

    /* GLU: out[i] = a[i] * sigmoid(b[i]); out may alias a. Reference: dumu_dm_glu_ref. */
    void (*glu)(const float *a, const float *b, float *out, int64_t n);

    /* y[i] += s * (a[i] * sigmoid(b[i])): the DConv's GLU + LayerScale + residual. */
    void (*glu_residual)(const float *a, const float *b, float s, float *y, int64_t n);

    /* Sum and sum of squares of p[0..n) in double (16 accumulators, fixed combination
     * order, so the bits depend only on the data). */
    void (*row_sums)(const float *p, int64_t n, double *s, double *ss);

    /* ORT's InstanceNormalization + Mul + Add on one row: p[i] = ((p[i] - mean) / den) * g
     * + be, each operation rounded to float as written. */
    void (*norm_row)(float *p, int64_t t, float mean, float den, float g, float be);
} dumu_dm_kernels;

/* The table for `isa`, or NULL when this CPU cannot run it. */
const dumu_dm_kernels *dumu_dm_kernels_for(dumu_isa isa);

/* The table for dumu_simd_active(): what the library uses. */
const dumu_dm_kernels *dumu_dm_simd(void);

#endif /* DUMU_NN_SIMD_H */
