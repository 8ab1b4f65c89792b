/* demucs_layers.h - the building blocks of htdemucs (spec: docs/htdemucs.md §2):
 * convolutions as tiled-im2col GEMMs, ConvTranspose, GLU, exact GELU, GroupNorm(1) with a
 * choice of statistics, the DConv residual branch, whole encoder/decoder layers of both
 * branches, and the input (de)normalisation. Every fast kernel has a plain reference loop
 * (`*_ref`) next to it; tests/unit/test_dm_layers.c holds them equal.
 *
 * Layouts (all row-major, float32):
 *   time-branch tensors   (C, T)      T contiguous
 *   freq-branch tensors   (C, F, T)   T = frames (336 in the network), contiguous; F = bins
 *   conv weights          PyTorch layout: Conv1d (Cout, Cin, K), Conv2d (Cout, Cin, KF, KT),
 *                         ConvTranspose (Cin, Cout, K[, 1]), 1x1 convs (Cout, Cin[, 1[, 1]])
 * A "channel stride" (`*cs`) is the distance in floats between channel c and c+1, so a
 * range of rows inside a bigger (C, F, T) tensor can be addressed without copying.
 *
 * Ownership: every function borrows its pointers for the duration of the call; outputs are
 * caller-allocated. Scratch buffers are caller-provided with their capacity in floats; a
 * kernel tiles its work so that it never needs more (the minimum is documented per call).
 * No function allocates or fails; sizes are asserted (DUMU_ASSERT).
 *
 * Threads: functions taking n_threads split their work with dumu_parallel / dumu_sgemm;
 * results are bit-identical for every thread count. */
#ifndef DUMU_MODELS_DEMUCS_LAYERS_H
#define DUMU_MODELS_DEMUCS_LAYERS_H

#include <stdbool.h>
#include <stdint.h>

#include "dumu/dumu.h"

/* ---- statistics ---------------------------------------------------------------------- */

/* How GroupNorm / input-normalisation statistics are computed (docs/htdemucs.md §5).
 *   DOUBLE: sums in double precision; the exact mean/variance up to float rounding.
 *   LANES8: onnxruntime's x86-64 float32 reduction: 8 interleaved float lanes in flat index
 *           order, combined (l, l+4), then (0,2)+(1,3), then the n%8 tail sequentially; the
 *           variance is a second such pass over float (x - mean)^2. Reproduces ORT's
 *           statistics bit for bit; for bit-hunting against ORT CPU. */
typedef enum dumu_dm_stats_mode {
    DUMU_DM_STATS_DOUBLE = 0,
    DUMU_DM_STATS_LANES8 = 1,
} dumu_dm_stats_mode;

/* Mean and biased variance of the block x[r * ld + c], r < rows, c < cols (ld >= cols),
 * taken in flat order r * cols + c. rows * cols >= 1. */
void dumu_dm_block_stats(const float *x, int64_t rows, int64_t cols, int64_t ld,
                         dumu_dm_stats_mode mode, float *mean, float *var);
void dumu_dm_block_stats_ref(const float *x, int64_t rows, int64_t cols, int64_t ld,
                             dumu_dm_stats_mode mode, float *mean, float *var);

/* Input normalisation (docs/htdemucs.md §2.2): mean and unbiased std over x[0..n) (n >= 2),
 * then x = (x - mean) / (std + 1e-5) in place. Returns the mean and std (without eps) for
 * the de-normalisation y = y * std + mean. */
void dumu_dm_normalize(float *x, int64_t n, dumu_dm_stats_mode mode, float *mean, float *std,
                       int n_threads);
void dumu_dm_normalize_ref(float *x, int64_t n, dumu_dm_stats_mode mode, float *mean, float *std);

/* GroupNorm with one group over the block x (c, t) with channel stride cs, in place:
 * y = (x - mean) / sqrt(var + 1e-5) * gamma[ch] + beta[ch], statistics over all c*t values
 * (docs/htdemucs.md §2.1). */
