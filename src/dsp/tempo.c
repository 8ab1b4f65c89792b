/* tempo.c - tempo (BPM) estimation and beat tracking: dumu_tempo_detect.
 *
 * PIPELINE (shapes in tempo.h)
 *   1. Audio -> mono (mean of the channels) -> 22050 Hz (dumu_audio_to_mono,
 *      dumu_audio_resample).
 *   2. Onset strength envelope, the one librosa users know (onset_strength defaults):
 *      centred STFT n_fft 2048 / hop 512 / periodic Hann, 128-band Slaney mel power, dB with
 *      an 80 dB floor under the maximum, positive first difference (lag 1) per band, mean
 *      over bands, then a shift of 1 + n_fft/(2 hop) = 3 frames so that a sharp onset at time
 *      c peaks at frame c*fps: a centred Hann frame already "sees" an onset 1024 samples
 *      (two hops) before its centre, and in dB that first, faint glimpse is the big jump.
 *   3. Autocorrelation: the envelope is cut into ~8.9 s windows (384 frames, every 4
 *      frames), each tapered (sin^2), autocorrelated and divided by its lag-0 value, so loud
 *      and quiet passages weigh the same; the results are averaged: A(L), L in frames. As in
 *      librosa the envelope is not de-meaned: A keeps a baseline that falls with the lag
 *      (the taper's own overlap), a mild preference for the faster of two equal periodicities.
 *   4. Tempo (dumu_tempo_candidates): every local maximum of A with a lag inside
 *      [min_bpm, max_bpm] is a candidate, its lag refined by a parabola through the three
 *      samples around it, and scored
 *          score(L) = prior(L) * (A(L) + A(2L)/2 + A(3L)/3 + A(4L)/4)
 *      with prior(L) = exp(-0.5 log2(bpm(L) / prior_bpm)^2), the log-normal prior with a
 *      one-octave standard deviation. The comb (harmonic) sum is the octave guard: a beat
 *      period is backed by its multiples (2 beats, the bar), which a period twice as fast
 *      (L/2: half of its multiples fall between beats) or one and a half times as slow
 *      (odd multiples off the grid) lacks; the prior settles the levels the comb cannot
 *      tell apart, toward the usual notated range around 120: a steady pulse whose
 *      eighths are as strong as its quarters is reported between ~85 and ~170 bpm (a rock
 *      beat notated at 75 comes out at 150, one at 190 at 95).
 *      3:2 guard (dumu_tempo_estimate): syncopated patterns (3+3+2 eighths, 6/8) can give the
 *      dotted-quarter lag an ACF as strong as the quarter's. When a candidate at 3/2 or 2/3
 *      of the winner's lag scores at least 80 % of it, both are beat-tracked and the one
 *      whose half-beats carry more onset strength wins: a MIDI quarter note is two
 *      eighths, so the envelope between two true beats peaks at the midpoint, while
 *      dotted-quarter beats have nothing there (the eighths fall at 1/3 and 2/3).
 *      The winner's lag is then refined from the ACF peaks near its multiples 2L, 3L, 4L
 *      (each pins the period down k times more precisely: ~0.1 % instead of ~0.5 %).
 *      When the range holds no peak at all (a range that excludes the music's own pulse,
 *      e.g. min_bpm 100 on a 72 bpm click track), the peaks outside it are folded in by
 *      octaves and scored the same way.
 *      Confidence (dumu_tempo_confidence): the same windowed autocorrelation, but of the
 *      de-meaned envelope, at the winning lag (for a folded candidate, at the lag of the peak
 *      it came from), clipped to [0, 1]: the mean correlation coefficient between the
 *      envelope and itself one beat later, i.e. how far the peak rises above the mean level.
 *      A strict click track gives ~0.9, white noise ~0 and music 0.2 to 0.8.
 *   5. Beats (Ellis 2007): local score = envelope / its standard deviation, smoothed by a
 *      Gaussian of std period/32; cumulative score C(t) = local(t) + max(0, max over
 *      t - 2P <= s <= t - P/2 of C(s) - tightness log((t - s)/P)^2), remembering the argmax;
 *      nothing chains before the first real onset (1 % of the largest local score). The
 *      last beat is the last local maximum of C above half the median of C's local maxima;
 *      backtrack; then trim leading and trailing beats whose local score (smoothed over 5
 *      beats by a Hann window) is under half the RMS of those scores. Beat times are frame
 *      times: a sharp click lands within a frame (23 ms) after it, a rendered note with a
 *      softer attack peaks one or two frames late, so beats trail the score by ~20-50 ms.
 *   6. The tempo map (dumu_beats_model). Beats move back by DUMU_TEMPO_ONSET_DELAY_S (the
 *      median lag measured above). Tracked beats are frame-quantised (23.2 ms) and jitter, so
 *      a tempo per beat interval would saw-tooth (112.3 / 117.5 BPM on a steady 115). The map
 *      models them instead: beat time as a function of beat index is either a straight line
 *      (one tempo, fitted over all beats: sub-frame precision) or the smoothest curve that
 *      the beats support, a Whittaker smoother (squared second differences of the beat times,
 *      i.e. tempo changes, penalised by lambda). Bayes' information criterion with the known
 *      timing noise (DUMU_BEATMAP_NOISE_S) picks the line or lambda, so a steady song gets
 *      exactly one tempo and a drifting one follows its drift without a tuned smoothing
 *      knob. The curve is then written as the fewest steady runs that keep every beat within
 *      DUMU_BEATMAP_TOL_S of it: a tempo event only where holding the tempo would be heard.
 *      The reported bpm is the mean tempo of the map (first to last beat).
 *
 * Silence (no window with any envelope energy), or input too short for any peak to fit the
 * range, gives bpm 0, confidence 0 and no beats; it is not an error.
 * White noise gives some tempo with a low confidence (~0.1).
 *
 * REFERENCES
 *   D. P. W. Ellis, "Beat Tracking by Dynamic Programming", J. New Music Research 36(1), 2007.
 *   librosa 0.10 onset.onset_strength, feature.tempo, beat.beat_track (behaviour read for
 *   the conventions; no code taken). */
