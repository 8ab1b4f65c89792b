/* conv.c - reference conv2d (tfjs-cpu bit-exact), tap-list plans for the fast planar
 * convolution, and layout helpers.
 *
 * DESIGN
 *   The reference loop is the spec (docs/basic_pitch.md §6.1): one float accumulator per
 *   output, taps in kh -> kw -> cin order, each step rounded through double. It is slow and
 *   exact, and is what tests and the reference network path use.
 *   The fast path never sees NHWC: activations live in zero-padded planes and every
 *   convolution is a list of (offset, weight[cout]) taps run by one register-blocked kernel
 *   (kernels/bp_kernels.c). This file builds those lists for plain and strided SAME convolutions;
 *   models build special ones themselves (e.g. Basic Pitch's merged harmonic taps).
 *
 * ref: tfjs-backend-cpu conv2D (the kh, kw, cin loop order), TensorFlow SAME padding rule.
 */
#include "nn/conv.h"

#include <math.h>
#include <string.h>

#include "core/core.h"
#include "nn/simd.h"

int dumu_conv_same(int n, int k, int stride, int *pad_before) {
    int out = (n + stride - 1) / stride;
    int total = (out - 1) * stride + k - n;
    if (total < 0) total = 0;
    *pad_before = total / 2;
    return out;
}

float dumu_sigmoid_ref(float x) {
    return (float)(1.0 / (1.0 + exp(-(double)x)));
}

static float apply_act(float v, dumu_act act) {
    switch (act) {
    case DUMU_ACT_RELU: return v < 0.0f ? 0.0f : v;
    case DUMU_ACT_SIGMOID: return dumu_sigmoid_ref(v);
    case DUMU_ACT_NONE: break;
    }
    return v;
}

