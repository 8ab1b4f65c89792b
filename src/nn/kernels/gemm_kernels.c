/* gemm_kernels.c - the sgemm micro-kernel, the transposing pack, and the exp / GELU /
 * column-softmax / LayerNorm kernels of the transformer; exported as one dumu_gemm_kernels
 * table per instruction set (see nn/simd.h and kernels/variant.h).
 *
 * DESIGN
 *   Micro-kernel (AVX-512, 12x32): 24 zmm accumulators hold a 12-row x 32-column tile of C.
 *   Per k step it loads two zmm of the packed B sliver and broadcasts 12 scalars of the A
 *   sliver, issuing 24 FMAs (14 loads per 24 FMAs; Zen 4 retires one zmm FMA per cycle, so
 *   the loop is FMA-bound). Every accumulator lane sees the same sequence of FMAs,
 *   p = 0..kc-1, whatever its position in the tile, and the edge columns of a partial tile
 *   are handled with masked loads/stores of the same arithmetic, so the value of C[i][j]
 *   depends only on the data and kc: the basis of dumu_sgemm's thread-count independence.
 *   AVX2 builds use a 6x16 tile (12 ymm accumulators); other builds a plain-C 4x8 tile with
 *   a multiply and an add per step (CPUs without FMA units would call libm's fmaf for each:
 *   ~100x slower), so its sums round twice per step: same order, slightly other bits. Measured alone (B in L2): 112-116 GFLOP/s on one Zen 4 core, ~100% of its peak.
 *
 *   Transposing pack: 16x16 blocks through registers (unpacklo/hi_ps, unpacklo/hi_pd,
 *   two rounds of shuffle_f32x4), masked at the edges.
 *
 *   exp: Cody-Waite range reduction x = n ln2 + r (|r| <= ln2/2, ln2 in two parts), the
 *   degree-7 Taylor polynomial of e^r (truncation < 6e-9 relative), then r * 2^n with
 *   vscalefps / ldexpf (exact, subnormals included). Inputs are clamped to [-104, 88.8] first
 *   (0 and +inf come out right; NaN passes through the clamps). Max error 0.9 ulp (tested).
 *
 *   GELU: 0.5 x (1 + erf(u)), u = x / sqrt(2) in float as the graph divides; 1 + erf(u) is
 *   2 - erfc(u) for u >= 0 and erfc(|u|) below, so there is no cancellation in the negative
 *   tail. erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2): Numerical Recipes' erfcc
 *   Chebyshev fit (fractional error < 1.2e-7), with exp(-z^2) evaluated as
 *   exp(-zz) (1 - zr), z^2 = zz + zr exactly. Max relative error 4.5e-7 on [-12, 12] (tested).
 *
 *   Column softmax: the running max and sum of up to 128 columns stay in registers while the
 *   rows stream by (max pass, exp-and-sum pass, scale pass).
 *
 * Every routine has an AVX2 version (8 lanes, masked tails with vmaskmov, 2^n built in two
 * exponent-field steps where AVX-512 has vscalefps) and a plain-C path (the scalar table)
 * that compute the same function; the tests hold both to libm / double references. */
#include <math.h>
#include <string.h>

#include "nn/kernels/variant.h"
#include "nn/kernels/vmath.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#    include <immintrin.h>
#endif

/* ---------------------------------------------------------------------------------------- */
/* sgemm micro-kernel */

#if defined(__AVX512F__)
#    define TILE_MR   12
#    define TILE_NR   32
#    define TILE_NAME "avx512 12x32"
#elif defined(__AVX2__) && defined(__FMA__)
#    define TILE_MR   6
#    define TILE_NR   16
#    define TILE_NAME "avx2 6x16"
#else
#    define TILE_MR   4
#    define TILE_NR   8
#    define TILE_NAME "c 4x8"
#endif

#if defined(__AVX512F__)

#    define MR TILE_MR
#    define NV 2 /* zmm per row of the tile */

