/* tempo.h - the stages of dumu_tempo_detect (src/dsp/tempo.c), exposed for tests:
 *
 *   mono 22050 Hz audio --dumu_onset_envelope--> onset strength env (n_env), one value per
 *   512-sample hop (DUMU_TEMPO_FPS ~ 43.07 frames/s), env[t] belongs to time t*512/22050 s
 *   --dumu_tempo_acf--> mean normalised autocorrelation of ~8.9 s windows (win lags)
 *   --dumu_tempo_candidates--> scored tempo candidates --dumu_tempo_estimate--> bpm
 *   --dumu_beat_track--> beat frames (Ellis 2007 dynamic programming).
 *
 * All arrays are borrowed for the call unless a function says it returns a new one; new
 * arrays come from dumu_malloc and the caller frees them with dumu_free. Every function is
 * thread-safe for distinct outputs. */
#ifndef DUMU_DSP_TEMPO_H
#define DUMU_DSP_TEMPO_H

#include <stdint.h>

#include "dumu/dumu.h"

#define DUMU_TEMPO_SR        22050 /* analysis sample rate, Hz */
#define DUMU_TEMPO_N_FFT     2048  /* STFT size, samples (~93 ms) */
#define DUMU_TEMPO_HOP       512   /* STFT hop, samples (~23.2 ms) */
#define DUMU_TEMPO_N_MELS    128   /* mel bands of the onset spectrogram */
#define DUMU_TEMPO_TOP_DB    80.0  /* dynamic range kept by power -> dB */
#define DUMU_TEMPO_ACF_WIN   384   /* autocorrelation window, envelope frames (~8.9 s) */
#define DUMU_TEMPO_ACF_HOP   4     /* hop between autocorrelation windows, frames */
#define DUMU_TEMPO_TIGHTNESS 100.0 /* beat tracker: how strongly beats keep the period */
#define DUMU_TEMPO_FPS       ((double)DUMU_TEMPO_SR / DUMU_TEMPO_HOP)
/* The onset envelope peaks this long after a note's start (attack build-up plus the dB flux
 * of a 93 ms window): the median lag of tracked beats behind the true beats on the tuning
 * half of the developer sets (dm01-03, xd01-20; 40-48 ms on items with sharp and soft
 * attacks alike). Beats are moved back by it. */
#define DUMU_TEMPO_ONSET_DELAY_S 0.042
/* Beat-map model (dumu_beats_model): rms timing noise of tracked beats around the true
 * grid, s (frame quantisation alone is 23.2 ms / sqrt(12) = 6.7 ms; the rms residual of a
 * straight line through the beats of steady songs is 6.6-8 ms)... */
#define DUMU_BEATMAP_NOISE_S 0.007
/* ... and how far the written (piecewise steady) grid may stray from the modelled beats, s:
 * below what a listener hears as a flam (~10-20 ms), so a tempo event is written only where
 * holding the tempo would move a beat audibly. */
#define DUMU_BEATMAP_TOL_S 0.005

/* Onset strength envelope of the mono signal x (n_samples floats at DUMU_TEMPO_SR Hz):
 * centred STFT (DUMU_TEMPO_N_FFT, Hann, DUMU_TEMPO_HOP) -> 128-band Slaney mel power ->
 * dB (ref: the maximum, floor max - 80 dB) -> positive difference between consecutive
 * frames, averaged over bands, shifted so that a sharp onset at time c peaks at frame
 * round(c * fps) (env[0..2] = 0). Returns a new array of n_env = 1 + n_samples / HOP values
 * (>= 0; all 0 for digital silence) in *env. */
dumu_status dumu_onset_envelope(const float *x, int64_t n_samples, float **env, int64_t *n_env,
                                dumu_error *err);

/* Mean normalised autocorrelation of the envelope: windows of w = min(win, n_env) frames
 * every `hop` frames (plus one ending at the last frame); silent windows (RMS under 1e-3)
 * are skipped; each other one is tapered by sin^2(pi (j+0.5)/w) (with demean: the tapered
 * envelope less its tapered mean), autocorrelated and divided by its lag-0 value. acf (win
 * floats) gets the average for lags 0..w-1 (acf[0] = 1) and 0 beyond; *n_used (optional)
 * the number of windows averaged (0: the envelope is silent, acf all 0). Computed with
 * FFTs. demean 0 gives the tempo ACF, 1 the correlation coefficients of the confidence. */
dumu_status dumu_tempo_acf(const float *env, int64_t n_env, int win, int hop, int demean,
                           float *acf, int64_t *n_used, dumu_error *err);

