/* demucs_layers.c - htdemucs layers: convolutions as tiled-im2col GEMMs, ConvTranspose,
 * GLU, exact GELU, GroupNorm(1), DConv, and the encoder/decoder layers of both branches.
 *
 * DESIGN
 *   Convolutions are GEMMs (dumu_gemm: exact fp32, or bf16 in fast mode) over an im2col matrix that is built one tile of
 *   output columns at a time into caller scratch, so no layer ever holds a full-size im2col
 *   (a full one for decoder.3's 3x3 conv would be 283 MiB; docs/htdemucs.md §4.2).
 *
 *   The frequency branch is processed in tiles of whole frequency rows. Everything in a
 *   freq encoder layer after its conv (GELU, DConv over the frames of each bin, the 1x1
 *   rewrite and GLU) is local to a row, and so is everything in a freq decoder layer before
 *   its ConvTranspose; a tile therefore runs the whole layer in a few MiB of scratch, and
 *   tiles are spread over the worker threads (each with its own scratch slot, GEMMs
 *   single-threaded inside). ConvTranspose tiles of neighbouring rows write to shared output
 *   rows; the decoder runs even blocks of rows, then odd blocks, so no two concurrent tiles
 *   touch the same row, and every output gets exactly two contributions (stride 4, kernel
 *   8), which commute, so the result does not depend on the tile layout or thread count.
 *
 *   The time branch's GroupNorms take statistics over a whole layer (C x T), so its layers
 *   run on full-length tensors in one shared scratch region, with threaded GEMMs and the
 *   elementwise passes split over threads by channel.
 *
 *   Statistics (docs/htdemucs.md §5): DOUBLE takes per-row double sums (16 accumulators, fixed
 *   order) combined in row order, so a split over rows gives the same bits; LANES8 follows
 *   onnxruntime's 8-lane float32 reduction in flat order (sequential, bit-exact with ORT).
 *
 *   The elementwise and statistics loops (GELU, GLU, bias, row sums, GroupNorm apply) are the
 *   dumu_dm_kernels of nn/simd.h, vectorised per instruction set and picked at run time.
 *   FP contraction is off in ISO C mode; products and sums round as written.
 *
 * REFERENCES
 *   spec: docs/htdemucs.md §2 (layers, shapes), §4.2 (memory), §5 (numerics).
 *   ref: demucs/htdemucs.py HTDemucs.forward, demucs/hdemucs.py HEncLayer / HDecLayer,
 *   demucs/demucs.py DConv (facebookresearch/demucs). */
#include "demucs_layers.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dsp/stft.h"
#include "nn/gemm.h"
#include "nn/simd.h"

#define GN_EPS      1e-5f
#define FREQ_NF_MAX 4                  /* frequency rows per tile at most */
#define TIME_COLS   ((int64_t)1 << 21) /* floats of the time branch's tile region */

static int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b) {
    return a > b ? a : b;
}

/* ---------------------------------------------------------------------------------------- */
/* GELU and GLU references (the fast versions are nn/simd.h dumu_dm_kernels) */

void dumu_dm_gelu_ref(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        x[i] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
    }
}

void dumu_dm_glu_ref(const float *a, const float *b, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        out[i] = (float)((double)a[i] / (1.0 + exp(-(double)b[i])));
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Statistics */

static void finish_double_stats(double s, double ss, int64_t n, float *mean, float *var) {
    double m = s / (double)n;
    double v = ss / (double)n - m * m;
    *mean = (float)m;
    *var = (float)(v > 0.0 ? v : 0.0);
}

/* Adds x[r*ld + c] (rows x cols block) into the 8 lanes in flat order, for flat indices
 * below nmain; returns the tail (flat >= nmain) summed sequentially after the lanes.
 * With `sub`, adds float (x - mean)^2 instead of x. */
static float lanes8_pass(const float *x, int64_t rows, int64_t cols, int64_t ld, bool sub,
                         float mean) {
    int64_t n = rows * cols, nmain = n - n % 8;
    float lane[8] = {0};
    for (int64_t r = 0; r < rows; r++) {
        const float *p = x + r * ld;
        int64_t base = r * cols;
        int64_t cmain = min64(cols, max64(0, nmain - base));
        int l0 = (int)(base & 7);
        float rot[8];
        for (int j = 0; j < 8; j++)
            rot[j] = lane[(l0 + j) & 7];
        int64_t c = 0;
        if (sub) {
            for (; c + 8 <= cmain; c += 8) {
                for (int j = 0; j < 8; j++) {
                    float d = p[c + j] - mean;
                    float q = d * d;
                    rot[j] += q;
                }
            }
            for (; c < cmain; c++) {
                float d = p[c] - mean;
                float q = d * d;
                rot[c & 7] += q;
            }
        } else {
            for (; c + 8 <= cmain; c += 8) {
                for (int j = 0; j < 8; j++)
                    rot[j] += p[c + j];
            }
            for (; c < cmain; c++)
                rot[c & 7] += p[c];
        }
        for (int j = 0; j < 8; j++)
            lane[(l0 + j) & 7] = rot[j];
    }
    float s0 = lane[0] + lane[4], s1 = lane[1] + lane[5];
    float s2 = lane[2] + lane[6], s3 = lane[3] + lane[7];
    float u0 = s0 + s2, u1 = s1 + s3;
    float total = u0 + u1;
    for (int64_t f = nmain; f < n; f++) {
        float v = x[(f / cols) * ld + f % cols];
        if (sub) {
            float d = v - mean;
            float q = d * d;
            total += q;
        } else {
            total += v;
        }
    }
    return total;
}

void dumu_dm_block_stats(const float *x, int64_t rows, int64_t cols, int64_t ld,
                         dumu_dm_stats_mode mode, float *mean, float *var) {
    DUMU_ASSERT(rows >= 1 && cols >= 1 && ld >= cols);
    int64_t n = rows * cols;
    if (mode == DUMU_DM_STATS_LANES8) {
        float m = lanes8_pass(x, rows, cols, ld, false, 0.0f) / (float)n;
        float v = lanes8_pass(x, rows, cols, ld, true, m) / (float)n;
        *mean = m;
        *var = v;
        return;
    }
    double s = 0.0, ss = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        double rs, rss;
        dumu_dm_simd()->row_sums(x + r * ld, cols, &rs, &rss);
        s += rs;
        ss += rss;
    }
    finish_double_stats(s, ss, n, mean, var);
}

void dumu_dm_block_stats_ref(const float *x, int64_t rows, int64_t cols, int64_t ld,
                             dumu_dm_stats_mode mode, float *mean, float *var) {
    int64_t n = rows * cols;
    if (mode == DUMU_DM_STATS_LANES8) {
        /* Literal transcription of docs/htdemucs.md §5. */
        float lane[8] = {0};
        int64_t nmain = n - n % 8;
        for (int64_t f = 0; f < nmain; f++)
            lane[f % 8] += x[(f / cols) * ld + f % cols];
        float total = ((lane[0] + lane[4]) + (lane[2] + lane[6])) +
                      ((lane[1] + lane[5]) + (lane[3] + lane[7]));
        for (int64_t f = nmain; f < n; f++)
            total += x[(f / cols) * ld + f % cols];
        float m = total / (float)n;
        float lq[8] = {0};
        for (int64_t f = 0; f < nmain; f++) {
            float d = x[(f / cols) * ld + f % cols] - m;
            float q = d * d;
            lq[f % 8] += q;
        }
        float tq = ((lq[0] + lq[4]) + (lq[2] + lq[6])) + ((lq[1] + lq[5]) + (lq[3] + lq[7]));
        for (int64_t f = nmain; f < n; f++) {
            float d = x[(f / cols) * ld + f % cols] - m;
            float q = d * d;
            tq += q;
        }
        *mean = m;
        *var = tq / (float)n;
        return;
    }
    /* Two passes in double. */
    double s = 0.0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            s += (double)x[r * ld + c];
    double m = s / (double)n, q = 0.0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            q += ((double)x[r * ld + c] - m) * ((double)x[r * ld + c] - m);
    *mean = (float)m;
    *var = (float)(q / (double)n);
}

/* ---- threaded helpers ---------------------------------------------------------------- */

struct rowsum_ctx {
    const float *x;
    int64_t rows, cols, ld;
    double *s, *ss; /* (rows) */
};

static void rowsum_task(void *p, int ith, int nth) {
    struct rowsum_ctx *c = p;
    int64_t b, e;
    dumu_split(c->rows, ith, nth, &b, &e);
    for (int64_t r = b; r < e; r++)
        dumu_dm_simd()->row_sums(c->x + r * c->ld, c->cols, &c->s[r], &c->ss[r]);
}

/* Same bits as dumu_dm_block_stats, rows split over threads in DOUBLE mode. `tmp` holds
 * 2*rows doubles. */