void dumu_dm_groupnorm(float *x, int64_t c, int64_t t, int64_t cs, const float *gamma,
                       const float *beta, dumu_dm_stats_mode mode, int n_threads);
void dumu_dm_groupnorm_ref(float *x, int64_t c, int64_t t, int64_t cs, const float *gamma,
                           const float *beta, dumu_dm_stats_mode mode);

/* ---- elementwise ------------------------------------------------------------------------ */

/* References of the fast GELU and GLU (dumu_dm_kernels in nn/simd.h):
 * GELU in place, x = 0.5 * x * (1 + erf(x / sqrt(2))) with libm erf in double;
 * GLU, out[i] = a[i] * sigmoid(b[i]) for i < n, out may alias a. */
void dumu_dm_gelu_ref(float *x, int64_t n);
void dumu_dm_glu_ref(const float *a, const float *b, float *out, int64_t n);

/* ---- convolutions ----------------------------------------------------------------------- */

/* Tensor views. A convolution input is a (C, R, L, V) tensor: C channels, each holding R
 * independent rows (sequences) of L positions, each position a vector of V floats; the
 * convolution runs along L. Element (c, r, l, v) is at data[c * cs + (r * L + l) * V + v]:
 * dense inside a channel, with a free channel stride cs (floats) so that a block of rows of a
 * bigger tensor can be addressed without copying. How the network's tensors map onto it:
 *   time-branch (C, T)                    rows 1, len T, inner 1
 *   DConv over the frames of every bin    rows F, len T, inner 1   (x (C, F, T))
 *   freq conv along F (frames as vector)  rows 1, len F, inner T   (x (C, F, T))
 * The "flat columns" of a channel are j = (r * L + l) * V + v, j < R * L * V.
 * dumu_dm_src is read, dumu_dm_dst written; both borrow `data` for the call. */
typedef struct dumu_dm_src {
    const float *data; /* element (0, 0, 0, 0) */
    int64_t c;         /* C: channels */
    int64_t cs;        /* channel stride in floats */
    int64_t rows;      /* R: independent rows per channel */
    int64_t len;       /* L: positions along the convolved axis */
    int64_t inner;     /* V: floats per position */
} dumu_dm_src;

typedef struct dumu_dm_dst {
    float *data;                     /* the first column the call writes (see each function) */
    int64_t c, cs, rows, len, inner; /* as in dumu_dm_src */
} dumu_dm_dst;

/* Geometry of a convolution along L, in positions: kernel taps k, stride, zero padding `pad`
 * before position 0 (PyTorch's padding), dilation `dil` between taps. For a ConvTranspose,
 * `pad` is PyTorch's padding of the transposed conv: the first `pad` outputs are cropped;
 * dil must be 1. */
typedef struct dumu_dm_conv_geom {
    int k, stride, pad, dil;
} dumu_dm_conv_geom;

/* A 1-D convolution along L of x (cin, R, L, V) into y (cout, R, lout, V), lout = y.len
 * (given, not derived: the time encoder's implicit right padding makes it ceil(L / stride)):
 *   Y[o][r][p][v] = b[o] + sum_{i,k} w[o][i][k] * x[i][r][p*stride + k*dil - pad][v],
 * with x = 0 outside [0, L), for p < lout. Computes the flat output columns [j0, j1) of Y
 * (j0, j1 multiples of V) into y: column j of output channel o at y.data[o * y.cs + j - j0]
 * (y.cs >= j1 - j0). y.rows == x.rows, y.inner == x.inner. w (cout, cin, k), b (cout) or
 * NULL. Used as: the time-branch Conv1d (R 1, V 1), the DConv convs over the frames of every
 * bin (R F, V 1) and the encoder's frequency conv (R 1, L F, V T). cols: scratch, cols_cap
 * >= cin*k*V floats (more is faster: im2col is tiled over the output columns). 1x1 convs
 * (k 1, stride 1, pad 0, lout == L) use no scratch; 3-tap "same" convs (stride 1, pad ==
 * dil, V 1) over all columns use three GEMMs on shifted views of x instead of im2col when
 * cols_cap >= 3*cout*cin. */