#include "tempo.h"

#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "dsp/stft.h"

#ifndef M_PI
#    define M_PI 3.14159265358979323846
#endif

#define TEMPO_AMIN       1e-10 /* power floor before log10, as librosa's power_to_db */
#define TEMPO_SILENT_RMS 1e-3  /* envelope windows under this RMS (dB) hold no onsets */
#define TEMPO_TIE_RATIO  0.8   /* 3:2 guard: runner-up score / winner score to re-check */

/* ---------------------------------------------------------------------------------------- */
/* Onset strength envelope */

dumu_status dumu_onset_envelope(const float *x, int64_t n_samples, float **env, int64_t *n_env,
                                dumu_error *err) {
    if (env) *env = NULL;
    if (n_env) *n_env = 0;
    if (!env || !n_env || n_samples < 0 || (!x && n_samples > 0)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "onset envelope: bad arguments");
    }
    const int n_mels = DUMU_TEMPO_N_MELS;
    const int64_t nf = dumu_stft_n_frames(n_samples, DUMU_TEMPO_HOP);
    size_t n_cells, bytes;
    if (dumu_mul_size((size_t)nf, (size_t)n_mels, &n_cells) ||
        dumu_mul_size(n_cells, sizeof(float), &bytes)) {
        return dumu_fail(err, DUMU_E_TOO_LONG, "onset envelope: %lld frames", (long long)nf);
    }
    dumu_status rc;
    dumu_stft st = {0};
    dumu_melbank mb = {0};
    float *mel = dumu_malloc(bytes); /* (nf, n_mels): mel power, then dB */
    float *out = dumu_calloc((size_t)nf, sizeof(float));
    float *power = NULL;
    if (!mel || !out) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "onset envelope: out of memory");
        goto done;
    }
    if ((rc = dumu_stft_init(&st, DUMU_TEMPO_N_FFT, DUMU_TEMPO_HOP, err))) goto done;
    if ((rc = dumu_melbank_init(&mb, DUMU_TEMPO_SR, DUMU_TEMPO_N_FFT, n_mels, 0.0,
                                DUMU_TEMPO_SR / 2.0, err))) {
        goto done;
    }
    power = dumu_malloc(sizeof(float) * (size_t)st.n_bins);
    if (!power) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "onset envelope: out of memory");
        goto done;
    }
    /* Mel power in dB, and its maximum. */
    double db_max = 10.0 * log10(TEMPO_AMIN);
    for (int64_t t = 0; t < nf; t++) {
        float *row = mel + (size_t)t * (size_t)n_mels;
        dumu_stft_frame_power(&st, x, n_samples, t, power);
        dumu_melbank_apply(&mb, power, 1, row);
        for (int m = 0; m < n_mels; m++) {
            double p = (double)row[m];
            double db = 10.0 * log10(p > TEMPO_AMIN ? p : TEMPO_AMIN);
            row[m] = (float)db;
            if (db > db_max) db_max = db;
        }
    }
    const float floor_db = (float)(db_max - DUMU_TEMPO_TOP_DB);
    for (size_t i = 0; i < n_cells; i++) {
        if (mel[i] < floor_db) mel[i] = floor_db;
    }
    /* Positive flux, mean over bands, shifted by 3 frames (see the file comment):
     * out[t] = mean_m max(0, dB[t-2][m] - dB[t-3][m]). */
    const int shift = 1 + DUMU_TEMPO_N_FFT / (2 * DUMU_TEMPO_HOP);
    for (int64_t t = shift; t < nf; t++) {
        const float *cur = mel + (size_t)(t - shift + 1) * (size_t)n_mels;
        const float *prev = cur - n_mels;
        double acc = 0.0;
        for (int m = 0; m < n_mels; m++) {
            float d = cur[m] - prev[m];
            if (d > 0.0f) acc += (double)d;
        }
        out[t] = (float)(acc / n_mels);
    }
    *env = out;
    *n_env = nf;
    out = NULL;
    rc = DUMU_OK;
done:
    dumu_free(power);
    dumu_melbank_deinit(&mb);
    dumu_stft_deinit(&st);
    dumu_free(out);
    dumu_free(mel);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Windowed autocorrelation */

/* Window starts: 0, hop, 2 hop, ... while the window fits, plus one ending at n_env. */
static int64_t acf_n_windows(int64_t n_env, int64_t w, int hop) {
    int64_t n = (n_env - w) / hop + 1;
    if ((n - 1) * hop + w < n_env) n++;
    return n;
}

static int64_t acf_window_start(int64_t n_env, int64_t w, int hop, int64_t i) {
    int64_t s = i * hop;
    return s + w > n_env ? n_env - w : s;
}

/* Taper without zero end points (so a 1-frame window still counts): sin^2(pi (j+0.5) / w). */
static void acf_taper(float *taper, int64_t w) {
    for (int64_t j = 0; j < w; j++) {
        double s = sin(M_PI * ((double)j + 0.5) / (double)w);
        taper[j] = (float)(s * s);
    }
}

/* Loads window i into y (w values): the taper times the envelope, less its tapered mean if
 * demean. Returns the energy sum y^2, or 0 when the window is silent (RMS under
 * TEMPO_SILENT_RMS) or, de-meaned, constant. */
static double acf_load(const float *env, int64_t n_env, int64_t w, int hop, int64_t i,
                       const float *taper, int demean, float *y) {
    const float *e = env + acf_window_start(n_env, w, hop, i);
    double raw = 0.0, tt = 0.0, st = 0.0, ste = 0.0;
    for (int64_t j = 0; j < w; j++) {
        const double v = (double)e[j] * (double)taper[j];
        raw += v * v;
        tt += (double)taper[j] * (double)taper[j];
        st += (double)taper[j];
        ste += v;
    }
    if (!(raw > TEMPO_SILENT_RMS * TEMPO_SILENT_RMS * tt)) return 0.0;
    const double mu = demean ? ste / st : 0.0;
    double energy = 0.0;
    for (int64_t j = 0; j < w; j++) {
        y[j] = (float)(((double)e[j] - mu) * (double)taper[j]);
        energy += (double)y[j] * (double)y[j];
    }
    return energy > 1e-9 * raw ? energy : 0.0; /* a constant window has nothing to correlate */
}

