/* result_json.c - the one JSON document of a transcription (see dumu.h).
 *
 * MEMBERS (after the caller's `extra` ones)
 *   bpm               number  the tempo the MIDI file is written at: the detected one, 120
 *                             when none was found (then tempo_status says so)
 *   tempo_status      string  found | too_short | no_pulse (dumu_tempo_check)
 *   tempo_confidence  number  how clear the pulse is (under DUMU_TEMPO_MIN_CONFIDENCE: none)
 *   key               object  {name, tonic 0..11, minor, fifths -7..7, confidence 0..2}
 *   key_found         bool    the notes can name a key (dumu_key_found)
 *   time_signature    string  "4/4", or "6/8" when compound
 *   beats_per_bar, compound, first_downbeat   the meter on `beats`
 *   beats             [s]     the beat grid the MIDI tempo map follows, full precision (a
 *                             re-transcription reads them back)
 *   bars              [s]     the MIDI file's bar lines as a DAW reads it; the i-th (from 0)
 *                             is the DAW's bar i + 1, a pickup included
 *   duration          s       the audio's length
 *   mode              string  bass | raw
 *   source            string  extractions only: bass_stem | other_stem | mix | none
 *   notes             [{pitch MIDI, start s, end s, velocity 1..127 as in the MIDI file,
 *                       confidence 0..1 (3 decimals), bends: when pitch bends were asked
 *                       for, one a Basic Pitch frame (11.6 ms) in thirds of a semitone}]
 *   n_notes           integer
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dumu/dumu.h"

#include "core/core.h"

/* The MIDI file's bar lines over the audio, as a DAW reads them. */
static dumu_status add_bars(cJSON *root, const dumu_transcription *tr, const dumu_result_info *info,
                            dumu_error *err) {
    uint8_t *midi = NULL;
    size_t size = 0;
    dumu_midi_grid mg = {0};
    dumu_grid g = {0};
    dumu_status rc = dumu_transcription_midi(tr, info->midi, &midi, &size, err);
    if (!rc) rc = dumu_midi_read_grid(midi, size, &mg, err);
    if (!rc) rc = dumu_midi_grid_times(&mg, info->duration_s, &g, err);
    cJSON *bars = rc ? NULL : cJSON_AddArrayToObject(root, "bars");
    for (int64_t i = 0; bars && i < g.n_bars; i++)
        if (!cJSON_AddItemToArray(bars, cJSON_CreateNumber(round(g.bars[i] * 1e4) / 1e4)))
            bars = NULL;
    if (!rc && !bars) rc = dumu_fail(err, DUMU_E_NOMEM, "json: out of memory");
    dumu_grid_deinit(&g);
    dumu_midi_grid_deinit(&mg);
    dumu_free(midi);
    return rc;
}

static bool add_notes(cJSON *root, const dumu_transcription *tr, int32_t min_velocity) {
    cJSON *list = cJSON_AddArrayToObject(root, "notes");
    for (int64_t i = 0; list && i < tr->notes.n_notes; i++) {
        const dumu_note *n = &tr->notes.notes[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(list, o)) return false;
        cJSON_AddNumberToObject(o, "pitch", n->pitch);
        cJSON_AddNumberToObject(o, "start", n->start_s);
        cJSON_AddNumberToObject(o, "end", n->end_s);
        cJSON_AddNumberToObject(o, "velocity", dumu_midi_velocity(n->amplitude, min_velocity));
        cJSON_AddNumberToObject(o, "confidence", round(n->confidence * 1000.0) / 1000.0);
        if (n->n_bends > 0) {
            cJSON *b = cJSON_AddArrayToObject(o, "bends");
            for (int32_t k = 0; b && k < n->n_bends; k++)
                cJSON_AddItemToArray(b, cJSON_CreateNumber(n->bends[k]));
        }
    }
    return list && cJSON_AddNumberToObject(root, "n_notes", (double)tr->notes.n_notes);
}

dumu_status dumu_transcription_json(const dumu_transcription *tr, const dumu_result_info *info,
                                    char **out, dumu_error *err) {
    if (out) *out = NULL;
    if (!tr || !info || !out) return dumu_fail(err, DUMU_E_INVALID_ARG, "json: NULL argument");
    cJSON *root = info->extra ? cJSON_Parse(info->extra) : cJSON_CreateObject();
    if (!root) return dumu_fail(err, DUMU_E_INVALID_ARG, "json: extra members are not JSON");
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return dumu_fail(err, DUMU_E_INVALID_ARG, "json: extra members are not an object");
    }
    const dumu_midi_params mp = info->midi ? *info->midi : dumu_midi_default_params();
    cJSON_AddNumberToObject(root, "bpm", tr->tempo.bpm > 0.0 ? tr->tempo.bpm : 120.0);
    cJSON_AddStringToObject(root, "tempo_status",
                            dumu_tempo_status_name(dumu_tempo_check(&tr->tempo, info->duration_s)));
    cJSON_AddNumberToObject(root, "tempo_confidence", tr->tempo.confidence);
    cJSON *key = cJSON_AddObjectToObject(root, "key");
    cJSON_AddStringToObject(key, "name", dumu_key_name(tr->key.tonic, tr->key.minor));
    cJSON_AddNumberToObject(key, "tonic", tr->key.tonic);
    cJSON_AddBoolToObject(key, "minor", tr->key.minor);
    cJSON_AddNumberToObject(key, "fifths", tr->key.fifths);
    cJSON_AddNumberToObject(key, "confidence", tr->key.confidence);
    cJSON_AddBoolToObject(root, "key_found",
                          dumu_key_found(&tr->key, tr->notes.notes, tr->notes.n_notes));
    const int bpb = tr->meter.beats_per_bar > 0 ? (int)tr->meter.beats_per_bar : 4;
    char ts[16];
    snprintf(ts, sizeof ts, tr->meter.compound ? "%d/8" : "%d/4",
             tr->meter.compound ? 3 * bpb : bpb);
    cJSON_AddStringToObject(root, "time_signature", ts);
    cJSON_AddNumberToObject(root, "beats_per_bar", bpb);
    cJSON_AddBoolToObject(root, "compound", tr->meter.compound);
    cJSON_AddNumberToObject(root, "first_downbeat", tr->meter.first_downbeat);
    cJSON *beats = cJSON_AddArrayToObject(root, "beats");
    for (int64_t i = 0; beats && i < tr->tempo.n_beats; i++)
        cJSON_AddItemToArray(beats, cJSON_CreateNumber(tr->tempo.beats[i]));
    dumu_status rc = add_bars(root, tr, info, err);
    if (!rc) {
        cJSON_AddNumberToObject(root, "duration", info->duration_s);
        cJSON_AddStringToObject(root, "mode", info->mode == DUMU_NOTES_RAW ? "raw" : "bass");
        if (info->has_source)
            cJSON_AddStringToObject(root, "source", dumu_bass_source_name(info->source));
        if (!add_notes(root, tr, mp.min_velocity))
            rc = dumu_fail(err, DUMU_E_NOMEM, "json: out of memory");
    }
    char *text = rc ? NULL : cJSON_PrintUnformatted(root);
    if (!rc && text) { /* into our allocator, which the caller frees with dumu_free */
        size_t n = strlen(text) + 1;
        *out = dumu_malloc(n);
        if (*out) memcpy(*out, text, n);
    }
    cJSON_free(text);
    if (!rc && !*out) rc = dumu_fail(err, DUMU_E_NOMEM, "json: out of memory");
    cJSON_Delete(root);
    return rc;
}
