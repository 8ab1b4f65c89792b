/* dumu_gemm_bf16 (src/nn/gemm_bf16.c, the AVX512_BF16 kernel) against its spec
 * dumu_gemm_bf16_ref: every transpose combination, sizes around the 12x32 tile, odd k and k
 * past the 512 K block, alpha/beta, padded leading dimensions whose padding is NaN, results
 * bit-identical for 1, 2 and 3 threads, and the error against exact fp32 of the order bf16
 * promises. On a CPU without AVX512_BF16 the function is dumu_sgemm: that is checked instead,
 * bit for bit. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "nn/gemm.h"
#include "testutil.h"

/* Deterministic uniform values in [-1, 1). */
static void fill(float *x, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((double)(seed >> 8) / 8388608.0 - 1.0);
    }
}

typedef struct problem {
    bool ta, tb;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    float *a, *b, *c0;
    size_t nc;
} problem;

static problem make(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t pad, float alpha,
                    float beta, uint32_t seed) {
    problem p = {ta, tb, m, n, k, 0, 0, 0, alpha, beta, NULL, NULL, NULL, 0};
    int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    p.lda = ac + pad;
    p.ldb = bc + pad;
    p.ldc = n + pad;
    size_t na = (size_t)(ar * p.lda), nb = (size_t)(br * p.ldb);
    p.nc = (size_t)(m * p.ldc);
    p.a = dumu_malloc(na * sizeof(float));
    p.b = dumu_malloc(nb * sizeof(float));
    p.c0 = dumu_malloc(p.nc * sizeof(float));
    assert_true(p.a && p.b && p.c0);
    fill(p.a, na, seed);
    fill(p.b, nb, seed + 7);
    fill(p.c0, p.nc, seed + 11);
    for (int64_t r = 0; r < ar; r++)
        for (int64_t j = ac; j < p.lda; j++)
            p.a[r * p.lda + j] = NAN;
    for (int64_t r = 0; r < br; r++)
        for (int64_t j = bc; j < p.ldb; j++)
            p.b[r * p.ldb + j] = NAN;
    if (beta == 0.0f)
        for (size_t i = 0; i < p.nc; i++)
            p.c0[i] = NAN; /* write-only */
    return p;
}

static void unmake(problem *p) {
    dumu_free(p->a);
    dumu_free(p->b);
    dumu_free(p->c0);
}

static float *run(const problem *p, int nth, bool bf16) {
    float *c = dumu_malloc(p->nc * sizeof(float));
    assert_non_null(c);
    memcpy(c, p->c0, p->nc * sizeof(float));
    if (bf16)
        dumu_gemm_bf16(p->ta, p->tb, p->m, p->n, p->k, p->alpha, p->a, p->lda, p->b, p->ldb,
                       p->beta, c, p->ldc, nth);
    else
        dumu_sgemm(p->ta, p->tb, p->m, p->n, p->k, p->alpha, p->a, p->lda, p->b, p->ldb, p->beta, c,
                   p->ldc, nth);
    return c;
}

/* Fast against the spec within fp32's summation bound over the (bf16) products; C's padding
 * untouched. Without AVX512_BF16: identical to dumu_sgemm. */
static void check(const problem *p, const float *c) {
    if (!dumu_gemm_bf16_available()) {
        float *exact = run(p, 1, false);
        assert_memory_equal(c, exact, p->nc * sizeof(float));
        dumu_free(exact);
        return;
    }
    float *ref = dumu_malloc(p->nc * sizeof(float));
    assert_non_null(ref);
    memcpy(ref, p->c0, p->nc * sizeof(float));
    dumu_gemm_bf16_ref(p->ta, p->tb, p->m, p->n, p->k, p->alpha, p->a, p->lda, p->b, p->ldb,
                       p->beta, ref, p->ldc);
    for (int64_t i = 0; i < p->m; i++) {
        for (int64_t j = 0; j < p->ldc; j++) {
            size_t at = (size_t)(i * p->ldc + j);
            if (j >= p->n) {
                assert_memory_equal(&c[at], &p->c0[at], sizeof(float));
                continue;
            }
            double mag = 0.0;
            for (int64_t q = 0; q < p->k; q++) {
                float av = p->ta ? p->a[q * p->lda + i] : p->a[i * p->lda + q];
                float bv = p->tb ? p->b[j * p->ldb + q] : p->b[q * p->ldb + j];
                mag += fabs((double)av * (double)bv) * 1.01; /* bf16 rounding: < 0.4 % each */
            }
            mag = fabs((double)p->alpha) * mag;
            if (p->beta != 0.0f) mag += fabs((double)p->beta * (double)p->c0[at]);
            double tol = (double)(p->k + 4) * 5.97e-8 * mag + 1e-30;
            double d = fabs((double)c[at] - (double)ref[at]);
            if (!(d <= tol)) {
                fprintf(stderr,
                        "bf16 ta=%d tb=%d m=%lld n=%lld k=%lld: C[%lld][%lld] = %.9g, ref "
                        "%.9g, |d| %.3g > %.3g\n",
                        p->ta, p->tb, (long long)p->m, (long long)p->n, (long long)p->k,
                        (long long)i, (long long)j, (double)c[at], (double)ref[at], d, tol);
                fail();
            }
        }
    }
    dumu_free(ref);
}

