/* gemm.h - single-precision matrix multiply for every demucs layer (convs as GEMM, transformer
 * projections, FFN and attention), plus the few vector-math kernels the transformer needs.
 *
 *   C[m][n] = alpha * op(A)[m][k] . op(B)[k][n] + beta * C[m][n]
 *
 * Row-major throughout; lda/ldb/ldc are leading dimensions in elements (the distance between
 * consecutive rows of the matrix as stored). op(X) = X, or X^T when trans_x: with trans_a,
 * A is stored (k, m) with lda >= m; without, A is stored (m, k) with lda >= k. Same for B:
 * (n, k) with ldb >= k when trans_b, else (k, n) with ldb >= n. C is (m, n), ldc >= n.
 * C must not overlap A or B.
 *
 * beta == 0 means C is write-only: its old contents (even NaN) are ignored, as in BLAS.
 * k == 0 or alpha == 0 gives C = beta * C (A and B are not read). Any of m, n, k may be 0.
 *
 * Determinism: each element of C is accumulated over k in a fixed order that depends only on
 * k, never on n_threads or on the element's position, so results are bit-identical for any
 * thread count (threads own disjoint blocks of C). n_threads < 1 is treated as 1. The calls
 * start their worker threads through dumu_parallel and join them before returning. The
 * caller's buffers are borrowed for the duration of the call only. Packing scratch (up to
 * ~6 MiB per thread: an A block of up to 2688 x 512 floats and a 512 x 384 B panel; small
 * products use 32 KiB on the stack) comes from dumu_malloc; if that fails, a small stack
 * buffer is used instead (same results, slower), so dumu_sgemm never fails. Thread-safe:
 * no shared state; concurrent calls on disjoint outputs are fine.
 *
 * Implementation notes and measured GFLOP/s: see the header comment of gemm.c. */
#ifndef DUMU_NN_GEMM_H
#define DUMU_NN_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fast sgemm (packed panels; AVX-512, AVX2 or plain-C micro-kernel by build target). */
void dumu_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                int64_t ldc, int n_threads);

/* The plain triple loop: the spec of dumu_sgemm. Each dot product is accumulated in double
 * and rounded once; then C = (float)(alpha * dot + beta * C) (beta == 0: C = alpha * dot). */
void dumu_sgemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                    int64_t ldc);

/* ---- pre-packed operands ----------------------------------------------------------------
 * A matrix that takes part in many products (the attention's K and V of one head, used by every
 * block of queries) can be packed once into the micro-kernel's layout and passed packed.
 * Results are bit-identical to the unpacked call. Packed buffers must be 64-byte aligned
 * (dumu_malloc gives that) and hold *_size() floats; they are plain data (no pointers), owned
 * by the caller. */

/* Floats needed to pack op(A) of shape (m, k) / op(B) of shape (k, n). */
size_t dumu_sgemm_packed_a_size(int64_t m, int64_t k);
size_t dumu_sgemm_packed_b_size(int64_t k, int64_t n);

/* Packs op(A) (m, k) (A stored as for dumu_sgemm) / op(B) (k, n) into `packed`. */
void dumu_sgemm_pack_a(bool trans_a, int64_t m, int64_t k, const float *a, int64_t lda,
                       float *packed);
void dumu_sgemm_pack_b(bool trans_b, int64_t k, int64_t n, const float *b, int64_t ldb,
                       float *packed);

/* dumu_sgemm where either operand may come pre-packed: when pa is non-NULL it is op(A) packed
 * by dumu_sgemm_pack_a for exactly this (m, k), and a/lda/trans_a are ignored; same for pb
 * with (k, n). */
void dumu_sgemm_packed(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *pa, const float *b, int64_t ldb,
                       const float *pb, float beta, float *c, int64_t ldc, int n_threads);

/* A short name of the micro-kernel dumu_sgemm uses in this build ("avx512 12x32", ...). */
const char *dumu_sgemm_kernel_name(void);