static void block_stats_par(const float *x, int64_t rows, int64_t cols, int64_t ld,
                            dumu_dm_stats_mode mode, float *mean, float *var, int n_threads) {
    if (mode != DUMU_DM_STATS_DOUBLE || n_threads <= 1 || rows < 2 || rows > 4096 ||
        rows * cols < 65536) {
        dumu_dm_block_stats(x, rows, cols, ld, mode, mean, var);
        return;
    }
    double buf[2 * 4096];
    struct rowsum_ctx c = {x, rows, cols, ld, buf, buf + rows};
    dumu_parallel((int)min64(n_threads, rows), rowsum_task, &c);
    double s = 0.0, ss = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        s += buf[r];
        ss += buf[rows + r];
    }
    finish_double_stats(s, ss, rows * cols, mean, var);
}

/* y = x * a[c] + b[c] on (c, t) with channel stride cs, for channels [c0, c1). */
static void affine_rows(float *x, int64_t c0, int64_t c1, int64_t t, int64_t cs, const float *a,
                        const float *b) {
    for (int64_t ch = c0; ch < c1; ch++) {
        float *p = x + ch * cs;
        dumu_dm_simd()->axpb(p, a[ch], b[ch], t);
    }
}

struct gn_ctx {
    float *x;
    int64_t c, t, cs;
    const float *a, *b;        /* DOUBLE: folded scale/shift per channel */
    const float *gamma, *beta; /* LANES8 */
    float mean, den;
    dumu_dm_stats_mode mode;
};

static void gn_apply_task(void *p, int ith, int nth) {
    struct gn_ctx *g = p;
    int64_t b, e;
    dumu_split(g->c, ith, nth, &b, &e);
    if (g->mode == DUMU_DM_STATS_LANES8) {
        for (int64_t ch = b; ch < e; ch++)
            dumu_dm_simd()->norm_row(g->x + ch * g->cs, g->t, g->mean, g->den, g->gamma[ch],
                                     g->beta[ch]);
    } else {
        affine_rows(g->x, b, e, g->t, g->cs, g->a, g->b);
    }
}

void dumu_dm_groupnorm(float *x, int64_t c, int64_t t, int64_t cs, const float *gamma,
                       const float *beta, dumu_dm_stats_mode mode, int n_threads) {
    DUMU_ASSERT(c >= 1 && c <= 4096 && t >= 1 && cs >= t);
    float mean, var;
    block_stats_par(x, c, t, cs, mode, &mean, &var, n_threads);
    float a[4096], b[4096];
    struct gn_ctx g = {x, c, t, cs, a, b, gamma, beta, mean, 0.0f, mode};
    if (mode == DUMU_DM_STATS_LANES8) {
        g.den = sqrtf(var + GN_EPS);
    } else {
        double rstd = 1.0 / sqrt((double)var + (double)GN_EPS);
        for (int64_t ch = 0; ch < c; ch++) {
            double sc = rstd * (double)gamma[ch];
            a[ch] = (float)sc;
            b[ch] = (float)((double)beta[ch] - (double)mean * sc);
        }
    }
    int nth = (n_threads > 1 && c * t >= 65536) ? (int)min64(n_threads, c) : 1;
    if (nth > 1) {
        dumu_parallel(nth, gn_apply_task, &g);
    } else {
        gn_apply_task(&g, 0, 1);
    }
}

void dumu_dm_groupnorm_ref(float *x, int64_t c, int64_t t, int64_t cs, const float *gamma,
                           const float *beta, dumu_dm_stats_mode mode) {
    float mean, var;
    dumu_dm_block_stats_ref(x, c, t, cs, mode, &mean, &var);
    for (int64_t ch = 0; ch < c; ch++) {
        for (int64_t i = 0; i < t; i++) {
            float *p = &x[ch * cs + i];
            if (mode == DUMU_DM_STATS_LANES8) {
                float v = (*p - mean) / sqrtf(var + GN_EPS);
                v = v * gamma[ch];
                *p = v + beta[ch];
            } else {
                double v = ((double)*p - (double)mean) / sqrt((double)var + 1e-5);
                *p = (float)(v * (double)gamma[ch] + (double)beta[ch]);
            }
        }
    }
}

/* ---- input normalisation ------------------------------------------------------------- */

struct norm_ctx {
    float *x;
    int64_t n;
    float mean, den;
};

static void norm_task(void *p, int ith, int nth) {
    struct norm_ctx *c = p;
    int64_t b, e;
    dumu_split(c->n, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++)
        c->x[i] = (c->x[i] - c->mean) / c->den;
}

static void input_stats(const float *x, int64_t n, dumu_dm_stats_mode mode, bool ref, float *mean,
                        float *std) {
    float m, v;
    if (ref) {
        dumu_dm_block_stats_ref(x, 1, n, n, mode, &m, &v);
    } else {
        dumu_dm_block_stats(x, 1, n, n, mode, &m, &v);
    }
    *mean = m;
    if (mode == DUMU_DM_STATS_LANES8) {
        /* ReduceMean((X - mu)^2) * N/(N-1), then Sqrt, all float32 (docs/htdemucs.md §2.2, §5). */
        float corr = (float)((double)n / (double)(n - 1));
        *std = sqrtf(v * corr);
    } else {
        *std = (float)sqrt((double)v * (double)n / (double)(n - 1));
    }
}

void dumu_dm_normalize(float *x, int64_t n, dumu_dm_stats_mode mode, float *mean, float *std,
                       int n_threads) {
    DUMU_ASSERT(n >= 2);
    input_stats(x, n, mode, false, mean, std);
    struct norm_ctx c = {x, n, *mean, *std + 1e-5f};
    dumu_parallel(n >= 65536 ? n_threads : 1, norm_task, &c);
}

void dumu_dm_normalize_ref(float *x, int64_t n, dumu_dm_stats_mode mode, float *mean, float *std) {
    input_stats(x, n, mode, true, mean, std);
    for (int64_t i = 0; i < n; i++)
        x[i] = (x[i] - *mean) / (*std + 1e-5f);
}

/* ---- threaded elementwise passes ------------------------------------------------------- */

enum ew_op { EW_BIAS_GELU, EW_BIAS, EW_GLU, EW_GLU_RES, EW_ADD };

struct ew_ctx {
    enum ew_op op;
    float *y;           /* (c, n), channel stride cs */
    const float *src;   /* EW_GLU*: (2c, n), channel stride scs; EW_ADD: (c, n), scs */
    const float *b;     /* bias (c) or NULL */
    const float *scale; /* EW_GLU_RES: LayerScale (c) */
    int64_t c, n, cs, scs;
};

static void ew_task(void *p, int ith, int nth) {
    struct ew_ctx *e = p;
    int64_t b0, b1;
    dumu_split(e->c, ith, nth, &b0, &b1);
    for (int64_t ch = b0; ch < b1; ch++) {
        float *y = e->y + ch * e->cs;
        switch (e->op) {
        case EW_BIAS_GELU:
        case EW_BIAS:
            if (e->b) dumu_dm_simd()->addc(y, e->b[ch], e->n);
            if (e->op == EW_BIAS_GELU) dumu_dm_simd()->gelu(y, e->n);
            break;
        case EW_GLU:
            dumu_dm_simd()->glu(e->src + ch * e->scs, e->src + (ch + e->c) * e->scs, y, e->n);
            break;
        case EW_GLU_RES:
            dumu_dm_simd()->glu_residual(e->src + ch * e->scs, e->src + (ch + e->c) * e->scs,
                                         e->scale[ch], y, e->n);
            break;
        case EW_ADD: dumu_dm_simd()->add(y, e->src + ch * e->scs, e->n); break;
        }
    }
}

static void ew_run(struct ew_ctx *e, int n_threads) {
    int nth = (n_threads > 1 && e->c * e->n >= 32768) ? (int)min64(n_threads, e->c) : 1;
    if (nth > 1) {
        dumu_parallel(nth, ew_task, e);
    } else {
        ew_task(e, 0, 1);
    }
}

void dumu_dm_bias_act(float *y, int64_t c, int64_t n, int64_t cs, const float *b, bool gelu,
                      int n_threads) {
    struct ew_ctx e = {gelu ? EW_BIAS_GELU : EW_BIAS, y, NULL, b, NULL, c, n, cs, 0};
    ew_run(&e, n_threads);
}

/* out (c, n, stride ocs) = GLU of z (2c, n, stride zcs). */
static void glu_rows(const float *z, int64_t zcs, int64_t c, int64_t n, float *out, int64_t ocs,
                     int n_threads) {
    struct ew_ctx e = {EW_GLU, out, z, NULL, NULL, c, n, ocs, zcs};
    ew_run(&e, n_threads);
}

/* ---------------------------------------------------------------------------------------- */
/* Convolutions */

/* dst[i] = s[i] (+ s2[i]) for i < n. */
static void copy_add(float *dst, const float *s, const float *s2, int64_t n) {
    if (s2) {
        dumu_dm_simd()->add2(dst, s, s2, n);
    } else {
        memcpy(dst, s, (size_t)n * sizeof(float));
    }
}

