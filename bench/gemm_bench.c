/* gemm_bench.c - GFLOP/s of dumu_sgemm vs OpenBLAS's cblas_sgemm on the shapes htdemucs uses,
 * with 1 and 2 threads, of dumu_gemm_bf16 (the fast mode's products) beside them, and the
 * share of the fp32 peak that the micro-kernel alone measures on as many threads. Single-
 * threaded calls are timed in thread CPU time,
 * two-threaded ones in wall time; each variant keeps its best of interleaved rounds.
 * Not a test: built and run by bench/gemm_bench.sh. Timings on a shared machine are rough.
 *
 * usage: gemm_bench [filter]   (runs only the shapes whose name contains `filter`)
 *        gemm_bench --peak N   (prints the micro-kernel's GFLOP/s on N threads at once)
 *        GEMM_BENCH_SECONDS=20 gemm_bench   (longer best-of per shape on a busy machine) */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "nn/gemm.h"
#include "nn/simd.h"

typedef struct shape {
    const char *name;
    bool ta, tb;
    int64_t m, n, k, lda, ldb;
} shape;

static const shape shapes[] = {
    /* transformer projections: X (tokens, 512) . W^T, W stored (out, 512) */
    {"qkv_proj  2688x1536x512", false, true, 2688, 1536, 512, 512, 512},
    {"qkv_proj  1344x1536x512", false, true, 1344, 1536, 512, 512, 512},
    {"out_proj  2688x512x512", false, true, 2688, 512, 512, 512, 512},
    {"ffn1      2688x2048x512", false, true, 2688, 2048, 512, 512, 512},
    {"ffn2      2688x512x2048", false, true, 2688, 512, 2048, 2048, 2048},
    /* attention per head: Q_h . K_h^T and P . V_h, heads strided in the (tokens, 1536) QKV */
    {"attn_qk   2688x2688x64", false, true, 2688, 2688, 64, 1536, 1536},
    {"attn_av   2688x64x2688", false, false, 2688, 64, 2688, 2688, 1536},
    /* same with the transposed-score layout (S^T = K . Q^T, O = (S^T)^T . V) */
    {"attn_av_t 2688x64x2688", true, false, 2688, 64, 2688, 2688, 1536},
    /* conv as GEMM: W (Cout, Cin*K) . im2col (Cin*K, T) */
    {"conv      96x172032x432", false, false, 96, 172032, 432, 432, 172032},
    {"conv      768x10752x384", false, false, 768, 10752, 384, 384, 10752},
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the calling thread: for single-threaded calls, immune to preemption by other
 * processes on a shared machine (not to their cache pollution). */
static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_mhz(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    double mhz = 0.0;
    if (!f) return 0.0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "cpu MHz", 7) == 0) {
            const char *colon = strchr(line, ':');
            if (colon) mhz = atof(colon + 1);
            break;
        }
    }
    fclose(f);
    return mhz;
}

static void fill(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((double)(seed >> 8) / 16777216.0 - 0.5);
    }
}

/* OpenBLAS with n_threads BLAS threads, the comparison point (libdumu itself has no BLAS). */
static void blas_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc, int n_threads) {
    openblas_set_num_threads(n_threads < 1 ? 1 : n_threads);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

static void call(const shape *s, int which, int nth, const float *a, const float *b,
                 const float *pb, float *c) {
    if (which == 0)
        dumu_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, s->lda, b, s->ldb, 0.0f, c, s->n, nth);
    else if (which == 1)
        blas_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, s->lda, b, s->ldb, 0.0f, c, s->n, nth);
    else if (which == 3)
        dumu_gemm_bf16(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, s->lda, b, s->ldb, 0.0f, c, s->n,
                       nth);
    else
        dumu_sgemm_packed(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, s->lda, NULL, NULL, 0, pb, 0.0f,
                          c, s->n, nth);
}

/* The micro-kernel alone on L1/L2-resident packed data (B slivers of 64 KiB in L2, the
 * A sliver in L1), run by nth threads at once, each on its own buffers: the practical FMA
 * peak of nth cores, clock boost included (and whatever the cores share: on a virtual
 * machine two vCPUs may be one core's two hyper-threads). GFLOP/s, all threads together. */
enum { PEAK_KC = 512, PEAK_NS = 8, PEAK_ITERS = 200 };

static void peak_task(void *ctx, int ith, int nth) {
    (void)ctx;
    (void)nth;
    const dumu_gemm_kernels *kt = dumu_gemm_simd();
    const int MR = kt->mr, NR = kt->nr;
    float *ap = dumu_malloc(sizeof(float) * MR * PEAK_KC);
    float *bp = dumu_malloc(sizeof(float) * NR * PEAK_KC * PEAK_NS);
    float *c = dumu_malloc(sizeof(float) * MR * NR * PEAK_NS);
    fill(ap, (size_t)MR * PEAK_KC, 3 + (unsigned)ith);
    fill(bp, (size_t)NR * PEAK_KC * PEAK_NS, 4 + (unsigned)ith);
    for (int it = 0; it < PEAK_ITERS; it++)
        for (int s = 0; s < PEAK_NS; s++)
            kt->ukernel(PEAK_KC, ap, MR, bp + s * NR * PEAK_KC, NR, c + s * NR, NR * PEAK_NS, MR,
                        NR, 1.0f, 0.0f);
    dumu_free(ap);
    dumu_free(bp);
    dumu_free(c);
}