static int acf_args_ok(const float *env, int64_t n_env, int win, int hop, const float *acf) {
    return (env || n_env == 0) && n_env >= 0 && win >= 1 && win <= (1 << 20) && hop >= 1 && acf;
}

void dumu_tempo_acf_ref(const float *env, int64_t n_env, int win, int hop, int demean, float *acf,
                        int64_t *n_used) {
    DUMU_ASSERT(acf_args_ok(env, n_env, win, hop, acf));
    memset(acf, 0, sizeof(float) * (size_t)win);
    if (n_used) *n_used = 0;
    const int64_t w = n_env < win ? n_env : win;
    if (w < 1) return;
    float *taper = dumu_malloc(sizeof(float) * (size_t)w);
    float *y = dumu_malloc(sizeof(float) * (size_t)w);
    double *sum = dumu_calloc((size_t)w, sizeof(double));
    DUMU_ASSERT(taper && y && sum); /* a test-only reference: no error path */
    acf_taper(taper, w);
    const int64_t nw = acf_n_windows(n_env, w, hop);
    int64_t used = 0;
    for (int64_t i = 0; i < nw; i++) {
        const double r0 = acf_load(env, n_env, w, hop, i, taper, demean, y);
        if (!(r0 > 0.0)) continue;
        for (int64_t lag = 0; lag < w; lag++) {
            double r = 0.0;
            for (int64_t j = 0; j + lag < w; j++)
                r += (double)y[j] * (double)y[j + lag];
            sum[lag] += r / r0;
        }
        used++;
    }
    for (int64_t lag = 0; lag < w && used > 0; lag++)
        acf[lag] = (float)(sum[lag] / used);
    if (n_used) *n_used = used;
    dumu_free(sum);
    dumu_free(y);
    dumu_free(taper);
}

dumu_status dumu_tempo_acf(const float *env, int64_t n_env, int win, int hop, int demean,
                           float *acf, int64_t *n_used, dumu_error *err) {
    if (n_used) *n_used = 0;
    if (!acf_args_ok(env, n_env, win, hop, acf)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "tempo acf: bad arguments");
    }
    memset(acf, 0, sizeof(float) * (size_t)win);
    const int64_t w = n_env < win ? n_env : win;
    if (w < 1) return DUMU_OK;
    int nfft = 2;
    while (nfft < 2 * w)
        nfft *= 2; /* >= 2w: circular correlation = linear correlation */
    const int n_bins = nfft / 2 + 1;
    dumu_status rc = DUMU_OK;
    fftwf_plan fwd = NULL, inv = NULL;
    float *taper = dumu_malloc(sizeof(float) * (size_t)w);
    float *buf = dumu_calloc((size_t)nfft, sizeof(float));
    fftwf_complex *spec = dumu_malloc(sizeof(fftwf_complex) * (size_t)n_bins);
    double *sum = dumu_calloc((size_t)w, sizeof(double));
    if (!taper || !buf || !spec || !sum) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "tempo acf: out of memory");
        goto done;
    }
    dumu_fft_plan_lock();
    fwd = fftwf_plan_dft_r2c_1d(nfft, buf, spec, FFTW_ESTIMATE);
    inv = fftwf_plan_dft_c2r_1d(nfft, spec, buf, FFTW_ESTIMATE);
    dumu_fft_plan_unlock();
    if (!fwd || !inv) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "tempo acf: FFTW could not plan %d points", nfft);
        goto done;
    }
    acf_taper(taper, w);
    const int64_t nw = acf_n_windows(n_env, w, hop);
    int64_t used = 0;
    for (int64_t i = 0; i < nw; i++) {
        memset(buf, 0, sizeof(float) * (size_t)nfft);
        if (!(acf_load(env, n_env, w, hop, i, taper, demean, buf) > 0.0)) continue;
        fftwf_execute(fwd);
        for (int k = 0; k < n_bins; k++) {
            spec[k][0] = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
            spec[k][1] = 0.0f;
        }
        fftwf_execute(inv); /* buf = nfft * autocorrelation */
        const double r0 = (double)buf[0];
        if (!(r0 > 0.0)) continue;
        for (int64_t lag = 0; lag < w; lag++)
            sum[lag] += (double)buf[lag] / r0;
        used++;
    }
    for (int64_t lag = 0; lag < w && used > 0; lag++)
        acf[lag] = (float)(sum[lag] / used);
    if (n_used) *n_used = used;
done:
    if (fwd || inv) {
        dumu_fft_plan_lock();
        if (fwd) fftwf_destroy_plan(fwd);
        if (inv) fftwf_destroy_plan(inv);
        dumu_fft_plan_unlock();
    }
    dumu_free(sum);
    dumu_free(spec);
    dumu_free(buf);
    dumu_free(taper);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Tempo candidates from the autocorrelation */

/* Largest A within one frame of a fractional lag (linear interpolation); 0 outside the
 * array. Multiples k*L of a refined lag drift by up to k/2 frames from the true peak, so
 * the comb looks for the peak near each multiple rather than at it. */
static double acf_near(const float *acf, int n, double lag) {
    double best = -HUGE_VAL;
    for (int d = -2; d <= 2; d++) {
        double l = lag + 0.5 * d;
        if (l < 0.0 || l > (double)(n - 1)) continue;
        int i = (int)l;
        double f = l - i;
        double v = i + 1 < n ? (1.0 - f) * (double)acf[i] + f * (double)acf[i + 1] : (double)acf[i];
        if (v > best) best = v;
    }
    return best == -HUGE_VAL ? 0.0 : best;
}

double dumu_tempo_prior(double bpm, double prior_bpm) {
    double o = log2(bpm / prior_bpm);
    return exp(-0.5 * o * o);
}

