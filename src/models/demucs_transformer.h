/* demucs_transformer.h - the cross-domain transformer of htdemucs (docs/htdemucs.md §2.7):
 * norm_in + sinusoidal positional embeddings, then 5 layers per branch (self, cross, self,
 * cross, self), each ending in a GroupNorm(1) over all tokens.
 *
 * Layouts (row-major float32):
 *   x   (512, 8, 336)  freq branch as [c][f][t] (the [512, 2688] view, index f*336 + t)
 *   xt  (512, 1344)    time branch as [c][t]
 *   inside, tokens are row-major (tokens, 512): freq token n = t*8 + f (time-major, as the
 *   graph's einops rearrange), time token t.
 *
 * Ownership: the weights are borrowed (read-only, shareable between threads); x and xt are
 * updated in place; scratch is caller-owned, 64-byte aligned, and holds nothing between
 * calls. No function here allocates (except the *_ref ones, used by tests) or fails.
 *
 * Threads: n_threads workers split GEMMs, attention blocks and row-wise ops; results are
 * bit-identical for every thread count. */
#ifndef DUMU_MODELS_DEMUCS_TRANSFORMER_H
#define DUMU_MODELS_DEMUCS_TRANSFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dumu/dumu.h"

#include "models/demucs_layers.h"
#include "models/demucs_weights.h"

#define DUMU_DM_TF_DIM    512  /* model width */
#define DUMU_DM_TF_HEADS  8    /* attention heads of 64 */
#define DUMU_DM_TF_FFN    2048 /* FFN hidden width */
#define DUMU_DM_TF_LAYERS 5    /* per branch: self, cross, self, cross, self */
#define DUMU_DM_TF_FRAMES 336  /* frames of a segment */
#define DUMU_DM_TF_FREQS  8    /* frequency rows left after the encoder */
#define DUMU_DM_TF_TSTEPS 1344 /* time-branch steps of a segment */

/* Scratch bytes dumu_dm_transformer needs (fixed for the 343980-sample segment). */
size_t dumu_dm_transformer_scratch_size(void);

/* ref: demucs/transformer.py CrossTransformerEncoder.forward (docs/htdemucs.md §2.7), with norm_out
 * statistics in onnxruntime's 8-lane float32 order (DUMU_DM_STATS_LANES8), which is what
 * matches the reference onnxruntime output best (docs/htdemucs.md §5).
 * x:  (512, 8, 336) freq branch as [c][f][t], in place;
 * xt: (512, 1344) time branch as [c][t], in place;
 * scratch: dumu_dm_transformer_scratch_size() bytes, 64-byte aligned, owned by the caller. */
void dumu_dm_transformer(const dumu_dm_weights *w, float *x, float *xt, void *scratch,
                         int n_threads);

/* Same, with the norm_out statistics mode chosen by the caller. */
void dumu_dm_transformer_ex(const dumu_dm_weights *w, float *x, float *xt, void *scratch,
                            dumu_dm_stats_mode stats, int n_threads);

/* ---- internals, exposed for tests ------------------------------------------------------ */

/* Weights of one encoder layer as plain pointers (PyTorch layouts; D = 512, F = 2048). */
typedef struct dumu_dm_tf_layer {
    bool cross;              /* CrossTransformerEncoderLayer (else MyTransformerEncoderLayer) */
    const float *norm1_w;    /* (D) LayerNorm on the queries' input */
    const float *norm1_b;    /* (D) */
    const float *norm2_w;    /* (D) self: before the FFN; cross: on the keys' input */
    const float *norm2_b;    /* (D) */
    const float *norm3_w;    /* (D) cross only: before the FFN */
    const float *norm3_b;    /* (D) */
    const float *in_proj_w;  /* (3D, D) rows: Wq, Wk, Wv */
    const float *in_proj_b;  /* (3D) */
    const float *out_proj_w; /* (D, D) */
    const float *out_proj_b; /* (D) */
    const float *linear1_w;  /* (F, D) */
    const float *linear1_b;  /* (F) */
    const float *linear2_w;  /* (D, F) */
    const float *linear2_b;  /* (D) */
    const float *gamma_1;    /* (D) LayerScale after attention */
    const float *gamma_2;    /* (D) LayerScale after the FFN */
    const float *norm_out_w; /* (D) GroupNorm(1) affine */
    const float *norm_out_b; /* (D) */
} dumu_dm_tf_layer;

typedef struct dumu_dm_tf_weights {
    const float *norm_in_w, *norm_in_b;           /* (D) freq branch entry LayerNorm */
    const float *norm_in_t_w, *norm_in_t_b;       /* (D) time branch */
    dumu_dm_tf_layer layers[DUMU_DM_TF_LAYERS];   /* freq branch (crosstransformer.layers) */
    dumu_dm_tf_layer layers_t[DUMU_DM_TF_LAYERS]; /* time branch (crosstransformer.layers_t) */
    const float *phase_t; /* (336, 128) t*div[k] as the graph's float constant, or NULL */
    const float *phase_f; /* (8, 128) f*div[k], or NULL */
} dumu_dm_tf_weights;

