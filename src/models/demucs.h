/* demucs.h - internals of the htdemucs separator (src/models/demucs.c) shared with its tests:
 * one-segment inference with probes on every layer output, and the statistics switch.
 *
 * A workspace holds every activation buffer of one segment (planned once from the requested
 * stems and the thread count) and belongs to one thread at a time; the model is read-only
 * and may be shared. */
#ifndef DUMU_MODELS_DEMUCS_H
#define DUMU_MODELS_DEMUCS_H

#include <stdbool.h>
#include <stdint.h>

#include "dumu/dumu.h"

#include "models/demucs_layers.h"
#include "models/demucs_weights.h"

/* Called after each stage of dumu_dm_segment with the tensor it produced (row-major, shape
 * shape[0..ndim)); `name` follows the labels of tools/reference/demucs/dump_segment.js:
 * "input" (x), "input_cac" (the CaC STFT, graph input onnx::ReduceMean_1), "norm_x" and
 * "norm_xt" (both inputs normalised), "tencoder.0".."tencoder.3", "encoder.0".."encoder.3"
 * (layer outputs = skips, encoder.0 after the frequency embedding), "channel_upsampler",
 * "channel_upsampler_t", "crosstransformer" (freq output, (512, 8, 336)),
 * "crosstransformer_t" (time output, (512, 1344)), "channel_downsampler",
 * "channel_downsampler_t", "decoder.0".."decoder.3", "tdecoder.0".."tdecoder.3" (before the
 * de-normalisation), "output" ((n_sel*4, 2048, 336) de-normalised spectrogram, graph output
 * `output`), "5073" ((n_sel*2, S) de-normalised waveform branch), "stems" ((n_sel*2, S):
 * waveform + ISTFT). With fewer than 4 stems requested, the last four carry only the requested
 * stems' channels. The data is only valid during the call. */
typedef void (*dumu_dm_probe_fn)(void *user, const char *name, const float *data, int ndim,
                                 const int64_t *shape);

typedef struct dumu_dm_run_opts {
    dumu_dm_stats_mode stats; /* statistics for GroupNorm and the input normalisation */
    dumu_dm_probe_fn probe;   /* optional */
    void *probe_user;
} dumu_dm_run_opts;

/* The default statistics of dumu_separate (the mode with the better parity with ORT). */
dumu_dm_stats_mode dumu_dm_default_stats(void);

/* The weights inside an open model (borrowed; valid while the model is). */
const dumu_dm_weights *dumu_dm_model_weights(const dumu_dm_model *model);

typedef struct dumu_dm_workspace dumu_dm_workspace;

/* Plans and allocates the buffers of one segment for the stems in `sources` (a nonzero mask
 * of 1u << dumu_source) and n_threads workers. Free with dumu_dm_workspace_free. */
dumu_status dumu_dm_workspace_create(const dumu_dm_model *model, uint32_t sources, int n_threads,
                                     dumu_dm_workspace **out, dumu_error *err);
void dumu_dm_workspace_free(dumu_dm_workspace *ws);

/* Bytes the workspace holds (activations, scratch, FFT buffers). */
size_t dumu_dm_workspace_bytes(const dumu_dm_workspace *ws);

/* Seconds spent per stage over every dumu_dm_segment call of this workspace, wall clock or
 * (cpu) process CPU time of all threads: [0] STFT + normalisation, [1] time encoder,
 * [2] freq encoder, [3] transformer incl. samplers, [4] time decoder, [5] freq decoder,
 * [6] ISTFT + de-normalisation (probes included in the stage they follow). */
#define DUMU_DM_N_STAGES 7
const double *dumu_dm_workspace_stage_seconds(const dumu_dm_workspace *ws, bool cpu);

/* Runs the network on one segment x (2, S) (planar, S = DUMU_DM_SEGMENT, unnormalised) and
 * returns the requested stems as (n_sel, 2, S), in ascending source order: the waveform
 * branch plus the ISTFT of the spectral branch. The result lives in the workspace until the
 * next call. opts may be NULL (default statistics, no probe). */
const float *dumu_dm_segment(const dumu_dm_model *model, dumu_dm_workspace *ws, const float *x,
                             const dumu_dm_run_opts *opts);

#endif /* DUMU_MODELS_DEMUCS_H */