double dumu_tempo_comb(const float *acf, int n_lags, double lag) {
    double s = 0.0;
    for (int k = 1; k <= 4; k++) {
        if (k * lag > (double)(n_lags - 1)) break;
        s += acf_near(acf, n_lags, k * lag) / k;
    }
    return s;
}

/* Parabolic refinement of the local maximum of acf at integer lag l (0 < l < n - 1): writes
 * the vertex lag and height. */
static void refine_peak(const float *acf, int l, double *lag, double *peak) {
    const double a = (double)acf[l], am = (double)acf[l - 1], ap = (double)acf[l + 1];
    const double den = am - 2.0 * a + ap;
    double off = den < 0.0 ? 0.5 * (am - ap) / den : 0.0;
    off = off > 0.5 ? 0.5 : (off < -0.5 ? -0.5 : off);
    *lag = l + off;
    *peak = a - 0.25 * (am - ap) * off;
}

/* A local maximum of acf at l that is not FFT round-off around zero. */
static int is_peak(const float *acf, int l) {
    const float a = acf[l], am = acf[l - 1], ap = acf[l + 1];
    return a > 1e-3f && a >= am && a >= ap && (a > am || a > ap);
}

/* Inserts c into out (n entries, best score first, at most max_out); returns the new n. */
static int insert_candidate(dumu_tempo_candidate *out, int n, int max_out,
                            const dumu_tempo_candidate *c) {
    int pos = n < max_out ? n : max_out;
    while (pos > 0 && out[pos - 1].score < c->score) {
        if (pos < max_out) out[pos] = out[pos - 1];
        pos--;
    }
    if (pos >= max_out) return n;
    out[pos] = *c;
    return n < max_out ? n + 1 : n;
}

int dumu_tempo_candidates(const float *acf, int n_lags, double fps, const dumu_tempo_params *params,
                          dumu_tempo_candidate *out, int max_out, double *mean_acf) {
    DUMU_ASSERT(acf && params && out && max_out >= 1 && fps > 0.0);
    DUMU_ASSERT(params->min_bpm > 0.0 && params->max_bpm > params->min_bpm &&
                isfinite(params->max_bpm) && params->prior_bpm > 0.0);
    if (mean_acf) *mean_acf = 0.0;
    const double lag_lo = 60.0 * fps / params->max_bpm, lag_hi = 60.0 * fps / params->min_bpm;
    /* Integer lags of the range, clamped in double before any conversion. */
    const double dlo = fmax(ceil(lag_lo), 1.0), dhi = fmin(floor(lag_hi), (double)n_lags - 2.0);
    if (dlo > dhi) return 0; /* a peak needs a right neighbour */
    const int lo = (int)dlo, hi = (int)dhi;
    int n = 0;
    double mean = 0.0;
    for (int l = lo; l <= hi; l++)
        mean += (double)acf[l];
    if (mean_acf) *mean_acf = mean / (hi - lo + 1);
    /* Pass 0: the peaks inside the range. Pass 1, only when there is none (a range that
     * excludes the music's own pulse, e.g. min_bpm 100 for a 72 bpm click track): the peaks
     * outside it, folded in by octaves (lag halved or doubled until it fits). */
    for (int pass = 0; pass < 2 && n == 0; pass++) {
        for (int l = pass ? 1 : lo; l <= (pass ? n_lags - 2 : hi); l++) {
            if (!is_peak(acf, l)) continue;
            dumu_tempo_candidate c;
            refine_peak(acf, l, &c.lag, &c.peak);
            c.src_lag = c.lag;
            const int inside = c.lag >= lag_lo && c.lag <= lag_hi;
            if (pass == 0 && !inside) continue;
            if (pass == 1) {
                if (inside) continue;
                while (c.lag > lag_hi)
                    c.lag *= 0.5;
                while (c.lag < lag_lo)
                    c.lag *= 2.0;
                if (c.lag > lag_hi || c.lag > (double)(n_lags - 2)) continue; /* no octave fits */
                c.peak = acf_near(acf, n_lags, c.lag); /* src_lag keeps the peak's own lag */
            }
            c.bpm = 60.0 * fps / c.lag;
            c.score =
                dumu_tempo_comb(acf, n_lags, c.lag) * dumu_tempo_prior(c.bpm, params->prior_bpm);
            n = insert_candidate(out, n, max_out, &c);
        }
    }
    return n;
}

double dumu_tempo_confidence(const float *acf_dm, int n_lags, double lag) {
    if (!(lag >= 0.0) || lag > (double)(n_lags - 1)) return 0.0;
    const double c = acf_near(acf_dm, n_lags, lag);
    return c < 0.0 ? 0.0 : (c > 1.0 ? 1.0 : c);
}

/* A finer lag for a winning period L: the peaks of acf near 2L, 3L, 4L pin the period down
 * 2, 3, 4 times more precisely than the one at L (a frame of lag error divided by k), so
 * the estimate is the mean of the refined peak lags l_k / k, weighted by k. Multiples whose
 * peak is missing, or that disagree with L by more than a quarter frame, are left out. */
static double refine_lag(const float *acf, int n_lags, double lag) {
    double sum = 0.0, wsum = 0.0;
    for (int k = 1; k <= 4; k++) {
        const double target = k * lag;
        int best = (int)floor(target + 0.5);
        if (best < 1 || best > n_lags - 2) break;
        for (int l = best - 1; l <= best + 1; l++) {
            if (l >= 1 && l <= n_lags - 2 && acf[l] > acf[best]) best = l;
        }
        if (best < 1 || best > n_lags - 2 || !is_peak(acf, best)) continue;
        double lk, peak;
        refine_peak(acf, best, &lk, &peak);
        if (fabs(lk / k - lag) > 0.25) continue;
        sum += lk; /* (lk / k) * k */
        wsum += k;
    }
    return wsum > 0.0 ? sum / wsum : lag;
}

/* Mean envelope at the midpoints between consecutive beats (the larger of the two frames
 * around each midpoint), over the envelope mean: the strength of a duple subdivision. */
