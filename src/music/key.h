/* key.h - key and mode estimation (src/music/key.c): Krumhansl-Kessler profile correlation
 * over a pitch-class histogram of the bass notes, optionally mixed with the chroma of the mix
 * (src/dsp/chroma.h).
 *
 * Pitch classes: 0 = C ... 11 = B (MIDI pitch % 12). Notes are borrowed for the call. Every
 * function is thread-safe. */
#ifndef DUMU_MUSIC_KEY_H
#define DUMU_MUSIC_KEY_H

#include <stdbool.h>
#include <stdint.h>

#include "dumu/dumu.h"

typedef struct dumu_key_params {
    double chroma_weight; /* share of the mix chroma in the evidence, 0..1; default 0.5 */
} dumu_key_params;

dumu_key_params dumu_key_default_params(void);

/* The pitch-class histogram of notes (n_notes, any order): each note adds its duration in
 * seconds times its amplitude (clamped to [0, 1]) to its pitch class; notes with a negative or
 * non-finite duration or amplitude, or a pitch outside 0..127, add nothing. hist gets 12
 * values, not normalised. */
void dumu_key_histogram(const dumu_note *notes, int64_t n_notes, double hist[12]);

/* Pearson correlation of a 12-bin evidence vector with the Krumhansl-Kessler profile of the
 * key (tonic 0..11, minor); 0 when the evidence is constant. */
double dumu_key_correlation(const double evidence[12], int32_t tonic, bool minor);

/* Estimates the key from the notes (may be NULL with n_notes 0) and the mix chroma (12 values,
 * as dumu_chroma_mean gives, or NULL). Each source is normalised to sum 1 and they are mixed as
 * (1 - chroma_weight) * notes + chroma_weight * chroma; a missing or empty source leaves the
 * other alone. The key is the best of the 24 correlations. With no evidence at all, *out is C
 * major with correlation and confidence 0. Errors: DUMU_E_INVALID_ARG (a NULL list with
 * n_notes > 0, a negative count, chroma values negative or non-finite, chroma_weight outside
 * 0..1). */
dumu_status dumu_key_estimate(const dumu_note *notes, int64_t n_notes, const float *chroma,
                              const dumu_key_params *params, dumu_key *out, dumu_error *err);

/* The key signature of a key: sharps (> 0) or flats (< 0) in -6..6, one of the usual spellings
 * where two exist: Db major -5, Gb major and Eb minor -6, C# minor +4, G# minor +5. */
int32_t dumu_key_fifths(int32_t tonic, bool minor);

#endif /* DUMU_MUSIC_KEY_H */
