/* meter.h - the beat phase, the meter and the first downbeat from the harmony and the bass line
 * (src/music/meter.c).
 *
 * Beats are times in seconds, ascending (dumu_tempo.beats), positions along them as in
 * quantize.h. The evidence is the mix's short-time chroma (dumu_chroma_frames: chroma is
 * (n_frames, 12), row t centred at t * frame_s seconds) and the bass notes. Arrays are
 * borrowed for the call; beats change in place where a function says so. Thread-safe for
 * distinct outputs. */
#ifndef DUMU_MUSIC_METER_H
#define DUMU_MUSIC_METER_H

#include <stdint.h>

#include "dumu/dumu.h"

/* Margin of the phase decision (meter.c): the summed on-/off-beat contrasts must fall below
 * -DUMU_METER_PHASE_MARGIN before the beats move; on the tuning half (dm01-03, xd01-20) the
 * sums of correctly phased items went down to -0.12, those of off-beat ones to -0.40. */
#define DUMU_METER_PHASE_MARGIN 0.15
/* The same margin for the rarer offsets of swing and anticipation (1/4, 1/3, 2/3, 3/4 beat):
 * twice the half beat's, since four grids are tried where there was one. */
#define DUMU_METER_SWING_MARGIN (2.0 * DUMU_METER_PHASE_MARGIN)
/* A bar of 3 beats must show this many times the accent contrast of a bar of 4 to be chosen:
 * 4/4 is by far the commoner meter, and a 4/4 song's half bars can mimic 3/4 contrast. */
#define DUMU_METER_TRIPLE_RATIO 1.25

/* Harmonic change at beat position pos: 1 - cosine similarity of the mean chroma over the w
 * beats before pos and the w beats after it (0: same harmony, up to 1). 0 when either side
 * holds no chroma frame. beats must be valid (dumu_beats_valid). */
double dumu_harmonic_change(const double *beats, int64_t n_beats, const float *chroma,
                            int64_t n_frames, double frame_s, double pos, double w);

/* Bass-line change at beat position pos: the summed amplitudes of the notes starting within
 * 1/8 beat of pos whose pitch class differs from the note sounding before (the line moves to a
 * new chord tone). notes sorted by start time. */
double dumu_bass_change(const double *beats, int64_t n_beats, const dumu_note *notes,
                        int64_t n_notes, double pos);

/* Checks whether the beats sit off the notated beat: for each grid o = 1/2 (the off-beats),
 * 1/4, 1/3, 2/3 and 3/4 of a beat later, the contrasts (g - b) / (g + b) of harmonic change
 * (w = 1 beat) and of bass change summed over that grid (g) and over the beats (b); when both
 * are positive and their sum exceeds DUMU_METER_PHASE_MARGIN (o = 1/2) or
 * DUMU_METER_SWING_MARGIN (the others), the off-beats win if they qualify, else the other
 * grid with the largest sum: every beat moves
 * o of the way to the next (the last by o of the last interval), in place, and *shift
 * (optional) is o, else 0. Errors:
 * DUMU_E_INVALID_ARG (invalid beats; notes or chroma NULL with a nonzero count). */
dumu_status dumu_beats_phase(double *beats, int64_t n_beats, const dumu_note *notes,
                             int64_t n_notes, const float *chroma, int64_t n_frames, double frame_s,
                             double *shift, dumu_error *err);

/* Beats per bar (3 or 4) and the first downbeat: each beat's accent is its harmonic change
 * (w = 2 beats) over the mean harmonic change plus its bass change over the mean bass change
 * (chord changes and new bass notes open bars); for meter m and phase f the contrast is the
 * mean accent of beats i = f (mod m) less that of the others; 3 wins only with
 * DUMU_METER_TRIPLE_RATIO times the contrast of 4. No evidence at all gives 4/4 from beat 0
 * with confidence 0. Errors: as dumu_beats_phase. */
dumu_status dumu_meter_estimate(const double *beats, int64_t n_beats, const dumu_note *notes,
                                int64_t n_notes, const float *chroma, int64_t n_frames,
                                double frame_s, dumu_meter *out, dumu_error *err);

#endif /* DUMU_MUSIC_METER_H */