static double half_beat_strength(const float *env, int64_t n_env, const int64_t *beats,
                                 int64_t n_beats) {
    if (n_beats < 2) return 0.0;
    double mean = 0.0;
    for (int64_t i = 0; i < n_env; i++)
        mean += (double)env[i];
    mean /= (double)n_env;
    if (!(mean > 0.0)) return 0.0;
    double s = 0.0;
    for (int64_t b = 0; b + 1 < n_beats; b++) {
        int64_t m0 = (beats[b] + beats[b + 1]) / 2, m1 = (beats[b] + beats[b + 1] + 1) / 2;
        s += (double)(env[m0] > env[m1] ? env[m0] : env[m1]);
    }
    return s / (double)(n_beats - 1) / mean;
}

/* The 3:2 guard (file comment): returns the candidate index to use, 0 or `alt`. */
static dumu_status guard_three_two(const float *env, int64_t n_env, const dumu_tempo_candidate *c,
                                   int n, int *choice, dumu_error *err) {
    *choice = 0;
    int alt = -1;
    for (int i = 1; i < n && alt < 0; i++) {
        const double r = c[i].lag / c[0].lag;
        if (c[i].score < TEMPO_TIE_RATIO * c[0].score) break; /* sorted: no more ties */
        if (fabs(r / 1.5 - 1.0) < 0.04 || fabs(r * 1.5 - 1.0) < 0.04) alt = i;
    }
    if (alt < 0) return DUMU_OK;
    int64_t *b0 = NULL, *b1 = NULL, n0 = 0, n1 = 0;
    dumu_status rc = dumu_beat_track(env, n_env, c[0].lag, DUMU_TEMPO_TIGHTNESS, &b0, &n0, err);
    if (!rc) rc = dumu_beat_track(env, n_env, c[alt].lag, DUMU_TEMPO_TIGHTNESS, &b1, &n1, err);
    if (!rc && half_beat_strength(env, n_env, b1, n1) > half_beat_strength(env, n_env, b0, n0)) {
        *choice = alt;
    }
    dumu_free(b1);
    dumu_free(b0);
    return rc;
}

dumu_status dumu_tempo_estimate(const float *env, int64_t n_env, const dumu_tempo_params *params,
                                double *bpm, double *confidence, dumu_error *err) {
    if (bpm) *bpm = 0.0;
    if (confidence) *confidence = 0.0;
    if ((!env && n_env > 0) || n_env < 0 || !params || !bpm || !confidence) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "tempo estimate: bad arguments");
    }
    float *acf = dumu_malloc(sizeof(float) * 2 * DUMU_TEMPO_ACF_WIN);
    dumu_tempo_candidate *cand =
        dumu_malloc(sizeof(dumu_tempo_candidate) * DUMU_TEMPO_MAX_CANDIDATES);
    if (!acf || !cand) {
        dumu_free(cand);
        dumu_free(acf);
        return dumu_fail(err, DUMU_E_NOMEM, "tempo estimate: out of memory");
    }
    float *acf_dm = acf + DUMU_TEMPO_ACF_WIN; /* (win) the de-meaned ACF, for the confidence */
    int64_t used = 0;
    dumu_status rc =
        dumu_tempo_acf(env, n_env, DUMU_TEMPO_ACF_WIN, DUMU_TEMPO_ACF_HOP, 0, acf, &used, err);
    if (rc || used == 0) goto done; /* error, or silence */
    const int n = dumu_tempo_candidates(acf, DUMU_TEMPO_ACF_WIN, DUMU_TEMPO_FPS, params, cand,
                                        DUMU_TEMPO_MAX_CANDIDATES, NULL);
    if (n == 0) goto done;
    int choice = 0;
    if ((rc = guard_three_two(env, n_env, cand, n, &choice, err))) goto done;
    if ((rc = dumu_tempo_acf(env, n_env, DUMU_TEMPO_ACF_WIN, DUMU_TEMPO_ACF_HOP, 1, acf_dm, NULL,
                             err))) {
        goto done;
    }
    *bpm = 60.0 * DUMU_TEMPO_FPS / refine_lag(acf, DUMU_TEMPO_ACF_WIN, cand[choice].lag);
    *confidence = dumu_tempo_confidence(acf_dm, DUMU_TEMPO_ACF_WIN, cand[choice].src_lag);
done:
    dumu_free(cand);
    dumu_free(acf);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Dynamic-programming beat tracker */