/* Fills *tw from the loaded model (aborts on a missing or misshapen tensor: the loader
 * checked them). Pointers live as long as w. */
void dumu_dm_tf_weights_get(const dumu_dm_weights *w, dumu_dm_tf_weights *tw);

/* Scratch bytes for the general sizes below (n_frames, n_freqs >= 1 freq-token grid, n_time
 * time tokens). */
size_t dumu_dm_tf_scratch_size(int64_t n_frames, int64_t n_freqs, int64_t n_time);

/* The transformer for any token counts (the network has 336, 8, 1344): x (512, n_freqs,
 * n_frames), xt (512, n_time). n_frames <= 336 and n_freqs <= 8 when tw has phase tables. */
void dumu_dm_tf_run(const dumu_dm_tf_weights *tw, int64_t n_frames, int64_t n_freqs, int64_t n_time,
                    float *x, float *xt, void *scratch, dumu_dm_stats_mode stats, int n_threads);

/* Plain reference of dumu_dm_tf_run: naive attention over the full score matrix, double
 * accumulation everywhere, libm erf/exp; allocates its own buffers. DUMU_E_NOMEM on
 * allocation failure. */
dumu_status dumu_dm_tf_run_ref(const dumu_dm_tf_weights *tw, int64_t n_frames, int64_t n_freqs,
                               int64_t n_time, float *x, float *xt, dumu_dm_stats_mode stats);

/* Positional embeddings (docs/htdemucs.md §2.7), written as (tokens, 512):
 * 1-D: p[t][c] = cos(t / 10000^(c/255)) for c < 256, sin(t / 10000^((c-256)/255)) above,
 *      the phase computed in float32 as the graph does;
 * 2-D: p[t*n_freqs + f][c]: channels 2k / 2k+1 (k < 128) sin / cos of t*div[k], channels
 *      256+2k / 256+2k+1 sin / cos of f*div[k], div[k] = exp(-2k ln(10000) / 256); the
 *      phases from phase_t / phase_f when given, else t*div[k] in double rounded to float. */
void dumu_dm_tf_pos_1d(float *p, int64_t n_time);
void dumu_dm_tf_pos_2d(float *p, int64_t n_frames, int64_t n_freqs, const float *phase_t,
                       const float *phase_f);

/* LayerNorm over the 512 channels of each of n tokens: y = (x - mean) / sqrt(var + 1e-5) *
 * w + b (x may equal y). Fast: double statistics, float apply. */
void dumu_dm_tf_layernorm(const float *x, int64_t n, const float *w, const float *b, float *y,
                          int n_threads);
void dumu_dm_tf_layernorm_ref(const float *x, int64_t n, const float *w, const float *b, float *y);

/* GroupNorm(1) over all n tokens x 512 channels of x (n, 512) in place, statistics in the
 * graph's [512][n] (channel-major) order; tmp: n*512 floats (fast version only). */
void dumu_dm_tf_groupnorm(float *x, int64_t n, const float *w, const float *b,
                          dumu_dm_stats_mode stats, float *tmp, int n_threads);
void dumu_dm_tf_groupnorm_ref(float *x, int64_t n, const float *w, const float *b,
                              dumu_dm_stats_mode stats);

/* Row softmax, max-subtracted, in double: x (rows, cols) in place. */
void dumu_dm_tf_softmax_ref(float *x, int64_t rows, int64_t cols);

/* Multi-head attention (8 heads of 64, no mask) of queries xq (nq, 512) over keys/values
 * xkv (nk, 512), both already layer-normed, with in_proj / out_proj of `l`:
 * out (nq, 512) = concat_h softmax((Q_h a)(K_h a)^T) V_h . Wo^T + bo, a = sqrtf(0.125f).
 * Fast: attention one block of 96 queries x one head at a time (scores never stored beyond
 * nk x 96 per thread); ws: dumu_dm_tf_mha_ws_size(nq, nk) bytes, 64-byte aligned. */
size_t dumu_dm_tf_mha_ws_size(int64_t nq, int64_t nk);
void dumu_dm_tf_mha(const dumu_dm_tf_layer *l, const float *xq, int64_t nq, const float *xkv,
                    int64_t nk, float *out, void *ws, int n_threads);
dumu_status dumu_dm_tf_mha_ref(const dumu_dm_tf_layer *l, const float *xq, int64_t nq,
                               const float *xkv, int64_t nk, float *out);

#endif /* DUMU_MODELS_DEMUCS_TRANSFORMER_H */
