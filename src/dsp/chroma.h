/* chroma.h - the mean pitch-class profile (chroma) of a recording (src/dsp/chroma.c), the mix
 * evidence for key estimation (src/music/key.c).
 *
 * Chroma index 0 is C, 1 C#, ..., 11 B (MIDI pitch % 12), tuned to A4 = 440 Hz. Thread-safe
 * for distinct outputs (FFTW plans are made under dumu_fft_plan_lock). */
#ifndef DUMU_DSP_CHROMA_H
#define DUMU_DSP_CHROMA_H

#include <stdint.h>

#include "dumu/dumu.h"

#define DUMU_CHROMA_FMIN_HZ 27.5   /* A0: lowest frequency counted */
#define DUMU_CHROMA_FMAX_HZ 4000.0 /* highest; above it harmonics blur the pitch classes */

/* Mean chroma of the mono signal x (n_samples floats at sample_rate Hz, 8000..384000):
 * centred Hann STFT with the smallest power-of-two n_fft giving bins of at most 3 Hz (16384 at
 * 44.1 kHz, 8192 at 22.05 kHz) and hop n_fft/4; each spectral peak (a bin at least as strong as
 * both neighbours) between DUMU_CHROMA_FMIN_HZ and DUMU_CHROMA_FMAX_HZ adds its power to the
 * two pitch classes around its fractional MIDI pitch, split linearly by distance in semitones.
 * Each frame's chroma is divided by its sum, and the frames are averaged, so loud passages do
 * not outweigh quiet ones; frames whose sum is below 1e-3 of the loudest frame's (silence,
 * fades) are left out. chroma (12 floats) gets the
 * mean, summing to 1, or all zeros when the signal is silent. Errors: DUMU_E_INVALID_ARG (NULL
 * pointers, a negative count, a rate out of range, non-finite samples), DUMU_E_NOMEM. */
dumu_status dumu_chroma_mean(const float *x, int64_t n_samples, int32_t sample_rate,
                             float chroma[12], dumu_error *err);

/* Short-time chroma for harmonic change (src/music/meter.c): the mono signal x (n_samples floats
 * at sample_rate Hz, 8000..384000) in centred Hann frames of the smallest power-of-two n_fft
 * of at least 0.18 s (4096 at 22.05 kHz: bins of 5.4 Hz, a semitone at ~90 Hz) every n_fft/8
 * samples (~23 ms); each bin between 50 and 2000 Hz (the bass's and the chords' range) adds
 * its power to the pitch class of its nearest semitone, and each frame holds the square roots
 * of its pitch classes' shares of the frame's power (all 0 for a silent frame), so loud and
 * quiet frames weigh alike. *frames gets a new (n_frames, 12) array (free with dumu_free),
 * *n_frames its row count and *frame_s the hop in seconds (row t is centred at t * frame_s).
 * Errors: as dumu_chroma_mean. */
dumu_status dumu_chroma_frames(const float *x, int64_t n_samples, int32_t sample_rate,
                               float **frames, int64_t *n_frames, double *frame_s, dumu_error *err);

#endif /* DUMU_DSP_CHROMA_H */
