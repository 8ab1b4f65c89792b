/* gemm_bf16.c - dumu_gemm_bf16: products of bf16 operands accumulated in fp32, for the fast
 * separation (see gemm.h for the API, nn/kernels_bf16/ for the kernel).
 *
 * DESIGN: the blocking of dumu_sgemm (gemm.c: K blocks of KC, A blocks of MC rows, B panels of
 * NC columns, MR x NR micro-tiles, threads on disjoint column or row ranges), with both
 * operands always packed: the packing is where fp32 becomes bf16 pairs. KC is even, so a pair
 * of k steps never straddles two K blocks and the sums do not depend on the thread split:
 * results are bit-identical for any thread count, as in exact mode. */
#include <string.h>

#include "core/core.h"
#include "nn/gemm.h"
#include "nn/simd.h"

enum {
    KC = 512,  /* K block (even): an A sliver 12 x 256 pairs = 12 KiB */
    NC = 384,  /* N block: a B panel 256 pairs x 384 = 384 KiB (L2) */
    MC = 2688, /* M block: the transformer's longest side in one block */
};

/* fp32 to bf16, nearest even, denormals to zero, as vcvtneps2bf16 does (NaN stays NaN). */
static float round_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0) {
        u &= 0x80000000u;
    } else if ((u & 0x7fffffffu) > 0x7f800000u) {
        u |= 0x00400000u;
    } else {
        u += 0x7fffu + ((u >> 16) & 1u);
    }
    u &= 0xffff0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

void dumu_gemm_bf16_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double dot = 0.0;
            for (int64_t p = 0; alpha != 0.0f && p < k; p++) {
                float av = trans_a ? a[p * lda + i] : a[i * lda + p];
                float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                dot += (double)round_bf16(av) * (double)round_bf16(bv);
            }
            double r = (double)alpha * dot;
            if (beta != 0.0f) r += (double)beta * (double)c[i * ldc + j];
            c[i * ldc + j] = (float)r;
        }
    }
}

void dumu_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc, int n_threads) {
    if (dumu_fast_products())
        dumu_gemm_bf16(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, n_threads);
    else
        dumu_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, n_threads);
}

bool dumu_gemm_bf16_available(void) {
    return dumu_gemm_bf16_simd() != NULL;
}

typedef struct bf16_job {
    const dumu_gemm_bf16_kernels *kt;
    bool trans_a, trans_b;
    dumu_gemm_split split;                                      /* the threads' blocks of C */
    int64_t m, n, k, lda, ldb, ldc, mc_max, nc_max, per_thread; /* per_thread: words */
    float alpha, beta;
    const float *a, *b;
    const uint32_t *pa, *pb; /* pre-packed operands or NULL */
    float *c;
    uint32_t *scratch;
} bf16_job;

static int64_t round_up(int64_t x, int64_t to) {
    return (x + to - 1) / to * to;
}

/* Slivers of op(A)[i0:i0+mc, pc:pc+kc] (width MR) into out, kq*MR words each. */
static void pack_a_block(const dumu_gemm_bf16_kernels *kt, bool trans_a, const float *a,
                         int64_t lda, int64_t i0, int64_t mc, int64_t pc, int64_t kc,
                         uint32_t *out) {
    int64_t kq = (kc + 1) / 2;
    for (int64_t ir = 0; ir < mc; ir += kt->mr) {
        int mr = mc - ir < kt->mr ? (int)(mc - ir) : kt->mr;
        uint32_t *dst = out + ir / kt->mr * kq * kt->mr;
        if (trans_a)
            kt->pack_cols(a + pc * lda + i0 + ir, lda, mr, kc, kt->mr, dst);
        else
            kt->pack_rows(a + (i0 + ir) * lda + pc, lda, mr, kc, kt->mr, dst);
    }
}

