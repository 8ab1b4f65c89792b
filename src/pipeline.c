/* pipeline.c - the transcription pipeline: any audio -> 22050 Hz mono -> Basic Pitch ->
 * notes, plus tempo from the same audio.
 *
 * DESIGN
 *   Each stage is a public libdumu call; this file only sequences them, maps their progress
 *   into one overall [0, 1] scale and owns the intermediate buffers. The mono mixdown happens
 *   before resampling (as librosa.load does for the Python reference, and it halves the
 *   resampling work for stereo input). Tempo runs on the input audio as given (the full mix
 *   when the caller transcribes a mix; any rate, the tempo module resamples itself).
 *
 *   Progress weights are rough shares of the run time measured on a 30 s clip; they only
 *   shape the bar, nothing depends on them.
 */
#include <math.h>
#include <string.h>

#include "dumu/dumu.h"

#include "core/core.h"

/* Where each stage starts on the overall progress scale; Basic Pitch reports inside its span. */
#define STAGE_RESAMPLE_BEGIN 0.00f
#define STAGE_BP_BEGIN       0.05f
#define STAGE_BP_SPAN        0.80f
#define STAGE_NOTES_BEGIN    0.85f
#define STAGE_TEMPO_BEGIN    0.90f

struct progress_map {
    dumu_progress_fn fn;
    void *user;
    float begin, span;
};

/* Forwards a stage's own fraction to the caller's callback on the overall scale. */
static int progress_forward(const char *stage, float fraction, void *user) {
    const struct progress_map *m = user;
    if (!m->fn) return 0;
    if (fraction < 0.0f) fraction = 0.0f;
    if (fraction > 1.0f) fraction = 1.0f;
    return m->fn(stage, m->begin + m->span * fraction, m->user);
}

static int progress_at(const struct progress_map *m, const char *stage, float overall) {
    return m->fn ? m->fn(stage, overall, m->user) : 0;
}

dumu_transcribe_params dumu_transcribe_default_params(void) {
    dumu_transcribe_params p;
    memset(&p, 0, sizeof p);
    p.bp = dumu_bp_default_params();
    p.notes = dumu_note_default_params();
    p.tempo = dumu_tempo_default_params();
    p.fixed_bpm = 0.0;
    return p;
}

void dumu_transcription_deinit(dumu_transcription *tr) {
    if (!tr) return;
    dumu_bp_output_deinit(&tr->activations);
    dumu_note_list_deinit(&tr->notes);
    dumu_tempo_deinit(&tr->tempo);
    memset(tr, 0, sizeof *tr);
}

/* Makes `out` the 22050 Hz mono version of `in`. When `in` already is, `*view` points at it
 * and `out` stays empty; otherwise `*view` points at `out`, which the caller deinits. */
static dumu_status to_model_input(const dumu_audio *in, dumu_audio *out, const dumu_audio **view,
                                  dumu_error *err) {
    dumu_status rc = DUMU_OK;
    dumu_audio mono = {0};
    const dumu_audio *src = in;
    *view = in;
    if (in->n_channels == 1 && in->sample_rate == DUMU_BP_SAMPLE_RATE) return DUMU_OK;
    if (in->n_channels != 1) {
        rc = dumu_audio_to_mono(in, &mono, err);
        if (rc) goto done;
        src = &mono;
    }
    if (src->sample_rate != DUMU_BP_SAMPLE_RATE) {
        rc = dumu_audio_resample(src, DUMU_BP_SAMPLE_RATE, out, err);
        if (rc) goto done;
    } else {
        *out = mono;
        memset(&mono, 0, sizeof mono);
    }
    *view = out;
done:
    dumu_audio_deinit(&mono);
    return rc;
}

dumu_status dumu_transcribe(const dumu_bp_model *model, const dumu_audio *audio,
                            const dumu_transcribe_params *params, dumu_transcription *out,
                            dumu_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!model || !audio || !params || !out)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "transcribe: NULL argument");
    if (audio->n_frames < 0 || audio->n_channels < 1 || audio->sample_rate <= 0 ||
        (audio->n_frames > 0 && !audio->samples))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "transcribe: invalid audio");
    if (!(params->fixed_bpm >= 0.0) || params->fixed_bpm > 1000.0)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "transcribe: fixed tempo %g BPM out of range",
                         params->fixed_bpm);

    dumu_status rc = DUMU_OK;
    dumu_audio resampled = {0};
    const dumu_audio *input = NULL;
    struct progress_map map = {params->progress, params->progress_user, 0.0f, 0.0f};

    if (progress_at(&map, "resample", STAGE_RESAMPLE_BEGIN)) goto cancelled;
    rc = to_model_input(audio, &resampled, &input, err);
    if (rc) goto done;

    /* Basic Pitch: the network reports its own fraction, mapped onto our scale. */
    if (progress_at(&map, "basic-pitch", STAGE_BP_BEGIN)) goto cancelled;
    dumu_bp_params bp = params->bp;
    map.begin = STAGE_BP_BEGIN;
    map.span = STAGE_BP_SPAN;
    bp.progress = progress_forward;
    bp.progress_user = &map;
    rc = dumu_bp_run(model, input->samples, input->n_frames, &bp, &out->activations, err);
    if (rc) goto done;

    if (progress_at(&map, "notes", STAGE_NOTES_BEGIN)) goto cancelled;
    rc = dumu_notes_create(&out->activations, &params->notes, &out->notes, err);
    if (rc) goto done;
    dumu_note_list_sort_by_time(&out->notes);

    if (progress_at(&map, "tempo", STAGE_TEMPO_BEGIN)) goto cancelled;
    if (params->fixed_bpm > 0.0) {
        out->tempo.bpm = params->fixed_bpm;
        out->tempo.confidence = 1.0;
    } else {
        rc = dumu_tempo_detect(audio, &params->tempo, &out->tempo, err);
        if (rc) goto done;
    }
    if (progress_at(&map, "done", 1.0f)) goto cancelled;
    goto done;

cancelled:
    rc = dumu_fail(err, DUMU_E_CANCELLED, "transcription cancelled");
done:
    dumu_audio_deinit(&resampled);
    if (rc) dumu_transcription_deinit(out);
    return rc;
}
