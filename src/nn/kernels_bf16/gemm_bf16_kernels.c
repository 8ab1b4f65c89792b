/* gemm_bf16_kernels.c - the AVX512_BF16 micro-kernel and packing of dumu_gemm_bf16 (see
 * nn/gemm.h, and nn/simd.h for the table's contract).
 *
 * Compiled once, with the AVX-512 flags plus -mavx512bf16, and used only where the CPU has
 * AVX512_BF16 (dumu_gemm_bf16_kernels()). vdpbf16ps multiplies pairs of bf16 values and adds
 * both products to an fp32 lane: per k step pair q, lane j of the accumulator of row i gains
 * A[i][2q+1] * B[2q+1][j] and then A[i][2q] * B[2q][j] (each product exact in fp32, each sum
 * rounded to nearest even, denormals flushed), so the packed operands hold, per 32-bit word,
 * the bf16 pair (even k in the low half, odd k in the high half):
 *   A sliver: ap[q*MR + i] = (A[i][2q], A[i][2q+1])
 *   B sliver: bp[q*NR + j] = (B[2q][j], B[2q+1][j])
 * A k past the end is a zero. fp32 to bf16 is vcvtneps2bf16 (nearest even). */
#include <immintrin.h>
#include <string.h>

#include "nn/simd.h"

#define MR 12
#define NR 32

/* Sixteen floats to bf16 (nearest even), as 16-bit integers. */
static inline __m256i to_bf16(__m512 x) {
    return (__m256i)_mm512_cvtneps_pbh(x);
}

static void ukernel(int64_t kq, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc,
                    int mr, int nr, float alpha, float beta) {
    __m512 acc[MR][2];
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t q = 0; q < kq; q++) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512(bp + q * NR);
        const __m512bh b1 = (__m512bh)_mm512_load_si512(bp + q * NR + 16);
        const uint32_t *a = ap + q * MR;
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
        }
    }
    /* The update as the fp32 kernels do it: alpha, then beta (0: C is write-only). */
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int i = 0; i < mr; i++) {
        for (int h = 0; h < 2 && h * 16 < nr; h++) {
            int left = nr - h * 16;
            __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            float *ci = c + i * ldc + h * 16;
            __m512 t = alpha == 1.0f ? acc[i][h] : _mm512_mul_ps(va, acc[i][h]);
            if (beta != 0.0f) {
                __m512 old = _mm512_maskz_loadu_ps(m, ci);
                t = beta == 1.0f ? _mm512_add_ps(old, t) : _mm512_fmadd_ps(vb, old, t);
            }
            _mm512_mask_storeu_ps(ci, m, t);
        }
    }
}

/* Rows r < rows of a (each `ld` floats apart, contiguous in k) as pairs, word q of row r at
 * out[q*width + r]; rows up to width and pairs past k zero. kc may be odd. (An A sliver of A
 * stored (m, k); a B sliver of B stored (n, k).) */
static void pack_rows(const float *a, int64_t ld, int rows, int64_t kc, int width, uint32_t *out) {
    int64_t kq = (kc + 1) / 2;
    memset(out, 0, (size_t)(kq * width) * sizeof *out);
    for (int r = 0; r < rows; r++) {
        const float *src = a + r * ld;
        int64_t p = 0;
        for (; p + 16 <= kc; p += 16) {
            uint32_t w[8];
            _mm256_storeu_si256((__m256i *)w, to_bf16(_mm512_loadu_ps(src + p)));
            for (int e = 0; e < 8; e++)
                out[(p / 2 + e) * width + r] = w[e];
        }
        if (p < kc) {
            __mmask16 m = (__mmask16)((1u << (kc - p)) - 1);
            uint32_t w[8];
            _mm256_storeu_si256((__m256i *)w, to_bf16(_mm512_maskz_loadu_ps(m, src + p)));
            for (int64_t e = 0; p + 2 * e < kc; e++)
                out[(p / 2 + e) * width + r] = w[e];
        }
    }
}

/* Columns j < cols of consecutive rows (`ld` floats apart, contiguous in the column) as
 * pairs of rows: word q of column j at out[q*width + j]; columns up to width and a missing
 * last row zero. (A B sliver of B stored (k, n); an A sliver of A stored (k, m).) */
static void pack_cols(const float *b, int64_t ld, int cols, int64_t kc, int width, uint32_t *out) {
    /* interleave: word j = (even row's bf16 j, odd row's bf16 j) */
    static const uint16_t idx[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                     8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __m512i perm = _mm512_loadu_si512(idx);
    for (int64_t q = 0; q * 2 < kc; q++) {
        const float *r0 = b + 2 * q * ld, *r1 = r0 + ld;
        int odd_missing = 2 * q + 1 >= kc;
        uint32_t *dst = out + q * width;
        for (int j = 0; j < width; j += 16) {
            int left = cols - j;
            __mmask16 m = left >= 16 ? (__mmask16)0xffff
                          : left > 0 ? (__mmask16)((1u << left) - 1)
                                     : (__mmask16)0;
            __m512 x0 = _mm512_maskz_loadu_ps(m, r0 + j);
            __m512 x1 = odd_missing ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, r1 + j);
            __m512i both = (__m512i)_mm512_cvtne2ps_pbh(x1, x0); /* x0's 16 bf16, then x1's */
            __mmask16 sm =
                width - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (width - j)) - 1);
            _mm512_mask_storeu_epi32(dst + j, sm, _mm512_permutexvar_epi16(perm, both));
        }
    }
}

const dumu_gemm_bf16_kernels dumu_gemm_bf16_kernels_avx512 = {
    .name = "avx512bf16 12x32",
    .mr = MR,
    .nr = NR,
    .ukernel = ukernel,
    .pack_rows = pack_rows,
    .pack_cols = pack_cols,
};
