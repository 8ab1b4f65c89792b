/* gemm.c - dumu_sgemm: packed, cache-blocked single-precision GEMM (see gemm.h for the API).
 *
 * DESIGN (the Goto/BLIS structure, sized for Zen 4: 32 KiB L1d, 1 MiB L2 per core)
 *   The output C (m, n) is split between the threads into disjoint column ranges (when n is the
 *   larger side) or row ranges, aligned to the micro-tile. Each thread then runs:
 *
 *     for pc in 0..k, step KC:                       K block
 *       for ic in its rows, step MC:
 *         pack op(A)[ic:ic+MC, pc:pc+KC]            A block, MR-row slivers (L3)
 *         for jc in its columns, step NC:
 *           pack op(B)[pc:pc+KC, jc:jc+NC]          B panel, NR-column slivers (L2)
 *           for ir in the block, step MR:           one A sliver (MR x KC, L1) ...
 *             for jr in the panel, step NR:         ... against every B sliver
 *               micro-kernel: C[ir:ir+MR, jr:jr+NR] (+)= A sliver . B sliver
 *
 *   The first K block applies the caller's beta, later blocks add (beta = 1). Since the K
 *   blocking depends only on k, and the micro-kernel gives every element of a tile the same
 *   FMA sequence (kernels/gemm_kernels.c), C does not depend on the thread split or on whether an
 *   operand came pre-packed.
 *
 *   Packed layouts (the same for the per-call buffers and for dumu_sgemm_pack_a/b):
 *     A: for each K block pc, for each MR-row sliver s: kc x MR floats, ap[p*MR + i];
 *        block (pc, s) starts at pc*Mp + s*kc*MR, Mp = m rounded up to MR.
 *     B: for each K block pc, for each NR-column sliver t: kc x NR floats, bp[p*NR + j];
 *        block (pc, t) starts at pc*Np + t*kc*NR, Np = n rounded up to NR.
 *   Edge slivers are zero-padded. Copies along the contiguous direction are memcpy; the
 *   transposing ones (A not transposed, B transposed) use dumu_gemm_pack_t (16x16 in-register
 *   transposes under AVX-512).
 *   Operands that would be reused too little to repay packing are read in place (the kernel
 *   takes the distance between k steps of each operand): A when transposed and a thread owns
 *   at most 2 NR columns (attention probabilities . V: MR contiguous floats per k step, lda
 *   apart), B when not transposed and a thread owns at most B_DIRECT_ROWS rows (convolutions
 *   with few output channels: NR contiguous floats per k step, ldb apart; the ragged last
 *   sliver is still packed). The arithmetic is the same either way.
 *
 * MEASUREMENTS (bench/gemm_bench.sh, OPENBLAS_CORETYPE=Haswell; AMD EPYC Genoa (Zen 4) VM,
 *   2 cores shared with other jobs). Zen 4 runs a 512-bit FMA as two 256-bit halves: peak is
 *   32 FLOP/cycle/core. /proc/cpuinfo says 2596 MHz, but the cores boost: the micro-kernel
 *   alone runs at 117 GFLOP/s (= 3.65 GHz x 32), taken as the practical peak below.
 *   GFLOP/s, beta = 0, best of interleaved rounds; 1 thread in thread-CPU time (robust to the
 *   other jobs), 2 threads in wall time (a lower bound: the second core was rarely free).
 *
 *     shape (m x n x k)         op(A) . op(B)  ours 1t  OpenBLAS 1t  ours 2t  OpenBLAS 2t
 *     qkv_proj  2688x1536x512   A  . B^T        106.6     105.4      210.2     206.7
 *     qkv_proj  1344x1536x512   A  . B^T        107.9     106.7      151.5     184.3
 *     out_proj  2688x512x512    A  . B^T        106.9     104.6      189.1     157.0
 *     ffn1      2688x2048x512   A  . B^T        107.4     102.8      136.9     128.0
 *     ffn2      2688x512x2048   A  . B^T        105.5     101.4      139.8     133.3
 *     attn_qk   2688x2688x64    Q  . K^T        102.2      85.5      169.9     134.1
 *     attn_av   2688x64x2688    P  . V           82.4      81.4      123.8     100.5
 *     attn_av_t 2688x64x2688    A^T . V          89.6      78.9      163.4      74.0
 *       (attn_av_t: P stored transposed, as dumu_dm_tf_mha keeps its scores: read in place)
 *     conv      96x172032x432   W  . im2col      94.0      98.0      122.0     103.3
 *     conv      768x10752x384   W  . im2col     109.3     107.5      133.9     124.1
 *
 *   One thread: 87-94% of the practical peak on the transformer shapes (70-77% for P.V, k=2688
 *   x n=64), at or above OpenBLAS everywhere except the few-row convolution
 *   (-4%, whose im2col operand streams from DRAM once: with it pre-packed, 111 GFLOP/s).
 *   The best 2-thread figures seen in quieter moments were 212-217 GFLOP/s (91-93% of 2 x
 *   117) for ours and OpenBLAS alike. So dumu_sgemm always uses its own kernel: never slower
 *   in a way that matters, and deterministic across thread counts, which OpenBLAS does not
 *   promise. bench/gemm_bench.c compares against OpenBLAS.
 *
 * ref: K. Goto, R. van de Geijn, "Anatomy of High-Performance Matrix Multiplication",
 * ACM TOMS 34(3), 2008; F. Van Zee, R. van de Geijn, "BLIS", ACM TOMS 41(3), 2015. */