/* Slivers of op(B)[pc:pc+kc, j0:j0+nc] (width NR) into out, kq*NR words each. */
static void pack_b_block(const dumu_gemm_bf16_kernels *kt, bool trans_b, const float *b,
                         int64_t ldb, int64_t pc, int64_t kc, int64_t j0, int64_t nc,
                         uint32_t *out) {
    int64_t kq = (kc + 1) / 2;
    for (int64_t jr = 0; jr < nc; jr += kt->nr) {
        int nr = nc - jr < kt->nr ? (int)(nc - jr) : kt->nr;
        uint32_t *dst = out + jr / kt->nr * kq * kt->nr;
        if (trans_b)
            kt->pack_rows(b + (j0 + jr) * ldb + pc, ldb, nr, kc, kt->nr, dst);
        else
            kt->pack_cols(b + pc * ldb + j0 + jr, ldb, nr, kc, kt->nr, dst);
    }
}

/* Pre-packed layout: K block pc (KC even, so pc/2 pairs before it) of an operand whose
 * packed side is p (m or n rounded up to MR or NR) starts at pc/2 * p words; its slivers
 * follow as in the per-call buffers. */
size_t dumu_gemm_bf16_packed_a_size(int64_t m, int64_t k) {
    const dumu_gemm_bf16_kernels *kt = dumu_gemm_bf16_simd();
    return kt && m > 0 && k > 0 ? (size_t)(round_up(m, kt->mr) * ((k + 1) / 2)) : 0;
}

size_t dumu_gemm_bf16_packed_b_size(int64_t k, int64_t n) {
    const dumu_gemm_bf16_kernels *kt = dumu_gemm_bf16_simd();
    return kt && n > 0 && k > 0 ? (size_t)(round_up(n, kt->nr) * ((k + 1) / 2)) : 0;
}

void dumu_gemm_bf16_pack_a(bool trans_a, int64_t m, int64_t k, const float *a, int64_t lda,
                           uint32_t *packed) {
    const dumu_gemm_bf16_kernels *kt = dumu_gemm_bf16_simd();
    int64_t mp = round_up(m, kt->mr);
    for (int64_t pc = 0; pc < k; pc += KC)
        pack_a_block(kt, trans_a, a, lda, 0, m, pc, k - pc < KC ? k - pc : KC,
                     packed + pc / 2 * mp);
}

void dumu_gemm_bf16_pack_b(bool trans_b, int64_t k, int64_t n, const float *b, int64_t ldb,
                           uint32_t *packed) {
    const dumu_gemm_bf16_kernels *kt = dumu_gemm_bf16_simd();
    int64_t np = round_up(n, kt->nr);
    for (int64_t pc = 0; pc < k; pc += KC)
        pack_b_block(kt, trans_b, b, ldb, pc, k - pc < KC ? k - pc : KC, 0, n,
                     packed + pc / 2 * np);
}

/* C[i0:i1, j0:j1] (i0 a multiple of MR, j0 of NR) with packing space apack / bpack. */
static void bf16_block(const bf16_job *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                       uint32_t *apack, uint32_t *bpack) {
    const dumu_gemm_bf16_kernels *kt = g->kt;
    int64_t mp = round_up(g->m, kt->mr), np = round_up(g->n, kt->nr);
    for (int64_t pc = 0; pc < g->k; pc += KC) {
        int64_t kc = g->k - pc < KC ? g->k - pc : KC, kq = (kc + 1) / 2;
        float beta = pc == 0 ? g->beta : 1.0f;
        for (int64_t ic = i0; ic < i1; ic += g->mc_max) {
            int64_t mc = i1 - ic < g->mc_max ? i1 - ic : g->mc_max;
            const uint32_t *ablk = apack;
            if (g->pa)
                ablk = g->pa + pc / 2 * mp + ic * kq; /* ic / MR slivers of kq*MR words */
            else
                pack_a_block(kt, g->trans_a, g->a, g->lda, ic, mc, pc, kc, apack);
            for (int64_t jc = j0; jc < j1; jc += g->nc_max) {
                int64_t nc = j1 - jc < g->nc_max ? j1 - jc : g->nc_max;
                const uint32_t *bblk = bpack;
                if (g->pb)
                    bblk = g->pb + pc / 2 * np + jc * kq;
                else
                    pack_b_block(kt, g->trans_b, g->b, g->ldb, pc, kc, jc, nc, bpack);
                for (int64_t ir = 0; ir < mc; ir += kt->mr) {
                    int mr = mc - ir < kt->mr ? (int)(mc - ir) : kt->mr;
                    const uint32_t *ap = ablk + ir / kt->mr * kq * kt->mr;
                    float *crow = g->c + (ic + ir) * g->ldc + jc;
                    for (int64_t jr = 0; jr < nc; jr += kt->nr) {
                        int nr = nc - jr < kt->nr ? (int)(nc - jr) : kt->nr;
                        kt->ukernel(kq, ap, bblk + jr / kt->nr * kq * kt->nr, crow + jr, g->ldc, mr,
                                    nr, g->alpha, beta);
                    }
                }
            }
        }
    }
}

