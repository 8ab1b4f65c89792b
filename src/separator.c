/* separator.c - the separation handle of include/dumu/dumu.h: dumu_separator, dumu_separate
 * and the stem sets. The front ends and the pipeline see source separation only through it,
 * so none of them names a model.
 *
 * DESIGN
 *   A separator owns one model of a kind this build knows, and its queries and dumu_separate
 *   go to that model. There is one kind so far, htdemucs (src/models/demucs.c): opening a
 *   separator opens the file as htdemucs, which recognises it by its sha256 and tensors. A
 *   second model would add its kind to struct dumu_separator, a way to recognise its file in
 *   dumu_separator_open, and a branch in each function below.
 *
 *   Stem indices are the model's output order, so a stems mask goes to the model as it is
 *   (bits beyond the stem count cleared). A stem set holds every stem of its separator, with
 *   audio for those asked for, so a stem is found by name whatever was asked for.
 */
#include "separator.h"

#include <string.h>

#include "core/core.h"
#include "models/demucs.h"
#include "nn/gemm.h"

struct dumu_separator {
    dumu_dm_model *htdemucs; /* owned */
};

dumu_status dumu_separator_open(const char *path, dumu_separator **out, dumu_error *err) {
    if (!out) return dumu_fail(err, DUMU_E_INVALID_ARG, "separator: NULL output");
    *out = NULL;
    if (!path) return dumu_fail(err, DUMU_E_INVALID_ARG, "separator: NULL model path");
    dumu_separator *sep = dumu_calloc(1, sizeof *sep);
    if (!sep) return dumu_fail(err, DUMU_E_NOMEM, "separator: out of memory");
    dumu_status rc = dumu_dm_model_open(path, &sep->htdemucs, err);
    if (rc) {
        dumu_free(sep);
        return rc;
    }
    *out = sep;
    return DUMU_OK;
}

void dumu_separator_free(dumu_separator *sep) {
    if (!sep) return;
    dumu_dm_model_free(sep->htdemucs);
    dumu_free(sep);
}

int32_t dumu_separator_sample_rate(const dumu_separator *sep) {
    (void)sep; /* every separator is htdemucs so far */
    return DUMU_DM_SAMPLE_RATE;
}

int32_t dumu_separator_n_stems(const dumu_separator *sep) {
    (void)sep;
    return DUMU_DM_N_SOURCES;
}

const char *dumu_separator_stem_name(const dumu_separator *sep, int32_t i) {
    return i >= 0 && i < dumu_separator_n_stems(sep) ? dumu_dm_source_names[i] : NULL;
}

int32_t dumu_separator_stem_index(const dumu_separator *sep, const char *name) {
    for (int32_t i = 0; name && i < dumu_separator_n_stems(sep); i++)
        if (strcmp(dumu_dm_source_names[i], name) == 0) return i;
    return -1;
}

dumu_separate_params dumu_separate_default_params(void) {
    dumu_separate_params p;
    memset(&p, 0, sizeof p);
    p.n_threads = 2;
    p.overlap = 0.25;
    p.stems = DUMU_STEMS_ALL;
    return p;
}

bool dumu_fast_available(void) {
    return dumu_gemm_bf16_available();
}

/* ---------------------------------------------------------------------------------------- */
/* Stem sets */

dumu_status dumu_stems_init(dumu_stems *out, int32_t n, const char *const *names, dumu_error *err) {
    memset(out, 0, sizeof *out);
    out->stem = dumu_calloc((size_t)n, sizeof *out->stem);
    if (!out->stem) return dumu_fail(err, DUMU_E_NOMEM, "separate: out of memory for the stems");
    out->n_stems = n;
    for (int32_t i = 0; i < n; i++)
        out->stem[i].name = names[i];
    return DUMU_OK;
}

const dumu_audio *dumu_stems_find(const dumu_stems *stems, const char *name) {
    if (!stems || !name) return NULL;
    for (int32_t i = 0; i < stems->n_stems; i++) {
        const dumu_stem *s = &stems->stem[i];
        if (strcmp(s->name, name) == 0) return s->audio.samples ? &s->audio : NULL;
    }
    return NULL;
}

void dumu_stems_deinit(dumu_stems *stems) {
    if (!stems) return;
    for (int32_t i = 0; i < stems->n_stems; i++)
        dumu_audio_deinit(&stems->stem[i].audio);
    dumu_free(stems->stem);
    memset(stems, 0, sizeof *stems);
}

/* ---------------------------------------------------------------------------------------- */
/* Separation */

dumu_status dumu_separate(const dumu_separator *sep, const dumu_audio *mix,
                          const dumu_separate_params *params, dumu_stems *out, dumu_error *err) {
    if (!out) return dumu_fail(err, DUMU_E_INVALID_ARG, "separate: NULL output");
    memset(out, 0, sizeof *out);
    if (!sep || !mix) return dumu_fail(err, DUMU_E_INVALID_ARG, "separate: NULL separator or mix");
    dumu_separate_params p = params ? *params : dumu_separate_default_params();
    int32_t n = dumu_separator_n_stems(sep);
    p.stems &= n >= 32 ? UINT32_MAX : (1u << n) - 1;
    if (!p.stems) return dumu_fail(err, DUMU_E_INVALID_ARG, "separate: no stem asked for");
    dumu_status rc = dumu_stems_init(out, n, dumu_dm_source_names, err);
    if (!rc) rc = dumu_dm_separate(sep->htdemucs, mix, &p, out->stem, err);
    if (rc) dumu_stems_deinit(out);
    return rc;
}