#include "gemm.h"

#include <string.h>

#include "core/core.h"
#include "nn/simd.h"

enum {
#ifndef DUMU_GEMM_KC
    KC = 512, /* K block: A sliver MR*KC*4 = 24 KiB (L1); the projections' k=512 in one block */
#else
    KC = DUMU_GEMM_KC,
#endif
#ifndef DUMU_GEMM_NC
    NC = 384, /* N block: B panel KC*NC*4 = 768 KiB (L2) */
#else
    NC = DUMU_GEMM_NC,
#endif
#ifndef DUMU_GEMM_MC
    MC = 2688, /* M block: A block MC*KC*4 = 5.25 MiB (L3), packed once per K block */
#else
    MC = DUMU_GEMM_MC,
#endif
#ifndef DUMU_GEMM_BDR
    B_DIRECT_ROWS = 192, /* rows of C per thread up to which B (not transposed) is read in place */
#else
    B_DIRECT_ROWS = DUMU_GEMM_BDR,
#endif
    SMALL_SCRATCH = 8192,            /* floats: packing buffers up to this size live on the stack */
    PREFETCH_ROWS = 4,               /* B packing reads this many rows ahead */
    NC_STACK = 2 * DUMU_GEMM_NR_MAX, /* fallback N block when the heap scratch failed */
};

/* ---------------------------------------------------------------------------------------- */
/* Reference and OpenBLAS */

void dumu_sgemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                    int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double dot = 0.0;
            if (alpha != 0.0f) {
                for (int64_t p = 0; p < k; p++) {
                    float av = trans_a ? a[p * lda + i] : a[i * lda + p];
                    float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                    dot += (double)av * (double)bv;
                }
            }
            double r = (double)alpha * dot;
            if (beta != 0.0f) r += (double)beta * (double)c[i * ldc + j];
            c[i * ldc + j] = (float)r;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Packing */

static int64_t round_up(int64_t x, int64_t to) {
    return (x + to - 1) / to * to;
}

/* One A sliver: out[p*MR + i] = op(A)[i0 + i][p0 + p] for i < mr, p < kc; rows mr..MR-1
 * are zero. */
static void pack_a_sliver(const dumu_gemm_kernels *kt, bool trans_a, const float *a, int64_t lda,
                          int64_t i0, int mr, int64_t p0, int64_t kc, float *restrict out) {
    if (!trans_a) {
        /* A stored (m, k): row i0+i is contiguous in p. */
        kt->pack_t(a + i0 * lda + p0, lda, mr, kc, kt->mr, out);
        return;
    }
    /* A stored (k, m): the MR values of one p are contiguous. */
    for (int64_t p = 0; p < kc; p++) {
        float *dst = out + p * kt->mr;
        memcpy(dst, a + (p0 + p) * lda + i0, (size_t)mr * sizeof *dst);
        if (mr < kt->mr) memset(dst + mr, 0, (size_t)(kt->mr - mr) * sizeof *dst);
    }
}

