/* dumu_sgemm (src/nn/gemm.c) against its plain triple-loop spec dumu_sgemm_ref: every
 * transpose combination, sizes 1, primes and non-multiples of the 12x32 tile and of the K
 * block (512), alpha/beta variants, padded leading dimensions, NaN propagation, pre-packed
 * operands, and bit-identical results for 1, 2 and 3 threads. Also the transposing pack. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "nn/gemm.h"
#include "nn/kernels/vmath.h"
#include "nn/simd.h"
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
    float *a, *b, *c0; /* inputs; c0 = C before the call */
    size_t na, nb, nc;
} problem;

/* Allocates and fills a problem; leading dimensions are padded by `pad` and the padding is
 * NaN, so reading outside the matrices poisons the result. */
static problem make(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t pad, float alpha,
                    float beta, uint32_t seed) {
    problem p = {ta, tb, m, n, k, 0, 0, 0, alpha, beta, NULL, NULL, NULL, 0, 0, 0};
    int64_t ar = ta ? k : m, ac = ta ? m : k; /* A as stored: ar rows of ac */
    int64_t br = tb ? n : k, bc = tb ? k : n;
    p.lda = ac + pad;
    p.ldb = bc + pad;
    p.ldc = n + pad;
    p.na = (size_t)(ar * p.lda + 1);
    p.nb = (size_t)(br * p.ldb + 1);
    p.nc = (size_t)(m * p.ldc + 1);
    p.a = dumu_malloc(p.na * sizeof(float));
    p.b = dumu_malloc(p.nb * sizeof(float));
    p.c0 = dumu_malloc(p.nc * sizeof(float));
    assert_non_null(p.a);
    assert_non_null(p.b);
    assert_non_null(p.c0);
    fill(p.a, p.na, seed);
    fill(p.b, p.nb, seed + 1);
    fill(p.c0, p.nc, seed + 2);
    for (int64_t r = 0; r < ar; r++)
        for (int64_t j = ac; j < p.lda; j++)
            p.a[r * p.lda + j] = NAN;
    for (int64_t r = 0; r < br; r++)
        for (int64_t j = bc; j < p.ldb; j++)
            p.b[r * p.ldb + j] = NAN;
    if (beta == 0.0f) {
        for (size_t i = 0; i < p.nc; i++)
            p.c0[i] = NAN; /* beta == 0: C is write-only */
    }
    return p;
}

static void unmake(problem *p) {
    dumu_free(p->a);
    dumu_free(p->b);
    dumu_free(p->c0);
}

static float *run_fast(const problem *p, int nth) {
    float *c = dumu_malloc(p->nc * sizeof(float));
    assert_non_null(c);
    memcpy(c, p->c0, p->nc * sizeof(float));
    dumu_sgemm(p->ta, p->tb, p->m, p->n, p->k, p->alpha, p->a, p->lda, p->b, p->ldb, p->beta, c,
               p->ldc, nth);
    return c;
}

/* Checks fast against the double-accumulated reference with the worst-case float bound
 * |err| <= (k + 4) * eps * (|alpha| sum_p |a b| + |beta c|), element by element, and that
 * the padding of C was not touched. */
static void check_against_ref(const problem *p, const float *c) {
    float *ref = dumu_malloc(p->nc * sizeof(float));
    assert_non_null(ref);
    memcpy(ref, p->c0, p->nc * sizeof(float));
    dumu_sgemm_ref(p->ta, p->tb, p->m, p->n, p->k, p->alpha, p->a, p->lda, p->b, p->ldb, p->beta,
                   ref, p->ldc);
    for (int64_t i = 0; i < p->m; i++) {
        for (int64_t j = 0; j < p->ldc; j++) {
            size_t at = (size_t)(i * p->ldc + j);
            if (j >= p->n) {
                /* padding: bit-identical to before */
                assert_memory_equal(&c[at], &p->c0[at], sizeof(float));
                continue;
            }
            double mag = 0.0;
            for (int64_t q = 0; q < p->k; q++) {
                float av = p->ta ? p->a[q * p->lda + i] : p->a[i * p->lda + q];
                float bv = p->tb ? p->b[j * p->ldb + q] : p->b[q * p->ldb + j];
                mag += fabs((double)av * (double)bv);
            }
            mag = fabs((double)p->alpha) * mag;
            if (p->beta != 0.0f) mag += fabs((double)p->beta * (double)p->c0[at]);
            double tol = (double)(p->k + 4) * 5.97e-8 * mag + 1e-30;
            double d = fabs((double)c[at] - (double)ref[at]);
            if (!(d <= tol)) {
                fprintf(stderr,
                        "sgemm ta=%d tb=%d m=%lld n=%lld k=%lld alpha=%g beta=%g: C[%lld][%lld] "
                        "= %.9g, ref %.9g, |d| %.3g > tol %.3g\n",
                        p->ta, p->tb, (long long)p->m, (long long)p->n, (long long)p->k,
                        (double)p->alpha, (double)p->beta, (long long)i, (long long)j,
                        (double)c[at], (double)ref[at], d, tol);
                fail();
            }
        }
    }
    dumu_free(ref);
}

