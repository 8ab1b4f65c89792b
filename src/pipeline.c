/* pipeline.c - the pipelines: transcribe (any audio -> 22050 Hz mono -> Basic Pitch -> notes,
 * plus tempo from the same audio) and extract (mix -> tempo, the separator's bass stem ->
 * transcribe; the other stem's or the mix's bass register when the bass stem misses the bass
 * line).
 *
 * DESIGN
 *   Each stage is a public libdumu call; this file only sequences them, maps their progress
 *   into one overall [0, 1] scale and owns the intermediate buffers. The mono mixdown happens
 *   before resampling (as librosa.load does for the Python reference, and it halves the
 *   resampling work for stereo input). transcribe's tempo runs on that same 22050 Hz mono
 *   signal, which is what the tempo module would derive itself; extract's tempo runs on the
 *   whole mix.
 *
 *   Progress weights are rough shares of the run time; they only shape the bar, nothing
 *   depends on them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dumu/dumu.h"

#include "core/core.h"
#include "dsp/chroma.h"
#include "dsp/lowband.h"
#include "dsp/onset.h"
#include "dsp/tempo.h"
#include "io/musicxml.h"
#include "models/bass.h"
#include "music/key.h"
#include "music/meter.h"
#include "music/quantize.h"
#include "music/tab.h"
#include "separator.h"

struct progress_map {
    dumu_progress_fn fn;
    void *user;
    float begin, span;
};

/* Forwards a stage's own fraction to the caller's callback on the overall scale. */
static int progress_forward(dumu_stage stage, float fraction, void *user) {
    const struct progress_map *m = user;
    if (!m->fn) return 0;
    if (fraction < 0.0f) fraction = 0.0f;
    if (fraction > 1.0f) fraction = 1.0f;
    return m->fn(stage, m->begin + m->span * fraction, m->user);
}

static int progress_at(const struct progress_map *m, dumu_stage stage, float overall) {
    return m->fn ? m->fn(stage, overall, m->user) : 0;
}

dumu_transcribe_params dumu_transcribe_default_params(void) {
    dumu_transcribe_params p;
    memset(&p, 0, sizeof p);
    p.bp = dumu_bp_default_params();
    p.notes = dumu_note_default_params();
    p.tempo = dumu_tempo_default_params();
    p.fixed_bpm = 0.0;
    p.mode = DUMU_NOTES_BASS;
    p.quantize = 0;
    p.quantize_strength = 1.0;
    return p;
}

/* Defaults: notes.c (0.5, 0.3, 11 frames = 127.7 ms), demucs.c (overlap 0.25), above
 * (quantize_strength 1 = 100 %); test_core holds them equal. Ranges: a threshold is a
 * probability; notes shorter than 10 ms are below one model frame (11.6 ms) and over 2 s no
 * bass note needs a floor; a known tempo of 30-300 BPM reaches past the tracker's 60-240
 * (dsp/tempo.c) to half- and double-time readings; overlaps above 0.9 only repeat work;
 * 20 kHz is the top of hearing. */
static const dumu_param_spec k_params[] = {
    {"onset_threshold", 0.0, 1.0, 0.5, false, "", "Higher: fewer, surer note starts"},
    {"frame_threshold", 0.0, 1.0, 0.3, false, "", "Higher: shorter notes, fewer ghost notes"},
    {"min_note_ms", 10.0, 2000.0, 127.7, false, "ms", "Notes shorter than this are dropped"},
    {"bpm", 30.0, 300.0, 0.0, true, "BPM", "A known tempo; 0 or none: detect it"},
    {"quantize_strength", 0.0, 100.0, 100.0, false, "%", "How far notes move to the grid"},
    {"overlap", 0.0, 0.9, 0.25, false, "", "Chunk overlap of the separation"},
    {"min_freq", 1.0, 20000.0, 0.0, true, "Hz", "Ignore notes below this frequency"},
    {"max_freq", 1.0, 20000.0, 0.0, true, "Hz", "Ignore notes above this frequency"},
};

const dumu_param_spec *dumu_param_specs(int32_t *count) {
    if (count) *count = (int32_t)(sizeof k_params / sizeof k_params[0]);
    return k_params;
}

const dumu_param_spec *dumu_param_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof k_params / sizeof k_params[0]; i++) {
        const char *a = k_params[i].name, *b = name;
        while (*a && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (!*a && !*b) return &k_params[i];
    }
    return NULL;
}