void dumu_dm_conv(dumu_dm_src x, const float *w, const float *b, dumu_dm_conv_geom g, dumu_dm_dst y,
                  int64_t j0, int64_t j1, float *cols, int64_t cols_cap, int n_threads);
/* Reference: all R*lout*V columns, y.data at column 0. */
void dumu_dm_conv_ref(dumu_dm_src x, const float *w, const float *b, dumu_dm_conv_geom g,
                      dumu_dm_dst y);

/* 1x1 channel change y = w x + b of x (cin, N) into y (cout, N), N = R * L * V flat columns
 * (x and y the same shape but for C); w (cout, cin), b (cout). The bottleneck samplers. */
void dumu_dm_conv1x1(dumu_dm_src x, const float *w, const float *b, dumu_dm_dst y, int n_threads);

/* The decoder's 3x3 conv (padding 1 on both axes) on (x + x2), x (cin, 1, F, T) (rows 1,
 * len F, inner T; x2 may be NULL, else laid out as x), computing the output frequency rows
 * [f0, f1) of (cout, 1, F, T): column j of output channel o at y.data[o * y.cs + j - f0*T].
 * w (cout, cin, 3, 3), b (cout). cols_cap >= cin*9*T. */
void dumu_dm_conv3x3(dumu_dm_src x, const float *x2, const float *w, const float *b, dumu_dm_dst y,
                     int64_t f0, int64_t f1, float *cols, int64_t cols_cap, int n_threads);
void dumu_dm_conv3x3_ref(dumu_dm_src x, const float *x2, const float *w, const float *b,
                         dumu_dm_dst y, int64_t f0, int64_t f1);

/* Which part of a full ConvTranspose one call computes: the input positions [l0, l0 +
 * x.len) (x holds only those), and the output channels [o0, o0 + y.c) of a weight w (cin,
 * w_cout, k). Tiles of positions and groups of output channels are separate calls. */
typedef struct dumu_dm_convtr_part {
    int64_t l0;     /* input position of x's position 0 */
    int64_t o0;     /* first output channel of w */
    int64_t w_cout; /* output channels of w */
} dumu_dm_convtr_part;

/* ConvTranspose along L, accumulating (no bias; see dumu_dm_bias_act):
 *   y[o - o0][q][v] += sum_i w[i][o][kk] * x[i][l - l0][v]   for q = l*stride + kk - pad,
 * for positions l in [l0, l0 + x.len) of x (cin, 1, x.len, V), output channels o of the part,
 * and only the q in [0, y.len); y is (cout, 1, lout, V), y.data at column 0, y.inner ==
 * x.inner. With stride 4 and k 8 each output gets exactly two contributions, and a + b == b
 * + a, so the result does not depend on the order in which tiles of l are processed.
 * cols_cap >= cout*k*V. */
void dumu_dm_convtr(dumu_dm_src x, const float *w, dumu_dm_convtr_part part, dumu_dm_conv_geom g,
                    dumu_dm_dst y, float *cols, int64_t cols_cap, int n_threads);
void dumu_dm_convtr_ref(dumu_dm_src x, const float *w, dumu_dm_convtr_part part,
                        dumu_dm_conv_geom g, dumu_dm_dst y);

/* y[o][j] = act(y[o][j] + b[o]) for o < c, j < n (channel stride cs); act = GELU when gelu,
 * else identity. b may be NULL. */
void dumu_dm_bias_act(float *y, int64_t c, int64_t n, int64_t cs, const float *b, bool gelu,
                      int n_threads);

/* ---- layers ----------------------------------------------------------------------------- */

/* DConv residual branch weights (docs/htdemucs.md §2.5), for C channels with H = C/8 hidden. */
typedef struct dumu_dm_dconv_w {
    int32_t c, h;
    const float *w0[2], *b0[2];  /* (h, c, 3), (h): conv k 3, dilation 1 (j=0), 2 (j=1) */
    const float *g1[2], *be1[2]; /* (h): GroupNorm */
    const float *w3[2], *b3[2];  /* (2c, h[, 1]), (2c): 1x1 conv */
    const float *g4[2], *be4[2]; /* (2c): GroupNorm */
    const float *scale[2];       /* (c): LayerScale */
} dumu_dm_dconv_w;