/* Best of rounds over 2 s (20 at least): on a virtual machine the two vCPUs are not always
 * two whole cores (seen here: 200 to 400 GFLOP/s on 2 threads from one second to the next),
 * and the peak is what they can do, so the best round counts. */
static double kernel_peak(int nth) {
    const dumu_gemm_kernels *kt = dumu_gemm_simd();
    double best = 1e30, start = now();
    for (int r = 0; r < 20 || now() - start < 2.0; r++) {
        double t0 = now();
        dumu_parallel(nth, peak_task, NULL);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return nth * (double)PEAK_ITERS * PEAK_NS * 2.0 * kt->mr * kt->nr * PEAK_KC / best * 1e-9;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--peak")) { /* bench_separate.sh's peak */
        printf("%.1f\n", kernel_peak(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1));
        return 0;
    }
    const char *filter = argc > 1 ? argv[1] : NULL;
    double mhz = cpu_mhz();
    /* The clock in /proc/cpuinfo is the nominal one and the FMA width per cycle differs
     * between cores (Zen 4 splits a 512-bit FMA in two halves, Zen 5 does not), so the share
     * of peak is taken against the micro-kernel's own measured rate. */
    double peak1 = kernel_peak(1), peak2 = kernel_peak(2);
    printf("kernel %s; /proc/cpuinfo %.0f MHz; micro-kernel alone: %.1f GFLOP/s on 1 thread, "
           "%.1f on 2 threads together\n",
           dumu_gemm_simd()->name, mhz, peak1, peak2);
    printf("bf16 products: %s\n",
           dumu_gemm_bf16_available() ? dumu_gemm_bf16_simd()->name : "none (AVX512_BF16 missing)");
    printf("%-26s %9s %9s %9s %9s %9s %9s %9s  %6s %6s\n", "shape (m x n x k)", "ours 1t",
           "blas 1t", "ours 2t", "blas 2t", "packB 1t", "bf16 1t", "bf16 2t", "%pk 1t", "%pk 2t");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        if (filter && !strstr(s->name, filter)) continue;
        size_t na = (size_t)(s->ta ? s->k : s->m) * (size_t)s->lda;
        size_t nb = (size_t)(s->tb ? s->n : s->k) * (size_t)s->ldb;
        size_t nc = (size_t)s->m * (size_t)s->n;
        float *a = dumu_malloc(na * sizeof *a), *b = dumu_malloc(nb * sizeof *b);
        float *c = dumu_malloc(nc * sizeof *c), *c2 = dumu_malloc(nc * sizeof *c2);
        float *c3 = dumu_malloc(nc * sizeof *c3);
        fill(a, na, 1);
        fill(b, nb, 2);
        double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k;
        const char *secs = getenv("GEMM_BENCH_SECONDS"); /* per shape; more = better best-of */
        double min_s = secs ? atof(secs) : flop > 5e9 ? 6.0 : 3.0;
        float *pb = dumu_malloc(dumu_sgemm_packed_b_size(s->k, s->n) * sizeof *pb);
        dumu_sgemm_pack_b(s->tb, s->k, s->n, b, s->ldb, pb);

        /* Five variants (ours/blas x 1/2 threads, ours with pre-packed B), measured in
         * interleaved rounds and keeping each one's best time, so a burst of load from other
         * processes hurts all of them alike and rarely the best. */
        enum { NV = 7 };

        static const int which[NV] = {0, 1, 0, 1, 2, 3, 3}, nth[NV] = {1, 1, 2, 2, 1, 1, 2};
        double best[NV] = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30, 1e30}, start = now();
        int rounds = 0;
        do {
            for (int v = 0; v < NV; v++) {
                /* 1 thread: thread CPU time; 2 threads: wall time (best of the rounds) */
                double t0 = nth[v] == 1 ? thread_cpu() : now();
                call(s, which[v], nth[v], a, b, pb, which[v] == 1 ? c2 : which[v] == 3 ? c3 : c);
                double t = (nth[v] == 1 ? thread_cpu() : now()) - t0;
                if (t < best[v]) best[v] = t;
            }
            rounds++;
        } while (now() - start < min_s || rounds < 3);
        double g[NV];
        for (int v = 0; v < NV; v++)
            g[v] = flop / best[v] * 1e-9;
        dumu_free(pb);
        double maxd = 0.0;
        for (size_t i = 0; i < nc; i++) {
            double d = fabs((double)c[i] - (double)c2[i]);
            if (d > maxd) maxd = d;
        }
        double bf_err = 0.0, scale = 0.0;
        for (size_t i = 0; i < nc; i++) {
            bf_err += ((double)c3[i] - (double)c[i]) * ((double)c3[i] - (double)c[i]);
            scale += (double)c[i] * (double)c[i];
        }
        printf("%-26s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f  %5.0f%% %5.0f%%   "
               "(max|ours-blas| %.2g, bf16 rms rel %.1e)\n",
               s->name, g[0], g[1], g[2], g[3], g[4], g[5], g[6], 100.0 * g[0] / peak1,
               100.0 * g[2] / peak2, maxd, sqrt(bf_err / (scale > 0.0 ? scale : 1.0)));
        fflush(stdout);
        dumu_free(a);
        dumu_free(b);
        dumu_free(c);
        dumu_free(c2);
        dumu_free(c3);
    }
    return 0;
}