/* im2col of dumu_dm_conv for output columns [j0, j1) (lout positions per row) into cols
 * (cin*k, j1 - j0). */
static void im2col(dumu_dm_src x, dumu_dm_conv_geom geom, int64_t lout, int64_t j0, int64_t j1,
                   float *cols) {
    const float *xd = x.data;
    int64_t xcs = x.cs, cin = x.c, len = x.len, inner = x.inner;
    int k = geom.k, stride = geom.stride, pad = geom.pad, dil = geom.dil;
    int64_t nc = j1 - j0, g0 = j0 / inner, g1 = j1 / inner;
    for (int64_t i = 0; i < cin; i++) {
        const float *xi = xd + i * xcs;
        for (int kk = 0; kk < k; kk++) {
            float *dst = cols + (i * k + kk) * nc;
            int64_t off = (int64_t)kk * dil - pad;
            if (inner > 1) {
                for (int64_t g = g0; g < g1; g++) {
                    int64_t r = g / lout, p = g % lout, s = p * stride + off;
                    float *d = dst + (g - g0) * inner;
                    if (s >= 0 && s < len) {
                        memcpy(d, xi + (r * len + s) * inner, (size_t)inner * sizeof(float));
                    } else {
                        memset(d, 0, (size_t)inner * sizeof(float));
                    }
                }
                continue;
            }
            int64_t g = g0;
            while (g < g1) {
                int64_t r = g / lout, p = g % lout;
                int64_t pend = min64(lout, p + (g1 - g));
                const float *xr = xi + r * len;
                float *d = dst + (g - g0) - p; /* d[q] for q in [p, pend) */
                if (stride == 1) {
                    int64_t va = min64(pend, max64(p, -off));
                    int64_t vb = max64(va, min64(pend, len - off));
                    for (int64_t q = p; q < va; q++)
                        d[q] = 0.0f;
                    if (vb > va) memcpy(d + va, xr + va + off, (size_t)(vb - va) * sizeof(float));
                    for (int64_t q = vb; q < pend; q++)
                        d[q] = 0.0f;
                } else {
                    for (int64_t q = p; q < pend; q++) {
                        int64_t s = q * stride + off;
                        d[q] = (s >= 0 && s < len) ? xr[s] : 0.0f;
                    }
                }
                g += pend - p;
            }
        }
    }
}

static void add_bias_cols(float *y, int64_t ycs, int64_t cout, int64_t nc, const float *b) {
    if (!b) return;
    for (int64_t o = 0; o < cout; o++)
        dumu_dm_simd()->addc(y + o * ycs, b[o], nc);
}

/* A "same" conv with 3 taps (stride 1, pad = dil, every output column of every row, V 1),
 * without im2col: y = W_1 x + W_0 (x shifted right by dil) + W_2 (x shifted left by dil),
 * three GEMMs over the flattened (rows x len) columns with the shifted views of x. Near row
 * boundaries a shifted view reads the neighbouring row; those 2*dil columns per row are
 * recomputed directly afterwards. wk: 3*cout*cin floats of scratch for the per-tap weights. */
static void conv3_shift(dumu_dm_src x, const float *w, const float *b, int dil, dumu_dm_dst y,
                        float *wk, int n_threads) {
    const float *xd = x.data;
    float *yd = y.data;
    int64_t xcs = x.cs, cin = x.c, rows = x.rows, len = x.len, ycs = y.cs, cout = y.c;
    int64_t n = rows * len;
    for (int kk = 0; kk < 3; kk++)
        for (int64_t o = 0; o < cout; o++)
            for (int64_t i = 0; i < cin; i++) {
                wk[(kk * cout + o) * cin + i] = w[(o * cin + i) * 3 + kk];
            }
    const float *w0 = wk, *w1 = wk + cout * cin, *w2 = wk + 2 * cout * cin;
    dumu_gemm(false, false, cout, n, cin, 1.0f, w1, cin, xd, xcs, 0.0f, yd, ycs, n_threads);
    dumu_gemm(false, false, cout, n - dil, cin, 1.0f, w0, cin, xd, xcs, 1.0f, yd + dil, ycs,
              n_threads);
    dumu_gemm(false, false, cout, n - dil, cin, 1.0f, w2, cin, xd + dil, xcs, 1.0f, yd, ycs,
              n_threads);
    /* the first and last dil columns of every row, exactly */
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t q = 0; q < 2 * dil; q++) {
            int64_t p = q < dil ? q : len - 2 * dil + q, j = r * len + p;
            for (int64_t o = 0; o < cout; o++) {
                float acc = 0.0f;
                for (int kk = 0; kk < 3; kk++) {
                    int64_t sp = p + (int64_t)(kk - 1) * dil;
                    if (sp < 0 || sp >= len) continue;
                    const float *wr = wk + (kk * cout + o) * cin;
                    float dot = 0.0f;
                    for (int64_t i = 0; i < cin; i++)
                        dot += wr[i] * xd[i * xcs + r * len + sp];
                    acc += dot;
                }
                yd[o * ycs + j] = acc;
            }
        }
    }
    add_bias_cols(yd, ycs, cout, n, b);
}

void dumu_dm_conv(dumu_dm_src x, const float *w, const float *b, dumu_dm_conv_geom g, dumu_dm_dst y,
                  int64_t j0, int64_t j1, float *cols, int64_t cols_cap, int n_threads) {
    int64_t cin = x.c, len = x.len, inner = x.inner, cout = y.c, lout = y.len;
    DUMU_ASSERT(y.rows == x.rows && y.inner == inner && y.cs >= j1 - j0);
    DUMU_ASSERT(inner >= 1 && j0 >= 0 && j1 >= j0 && j0 % inner == 0 && j1 % inner == 0);
    DUMU_ASSERT(j1 <= x.rows * lout * inner);
    if (j1 == j0) return;
    int64_t kk = cin * g.k;
    if (g.k == 1 && g.stride == 1 && g.pad == 0 && lout == len) {
        dumu_gemm(false, false, cout, j1 - j0, cin, 1.0f, w, cin, x.data + j0, x.cs, 0.0f, y.data,
                  y.cs, n_threads);
        add_bias_cols(y.data, y.cs, cout, j1 - j0, b);
        return;
    }
    if (g.k == 3 && g.stride == 1 && g.pad == g.dil && inner == 1 && lout == len && j0 == 0 &&
        j1 == x.rows * len && len > 2 * g.dil && cols_cap >= 3 * cout * cin) {
        conv3_shift(x, w, b, g.dil, y, cols, n_threads);
        return;
    }
    DUMU_ASSERT(cols_cap >= kk * inner);
    int64_t tile = (cols_cap / kk) / inner * inner;
    for (int64_t ja = j0; ja < j1; ja += tile) {
        int64_t jb = min64(j1, ja + tile), nc = jb - ja;
        im2col(x, g, lout, ja, jb, cols);
        dumu_gemm(false, false, cout, nc, kk, 1.0f, w, kk, cols, nc, 0.0f, y.data + (ja - j0), y.cs,
                  n_threads);
        add_bias_cols(y.data + (ja - j0), y.cs, cout, nc, b);
    }
}

void dumu_dm_conv_ref(dumu_dm_src x, const float *w, const float *b, dumu_dm_conv_geom g,
                      dumu_dm_dst y) {
    int64_t cin = x.c, len = x.len, inner = x.inner, cout = y.c, lout = y.len;
    DUMU_ASSERT(y.rows == x.rows && y.inner == inner);
    for (int64_t o = 0; o < cout; o++)
        for (int64_t r = 0; r < x.rows; r++)
            for (int64_t p = 0; p < lout; p++)
                for (int64_t v = 0; v < inner; v++) {
                    double acc = b ? (double)b[o] : 0.0;
                    for (int64_t i = 0; i < cin; i++)
                        for (int kk = 0; kk < g.k; kk++) {
                            int64_t s = p * g.stride + (int64_t)kk * g.dil - g.pad;
                            if (s < 0 || s >= len) continue;
                            acc += (double)w[(o * cin + i) * g.k + kk] *
                                   (double)x.data[i * x.cs + (r * len + s) * inner + v];
                        }
                    y.data[o * y.cs + (r * lout + p) * inner + v] = (float)acc;
                }
}

void dumu_dm_conv1x1(dumu_dm_src x, const float *w, const float *b, dumu_dm_dst y, int n_threads) {
    int64_t n = x.rows * x.len * x.inner;
    DUMU_ASSERT(y.rows * y.len * y.inner == n);
    dumu_gemm(false, false, y.c, n, x.c, 1.0f, w, x.c, x.data, x.cs, 0.0f, y.data, y.cs, n_threads);
    dumu_dm_bias_act(y.data, y.c, n, y.cs, b, false, n_threads);
}

/* ---- 3x3 ----------------------------------------------------------------------------- */