/* ---- vector math (src/nn/simd_gemm_avx512.c; plain-C versions for other targets) ---------
 * Elementwise kernels for the transformer's softmax and FFN. Arrays may alias only where
 * stated. Accuracy is tested against libm in double (tests/unit/test_gemm.c). */

/* expf by range reduction + polynomial: max relative error ~2 ulp for x in [-87, 88]; 0 below
 * about -103.9 (subnormals in between), +inf above 88.73; NaN propagates. */
float dumu_expf(float x);

/* Scalar exact GELU with the same approximation as dumu_vgelu (tails of vectors, tests). */
float dumu_geluf(float x);

/* acc[i] = max(acc[i], x[i]) for i < n. */
void dumu_vmax_acc(float *acc, const float *x, int64_t n);

/* y[i] = dumu_expf(x[i] - shift[i]) and sum[i] += y[i], for i < n (x may equal y). */
void dumu_vexp_sub_acc(const float *x, const float *shift, float *y, float *sum, int64_t n);

/* x[i] *= s[i] for i < n. */
void dumu_vmul_inplace(float *x, const float *s, int64_t n);

/* Softmax down each column of s (rows, cols), row stride ld, in place: for every column c,
 * s[p][c] = e_p / sum_q e_q with e_p = dumu_expf(s[p][c] - max_q s[q][c]); the sum in float,
 * over p in order, then one reciprocal multiplied in. rows >= 1. (The attention's keys run
 * down the columns of its transposed score block.) */
void dumu_softmax_cols(float *s, int64_t rows, int64_t cols, int64_t ld);

/* LayerNorm of one row: y = (x - mean) / sqrt(var + eps) * w + b over x[0..n) (n >= 1),
 * mean and (biased) variance accumulated in double, the rest in float (x may equal y). */
void dumu_layernorm_row(const float *x, int64_t n, const float *w, const float *b, float *y,
                        double eps);

/* Exact GELU, y[i] = 0.5 x (1 + erf(x / sqrt(2))), for i < n (x may equal y). erf comes from a
 * rational-exponential approximation of erfc with relative error ~1.2e-7 (see the .c), so the
 * result has a relative error of a few 1e-7 for every x, including the negative tail. */
void dumu_vgelu(const float *x, float *y, int64_t n);

/* ---- internal: micro-kernel shape and entry point (used by gemm.c only) ------------------- */

#if defined(__AVX512F__)
#    define DUMU_GEMM_MR 12 /* rows of A per micro-tile (broadcast) */
#    define DUMU_GEMM_NR 32 /* columns of B per micro-tile (2 zmm) */
#elif defined(__AVX2__) && defined(__FMA__)
#    define DUMU_GEMM_MR 6
#    define DUMU_GEMM_NR 16 /* 2 ymm */
#else
#    define DUMU_GEMM_MR 4
#    define DUMU_GEMM_NR 8
#endif

/* One micro-tile: acc[i][j] = sum_{p<kc} ap[p*as + i] * bp[p*NR + j] (fused multiply-adds in
 * order p = 0, 1, ...), then for i < mr, j < nr:
 *   t = alpha == 1 ? acc : alpha * acc;
 *   c[i*ldc + j] = beta == 0 ? t : beta == 1 ? c + t : beta * c + t.
 * ap: A sliver, MR values per k step, `as` floats apart (MR when packed; rows i >= mr are
 * read but their results discarded, so they must be readable); bp: packed B sliver (kc, NR),
 * 64-byte aligned; 1 <= mr <= MR, 1 <= nr <= NR. */
void dumu_gemm_ukernel(int64_t kc, const float *ap, int64_t as, const float *bp, int64_t bs,
                       float *c, int64_t ldc, int mr, int nr, float alpha, float beta);

/* Transposing pack: dst[p*width + r] = src[r*ld + p] for r < rows, p < kc, and 0 for
 * rows <= r < width (width <= 32). */
void dumu_gemm_pack_t(const float *src, int64_t ld, int rows, int64_t kc, int width, float *dst);

#endif /* DUMU_NN_GEMM_H */