bool dumu_param_valid(const dumu_param_spec *spec, double value) {
    if (!spec || !isfinite(value)) return false;
    return (value >= spec->min && value <= spec->max) || (spec->zero_off && value == 0.0);
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

/* A new `out` holding the 22050 Hz mono version of `in` (a copy when `in` already is). */
static dumu_status model_input_copy(const dumu_audio *in, dumu_audio *out, dumu_error *err) {
    const dumu_audio *view = NULL;
    dumu_status rc = to_model_input(in, out, &view, err);
    if (!rc && view == in) rc = dumu_audio_resample(in, in->sample_rate, out, err);
    return rc;
}

/* Bass mode's note starts move to the steepest energy climb of the audio they came from, and
 * their ends to its steepest fall (dsp/onset.h); notes come sorted by time from
 * dumu_bass_notes, as the refinement needs. */
static dumu_status refine_times(const dumu_audio *input, dumu_note_list *notes, dumu_error *err) {
    dumu_energy_rise rise = {0};
    dumu_status rc =
        dumu_energy_rise_compute(input->samples, input->n_frames, input->sample_rate, &rise, err);
    if (!rc) {
        dumu_refine_onsets(&rise, notes->notes, notes->n_notes);
        dumu_refine_offsets(&rise, notes->notes, notes->n_notes);
    }
    dumu_energy_rise_deinit(&rise);
    return rc;
}

/* Resample (a no-op for 22050 Hz mono input), Basic Pitch and note creation: the part shared
 * by transcribe and extract. Progress
 * of the network is reported on [bp_begin, bp_begin + bp_span) of the overall scale. */
static dumu_status transcribe_notes(const dumu_bp_model *model, const dumu_audio *audio,
                                    const dumu_transcribe_params *params, struct progress_map *map,
                                    float bp_begin, float bp_span, dumu_transcription *out,
                                    dumu_error *err) {
    dumu_audio resampled = {0};
    const dumu_audio *input = NULL;
    dumu_status rc = to_model_input(audio, &resampled, &input, err);
    if (rc) goto done;
    if (progress_at(map, DUMU_STAGE_BASIC_PITCH, bp_begin)) {
        rc = dumu_fail(err, DUMU_E_CANCELLED, "transcription cancelled");
        goto done;
    }
    dumu_bp_params bp = params->bp;
    map->begin = bp_begin;
    map->span = bp_span;
    bp.progress = progress_forward;
    bp.progress_user = map;
    rc = dumu_bp_run(model, input->samples, input->n_frames, &bp, &out->activations, err);
    if (rc) goto done;
    if (progress_at(map, DUMU_STAGE_NOTES, bp_begin + bp_span)) {
        rc = dumu_fail(err, DUMU_E_CANCELLED, "transcription cancelled");
        goto done;
    }
    if (params->mode == DUMU_NOTES_BASS) {
        rc = dumu_bass_notes(&out->activations, &params->notes, &out->notes, err);
        if (!rc) rc = refine_times(input, &out->notes, err);
    } else if (params->mode == DUMU_NOTES_RAW) {
        rc = dumu_notes_create(&out->activations, &params->notes, &out->notes, err);
    } else {
        rc = dumu_fail(err, DUMU_E_INVALID_ARG, "transcribe: unknown note mode %d",
                       (int)params->mode);
    }
    if (rc) goto done;
    dumu_note_list_sort_by_time(&out->notes);
done:
    dumu_audio_deinit(&resampled);
    return rc;
}

static dumu_status check_audio(const dumu_audio *audio, const char *what, dumu_error *err) {
    if (audio->n_frames < 0 || audio->n_channels < 1 || audio->sample_rate <= 0 ||
        (audio->n_frames > 0 && !audio->samples))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "%s: invalid audio", what);
    return DUMU_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The caller's beats as the tempo: a copy of them, bpm from their median interval. */
static dumu_status given_beats(const dumu_transcribe_params *params, dumu_tempo *out,
                               dumu_error *err) {
    int64_t n = params->n_beats;
    if (!params->beats || n < 2 || n > 10000000)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "transcribe: %lld given beats", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(params->beats[i]) || (i > 0 && !(params->beats[i] > params->beats[i - 1])))
            return dumu_fail(err, DUMU_E_INVALID_ARG,
                             "transcribe: given beat %lld is not finite and after the last",
                             (long long)i);
    }
    out->beats = dumu_malloc(sizeof(double) * (size_t)n);
    double *gap = dumu_malloc(sizeof(double) * (size_t)(n - 1));
    if (!out->beats || !gap) {
        dumu_free(gap);
        return dumu_fail(err, DUMU_E_NOMEM, "transcribe: out of memory");
    }
    memcpy(out->beats, params->beats, sizeof(double) * (size_t)n);
    out->n_beats = n;
    for (int64_t i = 0; i + 1 < n; i++)
        gap[i] = params->beats[i + 1] - params->beats[i];
    qsort(gap, (size_t)(n - 1), sizeof *gap, cmp_double);
    out->bpm = 60.0 / gap[(n - 1) / 2];
    out->confidence = 1.0;
    dumu_free(gap);
    return DUMU_OK;
}