/* One B sliver: out[p*NR + j] = op(B)[p0 + p][j0 + j] for j < nr, p < kc; columns nr..NR-1
 * are zero. */
static void pack_b_sliver(const dumu_gemm_kernels *kt, bool trans_b, const float *b, int64_t ldb,
                          int64_t p0, int64_t kc, int64_t j0, int nr, float *restrict out) {
    if (trans_b) {
        /* B stored (n, k): column j0+j of op(B) is row j0+j, contiguous in p. */
        kt->pack_t(b + j0 * ldb + p0, ldb, nr, kc, kt->nr, out);
        return;
    }
    for (int64_t p = 0; p < kc; p++) {
        float *dst = out + p * kt->nr;
        memcpy(dst, b + (p0 + p) * ldb + j0, (size_t)nr * sizeof *dst);
        if (nr < kt->nr) memset(dst + nr, 0, (size_t)(kt->nr - nr) * sizeof *dst);
    }
}

/* op(A)[i0:i0+mc, p0:p0+kc] as consecutive slivers (i0 a multiple of MR for the packed
 * layout). When A is stored (k, m), each source row is walked once, left to right, across all
 * slivers: long sequential runs that the hardware prefetcher follows, where sliver-by-sliver
 * copying would jump between kc rows for every MR floats. */
static void pack_a_block(const dumu_gemm_kernels *kt, bool trans_a, const float *a, int64_t lda,
                         int64_t i0, int64_t mc, int64_t p0, int64_t kc, float *out) {
    if (!trans_a) {
        for (int64_t ir = 0; ir < mc; ir += kt->mr) {
            int mr = mc - ir < kt->mr ? (int)(mc - ir) : kt->mr;
            pack_a_sliver(kt, false, a, lda, i0 + ir, mr, p0, kc, out + ir / kt->mr * kc * kt->mr);
        }
        return;
    }
    for (int64_t p = 0; p < kc; p++) {
        const float *src = a + (p0 + p) * lda + i0;
        for (int64_t ir = 0; ir < mc; ir += kt->mr) {
            int mr = mc - ir < kt->mr ? (int)(mc - ir) : kt->mr;
            float *dst = out + ir / kt->mr * kc * kt->mr + p * kt->mr;
            memcpy(dst, src + ir, (size_t)mr * sizeof *dst);
            if (mr < kt->mr) memset(dst + mr, 0, (size_t)(kt->mr - mr) * sizeof *dst);
        }
    }
}

/* op(B)[p0:p0+kc, j0:j0+nc] as consecutive slivers; row-wise when B is stored (k, n), for the
 * same reason as pack_a_block. */
static void pack_b_block(const dumu_gemm_kernels *kt, bool trans_b, const float *b, int64_t ldb,
                         int64_t p0, int64_t kc, int64_t j0, int64_t nc, float *out) {
    if (trans_b) {
        for (int64_t jr = 0; jr < nc; jr += kt->nr) {
            int nr = nc - jr < kt->nr ? (int)(nc - jr) : kt->nr;
            pack_b_sliver(kt, true, b, ldb, p0, kc, j0 + jr, nr, out + jr / kt->nr * kc * kt->nr);
        }
        return;
    }
    for (int64_t p = 0; p < kc; p++) {
        const float *src = b + (p0 + p) * ldb + j0;
        if (p + PREFETCH_ROWS < kc) {
            /* Rows are far apart (conv im2col: ldb ~ 10^5): start the DRAM reads early. */
            const float *next = src + PREFETCH_ROWS * ldb;
            for (int64_t j = 0; j < nc; j += 16)
                __builtin_prefetch(next + j, 0, 3);
        }
        for (int64_t jr = 0; jr < nc; jr += kt->nr) {
            int nr = nc - jr < kt->nr ? (int)(nc - jr) : kt->nr;
            float *dst = out + jr / kt->nr * kc * kt->nr + p * kt->nr;
            memcpy(dst, src + jr, (size_t)nr * sizeof *dst);
            if (nr < kt->nr) memset(dst + nr, 0, (size_t)(kt->nr - nr) * sizeof *dst);
        }
    }
}