static void ukernel(int64_t kc, const float *ap, int64_t as, const float *bp, int64_t bs, float *c,
                    int64_t ldc, int mr, int nr, float alpha, float beta) {
    /* The C tile is only touched at the end: start fetching it now. */
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 31), _MM_HINT_T0);
    }
    __m512 acc[MR][NV];
#    pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
#    pragma GCC unroll 2
        for (int j = 0; j < NV; j++)
            acc[i][j] = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < kc; p++) {
        const float *a = ap + p * as;
        __m512 b0 = _mm512_loadu_ps(bp + p * bs);
        __m512 b1 = _mm512_loadu_ps(bp + p * bs + 16);
#    pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    __mmask16 mask[NV];
#    pragma GCC unroll 2
    for (int j = 0; j < NV; j++) {
        int left = nr - 16 * j;
        mask[j] = left >= 16  ? (__mmask16)0xFFFF
                  : left <= 0 ? (__mmask16)0
                              : (__mmask16)((1u << left) - 1u);
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#    pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        if (i >= mr) break;
        float *ci = c + i * ldc;
#    pragma GCC unroll 2
        for (int j = 0; j < NV; j++) {
            __m512 t = alpha == 1.0f ? acc[i][j] : _mm512_mul_ps(va, acc[i][j]);
            if (beta != 0.0f) {
                __m512 old = _mm512_maskz_loadu_ps(mask[j], ci + 16 * j);
                t = beta == 1.0f ? _mm512_add_ps(old, t) : _mm512_add_ps(_mm512_mul_ps(vb, old), t);
            }
            _mm512_mask_storeu_ps(ci + 16 * j, mask[j], t);
        }
    }
}

#    undef MR
#    undef NV

#elif defined(__AVX2__) && defined(__FMA__)

#    define MR TILE_MR
#    define NV 2

static void ukernel(int64_t kc, const float *ap, int64_t as, const float *bp, int64_t bs, float *c,
                    int64_t ldc, int mr, int nr, float alpha, float beta) {
    /* Twelve named accumulators: as an array, gcc keeps them on the stack (16 ymm registers
     * hold the 12, two B vectors and the broadcast only when nothing else competes). */
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0; p < kc; p++) {
        const float *a = ap + p * as;
        __m256 b0 = _mm256_loadu_ps(bp + p * bs);
        __m256 b1 = _mm256_loadu_ps(bp + p * bs + 8);
        __m256 av = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(av, b0, c00);
        c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10);
        c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20);
        c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30);
        c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40);
        c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50);
        c51 = _mm256_fmadd_ps(av, b1, c51);
    }
    const __m256 acc[MR][NV] = {{c00, c01}, {c10, c11}, {c20, c21},
                                {c30, c31}, {c40, c41}, {c50, c51}};
    /* The update is done through a small buffer so partial tiles use the same arithmetic. */
    float tile[MR * 16];
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(tile + i * 16, acc[i][0]);
        _mm256_storeu_ps(tile + i * 16 + 8, acc[i][1]);
    }
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < nr; j++) {
            float t = alpha == 1.0f ? tile[i * 16 + j] : alpha * tile[i * 16 + j];
            float *cij = c + i * ldc + j;
            *cij = beta == 0.0f ? t : beta == 1.0f ? *cij + t : beta * *cij + t;
        }
    }
}

#    undef MR
#    undef NV

#else

static void ukernel(int64_t kc, const float *ap, int64_t as, const float *bp, int64_t bs, float *c,
                    int64_t ldc, int mr, int nr, float alpha, float beta) {
    enum { MR = TILE_MR, NR = TILE_NR };

    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < MR; i++) {
            for (int j = 0; j < NR; j++)
                acc[i][j] += ap[p * as + i] * bp[p * bs + j];
        }
    }
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < nr; j++) {
            float t = alpha == 1.0f ? acc[i][j] : alpha * acc[i][j];
            float *cij = c + i * ldc + j;
            *cij = beta == 0.0f ? t : beta == 1.0f ? *cij + t : beta * *cij + t;
        }
    }
}