static dumu_status detect_tempo(const dumu_audio *audio, const dumu_transcribe_params *params,
                                dumu_tempo *out, dumu_error *err) {
    if (!(params->fixed_bpm >= 0.0) || params->fixed_bpm > 1000.0)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "fixed tempo %g BPM out of range",
                         params->fixed_bpm);
    if (params->n_beats > 0) return given_beats(params, out, err);
    if (params->fixed_bpm > 0.0) {
        out->bpm = params->fixed_bpm;
        out->confidence = 1.0;
        return DUMU_OK;
    }
    return dumu_tempo_detect(audio, &params->tempo, out, err);
}

/* ---------------------------------------------------------------------------------------- */
/* The musical reading: beat phase and meter from the harmony and the notes (meter.c), key,
 * optional quantisation.
 * `audio` is the audio the key's chroma comes from (any rate; channels are averaged),
 * `duration` its length in seconds. */

/* A steady grid at the tempo, or at 120 BPM when no pulse was found (the MIDI writer's
 * default), so that notation and quantisation always have beats. */
static dumu_status fixed_beats(dumu_tempo *tempo, double duration, dumu_error *err) {
    double step = 60.0 / (tempo->bpm > 0.0 ? tempo->bpm : 120.0);
    int64_t n = (int64_t)floor(duration / step) + 2; /* one past the end: a grid to the last note */
    if (n < 2 || n > 1000000) return DUMU_OK;
    tempo->beats = dumu_malloc(sizeof(double) * (size_t)n);
    if (!tempo->beats) return dumu_fail(err, DUMU_E_NOMEM, "transcribe: out of memory");
    for (int64_t i = 0; i < n; i++)
        tempo->beats[i] = (double)i * step;
    tempo->n_beats = n;
    return DUMU_OK;
}

