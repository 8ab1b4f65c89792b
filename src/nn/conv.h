/* conv.h - 2-D convolutions for the Basic Pitch network: the tfjs-cpu reference loop and a
 * fast direct convolution on channel-planar, zero-padded layouts.
 *
 * Two layouts:
 *   NHWC   (rows, cols, channels) row-major, channels contiguous - what the reference uses
 *          (the network's tensors are [1][time][freq][channel]).
 *   planar a "plane set": element (c, t, j) at base[c*ps + t*rs + j], where `base` points at
 *          (0, 0, 0) and every plane carries zero rows above/below and zero columns left/right,
 *          so that convolution taps never need bounds checks. All plane buffers are owned by
 *          the caller; nothing here allocates except the plan builders.
 *
 * The fast convolution is described by a tap list (dumu_conv_plan): tap i reads
 * in[t*rs + j + off[i]] with weight w[i][o]. A plain SAME convolution, a stride-3 one (input
 * split into 3 column phases) and Basic Pitch's merged harmonic convolutions all become tap
 * lists, so one register-blocked kernel (src/nn/kernels/bp_kernels.c) serves every layer.
 */
#ifndef DUMU_NN_CONV_H
#define DUMU_NN_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "dumu/dumu.h"

typedef enum dumu_act {
    DUMU_ACT_NONE = 0,
    DUMU_ACT_RELU = 1,    /* x < 0 ? 0 : x */
    DUMU_ACT_SIGMOID = 2, /* (float)(1 / (1 + exp(-(double)x))) */
} dumu_act;

/* ---------------------------------------------------------------------------------------- */
/* Reference (spec: docs/basic_pitch.md §3.1, §6.1) */

/* TensorFlow SAME padding along one axis: returns the output size ceil(n/stride) and stores
 * the zeros added before the first element in *pad_before. */
int dumu_conv_same(int n, int k, int stride, int *pad_before);

/* Shape of one of the network's conv2d layers: stride 1 in time and `sw` in frequency, SAME
 * zero padding on both axes (dumu_conv_same). */
typedef struct dumu_conv2d_geom {
    int h, w, cin;    /* input (h, w, cin) NHWC: time rows, frequency columns, channels */
    int kh, kw, cout; /* kernel (kh, kw, cin, cout) HWIO */
    int sw;           /* frequency stride; the output has ceil(w / sw) columns */
} dumu_conv2d_geom;

/* The tfjs `cpu` conv2d, bit-exact: for every output element the accumulator starts at 0.0f
 * and runs over taps kh -> kw -> input channel as acc = (float)((double)acc + (double)x *
 * (double)w); then bias (one float add) and the activation.
 *   in   (g.h, g.w, g.cin) NHWC;  k (g.kh, g.kw, g.cin, g.cout) HWIO;  bias (g.cout) or NULL
 *   out  (g.h, ceil(g.w / g.sw), g.cout) NHWC; only rows [t0, t1) are written. */
void dumu_conv2d_ref(const float *in, const float *k, const float *bias, dumu_conv2d_geom g,
                     dumu_act act, float *out, int t0, int t1);

/* Sigmoid exactly as the reference: (float)(1.0 / (1.0 + exp(-(double)x))). */
float dumu_sigmoid_ref(float x);

/* ---------------------------------------------------------------------------------------- */
/* Fast direct convolution on planar layouts */

typedef struct dumu_conv_plan {
    int32_t n_taps;         /* input taps per output element */
    int32_t cout;           /* output channels */
    int32_t ob;             /* output channels per register block: 8, or 1 when cout % 8 != 0 */
    ptrdiff_t in_ps, in_rs; /* the input layout the offsets were computed for */
    int32_t *off;           /* (n_taps) element offset of tap i from in + t*rs + j; owned */
    float *w;               /* (cout/ob, n_taps, ob) weights; owned, 64-byte aligned */
    float *bias;            /* (cout); owned */
} dumu_conv_plan;

/* Allocates a plan with room for n_taps taps and cout outputs (offsets, weights and bias
 * zeroed) for input layout (in_ps, in_rs). */