size_t dumu_sgemm_packed_a_size(int64_t m, int64_t k) {
    const dumu_gemm_kernels *kt = dumu_gemm_simd();
    return (size_t)(round_up(m > 0 ? m : 0, kt->mr) * (k > 0 ? k : 0));
}

size_t dumu_sgemm_packed_b_size(int64_t k, int64_t n) {
    const dumu_gemm_kernels *kt = dumu_gemm_simd();
    return (size_t)(round_up(n > 0 ? n : 0, kt->nr) * (k > 0 ? k : 0));
}

void dumu_sgemm_pack_a(bool trans_a, int64_t m, int64_t k, const float *a, int64_t lda,
                       float *packed) {
    const dumu_gemm_kernels *kt = dumu_gemm_simd();
    int64_t mp = round_up(m, kt->mr);
    for (int64_t pc = 0; pc < k; pc += KC) {
        int64_t kc = k - pc < KC ? k - pc : KC;
        pack_a_block(kt, trans_a, a, lda, 0, m, pc, kc, packed + pc * mp);
    }
}

void dumu_sgemm_pack_b(bool trans_b, int64_t k, int64_t n, const float *b, int64_t ldb,
                       float *packed) {
    const dumu_gemm_kernels *kt = dumu_gemm_simd();
    int64_t np = round_up(n, kt->nr);
    for (int64_t pc = 0; pc < k; pc += KC) {
        int64_t kc = k - pc < KC ? k - pc : KC;
        pack_b_block(kt, trans_b, b, ldb, pc, kc, 0, n, packed + pc * np);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The blocked product on one block of C */

typedef struct gemm_job {
    const dumu_gemm_kernels *kt; /* micro-kernel and tile shape */
    bool trans_a, trans_b;
    int64_t m, n, k;
    float alpha, beta;
    const float *a, *b;   /* unpacked operands (unused when pa / pb are set) */
    const float *pa, *pb; /* pre-packed operands or NULL */
    int64_t lda, ldb, ldc;
    float *c;
    dumu_gemm_split split; /* the threads' blocks of C */
    bool a_direct;         /* read full A slivers in place (trans_a, few columns) */
    bool b_direct;         /* read full B slivers in place (B not transposed, few rows) */
    float *scratch;        /* nth * per_thread floats, or NULL: use the stack fallback */
    int64_t mc_max;        /* M block (a multiple of MR) */
    int64_t nc_max;        /* N block (a multiple of NR) */
    int64_t b_offset;      /* floats from a thread's A block to its B panel (a multiple of 16) */
    int64_t per_thread;    /* floats of scratch per thread (a multiple of 16) */
} gemm_job;

/* C[i_begin:i_end, j_begin:j_end] of the job (i_begin a multiple of MR, j_begin of NR), with
 * packing buffers apack (mc_max x KC) and bpack (KC x nc_max). */
static void gemm_block(const gemm_job *g, int64_t i_begin, int64_t i_end, int64_t j_begin,
                       int64_t j_end, float *apack, float *bpack, int64_t mc_max, int64_t nc_max) {
    const dumu_gemm_kernels *kt = g->kt;
    int64_t mp = round_up(g->m, kt->mr), np = round_up(g->n, kt->nr);
    for (int64_t pc = 0; pc < g->k; pc += KC) {
        int64_t kc = g->k - pc < KC ? g->k - pc : KC;
        float beta = pc == 0 ? g->beta : 1.0f;
        for (int64_t ic = i_begin; ic < i_end; ic += mc_max) {
            int64_t mc = i_end - ic < mc_max ? i_end - ic : mc_max;
            const float *ablk = NULL;
            if (g->pa) {
                ablk = g->pa + pc * mp + ic * kc; /* ic / MR slivers of kc*MR floats */
            } else if (!g->a_direct) {
                pack_a_block(kt, g->trans_a, g->a, g->lda, ic, mc, pc, kc, apack);
                ablk = apack;
            }
            for (int64_t jc = j_begin; jc < j_end; jc += nc_max) {
                int64_t nc = j_end - jc < nc_max ? j_end - jc : nc_max;
                const float *bblk = NULL;
                if (g->pb) {
                    bblk = g->pb + pc * np + jc * kc;
                } else if (!g->b_direct) {
                    pack_b_block(kt, g->trans_b, g->b, g->ldb, pc, kc, jc, nc, bpack);
                    bblk = bpack;
                } else if (nc % kt->nr) {
                    /* in place, except the ragged last sliver */
                    int64_t jl = nc / kt->nr * kt->nr;
                    pack_b_sliver(kt, false, g->b, g->ldb, pc, kc, jc + jl, (int)(nc - jl), bpack);
                }
                for (int64_t ir = 0; ir < mc; ir += kt->mr) {
                    int mr = mc - ir < kt->mr ? (int)(mc - ir) : kt->mr;
                    const float *ap;
                    int64_t as = kt->mr;
                    if (ablk) {
                        ap = ablk + ir * kc;
                    } else if (mr == kt->mr) {
                        ap = g->a + pc * g->lda + ic + ir; /* in place: MR floats per p */
                        as = g->lda;
                    } else {
                        pack_a_sliver(kt, true, g->a, g->lda, ic + ir, mr, pc, kc, apack);
                        ap = apack;
                    }
                    float *crow = g->c + (ic + ir) * g->ldc + jc;
                    for (int64_t jr = 0; jr < nc; jr += kt->nr) {
                        int nr = nc - jr < kt->nr ? (int)(nc - jr) : kt->nr;
                        const float *bp = bblk ? bblk + jr * kc : bpack;
                        int64_t bs = kt->nr;
                        if (!bblk && nr == kt->nr) {
                            bp = g->b + pc * g->ldb + jc + jr;
                            bs = g->ldb;
                        }
                        kt->ukernel(kc, ap, as, bp, bs, crow + jr, g->ldc, mr, nr, g->alpha, beta);
                    }
                }
            }
        }
    }
}

/* The fallback when the heap scratch could not be allocated: small blocks on the stack
 * (same results, since the K blocking is unchanged). Kept out of gemm_task so its frame stays
 * small on the normal path. */
static __attribute__((noinline)) void gemm_block_stack(const gemm_job *g, int64_t i0, int64_t i1,
                                                       int64_t j0, int64_t j1) {
    const dumu_gemm_kernels *kt = g->kt;
    _Alignas(64) float apack[DUMU_GEMM_MR_MAX * KC];
    _Alignas(64) float bpack[KC * NC_STACK];
    gemm_block(g, i0, i1, j0, j1, apack, bpack, kt->mr, NC_STACK);
}

dumu_gemm_split dumu_gemm_split_for(int64_t m, int64_t n, int64_t k, int mr, int nr,
                                    int n_threads) {
    dumu_gemm_split s;
    int64_t row_tiles = (m + mr - 1) / mr, col_tiles = (n + nr - 1) / nr;
    s.split_n = col_tiles * nr >= row_tiles * mr;
    int64_t tiles = s.split_n ? col_tiles : row_tiles;
    s.nth = n_threads < 1 ? 1 : n_threads;
    if (s.nth > tiles) s.nth = (int)tiles;
    if (2.0 * (double)m * (double)n * (double)k < 4e6) s.nth = 1;
    s.rows = s.split_n ? row_tiles * mr : (row_tiles + s.nth - 1) / s.nth * mr;
    s.cols = s.split_n ? (col_tiles + s.nth - 1) / s.nth * nr : col_tiles * nr;
    return s;
}

void dumu_gemm_split_range(const dumu_gemm_split *s, int64_t m, int64_t n, int mr, int nr, int ith,
                           int64_t *i0, int64_t *i1, int64_t *j0, int64_t *j1) {
    int64_t b, e;
    *i0 = 0, *i1 = m, *j0 = 0, *j1 = n;
    if (s->split_n) {
        dumu_split((n + nr - 1) / nr, ith, s->nth, &b, &e);
        *j0 = b * nr;
        *j1 = e * nr < n ? e * nr : n;
    } else {
        dumu_split((m + mr - 1) / mr, ith, s->nth, &b, &e);
        *i0 = b * mr;
        *i1 = e * mr < m ? e * mr : m;
    }
}

static void gemm_task(void *ctx, int ith, int nth) {
    (void)nth;
    const gemm_job *g = ctx;
    int64_t i0, i1, j0, j1;
    dumu_gemm_split_range(&g->split, g->m, g->n, g->kt->mr, g->kt->nr, ith, &i0, &i1, &j0, &j1);
    if (i0 >= i1 || j0 >= j1) return;
    if (g->scratch) {
        float *apack = g->scratch + ith * g->per_thread;
        gemm_block(g, i0, i1, j0, j1, apack, apack + g->b_offset, g->mc_max, g->nc_max);
    } else {
        gemm_block_stack(g, i0, i1, j0, j1);
    }
}

/* C = beta * C for the degenerate cases (k == 0 or alpha == 0). */
static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f) {
            memset(ci, 0, (size_t)n * sizeof *ci);
        } else if (beta != 1.0f) {
            for (int64_t j = 0; j < n; j++)
                ci[j] *= beta;
        }
    }
}