static dumu_status arrange(const dumu_audio *audio, const dumu_transcribe_params *params,
                           dumu_transcription *tr, dumu_error *err) {
    const dumu_meter *m = params->meter;
    const dumu_key *k = params->key;
    if (m && !(m->beats_per_bar >= 1 && m->beats_per_bar <= 16 && m->first_downbeat >= 0 &&
               m->first_downbeat < m->beats_per_bar))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "transcribe: given meter %d beats, downbeat %d",
                         (int)m->beats_per_bar, (int)m->first_downbeat);
    if (k && !(k->tonic >= 0 && k->tonic <= 11 && k->fifths >= -7 && k->fifths <= 7))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "transcribe: given key %d, %d fifths",
                         (int)k->tonic, (int)k->fifths);
    double duration = (double)audio->n_frames / (double)audio->sample_rate;
    dumu_tempo *tempo = &tr->tempo;
    const dumu_note *notes = tr->notes.notes;
    int64_t n = tr->notes.n_notes;
    dumu_status rc = DUMU_OK;
    if (tempo->n_beats < 2) {
        dumu_free(tempo->beats);
        tempo->beats = NULL;
        tempo->n_beats = 0;
        rc = fixed_beats(tempo, duration, err);
        if (rc) return rc;
    }
    dumu_audio mono = {0};
    const dumu_audio *src = audio;
    if (audio->n_channels > 1) {
        rc = dumu_audio_to_mono(audio, &mono, err);
        if (rc) return rc;
        src = &mono;
    }
    float chroma[12], *frames = NULL;
    int64_t n_frames = 0;
    double frame_s = 1.0;
    tr->meter = params->meter ? *params->meter : (dumu_meter){.beats_per_bar = 4};
    if (dumu_beats_valid(tempo->beats, tempo->n_beats)) {
        if (!params->meter) {
            rc = dumu_chroma_frames(src->samples, src->n_frames, src->sample_rate, &frames,
                                    &n_frames, &frame_s, err);
            if (rc) goto done;
        }
        if (!params->meter && params->fixed_bpm <= 0.0 && params->n_beats == 0) {
            double shift = 0.0;
            rc = dumu_beats_phase(tempo->beats, tempo->n_beats, notes, n, frames, n_frames, frame_s,
                                  &shift, err);
            if (!rc && shift > 0.0) /* moved points of a steady run are steady: re-fit the map */
                rc = dumu_beats_model(tempo->beats, tempo->n_beats, tempo->beats, NULL, err);
            if (rc) goto done;
        }
        if (!params->meter)
            rc = dumu_meter_estimate(tempo->beats, tempo->n_beats, notes, n, frames, n_frames,
                                     frame_s, &tr->meter, err);
        if (rc) goto done;
        if (params->quantize > 0) {
            dumu_quantize_params qp = {params->quantize, params->quantize_strength};
            rc = dumu_quantize_notes(tempo->beats, tempo->n_beats, &tr->meter, &qp, tr->notes.notes,
                                     n, err);
            if (rc) goto done;
            n = tr->notes.n_notes = dumu_quantize_merge(tr->notes.notes, n);
        }
    } else if (params->quantize > 0) {
        rc = dumu_fail(err, DUMU_E_INVALID_ARG, "transcribe: no beats to quantise to");
        goto done;
    }
    if (params->key)
        tr->key = *params->key;
    else
        rc = dumu_chroma_mean(src->samples, src->n_frames, src->sample_rate, chroma, err);
done:
    dumu_free(frames);
    dumu_audio_deinit(&mono);
    if (rc || params->key) return rc;
    dumu_key_params kp = dumu_key_default_params();
    return dumu_key_estimate(notes, n, chroma, &kp, &tr->key, err);
}

dumu_status dumu_transcribe(const dumu_bp_model *model, const dumu_audio *audio,
                            const dumu_transcribe_params *params, dumu_transcription *out,
                            dumu_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!model || !audio || !params || !out)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "transcribe: NULL argument");
    dumu_status rc = check_audio(audio, "transcribe", err);
    if (rc) return rc;

    /* One conversion to 22050 Hz mono serves the network and the tempo, which would
     * otherwise repeat the same mixdown and resampling. */
    dumu_audio resampled = {0};
    const dumu_audio *input = NULL;
    struct progress_map map = {params->progress, params->progress_user, 0.0f, 0.0f};
    if (progress_at(&map, DUMU_STAGE_RESAMPLE, 0.0f)) goto cancelled;
    rc = to_model_input(audio, &resampled, &input, err);
    if (rc) goto done;
    rc = transcribe_notes(model, input, params, &map, 0.05f, 0.85f, out, err);
    if (rc) goto done;
    if (progress_at(&map, DUMU_STAGE_TEMPO, 0.92f)) goto cancelled;
    rc = detect_tempo(input, params, &out->tempo, err);
    if (rc) goto done;
    rc = arrange(input, params, out, err);
    if (rc) goto done;
    if (progress_at(&map, DUMU_STAGE_DONE, 1.0f)) goto cancelled;
    goto done;
cancelled:
    rc = dumu_fail(err, DUMU_E_CANCELLED, "transcription cancelled");
done:
    dumu_audio_deinit(&resampled);
    if (rc) dumu_transcription_deinit(out);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Extraction: tempo from the mix, bass stem from the separator, notes from the stem.
 * Separation dominates the run time (~85 %), so it gets most of the bar. */

dumu_extract_params dumu_extract_default_params(void) {
    dumu_extract_params p;
    memset(&p, 0, sizeof p);
    p.separate = dumu_separate_default_params();
    p.separate.stems = 0;
    p.transcribe = dumu_transcribe_default_params();
    return p;
}

void dumu_extraction_deinit(dumu_extraction *ex) {
    if (!ex) return;
    dumu_stems_deinit(&ex->stems);
    dumu_transcription_deinit(&ex->transcription);
    dumu_audio_deinit(&ex->notes_audio);
    memset(ex, 0, sizeof *ex);
}