/* im2col of dumu_dm_conv3x3 for the frequency rows [fa, fb) into cols (cin*9, (fb-fa)*T). */
static void im2col_3x3(dumu_dm_src x, const float *x2, int64_t fa, int64_t fb, float *cols) {
    const float *xd = x.data;
    int64_t xcs = x.cs, cin = x.c, F = x.len, T = x.inner;
    int64_t nc = (fb - fa) * T;
    for (int64_t i = 0; i < cin; i++) {
        for (int ky = 0; ky < 3; ky++) {
            for (int64_t f = fa; f < fb; f++) {
                int64_t sf = f + ky - 1;
                for (int kx = 0; kx < 3; kx++) {
                    float *d = cols + ((i * 3 + ky) * 3 + kx) * nc + (f - fa) * T;
                    if (sf < 0 || sf >= F) {
                        memset(d, 0, (size_t)T * sizeof(float));
                        continue;
                    }
                    const float *s = xd + i * xcs + sf * T;
                    const float *s2 = x2 ? x2 + i * xcs + sf * T : NULL;
                    if (kx == 0) {
                        d[0] = 0.0f;
                        copy_add(d + 1, s, s2, T - 1);
                    } else if (kx == 1) {
                        copy_add(d, s, s2, T);
                    } else {
                        copy_add(d, s + 1, s2 ? s2 + 1 : NULL, T - 1);
                        d[T - 1] = 0.0f;
                    }
                }
            }
        }
    }
}

void dumu_dm_conv3x3(dumu_dm_src x, const float *x2, const float *w, const float *b, dumu_dm_dst y,
                     int64_t f0, int64_t f1, float *cols, int64_t cols_cap, int n_threads) {
    int64_t cin = x.c, F = x.len, T = x.inner, cout = y.c;
    DUMU_ASSERT(x.rows == 1 && y.rows == 1 && y.len == F && y.inner == T);
    DUMU_ASSERT(T >= 2 && 0 <= f0 && f0 <= f1 && f1 <= F && y.cs >= (f1 - f0) * T);
    int64_t kk = cin * 9;
    DUMU_ASSERT(cols_cap >= kk * T);
    int64_t nf = cols_cap / (kk * T);
    for (int64_t fa = f0; fa < f1; fa += nf) {
        int64_t fb = min64(f1, fa + nf), nc = (fb - fa) * T;
        im2col_3x3(x, x2, fa, fb, cols);
        float *yt = y.data + (fa - f0) * T;
        dumu_gemm(false, false, cout, nc, kk, 1.0f, w, kk, cols, nc, 0.0f, yt, y.cs, n_threads);
        add_bias_cols(yt, y.cs, cout, nc, b);
    }
}

void dumu_dm_conv3x3_ref(dumu_dm_src x, const float *x2, const float *w, const float *b,
                         dumu_dm_dst y, int64_t f0, int64_t f1) {
    int64_t cin = x.c, F = x.len, T = x.inner, xcs = x.cs;
    DUMU_ASSERT(x.rows == 1 && y.rows == 1 && y.len == F && y.inner == T);
    for (int64_t o = 0; o < y.c; o++)
        for (int64_t f = f0; f < f1; f++)
            for (int64_t t = 0; t < T; t++) {
                double acc = b[o];
                for (int64_t i = 0; i < cin; i++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int64_t sf = f + ky - 1, st = t + kx - 1;
                            if (sf < 0 || sf >= F || st < 0 || st >= T) continue;
                            float v = x.data[i * xcs + sf * T + st];
                            if (x2) v += x2[i * xcs + sf * T + st];
                            acc += (double)w[((o * cin + i) * 3 + ky) * 3 + kx] * (double)v;
                        }
                y.data[o * y.cs + (f - f0) * T + t] = (float)acc;
            }
}

/* ---- ConvTranspose ----------------------------------------------------------------------- */

void dumu_dm_convtr(dumu_dm_src x, const float *w, dumu_dm_convtr_part part, dumu_dm_conv_geom g,
                    dumu_dm_dst y, float *cols, int64_t cols_cap, int n_threads) {
    int64_t cin = x.c, nl = x.len, inner = x.inner, l0 = part.l0, cout = y.c, lout = y.len;
    int64_t ycs = y.cs, crop = g.pad;
    int k = g.k, stride = g.stride;
    DUMU_ASSERT(x.rows == 1 && y.rows == 1 && y.inner == inner && g.dil == 1);
    DUMU_ASSERT(part.o0 >= 0 && part.o0 + cout <= part.w_cout && inner >= 1);
    int64_t kc = cout * k;
    DUMU_ASSERT(cols_cap >= kc * inner);
    int64_t npos = cols_cap / (kc * inner);
    for (int64_t la = 0; la < nl; la += npos) {
        int64_t lb = min64(nl, la + npos), nc = (lb - la) * inner;
        /* cols (cout*k, nc) = W[:, o0:o0+cout, :]^T x */
        dumu_gemm(true, false, kc, nc, cin, 1.0f, w + part.o0 * k, part.w_cout * k,
                  x.data + la * inner, x.cs, 0.0f, cols, nc, n_threads);
        for (int64_t o = 0; o < cout; o++) {
            for (int kk = 0; kk < k; kk++) {
                const float *src = cols + (o * k + kk) * nc;
                float *yo = y.data + o * ycs;
                if (inner == 1) {
                    for (int64_t l = la; l < lb; l++) {
                        int64_t q = (l0 + l) * stride + kk - crop;
                        if (q >= 0 && q < lout) yo[q] += src[l - la];
                    }
                    continue;
                }
                for (int64_t l = la; l < lb; l++) {
                    int64_t q = (l0 + l) * stride + kk - crop;
                    if (q < 0 || q >= lout) continue;
                    dumu_dm_simd()->add(yo + q * inner, src + (l - la) * inner, inner);
                }
            }
        }
    }
}

void dumu_dm_convtr_ref(dumu_dm_src x, const float *w, dumu_dm_convtr_part part,
                        dumu_dm_conv_geom g, dumu_dm_dst y) {
    int64_t cin = x.c, inner = x.inner, k = g.k;
    DUMU_ASSERT(x.rows == 1 && y.rows == 1 && y.inner == inner && g.dil == 1);
    for (int64_t o = 0; o < y.c; o++)
        for (int64_t l = 0; l < x.len; l++)
            for (int64_t kk = 0; kk < k; kk++) {
                int64_t q = (part.l0 + l) * g.stride + kk - g.pad;
                if (q < 0 || q >= y.len) continue;
                for (int64_t v = 0; v < inner; v++) {
                    double acc = 0.0;
                    for (int64_t i = 0; i < cin; i++)
                        acc += (double)w[(i * part.w_cout + part.o0 + o) * k + kk] *
                               (double)x.data[i * x.cs + l * inner + v];
                    y.data[o * y.cs + q * inner + v] += (float)acc;
                }
            }
}

/* ---------------------------------------------------------------------------------------- */
/* DConv */

void dumu_dm_dconv(const dumu_dm_dconv_w *w, float *y, int64_t r, int64_t t, float *tmp,
                   int64_t tmp_cap, dumu_dm_stats_mode mode, int n_threads) {
    int64_t c = w->c, h = w->h, n = r * t;
    float *hb = tmp;        /* (h, r, t) */
    float *h2 = hb + h * n; /* (2c, r, t) */
    float *cols = h2 + 2 * c * n;
    int64_t cap = tmp_cap - (2 * c + h) * n;
    DUMU_ASSERT(cap >= 3 * c);
    for (int j = 0; j < 2; j++) {
        int d = 1 << j;
        dumu_dm_conv((dumu_dm_src){.data = y, .c = c, .cs = n, .rows = r, .len = t, .inner = 1},
                     w->w0[j], w->b0[j],
                     (dumu_dm_conv_geom){.k = 3, .stride = 1, .pad = d, .dil = d},
                     (dumu_dm_dst){.data = hb, .c = h, .cs = n, .rows = r, .len = t, .inner = 1}, 0,
                     n, cols, cap, n_threads);
        for (int64_t rr = 0; rr < r; rr++) {
            dumu_dm_groupnorm(hb + rr * t, h, t, n, w->g1[j], w->be1[j], mode, n_threads);
        }
        dumu_dm_bias_act(hb, h, n, n, NULL, true, n_threads);
        dumu_gemm(false, false, 2 * c, n, h, 1.0f, w->w3[j], h, hb, n, 0.0f, h2, n, n_threads);
        dumu_dm_bias_act(h2, 2 * c, n, n, w->b3[j], false, n_threads);
        for (int64_t rr = 0; rr < r; rr++) {
            dumu_dm_groupnorm(h2 + rr * t, 2 * c, t, n, w->g4[j], w->be4[j], mode, n_threads);
        }
        /* y += scale * GLU(h2), split over channels */
        struct ew_ctx e = {EW_GLU_RES, y, h2, NULL, w->scale[j], c, n, n, n};
        ew_run(&e, n_threads);
    }
}