static const int64_t sizes[] = {1, 2, 5, 12, 13, 17, 31, 33, 64, 127};

static void test_all_transposes_small_sizes(void **state) {
    (void)state;
    uint32_t seed = 1;
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        for (size_t im = 0; im < sizeof sizes / sizeof sizes[0]; im++) {
            for (size_t in = 0; in < sizeof sizes / sizeof sizes[0]; in += 2) {
                for (size_t ik = 1; ik < sizeof sizes / sizeof sizes[0]; ik += 3) {
                    problem p = make(ta, tb, sizes[im], sizes[in + (im & 1)], sizes[ik],
                                     (int64_t)(im % 3), 1.0f, 0.0f, seed++);
                    float *c = run_fast(&p, 1);
                    check_against_ref(&p, c);
                    dumu_free(c);
                    unmake(&p);
                }
            }
        }
    }
}

/* Crosses the K block (512), the N block (384) and a thread split, for each transpose case. */
static void test_larger_than_blocks(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {{37, 419, 1031}, {131, 77, 600}, {25, 70, 700}};
    uint32_t seed = 100;
    for (int t = 0; t < 4; t++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            problem p =
                make(t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2], 3, 1.0f, 0.0f, seed++);
            float *c = run_fast(&p, 2);
            check_against_ref(&p, c);
            dumu_free(c);
            unmake(&p);
        }
    }
}

static void test_alpha_beta(void **state) {
    (void)state;
    static const float ab[][2] = {{1.0f, 0.0f},  {1.0f, 1.0f}, {0.5f, -2.0f},
                                  {-3.0f, 0.0f}, {2.0f, 1.0f}, {1.0f, 0.25f}};
    uint32_t seed = 200;
    for (size_t v = 0; v < sizeof ab / sizeof ab[0]; v++) {
        for (int t = 0; t < 4; t++) {
            problem p = make(t & 1, t & 2, 29, 45, 531, 1, ab[v][0], ab[v][1], seed++);
            float *c = run_fast(&p, 2);
            check_against_ref(&p, c);
            dumu_free(c);
            unmake(&p);
        }
    }
}

/* k == 0 and alpha == 0: C = beta * C, A and B not read (they are NULL here). */
static void test_degenerate(void **state) {
    (void)state;
    float c[6] = {1, 2, 3, 4, 5, 6};
    dumu_sgemm(false, false, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 2.0f, c, 3, 2);
    for (int i = 0; i < 6; i++)
        assert_true(c[i] == 2.0f * (float)(i + 1));
    dumu_sgemm(true, true, 2, 3, 7, 0.0f, NULL, 2, NULL, 7, 0.5f, c, 3, 1);
    for (int i = 0; i < 6; i++)
        assert_true(c[i] == (float)(i + 1));
    float nan_c[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    dumu_sgemm(false, false, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 0.0f, nan_c, 3, 1);
    for (int i = 0; i < 6; i++)
        assert_true(nan_c[i] == 0.0f);
    /* m == 0 or n == 0: nothing touched */
    dumu_sgemm(false, false, 0, 3, 4, 1.0f, NULL, 4, NULL, 3, 0.0f, NULL, 3, 1);
    dumu_sgemm(false, false, 3, 0, 4, 1.0f, NULL, 4, NULL, 3, 0.0f, NULL, 1, 1);
}

/* A NaN in A[i][p] makes row i of C NaN and nothing else; a NaN in op(B)[p][j] column j. */
static void test_nan_propagation(void **state) {
    (void)state;
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        problem p = make(ta, tb, 40, 70, 45, 0, 1.0f, 0.0f, 300 + (uint32_t)t);
        int64_t ni = 17, np = 9, nj = 33;
        p.a[ta ? np * p.lda + ni : ni * p.lda + np] = NAN;
        p.b[tb ? nj * p.ldb + (np + 1) : (np + 1) * p.ldb + nj] = NAN;
        for (int nth = 1; nth <= 2; nth++) {
            float *c = run_fast(&p, nth);
            for (int64_t i = 0; i < p.m; i++) {
                for (int64_t j = 0; j < p.n; j++) {
                    bool expect_nan = i == ni || j == nj;
                    assert_int_equal(isnan(c[i * p.ldc + j]) ? 1 : 0, expect_nan ? 1 : 0);
                }
            }
            dumu_free(c);
        }
        unmake(&p);
    }
}