void dumu_sgemm_packed(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *pa, const float *b, int64_t ldb,
                       const float *pb, float beta, float *c, int64_t ldc, int n_threads) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    const dumu_gemm_kernels *kt = dumu_gemm_simd();
    gemm_job g = {
        .kt = kt,
        .trans_a = trans_a,
        .trans_b = trans_b,
        .m = m,
        .n = n,
        .k = k,
        .alpha = alpha,
        .beta = beta,
        .a = a,
        .b = b,
        .pa = pa,
        .pb = pb,
        .lda = lda,
        .ldb = ldb,
        .ldc = ldc,
        .c = c,
        .mc_max = MC,
        .nc_max = NC,
    };
    g.split = dumu_gemm_split_for(m, n, k, kt->mr, kt->nr, n_threads);
    int nth = g.split.nth;
    int64_t rows = g.split.rows, cols = g.split.cols;
    if (rows < g.mc_max) g.mc_max = rows;
    if (cols < g.nc_max) g.nc_max = cols;
    g.a_direct = trans_a && !pa && cols <= 2 * kt->nr;
    g.b_direct = !trans_b && !pb && rows <= B_DIRECT_ROWS;
    int64_t kc = k < KC ? k : KC;
    int64_t a_floats = pa ? 0 : g.a_direct ? kt->mr * kc : g.mc_max * kc;
    int64_t b_floats = pb ? 0 : g.b_direct ? kt->nr * kc : g.nc_max * kc;
    g.b_offset = round_up(a_floats, 16); /* B slivers are read with aligned loads */
    g.per_thread = round_up(g.b_offset + b_floats, 16);
    /* Small products (attention blocks with pre-packed operands) use a stack buffer: no
     * allocator traffic from inner loops or worker threads. */
    _Alignas(64) float local[SMALL_SCRATCH];
    size_t need = (size_t)nth * (size_t)g.per_thread;
    bool heap = need > SMALL_SCRATCH;
    g.scratch = heap ? dumu_thread_scratch(need * sizeof(float)) : local;
    if (!g.scratch) g.nc_max = NC_STACK;
    if (nth == 1) {
        gemm_task(&g, 0, 1);
    } else {
        dumu_parallel(nth, gemm_task, &g);
    }
}

void dumu_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                int64_t ldc, int n_threads) {
    dumu_sgemm_packed(trans_a, trans_b, m, n, k, alpha, a, lda, NULL, b, ldb, NULL, beta, c, ldc,
                      n_threads);
}
