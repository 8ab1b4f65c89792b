/* onset.h - note starts and ends from the source's own energy (src/dsp/onset.c).
 *
 * Basic Pitch's onsets come from its frames (11.6 ms) and lag the attack by an amount that
 * depends on the sound (a slow synth or a low fundamental shows late). The audio the notes were
 * made from knows better: an attack is where its short-time energy climbs. Bass mode moves
 * each note's start to the steepest climb near it (src/pipeline.c).
 * Ends: a sampled or synthesised note goes on ringing after its key is released, and Basic
 * Pitch's activation follows the ring, so notes end late (by a median 0.12 s on the
 * developer sets). The release is where the energy falls fastest: bass mode moves each
 * note's end back to the steepest fall in its last stretch.
 *
 * Audio is mono float samples at any rate; times are seconds from the first sample.
 * Thread-safe for distinct outputs. */
#ifndef DUMU_DSP_ONSET_H
#define DUMU_DSP_ONSET_H

#include "dumu/dumu.h"

/* Energy rise: rise[t] = E_dB(t) - E_dB(t - 1 window), where E_dB(t) is the mean square of
 * the DUMU_RISE_WINDOW_S window that starts at t * hop_s, in dB (floored at -100 dB). The
 * climb is steepest where the window starts at the attack. */
typedef struct dumu_energy_rise {
    float *rise;  /* (n); owned */
    int64_t n;    /* windows that fit in the audio */
    double hop_s; /* seconds between window starts */
} dumu_energy_rise;

#define DUMU_RISE_WINDOW_S 0.0232 /* 23 ms: two Basic Pitch frames, a period of 43 Hz (F1) */
#define DUMU_RISE_HOP_S    0.0029 /* 2.9 ms: an eighth of the window */

/* Fills a new *out (free with dumu_energy_rise_deinit) from n samples at rate Hz. Audio
 * shorter than a window gives n = 0. Errors: DUMU_E_INVALID_ARG (NULL, rate under 1 kHz,
 * n < 0), DUMU_E_NOMEM. */
dumu_status dumu_energy_rise_compute(const float *x, int64_t n, double rate, dumu_energy_rise *out,
                                     dumu_error *err);

void dumu_energy_rise_deinit(dumu_energy_rise *r);

/* Moves each note's start_s (notes sorted by start, n of them) to the window start of the
 * largest rise of at least DUMU_RISE_MIN_DB within [start_s - DUMU_RISE_BEFORE_S, start_s +
 * DUMU_RISE_AFTER_S], kept DUMU_RISE_GAP_S after the previous note's start and before its own
 * end; a note without such a rise keeps its start. Order and every other field stay. */
void dumu_refine_onsets(const dumu_energy_rise *r, dumu_note *notes, int64_t n);

#define DUMU_RISE_MIN_DB   3.0  /* the energy doubles: an attack, not a swell */
#define DUMU_RISE_BEFORE_S 0.05 /* the onset matching's tolerance: Basic Pitch is rarely earlier */
#define DUMU_RISE_AFTER_S  0.03 /* Basic Pitch's start can precede the climb by a frame or two */
#define DUMU_RISE_GAP_S    0.03 /* a note keeps at least this much of the note before it */

/* Moves each note's end_s back to the window boundary with the largest fall (a fall is a
 * negative rise: the window that starts there is that many dB under the window before it)
 * of at least DUMU_FALL_MIN_DB within [end_s - DUMU_FALL_BEFORE_S, end_s], never to within
 * DUMU_FALL_KEEP_S of the note's start; a note without such a fall keeps its end. Ends only
 * move earlier. Order and every other field stay. */
void dumu_refine_offsets(const dumu_energy_rise *r, dumu_note *notes, int64_t n);

/* Chosen on the tuning half of the developer sets (README, "Note timing"): F1 with offsets
 * 0.450 at 3 dB, 0.463 at 4, 0.458 at 5, 0.454 at 6, 0.436 at 10. */
#define DUMU_FALL_MIN_DB 4.0
/* 90 % of the late ends run under 0.26 s past the true end; the limit keeps a long note's
 * end from jumping to a dip in its middle (0.15 s to 2 s scored within 0.004) */
#define DUMU_FALL_BEFORE_S 0.3
/* A pluck's first decay is no release: 0.02 s scored 0.451, 0.05 0.460, 0.08 0.463,
 * 0.15 0.457 */
#define DUMU_FALL_KEEP_S 0.08

#endif /* DUMU_DSP_ONSET_H */