#endif

/* ---------------------------------------------------------------------------------------- */
/* Transposing pack: dst[p*width + r] = src[r*ld + p] (r < rows), 0 (rows <= r < width) */

#if defined(__AVX512F__)

/* In-register transpose of 16 rows x 16 columns: on return v[q] holds column q. */
static inline void transpose16(__m512 v[16]) {
    __m512 t[16], u[16];
    for (int j = 0; j < 8; j++) {
        t[2 * j] = _mm512_unpacklo_ps(v[2 * j], v[2 * j + 1]);
        t[2 * j + 1] = _mm512_unpackhi_ps(v[2 * j], v[2 * j + 1]);
    }
    for (int g = 0; g < 4; g++) {
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
        __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* u[4g+s], 128-bit lane L = column 4L+s of rows 4g..4g+3. */
    for (int s = 0; s < 4; s++) {
        __m512 x0 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0x44);
        __m512 x1 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0xEE);
        __m512 y0 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0x44);
        __m512 y1 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0xEE);
        v[s] = _mm512_shuffle_f32x4(x0, y0, 0x88);
        v[4 + s] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
        v[8 + s] = _mm512_shuffle_f32x4(x1, y1, 0x88);
        v[12 + s] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
    }
}

static void pack_t(const float *src, int64_t ld, int rows, int64_t kc, int width, float *dst) {
    for (int r0 = 0; r0 < width; r0 += 16) {
        int wr = width - r0 < 16 ? width - r0 : 16;     /* rows of dst in this block */
        __mmask16 wmask = (__mmask16)((1u << wr) - 1u); /* store mask (wr <= 16) */
        int live = rows - r0 < 0 ? 0 : rows - r0 < wr ? rows - r0 : wr;
        for (int64_t p0 = 0; p0 < kc; p0 += 16) {
            int np = kc - p0 < 16 ? (int)(kc - p0) : 16;
            __mmask16 pmask = (__mmask16)((1u << np) - 1u);
            __m512 v[16];
            for (int r = 0; r < 16; r++) {
                v[r] = r < live ? _mm512_maskz_loadu_ps(pmask, src + (r0 + r) * ld + p0)
                                : _mm512_setzero_ps();
            }
            transpose16(v);
            for (int q = 0; q < np; q++)
                _mm512_mask_storeu_ps(dst + (p0 + q) * width + r0, wmask, v[q]);
        }
    }
}

#else

static void pack_t(const float *src, int64_t ld, int rows, int64_t kc, int width, float *dst) {
    enum { PB = 16 }; /* p block: the destination lines being filled stay in L1 */

    for (int64_t pb = 0; pb < kc; pb += PB) {
        int64_t pe = kc - pb < PB ? kc : pb + PB;
        int r = 0;
        for (; r < rows; r++) {
            for (int64_t p = pb; p < pe; p++)
                dst[p * width + r] = src[r * ld + p];
        }
        for (; r < width; r++) {
            for (int64_t p = pb; p < pe; p++)
                dst[p * width + r] = 0.0f;
        }
    }
}

#endif

/* ---------------------------------------------------------------------------------------- */
/* Vector math: exp, max, GELU */

#if defined(__AVX512F__)