/* 1, 2 and 3 threads give bit-identical C, splitting along N (wide C) and along M (tall C). */
static void test_thread_count_independent(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {{50, 700, 515}, {700, 50, 515}, {97, 97, 1100}};
    uint32_t seed = 400;
    for (int t = 0; t < 4; t++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            problem p =
                make(t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2], 0, 1.0f, 0.5f, seed++);
            float *c1 = run_fast(&p, 1);
            float *c2 = run_fast(&p, 2);
            float *c3 = run_fast(&p, 3);
            assert_memory_equal(c1, c2, p.nc * sizeof(float));
            assert_memory_equal(c1, c3, p.nc * sizeof(float));
            check_against_ref(&p, c1);
            dumu_free(c1);
            dumu_free(c2);
            dumu_free(c3);
            unmake(&p);
        }
    }
}

/* Pre-packed A and/or B give the same bits as the plain call. */
static void test_prepacked_operands(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {{1, 1, 1}, {30, 70, 600}, {100, 64, 1100}, {64, 97, 64}};
    uint32_t seed = 500;
    for (int t = 0; t < 4; t++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            bool ta = t & 1, tb = t & 2;
            problem p =
                make(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 2, 1.0f, 1.0f, seed++);
            float *pa = dumu_malloc(dumu_sgemm_packed_a_size(p.m, p.k) * sizeof(float));
            float *pb = dumu_malloc(dumu_sgemm_packed_b_size(p.k, p.n) * sizeof(float));
            assert_non_null(pa);
            assert_non_null(pb);
            dumu_sgemm_pack_a(ta, p.m, p.k, p.a, p.lda, pa);
            dumu_sgemm_pack_b(tb, p.k, p.n, p.b, p.ldb, pb);
            float *want = run_fast(&p, 1);
            for (int variant = 1; variant < 4; variant++) {
                float *c = dumu_malloc(p.nc * sizeof(float));
                assert_non_null(c);
                memcpy(c, p.c0, p.nc * sizeof(float));
                dumu_sgemm_packed(ta, tb, p.m, p.n, p.k, p.alpha, p.a, p.lda,
                                  variant & 1 ? pa : NULL, p.b, p.ldb, variant & 2 ? pb : NULL,
                                  p.beta, c, p.ldc, 1 + variant % 2);
                assert_memory_equal(c, want, p.nc * sizeof(float));
                dumu_free(c);
            }
            dumu_free(want);
            dumu_free(pa);
            dumu_free(pb);
            unmake(&p);
        }
    }
}

/* The transposing pack against its definition, for the widths gemm uses and ragged sizes. */
static void test_pack_transpose(void **state) {
    (void)state;
    const int widths[] = {dumu_gemm_simd()->mr, dumu_gemm_simd()->nr};
    static const int64_t kcs[] = {1, 15, 16, 17, 100};
    for (size_t w = 0; w < 2; w++) {
        int width = widths[w];
        for (int rows = 1; rows <= width; rows += 5) {
            for (size_t ik = 0; ik < sizeof kcs / sizeof kcs[0]; ik++) {
                int64_t kc = kcs[ik], ld = kc + 3;
                float src[32 * 103], dst[100 * 32 + 1];
                fill(src, sizeof src / sizeof src[0], (uint32_t)(rows * 100 + kc));
                dst[kc * width] = 12345.0f; /* guard */
                dumu_gemm_simd()->pack_t(src, ld, rows, kc, width, dst);
                for (int64_t p = 0; p < kc; p++) {
                    for (int r = 0; r < width; r++) {
                        float want = r < rows ? src[r * ld + p] : 0.0f;
                        assert_true(dst[p * width + r] == want);
                    }
                }
                assert_true(dst[kc * width] == 12345.0f);
            }
        }
    }
}