void dumu_dm_dconv_ref(const dumu_dm_dconv_w *w, float *y, int64_t r, int64_t t,
                       dumu_dm_stats_mode mode) {
    int64_t c = w->c, h = w->h;
    float *xr = dumu_malloc((size_t)(c * t) * sizeof(float));
    float *hb = dumu_malloc((size_t)(h * t) * sizeof(float));
    float *h2 = dumu_malloc((size_t)(2 * c * t) * sizeof(float));
    DUMU_ASSERT(xr && hb && h2);
    for (int64_t rr = 0; rr < r; rr++) {
        for (int64_t ch = 0; ch < c; ch++)
            memcpy(xr + ch * t, y + (ch * r + rr) * t, (size_t)t * 4);
        for (int j = 0; j < 2; j++) {
            int d = 1 << j;
            dumu_dm_conv_ref(
                (dumu_dm_src){.data = xr, .c = c, .cs = t, .rows = 1, .len = t, .inner = 1},
                w->w0[j], w->b0[j], (dumu_dm_conv_geom){.k = 3, .stride = 1, .pad = d, .dil = d},
                (dumu_dm_dst){.data = hb, .c = h, .cs = t, .rows = 1, .len = t, .inner = 1});
            dumu_dm_groupnorm_ref(hb, h, t, t, w->g1[j], w->be1[j], mode);
            dumu_dm_gelu_ref(hb, h * t);
            dumu_dm_conv_ref(
                (dumu_dm_src){.data = hb, .c = h, .cs = t, .rows = 1, .len = t, .inner = 1},
                w->w3[j], w->b3[j], (dumu_dm_conv_geom){.k = 1, .stride = 1, .pad = 0, .dil = 1},
                (dumu_dm_dst){.data = h2, .c = 2 * c, .cs = t, .rows = 1, .len = t, .inner = 1});
            dumu_dm_groupnorm_ref(h2, 2 * c, t, t, w->g4[j], w->be4[j], mode);
            for (int64_t ch = 0; ch < c; ch++) {
                for (int64_t i = 0; i < t; i++) {
                    float g;
                    dumu_dm_glu_ref(&h2[ch * t + i], &h2[(ch + c) * t + i], &g, 1);
                    xr[ch * t + i] += w->scale[j][ch] * g;
                }
            }
        }
        for (int64_t ch = 0; ch < c; ch++)
            memcpy(y + (ch * r + rr) * t, xr + ch * t, (size_t)t * 4);
    }
    dumu_free(xr);
    dumu_free(hb);
    dumu_free(h2);
}

/* ---------------------------------------------------------------------------------------- */
/* Time-branch layers */

int64_t dumu_dm_time_scratch_size(int64_t c, int64_t t) {
    return (3 * c + c / 8) * t + TIME_COLS;
}

/* z tile (2c, nc) = rewrite 1x1 of y[:, ja:jb) (+ bias), then GLU into out[:, ja:jb). */
static void rewrite_glu_tiled(const float *y, int64_t ycs, int64_t c, int64_t n, const float *rw,
                              const float *rb, float *out, int64_t ocs, float *tile, int64_t cap,
                              int n_threads) {
    int64_t nt = cap / (2 * c);
    DUMU_ASSERT(nt >= 1);
    for (int64_t ja = 0; ja < n; ja += nt) {
        int64_t jb = min64(n, ja + nt), nc = jb - ja;
        dumu_gemm(false, false, 2 * c, nc, c, 1.0f, rw, c, y + ja, ycs, 0.0f, tile, nc, n_threads);
        add_bias_cols(tile, nc, 2 * c, nc, rb);
        glu_rows(tile, nc, c, nc, out + ja, ocs, n_threads);
    }
}

void dumu_dm_time_encoder(const dumu_dm_enc_w *w, const float *x, int64_t tin, float *out,
                          const dumu_dm_scratch *s, dumu_dm_stats_mode mode, int n_threads) {
    int64_t c = w->c, cin = w->cin, tout = (tin + 3) / 4;
    DUMU_ASSERT(s->big_cap >= dumu_dm_time_scratch_size(c, tout));
    float *y = s->big;          /* (c, tout) */
    float *rest = y + c * tout; /* DConv tmp, then tiles */
    int64_t rest_cap = s->big_cap - c * tout;
    /* conv k 8, stride 4, pad 2 on x zero-padded to 4*tout, then GELU */
    dumu_dm_conv((dumu_dm_src){.data = x, .c = cin, .cs = tin, .rows = 1, .len = tin, .inner = 1},
                 w->conv_w, w->conv_b, (dumu_dm_conv_geom){.k = 8, .stride = 4, .pad = 2, .dil = 1},
                 (dumu_dm_dst){.data = y, .c = c, .cs = tout, .rows = 1, .len = tout, .inner = 1},
                 0, tout, rest, rest_cap, n_threads);
    dumu_dm_bias_act(y, c, tout, tout, NULL, true, n_threads);
    dumu_dm_dconv(&w->dconv, y, 1, tout, rest, rest_cap, mode, n_threads);
    rewrite_glu_tiled(y, tout, c, tout, w->rw_w, w->rw_b, out, tout, rest, rest_cap, n_threads);
}