static inline __m512 exp16(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), x); /* max/min return the 2nd operand on NaN */
    x = _mm512_min_ps(_mm512_set1_ps(EXP_HI), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_set1_ps(EXP_C7);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __m512 gelu16(__m512 x) {
    __m512 u = _mm512_div_ps(x, _mm512_set1_ps(SQRT2_F));
    __m512 z = _mm512_abs_ps(u);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                             _mm512_fmadd_ps(_mm512_set1_ps(0.5f), z, _mm512_set1_ps(1.0f)));
    __m512 q = _mm512_set1_ps(ERFC_P9);
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(ERFC_P8));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(ERFC_P7));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(ERFC_P6));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(ERFC_P5));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(ERFC_P4));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(ERFC_P3));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(ERFC_P2));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(ERFC_P1));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(ERFC_P0));
    __m512 zz = _mm512_mul_ps(z, z), zr = _mm512_fmsub_ps(z, z, zz);
    __m512 erfc = _mm512_mul_ps(_mm512_mul_ps(t, exp16(_mm512_sub_ps(_mm512_setzero_ps(), zz))),
                                _mm512_mul_ps(exp16(q), _mm512_sub_ps(_mm512_set1_ps(1.0f), zr)));
    __mmask16 pos = _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_GE_OQ);
    __m512 one_plus_erf = _mm512_mask_sub_ps(erfc, pos, _mm512_set1_ps(2.0f), erfc);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), one_plus_erf);
}

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

static void vmax_acc(float *acc, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 a = _mm512_maskz_loadu_ps(k, acc + i), v = _mm512_maskz_loadu_ps(k, x + i);
        _mm512_mask_storeu_ps(acc + i, k, _mm512_max_ps(a, v));
    }
}

static void vexp_sub_acc(const float *x, const float *shift, float *y, float *sum, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 v =
            _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, shift + i));
        __m512 e = exp16(v);
        _mm512_mask_storeu_ps(y + i, k, e);
        _mm512_mask_storeu_ps(sum + i, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, sum + i), e));
    }
}

static void vmul_inplace(float *x, const float *s, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, s + i));
        _mm512_mask_storeu_ps(x + i, k, v);
    }
}

static void vgelu(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, k, gelu16(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

/* Sum of x[0..n) and of (x - mean)^2, in double: 8 double lanes (two per 16 floats), lanes
 * added pairwise at the end. */
static inline double hsum_pd(__m512d v) {
    __m256d a = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
    __m128d b = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_add_sd(b, _mm_unpackhi_pd(b, b)));
}

static void layernorm_row(const float *x, int64_t n, const float *w, const float *b, float *y,
                          double eps) {
    __m512d s = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 16) {
        __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
    }
    double mean = hsum_pd(s) / (double)n;
    __m512d m = _mm512_set1_pd(mean), q = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        __m512d lo =
            _mm512_maskz_sub_pd((__mmask8)k, _mm512_cvtps_pd(_mm512_castps512_ps256(v)), m);
        __m512d hi = _mm512_maskz_sub_pd((__mmask8)(k >> 8),
                                         _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), m);
        q = _mm512_fmadd_pd(lo, lo, q);
        q = _mm512_fmadd_pd(hi, hi, q);
    }
    float mf = (float)mean, rs = (float)(1.0 / sqrt(hsum_pd(q) / (double)n + eps));
    __m512 vm = _mm512_set1_ps(mf), vr = _mm512_set1_ps(rs);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 v = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm);
        v = _mm512_mul_ps(_mm512_mul_ps(v, vr), _mm512_maskz_loadu_ps(k, w + i));
        _mm512_mask_storeu_ps(y + i, k, _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, b + i)));
    }
}

/* Columns [0, 16 nv) of s (at most `cols` of them valid) with the running max / sum in nv
 * registers; instantiated for constant nv by the switch below. */
static inline __attribute__((always_inline)) void
softmax_cols_nv(float *s, int64_t rows, int64_t ld, int64_t cols, const int nv) {
    __m512 mx[8], sum[8];
    __mmask16 k[8];
    for (int v = 0; v < nv; v++) {
        k[v] = tail_mask(cols - 16 * v);
        mx[v] = _mm512_maskz_loadu_ps(k[v], s + 16 * v);
        sum[v] = _mm512_setzero_ps();
    }
    for (int64_t p = 1; p < rows; p++)
        for (int v = 0; v < nv; v++)
            mx[v] = _mm512_max_ps(mx[v], _mm512_maskz_loadu_ps(k[v], s + p * ld + 16 * v));
    for (int64_t p = 0; p < rows; p++) {
        for (int v = 0; v < nv; v++) {
            float *at = s + p * ld + 16 * v;
            __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k[v], at), mx[v]));
            _mm512_mask_storeu_ps(at, k[v], e);
            sum[v] = _mm512_add_ps(sum[v], e);
        }
    }
    for (int v = 0; v < nv; v++)
        sum[v] = _mm512_div_ps(_mm512_set1_ps(1.0f), sum[v]);
    for (int64_t p = 0; p < rows; p++) {
        for (int v = 0; v < nv; v++) {
            float *at = s + p * ld + 16 * v;
            _mm512_mask_storeu_ps(at, k[v], _mm512_mul_ps(_mm512_maskz_loadu_ps(k[v], at), sum[v]));
        }
    }
}

