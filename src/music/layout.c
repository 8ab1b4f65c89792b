/* layout.c - the bar layout shared by the writers and the quantiser (see layout.h).
 *
 * THE PICKUP RULE
 *     A file starts at tick 0 = time 0, and its bars must start on the detected bar lines. The
 *     time before the first bar line at or after 0 (the lead-in, x beats) is rarely a neat
 *     note value: writing it as it is gives a pickup bar of any length, and squeezing it into
 *     a whole beat gives absurd tempi (a 23 ms lead-in as one quarter note is 2,600 BPM). So:
 *       1. D = the earliest bar line at or after time 0. Bar lines repeat every beats_per_bar
 *          beats through first_downbeat, extrapolated before the first beat at the first
 *          interval, so whole bars between D and first_downbeat stay whole bars and
 *          0 <= x < one bar.
 *       2. The pickup L is x rounded to 32nd notes when x < 1 beat and to 16ths when x >= 1
 *          beat; 0 means no pickup bar (bar 1 starts at tick 0).
 *       3. The lead-in and bar 1's first m beats (beat positions p0 .. D + m, x + m beats)
 *          are written as L + m beats: every beat there is scaled by s = (L + m) / (x + m).
 *          From beat D + m on each beat is one written beat. m = beats_per_bar when the
 *          lead-in is under one beat (a song that starts on its first bar, found a few ms
 *          late, or a short upbeat): its rounding remainder then becomes a tempo change of at
 *          most (1/16) / beats_per_bar over bar 1 (0.3 % for a 10 ms lead-in at 120 BPM in
 *          4/4) rather than up to 1/16 over one beat. m = 1 for a lead-in of a beat or more,
 *          whose 16th rounding (e up to 1/8) spread over a whole bar would move bar 1's
 *          downbeat by more than 1/16 beat. Either way the rounding remainder x - L is spread
 *          over at least one whole beat.
 *     BOUNDS. Let e = |x - L| (beats): e <= 1/16 beat when x < 1 (half a 32nd; 1/24 in
 *     compound meters), e <= 1/8 beat when x >= 1 (half a 16th; 1/12 compound), and then
 *     L >= 1 too. The written tempo over p0 .. D + m differs from the detected one by the
 *     factor s: us per quarter by (x - L) / (L + m), BPM by (L - x) / (x + m). The detected
 *     downbeat D lands at written beat s * x = L + m (x - L) / (x + m), and the written bar
 *     line L plays at beat position D - m (x - L) / (L + m). The tempo is off by at most
 *     e / (m + min(x, L)) and the downbeat by at most e / (1 + min(x, L)) (m = 1) or
 *     m e / (m + min(x, L)) <= e (m = beats_per_bar, where e <= 1/16). Both are <= 1/16 in
 *     every case: the tempo is off by at most 6.25 % and bar 1's downbeat by at most 1/16 beat
 *     (tests/unit/test_music_layout.c checks both on a sweep of x).
 *     32nds below one beat are needed for that: with 16ths a tiny lead-in could round away a
 *     remainder of 1/8 over a single beat (12.5 %). Above one beat 16ths keep the bound and
 *     the pickup plainer (7/8 rather than 29/32).
 *     Scaling each beat rather than writing p0 .. D + m at one mean tempo: the same when the
 *     beats there are steady; when they are not, each written beat keeps its own tempo within
 *     the bound above instead of one mean that may be further than that from some beat.
 *     When L rounds up to a whole bar there is no pickup: tick 0 is a bar line (the detected
 *     one before D, at most 1/8 beat before time 0) and D is the second bar line.
 *
 * ARITHMETIC
 *     Written positions after beat D + m are (u - D) * beat_q + L: exact for whole beats, so a
 *     note on a beat gets the tick of that beat exactly. Grid points are computed as
 *     n / steps with an exact integer n, so ticks round to the grid exactly when ppq is a
 *     multiple of steps. */
#include "music/layout.h"

#include <math.h>
#include <string.h>

#include "core/core.h"
#include "music/quantize.h"

/* Largest |beat position of time 0| accepted: far beyond any song, and small enough that
 * whole beat positions stay exact in a double and in an int64. */
#define MAX_P0 1e12