void dumu_dm_time_decoder(const dumu_dm_dec_w *w, float *x, const float *skip, int64_t t,
                          const dumu_dm_outsel *sel, float *out, int64_t tout, bool last,
                          const dumu_dm_scratch *s, dumu_dm_stats_mode mode, int n_threads) {
    int64_t cin = w->cin, gs = sel->gsize;
    DUMU_ASSERT(s->big_cap >= dumu_dm_time_scratch_size(cin, t));
    struct ew_ctx add = {EW_ADD, x, skip, NULL, NULL, cin, t, t, t};
    ew_run(&add, n_threads);
    float *y = s->big; /* (cin, t) */
    float *rest = y + cin * t;
    int64_t rest_cap = s->big_cap - cin * t;
    /* rewrite: conv k 3 pad 1 (cin -> 2cin) then GLU, in column tiles */
    int64_t nt = rest_cap / (2 * cin + 3 * cin);
    float *z = rest, *cols = rest + 2 * cin * nt;
    for (int64_t ja = 0; ja < t; ja += nt) {
        int64_t jb = min64(t, ja + nt), nc = jb - ja;
        dumu_dm_conv(
            (dumu_dm_src){.data = x, .c = cin, .cs = t, .rows = 1, .len = t, .inner = 1}, w->rw_w,
            w->rw_b, (dumu_dm_conv_geom){.k = 3, .stride = 1, .pad = 1, .dil = 1},
            (dumu_dm_dst){.data = z, .c = 2 * cin, .cs = nc, .rows = 1, .len = t, .inner = 1}, ja,
            jb, cols, 3 * cin * nt, n_threads);
        glu_rows(z, nc, cin, nc, y + ja, t, n_threads);
    }
    dumu_dm_dconv(&w->dconv, y, 1, t, rest, rest_cap, mode, n_threads);
    memset(out, 0, (size_t)(sel->n_groups * gs * tout) * sizeof(float));
    for (int g = 0; g < sel->n_groups; g++) {
        float *og = out + g * gs * tout;
        dumu_dm_convtr(
            (dumu_dm_src){.data = y, .c = cin, .cs = t, .rows = 1, .len = t, .inner = 1}, w->tr_w,
            (dumu_dm_convtr_part){.l0 = 0, .o0 = sel->o0[g], .w_cout = w->cout},
            (dumu_dm_conv_geom){.k = 8, .stride = 4, .pad = 2, .dil = 1},
            (dumu_dm_dst){.data = og, .c = gs, .cs = tout, .rows = 1, .len = tout, .inner = 1},
            rest, rest_cap, n_threads);
        dumu_dm_bias_act(og, gs, tout, tout, w->tr_b + sel->o0[g], !last, n_threads);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Frequency-branch layers */

/* Per-row floats a freq encoder tile needs: y (c) + h (c/8) + h2 (2c) + im2col. */
static int64_t enc_row_need(int64_t cin, int64_t c, int64_t T) {
    return (3 * c + c / 8 + max64(8 * cin, 3 * c)) * T;
}

/* Per-row floats a freq decoder tile needs: z (2cin) + h (cin/8) + h2 (2cin) + im2col. */
static int64_t dec_row_need(int64_t cin, int64_t cout, int64_t T) {
    return (4 * cin + cin / 8 + max64(9 * cin, 8 * cout)) * T;
}

int64_t dumu_dm_freq_slot_min(int64_t cin_max, int64_t c_max, int64_t T) {
    return max64(enc_row_need(cin_max, c_max, T), dec_row_need(c_max, c_max, T));
}

struct fenc_ctx {
    const dumu_dm_enc_w *w;
    const float *x;
    int64_t fin, fout, T;
    float *out;
    const float *emb;
    float emb_weight;
    const dumu_dm_scratch *s;
    dumu_dm_stats_mode mode;
};

static void fenc_tile(const struct fenc_ctx *e, int64_t fa, int64_t fb, float *slot) {
    const dumu_dm_enc_w *w = e->w;
    int64_t c = w->c, cin = w->cin, T = e->T, n = (fb - fa) * T;
    float *y = slot; /* (c, nf, T) */
    float *rest = y + c * n;
    int64_t rest_cap = e->s->slot - c * n;
    /* frequency conv k 8, stride 4, pad 2 along F, one position = one frame vector */
    dumu_dm_conv(
        (dumu_dm_src){
            .data = e->x, .c = cin, .cs = e->fin * T, .rows = 1, .len = e->fin, .inner = T},
        w->conv_w, w->conv_b, (dumu_dm_conv_geom){.k = 8, .stride = 4, .pad = 2, .dil = 1},
        (dumu_dm_dst){.data = y, .c = c, .cs = n, .rows = 1, .len = e->fout, .inner = T}, fa * T,
        fb * T, rest, rest_cap, 1);
    dumu_dm_simd()->gelu(y, c * n);
    dumu_dm_dconv(&w->dconv, y, fb - fa, T, rest, rest_cap, e->mode, 1);
    /* rewrite 1x1 (c -> 2c) + GLU into the output rows */
    float *z = rest;
    dumu_gemm(false, false, 2 * c, n, c, 1.0f, w->rw_w, c, y, n, 0.0f, z, n, 1);
    add_bias_cols(z, n, 2 * c, n, w->rw_b);
    int64_t ocs = e->fout * T;
    for (int64_t ch = 0; ch < c; ch++) {
        float *o = e->out + ch * ocs + fa * T;
        dumu_dm_simd()->glu(z + ch * n, z + (ch + c) * n, o, n);
        if (e->emb) {
            for (int64_t f = fa; f < fb; f++) {
                float add = e->emb_weight * e->emb[ch * e->fout + f];
                dumu_dm_simd()->addc(o + (f - fa) * T, add, T);
            }
        }
    }
}

static void fenc_task(void *p, int ith, int nth) {
    const struct fenc_ctx *e = p;
    int64_t b, end;
    dumu_split(e->fout, ith, nth, &b, &end);
    int64_t per = enc_row_need(e->w->cin, e->w->c, e->T);
    int64_t nf = min64(FREQ_NF_MAX, e->s->slot / per);
    float *slot = e->s->buf + (int64_t)ith * e->s->slot;
    for (int64_t fa = b; fa < end; fa += nf)
        fenc_tile(e, fa, min64(end, fa + nf), slot);
}

void dumu_dm_freq_encoder(const dumu_dm_enc_w *w, const float *x, int64_t fin, int64_t T,
                          float *out, const float *emb, float emb_weight, const dumu_dm_scratch *s,
                          dumu_dm_stats_mode mode, int n_threads) {
    DUMU_ASSERT(fin % 4 == 0 && fin >= 4);
    DUMU_ASSERT(s->slot >= enc_row_need(w->cin, w->c, T));
    struct fenc_ctx e = {w, x, fin, fin / 4, T, out, emb, emb_weight, s, mode};
    int nth = (int)min64(min64(n_threads, s->n_slots), e.fout);
    dumu_parallel(nth < 1 ? 1 : nth, fenc_task, &e);
}

struct fdec_ctx {
    const dumu_dm_dec_w *w;
    const float *x; /* x + skip */
    int64_t F, T;
    const dumu_dm_outsel *sel;
    float *out;
    const dumu_dm_scratch *s;
    dumu_dm_stats_mode mode;
    int n_blocks, phase;
};

static void fdec_tile(const struct fdec_ctx *e, int64_t fa, int64_t fb, float *slot) {
    const dumu_dm_dec_w *w = e->w;
    int64_t cin = w->cin, T = e->T, n = (fb - fa) * T;
    float *z = slot; /* (2cin, nf, T); after GLU its first half is y (cin, nf, T) */
    float *rest = z + 2 * cin * n;
    int64_t rest_cap = e->s->slot - 2 * cin * n;
    dumu_dm_conv3x3(
        (dumu_dm_src){.data = e->x, .c = cin, .cs = e->F * T, .rows = 1, .len = e->F, .inner = T},
        NULL, w->rw_w, w->rw_b,
        (dumu_dm_dst){.data = z, .c = 2 * cin, .cs = n, .rows = 1, .len = e->F, .inner = T}, fa, fb,
        rest, rest_cap, 1);
    for (int64_t ch = 0; ch < cin; ch++)
        dumu_dm_simd()->glu(z + ch * n, z + (ch + cin) * n, z + ch * n, n);
    dumu_dm_dconv(&w->dconv, z, fb - fa, T, rest, rest_cap, e->mode, 1);
    int64_t fout = 4 * e->F, gs = e->sel->gsize;
    /* the tile's rows of y (cin, nf, T) are input positions [fa, fb) of the transpose */
    dumu_dm_src ys = {.data = z, .c = cin, .cs = n, .rows = 1, .len = fb - fa, .inner = T};
    for (int g = 0; g < e->sel->n_groups; g++) {
        float *og = e->out + g * gs * fout * T;
        dumu_dm_convtr(
            ys, w->tr_w, (dumu_dm_convtr_part){.l0 = fa, .o0 = e->sel->o0[g], .w_cout = w->cout},
            (dumu_dm_conv_geom){.k = 8, .stride = 4, .pad = 2, .dil = 1},
            (dumu_dm_dst){.data = og, .c = gs, .cs = fout * T, .rows = 1, .len = fout, .inner = T},
            rest, rest_cap, 1);
    }
}

static void fdec_task(void *p, int ith, int nth) {
    (void)nth;
    const struct fdec_ctx *e = p;
    int blk = 2 * ith + e->phase;
    if (blk >= e->n_blocks) return;
    int64_t b, end;
    dumu_split(e->F, blk, e->n_blocks, &b, &end);
    int64_t per = dec_row_need(e->w->cin, e->sel->gsize, e->T);
    int64_t nf = min64(FREQ_NF_MAX, e->s->slot / per);
    float *slot = e->s->buf + (int64_t)ith * e->s->slot;
    for (int64_t fa = b; fa < end; fa += nf)
        fdec_tile(e, fa, min64(end, fa + nf), slot);
}

void dumu_dm_freq_decoder(const dumu_dm_dec_w *w, float *x, const float *skip, int64_t F, int64_t T,
                          const dumu_dm_outsel *sel, float *out, bool last,
                          const dumu_dm_scratch *s, dumu_dm_stats_mode mode, int n_threads) {
    int64_t gs = sel->gsize, fout = 4 * F;
    DUMU_ASSERT(sel->n_groups >= 1 && sel->n_groups <= 8);
    DUMU_ASSERT(s->slot >= dec_row_need(w->cin, gs, T));
    struct ew_ctx add = {EW_ADD, x, skip, NULL, NULL, w->cin, F * T, F * T, F * T};
    ew_run(&add, n_threads);
    memset(out, 0, (size_t)(sel->n_groups * gs * fout * T) * sizeof(float));
    int nth = (int)min64(n_threads < 1 ? 1 : n_threads, s->n_slots);
    /* Blocks of rows, every one non-empty; even blocks then odd ones (see DESIGN). */
    int n_blocks = (int)min64(2 * (int64_t)nth, F);
    struct fdec_ctx e = {w, x, F, T, sel, out, s, mode, n_blocks, 0};
    int per_phase = (n_blocks + 1) / 2;
    for (int phase = 0; phase < 2; phase++) {
        e.phase = phase;
        dumu_parallel(per_phase, fdec_task, &e);
    }
    for (int g = 0; g < sel->n_groups; g++) {
        dumu_dm_bias_act(out + g * gs * fout * T, gs, fout * T, fout * T, w->tr_b + sel->o0[g],
                         !last, n_threads);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Reference layers (tests only) */

static float *ref_alloc(int64_t n) {
    float *p = dumu_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    DUMU_ASSERT(p);
    return p;
}

void dumu_dm_time_encoder_ref(const dumu_dm_enc_w *w, const float *x, int64_t tin, float *out,
                              dumu_dm_stats_mode mode) {
    int64_t c = w->c, cin = w->cin, tout = (tin + 3) / 4;
    float *y = ref_alloc(c * tout), *z = ref_alloc(2 * c * tout);
    dumu_dm_conv_ref(
        (dumu_dm_src){.data = x, .c = cin, .cs = tin, .rows = 1, .len = tin, .inner = 1}, w->conv_w,
        w->conv_b, (dumu_dm_conv_geom){.k = 8, .stride = 4, .pad = 2, .dil = 1},
        (dumu_dm_dst){.data = y, .c = c, .cs = tout, .rows = 1, .len = tout, .inner = 1});
    dumu_dm_gelu_ref(y, c * tout);
    dumu_dm_dconv_ref(&w->dconv, y, 1, tout, mode);
    dumu_dm_conv_ref(
        (dumu_dm_src){.data = y, .c = c, .cs = tout, .rows = 1, .len = tout, .inner = 1}, w->rw_w,
        w->rw_b, (dumu_dm_conv_geom){.k = 1, .stride = 1, .pad = 0, .dil = 1},
        (dumu_dm_dst){.data = z, .c = 2 * c, .cs = tout, .rows = 1, .len = tout, .inner = 1});
    dumu_dm_glu_ref(z, z + c * tout, out, c * tout);
    dumu_free(y);
    dumu_free(z);
}

void dumu_dm_freq_encoder_ref(const dumu_dm_enc_w *w, const float *x, int64_t fin, int64_t T,
                              float *out, const float *emb, float emb_weight,
                              dumu_dm_stats_mode mode) {
    int64_t c = w->c, cin = w->cin, fout = fin / 4, n = fout * T;
    float *y = ref_alloc(c * n), *z = ref_alloc(2 * c * n);
    dumu_dm_conv_ref(
        (dumu_dm_src){.data = x, .c = cin, .cs = fin * T, .rows = 1, .len = fin, .inner = T},
        w->conv_w, w->conv_b, (dumu_dm_conv_geom){.k = 8, .stride = 4, .pad = 2, .dil = 1},
        (dumu_dm_dst){.data = y, .c = c, .cs = n, .rows = 1, .len = fout, .inner = T});
    dumu_dm_gelu_ref(y, c * n);
    dumu_dm_dconv_ref(&w->dconv, y, fout, T, mode);
    dumu_dm_conv_ref(
        (dumu_dm_src){.data = y, .c = c, .cs = n, .rows = 1, .len = n, .inner = 1}, w->rw_w,
        w->rw_b, (dumu_dm_conv_geom){.k = 1, .stride = 1, .pad = 0, .dil = 1},
        (dumu_dm_dst){.data = z, .c = 2 * c, .cs = n, .rows = 1, .len = n, .inner = 1});
    dumu_dm_glu_ref(z, z + c * n, out, c * n);
    if (emb) {
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t f = 0; f < fout; f++)
                for (int64_t t = 0; t < T; t++)
                    out[(ch * fout + f) * T + t] += emb_weight * emb[ch * fout + f];
    }
    dumu_free(y);
    dumu_free(z);
}

void dumu_dm_time_decoder_ref(const dumu_dm_dec_w *w, const float *x, const float *skip, int64_t t,
                              const dumu_dm_outsel *sel, float *out, int64_t tout, bool last,
                              dumu_dm_stats_mode mode) {
    int64_t cin = w->cin, gs = sel->gsize;
    float *xs = ref_alloc(cin * t), *z = ref_alloc(2 * cin * t), *y = ref_alloc(cin * t);
    for (int64_t i = 0; i < cin * t; i++)
        xs[i] = x[i] + skip[i];
    dumu_dm_conv_ref(
        (dumu_dm_src){.data = xs, .c = cin, .cs = t, .rows = 1, .len = t, .inner = 1}, w->rw_w,
        w->rw_b, (dumu_dm_conv_geom){.k = 3, .stride = 1, .pad = 1, .dil = 1},
        (dumu_dm_dst){.data = z, .c = 2 * cin, .cs = t, .rows = 1, .len = t, .inner = 1});
    dumu_dm_glu_ref(z, z + cin * t, y, cin * t);
    dumu_dm_dconv_ref(&w->dconv, y, 1, t, mode);
    memset(out, 0, (size_t)(sel->n_groups * gs * tout) * sizeof(float));
    for (int g = 0; g < sel->n_groups; g++) {
        float *og = out + g * gs * tout;
        dumu_dm_convtr_ref(
            (dumu_dm_src){.data = y, .c = cin, .cs = t, .rows = 1, .len = t, .inner = 1}, w->tr_w,
            (dumu_dm_convtr_part){.l0 = 0, .o0 = sel->o0[g], .w_cout = w->cout},
            (dumu_dm_conv_geom){.k = 8, .stride = 4, .pad = 2, .dil = 1},
            (dumu_dm_dst){.data = og, .c = gs, .cs = tout, .rows = 1, .len = tout, .inner = 1});
        for (int64_t o = 0; o < gs; o++)
            for (int64_t i = 0; i < tout; i++)
                og[o * tout + i] += w->tr_b[sel->o0[g] + o];
    }
    if (!last) dumu_dm_gelu_ref(out, sel->n_groups * gs * tout);
    dumu_free(xs);
    dumu_free(z);
    dumu_free(y);
}

void dumu_dm_freq_decoder_ref(const dumu_dm_dec_w *w, const float *x, const float *skip, int64_t F,
                              int64_t T, const dumu_dm_outsel *sel, float *out, bool last,
                              dumu_dm_stats_mode mode) {
    int64_t cin = w->cin, n = F * T, fout = 4 * F, gs = sel->gsize;
    float *z = ref_alloc(2 * cin * n), *y = ref_alloc(cin * n);
    dumu_dm_conv3x3_ref(
        (dumu_dm_src){.data = x, .c = cin, .cs = n, .rows = 1, .len = F, .inner = T}, skip, w->rw_w,
        w->rw_b, (dumu_dm_dst){.data = z, .c = 2 * cin, .cs = n, .rows = 1, .len = F, .inner = T},
        0, F);
    dumu_dm_glu_ref(z, z + cin * n, y, cin * n);
    dumu_dm_dconv_ref(&w->dconv, y, F, T, mode);
    memset(out, 0, (size_t)(sel->n_groups * gs * fout * T) * sizeof(float));
    for (int g = 0; g < sel->n_groups; g++) {
        float *og = out + g * gs * fout * T;
        dumu_dm_convtr_ref(
            (dumu_dm_src){.data = y, .c = cin, .cs = n, .rows = 1, .len = F, .inner = T}, w->tr_w,
            (dumu_dm_convtr_part){.l0 = 0, .o0 = sel->o0[g], .w_cout = w->cout},
            (dumu_dm_conv_geom){.k = 8, .stride = 4, .pad = 2, .dil = 1},
            (dumu_dm_dst){.data = og, .c = gs, .cs = fout * T, .rows = 1, .len = fout, .inner = T});
        for (int64_t o = 0; o < gs; o++)
            for (int64_t i = 0; i < fout * T; i++)
                og[o * fout * T + i] += w->tr_b[sel->o0[g] + o];
    }
    if (!last) dumu_dm_gelu_ref(out, sel->n_groups * gs * fout * T);
    dumu_free(z);
    dumu_free(y);
}

/* ---------------------------------------------------------------------------------------- */
/* Host DSP: STFT / ISTFT (docs/htdemucs.md §1.5, §1.7)
 *
 * Not dsp/stft.c's dumu_stft: that one makes power spectra frame by frame for the analyses
 * (tempo, onsets, mel), with librosa's conventions (centred, zero padding). htdemucs needs
 * the complex spectrum with the reference host's framing (reflect padding, PAD_LEFT below,
 * its normalisation) and the inverse with overlap-add, held to the parity fixtures; the two
 * share the FFT plan lock (dumu_fft_plan_lock) and nothing else, since neither's padding
 * nor output fits the other. */

#define NFFT     DUMU_DM_NFFT
#define HOP      DUMU_DM_HOP
#define NBINS    DUMU_DM_NBINS
#define PAD_LEFT 1536 /* 3 * hop / 2 */

#ifndef M_PI
#    define M_PI 3.14159265358979323846
#endif

int64_t dumu_dm_reflect(int64_t n, int64_t len) {
    if (n < 0) n = -n;
    if (n >= len) n = 2 * len - 2 - n;
    DUMU_ASSERT(n >= 0 && n < len);
    return n;
}

dumu_status dumu_dm_fft_init(dumu_dm_fft *f, dumu_error *err) {
    memset(f, 0, sizeof *f);
    f->window = dumu_malloc(NFFT * sizeof(float));
    f->env = dumu_malloc(HOP * sizeof(float));
    float *in = dumu_malloc(NFFT * sizeof(float));
    float *cx = dumu_malloc((NFFT + 2) * sizeof(float));
    dumu_status rc = DUMU_OK;
    if (!f->window || !f->env || !in || !cx) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "demucs: out of memory for the FFT state");
        goto done;
    }
    for (int m = 0; m < NFFT; m++)
        f->window[m] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * m / NFFT));
    /* env by j = (n + 512) mod 1024: frames in ascending order have offsets j + 3072, +2048,
     * +1024, +0 (docs/htdemucs.md §1.7: every output sample is covered by 4 frames). */
    for (int j = 0; j < HOP; j++) {
        float e = 0.0f;
        for (int q = 3; q >= 0; q--) {
            float wv = f->window[j + q * HOP];
            float w2 = wv * wv;
            e += w2;
        }
        f->env[j] = e;
    }
    dumu_fft_plan_lock();
    f->r2c = fftwf_plan_dft_r2c_1d(NFFT, in, (fftwf_complex *)cx, FFTW_ESTIMATE);
    f->c2r = fftwf_plan_dft_c2r_1d(NFFT, (fftwf_complex *)cx, in, FFTW_ESTIMATE);
    dumu_fft_plan_unlock();
    if (!f->r2c || !f->c2r) rc = dumu_fail(err, DUMU_E_NOMEM, "demucs: FFTW could not plan");
