/* stft.h - a small real short-time Fourier transform and a mel filterbank on FFTW3 (single
 * precision), as used by the onset-strength envelope of src/dsp/tempo.c.
 *
 * Conventions (the librosa defaults, so results are comparable):
 *   - frames are centred: frame t is the n_fft samples around sample t*hop, the signal being
 *     zero-padded by n_fft/2 on both sides; n_frames = 1 + n_samples / hop;
 *   - the window is the periodic Hann window w[k] = 0.5 - 0.5 cos(2 pi k / n_fft);
 *   - spectra are one-sided, n_bins = n_fft/2 + 1, bin k is k*sr/n_fft Hz;
 *   - matrices are row-major, time-major: (n_frames, n_bins) with bins contiguous.
 *
 * FFTW's planner is not thread-safe. Every plan in libdumu is created and destroyed while
 * holding dumu_fft_plan_lock() (one process-wide pthread mutex, the only global state of
 * this module); executing a plan is thread-safe. Modules that make their own FFTW plans
 * must take the same lock. */
#ifndef DUMU_DSP_STFT_H
#define DUMU_DSP_STFT_H

#include <stdint.h>

#include "dumu/dumu.h"

/* The lock every FFTW plan creation/destruction in libdumu must hold. */
void dumu_fft_plan_lock(void);
void dumu_fft_plan_unlock(void);

/* Number of centred frames for n_samples samples: 1 + n_samples / hop (n_samples >= 0). */
int64_t dumu_stft_n_frames(int64_t n_samples, int hop);

/* Writes the periodic Hann window of length n into w (n floats). */
void dumu_hann_periodic(float *w, int n);

/* A reusable STFT frame engine: the window, a frame buffer and one FFTW r2c plan. It belongs
 * to one thread at a time. Release with dumu_stft_deinit (safe on a zeroed struct). */
typedef struct dumu_stft {
    int n_fft;     /* even, >= 2 */
    int hop;       /* >= 1 */
    int n_bins;    /* n_fft/2 + 1 */
    float *window; /* (n_fft) periodic Hann */
    float *frame;  /* (n_fft) windowed frame, the plan's input */
    float *spec;   /* (2 * n_bins) interleaved re, im: the plan's output */
    void *plan;    /* fftwf_plan */
} dumu_stft;

/* Sets up st for frames of n_fft samples (even, 2 .. 2^24) every hop >= 1 samples.
 * Errors: DUMU_E_INVALID_ARG, DUMU_E_NOMEM (st is left zeroed). */
dumu_status dumu_stft_init(dumu_stft *st, int n_fft, int hop, dumu_error *err);
void dumu_stft_deinit(dumu_stft *st);

/* Power spectrum |X[k]|^2, k = 0..n_bins-1, of centred frame t (0 <= t) of the mono signal
 * x (n_samples floats, zero outside [0, n_samples)) into out (n_bins floats). */
void dumu_stft_frame_power(dumu_stft *st, const float *x, int64_t n_samples, int64_t t, float *out);

/* Plain-loop reference of dumu_stft_frame_power: a direct O(n_fft^2) DFT in double. */
void dumu_stft_frame_power_ref(const float *x, int64_t n_samples, int n_fft, int hop, int64_t t,
                               float *out);

/* A mel filterbank: n_mels triangular filters on the Slaney mel scale (linear below 1 kHz,
 * logarithmic above), edges equally spaced in mel from fmin to fmax Hz, each filter scaled
 * by 2 / (its width in Hz) (Slaney area normalisation). Stored sparsely: filter m has
 * weights w[offset[m] .. offset[m] + len[m]) for bins start[m] .. start[m] + len[m]. */
typedef struct dumu_melbank {
    int n_mels;
    int n_bins;     /* n_fft/2 + 1 */
    int *start;     /* (n_mels) first bin with a nonzero weight */
    int *len;       /* (n_mels) number of bins (may be 0 for very narrow filters) */
    int *offset;    /* (n_mels) index of the first weight in w */
    float *weights; /* (sum of len) */
} dumu_melbank;

/* Builds the filterbank for sample rate sr, n_fft, n_mels >= 1, 0 <= fmin < fmax <= sr/2.
 * Release with dumu_melbank_deinit. */
dumu_status dumu_melbank_init(dumu_melbank *mb, double sr, int n_fft, int n_mels, double fmin,
                              double fmax, dumu_error *err);
void dumu_melbank_deinit(dumu_melbank *mb);

/* Weight of bin k in filter m (0 outside the filter): for tests and reference loops. */
float dumu_melbank_weight(const dumu_melbank *mb, int m, int k);

/* Applies the filterbank: mel (n_frames, n_mels) = spec (n_frames, n_bins) x weights^T. */
void dumu_melbank_apply(const dumu_melbank *mb, const float *spec, int64_t n_frames, float *mel);

/* Slaney mel scale, Hz <-> mel. */
double dumu_hz_to_mel(double hz);
double dumu_mel_to_hz(double mel);

#endif /* DUMU_DSP_STFT_H */
