/* stft.c - centred short-time power spectra on FFTW3 (single precision) and a sparse Slaney
 * mel filterbank.
 *
 * DESIGN
 *   A dumu_stft holds one FFTW_ESTIMATE r2c plan made on its own 64-byte aligned buffers
 *   and executed frame by frame, so a caller never has to hold a whole linear-frequency
 *   spectrogram. ESTIMATE plans take microseconds and never touch the arrays, so no wisdom
 *   or plan cache (which would be global state) is kept.
 *   FFTW's planner is not thread-safe: plan creation and destruction hold g_plan_mutex, the
 *   one process-wide mutex of libdumu's DSP code (exported as dumu_fft_plan_lock so other
 *   modules planning FFTs share it). fftwf_execute on a plan owned by one
 *   dumu_stft (one thread) is safe.
 *
 *   The mel filterbank is stored sparsely (a run of nonzero weights per filter): with
 *   n_fft 2048 and 128 filters only ~2 weights per bin are nonzero, so applying it is a few
 *   thousand multiply-adds per frame and needs no BLAS.
 *
 * REFERENCES
 *   Slaney, "Auditory Toolbox" (1998): mel scale linear to 1 kHz (200/3 Hz per mel), then
 *   logarithmic with 27 mels per factor 6.4; filters normalised to equal area.
 *   librosa's stft/mel/melspectrogram defaults (centre, zero padding, periodic Hann) are
 *   the conventions followed, so envelopes are comparable with what users know. */
#include "stft.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core/core.h"

#ifndef M_PI
#    define M_PI 3.14159265358979323846
#endif

/* The planner lock (see DESIGN). Static initialisation, never destroyed. */
static pthread_mutex_t g_plan_mutex = PTHREAD_MUTEX_INITIALIZER;

void dumu_fft_plan_lock(void) {
    pthread_mutex_lock(&g_plan_mutex);
}

void dumu_fft_plan_unlock(void) {
    pthread_mutex_unlock(&g_plan_mutex);
}

int64_t dumu_stft_n_frames(int64_t n_samples, int hop) {
    DUMU_ASSERT(n_samples >= 0 && hop >= 1);
    return 1 + n_samples / hop;
}

void dumu_hann_periodic(float *w, int n) {
    for (int k = 0; k < n; k++)
        w[k] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * k / n));
}

dumu_status dumu_stft_init(dumu_stft *st, int n_fft, int hop, dumu_error *err) {
    if (!st) return dumu_fail(err, DUMU_E_INVALID_ARG, "stft: NULL state");
    memset(st, 0, sizeof(*st));
    if (n_fft < 2 || n_fft % 2 || n_fft > (1 << 24) || hop < 1) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "stft: bad n_fft %d or hop %d", n_fft, hop);
    }
    st->n_fft = n_fft;
    st->hop = hop;
    st->n_bins = n_fft / 2 + 1;
    st->window = dumu_malloc(sizeof(float) * (size_t)n_fft);
    st->frame = dumu_malloc(sizeof(float) * (size_t)n_fft);
    st->spec = dumu_malloc(sizeof(float) * 2 * (size_t)st->n_bins);
    if (!st->window || !st->frame || !st->spec) {
        dumu_stft_deinit(st);
        return dumu_fail(err, DUMU_E_NOMEM, "stft: out of memory");
    }
    dumu_hann_periodic(st->window, n_fft);
    dumu_fft_plan_lock();
    st->plan = fftwf_plan_dft_r2c_1d(n_fft, st->frame, (fftwf_complex *)st->spec, FFTW_ESTIMATE);
    dumu_fft_plan_unlock();
    if (!st->plan) {
        dumu_stft_deinit(st);
        return dumu_fail(err, DUMU_E_NOMEM, "stft: FFTW could not plan %d points", n_fft);
    }
    return DUMU_OK;
}

void dumu_stft_deinit(dumu_stft *st) {
    if (!st) return;
    if (st->plan) {
        dumu_fft_plan_lock();
        fftwf_destroy_plan((fftwf_plan)st->plan);
        dumu_fft_plan_unlock();
    }
    dumu_free(st->window);
    dumu_free(st->frame);
    dumu_free(st->spec);
    memset(st, 0, sizeof(*st));
}

void dumu_stft_frame_power(dumu_stft *st, const float *x, int64_t n_samples, int64_t t,
                           float *out) {
    const int n_fft = st->n_fft;
    const int64_t s0 = t * st->hop - n_fft / 2;
    for (int k = 0; k < n_fft; k++) {
        int64_t s = s0 + k;
        st->frame[k] = (s >= 0 && s < n_samples) ? x[s] * st->window[k] : 0.0f;
    }
    fftwf_execute((fftwf_plan)st->plan);
    const float *X = st->spec;
    for (int k = 0; k < st->n_bins; k++) {
        out[k] = X[2 * k] * X[2 * k] + X[2 * k + 1] * X[2 * k + 1];
    }
}