/* Encoder layer (tencoder.i / encoder.i), docs/htdemucs.md §2.3-2.4. */
typedef struct dumu_dm_enc_w {
    int32_t cin, c;
    const float *conv_w, *conv_b; /* (c, cin, 8[, 1]), (c) */
    dumu_dm_dconv_w dconv;
    const float *rw_w, *rw_b; /* (2c, c[, 1, 1]), (2c): 1x1 rewrite, then GLU */
} dumu_dm_enc_w;

/* Decoder layer (tdecoder.i / decoder.i), docs/htdemucs.md §2.9. */
typedef struct dumu_dm_dec_w {
    int32_t cin, cout;
    const float *rw_w, *rw_b; /* (2cin, cin, 3[, 3]), (2cin): k 3 (time) / 3x3 (freq), GLU */
    dumu_dm_dconv_w dconv;    /* over cin channels */
    const float *tr_w, *tr_b; /* (cin, cout, 8[, 1]), (cout): ConvTranspose stride 4 */
} dumu_dm_dec_w;

/* Scratch for the layer drivers. `buf` holds n_slots private regions of `slot` floats each
 * (one per worker thread for the frequency branch); `big` is one shared region of big_cap
 * floats for the time branch (see dumu_dm_time_scratch_size). */
typedef struct dumu_dm_scratch {
    float *buf;
    int64_t slot;
    int n_slots;
    float *big;
    int64_t big_cap;
} dumu_dm_scratch;

/* Smallest per-thread slot the frequency-branch drivers accept for these channel counts at
 * T frames (one frequency row per tile); the drivers take as many rows per tile as fit. */
int64_t dumu_dm_freq_slot_min(int64_t cin_max, int64_t c_max, int64_t T);

/* `big` floats the time-branch drivers need for a layer whose DConv has c channels at t
 * samples: (3c + c/8) * t for the full-length DConv tensors plus a fixed 2 Mi-float region
 * for im2col and GEMM tiles. */
int64_t dumu_dm_time_scratch_size(int64_t c, int64_t t);

/* DConv (docs/htdemucs.md §2.5) in place on y (c, r, t), dense; each row r is its own sequence
 * (GroupNorm statistics per row, over c x t). tmp: tmp_cap floats, at least
 * (3c + c/8 + 2c) * t (the drivers give more). */
void dumu_dm_dconv(const dumu_dm_dconv_w *w, float *y, int64_t r, int64_t t, float *tmp,
                   int64_t tmp_cap, dumu_dm_stats_mode mode, int n_threads);
void dumu_dm_dconv_ref(const dumu_dm_dconv_w *w, float *y, int64_t r, int64_t t,
                       dumu_dm_stats_mode mode);

/* Time encoder layer: x (cin, tin) -> out (c, tout), tout = ceil(tin / 4) (the right zero
 * padding to a multiple of 4 and the conv padding are implicit). Needs s->big_cap >=
 * dumu_dm_time_scratch_size(c, tout). */
void dumu_dm_time_encoder(const dumu_dm_enc_w *w, const float *x, int64_t tin, float *out,
                          const dumu_dm_scratch *s, dumu_dm_stats_mode mode, int n_threads);

/* Freq encoder layer: x (cin, fin, T) -> out (c, fin/4, T) (fin % 4 == 0). When emb is not
 * NULL, adds emb_weight * emb[ch][f] (emb (c, fin/4)) to the output (docs/htdemucs.md §2.4 step 4).
 * Tiles of frequency rows are spread over n_threads workers, each using its slot. */
void dumu_dm_freq_encoder(const dumu_dm_enc_w *w, const float *x, int64_t fin, int64_t T,
                          float *out, const float *emb, float emb_weight, const dumu_dm_scratch *s,
                          dumu_dm_stats_mode mode, int n_threads);