/* An htdemucs-sized projection (m 2688, k 512, n 1536, B transposed) against the reference
 * on a sample of rows. */
static void test_transformer_projection_shape(void **state) {
    (void)state;
    int64_t m = 2688, n = 1536, k = 512;
    float *a = dumu_malloc((size_t)(m * k) * sizeof(float));
    float *b = dumu_malloc((size_t)(n * k) * sizeof(float));
    float *c = dumu_malloc((size_t)(m * n) * sizeof(float));
    float *cr = dumu_malloc((size_t)(8 * n) * sizeof(float));
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(cr);
    fill(a, (size_t)(m * k), 7);
    fill(b, (size_t)(n * k), 8);
    dumu_sgemm(false, true, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n, 2);
    for (int s = 0; s < 8; s++) {
        int64_t row = s * 331 + 5;
        dumu_sgemm_ref(false, true, 1, n, k, 1.0f, a + row * k, k, b, k, 0.0f, cr + s * n, n);
        assert_allclose_f32(c + row * n, cr + s * n, (size_t)n, 1e-5, 1e-5, "row vs reference");
    }
    dumu_free(a);
    dumu_free(b);
    dumu_free(c);
    dumu_free(cr);
}

/* ---- vector math ------------------------------------------------------------------------ */

static double ulp_err(float got, double want) {
    double ulp = nextafterf((float)fabs(want), INFINITY) - (float)fabs(want);
    return fabs((double)got - want) / ulp;
}

static void test_expf(void **state) {
    (void)state;
    double worst = 0.0;
    for (int64_t i = 0; i <= 2000000; i++) {
        float x = -87.0f + (float)i * (175.7f / 2000000.0f);
        double e = ulp_err(dumu_expf(x), exp((double)x));
        if (e > worst) worst = e;
    }
    printf("dumu_expf: max error %.2f ulp on [-87, 88.7]\n", worst);
    assert_true(worst <= 2.0);
    assert_true(dumu_expf(-INFINITY) == 0.0f);
    assert_true(dumu_expf(-200.0f) == 0.0f);
    assert_true(dumu_expf(89.0f) == INFINITY);
    assert_true(dumu_expf(0.0f) == 1.0f);
    assert_true(isnan(dumu_expf(NAN)));
    /* subnormal range: within 2 ulp of the subnormal spacing */
    float sub = dumu_expf(-100.0f);
    assert_true(fabs((double)sub - exp(-100.0)) <= 2.0 * 1.4013e-45);
}

/* The vector kernels agree with the scalar ones bit for bit, at lengths around the vector
 * width, and the column softmax pieces do what they say. */
static void test_vector_kernels(void **state) {
    (void)state;
    static const int64_t lens[] = {1, 7, 15, 16, 17, 33, 100};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        float x[100], s[100], y[101], sum[100], acc[100], g[101];
        fill(x, 100, (uint32_t)n);
        fill(s, 100, (uint32_t)n + 7);
        for (int64_t i = 0; i < n; i++) {
            x[i] *= 30.0f;
            sum[i] = (float)i;
            acc[i] = s[i];
        }
        y[n] = g[n] = 777.0f; /* guards */
        dumu_gemm_simd()->vexp_sub_acc(x, s, y, sum, n);
        dumu_gemm_simd()->vmax_acc(acc, x, n);
        dumu_gemm_simd()->vgelu(x, g, n);
        for (int64_t i = 0; i < n; i++) {
            float e = dumu_expf(x[i] - s[i]);
            assert_memory_equal(&y[i], &e, sizeof e);
            assert_true(sum[i] == (float)i + e);
            assert_true(acc[i] == (x[i] > s[i] ? x[i] : s[i]));
            float ge = dumu_geluf(x[i]);
            assert_memory_equal(&g[i], &ge, sizeof ge);
        }
        assert_true(y[n] == 777.0f && g[n] == 777.0f);
        memcpy(y, x, sizeof x);
        dumu_gemm_simd()->vmul_inplace(y, s, n);
        for (int64_t i = 0; i < n; i++)
            assert_true(y[i] == x[i] * s[i]);
    }
    float xn[3] = {1.0f, NAN, -2.0f}, yn[3], sn[3] = {0, 0, 0}, z[3] = {0, 0, 0};
    dumu_gemm_simd()->vexp_sub_acc(xn, z, yn, sn, 3);
    assert_true(isnan(yn[1]) && isnan(sn[1]) && !isnan(yn[0]) && !isnan(yn[2]));
    dumu_gemm_simd()->vgelu(xn, yn, 3);
    assert_true(isnan(yn[1]) && !isnan(yn[0]));
}