/* Plain-loop reference of dumu_tempo_acf (direct sums in double); same outputs. */
void dumu_tempo_acf_ref(const float *env, int64_t n_env, int win, int hop, int demean, float *acf,
                        int64_t *n_used);

/* A tempo candidate: a local maximum of the mean autocorrelation inside the bpm range. */
typedef struct dumu_tempo_candidate {
    double lag;     /* beat period, envelope frames (parabolically refined) */
    double bpm;     /* 60 * fps / lag */
    double peak;    /* A at the refined lag */
    double score;   /* dumu_tempo_comb(lag) * dumu_tempo_prior(bpm) */
    double src_lag; /* the lag of the ACF peak it comes from: lag, or lag * 2^k if folded */
} dumu_tempo_candidate;

#define DUMU_TEMPO_MAX_CANDIDATES 32

/* Log-normal tempo prior with a one-octave standard deviation: exp(-0.5 log2(bpm/prior)^2). */
double dumu_tempo_prior(double bpm, double prior_bpm);

/* Comb (harmonic) sum sum_{k=1..4} A(k lag) / k of acf (n_lags values), each term the
 * largest A within one frame of k*lag; multiples beyond the array are left out. */
double dumu_tempo_comb(const float *acf, int n_lags, double lag);

/* Candidates from a mean autocorrelation acf (n_lags values, acf[0] = 1) of an envelope at
 * fps frames/s: every positive local maximum whose refined lag lies in [60 fps / max_bpm,
 * 60 fps / min_bpm] (and below n_lags - 1), scored as above; when there is none, the
 * positive local maxima outside the range folded into it by octaves (peak = A at the folded
 * lag). Writes up to max_out of them into out, best score first, and returns how many;
 * *mean_acf (optional) gets the mean of acf over the integer lags of the range (0 when the
 * range is empty). params must hold 0 < min_bpm < max_bpm < inf (asserted). */
int dumu_tempo_candidates(const float *acf, int n_lags, double fps, const dumu_tempo_params *params,
                          dumu_tempo_candidate *out, int max_out, double *mean_acf);

/* Confidence of the period `lag` (frames) from the de-meaned mean autocorrelation acf_dm
 * (n_lags values, dumu_tempo_acf with demean): its value near lag, clipped to [0, 1]; 0 for
 * a lag outside the array. */
double dumu_tempo_confidence(const float *acf_dm, int n_lags, double lag);

/* Tempo of an onset envelope (n_env frames at DUMU_TEMPO_FPS): dumu_tempo_acf, then
 * dumu_tempo_candidates, then the 3:2 guard (tempo.c). Writes bpm (0: silence, or no
 * candidate fits) and confidence in [0, 1] (0 with bpm 0). params must be valid. */
dumu_status dumu_tempo_estimate(const float *env, int64_t n_env, const dumu_tempo_params *params,
                                double *bpm, double *confidence, dumu_error *err);

/* Dynamic-programming beat tracker (Ellis 2007) over env (n_env frames) for a beat period
 * of `period` frames (>= 1) and the given tightness (100 is the usual value). Returns a new
 * ascending array of beat frame indices in *beats (NULL when *n_beats is 0). */
dumu_status dumu_beat_track(const float *env, int64_t n_env, double period, double tightness,
                            int64_t **beats, int64_t *n_beats, dumu_error *err);

/* The tempo map of tracked beats (file comment of tempo.c, step 6): raw (n >= 1 beat times,
 * s, ascending) -> out (n values, may be raw itself): a straight line (one tempo) when the
 * beats are steady within their timing noise, else the smoothest curve the beats support
 * (second-difference penalty, chosen by BIC), then written as the fewest steady segments that
 * keep every beat within DUMU_BEATMAP_TOL_S of that curve. *n_segments (optional) gets the
 * number of steady segments (tempo events). Allocates scratch: DUMU_E_NOMEM. */
dumu_status dumu_beats_model(const double *raw, int64_t n, double *out, int64_t *n_segments,
                             dumu_error *err);

/* Penalised least squares (w_i (y_i - f_i)^2 summed, plus lambda times the summed squared second
 * differences of f) by a banded LDL' solve: f (n values) from y and weights w (> 0), n >= 1.
 * Scratch: 5 n doubles in `work`. Exposed for its test against a dense solve. */
void dumu_whittaker(const double *y, const double *w, int64_t n, double lambda, double *f,
                    double *work);

#endif /* DUMU_DSP_TEMPO_H */