static void softmax_cols(float *s, int64_t rows, int64_t cols, int64_t ld) {
    for (int64_t c0 = 0; c0 < cols; c0 += 128) {
        int64_t cn = cols - c0 < 128 ? cols - c0 : 128;
        float *sc = s + c0;
        switch ((cn + 15) / 16) {
        case 1: softmax_cols_nv(sc, rows, ld, cn, 1); break;
        case 2: softmax_cols_nv(sc, rows, ld, cn, 2); break;
        case 3: softmax_cols_nv(sc, rows, ld, cn, 3); break;
        case 4: softmax_cols_nv(sc, rows, ld, cn, 4); break;
        case 5: softmax_cols_nv(sc, rows, ld, cn, 5); break;
        case 6: softmax_cols_nv(sc, rows, ld, cn, 6); break;
        case 7: softmax_cols_nv(sc, rows, ld, cn, 7); break;
        default: softmax_cols_nv(sc, rows, ld, cn, 8); break;
        }
    }
}

#elif defined(__AVX2__) && defined(__FMA__)

/* 2^n for integral n in [-150, 128] as two exact powers of two, so that p * 2^n1 * 2^n2
 * rounds once, like ldexpf (subnormal results included). */
static inline __m256 scale8(__m256 p, __m256 n) {
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* dumu_expf on 8 lanes: the same reduction and polynomial. */
static inline __m256 exp8(__m256 x) {
    __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    __m256 xc = _mm256_max_ps(_mm256_set1_ps(EXP_LO), x);
    xc = _mm256_min_ps(_mm256_set1_ps(EXP_HI), xc);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(EXP_C7);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    return _mm256_blendv_ps(scale8(p, n), x, nan); /* NaN passes */
}

static inline __m256 gelu8(__m256 x) {
    __m256 u = _mm256_div_ps(x, _mm256_set1_ps(SQRT2_F));
    __m256 z = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), u);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                             _mm256_fmadd_ps(_mm256_set1_ps(0.5f), z, _mm256_set1_ps(1.0f)));
    __m256 q = _mm256_set1_ps(ERFC_P9);
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(ERFC_P8));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(ERFC_P7));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(ERFC_P6));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(ERFC_P5));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(ERFC_P4));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(ERFC_P3));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(ERFC_P2));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(ERFC_P1));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(ERFC_P0));
    __m256 zz = _mm256_mul_ps(z, z), zr = _mm256_fmsub_ps(z, z, zz);
    __m256 erfc = _mm256_mul_ps(_mm256_mul_ps(t, exp8(_mm256_sub_ps(_mm256_setzero_ps(), zz))),
                                _mm256_mul_ps(exp8(q), _mm256_sub_ps(_mm256_set1_ps(1.0f), zr)));
    __m256 pos = _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GE_OQ);
    __m256 one_plus_erf = _mm256_blendv_ps(erfc, _mm256_sub_ps(_mm256_set1_ps(2.0f), erfc), pos);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), one_plus_erf);
}