dumu_status dumu_layout_init(dumu_layout *l, const double *beats, int64_t n_beats,
                             int32_t first_downbeat, int32_t beats_per_bar, bool compound,
                             dumu_error *err) {
    DUMU_ASSERT(l);
    memset(l, 0, sizeof *l);
    if (!beats || n_beats < 2) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "layout: needs at least 2 beats (got %lld)",
                         (long long)n_beats);
    }
    for (int64_t i = 0; i < n_beats; i++) {
        if (!isfinite(beats[i]) || (i > 0 && !(beats[i] > beats[i - 1]))) {
            return dumu_fail(err, DUMU_E_INVALID_ARG,
                             "layout: beat %lld (%g s) is not finite or not after the one before",
                             (long long)i, beats[i]);
        }
    }
    if (beats_per_bar < 1 || beats_per_bar > 16) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "layout: beats_per_bar %d is outside 1..16",
                         (int)beats_per_bar);
    }
    if (first_downbeat < 0) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "layout: first_downbeat %d is negative",
                         (int)first_downbeat);
    }
    const double p0 = dumu_beat_position(beats, n_beats, 0.0);
    if (!(fabs(p0) < MAX_P0)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "layout: time 0 is %g beats from the beats", p0);
    }
    const double bpb = (double)beats_per_bar, f = (double)(first_downbeat % beats_per_bar);
    l->beats = beats;
    l->n_beats = n_beats;
    l->beats_per_bar = beats_per_bar;
    l->compound = compound;
    l->beat_q = compound ? 1.5 : 1.0;
    l->bar_q = bpb * l->beat_q;
    l->p0 = p0;
    l->downbeat = f + bpb * ceil((p0 - f) / bpb);
    l->lead_in = fmax(l->downbeat - p0, 0.0); /* >= 0 but for the last bit of the division */
    const double xq = l->lead_in * l->beat_q;
    l->lead_q = l->lead_in < 1.0 ? round(xq * 8.0) / 8.0 : round(xq * 4.0) / 4.0;
    l->pickup_q = l->lead_q < l->bar_q ? l->lead_q : 0.0;
    l->span = l->lead_in < 1.0 ? (double)bpb : 1.0;
    l->scale = (l->lead_q / l->beat_q + l->span) / (l->lead_in + l->span);
    return DUMU_OK;
}

double dumu_layout_beat_quarters(const dumu_layout *l, double u) {
    if (u < l->downbeat + l->span) return l->scale * (u - l->p0) * l->beat_q;
    return (u - l->downbeat) * l->beat_q + l->lead_q;
}

double dumu_layout_quarters(const dumu_layout *l, double t) {
    return dumu_layout_beat_quarters(l, dumu_beat_position(l->beats, l->n_beats, t));
}

double dumu_layout_seconds(const dumu_layout *l, double q) {
    const double u = q < l->lead_q + l->span * l->beat_q
                         ? l->p0 + q / (l->beat_q * l->scale)
                         : l->downbeat + (q - l->lead_q) / l->beat_q;
    return dumu_beat_time(l->beats, l->n_beats, u);
}

double dumu_layout_quarter_s(const dumu_layout *l, int64_t j) {
    const int64_t k = j < 0 ? 0 : (j > l->n_beats - 2 ? l->n_beats - 2 : j);
    const double scale = (double)j < l->downbeat + l->span ? l->scale : 1.0;
    return (l->beats[k + 1] - l->beats[k]) / (scale * l->beat_q);
}

double dumu_layout_snap(const dumu_layout *l, double q, int32_t steps) {
    DUMU_ASSERT(steps >= 1 && steps <= 48);
    const double n = (double)steps, p = l->pickup_q;
    if (q < p) {
        /* In the pickup (or before tick 0): points p - k / steps, k = 0 .. floor(p * steps). */
        const double ps = p * n; /* exact: p is a multiple of 1/8 */
        const double k = fmin(round((p - q) * n), floor(ps));
        return (ps - k) / n;
    }
    const double start = p + floor((q - p) / l->bar_q) * l->bar_q, end = start + l->bar_q;
    /* The nearest step of this bar, or its end when that is nearer: only when a bar is not a
     * whole number of steps does the end lie between two steps. */
    const double k = fmin(round((q - start) * n), floor(l->bar_q * n));
    const double point = (start * n + k) / n;
    return end - q < q - point ? end : point;
}

bool dumu_layout_has_pickup(const dumu_layout *l) {
    return l->pickup_q > 0.0;
}

double dumu_layout_measure_start(const dumu_layout *l, int64_t m) {
    DUMU_ASSERT(m >= 0);
    if (dumu_layout_has_pickup(l)) return m == 0 ? 0.0 : l->pickup_q + (double)(m - 1) * l->bar_q;
    return (double)m * l->bar_q;
}

int64_t dumu_layout_measure_of(const dumu_layout *l, double q) {
    if (!(q > 0.0)) return 0;
    const bool pickup = dumu_layout_has_pickup(l);
    if (pickup && q < l->pickup_q) return 0;
    return (int64_t)floor((q - l->pickup_q) / l->bar_q) + (pickup ? 1 : 0);
}

void dumu_layout_time_signature(const dumu_layout *l, int64_t m, int32_t *num, int32_t *den) {
    if (m == 0 && dumu_layout_has_pickup(l)) {
        const int32_t min_den = l->compound ? 8 : 4;
        *num = (int32_t)llround(l->pickup_q * 8.0); /* 32nds */
        *den = 32;
        while (*num % 2 == 0 && *den > min_den) {
            *num /= 2;
            *den /= 2;
        }
        return;
    }
    *num = l->compound ? 3 * l->beats_per_bar : l->beats_per_bar;
    *den = l->compound ? 8 : 4;
}