/* Output-channel selection of a decoder layer: n_groups groups of gsize consecutive output
 * channels, group g starting at channel o0[g] of the layer; the output holds the groups one
 * after the other (n_groups * gsize channels). The last decoders use it to compute only the
 * requested stems. */
typedef struct dumu_dm_outsel {
    int n_groups;
    int64_t gsize;
    int64_t o0[8];
} dumu_dm_outsel;

/* Time decoder layer: x (cin, t) += skip (in place), rewrite + GLU, DConv, ConvTranspose,
 * crop [2, 2 + tout); writes the selected output channels to out (n_groups*gsize, tout);
 * GELU unless `last`. Needs big_cap >= dumu_dm_time_scratch_size(cin, t). */
void dumu_dm_time_decoder(const dumu_dm_dec_w *w, float *x, const float *skip, int64_t t,
                          const dumu_dm_outsel *sel, float *out, int64_t tout, bool last,
                          const dumu_dm_scratch *s, dumu_dm_stats_mode mode, int n_threads);

/* Freq decoder layer: x (cin, F, T) += skip (in place), then -> out (n_groups*gsize, 4F, T)
 * for the selected output channels; GELU unless `last`. */
void dumu_dm_freq_decoder(const dumu_dm_dec_w *w, float *x, const float *skip, int64_t F, int64_t T,
                          const dumu_dm_outsel *sel, float *out, bool last,
                          const dumu_dm_scratch *s, dumu_dm_stats_mode mode, int n_threads);

/* Plain reference versions of the four layer drivers (full tensors, no tiling; they
 * allocate with dumu_malloc and abort on failure: tests only). */
void dumu_dm_time_encoder_ref(const dumu_dm_enc_w *w, const float *x, int64_t tin, float *out,
                              dumu_dm_stats_mode mode);
void dumu_dm_freq_encoder_ref(const dumu_dm_enc_w *w, const float *x, int64_t fin, int64_t T,
                              float *out, const float *emb, float emb_weight,
                              dumu_dm_stats_mode mode);
void dumu_dm_time_decoder_ref(const dumu_dm_dec_w *w, const float *x, const float *skip, int64_t t,
                              const dumu_dm_outsel *sel, float *out, int64_t tout, bool last,
                              dumu_dm_stats_mode mode);
void dumu_dm_freq_decoder_ref(const dumu_dm_dec_w *w, const float *x, const float *skip, int64_t F,
                              int64_t T, const dumu_dm_outsel *sel, float *out, bool last,
                              dumu_dm_stats_mode mode);

/* ---- host DSP (docs/htdemucs.md §1) ---------------------------------------------------------- */

#define DUMU_DM_SEGMENT 343980 /* samples per segment S = floor(7.8 * 44100) */
#define DUMU_DM_NFFT    4096
#define DUMU_DM_HOP     1024
#define DUMU_DM_NBINS   2048 /* the Nyquist bin is dropped */
#define DUMU_DM_NFRAMES 336  /* ceil(S / hop) */

/* PyTorch "reflect" padding index (no edge repeat): n < 0 -> -n, n >= len -> 2len - 2 - n.
 * Valid for -len < n < 2len - 1 (one reflection), len >= 2. */
int64_t dumu_dm_reflect(int64_t n, int64_t len);

/* FFT state of the spectrogram (n_fft 4096, hop 1024, periodic Hann, normalised): two FFTW
 * single-precision plans (r2c and c2r, out of place, made on 64-byte aligned buffers, so they
 * may be executed on any 64-byte aligned arrays from any number of threads at once), the
 * window, and the ISTFT window envelope. Init/deinit take dumu_fft_plan_lock (src/dsp/stft.h)
 * because FFTW's planner is not thread-safe. Deinit is safe on a zeroed struct. */