static void test_transposes_and_sizes(void **state) {
    (void)state;
    static const int64_t mn[] = {1, 5, 12, 13, 31, 33, 70};
    static const int64_t ks[] = {1, 2, 3, 16, 17, 64, 511, 512, 513, 1030};
    uint32_t seed = 1;
    for (int t = 0; t < 4; t++)
        for (size_t im = 0; im < sizeof mn / sizeof mn[0]; im++)
            for (size_t in = 0; in < sizeof mn / sizeof mn[0]; in += 2)
                for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik += 1 + (im & 1)) {
                    problem p = make(t & 1, t & 2, mn[im], mn[in], ks[ik], (int64_t)(ik % 3), 1.0f,
                                     0.0f, seed++);
                    float *c = run(&p, 1, true);
                    check(&p, c);
                    dumu_free(c);
                    unmake(&p);
                }
}

static void test_alpha_beta(void **state) {
    (void)state;
    static const float ab[][2] = {{1.0f, 1.0f}, {0.5f, -2.0f}, {-1.5f, 0.0f}, {2.0f, 0.25f}};
    for (size_t i = 0; i < sizeof ab / sizeof ab[0]; i++)
        for (int t = 0; t < 4; t++) {
            problem p = make(t & 1, t & 2, 29, 45, 37, 3, ab[i][0], ab[i][1], 100u + (uint32_t)t);
            float *c = run(&p, 1, true);
            check(&p, c);
            dumu_free(c);
            unmake(&p);
        }
}

/* A convolution-like shape (few rows, many columns) and a projection-like one (B^T), on 1, 2
 * and 3 threads: the same bits. */
static void test_thread_count_independent(void **state) {
    (void)state;
    problem shapes[] = {make(false, false, 48, 3000, 384, 0, 1.0f, 0.0f, 7),
                        make(false, true, 700, 96, 520, 0, 1.0f, 1.0f, 9)};
    for (size_t s = 0; s < 2; s++) {
        float *c1 = run(&shapes[s], 1, true);
        check(&shapes[s], c1);
        for (int nth = 2; nth <= 3; nth++) {
            float *cn = run(&shapes[s], nth, true);
            assert_memory_equal(c1, cn, shapes[s].nc * sizeof(float));
            dumu_free(cn);
        }
        dumu_free(c1);
        unmake(&shapes[s]);
    }
}

/* Pre-packed A, B or both give the bits of the unpacked call (K past one 512 block, odd). */
static void test_prepacked(void **state) {
    (void)state;
    if (!dumu_gemm_bf16_available()) {
        assert_int_equal(dumu_gemm_bf16_packed_a_size(10, 10), 0);
        return;
    }
    for (int t = 0; t < 4; t++) {
        problem p = make(t & 1, t & 2, 53, 70, 1031, 1, 1.0f, 0.5f, 300u + (uint32_t)t);
        uint32_t *pa = dumu_malloc(dumu_gemm_bf16_packed_a_size(p.m, p.k) * sizeof *pa);
        uint32_t *pb = dumu_malloc(dumu_gemm_bf16_packed_b_size(p.k, p.n) * sizeof *pb);
        assert_true(pa && pb);
        dumu_gemm_bf16_pack_a(p.ta, p.m, p.k, p.a, p.lda, pa);
        dumu_gemm_bf16_pack_b(p.tb, p.k, p.n, p.b, p.ldb, pb);
        float *plain = run(&p, 2, true);
        for (int which = 1; which <= 3; which++) {
            float *c = dumu_malloc(p.nc * sizeof(float));
            assert_non_null(c);
            memcpy(c, p.c0, p.nc * sizeof(float));
            dumu_gemm_bf16_packed(p.ta, p.tb, p.m, p.n, p.k, p.alpha, p.a, p.lda,
                                  which & 1 ? pa : NULL, p.b, p.ldb, which & 2 ? pb : NULL, p.beta,
                                  c, p.ldc, which);
            assert_memory_equal(c, plain, p.nc * sizeof(float));
            dumu_free(c);
        }
        dumu_free(plain);
        dumu_free(pa);
        dumu_free(pb);
        unmake(&p);
    }
}

/* bf16 keeps 8 significant bits: against exact fp32 the error of a dot product of k random
 * terms is about 2^-9 * sqrt(k) of its typical term, far below 1 % of the product's scale. */
static void test_close_to_exact(void **state) {
    (void)state;
    problem p = make(false, false, 64, 256, 1024, 0, 1.0f, 0.0f, 21);
    float *fast = run(&p, 1, true), *exact = run(&p, 1, false);
    double err = 0.0, scale = 0.0;
    for (size_t i = 0; i < p.nc; i++) {
        double d = (double)fast[i] - (double)exact[i];
        err += d * d;
        scale += (double)exact[i] * (double)exact[i];
    }
    double rel = sqrt(err / scale);
    if (dumu_gemm_bf16_available())
        assert_true(rel > 1e-5 && rel < 1e-2); /* really bf16, and close */
    else
        assert_true(rel == 0.0);
    dumu_free(fast);
    dumu_free(exact);
    unmake(&p);
}

int main(void) {
    fprintf(stderr, "AVX512_BF16: %s\n",
            dumu_gemm_bf16_available() ? "yes"
                                       : "no (checks "
                                         "the fallback)");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transposes_and_sizes),
        cmocka_unit_test(test_alpha_beta),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_close_to_exact),
        cmocka_unit_test(test_prepacked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