/* LayerNorm of one row, every length around the vector width, against double. */
static void test_layernorm_row(void **state) {
    (void)state;
    static const int64_t lens[] = {1, 2, 15, 16, 17, 100, 512};
    float x[512], w[512], b[512], y[512];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        fill(x, 512, (uint32_t)n);
        fill(w, 512, (uint32_t)n + 1);
        fill(b, 512, (uint32_t)n + 2);
        for (int64_t i = 0; i < n; i++)
            x[i] = 4.0f * x[i] + 3.0f;
        dumu_gemm_simd()->layernorm_row(x, n, w, b, y, 1e-5);
        double s = 0.0, q = 0.0;
        for (int64_t i = 0; i < n; i++)
            s += (double)x[i];
        double mean = s / (double)n;
        for (int64_t i = 0; i < n; i++)
            q += ((double)x[i] - mean) * ((double)x[i] - mean);
        double sd = sqrt(q / (double)n + 1e-5);
        for (int64_t i = 0; i < n; i++) {
            double want = ((double)x[i] - mean) / sd * (double)w[i] + (double)b[i];
            assert_true(fabs((double)y[i] - want) <= 1e-6 * (1.0 + fabs(want)));
        }
    }
}

/* GELU against 0.5 x (1 + erf(u)) = 0.5 x erfc(-u), u = x / sqrt(2) in float, evaluated in
 * double: relative error below 1e-6 everywhere (the negative tail included), exact limits. */
static void test_gelu_accuracy(void **state) {
    (void)state;
    double worst = 0.0;
    float worst_x = 0.0f;
    for (int64_t i = 0; i <= 400000; i++) {
        float x = -12.0f + (float)i * (24.0f / 400000.0f);
        float ys;
        dumu_gemm_simd()->vgelu(&x, &ys, 1);
        /* The graph computes u = x / 1.41421354f in float, then erf(u): the reference takes
         * that same u, so only the erf approximation and the arithmetic after it count. */
        float u = x / 1.41421354f;
        double want = 0.5 * (double)x * erfc(-(double)u); /* erfc(-u) = 1 + erf(u) */
        double rel = fabs((double)ys - want) / (fabs(want) + 1e-38);
        if (rel > worst) {
            worst = rel;
            worst_x = x;
        }
    }
    printf("dumu_vgelu: max relative error %.3g (at x = %g) on [-12, 12]\n", worst,
           (double)worst_x);
    assert_true(worst < 1e-6);
    float big[2] = {30.0f, -30.0f}, out[2];
    dumu_gemm_simd()->vgelu(big, out, 2);
    assert_true(out[0] == 30.0f);
    assert_true(out[1] <= 0.0f && out[1] > -1e-30f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_transposes_small_sizes),
        cmocka_unit_test(test_larger_than_blocks),
        cmocka_unit_test(test_alpha_beta),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_nan_propagation),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_prepacked_operands),
        cmocka_unit_test(test_pack_transpose),
        cmocka_unit_test(test_transformer_projection_shape),
        cmocka_unit_test(test_expf),
        cmocka_unit_test(test_vector_kernels),
        cmocka_unit_test(test_gelu_accuracy),
        cmocka_unit_test(test_layernorm_row),
    };
    /* Every kernel table this CPU can run, each against the same reference loops. */
    int failed = 0;
    for (int isa = 0; isa <= (int)dumu_simd_best(); isa++) {
        dumu_simd_force((dumu_isa)isa);
        failed += cmocka_run_group_tests_name(dumu_isa_name((dumu_isa)isa), tests, NULL, NULL);
    }
    return failed;
}
