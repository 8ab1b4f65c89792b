/* vmath.h - the scalar exp and GELU that the transformer's vector kernels implement lane by
 * lane (src/nn/kernels/gemm_kernels.c): their constants, and the scalar forms used for
 * plain-C builds and as the tests' specification. Header-only (static inline) because every
 * kernel build includes it.
 *
 *   dumu_expf(x): max relative error ~1 ulp for x in [-87, 88]; 0 below about -103.9
 *   (subnormals in between), +inf above 88.73; NaN propagates.
 *   dumu_geluf(x): 0.5 x (1 + erf(x / sqrt(2))) with relative error a few 1e-7 for every x,
 *   including the negative tail.
 * dm_kernels.c has a second exp and GELU from the same fits without fmaf (every build of it
 * gives the same bits); its header says why the two stay apart. */
#ifndef DUMU_NN_KERNELS_VMATH_H
#define DUMU_NN_KERNELS_VMATH_H

#include <math.h>

/* exp: x = n ln2 + r, |r| <= ln2/2 (ln2 in two parts: Cody-Waite), e^r by its degree-7
 * Taylor polynomial (truncation error r^8/8! < 6e-9 relative), times 2^n. */
#define EXP_LO -104.0f /* exp(-104) < 2^-149 / 2: rounds to 0 */
#define EXP_HI 88.8f   /* exp(88.8) > FLT_MAX: rounds to inf */
#define LOG2E  1.44269502f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define EXP_C2 0.5f
#define EXP_C3 0.166666672f
#define EXP_C4 4.16666679e-2f
#define EXP_C5 8.33333377e-3f
#define EXP_C6 1.38888892e-3f
#define EXP_C7 1.98412701e-4f

/* erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), z >= 0: the Chebyshev-fitted form given in
 * W. Press et al., "Numerical Recipes in C" (2nd ed., sec. 6.2, erfcc), fractional error
 * < 1.2e-7 for all z >= 0. The coefficients below are the published ones. */
#define ERFC_P0 -1.26551223f
#define ERFC_P1 1.00002368f
#define ERFC_P2 0.37409196f
#define ERFC_P3 0.09678418f
#define ERFC_P4 -0.18628806f
#define ERFC_P5 0.27886807f
#define ERFC_P6 -1.13520398f
#define ERFC_P7 1.48851587f
#define ERFC_P8 -0.82215223f
#define ERFC_P9 0.17087277f
#define SQRT2_F 1.41421354f /* the graph's float constant 1.4142135381698608 */

static inline float dumu_expf(float x) {
    x = x > EXP_LO ? x : (x != x ? x : EXP_LO); /* keep NaN */
    x = x < EXP_HI ? x : (x != x ? x : EXP_HI);
    float n = nearbyintf(x * LOG2E);
    float r = fmaf(-n, LN2_HI, x);
    r = fmaf(-n, LN2_LO, r);
    float p = EXP_C7;
    p = fmaf(p, r, EXP_C6);
    p = fmaf(p, r, EXP_C5);
    p = fmaf(p, r, EXP_C4);
    p = fmaf(p, r, EXP_C3);
    p = fmaf(p, r, EXP_C2);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    return ldexpf(p, (int)n);
}

static inline float dumu_geluf(float x) {
    float u = x / SQRT2_F;
    float z = fabsf(u);
    float t = 1.0f / fmaf(0.5f, z, 1.0f);
    float q = ERFC_P9;
    q = fmaf(q, t, ERFC_P8);
    q = fmaf(q, t, ERFC_P7);
    q = fmaf(q, t, ERFC_P6);
    q = fmaf(q, t, ERFC_P5);
    q = fmaf(q, t, ERFC_P4);
    q = fmaf(q, t, ERFC_P3);
    q = fmaf(q, t, ERFC_P2);
    q = fmaf(q, t, ERFC_P1);
    q = fmaf(q, t, ERFC_P0);
    /* exp(-z^2 + q) as exp(-zz) exp(q) (1 - zr) with z^2 = zz + zr exactly: a single
     * exp(-z^2 + q) would lose ~|z^2| ulp of relative accuracy in the negative tail. */
    float zz = z * z, zr = fmaf(z, z, -zz);
    float erfc = t * dumu_expf(-zz) * (dumu_expf(q) * (1.0f - zr));
    float one_plus_erf = u >= 0.0f ? 2.0f - erfc : erfc; /* NaN: erfc is NaN */
    return 0.5f * x * one_plus_erf;
}

#endif /* DUMU_NN_KERNELS_VMATH_H */