/* SOURCE CHOICE
 *   The separator (htdemucs, on which the figures below were measured) sometimes leaves the
 *   song's bass line in its "other" stem: a lead synth or a guitar playing it, a bass it does
 *   not recognise. The bass stem is then nearly silent and
 *   Basic Pitch transcribes leakage. The mean power of each source in the bass register
 *   (30-250 Hz, dsp/lowband.c) tells: the notes come from the other stem when the bass stem
 *   holds under a tenth of the other stem's power there, and the other stem holds over 3.5 %
 *   of the mix's (else the register is drums alone: no bass line, no notes). Without the
 *   other stem (dumu_extract_params.bass_stem alone) a bass stem under 3.5 % of the mix's
 *   power falls back to the mix. A fallback source is low-passed at 450 Hz, above the top of
 *   the register note creation reads, so that the leads and chords above it do not pull the
 *   line up. A mix under -80 dB there is silent: no notes.
 *
 *   Measured on the developer sets (bass-register power of the bass stem over the other
 *   stem's; note F1, 50 ms onsets, bass mode, bass stem -> chosen source):
 *     tuning   (dm01-03, xd01-20): switched xd04 0.049 (0.031 -> 0.240), xd10 0.0055 (0.036
 *              -> 0.155); kept xd18 0.18 (other stem would give 0.157 instead of 0.528), xd14
 *              0.26 (0.123 instead of 0.265), xd19 0.27, all others 0.39 and up
 *     held out (dm04-06, xd21-40): switched dm04, xd22, xd33, xd39 (0.000), xd23 (0.009):
 *              0.515 -> 0.878, 0.056 -> 0.418, 0.224 -> 0.528, 0.229 -> 0.328, 0.079 ->
 *              0.620; no item changed for the worse. Means: tuning 0.510 -> 0.525, held out
 *              0.487 -> 0.560.
 *   With the bass stem alone (no other stem) the same seven items fall back to the mix, each
 *   better than its bass stem (dm04 0.848, xd04 0.195, xd10 0.146, xd22 0.434, xd23 0.549,
 *   xd33 0.548, xd39 0.250), within 0.08 of the other stem.
 *   Contested: when the bass stem holds more than that tenth but still less than the other stem
 *   (dumu_bass_source_contested), both may hold the line: bass mode transcribes the other
 *   stem's register too and keeps the notes with the higher mean confidence (dumu_note
 *   .confidence, fitted on the tuning half's notes). Tuning half: switched xd05 (0.514 ->
 *   0.673) and xd19 (0.000 -> 0.063), kept dm01, xd11, xd14, xd16 and xd18 (mean confidence
 *   of the bass stem's notes over the other stem's: 0.635 / 0.390 ... 0.520 / 0.475); held
 *   out: switched xd24 (0.490 / 0.602; F1 0.000 -> 0.537) and xd28 (0.235 -> 0.507), kept
 *   dm05, xd25 and xd26, each rightly; no item worse. Means: tuning 0.541 -> 0.551, held out
 *   0.578 -> 0.613. The contest costs a second Basic Pitch run, on those songs only.
 *   Undetected: xd03's bass stem holds most of the register (0.66 of the mix) but not the bass
 *   line, a slap bass around MIDI 60 that htdemucs put in "other". */

/* The register of `audio` (the other stem or the mix) as Basic Pitch reads it: low-passed at
 * DUMU_BASS_SOURCE_CUTOFF_HZ, then 22050 Hz mono, into a new `out`. */
static dumu_status register_input(const dumu_audio *audio, dumu_audio *out, dumu_error *err) {
    dumu_audio low = {0};
    dumu_status rc = dumu_lowpass(audio, DUMU_BASS_SOURCE_CUTOFF_HZ, &low, err);
    if (!rc) rc = model_input_copy(&low, out, err);
    dumu_audio_deinit(&low);
    return rc;
}

/* Measures the bass register of the mix and the stems, picks the source of the notes and
 * makes its audio as Basic Pitch reads it in out->notes_audio (left empty for
 * DUMU_BASS_SOURCE_NONE). `other` may be NULL. */