done:
    dumu_free(in);
    dumu_free(cx);
    if (rc) dumu_dm_fft_deinit(f);
    return rc;
}

void dumu_dm_fft_deinit(dumu_dm_fft *f) {
    if (!f) return;
    if (f->r2c || f->c2r) {
        dumu_fft_plan_lock();
        if (f->r2c) fftwf_destroy_plan((fftwf_plan)f->r2c);
        if (f->c2r) fftwf_destroy_plan((fftwf_plan)f->c2r);
        dumu_fft_plan_unlock();
    }
    dumu_free(f->window);
    dumu_free(f->env);
    memset(f, 0, sizeof *f);
}

int64_t dumu_dm_stft_frames(int64_t len) {
    return (len + HOP - 1) / HOP;
}

int64_t dumu_dm_fft_work_size(int64_t len) {
    /* real frame (4096) + complex spectrum (4098) + one ISTFT row accumulator (len), each
     * rounded up to 16 floats to keep 64-byte alignment */
    return NFFT + (NFFT + 16) + (len + 15) / 16 * 16;
}

struct stft_ctx {
    const dumu_dm_fft *f;
    const float *x;
    int64_t n_ch, len, nfr;
    float *spec, *work;
    int64_t work_size;
};

static void stft_task(void *p, int ith, int nth) {
    const struct stft_ctx *c = p;
    float *in = c->work + ith * c->work_size, *cx = in + NFFT;
    int64_t b, e;
    dumu_split(c->n_ch * c->nfr, ith, nth, &b, &e);
    for (int64_t job = b; job < e; job++) {
        int64_t ch = job / c->nfr, t = job % c->nfr;
        const float *x = c->x + ch * c->len;
        int64_t s0 = t * HOP - PAD_LEFT;
        for (int m = 0; m < NFFT; m++) {
            int64_t n = s0 + m;
            float v = (n >= 0 && n < c->len) ? x[n] : x[dumu_dm_reflect(n, c->len)];
            in[m] = c->f->window[m] * v;
        }
        fftwf_execute_dft_r2c((fftwf_plan)c->f->r2c, in, (fftwf_complex *)cx);
        float *re = c->spec + (2 * ch) * NBINS * c->nfr + t;
        float *im = re + NBINS * c->nfr;
        for (int k = 0; k < NBINS; k++) {
            re[k * c->nfr] = cx[2 * k] * (1.0f / 64.0f);
            im[k * c->nfr] = cx[2 * k + 1] * (1.0f / 64.0f);
        }
    }
}

