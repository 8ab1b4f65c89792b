/* cqt.h - Basic Pitch's harmonic-CQT front end (spec: docs/basic_pitch.md §2, §6.1):
 * 9-level half-band decimation, 36-bin complex kernel correlation per level, magnitude,
 * normalised log, scalar batch norm and harmonic stacking, bit-exact with tfjs `cpu`.
 *
 * Shapes (one model window):
 *   x  (43844)      audio samples, 22050 Hz mono
 *   C  (172, 309)   CQT magnitude, frame-major, bin b = 27.5 * 2^(b/36) Hz
 *   N  (172, 309)   normalised log in [0, 1]
 *   B  (172, 309)   after batch norm
 *   H  (172, 264, 8) harmonic stack, H[t][f][c] = B[t][f + shift[c]] or 0 outside [0, 309)
 *
 * The plan holds the constants read from the model (who owns: the model); a work struct
 * holds one thread's scratch (who owns: the caller, one per thread).
 */
#ifndef DUMU_DSP_CQT_H
#define DUMU_DSP_CQT_H

#include <stdint.h>

#include "dumu/dumu.h"

#define DUMU_CQT_TAPS    256 /* kernel and low-pass length */
#define DUMU_CQT_KBINS   36  /* kernel columns = bins per octave */
#define DUMU_CQT_BINS    309
#define DUMU_CQT_LEVELS  9
#define DUMU_CQT_FRAMES  172
#define DUMU_CQT_WINDOW  43844 /* samples per model window */
#define DUMU_CQT_N_HARM  8
#define DUMU_CQT_STACKED 264 /* harmonic-stack bins (88 * 3) */

/* Harmonic shifts in bins, round(36 * log2 h) for h = 0.5, 1, 2, ..., 7. */
extern const int32_t dumu_cqt_harmonic_shift[DUMU_CQT_N_HARM];

typedef struct dumu_cqt_plan {
    float kre[DUMU_CQT_TAPS * DUMU_CQT_KBINS]; /* (n, k) real kernel, tap-major, as stored */
    float kim[DUMU_CQT_TAPS * DUMU_CQT_KBINS]; /* (n, k) imaginary kernel */
    float lowpass[DUMU_CQT_TAPS];              /* half-band decimation filter */
    float scale[DUMU_CQT_BINS];                /* sqrt(len_b) per final bin */
    float log_eps;                             /* 1e-10f (normalized_log add/y) */
    float log_mul;                             /* 10/ln 10 as float (normalized_log truediv) */
    float bn_scale, bn_offset;                 /* folded scalar batch norm */
    /* derived by dumu_cqt_plan_finish */
    int32_t kb[DUMU_CQT_KBINS], ke[DUMU_CQT_KBINS]; /* nonzero taps [kb, ke) of column k */
    double kre_d[DUMU_CQT_TAPS * DUMU_CQT_KBINS];   /* kre, kim, lowpass as doubles */
    double kim_d[DUMU_CQT_TAPS * DUMU_CQT_KBINS];
    double lowpass_d[DUMU_CQT_TAPS];
    int32_t exp_min_k, exp_min_h; /* floor(log2) of the smallest nonzero |kernel|, |lowpass| */
} dumu_cqt_plan;

/* Derives the tap ranges and double copies once the float constants are filled. Fails with
 * DUMU_E_MODEL (message in err) if a kernel column is all zero or a constant is not finite. */
dumu_status dumu_cqt_plan_finish(dumu_cqt_plan *p, dumu_error *err);

/* One thread's scratch for dumu_cqt_window. */
typedef struct dumu_cqt_work {
    float *sig;     /* the 9 level signals, concatenated (43844 + 21922 + ... + 171) */
    float *xpad;    /* one reflect-padded level (43844 + 256) */
    float *re, *im; /* (172, 36) correlations of one level */
    double *dbuf;   /* polyphase / even-odd doubles for the fast kernels */
} dumu_cqt_work;

dumu_status dumu_cqt_work_init(dumu_cqt_work *w);
void dumu_cqt_work_deinit(dumu_cqt_work *w);

/* CQT magnitude C (172, 309) of the window x (43844). `fast` selects the SIMD kernels,
 * which are bit-identical to the reference loops. */
void dumu_cqt_magnitude(const dumu_cqt_plan *p, const float *x, float *C, dumu_cqt_work *w,
                        int fast);

/* Normalised log (§2.5, §6.1) of C (172, 309) into N (may alias C). `fast` takes the logs
 * from dumu_simd_log_f32 (bit-identical to the plain (float)log((double)q)). */
void dumu_cqt_normalized_log(const dumu_cqt_plan *p, const float *C, float *N, int fast);

/* B = N * bn_scale + bn_offset, two float roundings (may alias). n = 172 * 309. */
void dumu_cqt_batch_norm(const dumu_cqt_plan *p, const float *N, float *B, int64_t n);

/* Harmonic stack (§2.7): H (172, 264, 8) from B (172, 309). */
void dumu_cqt_harmonic_stack(const float *B, float *H);

/* ---------------------------------------------------------------------------------------- */
/* Kernels (reference loops and their fast twins; exposed for tests) */

/* Half-band decimation (§2.2 step 1): out[i] = sum_n padded[2i + n] * h[n], padded = 127
 * zeros + x + 127 zeros, i < n/2, exact recipe. */
void dumu_cqt_decimate_ref(const float *x, int64_t n, const float *h, float *out);
/* Same, SIMD; `scratch` holds dumu_cqt_decimate_scratch(n) doubles. Bit-identical. */
void dumu_cqt_decimate_fast(const dumu_cqt_plan *p, const float *x, int64_t n, float *out,
                            double *scratch);
int64_t dumu_cqt_decimate_scratch(int64_t n);

/* Kernel correlation (§2.2 step 5) over the reflect-padded level xpad (n_pad samples):
 * re[t][k] = sum_{n<256} xpad[t*hop + n] * kre[n][k], im likewise (not negated), for
 * t < 172 and k in [k0, 36); re/im are (172, 36). The reference runs all 256 taps. */
void dumu_cqt_correlate_ref(const float *xpad, int hop, const float *kre, const float *kim, int k0,
                            float *re, float *im);
/* Same, SIMD, skipping the zero taps outside [kb, ke) (adding +-0 is exact);
 * `scratch` holds dumu_cqt_correlate_scratch(n_pad, hop) doubles. Bit-identical for finite
 * input. */
void dumu_cqt_correlate_fast(const float *xpad, int64_t n_pad, int hop, const dumu_cqt_plan *p,
                             int k0, float *re, float *im, double *scratch);
int64_t dumu_cqt_correlate_scratch(int64_t n_pad, int hop);

/* Reflect padding by 128 on each side, excluding the edge sample: out has n + 256 samples.
 * Needs n >= 129. */
void dumu_cqt_reflect_pad(const float *x, int64_t n, float *out);

/* Closed forms of the stored constants, in double (§2.3, §2.4), for validation:
 * kre/kim (256, 36) tap-major, h (256). */
void dumu_cqt_kernel_closed_form(double *kre, double *kim);
void dumu_cqt_lowpass_closed_form(double *h);

#endif /* DUMU_DSP_CQT_H */