static dumu_status pick_source(const dumu_audio *mix, const dumu_audio *bass,
                               const dumu_audio *other, dumu_extraction *out, bool *contested,
                               dumu_error *err) {
    dumu_bass_levels lv = {-1.0, -1.0, -1.0};
    /* a mix sampled at under twice the cutoff cannot be filtered: keep the bass stem */
    if (mix->sample_rate > 2.0 * DUMU_BASS_SOURCE_CUTOFF_HZ) {
        lv.mix = dumu_band_power(mix, DUMU_BASS_BAND_LO_HZ, DUMU_BASS_BAND_HI_HZ);
        lv.bass = dumu_band_power(bass, DUMU_BASS_BAND_LO_HZ, DUMU_BASS_BAND_HI_HZ);
        if (other && other->samples)
            lv.other = dumu_band_power(other, DUMU_BASS_BAND_LO_HZ, DUMU_BASS_BAND_HI_HZ);
    }
    out->source = lv.mix < 0.0 ? DUMU_BASS_SOURCE_BASS_STEM : dumu_bass_source_choose(&lv);
    *contested = dumu_bass_source_contested(&lv); /* false without levels: other < 0 */
    switch (out->source) {
    case DUMU_BASS_SOURCE_BASS_STEM: return model_input_copy(bass, &out->notes_audio, err);
    case DUMU_BASS_SOURCE_NONE: return DUMU_OK;
    case DUMU_BASS_SOURCE_OTHER_STEM: return register_input(other, &out->notes_audio, err);
    case DUMU_BASS_SOURCE_MIX: return register_input(mix, &out->notes_audio, err);
    }
    return dumu_fail(err, DUMU_E_INVALID_ARG, "extract: unknown source %d", (int)out->source);
}

/* Mean confidence of a note list; 0 when it is empty. */
static double mean_confidence(const dumu_note_list *l) {
    double sum = 0.0;
    for (int64_t i = 0; i < l->n_notes; i++)
        sum += l->notes[i].confidence;
    return l->n_notes ? sum / (double)l->n_notes : 0.0;
}

/* A contested choice (see SOURCE CHOICE): the other stem's register is transcribed too, and
 * its notes replace the bass stem's in tr when they are the more confident. */
static dumu_status contest_source(const dumu_bp_model *bp, const dumu_audio *other,
                                  const dumu_transcribe_params *params, struct progress_map *map,
                                  dumu_extraction *out, dumu_error *err) {
    dumu_transcription alt = {0};
    dumu_audio alt_audio = {0};
    dumu_status rc = register_input(other, &alt_audio, err);
    if (!rc) rc = transcribe_notes(bp, &alt_audio, params, map, 0.92f, 0.06f, &alt, err);
    if (!rc && mean_confidence(&alt.notes) > mean_confidence(&out->transcription.notes)) {
        dumu_bp_output a = out->transcription.activations;
        dumu_note_list n = out->transcription.notes;
        dumu_audio in = out->notes_audio;
        out->transcription.activations = alt.activations;
        out->transcription.notes = alt.notes;
        out->notes_audio = alt_audio;
        alt.activations = a;
        alt.notes = n;
        alt_audio = in;
        out->source = DUMU_BASS_SOURCE_OTHER_STEM;
    }
    dumu_transcription_deinit(&alt);
    dumu_audio_deinit(&alt_audio);
    return rc;
}

/* A stem given to extract: stereo, as dumu_separate makes it (at any rate: nothing here
 * depends on the separator's). */
static dumu_status check_stem(const dumu_audio *stem, const char *what, dumu_error *err) {
    dumu_status rc = check_audio(stem, what, err);
    if (rc) return rc;
    if (stem->n_channels != 2)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "%s must be stereo, not %d channels", what,
                         (int)stem->n_channels);
    return DUMU_OK;
}