static void bf16_task(void *ctx, int ith, int nth) {
    (void)nth;
    const bf16_job *g = ctx;
    int64_t i0, i1, j0, j1;
    dumu_gemm_split_range(&g->split, g->m, g->n, g->kt->mr, g->kt->nr, ith, &i0, &i1, &j0, &j1);
    if (i0 >= i1 || j0 >= j1) return;
    uint32_t *apack = g->scratch + ith * g->per_thread;
    bf16_block(g, i0, i1, j0, j1, apack,
               apack + round_up(g->mc_max * (KC / 2), 16)); /* B slivers: aligned loads */
}

void dumu_gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                    int64_t ldc, int n_threads) {
    dumu_gemm_bf16_packed(trans_a, trans_b, m, n, k, alpha, a, lda, NULL, b, ldb, NULL, beta, c,
                          ldc, n_threads);
}

void dumu_gemm_bf16_packed(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                           const float *a, int64_t lda, const uint32_t *pa, const float *b,
                           int64_t ldb, const uint32_t *pb, float beta, float *c, int64_t ldc,
                           int n_threads) {
    const dumu_gemm_bf16_kernels *kt = dumu_gemm_bf16_simd();
    DUMU_ASSERT(kt || (!pa && !pb)); /* packed operands exist only where the kernel does */
    if (!kt || m <= 0 || n <= 0 || k <= 0 || alpha == 0.0f) {
        /* no bf16 here, or nothing to multiply: the exact product says what C becomes */
        dumu_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, n_threads);
        return;
    }
    bf16_job g = {
        .kt = kt,
        .trans_a = trans_a,
        .trans_b = trans_b,
        .m = m,
        .n = n,
        .k = k,
        .lda = lda,
        .ldb = ldb,
        .ldc = ldc,
        .alpha = alpha,
        .beta = beta,
        .a = a,
        .b = b,
        .pa = pa,
        .pb = pb,
        .c = c,
        .mc_max = MC,
        .nc_max = NC,
    };
    g.split = dumu_gemm_split_for(m, n, k, kt->mr, kt->nr, n_threads);
    int nth = g.split.nth;
    if (g.split.rows < g.mc_max) g.mc_max = g.split.rows;
    if (g.split.cols < g.nc_max) g.nc_max = g.split.cols;
    g.per_thread = round_up(g.mc_max * (KC / 2), 16) + round_up(g.nc_max * (KC / 2), 16);
    g.scratch = dumu_thread_scratch((size_t)(nth * g.per_thread) * sizeof *g.scratch);
    if (!g.scratch) { /* out of memory: the exact product needs no scratch of this size */
        dumu_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, n_threads);
        return;
    }
    if (nth == 1)
        bf16_task(&g, 0, 1);
    else
        dumu_parallel(nth, bf16_task, &g);
}