void dumu_dm_stft(const dumu_dm_fft *f, const float *x, int64_t n_ch, int64_t len, float *spec,
                  float *work, int n_threads) {
    DUMU_ASSERT(len >= 2560);
    struct stft_ctx c = {
        f, x, n_ch, len, dumu_dm_stft_frames(len), spec, work, dumu_dm_fft_work_size(len)};
    dumu_parallel(n_threads, stft_task, &c);
}

void dumu_dm_stft_frame_ref(const float *x, int64_t len, int64_t t, double *re, double *im) {
    double frame[NFFT];
    for (int m = 0; m < NFFT; m++) {
        int64_t n = t * HOP - PAD_LEFT + m;
        double w = 0.5 - 0.5 * cos(2.0 * M_PI * m / NFFT);
        frame[m] = w * (double)x[dumu_dm_reflect(n, len)];
    }
    for (int k = 0; k < NBINS; k++) {
        double sr = 0.0, si = 0.0;
        for (int m = 0; m < NFFT; m++) {
            double a = -2.0 * M_PI * (double)((int64_t)k * m % NFFT) / NFFT;
            sr += frame[m] * cos(a);
            si += frame[m] * sin(a);
        }
        re[k] = sr / 64.0;
        im[k] = si / 64.0;
    }
}

struct istft_ctx {
    const dumu_dm_fft *f;
    const float *spec;
    int64_t n_rows, len, nfr;
    float *y, *work;
    int64_t work_size;
};

static void istft_task(void *p, int ith, int nth) {
    const struct istft_ctx *c = p;
    float *out = c->work + ith * c->work_size, *cx = out + NFFT, *ola = cx + NFFT + 16;
    const float *w = c->f->window;
    int64_t b, e;
    dumu_split(c->n_rows, ith, nth, &b, &e);
    for (int64_t r = b; r < e; r++) {
        memset(ola, 0, (size_t)c->len * sizeof(float));
        const float *re = c->spec + (2 * r) * NBINS * c->nfr;
        const float *im = re + NBINS * c->nfr;
        for (int64_t t = 0; t < c->nfr; t++) {
            for (int k = 0; k < NBINS; k++) {
                cx[2 * k] = re[k * c->nfr + t];
                cx[2 * k + 1] = im[k * c->nfr + t];
            }
            cx[1] = 0.0f;         /* imaginary part of DC: ignored by a real inverse */
            cx[2 * NBINS] = 0.0f; /* Nyquist bin: zero */
            cx[2 * NBINS + 1] = 0.0f;
            fftwf_execute_dft_c2r((fftwf_plan)c->f->c2r, (fftwf_complex *)cx, out);
            /* frame t covers output samples n = 1024 t - 1536 + m */
            int64_t n0 = t * HOP - PAD_LEFT;
            int m0 = n0 < 0 ? (int)-n0 : 0;
            int m1 = (int)min64(NFFT, c->len - n0);
            for (int m = m0; m < m1; m++) {
                float v = out[m] * w[m];
                ola[n0 + m] += v * (1.0f / 64.0f);
            }
        }
        float *yr = c->y + r * c->len;
        for (int64_t n = 0; n < c->len; n++)
            yr[n] += ola[n] / c->f->env[(n + 512) & (HOP - 1)];
    }
}

void dumu_dm_istft_add(const dumu_dm_fft *f, const float *spec, int64_t n_rows, int64_t len,
                       float *y, float *work, int n_threads) {
    struct istft_ctx c = {
        f, spec, n_rows, len, dumu_dm_stft_frames(len), y, work, dumu_dm_fft_work_size(len)};
    dumu_parallel((int)min64(n_threads, n_rows), istft_task, &c);
}

/* ---------------------------------------------------------------------------------------- */
/* Chunking */

#define TRI_PEAK 171991 /* JS: w[i] = i + 1 up to i = 171990, then S - i; divided by the peak */

int64_t dumu_dm_chunk_stride(double overlap) {
    int64_t s = (int64_t)floor((1.0 - overlap) * (double)DUMU_DM_SEGMENT);
    return s < 1 ? 1 : s;
}

int64_t dumu_dm_chunk_count(int64_t L, int64_t stride) {
    return (L + stride - 1) / stride;
}

dumu_dm_chunk dumu_dm_chunk_at(int64_t L, int64_t stride, int64_t k) {
    dumu_dm_chunk c;
    c.off = k * stride;
    c.len = min64(DUMU_DM_SEGMENT, L - c.off);
    c.trim = (DUMU_DM_SEGMENT - c.len) / 2;
    c.start = c.off - c.trim;
    return c;
}

float dumu_dm_tri_weight(int64_t i) {
    int64_t v = i < TRI_PEAK ? i + 1 : DUMU_DM_SEGMENT - i;
    return (float)((double)v / TRI_PEAK);
}

void dumu_dm_ola_add(float *out, int64_t n_ch, const float *y, const dumu_dm_chunk *c) {
    for (int64_t ch = 0; ch < n_ch; ch++) {
        const float *src = y + ch * DUMU_DM_SEGMENT + c->trim;
        float *dst = out + c->off * n_ch + ch;
        for (int64_t t = 0; t < c->len; t++)
            dst[t * n_ch] += dumu_dm_tri_weight(t) * src[t];
    }
}

void dumu_dm_ola_normalize(float *out, int64_t n_ch, int64_t L, int64_t stride, int64_t a,
                           int64_t b) {
    DUMU_ASSERT(0 <= a && a <= b && b <= L);
    for (int64_t n = a; n < b; n++) {
        /* chunks k with k*stride <= n < k*stride + min(S, L - k*stride) */
        int64_t k1 = n / stride;
        int64_t k0 = n >= DUMU_DM_SEGMENT ? (n - DUMU_DM_SEGMENT) / stride + 1 : 0;
        float sum = 0.0f;
        for (int64_t k = k0; k <= k1; k++) {
            int64_t t = n - k * stride;
            if (t < DUMU_DM_SEGMENT) sum += dumu_dm_tri_weight(t);
        }
        for (int64_t ch = 0; ch < n_ch; ch++)
            out[n * n_ch + ch] /= sum;
    }
}