dumu_status dumu_extract(const dumu_separator *sep, const dumu_bp_model *bp, const dumu_audio *mix,
                         const dumu_extract_params *params, dumu_extraction *out, dumu_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!bp || !mix || !params || !out || (!sep && !params->bass_stem))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "extract: NULL argument");
    dumu_status rc = check_audio(mix, "extract", err);
    if (rc) return rc;
    /* the stems it reads, by the separator's index (-1: it has none, or none is needed) */
    int32_t bass_i = 0, other_i = -1;
    if (!params->bass_stem) {
        bass_i = dumu_separator_stem_index(sep, "bass");
        other_i = dumu_separator_stem_index(sep, "other");
        if (bass_i < 0)
            return dumu_fail(err, DUMU_E_UNSUPPORTED, "extract: the separator has no bass stem");
    }
    const dumu_audio *stem = params->bass_stem, *other = NULL;
    if (params->other_stem && !stem)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "extract: other_stem without bass_stem");
    if (stem) {
        rc = check_stem(stem, "extract: bass_stem", err);
        if (!rc && params->other_stem)
            rc = check_stem(params->other_stem, "extract: other_stem", err);
        if (rc) return rc;
        other = params->other_stem;
    }

    struct progress_map map = {params->progress, params->progress_user, 0.0f, 0.0f};
    if (progress_at(&map, DUMU_STAGE_TEMPO, 0.0f)) goto cancelled;
    rc = detect_tempo(mix, &params->transcribe, &out->transcription.tempo, err);
    if (rc) goto done;

    if (progress_at(&map, DUMU_STAGE_SEPARATE, 0.03f)) goto cancelled;
    if (stem) {
        /* A copy (resampling at the same rate copies), so the extraction owns all of its
         * stems as without a cache. */
        static const char *const bass_only[1] = {"bass"};
        rc = dumu_stems_init(&out->stems, 1, bass_only, err);
        if (!rc) rc = dumu_audio_resample(stem, stem->sample_rate, &out->stems.stem[0].audio, err);
        if (rc) goto done;
    } else {
        dumu_separate_params sp = params->separate;
        /* the other stem comes from the same pass: it costs memory, not time */
        sp.stems |= 1u << bass_i;
        if (other_i >= 0) sp.stems |= 1u << other_i;
        map.begin = 0.03f;
        map.span = 0.82f;
        sp.progress = progress_forward;
        sp.progress_user = &map;
        rc = dumu_separate(sep, mix, &sp, &out->stems, err);
        if (rc) goto done;
        if (other_i >= 0) other = &out->stems.stem[other_i].audio;
    }

    bool contested = false;
    rc = pick_source(mix, &out->stems.stem[bass_i].audio, other, out, &contested, err);
    if (rc) goto done;
    /* confidence decides a contest: bass mode's notes have one, raw mode's do not */
    contested = contested && params->transcribe.mode == DUMU_NOTES_BASS;
    /* transcribe_notes fills activations and notes; the tempo found above stays. NONE leaves
     * both empty: a silent or bass-less song has no bass notes. */
    if (out->notes_audio.samples) {
        rc = transcribe_notes(bp, &out->notes_audio, &params->transcribe, &map, 0.86f,
                              contested ? 0.06f : 0.12f, &out->transcription, err);
        if (rc) goto done;
    }
    if (contested) {
        rc = contest_source(bp, other, &params->transcribe, &map, out, err);
        if (rc) goto done;
    }
    if (other_i >= 0 && !(params->separate.stems & (1u << other_i)))
        dumu_audio_deinit(&out->stems.stem[other_i].audio);
    rc = arrange(mix, &params->transcribe, &out->transcription, err);
    if (rc) goto done;
    if (progress_at(&map, DUMU_STAGE_DONE, 1.0f)) goto cancelled;
    goto done;
cancelled:
    rc = dumu_fail(err, DUMU_E_CANCELLED, "extraction cancelled");
done:
    if (rc) dumu_extraction_deinit(out);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Exports of a transcription */