/* Lanes i < left (all 8 when left >= 8), for masked loads and stores. */
static inline __m256i tail_mask(int64_t left) {
    int l = left >= 8 ? 8 : (int)left;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(l), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static void vmax_acc(float *acc, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 8) {
        __m256i k = tail_mask(n - i);
        __m256 a = _mm256_maskload_ps(acc + i, k), v = _mm256_maskload_ps(x + i, k);
        _mm256_maskstore_ps(acc + i, k, _mm256_max_ps(v, a)); /* x > acc ? x : acc */
    }
}

static void vexp_sub_acc(const float *x, const float *shift, float *y, float *sum, int64_t n) {
    for (int64_t i = 0; i < n; i += 8) {
        __m256i k = tail_mask(n - i);
        __m256 e =
            exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), _mm256_maskload_ps(shift + i, k)));
        _mm256_maskstore_ps(y + i, k, e);
        _mm256_maskstore_ps(sum + i, k, _mm256_add_ps(_mm256_maskload_ps(sum + i, k), e));
    }
}

static void vmul_inplace(float *x, const float *s, int64_t n) {
    for (int64_t i = 0; i < n; i += 8) {
        __m256i k = tail_mask(n - i);
        __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, k), _mm256_maskload_ps(s + i, k));
        _mm256_maskstore_ps(x + i, k, v);
    }
}

static void vgelu(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i += 8) {
        __m256i k = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, k, gelu8(_mm256_maskload_ps(x + i, k)));
    }
}

static inline double hsum_pd(__m256d v) {
    __m128d b = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(b, _mm_unpackhi_pd(b, b)));
}

/* As the AVX-512 version, with 4 double lanes; masked-off lanes load as 0 and are masked
 * again before the squared deviations. */
static void layernorm_row(const float *x, int64_t n, const float *w, const float *b, float *y,
                          double eps) {
    __m256d s = _mm256_setzero_pd();
    for (int64_t i = 0; i < n; i += 8) {
        __m256 v = _mm256_maskload_ps(x + i, tail_mask(n - i));
        s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double mean = hsum_pd(s) / (double)n;
    __m256d m = _mm256_set1_pd(mean), q = _mm256_setzero_pd();
    for (int64_t i = 0; i < n; i += 8) {
        __m256i k = tail_mask(n - i);
        __m256 v = _mm256_maskload_ps(x + i, k);
        __m256d klo = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(k)));
        __m256d khi = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(k, 1)));
        __m256d lo =
            _mm256_and_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), m), klo);
        __m256d hi =
            _mm256_and_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), m), khi);
        q = _mm256_fmadd_pd(lo, lo, q);
        q = _mm256_fmadd_pd(hi, hi, q);
    }
    float mf = (float)mean, rs = (float)(1.0 / sqrt(hsum_pd(q) / (double)n + eps));
    __m256 vm = _mm256_set1_ps(mf), vr = _mm256_set1_ps(rs);
    for (int64_t i = 0; i < n; i += 8) {
        __m256i k = tail_mask(n - i);
        __m256 v = _mm256_sub_ps(_mm256_maskload_ps(x + i, k), vm);
        v = _mm256_mul_ps(_mm256_mul_ps(v, vr), _mm256_maskload_ps(w + i, k));
        _mm256_maskstore_ps(y + i, k, _mm256_add_ps(v, _mm256_maskload_ps(b + i, k)));
    }
}

/* Columns [0, 8 nv) of s (at most `cols` valid), running max / sum in nv registers. */
static inline __attribute__((always_inline)) void
softmax_cols_nv(float *s, int64_t rows, int64_t ld, int64_t cols, const int nv) {
    __m256 mx[8], sum[8];
    __m256i k[8];
    for (int v = 0; v < nv; v++) {
        k[v] = tail_mask(cols - 8 * v);
        mx[v] = _mm256_maskload_ps(s + 8 * v, k[v]);
        sum[v] = _mm256_setzero_ps();
    }
    for (int64_t p = 1; p < rows; p++)
        for (int v = 0; v < nv; v++)
            mx[v] = _mm256_max_ps(_mm256_maskload_ps(s + p * ld + 8 * v, k[v]), mx[v]);
    for (int64_t p = 0; p < rows; p++) {
        for (int v = 0; v < nv; v++) {
            float *at = s + p * ld + 8 * v;
            __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(at, k[v]), mx[v]));
            _mm256_maskstore_ps(at, k[v], e);
            sum[v] = _mm256_add_ps(sum[v], e);
        }
    }
    for (int v = 0; v < nv; v++)
        sum[v] = _mm256_div_ps(_mm256_set1_ps(1.0f), sum[v]);
    for (int64_t p = 0; p < rows; p++) {
        for (int v = 0; v < nv; v++) {
            float *at = s + p * ld + 8 * v;
            _mm256_maskstore_ps(at, k[v], _mm256_mul_ps(_mm256_maskload_ps(at, k[v]), sum[v]));
        }
    }
}

