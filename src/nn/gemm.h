/* gemm.h - single-precision matrix multiply for every demucs layer (convs as GEMM, transformer
 * projections, FFN and attention). The micro-kernel and the transformer's vector math are
 * in nn/simd.h.
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
 * products use 32 KiB on the stack) comes from the calling thread's dumu_thread_scratch
 * (core/core.h: allocated once per thread, not per call); if that fails, a small stack
 * buffer is used instead (same results, slower), so dumu_sgemm never fails. Thread-safe:
 * no shared state; concurrent calls on disjoint outputs are fine.
 *
 * Implementation notes and measured GFLOP/s: see the header comment of gemm.c. */
#ifndef DUMU_NN_GEMM_H
#define DUMU_NN_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fast sgemm (packed panels; the micro-kernel of dumu_gemm_simd(), see nn/simd.h). */
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

/* ---- how C is shared among threads (dumu_sgemm and dumu_gemm_bf16 alike) ----------------
 * The larger side of C (in micro-tiles of mr x nr) is split into nth contiguous ranges, one per
 * thread, and only when there is enough work to pay for starting a thread (~20 us, a few
 * MFLOP); rows x cols bounds the block of C one thread owns (packing buffers need no more). */
typedef struct dumu_gemm_split {
    bool split_n;       /* threads own column ranges (else row ranges) */
    int nth;            /* threads that get work, 1..n_threads */
    int64_t rows, cols; /* the largest block of C one thread owns, in whole tiles */
} dumu_gemm_split;

dumu_gemm_split dumu_gemm_split_for(int64_t m, int64_t n, int64_t k, int mr, int nr, int n_threads);

/* Thread ith's block of C: rows [*i0, *i1), columns [*j0, *j1) (empty when i0 >= i1 or
 * j0 >= j1). */
void dumu_gemm_split_range(const dumu_gemm_split *s, int64_t m, int64_t n, int mr, int nr, int ith,
                           int64_t *i0, int64_t *i1, int64_t *j0, int64_t *j1);

/* ---- bf16 products (fast separation) ----------------------------------------------------
 * C = alpha * bf16(op(A)) . bf16(op(B)) + beta * C: every element of A and B rounded to bf16
 * (nearest even; denormals to zero), the products (exact in fp32) summed in fp32 in the
 * order of the AVX512_BF16 kernel (pairs of k steps; nn/kernels_bf16/), then alpha and beta
 * as dumu_sgemm applies them. Same arguments and layouts as dumu_sgemm; bit-identical for any
 * thread count. Where the CPU has no AVX512_BF16 (dumu_gemm_bf16_available() false), or the
 * packing scratch (under 3 MiB per thread, from dumu_thread_scratch) cannot be had, it is dumu_sgemm. */
bool dumu_gemm_bf16_available(void);

/* The separation network's products: dumu_gemm_bf16 when this thread asked for fast
 * products (dumu_fast_products, core/core.h), else dumu_sgemm (bit for bit). */
void dumu_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc, int n_threads);

void dumu_gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                    int64_t ldc, int n_threads);

/* Pre-packed bf16 operands, as for dumu_sgemm_pack_a/b: an operand used by many products
 * (the attention's K and V of one head) packed once. *_size() is in 32-bit words (0 without
 * AVX512_BF16: then nothing is packed and the packed call must not be made); buffers 64-byte
 * aligned. dumu_gemm_bf16_packed takes either operand packed (pa / pb non-NULL: a, lda,
 * trans_a ignored; same for B); results are bit-identical to the unpacked call. */
size_t dumu_gemm_bf16_packed_a_size(int64_t m, int64_t k);
size_t dumu_gemm_bf16_packed_b_size(int64_t k, int64_t n);
void dumu_gemm_bf16_pack_a(bool trans_a, int64_t m, int64_t k, const float *a, int64_t lda,
                           uint32_t *packed);
void dumu_gemm_bf16_pack_b(bool trans_b, int64_t k, int64_t n, const float *b, int64_t ldb,
                           uint32_t *packed);
void dumu_gemm_bf16_packed(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                           const float *a, int64_t lda, const uint32_t *pa, const float *b,
                           int64_t ldb, const uint32_t *pb, float beta, float *c, int64_t ldc,
                           int n_threads);

/* The spec of dumu_gemm_bf16's arithmetic: operands rounded as it rounds them, each dot
 * product accumulated in double, then alpha and beta as dumu_sgemm_ref. The fast kernel's
 * fp32 sums differ from it by at most ~k * 2^-24 of the sum of |products|. */
void dumu_gemm_bf16_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc);

#endif /* DUMU_NN_GEMM_H */