dumu_status dumu_beat_track(const float *env, int64_t n_env, double period, double tightness,
                            int64_t **beats, int64_t *n_beats, dumu_error *err) {
    if (beats) *beats = NULL;
    if (n_beats) *n_beats = 0;
    if ((!env && n_env > 0) || n_env < 0 || !(period >= 1.0) || period > 1e6 ||
        !(tightness >= 0.0) || !beats || !n_beats) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "beat tracker: bad arguments");
    }
    if (n_env < 2) return DUMU_OK;
    const size_t n = (size_t)n_env;
    const int half = (int)ceil(period); /* Gaussian half-width: 32 standard deviations */
    const double sigma = period / 32.0;
    dumu_status rc = DUMU_OK;
    double *local = dumu_malloc(sizeof(double) * n);
    double *cum = dumu_malloc(sizeof(double) * n);
    double *work = dumu_malloc(sizeof(double) * n);
    int64_t *back = dumu_malloc(sizeof(int64_t) * n);
    double *kern = dumu_malloc(sizeof(double) * (size_t)(2 * half + 1));
    int64_t *out = NULL;
    if (!local || !cum || !work || !back || !kern) goto nomem;

    /* Local score: env / std(env) (sample std), smoothed by the Gaussian. */
    double mean = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += (double)env[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += ((double)env[i] - mean) * ((double)env[i] - mean);
    const double sd = sqrt(var / (double)(n - 1));
    if (!(sd > 0.0)) goto done; /* a flat envelope has no beats */
    for (int j = -half; j <= half; j++)
        kern[j + half] = exp(-0.5 * (j / sigma) * (j / sigma));
    double local_max = 0.0;
    for (int64_t i = 0; i < n_env; i++) {
        double acc = 0.0;
        int64_t j0 = i - half < 0 ? -i : -half, j1 = i + half >= n_env ? n_env - 1 - i : half;
        for (int64_t j = j0; j <= j1; j++)
            acc += kern[j + half] * (double)env[i + j];
        local[i] = acc / sd;
        if (local[i] > local_max) local_max = local[i];
    }

    /* Cumulative score; the previous beat lies P/2 .. 2P frames back. */
    int64_t lo = (int64_t)llround(period / 2.0), hi = (int64_t)llround(2.0 * period);
    if (lo < 1) lo = 1;
    int started = 0;
    for (int64_t i = 0; i < n_env; i++) {
        double best = 0.0;
        int64_t arg = -1;
        if (!started && local[i] >= 0.01 * local_max) started = 1;
        for (int64_t s = i - hi < 0 ? 0 : i - hi; started && s <= i - lo; s++) {
            const double r = log((double)(i - s) / period);
            const double v = cum[s] - tightness * r * r;
            if (v > best) {
                best = v;
                arg = s;
            }
        }
        cum[i] = local[i] + best;
        back[i] = arg;
    }

    /* Last beat: the last local maximum of cum above half the median of all its maxima. */
    int64_t n_max = 0;
    for (int64_t i = 0; i < n_env; i++) {
        double l = i > 0 ? cum[i - 1] : -HUGE_VAL, r = i + 1 < n_env ? cum[i + 1] : -HUGE_VAL;
        if (cum[i] > l && cum[i] >= r) work[n_max++] = cum[i];
    }
    if (n_max == 0) goto done;
    for (int64_t a = 1; a < n_max; a++) { /* insertion sort: once per call */
        double v = work[a];
        int64_t b = a - 1;
        while (b >= 0 && work[b] > v) {
            work[b + 1] = work[b];
            b--;
        }
        work[b + 1] = v;
    }
    const double med = n_max % 2 ? work[n_max / 2] : 0.5 * (work[n_max / 2 - 1] + work[n_max / 2]);
    int64_t last = -1;
    for (int64_t i = n_env - 1; i >= 0 && last < 0; i--) {
        double l = i > 0 ? cum[i - 1] : -HUGE_VAL, r = i + 1 < n_env ? cum[i + 1] : -HUGE_VAL;
        if (cum[i] > l && cum[i] >= r && cum[i] > 0.5 * med) last = i;
    }
    if (last < 0) goto done;

    /* Backtrack. */
    int64_t count = 0;
    for (int64_t i = last; i >= 0; i = back[i])
        count++;
    out = dumu_malloc(sizeof(int64_t) * (size_t)count);
    if (!out) goto nomem;
    int64_t k = count;
    for (int64_t i = last; i >= 0; i = back[i])
        out[--k] = i;

    /* Trim weak leading and trailing beats: the local score at the beats smoothed by a
     * 5-point Hann window (zero padded), threshold half the RMS of the smoothed values. */
    static const double hann5[5] = {0.25, 0.75, 1.0, 0.75, 0.25};
    double ms = 0.0;
    for (int64_t b = 0; b < count; b++) {
        double acc = 0.0;
        for (int j = -2; j <= 2; j++) {
            if (b + j >= 0 && b + j < count) acc += hann5[j + 2] * local[out[b + j]];
        }
        work[b] = acc;
        ms += acc * acc;
    }
    const double thr = 0.5 * sqrt(ms / (double)count);
    int64_t first = 0, end = count;
    while (first < end && work[first] <= thr)
        first++;
    while (end > first && work[end - 1] <= thr)
        end--;
    count = end - first;
    if (count > 0) {
        memmove(out, out + first, sizeof(int64_t) * (size_t)count);
        *beats = out;
        *n_beats = count;
        out = NULL;
    }
    goto done;
nomem:
    rc = dumu_fail(err, DUMU_E_NOMEM, "beat tracker: out of memory");
done:
    dumu_free(out);
    dumu_free(kern);
    dumu_free(back);
    dumu_free(work);
    dumu_free(cum);
    dumu_free(local);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Tempo map of the tracked beats */

void dumu_whittaker(const double *y, const double *w, int64_t n, double lambda, double *f,
                    double *work) {
    DUMU_ASSERT(y && w && f && work && n >= 1 && lambda >= 0.0);
    /* A = W + lambda D'D is symmetric with bandwidth 2: diagonals a0 (main), a1, a2. Each row
     * k of D is [1 -2 1] at columns k..k+2 and adds lambda v v' to that 3x3 block. */
    double *d = work, *l1 = work + n, *l2 = work + 2 * n, *a1 = work + 3 * n, *a2 = work + 4 * n;
    for (int64_t i = 0; i < n; i++) {
        d[i] = w[i];
        a1[i] = a2[i] = 0.0;
    }
    static const double v[3] = {1.0, -2.0, 1.0};
    for (int64_t k = 0; k + 2 < n; k++) {
        for (int r = 0; r < 3; r++) {
            d[k + r] += lambda * v[r] * v[r];
            if (r < 2) a1[k + r] += lambda * v[r] * v[r + 1];
        }
        a2[k] += lambda * v[0] * v[2];
    }
    /* LDL' in place: L unit lower triangular with sub-diagonals l1, l2; d becomes D. */
    for (int64_t i = 0; i < n; i++) {
        const double L2 = i >= 2 ? a2[i - 2] / d[i - 2] : 0.0;
        const double L1 =
            i >= 1 ? (a1[i - 1] - (i >= 2 ? L2 * d[i - 2] * l1[i - 1] : 0.0)) / d[i - 1] : 0.0;
        d[i] -= (i >= 1 ? L1 * L1 * d[i - 1] : 0.0) + (i >= 2 ? L2 * L2 * d[i - 2] : 0.0);
        l1[i] = L1;
        l2[i] = L2;
    }
    for (int64_t i = 0; i < n; i++) /* forward: L z = W y (z in f) */
        f[i] = w[i] * y[i] - (i >= 1 ? l1[i] * f[i - 1] : 0.0) - (i >= 2 ? l2[i] * f[i - 2] : 0.0);
    for (int64_t i = n - 1; i >= 0; i--) /* back: L' f = D^-1 z */
        f[i] = f[i] / d[i] - (i + 1 < n ? l1[i + 1] * f[i + 1] : 0.0) -
               (i + 2 < n ? l2[i + 2] * f[i + 2] : 0.0);
}

/* Effective degrees of freedom of the smoother, trace((I + lambda D'D)^-1), from the
 * eigenvalues mu_k^2 of D'D, mu_k = 2 - 2 cos(pi k / n) (exact for the periodic operator,
 * within a fraction of a degree of freedom for ours). mu2 holds the n values mu_k^2. */
static double whittaker_df(const double *mu2, int64_t n, double lambda) {
    double s = 0.0;
    for (int64_t k = 0; k < n; k++)
        s += 1.0 / (1.0 + lambda * mu2[k]);
    return s;
}

/* Writes into out the fewest runs of equal beat intervals (one tempo each, joined at beats)
 * that keep every beat within tol of f: from each run's first beat, the run grows while the
 * straight line to its end stays within tol of every beat between. Returns the number of
 * runs. O(n L) for runs of L beats. */
static int64_t steady_runs(const double *f, int64_t n, double tol, double *out) {
    int64_t runs = 0, s = 0;
    out[0] = f[0];
    while (s < n - 1) {
        int64_t e = s + 1;
        for (int64_t e2 = s + 2; e2 < n; e2++) {
            int ok = 1;
            for (int64_t k = s + 1; k < e2 && ok; k++) {
                const double line = f[s] + (f[e2] - f[s]) * (double)(k - s) / (double)(e2 - s);
                ok = fabs(line - f[k]) <= tol;
            }
            if (!ok) break;
            e = e2;
        }
        for (int64_t k = s + 1; k <= e; k++)
            out[k] = f[s] + (f[e] - f[s]) * (double)(k - s) / (double)(e - s);
        runs++;
        s = e;
    }
    return runs;
}

/* One model choice (see dumu_beats_model) with weights w: fills f (n) with the chosen fit and
 * returns its lambda, INFINITY for the straight line. y, w: n values; mu2 as whittaker_df;
 * work: 5 n doubles. */
static double beats_fit(const double *y, const double *w, const double *mu2, int64_t n, double *f,
                        double *work) {
    const double inv_var = 1.0 / (DUMU_BEATMAP_NOISE_S * DUMU_BEATMAP_NOISE_S);
    double sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double x = (double)i;
        sw += w[i];
        sx += w[i] * x;
        sy += w[i] * y[i];
        sxx += w[i] * x * x;
        sxy += w[i] * x * y[i];
    }
    const double ln_n = log(sw > 2.0 ? sw : 2.0);
    const double period = (sw * sxy - sx * sy) / (sw * sxx - sx * sx);
    const double t0 = (sy - period * sx) / sw;
    double rss = 0.0;
    for (int64_t i = 0; i < n; i++)
        rss += w[i] * (y[i] - t0 - period * (double)i) * (y[i] - t0 - period * (double)i);
    double best = rss * inv_var + 2.0 * ln_n, best_lambda = INFINITY;
    for (double lambda = 0.1; lambda < 1e7; lambda *= 2.0) {
        dumu_whittaker(y, w, n, lambda, f, work);
        double r = 0.0;
        for (int64_t i = 0; i < n; i++)
            r += w[i] * (y[i] - f[i]) * (y[i] - f[i]);
        const double cost = r * inv_var + whittaker_df(mu2, n, lambda) * ln_n;
        if (cost < best) {
            best = cost;
            best_lambda = lambda;
        }
    }
    if (isinf(best_lambda)) {
        for (int64_t i = 0; i < n; i++)
            f[i] = t0 + period * (double)i;
    } else {
        dumu_whittaker(y, w, n, best_lambda, f, work);
    }
    return best_lambda;
}

