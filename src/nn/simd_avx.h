/* simd_avx.h - the vector kernels behind the Basic Pitch fast path. The only file with
 * intrinsics is simd_avx.c: AVX-512 when the compiler targets it, else AVX2+FMA, else plain
 * C. Each kernel has a plain reference next to its caller (nn/conv.c, dsp/cqt.c) and a test
 * holding the two equal (tests/unit/test_bp_kernels.c). All pointers are borrowed for the
 * call; nothing here allocates. */
#ifndef DUMU_NN_SIMD_AVX_H
#define DUMU_NN_SIMD_AVX_H

#include <stddef.h>
#include <stdint.h>

#include "nn/conv.h"

/* Name of the instruction set the kernels were compiled for ("avx512", "avx2", "scalar"). */
const char *dumu_simd_isa(void);

/* Fast body of dumu_conv_plan_run (same contract, see nn/conv.h). */
void dumu_simd_conv(const dumu_conv_plan *p, const float *in, float *out, ptrdiff_t out_ps,
                    ptrdiff_t out_rs, int t0, int t1, int n_cols, dumu_act act, int accumulate);

/* Spectral products for a convolution along frequency by FFT (16 lanes = 16 output rows):
 *     Ya[k][l] = sum_{j < n_kh} X[k][l + j] * Ua[j][k],  Yb likewise with Ub,
 *     Z[k] = Ya[k] + i Yb[k] and Z[n - k] = conj(Ya[k]) + i conj(Yb[k]), k <= n/2,
 * so that the inverse FFT of Z holds output a in its real part and b in its imaginary part.
 * X (re, im): (n/2 + 1, xs) with row r of the input at column r, starting at the first
 * input row of lane 0; U: (n_kh, n/2 + 1). Z: (n, 16). */
void dumu_simd_spectral_pair(const float *xre, const float *xim, ptrdiff_t xs, int n_kh,
                             const float *ua_re, const float *ua_im, const float *ub_re,
                             const float *ub_im, int n, float *zre, float *zim);

/* Last step of a 3m-point FFT (sign -1) from the m-point FFTs F_r of x[3j + r], r < 3:
 *     X[k] = sum_r e^{-2 pi i r k / 3m} F_r[k mod m],  k < 3m.
 * f (re, im): (3, m, 16); tw: cos/sin(2 pi j / 3m), j < 3m; X: (3m, 16). */
void dumu_simd_radix3_combine(const float *fre, const float *fim, int m, const float *tw_cos,
                              const float *tw_sin, float *xre, float *xim);

/* Folds an n-point spectrum (n, 16) onto its first n/3 rows: Z'[k] = Z[k] + Z[k + n/3] +
 * Z[k + 2n/3], so that an n/3-point inverse FFT of Z' gives samples 0, 3, 6, ... of the
 * n-point inverse FFT. In place. */
void dumu_simd_fold3(float *zre, float *zim, int n);

/* Splits the FFT Z (n, 16, n even) of a + i b (a, b real, 16 lanes each) into the half
 * spectra A[k] = (Z[k] + conj Z[n-k]) / 2 and B[k] = (Z[k] - conj Z[n-k]) / 2i, k <= n/2
 * (Z[n] = Z[0]), written to
 * are/aim[k*xs + l] and bre/bim[k*xs + l]. */
void dumu_simd_split_pair(const float *zre, const float *zim, int n, float *are, float *aim,
                          float *bre, float *bim, ptrdiff_t xs);

/* out[i] = (float)log((double)x[i]) and out[i] = dumu_sigmoid_ref(x[i]), bit for bit: a
 * vector double approximation (error a few double ulps) decides every value whose double
 * result is not within 2^8 ulps of a float rounding midpoint; the rest (and special or
 * out-of-range inputs) go through libm. in and out may alias. */
void dumu_simd_log_f32(const float *x, float *out, int64_t n);
void dumu_simd_sigmoid_f32(const float *x, float *out, int64_t n);

/* y[r*y_rs + i] = max(0, x[r*16 + i] + bias) (NaN passes) for r < n_rows, i < n <= 16:
 * rows of an FFT batch (16 lanes) into a plane. */
void dumu_simd_bias_relu_rows(const float *x, float bias, float *y, ptrdiff_t y_rs, int n_rows,
                              int n);

/* Smallest nonzero and largest |x[i]|, i < n (INFINITY and 0 when all are zero). Finite
 * input only. */
void dumu_simd_abs_range(const float *x, int64_t n, float *min_nonzero, float *max);

/* Single-output convolution with row blocking, same result contract as dumu_simd_conv (any
 * summation order): p has cout == 1 and taps in (a, b, c) order, tap (a, b, c) at offset
 * c*in_ps + b*row_rs + a0[a] (kh x kw x cin taps; a0 the frame offsets), the output row
 * step being row_rs (stride 1). Four output rows share each loaded input row; rows are
 * computed in fours, so input rows up to 3 past t1's reach are read (results discarded). */
void dumu_simd_conv1_rows(const dumu_conv_plan *p, int kh, int kw, int cin, ptrdiff_t in_ps,
                          ptrdiff_t row_rs, const float *in, float *out, ptrdiff_t out_rs, int t0,
                          int t1, int n_cols, dumu_act act);

/* Decimating correlation with the exact tfjs-cpu recipe (one float accumulator per output,
 * taps in order, acc = (float)((double)acc + x*h)):
 *     out[i] = sum_{a < n_half} (even[i + a] * h[2a] then odd[i + a] * h[2a + 1])
 * for i < n_out, where even/odd are the even/odd samples of the padded input as doubles.
 * Reads even/odd up to index round_up(n_out, 96) + n_half.
 * mixed = 1 lets some chains round with a Veltkamp split instead of a convert pair; the two
 * agree only while every partial sum is 0 or of float-normal magnitude, which the caller
 * must guarantee (dsp/cqt.c checks the input's magnitudes against the weights'). */
void dumu_simd_decim_exact(const double *even, const double *odd, const double *h, int n_half,
                           float *out, int64_t n_out, int mixed);

/* CQT kernel correlation with the exact recipe, frames vectorised:
 *     re[t][k] = sum_{n in [kb[k], ke[k])} P[poff[n] + t] * kre[n][k]   (tap order)
 *     im[t][k] = same with kim
 * for t < n_frames and k in [k0, 36); P[poff[n] + t] is sample t*hop + n of the padded
 * signal (polyphase layout built by the caller). kre/kim are (256, 36) doubles; re/im are
 * (n_frames, 36) floats. Reads P up to poff[n] + round_up(n_frames, 16). Taps outside
 * [kb, ke) must be zero in the kernel: they are skipped. `mixed` as above. */
void dumu_simd_cqt_exact(const double *P, const int32_t *poff, const double *kre, const double *kim,
                         const int32_t *kb, const int32_t *ke, int k0, int n_frames, float *re,
                         float *im, int mixed);

#endif /* DUMU_NN_SIMD_AVX_H */