dumu_status dumu_conv_plan_alloc(dumu_conv_plan *p, int n_taps, int cout, ptrdiff_t in_ps,
                                 ptrdiff_t in_rs);

/* Weight of tap i for output o inside the packed layout. */
static inline float *dumu_conv_plan_weight(const dumu_conv_plan *p, int i, int o) {
    return &p->w[((size_t)(o / p->ob) * (size_t)p->n_taps + (size_t)i) * (size_t)p->ob +
                 (size_t)(o % p->ob)];
}

/* Plan for the conv2d g with HWIO kernel k (g.kh, g.kw, g.cin, g.cout) (the SAME padding of
 * dumu_conv2d_ref: (kh-1)/2 rows above, dumu_conv_same's columns before). For g.sw > 1 the
 * input plane set must be phase-split (dumu_conv_phase_split): plane c*sw + p holds columns
 * p, p+sw, p+2sw, ... of channel c. `bias` may be NULL. */
dumu_status dumu_conv_plan_init(dumu_conv_plan *p, const float *k, const float *bias,
                                dumu_conv2d_geom g, ptrdiff_t in_ps, ptrdiff_t in_rs);

void dumu_conv_plan_free(dumu_conv_plan *p);

/* Runs a plan: for o < cout, t in [t0, t1), j in [0, n_cols):
 *     out[o*out_ps + t*out_rs + j] = act(init + sum_i w[i][o] * in[t*rs + j + off[i]])
 * with init = bias[o], or the value already in `out` when `accumulate` is nonzero. act is
 * DUMU_ACT_NONE or DUMU_ACT_RELU. Float32 accumulation in any order (not bit-exact with the
 * reference; ~1e-7 relative). The kernel may read input columns up to round_up(n_cols, 16)
 * + max(off) and, when accumulating, out columns up to round_up(n_cols, 16); it writes only
 * [0, n_cols). Implemented by dumu_bp_simd()->conv (nn/simd.h). */
void dumu_conv_plan_run(const dumu_conv_plan *p, const float *in, float *out, ptrdiff_t out_ps,
                        ptrdiff_t out_rs, int t0, int t1, int n_cols, dumu_act act, int accumulate);

/* The plain loop that dumu_conv_plan_run must equal (double accumulation, tap order). */
void dumu_conv_plan_run_ref(const dumu_conv_plan *p, const float *in, float *out, ptrdiff_t out_ps,
                            ptrdiff_t out_rs, int t0, int t1, int n_cols, dumu_act act,
                            int accumulate);

/* ---------------------------------------------------------------------------------------- */
/* Batched FFT (for convolutions along frequency) */

#define DUMU_FFT_LANES 16 /* independent transforms per batch, the fastest-varying index */

/* Twiddles of an n-point FFT: cos/sin(2 pi j / n), j < n/2, computed in double. */
void dumu_fft_twiddles(int log2n, float *tw_cos, float *tw_sin);

/* The transform of dumu_bp_kernels.fft16 (nn/simd.h) as a direct DFT in double, for any n (reference for tests; O(n^2)). */
void dumu_dft16_ref(float *re, float *im, int n, int sign);

/* Splits planar input into column phases: out plane (c*s + p), row t, column q gets
 * in[c][t][q*s + p] when q*s + p < w, else 0, for q in [0, ceil(w/s)), rows [t0, t1). */
void dumu_conv_phase_split(const float *in, ptrdiff_t in_ps, ptrdiff_t in_rs, int c, int t0, int t1,
                           int w, int s, float *out, ptrdiff_t out_ps, ptrdiff_t out_rs);

/* NHWC (rows, w, c) -> planar rows [t0, t1); and back. */
void dumu_nhwc_to_planar(const float *in, int rows, int w, int c, float *out, ptrdiff_t ps,
                         ptrdiff_t rs, int t0, int t1);
void dumu_planar_to_nhwc(const float *in, ptrdiff_t ps, ptrdiff_t rs, int rows, int w, int c,
                         float *out, int t0, int t1);

#endif /* DUMU_NN_CONV_H */