dumu_status dumu_beats_model(const double *raw, int64_t n, double *out, int64_t *n_segments,
                             dumu_error *err) {
    if (n_segments) *n_segments = 0;
    if (!raw || !out || n < 1 || n > (INT64_C(1) << 24)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "beat map: bad arguments (%lld beats)",
                         (long long)n);
    }
    if (n < 3) { /* a line through one or two points: nothing to smooth */
        if (out != raw) memmove(out, raw, sizeof(double) * (size_t)n);
        if (n_segments) *n_segments = n - 1;
        return DUMU_OK;
    }
    double *buf = dumu_malloc(sizeof(double) * (size_t)n * 9);
    if (!buf) return dumu_fail(err, DUMU_E_NOMEM, "beat map: out of memory");
    double *y = buf, *w = buf + n, *f = buf + 2 * n, *mu2 = buf + 3 * n, *work = buf + 4 * n;
    memcpy(y, raw, sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        const double mu = 2.0 - 2.0 * cos(M_PI * (double)i / (double)n);
        mu2[i] = mu * mu;
        w[i] = 1.0;
    }
    /* Model choice by BIC with the known noise, then the same choice again with beats that
     * strayed from the fit down-weighted by Tukey's biweight (c = 4.685 sigma, its usual 95 %
     * efficiency constant): a beat the tracker put in a fade-out or a break, or half a beat
     * off for a bar, then no longer bends the map. Three passes settle the weights. */
    double lambda = INFINITY;
    for (int pass = 0; pass < 3; pass++) {
        lambda = beats_fit(y, w, mu2, n, f, work);
        const double c = 4.685 * DUMU_BEATMAP_NOISE_S;
        for (int64_t i = 0; i < n; i++) {
            const double u = (y[i] - f[i]) / c;
            w[i] = fabs(u) < 1.0 ? (1.0 - u * u) * (1.0 - u * u) : 0.0;
            if (w[i] < 1e-6) w[i] = 1e-6; /* keeps the system positive definite */
        }
    }
    if (isinf(lambda)) {
        memcpy(out, f, sizeof(double) * (size_t)n);
        if (n_segments) *n_segments = 1;
    } else {
        const int64_t runs = steady_runs(f, n, DUMU_BEATMAP_TOL_S, out);
        if (n_segments) *n_segments = runs;
    }
    dumu_free(buf);
    return DUMU_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Public API */