static void softmax_cols(float *s, int64_t rows, int64_t cols, int64_t ld) {
    for (int64_t c0 = 0; c0 < cols; c0 += 64) {
        int64_t cn = cols - c0 < 64 ? cols - c0 : 64;
        float *sc = s + c0;
        switch ((cn + 7) / 8) {
        case 1: softmax_cols_nv(sc, rows, ld, cn, 1); break;
        case 2: softmax_cols_nv(sc, rows, ld, cn, 2); break;
        case 3: softmax_cols_nv(sc, rows, ld, cn, 3); break;
        case 4: softmax_cols_nv(sc, rows, ld, cn, 4); break;
        case 5: softmax_cols_nv(sc, rows, ld, cn, 5); break;
        case 6: softmax_cols_nv(sc, rows, ld, cn, 6); break;
        case 7: softmax_cols_nv(sc, rows, ld, cn, 7); break;
        default: softmax_cols_nv(sc, rows, ld, cn, 8); break;
        }
    }
}

#else

static void vmax_acc(float *acc, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        acc[i] = x[i] > acc[i] ? x[i] : acc[i];
}

static void vexp_sub_acc(const float *x, const float *shift, float *y, float *sum, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float e = dumu_expf(x[i] - shift[i]);
        y[i] = e;
        sum[i] += e;
    }
}

static void vmul_inplace(float *x, const float *s, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        x[i] *= s[i];
}

static void vgelu(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = dumu_geluf(x[i]);
}

static void softmax_cols(float *s, int64_t rows, int64_t cols, int64_t ld) {
    for (int64_t c = 0; c < cols; c++) {
        float mx = s[c], sum = 0.0f;
        for (int64_t p = 1; p < rows; p++)
            mx = s[p * ld + c] > mx ? s[p * ld + c] : mx;
        for (int64_t p = 0; p < rows; p++) {
            float e = dumu_expf(s[p * ld + c] - mx);
            s[p * ld + c] = e;
            sum += e;
        }
        float r = 1.0f / sum;
        for (int64_t p = 0; p < rows; p++)
            s[p * ld + c] *= r;
    }
}

static void layernorm_row(const float *x, int64_t n, const float *w, const float *b, float *y,
                          double eps) {
    double s = 0.0, q = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)x[i];
    double mean = s / (double)n;
    for (int64_t i = 0; i < n; i++)
        q += ((double)x[i] - mean) * ((double)x[i] - mean);
    float mf = (float)mean, rs = (float)(1.0 / sqrt(q / (double)n + eps));
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - mf) * rs * w[i] + b[i];
}

#endif

/* ---------------------------------------------------------------------------------------- */

const dumu_gemm_kernels DUMU_VARIANT(dumu_gemm_kernels) = {
    .name = TILE_NAME,
    .mr = TILE_MR,
    .nr = TILE_NR,
    .ukernel = ukernel,
    .pack_t = pack_t,
    .vmax_acc = vmax_acc,
    .vexp_sub_acc = vexp_sub_acc,
    .vmul_inplace = vmul_inplace,
    .softmax_cols = softmax_cols,
    .layernorm_row = layernorm_row,
    .vgelu = vgelu,
};