void dumu_conv2d_ref(const float *in, const float *k, const float *bias, dumu_conv2d_geom g,
                     dumu_act act, float *out, int t0, int t1) {
    int h = g.h, w = g.w, cin = g.cin, kh = g.kh, kw = g.kw, cout = g.cout, sw = g.sw;
    int pad_t, pad_l;
    dumu_conv_same(h, kh, 1, &pad_t);
    int wo = dumu_conv_same(w, kw, sw, &pad_l);
    for (int t = t0; t < t1; t++) {
        for (int j = 0; j < wo; j++) {
            for (int o = 0; o < cout; o++) {
                float acc = 0.0f;
                for (int a = 0; a < kh; a++) {
                    int r = t + a - pad_t;
                    if (r < 0 || r >= h) continue; /* zero padding adds +0: a no-op */
                    for (int b = 0; b < kw; b++) {
                        int f = j * sw + b - pad_l;
                        if (f < 0 || f >= w) continue;
                        const float *x = &in[((size_t)r * (size_t)w + (size_t)f) * (size_t)cin];
                        const float *kk =
                            &k[(((size_t)a * (size_t)kw + (size_t)b) * (size_t)cin) * (size_t)cout +
                               (size_t)o];
                        for (int c = 0; c < cin; c++) {
                            acc = (float)((double)acc +
                                          (double)x[c] * (double)kk[(size_t)c * (size_t)cout]);
                        }
                    }
                }
                if (bias) acc = acc + bias[o];
                out[((size_t)t * (size_t)wo + (size_t)j) * (size_t)cout + (size_t)o] =
                    apply_act(acc, act);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Plans */

dumu_status dumu_conv_plan_alloc(dumu_conv_plan *p, int n_taps, int cout, ptrdiff_t in_ps,
                                 ptrdiff_t in_rs) {
    memset(p, 0, sizeof *p);
    if (n_taps < 1 || cout < 1) return DUMU_E_INVALID_ARG;
    p->n_taps = n_taps;
    p->cout = cout;
    p->ob = cout % 8 == 0 ? 8 : 1;
    p->in_ps = in_ps;
    p->in_rs = in_rs;
    p->off = dumu_calloc((size_t)n_taps, sizeof *p->off);
    p->w = dumu_calloc((size_t)n_taps * (size_t)cout, sizeof *p->w);
    p->bias = dumu_calloc((size_t)cout, sizeof *p->bias);
    if (!p->off || !p->w || !p->bias) {
        dumu_conv_plan_free(p);
        return DUMU_E_NOMEM;
    }
    return DUMU_OK;
}

void dumu_conv_plan_free(dumu_conv_plan *p) {
    if (!p) return;
    dumu_free(p->off);
    dumu_free(p->w);
    dumu_free(p->bias);
    memset(p, 0, sizeof *p);
}

/* Floor division and modulo for a possibly negative numerator. */
static int floor_div(int a, int b) {
    int q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

dumu_status dumu_conv_plan_init(dumu_conv_plan *p, const float *k, const float *bias,
                                dumu_conv2d_geom g, ptrdiff_t in_ps, ptrdiff_t in_rs) {
    int kh = g.kh, kw = g.kw, cin = g.cin, cout = g.cout, sw = g.sw, pad_l;
    dumu_conv_same(g.w, kw, sw, &pad_l);
    int n_taps = kh * kw * cin;
    dumu_status st = dumu_conv_plan_alloc(p, n_taps, cout, in_ps, in_rs);
    if (st) return st;
    int pad_t = (kh - 1) / 2;
    int i = 0;
    for (int a = 0; a < kh; a++) {
        for (int b = 0; b < kw; b++) {
            int d = b - pad_l; /* input column = j*sw + d */
            int q = floor_div(d, sw), ph = d - q * sw;
            for (int c = 0; c < cin; c++, i++) {
                p->off[i] = (int32_t)((ptrdiff_t)(c * sw + ph) * in_ps +
                                      (ptrdiff_t)(a - pad_t) * in_rs + q);
                for (int o = 0; o < cout; o++) {
                    *dumu_conv_plan_weight(p, i, o) =
                        k[(((size_t)a * (size_t)kw + (size_t)b) * (size_t)cin + (size_t)c) *
                              (size_t)cout +
                          (size_t)o];
                }
            }
        }
    }
    for (int o = 0; o < cout; o++)
        p->bias[o] = bias ? bias[o] : 0.0f;
    return DUMU_OK;
}

void dumu_conv_plan_run(const dumu_conv_plan *p, const float *in, float *out, ptrdiff_t out_ps,
                        ptrdiff_t out_rs, int t0, int t1, int n_cols, dumu_act act,
                        int accumulate) {
    DUMU_ASSERT(act == DUMU_ACT_NONE || act == DUMU_ACT_RELU);
    dumu_bp_simd()->conv(p, in, out, out_ps, out_rs, t0, t1, n_cols, act, accumulate);
}

void dumu_conv_plan_run_ref(const dumu_conv_plan *p, const float *in, float *out, ptrdiff_t out_ps,
                            ptrdiff_t out_rs, int t0, int t1, int n_cols, dumu_act act,
                            int accumulate) {
    for (int o = 0; o < p->cout; o++) {
        for (int t = t0; t < t1; t++) {
            float *y = out + (ptrdiff_t)o * out_ps + (ptrdiff_t)t * out_rs;
            const float *x = in + (ptrdiff_t)t * p->in_rs;
            for (int j = 0; j < n_cols; j++) {
                double acc = accumulate ? (double)y[j] : (double)p->bias[o];
                for (int i = 0; i < p->n_taps; i++) {
                    acc += (double)x[j + p->off[i]] * (double)*dumu_conv_plan_weight(p, i, o);
                }
                y[j] = apply_act((float)acc, act);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* FFT */

void dumu_fft_twiddles(int log2n, float *tw_cos, float *tw_sin) {
    const double pi = 3.14159265358979323846;
    int n = 1 << log2n;
    for (int j = 0; j < n / 2; j++) {
        tw_cos[j] = (float)cos(2.0 * pi * j / n);
        tw_sin[j] = (float)sin(2.0 * pi * j / n);
    }
}

void dumu_dft16_ref(float *re, float *im, int n, int sign) {
    const double pi = 3.14159265358979323846;
    double *xr = dumu_malloc((size_t)n * 2 * sizeof(double)), *xi = xr + n;
    DUMU_ASSERT(xr);
    for (int lane = 0; lane < DUMU_FFT_LANES; lane++) {
        for (int j = 0; j < n; j++) {
            xr[j] = (double)re[j * DUMU_FFT_LANES + lane];
            xi[j] = (double)im[j * DUMU_FFT_LANES + lane];
        }
        for (int k = 0; k < n; k++) {
            double sr = 0.0, si = 0.0;
            for (int j = 0; j < n; j++) {
                double a = 2.0 * pi * (double)(((int64_t)j * k) % n) / n;
                double c = cos(a), s = sign * sin(a);
                sr += xr[j] * c - xi[j] * s;
                si += xr[j] * s + xi[j] * c;
            }
            re[k * DUMU_FFT_LANES + lane] = (float)sr;
            im[k * DUMU_FFT_LANES + lane] = (float)si;
        }
    }
    dumu_free(xr);
}

/* ---------------------------------------------------------------------------------------- */
/* Layout helpers */

void dumu_conv_phase_split(const float *in, ptrdiff_t in_ps, ptrdiff_t in_rs, int c, int t0, int t1,
                           int w, int s, float *out, ptrdiff_t out_ps, ptrdiff_t out_rs) {
    int wq = (w + s - 1) / s;
    for (int ch = 0; ch < c; ch++) {
        for (int t = t0; t < t1; t++) {
            const float *x = in + (ptrdiff_t)ch * in_ps + (ptrdiff_t)t * in_rs;
            for (int ph = 0; ph < s; ph++) {
                float *y = out + (ptrdiff_t)(ch * s + ph) * out_ps + (ptrdiff_t)t * out_rs;
                for (int q = 0; q < wq; q++) {
                    int f = q * s + ph;
                    y[q] = f < w ? x[f] : 0.0f;
                }
            }
        }
    }
}

void dumu_nhwc_to_planar(const float *in, int rows, int w, int c, float *out, ptrdiff_t ps,
                         ptrdiff_t rs, int t0, int t1) {
    (void)rows;
    for (int t = t0; t < t1; t++) {
        for (int j = 0; j < w; j++) {
            const float *x = &in[((size_t)t * (size_t)w + (size_t)j) * (size_t)c];
            for (int ch = 0; ch < c; ch++) {
                out[(ptrdiff_t)ch * ps + (ptrdiff_t)t * rs + j] = x[ch];
            }
        }
    }
}

void dumu_planar_to_nhwc(const float *in, ptrdiff_t ps, ptrdiff_t rs, int rows, int w, int c,
                         float *out, int t0, int t1) {
    (void)rows;
    for (int t = t0; t < t1; t++) {
        for (int j = 0; j < w; j++) {
            float *y = &out[((size_t)t * (size_t)w + (size_t)j) * (size_t)c];
            for (int ch = 0; ch < c; ch++)
                y[ch] = in[(ptrdiff_t)ch * ps + (ptrdiff_t)t * rs + j];
        }
    }
}