typedef struct dumu_dm_fft {
    void *r2c, *c2r; /* fftwf_plan */
    float *window;   /* (4096) */
    float *env;      /* (1024): sum of window^2 over the 4 frames covering a sample, by
                        (sample + 512) mod 1024, accumulated in float, frame order */
} dumu_dm_fft;

dumu_status dumu_dm_fft_init(dumu_dm_fft *f, dumu_error *err);
void dumu_dm_fft_deinit(dumu_dm_fft *f);

/* Floats of per-thread work buffer the STFT / ISTFT need for a signal of len samples. */
int64_t dumu_dm_fft_work_size(int64_t len);

/* Number of kept frames for a signal of len samples: ceil(len / 1024). */
int64_t dumu_dm_stft_frames(int64_t len);

/* STFT of x (n_ch, len) (len >= 2560) into the CaC layout spec (2*n_ch, 2048, nfr), nfr =
 * dumu_dm_stft_frames(len): spec[2c][k][t] = Re X_c[k][t], spec[2c+1][k][t] = Im, with
 *   X_c[k][t] = 1/64 sum_m w[m] s_c(1024 t - 1536 + m) e^(-2 pi i k m / 4096)
 * and s_c the signal reflect-padded (PyTorch reflect on both sides; docs/htdemucs.md §1.5).
 * work: n_threads * dumu_dm_fft_work_size(len) floats, 64-byte aligned. */
void dumu_dm_stft(const dumu_dm_fft *f, const float *x, int64_t n_ch, int64_t len, float *spec,
                  float *work, int n_threads);
/* Reference of one frame t of channel c: a direct DFT in double into re/im (2048 each). */
void dumu_dm_stft_frame_ref(const float *x, int64_t len, int64_t t, double *re, double *im);

/* ISTFT (docs/htdemucs.md §1.7, as PyTorch, exactly len samples) of the CaC rows spec (2*n_rows,
 * 2048, nfr): adds the inverse of row r to y[r] (n_rows, len). */
void dumu_dm_istft_add(const dumu_dm_fft *f, const float *spec, int64_t n_rows, int64_t len,
                       float *y, float *work, int n_threads);

/* ---- chunking and overlap-add (docs/htdemucs.md §1.3) ---------------------------------------- */

typedef struct dumu_dm_chunk {
    int64_t off;   /* first song sample this chunk contributes */
    int64_t len;   /* samples contributed: min(S, L - off) */
    int64_t start; /* song sample at window index 0 (may be < 0: zeros outside [0, L)) */
    int64_t trim;  /* window index of song sample `off`: floor((S - len) / 2) */
} dumu_dm_chunk;

/* floor((1 - overlap) * S), at least 1. */
int64_t dumu_dm_chunk_stride(double overlap);
/* ceil(L / stride) chunks for L >= 1. */
int64_t dumu_dm_chunk_count(int64_t L, int64_t stride);
dumu_dm_chunk dumu_dm_chunk_at(int64_t L, int64_t stride, int64_t k);

/* The triangular overlap-add weight of the npm host (docs/htdemucs.md §1.3 step 6) for window
 * index i in [0, S): (i + 1) / 171991 for i <= 171990, (S - i) / 171991 after, in float. */
float dumu_dm_tri_weight(int64_t i);

/* Overlap-add of one chunk: out[(c.off + t) * n_ch + ch] += w(t) * y[ch * S + c.trim + t]
 * for t < c.len, out (L, n_ch) interleaved, y (n_ch, S) the chunk's network window. */
void dumu_dm_ola_add(float *out, int64_t n_ch, const float *y, const dumu_dm_chunk *c);

/* Divides the samples [a, b) of out (L, n_ch) by the sum of the weights of every chunk that
 * covers them (chunk order, float), which is final once every chunk k with off_k < b has
 * been added: after chunk k, [off_k, off_{k+1}) (or [off_k, L) for the last) is done. */
void dumu_dm_ola_normalize(float *out, int64_t n_ch, int64_t L, int64_t stride, int64_t a,
                           int64_t b);

#endif /* DUMU_MODELS_DEMUCS_LAYERS_H */
