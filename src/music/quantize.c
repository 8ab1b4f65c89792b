/* quantize.c - beat positions and grid quantisation (see quantize.h).
 *
 * DESIGN
 *     Everything works in positions, not seconds, so one rule serves steady and changing
 *     tempi: a time maps to a beat position through the beat list (binary search, then linear
 *     interpolation) and on to a written position through the bar layout (layout.c), is
 *     rounded on the grid there, and maps back. Offsets are rounded independently of onsets,
 *     then pushed to at least one step after the rounded onset, and the note moves `strength`
 *     of the way to that target: with onset u0 -> q0 and offset u1 -> q1 > q0 the new length
 *     is (1 - s)(u1 - u0) + s (q1 - q0) > 0 for any s in [0, 1].
 *     The beat phase and the meter: src/music/meter.c. */
#include "music/quantize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "music/layout.h"

int dumu_beats_valid(const double *beats, int64_t n_beats) {
    if (!beats || n_beats < 2) return 0;
    for (int64_t i = 0; i < n_beats; i++) {
        if (!isfinite(beats[i]) || (i > 0 && !(beats[i] > beats[i - 1]))) return 0;
    }
    return 1;
}

/* Index b of the beat interval [beats[b], beats[b+1]) used for time t: the last b with
 * beats[b] <= t, clamped to 0..n-2 (the first and last intervals extrapolate). */
static int64_t interval_of_time(const double *beats, int64_t n, double t) {
    int64_t lo = 0, hi = n - 2;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (beats[mid] <= t) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

double dumu_beat_position(const double *beats, int64_t n_beats, double t) {
    DUMU_ASSERT(beats && n_beats >= 2);
    const int64_t b = interval_of_time(beats, n_beats, t);
    return (double)b + (t - beats[b]) / (beats[b + 1] - beats[b]);
}

double dumu_beat_time(const double *beats, int64_t n_beats, double pos) {
    DUMU_ASSERT(beats && n_beats >= 2);
    const double fl = floor(pos);
    int64_t b = fl < 0 ? 0 : (fl > (double)(n_beats - 2) ? n_beats - 2 : (int64_t)fl);
    return beats[b] + (pos - (double)b) * (beats[b + 1] - beats[b]);
}

dumu_quantize_params dumu_quantize_default_params(void) {
    dumu_quantize_params p;
    p.subdivisions = 4;
    p.strength = 1.0;
    return p;
}

dumu_status dumu_quantize_parse_grid(const char *text, int32_t *subdivisions, dumu_error *err) {
    static const struct {
        const char *name;
        int32_t sub;
    } grids[] = {{"1/4", 1},   {"1/8", 2},  {"1/16", 4},  {"1/32", 8},
                 {"1/64", 16}, {"1/8t", 3}, {"1/16t", 6}, {"1/32t", 12}};

    DUMU_ASSERT(subdivisions);
    for (size_t k = 0; text && k < sizeof grids / sizeof grids[0]; k++) {
        if (strcmp(text, grids[k].name) == 0) {
            *subdivisions = grids[k].sub;
            return DUMU_OK;
        }
    }
    return dumu_fail(err, DUMU_E_INVALID_ARG,
                     "quantize: grid '%s' is not one of 1/4 1/8 1/16 1/32 1/64 1/8t 1/16t 1/32t",
                     text ? text : "(null)");
}

dumu_status dumu_quantize_notes(const double *beats, int64_t n_beats, const dumu_meter *meter,
                                const dumu_quantize_params *params, dumu_note *notes,
                                int64_t n_notes, dumu_error *err) {
    const dumu_quantize_params p = params ? *params : dumu_quantize_default_params();
    if (!meter) return dumu_fail(err, DUMU_E_INVALID_ARG, "quantize: no meter");
    dumu_layout lay;
    dumu_status rc = dumu_layout_init(&lay, beats, n_beats, meter->first_downbeat,
                                      meter->beats_per_bar, meter->compound, err);
    if (rc) return rc;
    if (p.subdivisions < 1 || p.subdivisions > DUMU_QUANTIZE_MAX_SUBDIVISIONS ||
        !(p.strength >= 0.0 && p.strength <= 1.0)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG,
                         "quantize: subdivisions %d (1..%d) or strength %g (0..1) out of range",
                         (int)p.subdivisions, DUMU_QUANTIZE_MAX_SUBDIVISIONS, p.strength);
    }
    if (n_notes < 0 || (n_notes > 0 && !notes)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "quantize: bad note list (%lld at %p)",
                         (long long)n_notes, (void *)notes);
    }
    for (int64_t i = 0; i < n_notes; i++) {
        if (!isfinite(notes[i].start_s) || !isfinite(notes[i].end_s)) {
            return dumu_fail(err, DUMU_E_INVALID_ARG, "quantize: note %lld has a non-finite time",
                             (long long)i);
        }
    }
    const int32_t sub = p.subdivisions;
    const double s = p.strength;
    for (int64_t i = 0; i < n_notes; i++) {
        dumu_note *n = &notes[i];
        /* Written positions in quarters, and their grid points. */
        const double u0 = dumu_layout_quarters(&lay, n->start_s);
        const double u1 = dumu_layout_quarters(&lay, fmax(n->end_s, n->start_s));
        const double q0 = dumu_layout_snap(&lay, u0, sub);
        const double q1 = fmax(dumu_layout_snap(&lay, u1, sub),
                               dumu_layout_snap(&lay, q0 + 1.0 / (double)sub, sub));
        n->start_s = dumu_layout_seconds(&lay, u0 + s * (q0 - u0));
        n->end_s = dumu_layout_seconds(&lay, u1 + s * (q1 - u1));
    }
    return DUMU_OK;
}

/* A note's place in the merge order: (pitch, start_s, index), so the members of a group sit
 * together with the first in list order leading. */
typedef struct merge_key {
    int32_t pitch;
    double start_s;
    int64_t index;
} merge_key;

static int merge_order(const void *pa, const void *pb) {
    const merge_key *x = pa, *y = pb;
    if (x->pitch != y->pitch) return x->pitch < y->pitch ? -1 : 1;
    if (x->start_s != y->start_s) return x->start_s < y->start_s ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int64_t dumu_quantize_merge(dumu_note *notes, int64_t n) {
    if (n < 2) return n;
    merge_key *keys = dumu_malloc(sizeof *keys * (size_t)n);
    if (!keys) return n; /* out of memory: the MIDI file still merges them */
    for (int64_t i = 0; i < n; i++)
        keys[i] = (merge_key){notes[i].pitch, notes[i].start_s, i};
    qsort(keys, (size_t)n, sizeof *keys, merge_order);
    for (int64_t i = 1, lead = 0; i < n; i++) {
        if (keys[i].pitch != keys[lead].pitch || keys[i].start_s != keys[lead].start_s) {
            lead = i;
            continue;
        }
        dumu_note *a = &notes[keys[lead].index], *b = &notes[keys[i].index];
        a->end_s = fmax(a->end_s, b->end_s);
        a->amplitude = fmax(a->amplitude, b->amplitude);
        a->confidence = fmax(a->confidence, b->confidence);
        b->pitch = -1; /* merged: dropped below */
    }
    dumu_free(keys);
    int64_t w = 0;
    for (int64_t i = 0; i < n; i++)
        if (notes[i].pitch >= 0) notes[w++] = notes[i];
    return w;
}