void dumu_stft_frame_power_ref(const float *x, int64_t n_samples, int n_fft, int hop, int64_t t,
                               float *out) {
    for (int k = 0; k <= n_fft / 2; k++) {
        double re = 0.0, im = 0.0;
        for (int j = 0; j < n_fft; j++) {
            int64_t s = t * hop - n_fft / 2 + j;
            if (s < 0 || s >= n_samples) continue;
            double w = 0.5 - 0.5 * cos(2.0 * M_PI * j / n_fft);
            double v = (double)x[s] * w;
            double ph = 2.0 * M_PI * (double)((int64_t)k * j % n_fft) / n_fft;
            re += v * cos(ph);
            im -= v * sin(ph);
        }
        out[k] = (float)(re * re + im * im);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Mel filterbank */

#define MEL_F_SP        (200.0 / 3.0) /* Hz per mel below 1 kHz */
#define MEL_MIN_LOG_HZ  1000.0        /* start of the log region */
#define MEL_MIN_LOG_MEL (1000.0 / MEL_F_SP)
#define MEL_LOGSTEP     (log(6.4) / 27.0) /* ln of the frequency ratio per mel above 1 kHz */

double dumu_hz_to_mel(double hz) {
    if (hz < MEL_MIN_LOG_HZ) return hz / MEL_F_SP;
    return MEL_MIN_LOG_MEL + log(hz / MEL_MIN_LOG_HZ) / MEL_LOGSTEP;
}

double dumu_mel_to_hz(double mel) {
    if (mel < MEL_MIN_LOG_MEL) return mel * MEL_F_SP;
    return MEL_MIN_LOG_HZ * exp(MEL_LOGSTEP * (mel - MEL_MIN_LOG_MEL));
}

/* Weight of FFT bin frequency f in filter m whose edges are hz[m], hz[m+1], hz[m+2]. */
static double tri_weight(const double *hz, int m, double f) {
    double lower = (f - hz[m]) / (hz[m + 1] - hz[m]);
    double upper = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1]);
    double w = lower < upper ? lower : upper;
    if (w <= 0.0) return 0.0;
    return w * 2.0 / (hz[m + 2] - hz[m]);
}

dumu_status dumu_melbank_init(dumu_melbank *mb, double sr, int n_fft, int n_mels, double fmin,
                              double fmax, dumu_error *err) {
    if (!mb) return dumu_fail(err, DUMU_E_INVALID_ARG, "melbank: NULL output");
    memset(mb, 0, sizeof(*mb));
    if (!(sr > 0.0) || n_fft < 2 || n_fft % 2 || n_mels < 1 || n_mels > 4096 || !(fmin >= 0.0) ||
        !(fmax > fmin) || fmax > sr / 2.0 + 1e-9) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "melbank: bad arguments");
    }
    const int n_bins = n_fft / 2 + 1;
    dumu_status rc = DUMU_OK;
    double *hz = dumu_malloc(sizeof(double) * (size_t)(n_mels + 2));
    mb->start = dumu_calloc((size_t)n_mels, sizeof(int));
    mb->len = dumu_calloc((size_t)n_mels, sizeof(int));
    mb->offset = dumu_calloc((size_t)n_mels, sizeof(int));
    if (!hz || !mb->start || !mb->len || !mb->offset) goto nomem;
    const double mel_lo = dumu_hz_to_mel(fmin), mel_hi = dumu_hz_to_mel(fmax);
    for (int i = 0; i < n_mels + 2; i++) {
        hz[i] = dumu_mel_to_hz(mel_lo + (mel_hi - mel_lo) * i / (n_mels + 1));
    }
    /* First pass: the run of nonzero bins of each filter. */
    int total = 0;
    for (int m = 0; m < n_mels; m++) {
        int first = -1, last = -2;
        for (int k = 0; k < n_bins; k++) {
            if (tri_weight(hz, m, k * sr / n_fft) > 0.0) {
                if (first < 0) first = k;
                last = k;
            }
        }
        mb->start[m] = first < 0 ? 0 : first;
        mb->len[m] = last - first + 1 > 0 ? last - first + 1 : 0;
        mb->offset[m] = total;
        total += mb->len[m];
    }
    mb->weights = dumu_calloc(total > 0 ? (size_t)total : 1, sizeof(float));
    if (!mb->weights) goto nomem;
    for (int m = 0; m < n_mels; m++) {
        for (int j = 0; j < mb->len[m]; j++) {
            int k = mb->start[m] + j;
            mb->weights[mb->offset[m] + j] = (float)tri_weight(hz, m, k * sr / n_fft);
        }
    }
    mb->n_mels = n_mels;
    mb->n_bins = n_bins;
    goto done;
nomem:
    rc = dumu_fail(err, DUMU_E_NOMEM, "melbank: out of memory");
    dumu_melbank_deinit(mb);
done:
    dumu_free(hz);
    return rc;
}

void dumu_melbank_deinit(dumu_melbank *mb) {
    if (!mb) return;
    dumu_free(mb->start);
    dumu_free(mb->len);
    dumu_free(mb->offset);
    dumu_free(mb->weights);
    memset(mb, 0, sizeof(*mb));
}

float dumu_melbank_weight(const dumu_melbank *mb, int m, int k) {
    int j = k - mb->start[m];
    if (j < 0 || j >= mb->len[m]) return 0.0f;
    return mb->weights[mb->offset[m] + j];
}

void dumu_melbank_apply(const dumu_melbank *mb, const float *spec, int64_t n_frames, float *mel) {
    const int n_mels = mb->n_mels, n_bins = mb->n_bins;
    for (int64_t t = 0; t < n_frames; t++) {
        const float *row = spec + (size_t)t * (size_t)n_bins;
        float *dst = mel + (size_t)t * (size_t)n_mels;
        for (int m = 0; m < n_mels; m++) {
            const float *w = mb->weights + mb->offset[m];
            const float *s = row + mb->start[m];
            double acc = 0.0;
            for (int j = 0; j < mb->len[m]; j++)
                acc += (double)(w[j] * s[j]);
            dst[m] = (float)acc;
        }
    }
}