dumu_tempo_status dumu_tempo_check(const dumu_tempo *t, double duration_s) {
    if (t && t->bpm > 0.0 && t->n_beats >= DUMU_TEMPO_MIN_BEATS &&
        t->confidence >= DUMU_TEMPO_MIN_CONFIDENCE)
        return DUMU_TEMPO_FOUND;
    return duration_s < DUMU_TEMPO_MIN_AUDIO_S ? DUMU_TEMPO_TOO_SHORT : DUMU_TEMPO_NO_PULSE;
}

const char *dumu_tempo_status_name(dumu_tempo_status status) {
    switch (status) {
    case DUMU_TEMPO_FOUND: return "found";
    case DUMU_TEMPO_TOO_SHORT: return "too_short";
    case DUMU_TEMPO_NO_PULSE: return "no_pulse";
    }
    return NULL;
}

dumu_tempo_params dumu_tempo_default_params(void) {
    dumu_tempo_params p;
    memset(&p, 0, sizeof(p));
    p.min_bpm = 60.0;
    p.max_bpm = 240.0;
    p.prior_bpm = 120.0;
    p.track_beats = true;
    return p;
}

void dumu_tempo_deinit(dumu_tempo *tempo) {
    if (!tempo) return;
    dumu_free(tempo->beats);
    memset(tempo, 0, sizeof(*tempo));
}

static int params_ok(const dumu_tempo_params *p) {
    return isfinite(p->min_bpm) && isfinite(p->max_bpm) && isfinite(p->prior_bpm) &&
           p->min_bpm >= 1.0 && p->max_bpm > p->min_bpm && p->max_bpm <= 1000.0 &&
           p->prior_bpm > 0.0;
}

dumu_status dumu_tempo_detect(const dumu_audio *audio, const dumu_tempo_params *params,
                              dumu_tempo *out, dumu_error *err) {
    if (out) memset(out, 0, sizeof(*out));
    if (!audio || !out) return dumu_fail(err, DUMU_E_INVALID_ARG, "tempo: NULL audio or output");
    if (audio->n_frames < 0 || (audio->n_frames > 0 && !audio->samples) || audio->n_channels < 1 ||
        audio->sample_rate < 1) {
        return dumu_fail(
            err, DUMU_E_INVALID_ARG, "tempo: malformed audio (%lld frames, %d channels, %d Hz)",
            (long long)audio->n_frames, (int)audio->n_channels, (int)audio->sample_rate);
    }
    const dumu_tempo_params p = params ? *params : dumu_tempo_default_params();
    if (!params_ok(&p)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "tempo: bad bpm range %g..%g or prior %g",
                         p.min_bpm, p.max_bpm, p.prior_bpm);
    }
    if (audio->n_frames == 0) return DUMU_OK;

    dumu_status rc;
    dumu_audio mono = {0}, rs = {0};
    const dumu_audio *a = audio;
    float *env = NULL;
    int64_t n_env = 0, *frames = NULL, n_beats = 0;
    if (a->n_channels > 1) {
        if ((rc = dumu_audio_to_mono(a, &mono, err))) goto done;
        a = &mono;
    }
    if (a->sample_rate != DUMU_TEMPO_SR) {
        if ((rc = dumu_audio_resample(a, DUMU_TEMPO_SR, &rs, err))) goto done;
        a = &rs;
    }
    if ((rc = dumu_onset_envelope(a->samples, a->n_frames, &env, &n_env, err))) goto done;
    dumu_audio_deinit(&rs);
    dumu_audio_deinit(&mono);

    double bpm = 0.0, conf = 0.0;
    if ((rc = dumu_tempo_estimate(env, n_env, &p, &bpm, &conf, err))) goto done;
    if (!(bpm > 0.0)) goto done; /* silence: bpm 0, no beats */
    out->bpm = bpm;
    out->confidence = conf;
    if (p.track_beats) {
        const double period = 60.0 * DUMU_TEMPO_FPS / bpm;
        rc = dumu_beat_track(env, n_env, period, DUMU_TEMPO_TIGHTNESS, &frames, &n_beats, err);
        if (rc) goto done;
        /* Frame times less the envelope's delay; a beat that lands before 0 is dropped. */
        int64_t first = 0;
        while (first < n_beats &&
               (double)frames[first] * DUMU_TEMPO_HOP / DUMU_TEMPO_SR < DUMU_TEMPO_ONSET_DELAY_S)
            first++;
        const int64_t nb = n_beats - first;
        if (nb > 0) {
            out->beats = dumu_malloc(sizeof(double) * (size_t)nb);
            if (!out->beats) {
                rc = dumu_fail(err, DUMU_E_NOMEM, "tempo: out of memory");
                goto done;
            }
            for (int64_t i = 0; i < nb; i++) {
                out->beats[i] = (double)frames[first + i] * DUMU_TEMPO_HOP / DUMU_TEMPO_SR -
                                DUMU_TEMPO_ONSET_DELAY_S;
            }
            out->n_beats = nb;
            if ((rc = dumu_beats_model(out->beats, nb, out->beats, NULL, err))) goto done;
            int64_t lead = 0; /* the model may put the first beat a hair before 0 */
            while (lead < nb && out->beats[lead] < 0.0)
                lead++;
            out->n_beats = nb - lead;
            memmove(out->beats, out->beats + lead, sizeof(double) * (size_t)out->n_beats);
            if (out->n_beats >= 2) {
                out->bpm = 60.0 * (double)(out->n_beats - 1) /
                           (out->beats[out->n_beats - 1] - out->beats[0]);
            }
        }
    }
    rc = DUMU_OK;
done:
    if (rc) dumu_tempo_deinit(out);
    dumu_free(frames);
    dumu_free(env);
    dumu_audio_deinit(&rs);
    dumu_audio_deinit(&mono);
    return rc;
}