dumu_status dumu_transcription_midi(const dumu_transcription *tr, const dumu_midi_params *params,
                                    uint8_t **out, size_t *size, dumu_error *err) {
    if (!tr) return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: NULL transcription");
    dumu_midi_params p = params ? *params : dumu_midi_default_params();
    p.bpm = tr->tempo.bpm;
    double *steady = NULL;
    if (dumu_beats_valid(tr->tempo.beats, tr->tempo.n_beats)) {
        p.beats = tr->tempo.beats;
        p.n_beats = tr->tempo.n_beats;
        p.first_downbeat = tr->meter.first_downbeat;
    }
    if (p.constant_tempo && p.beats && tr->tempo.bpm > 0.0 && tr->tempo.bpm <= 1000.0 &&
        tr->meter.first_downbeat < p.n_beats) {
        /* steady beats at the tempo through the first downbeat, from the last one at or before
         * time 0 to past the last beat: the writer's bars, one tempo event */
        const double step = 60.0 / tr->tempo.bpm, down = p.beats[tr->meter.first_downbeat];
        const int64_t before = down > 0.0 ? (int64_t)floor(down / step) : 0;
        const int64_t n = before + (int64_t)ceil((p.beats[p.n_beats - 1] - down) / step) + 2;
        steady = n >= 2 && n <= 10000000 ? dumu_malloc(sizeof(double) * (size_t)n) : NULL;
        if (!steady) return dumu_fail(err, DUMU_E_NOMEM, "midi: out of memory");
        for (int64_t i = 0; i < n; i++)
            steady[i] = down + (double)(i - before) * step;
        p.beats = steady;
        p.n_beats = n;
        p.first_downbeat =
            (int32_t)(before % (tr->meter.beats_per_bar > 0 ? tr->meter.beats_per_bar : 4));
    }
    p.beats_per_bar = tr->meter.beats_per_bar > 0 ? tr->meter.beats_per_bar : 4;
    p.compound = tr->meter.compound;
    p.has_key = true;
    p.key_fifths = tr->key.fifths;
    p.key_minor = tr->key.minor;
    dumu_status rc = dumu_midi_encode(tr->notes.notes, tr->notes.n_notes, &p, out, size, err);
    dumu_free(steady);
    return rc;
}

dumu_notation_params dumu_notation_default_params(void) {
    dumu_notation_params p = {4, 4, NULL, 0};
    return p;
}

static dumu_status need_beats(const dumu_transcription *tr, const char *what, dumu_error *err) {
    if (!tr) return dumu_fail(err, DUMU_E_INVALID_ARG, "%s: NULL transcription", what);
    if (!dumu_beats_valid(tr->tempo.beats, tr->tempo.n_beats))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "%s: no beat grid (no tempo was found)", what);
    return DUMU_OK;
}

dumu_status dumu_transcription_musicxml(const dumu_transcription *tr,
                                        const dumu_notation_params *params, char **out,
                                        size_t *size, dumu_error *err) {
    dumu_status rc = need_beats(tr, "musicxml", err);
    if (rc) return rc;
    dumu_notation_params np = params ? *params : dumu_notation_default_params();
    dumu_musicxml_params mp = dumu_musicxml_default_params();
    mp.beats = tr->tempo.beats;
    mp.n_beats = tr->tempo.n_beats;
    mp.beats_per_bar = tr->meter.beats_per_bar;
    mp.first_downbeat = tr->meter.first_downbeat;
    mp.subdivisions = np.subdivisions;
    mp.fifths = tr->key.fifths;
    mp.minor = tr->key.minor;
    mp.bpm = tr->tempo.bpm;
    mp.title = np.title;
    mp.compound = tr->meter.compound;
    return dumu_musicxml_encode(tr->notes.notes, tr->notes.n_notes, &mp, out, size, err);
}

dumu_status dumu_transcription_tab(const dumu_transcription *tr, const dumu_notation_params *params,
                                   char **text, dumu_error *err) {
    if (text) *text = NULL;
    dumu_status rc = need_beats(tr, "tab", err);
    if (rc) return rc;
    dumu_notation_params np = params ? *params : dumu_notation_default_params();
    if (np.tab_line_width != 0 && (np.tab_line_width < 20 || np.tab_line_width > 1000))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "tab: line width %d out of 20..1000",
                         (int)np.tab_line_width);
    dumu_tab_params tp = dumu_tab_default_params();
    tp.n_strings = np.tab_strings;
    int64_t n = tr->notes.n_notes;
    dumu_tab_pos *pos = dumu_malloc(sizeof *pos * (size_t)(n > 0 ? n : 1));
    if (!pos) return dumu_fail(err, DUMU_E_NOMEM, "tab: out of memory");
    rc = dumu_tab_assign(tr->notes.notes, n, &tp, pos, NULL, err);
    if (!rc) {
        dumu_tab_layout lay = {tr->tempo.beats,          tr->tempo.n_beats, tr->meter.beats_per_bar,
                               tr->meter.first_downbeat, np.subdivisions,   4,
                               tr->meter.compound,       np.tab_line_width};
        rc = dumu_tab_render(tr->notes.notes, pos, n, &tp, &lay, text, err);
    }
    dumu_free(pos);
    return rc;
}
