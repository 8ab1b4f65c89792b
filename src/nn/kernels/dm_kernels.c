/* dm_kernels.c - the elementwise and statistics loops of the htdemucs layers (GELU, GLU,
 * bias, sums, GroupNorm apply); exported as one dumu_dm_kernels table per instruction set
 * (see nn/simd.h and kernels/variant.h).
 *
 * DESIGN
 *   These are plain C loops over fixed blocks of VB = 16 that the compiler vectorises for
 *   the instruction set of each build. FP contraction is off in ISO C mode and nothing is
 *   reassociated, so every build computes the same bits: the three tables differ only in
 *   speed.
 *
 *   Transcendentals: GELU uses erfc from the Chebyshev fit of Numerical Recipes (erfcc,
 *   fractional error < 1.2e-7 everywhere) and a Cody-Waite expf with a degree-7 polynomial.
 *   Why not nn/kernels/vmath.h's dumu_expf and dumu_geluf, which have the same fits: those
 *   are written with fmaf, the lane-by-lane specification of the transformer's AVX-512
 *   kernels, whereas these are plain multiply-adds that every build (scalar, AVX2, AVX-512)
 *   vectorises to the same bits; each side's results are pinned by its own parity fixtures,
 *   so merging them would change the numbers of one of the two networks' layers. */
#include <math.h>
#include <string.h>

#include "nn/kernels/variant.h"

#define VB 16 /* block length of the vectorisable loops */

static void add(float *d, const float *s, int64_t n) { /* d += s */
    int64_t i = 0;
    for (; i + VB <= n; i += VB)
        for (int j = 0; j < VB; j++)
            d[i + j] += s[i + j];
    for (; i < n; i++)
        d[i] += s[i];
}

static void add2(float *d, const float *a, const float *b, int64_t n) { /* d = a + b */
    int64_t i = 0;
    for (; i + VB <= n; i += VB)
        for (int j = 0; j < VB; j++)
            d[i + j] = a[i + j] + b[i + j];
    for (; i < n; i++)
        d[i] = a[i] + b[i];
}

static void axpb(float *p, float a, float b, int64_t n) { /* p = p * a + b */
    int64_t i = 0;
    for (; i + VB <= n; i += VB)
        for (int j = 0; j < VB; j++)
            p[i + j] = p[i + j] * a + b;
    for (; i < n; i++)
        p[i] = p[i] * a + b;
}

static void addc(float *p, float b, int64_t n) { /* p += b */
    int64_t i = 0;
    for (; i + VB <= n; i += VB)
        for (int j = 0; j < VB; j++)
            p[i + j] += b;
    for (; i < n; i++)
        p[i] += b;
}

/* ---------------------------------------------------------------------------------------- */
/* expf, erfc, GELU, sigmoid */

/* exp(x): 0 below -87.5 (true underflow is at -103), clamped at 88 above (e^88 = 1.7e38);
 * NaN in, NaN out. */
static inline float dm_exp(float x) {
    float c = x < 88.0f ? x : 88.0f;
    c = c > -87.0f ? c : -87.0f;
    float kf = c * 1.44269504f;
    kf = (kf + 12582912.0f) - 12582912.0f; /* round to nearest integer */
    float r = c - kf * 0.693145752f;
    r = r - kf * 1.42860677e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t ki = (int32_t)kf;
    uint32_t bits = (uint32_t)(ki + 127) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    float y = p * s;
    y = x < -87.5f ? 0.0f : y;
    return x == x ? y : x;
}

static float expf_scalar(float x) {
    return dm_exp(x);
}

/* GELU(x) = 0.5 * x * (1 + erf(x / sqrt 2)) = 0.5 * x * erfc(-x / sqrt 2). */
static inline float dm_gelu(float x) {
    float z = x / 1.41421354f; /* the graph divides by float(sqrt 2) */
    float az = z < 0.0f ? -z : z;
    float t = 1.0f / (1.0f + 0.5f * az);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float e = t * dm_exp(p - az * az); /* erfc(|z|) */
    float one_plus_erf = z < 0.0f ? e : 2.0f - e;
    return (x * one_plus_erf) * 0.5f;
}

static inline float dm_sigmoid(float x) {
    return 1.0f / (1.0f + dm_exp(-x));
}

static void gelu(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        float *p = x + i;
        for (int j = 0; j < VB; j++)
            p[j] = dm_gelu(p[j]);
    }
    for (; i < n; i++)
        x[i] = dm_gelu(x[i]);
}

static void glu(const float *a, const float *b, float *out, int64_t n) {
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        float tmp[VB];
        for (int j = 0; j < VB; j++)
            tmp[j] = a[i + j] * dm_sigmoid(b[i + j]);
        for (int j = 0; j < VB; j++)
            out[i + j] = tmp[j];
    }
    for (; i < n; i++)
        out[i] = a[i] * dm_sigmoid(b[i]);
}

/* y[i] += s * a[i] * sigmoid(b[i]): the DConv's GLU + LayerScale + residual. */
static void glu_residual(const float *a, const float *b, float s, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        float tmp[VB];
        for (int j = 0; j < VB; j++)
            tmp[j] = s * (a[i + j] * dm_sigmoid(b[i + j]));
        for (int j = 0; j < VB; j++)
            y[i + j] += tmp[j];
    }
    for (; i < n; i++)
        y[i] += s * (a[i] * dm_sigmoid(b[i]));
}

/* Double sums of one row of n floats (16 accumulators, fixed combination order). */
static void row_sums(const float *p, int64_t n, double *s_out, double *ss_out) {
    double s[VB] = {0}, ss[VB] = {0};
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        for (int j = 0; j < VB; j++) {
            double v = (double)p[i + j];
            s[j] += v;
            ss[j] += v * v;
        }
    }
    double ts = 0.0, tss = 0.0;
    for (; i < n; i++) {
        ts += (double)p[i];
        tss += (double)p[i] * (double)p[i];
    }
    for (int j = 0; j < VB; j++) {
        ts += s[j];
        tss += ss[j];
    }
    *s_out = ts;
    *ss_out = tss;
}

/* ORT's InstanceNormalization + Mul + Add: ((x - mean) / den) * g + be. */
static void norm_row(float *p, int64_t t, float mean, float den, float g, float be) {
    int64_t i = 0;
    for (; i + VB <= t; i += VB) {
        for (int j = 0; j < VB; j++) {
            float v = (p[i + j] - mean) / den;
            v = v * g;
            p[i + j] = v + be;
        }
    }
    for (; i < t; i++) {
        float v = (p[i] - mean) / den;
        v = v * g;
        p[i] = v + be;
    }
}

/* ---------------------------------------------------------------------------------------- */

const dumu_dm_kernels DUMU_VARIANT(dumu_dm_kernels) = {
    .add = add,
    .add2 = add2,
    .axpb = axpb,
    .addc = addc,
    .expf = expf_scalar,
    .gelu = gelu,
    .glu = glu,
    .glu_residual = glu_residual,
    .row_sums = row_sums,
    .norm_row = norm_row,
};
