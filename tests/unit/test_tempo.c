/* Tempo and beats (src/dsp/tempo.c, src/dsp/stft.c) on synthetic signals: the STFT and the
 * mel filterbank against plain loops, the onset envelope's timing, the FFT autocorrelation
 * against its reference, the candidate scoring, the beat tracker on impulse trains, then
 * dumu_tempo_detect end to end on click tracks, pulsed tones and drum-machine patterns (with
 * swing, syncopation and noise), silence, very short input, bad arguments, allocation
 * failures and concurrent calls. Real music: tests/golden/test_tempo_testdata.c. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dsp/stft.h"
#include "dsp/tempo.h"
#include "testutil.h"

#ifndef M_PI
#    define M_PI 3.14159265358979323846
#endif

/* ---------------------------------------------------------------------------------------- */
/* Synthesis */

/* Deterministic noise in [-1, 1) (64-bit LCG, top bits). */
static double rnd(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 4503599627370496.0 - 1.0;
}

enum { HIT_CLICK, HIT_TONE, HIT_KICK, HIT_SNARE, HIT_HAT };

/* Adds one percussive event of kind `kind` at t0 seconds to y (n samples at sr Hz). */
static void add_hit(float *y, int64_t n, double sr, double t0, int kind, double amp,
                    uint64_t *rng) {
    static const double dur[] = {0.003, 0.15, 0.25, 0.15, 0.05};
    const int64_t s0 = (int64_t)llround(t0 * sr), len = (int64_t)(dur[kind] * sr);
    double ph = 0.0, prev = 0.0;
    for (int64_t i = 0; i < len && s0 + i < n; i++) {
        if (s0 + i < 0) continue;
        const double t = (double)i / sr;
        double v = 0.0, w;
        switch (kind) {
        case HIT_CLICK: v = (i % 2) ? -1.0 : 1.0; break;
        case HIT_TONE: /* 2 ms attack, 30 ms decay: no click at the end */
            v = sin(2.0 * M_PI * 440.0 * t) * (1.0 - exp(-t / 0.002)) * exp(-t / 0.03);
            break;
        case HIT_KICK:
            ph += 2.0 * M_PI * (45.0 + 80.0 * exp(-t / 0.03)) / sr;
            v = sin(ph) * exp(-t / 0.12) + 0.3 * rnd(rng) * exp(-t / 0.004);
            break;
        case HIT_SNARE:
            v = (0.7 * rnd(rng) + 0.4 * sin(2.0 * M_PI * 190.0 * t)) * exp(-t / 0.05);
            break;
        case HIT_HAT:
            w = rnd(rng);
            v = 0.5 * (w - prev) * exp(-t / 0.015);
            prev = w;
            break;
        }
        y[s0 + i] += (float)(amp * v);
    }
}

/* A drum-machine pattern: one character per step ('x' hit), cycling; steps_per_beat steps
 * to a quarter note. Odd steps are delayed by swing * step (swing feel). */
typedef struct pattern {
    const char *name;
    double bpm; /* the truth: quarter notes per minute */
    int steps_per_beat;
    const char *kick, *snare, *hat;
    double swing;     /* fraction of a step */
    double noise_rms; /* white noise added */
} pattern;

/* Renders seconds of `p` at sr Hz into a new dumu_audio with `channels` identical channels.
 * The onset times (seconds) of the quarter notes are k * 60 / bpm. */
static dumu_audio render(const pattern *p, double seconds, int sr, int channels, int hit_kind) {
    const int64_t n = (int64_t)(seconds * sr);
    float *y = calloc((size_t)n + 1, sizeof(float));
    assert_non_null(y);
    uint64_t rng = 12345;
    const double step = 60.0 / p->bpm / p->steps_per_beat;
    const char *tracks[3] = {p->kick, p->snare, p->hat};
    const int kinds[3] = {HIT_KICK, HIT_SNARE, HIT_HAT};
    const double amps[3] = {0.9, 0.5, 0.25};
    for (int64_t k = 0; k * step < seconds; k++) {
        const double t = (double)k * step + ((k % 2) ? p->swing * step : 0.0);
        for (int i = 0; i < 3; i++) {
            if (!tracks[i] || !tracks[i][0]) continue;
            if (tracks[i][k % (int64_t)strlen(tracks[i])] != 'x') continue;
            add_hit(y, n, sr, t, hit_kind >= 0 ? hit_kind : kinds[i], amps[i], &rng);
        }
    }
    for (int64_t i = 0; i < n; i++)
        y[i] += (float)(p->noise_rms * 1.7320508 * rnd(&rng));
    dumu_audio a = {0};
    a.samples = dumu_malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * (size_t)channels);
    assert_non_null(a.samples);
    for (int64_t i = 0; i < n; i++) {
        for (int c = 0; c < channels; c++)
            a.samples[i * channels + c] = y[i];
    }
    a.n_frames = n;
    a.n_channels = channels;
    a.sample_rate = sr;
    free(y);
    return a;
}

static dumu_audio render_clicks(double bpm, double seconds, int sr, int channels, int kind) {
    pattern p = {"clicks", bpm, 1, "x", "", "", 0.0, 0.0};
    return render(&p, seconds, sr, channels, kind);
}

/* Median of the n - 1 intervals between consecutive values (n >= 2). */
static double median_interval(const double *t, int64_t n) {
    double *d = malloc(sizeof(double) * (size_t)(n - 1));
    assert_non_null(d);
    for (int64_t i = 0; i + 1 < n; i++)
        d[i] = t[i + 1] - t[i];
    for (int64_t i = 1; i < n - 1; i++) { /* insertion sort */
        double v = d[i];
        int64_t j = i - 1;
        while (j >= 0 && d[j] > v) {
            d[j + 1] = d[j];
            j--;
        }
        d[j + 1] = v;
    }
    double m = d[(n - 1) / 2];
    free(d);
    return m;
}

/* Asserts the invariants of any dumu_tempo result on `seconds` of audio. */
static void check_invariants(const dumu_tempo *t, const dumu_tempo_params *p, double seconds) {
    assert_true(t->bpm == 0.0 || (t->bpm >= p->min_bpm * 0.999 && t->bpm <= p->max_bpm * 1.001));
    assert_true(t->confidence >= 0.0 && t->confidence <= 1.0);
    assert_true(t->n_beats >= 0);
    assert_true((t->n_beats == 0) == (t->beats == NULL));
    for (int64_t i = 0; i < t->n_beats; i++) {
        assert_true(t->beats[i] >= 0.0 && t->beats[i] <= seconds + 0.05);
        if (i > 0) assert_true(t->beats[i] > t->beats[i - 1]);
    }
    if (t->bpm == 0.0) {
        assert_true(t->n_beats == 0);
        assert_true(t->confidence == 0.0);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* STFT and mel filterbank */

static void test_stft_frame_matches_dft(void **state) {
    (void)state;
    const int sizes[][2] = {{16, 4}, {2048, 512}};
    for (int s = 0; s < 2; s++) {
        const int n_fft = sizes[s][0], hop = sizes[s][1], n_bins = n_fft / 2 + 1;
        const int64_t n = 3 * n_fft + 17; /* not a multiple of the hop */
        float *x = malloc(sizeof(float) * (size_t)n);
        float *fast = malloc(sizeof(float) * (size_t)n_bins);
        float *ref = malloc(sizeof(float) * (size_t)n_bins);
        assert_true(x && fast && ref);
        uint64_t rng = 7;
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)rnd(&rng);
        dumu_stft st = {0};
        assert_int_equal(dumu_stft_init(&st, n_fft, hop, NULL), DUMU_OK);
        assert_int_equal(st.n_bins, n_bins);
        const int64_t nf = dumu_stft_n_frames(n, hop);
        assert_true(nf == 1 + n / hop);
        const int64_t frames[] = {0, 1, nf / 2, nf - 1};
        for (int f = 0; f < 4; f++) {
            dumu_stft_frame_power(&st, x, n, frames[f], fast);
            dumu_stft_frame_power_ref(x, n, n_fft, hop, frames[f], ref);
            double peak = 0.0;
            for (int k = 0; k < n_bins; k++)
                peak = fmax(peak, (double)ref[k]);
            assert_allclose_f32(fast, ref, (size_t)n_bins, 1e-4 * peak, 1e-3, "stft frame");
        }
        dumu_stft_deinit(&st);
        dumu_stft_deinit(&st); /* twice: zeroed, fine */
        free(x);
        free(fast);
        free(ref);
    }
    dumu_stft bad = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_stft_init(&bad, 15, 4, &err), DUMU_E_INVALID_ARG);
    assert_true(err.message[0] != '\0');
    assert_int_equal(dumu_stft_init(&bad, 16, 0, NULL), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_stft_init(NULL, 16, 4, NULL), DUMU_E_INVALID_ARG);
}

static void test_hann_window(void **state) {
    (void)state;
    float w[8];
    dumu_hann_periodic(w, 8);
    const float want[8] = {0.0f, 0.1464466f, 0.5f, 0.8535534f, 1.0f, 0.8535534f, 0.5f, 0.1464466f};
    assert_allclose_f32(w, want, 8, 1e-6, 0.0, "periodic hann");
}

static void test_mel_scale(void **state) {
    (void)state;
    assert_true(fabs(dumu_hz_to_mel(1000.0) - 15.0) < 1e-9);
    assert_true(fabs(dumu_hz_to_mel(500.0) - 7.5) < 1e-9);
    assert_true(fabs(dumu_mel_to_hz(15.0) - 1000.0) < 1e-9);
    /* 27 mels per factor 6.4 above 1 kHz. */
    assert_true(fabs(dumu_hz_to_mel(6400.0) - 42.0) < 1e-9);
    for (double hz = 10.0; hz < 11025.0; hz *= 1.37) {
        assert_true(fabs(dumu_mel_to_hz(dumu_hz_to_mel(hz)) - hz) < 1e-6 * hz);
    }
}

static void test_melbank_shape_and_apply(void **state) {
    (void)state;
    const int n_fft = 2048, n_mels = 128, n_bins = n_fft / 2 + 1;
    const double sr = 22050.0;
    dumu_melbank mb = {0};
    assert_int_equal(dumu_melbank_init(&mb, sr, n_fft, n_mels, 0.0, sr / 2.0, NULL), DUMU_OK);
    assert_int_equal(mb.n_mels, n_mels);
    assert_int_equal(mb.n_bins, n_bins);
    for (int m = 0; m < n_mels; m++) {
        /* Each filter is a single hump: nonzero weights, rising then falling. */
        assert_true(mb.len[m] >= 1);
        int k_peak = mb.start[m];
        for (int k = mb.start[m]; k < mb.start[m] + mb.len[m]; k++) {
            assert_true(dumu_melbank_weight(&mb, m, k) > 0.0f);
            if (dumu_melbank_weight(&mb, m, k) > dumu_melbank_weight(&mb, m, k_peak)) k_peak = k;
        }
        for (int k = mb.start[m] + 1; k <= k_peak; k++) {
            assert_true(dumu_melbank_weight(&mb, m, k) >= dumu_melbank_weight(&mb, m, k - 1));
        }
        for (int k = k_peak + 1; k < mb.start[m] + mb.len[m]; k++) {
            assert_true(dumu_melbank_weight(&mb, m, k) <= dumu_melbank_weight(&mb, m, k - 1));
        }
        assert_true(dumu_melbank_weight(&mb, m, mb.start[m] + mb.len[m]) == 0.0f);
        /* Slaney normalisation: unit area in Hz, checked where a filter spans many bins. */
        if (mb.len[m] >= 8) {
            double area = 0.0;
            for (int k = 0; k < n_bins; k++)
                area += (double)dumu_melbank_weight(&mb, m, k);
            area *= sr / n_fft;
            assert_true(fabs(area - 1.0) < 0.05);
        }
    }
    /* The sparse apply equals the dense matrix product. */
    const int64_t nf = 3;
    float *spec = malloc(sizeof(float) * (size_t)(nf * n_bins));
    float *mel = malloc(sizeof(float) * (size_t)(nf * n_mels));
    float *ref = malloc(sizeof(float) * (size_t)(nf * n_mels));
    assert_true(spec && mel && ref);
    uint64_t rng = 3;
    for (int64_t i = 0; i < nf * n_bins; i++)
        spec[i] = (float)fabs(rnd(&rng));
    dumu_melbank_apply(&mb, spec, nf, mel);
    for (int64_t t = 0; t < nf; t++) {
        for (int m = 0; m < n_mels; m++) {
            double acc = 0.0;
            for (int k = 0; k < n_bins; k++) {
                acc += (double)dumu_melbank_weight(&mb, m, k) * (double)spec[t * n_bins + k];
            }
            ref[t * n_mels + m] = (float)acc;
        }
    }
    assert_allclose_f32(mel, ref, (size_t)(nf * n_mels), 1e-7, 1e-5, "mel apply");
    free(spec);
    free(mel);
    free(ref);
    dumu_melbank_deinit(&mb);
    dumu_melbank_deinit(&mb);
    assert_int_equal(dumu_melbank_init(&mb, sr, n_fft, n_mels, 100.0, 50.0, NULL),
                     DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_melbank_init(&mb, sr, n_fft, 0, 0.0, 1000.0, NULL), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_melbank_init(&mb, sr, n_fft, 8, 0.0, sr, NULL), DUMU_E_INVALID_ARG);
}

/* ---------------------------------------------------------------------------------------- */
/* Onset envelope */

static void test_envelope_timing_and_silence(void **state) {
    (void)state;
    /* Clicks at 0.75 s, 1.75 s, ...: the envelope peaks within a frame after each. */
    dumu_audio a = render_clicks(60.0, 6.0, DUMU_TEMPO_SR, 1, HIT_CLICK);
    memmove(a.samples + (int64_t)(0.75 * DUMU_TEMPO_SR), a.samples,
            sizeof(float) * (size_t)(a.n_frames - (int64_t)(0.75 * DUMU_TEMPO_SR)));
    memset(a.samples, 0, sizeof(float) * (size_t)(0.75 * DUMU_TEMPO_SR));
    float *env = NULL;
    int64_t n_env = 0;
    assert_int_equal(dumu_onset_envelope(a.samples, a.n_frames, &env, &n_env, NULL), DUMU_OK);
    assert_true(n_env == 1 + a.n_frames / DUMU_TEMPO_HOP);
    for (int64_t t = 0; t < n_env; t++)
        assert_true(env[t] >= 0.0f);
    for (int k = 0; k < 5; k++) {
        const double c = 0.75 + k;
        int64_t best = 0;
        for (int64_t t = 1; t < n_env; t++) {
            if (fabs((double)t / DUMU_TEMPO_FPS - c) < 0.3 && env[t] > env[best]) best = t;
        }
        const double dt = (double)best / DUMU_TEMPO_FPS - c;
        assert_true(dt >= -0.5 / DUMU_TEMPO_FPS && dt <= 1.5 / DUMU_TEMPO_FPS);
        assert_true(env[best] > 10.0f); /* dB per band: a click out of silence is a big jump */
    }
    dumu_free(env);
    /* Digital silence: all zero. */
    memset(a.samples, 0, sizeof(float) * (size_t)a.n_frames);
    assert_int_equal(dumu_onset_envelope(a.samples, a.n_frames, &env, &n_env, NULL), DUMU_OK);
    for (int64_t t = 0; t < n_env; t++)
        assert_true(env[t] == 0.0f);
    dumu_free(env);
    /* No samples at all: one frame. */
    assert_int_equal(dumu_onset_envelope(NULL, 0, &env, &n_env, NULL), DUMU_OK);
    assert_true(n_env == 1 && env[0] == 0.0f);
    dumu_free(env);
    assert_int_equal(dumu_onset_envelope(NULL, 10, &env, &n_env, NULL), DUMU_E_INVALID_ARG);
    assert_null(env);
    assert_int_equal(dumu_onset_envelope(a.samples, -1, &env, &n_env, NULL), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_onset_envelope(a.samples, 10, NULL, &n_env, NULL), DUMU_E_INVALID_ARG);
    dumu_audio_deinit(&a);
}

/* ---------------------------------------------------------------------------------------- */
/* Autocorrelation */

static void test_acf_fft_matches_reference(void **state) {
    (void)state;
    const int64_t lengths[] = {1, 2, 7, 383, 384, 385, 1001};
    const int wins[] = {384, 50};
    uint64_t rng = 99;
    for (int li = 0; li < 7; li++) {
        for (int k = 0; k < 4; k++) {
            const int64_t n = lengths[li];
            const int win = wins[k % 2], demean = k / 2;
            float *env = malloc(sizeof(float) * (size_t)n);
            float fast[384], ref[384];
            assert_non_null(env);
            for (int64_t i = 0; i < n; i++)
                env[i] = (float)(2.0 + 2.0 * rnd(&rng));
            int64_t used_fast = -1, used_ref = -1;
            assert_int_equal(dumu_tempo_acf(env, n, win, 3, demean, fast, &used_fast, NULL),
                             DUMU_OK);
            dumu_tempo_acf_ref(env, n, win, 3, demean, ref, &used_ref);
            assert_true(used_fast == used_ref);
            assert_true(used_fast >= (n > 1 || !demean ? 1 : 0)); /* 1 sample: no variance */
            assert_allclose_f32(fast, ref, (size_t)win, 2e-5, 0.0, "acf fft vs ref");
            if (n > 1 || !demean) assert_true(fabs((double)fast[0] - 1.0) < 1e-5);
            for (int l = 0; l < win; l++)
                assert_true(fabs((double)fast[l]) <= 1.0 + 1e-5);
            free(env);
        }
    }
    /* A periodic envelope: the de-meaned ACF is a correlation coefficient, ~1 at the
     * period, negative half-way; the raw one stays positive. */
    float pulse[800], raw[384], dm[384];
    for (int i = 0; i < 800; i++)
        pulse[i] = (i % 20 == 0) ? 8.0f : 0.5f;
    assert_int_equal(dumu_tempo_acf(pulse, 800, 384, 4, 0, raw, NULL, NULL), DUMU_OK);
    assert_int_equal(dumu_tempo_acf(pulse, 800, 384, 4, 1, dm, NULL, NULL), DUMU_OK);
    assert_true(dm[20] > 0.9f && dm[10] < 0.0f && raw[10] > 0.0f && raw[20] > 0.9f);
    assert_true(fabs(dumu_tempo_confidence(dm, 384, 20.0) - (double)dm[20]) < 0.02);
    assert_true(dumu_tempo_confidence(dm, 384, 10.0) == 0.0);
    assert_true(dumu_tempo_confidence(dm, 384, 400.0) == 0.0);
    /* A silent envelope: no window used, all zero. */
    float zero[100] = {0}, acf[64];
    int64_t used = -1;
    assert_int_equal(dumu_tempo_acf(zero, 100, 64, 4, 1, acf, &used, NULL), DUMU_OK);
    assert_true(used == 0);
    for (int i = 0; i < 64; i++)
        assert_true(acf[i] == 0.0f);
    assert_int_equal(dumu_tempo_acf(zero, 0, 64, 4, 0, acf, &used, NULL), DUMU_OK);
    assert_true(used == 0);
    assert_int_equal(dumu_tempo_acf(zero, 100, 0, 4, 0, acf, &used, NULL), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_tempo_acf(zero, 100, 64, 0, 0, acf, &used, NULL), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_tempo_acf(NULL, 100, 64, 4, 0, acf, &used, NULL), DUMU_E_INVALID_ARG);
}

/* ---------------------------------------------------------------------------------------- */
/* Tempo candidates */

/* An ACF with Gaussian bumps of the given heights at multiples of `period` frames. */
static void bumpy_acf(float *acf, int n, double period, const double *heights, int n_heights) {
    for (int l = 0; l < n; l++) {
        double v = 0.0;
        for (int k = 1; k <= n_heights; k++) {
            double d = (l - k * period) / 1.2;
            v += heights[k - 1] * exp(-0.5 * d * d);
        }
        acf[l] = (float)v;
    }
    acf[0] = 1.0f;
}

static void test_prior_and_candidates(void **state) {
    (void)state;
    assert_true(fabs(dumu_tempo_prior(120.0, 120.0) - 1.0) < 1e-12);
    assert_true(fabs(dumu_tempo_prior(240.0, 120.0) - exp(-0.5)) < 1e-12);
    assert_true(fabs(dumu_tempo_prior(60.0, 120.0) - exp(-0.5)) < 1e-12);
    const dumu_tempo_params p = dumu_tempo_default_params();
    assert_true(p.min_bpm == 60.0 && p.max_bpm == 240.0 && p.prior_bpm == 120.0);
    assert_true(p.track_beats);

    /* Even bumps at multiples of 20.3 frames (127.3 bpm): the fundamental wins, refined to
     * a fraction of a frame; its sub-harmonic (40.6 frames) comes later. */
    float acf[384];
    const double h[8] = {0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8};
    bumpy_acf(acf, 384, 20.3, h, 8);
    dumu_tempo_candidate c[DUMU_TEMPO_MAX_CANDIDATES];
    double mean = -1.0;
    int n =
        dumu_tempo_candidates(acf, 384, DUMU_TEMPO_FPS, &p, c, DUMU_TEMPO_MAX_CANDIDATES, &mean);
    assert_true(n == 2); /* 20.3 and 40.6 lie in [10.8, 43.1] frames */
    assert_true(fabs(c[0].lag - 20.3) < 0.15);
    assert_true(fabs(c[0].bpm - 60.0 * DUMU_TEMPO_FPS / c[0].lag) < 1e-9);
    assert_true(fabs(c[1].lag - 40.6) < 0.3);
    assert_true(c[0].score > c[1].score);
    assert_true(fabs(c[0].peak - 0.8) < 0.02);
    assert_true(c[0].src_lag == c[0].lag);
    assert_true(mean > 0.0 && mean < 0.8);
    for (int i = 0; i < n; i++) {
        assert_true(fabs(c[i].score - dumu_tempo_comb(acf, 384, c[i].lag) *
                                          dumu_tempo_prior(c[i].bpm, 120.0)) < 1e-9);
    }
    /* Only the half period is strong: the slower level wins despite the prior. */
    const double h2[8] = {0.1, 0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9};
    bumpy_acf(acf, 384, 15.0, h2, 8); /* 15 frames = 172 bpm, 30 frames = 86 bpm */
    n = dumu_tempo_candidates(acf, 384, DUMU_TEMPO_FPS, &p, c, DUMU_TEMPO_MAX_CANDIDATES, NULL);
    assert_true(n >= 1 && fabs(c[0].lag - 30.0) < 0.2);
    /* A range holding no lag, or an ACF too short for it: no candidate. */
    dumu_tempo_params narrow = p;
    narrow.min_bpm = 1000.0;
    narrow.max_bpm = 1001.0;
    assert_int_equal(dumu_tempo_candidates(acf, 384, DUMU_TEMPO_FPS, &narrow, c, 4, &mean), 0);
    assert_true(mean == 0.0);
    assert_int_equal(dumu_tempo_candidates(acf, 8, DUMU_TEMPO_FPS, &p, c, 4, NULL), 0);
    /* No peak inside the range: the peaks outside are folded in by octaves. */
    dumu_tempo_params fast = p;
    fast.min_bpm = 150.0; /* lags <= 17.2 frames; the bumps are at 15 k */
    fast.max_bpm = 160.0; /* lags >= 16.2 */
    n = dumu_tempo_candidates(acf, 384, DUMU_TEMPO_FPS, &fast, c, DUMU_TEMPO_MAX_CANDIDATES, NULL);
    assert_true(n == 0); /* 15 frames = 172 bpm: no octave of it falls in 150..160 */
    fast.min_bpm = 80.0;
    fast.max_bpm = 90.0; /* lags 28.7 .. 32.3: the 30-frame bump is inside */
    n = dumu_tempo_candidates(acf, 384, DUMU_TEMPO_FPS, &fast, c, DUMU_TEMPO_MAX_CANDIDATES, NULL);
    assert_true(n >= 1 && fabs(c[0].lag - 30.0) < 0.2 && c[0].src_lag == c[0].lag);
    fast.min_bpm = 320.0;
    fast.max_bpm = 360.0; /* lags 7.2 .. 8.1: only folded peaks (15/2, 30/4, ...) */
    n = dumu_tempo_candidates(acf, 384, DUMU_TEMPO_FPS, &fast, c, DUMU_TEMPO_MAX_CANDIDATES, NULL);
    assert_true(n >= 1 && fabs(c[0].lag - 7.5) < 0.1);
    assert_true(fabs(c[0].src_lag / c[0].lag - floor(c[0].src_lag / c[0].lag + 0.5)) < 1e-9);
    /* max_out bounds what is written, best first. */
    bumpy_acf(acf, 384, 20.3, h, 8);
    assert_int_equal(dumu_tempo_candidates(acf, 384, DUMU_TEMPO_FPS, &p, c, 1, NULL), 1);
    assert_true(fabs(c[0].lag - 20.3) < 0.15);
}

/* ---------------------------------------------------------------------------------------- */
/* Beat tracker */

static void test_beat_tracker_on_impulses(void **state) {
    (void)state;
    const int64_t n = 1500;
    const double period = 21.5, phase = 200.0; /* silence before frame 200 */
    float *env = calloc((size_t)n, sizeof(float));
    assert_non_null(env);
    int64_t n_imp = 0;
    for (double f = phase; f < (double)n; f += period, n_imp++)
        env[(int64_t)llround(f)] = 5.0f;
    int64_t *beats = NULL, nb = 0;
    assert_int_equal(dumu_beat_track(env, n, period, 100.0, &beats, &nb, NULL), DUMU_OK);
    assert_true(nb >= n_imp - 2 && nb <= n_imp);
    for (int64_t i = 0; i < nb; i++) {
        assert_true(env[beats[i]] == 5.0f); /* every beat on an impulse */
        if (i > 0) {
            const int64_t d = beats[i] - beats[i - 1];
            assert_true(d == 21 || d == 22);
        }
    }
    assert_true(beats[0] >= 200);
    dumu_free(beats);

    /* Tempo slightly off (the DP bends the period) and one impulse missing: beats still
     * land on the impulses, and the gap is bridged. */
    env[(int64_t)llround(phase + 20 * period)] = 0.0f;
    assert_int_equal(dumu_beat_track(env, n, 22.3, 100.0, &beats, &nb, NULL), DUMU_OK);
    int64_t on = 0;
    for (int64_t i = 0; i < nb; i++)
        on += env[beats[i]] == 5.0f;
    assert_true(nb >= n_imp - 3 && on >= nb - 2);
    dumu_free(beats);

    /* A flat envelope has no beats; nor an empty one. */
    for (int64_t i = 0; i < n; i++)
        env[i] = 1.0f;
    assert_int_equal(dumu_beat_track(env, n, period, 100.0, &beats, &nb, NULL), DUMU_OK);
    assert_true(nb == 0 && beats == NULL);
    assert_int_equal(dumu_beat_track(NULL, 0, period, 100.0, &beats, &nb, NULL), DUMU_OK);
    assert_true(nb == 0 && beats == NULL);
    dumu_error err = {0};
    assert_int_equal(dumu_beat_track(env, n, 0.5, 100.0, &beats, &nb, &err), DUMU_E_INVALID_ARG);
    assert_true(err.message[0] != '\0');
    assert_int_equal(dumu_beat_track(env, n, (double)NAN, 100.0, &beats, &nb, NULL),
                     DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_beat_track(env, n, period, -1.0, &beats, &nb, NULL), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_beat_track(NULL, 5, period, 100.0, &beats, &nb, NULL),
                     DUMU_E_INVALID_ARG);
    free(env);
}

/* ---------------------------------------------------------------------------------------- */
/* dumu_tempo_detect end to end */

/* Detects the tempo of `a` and checks it against `truth` (relative tolerance tol); with
 * onset_times_ok, also checks each beat is near a quarter-note onset k * 60 / truth. */
static void check_detect(const char *name, const dumu_audio *a, double truth, double tol,
                         int onset_times_ok) {
    const dumu_tempo_params p = dumu_tempo_default_params();
    dumu_tempo t = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_tempo_detect(a, &p, &t, &err), DUMU_OK);
    const double seconds = (double)a->n_frames / a->sample_rate;
    print_message("  %-16s truth %6.1f  bpm %6.2f (%+.1f %%)  confidence %.2f  beats %lld\n", name,
                  truth, t.bpm, 100.0 * (t.bpm / truth - 1.0), t.confidence, (long long)t.n_beats);
    check_invariants(&t, &p, seconds);
    assert_true(fabs(t.bpm / truth - 1.0) <= tol);
    assert_true(t.confidence > 0.2);
    /* Beats: most of the excerpt, spaced by the period. */
    const double period = 60.0 / truth;
    assert_true((double)t.n_beats >= 0.8 * seconds / period);
    assert_true(fabs(median_interval(t.beats, t.n_beats) / period - 1.0) < 0.04);
    if (onset_times_ok) {
        int64_t near = 0;
        for (int64_t i = 0; i < t.n_beats; i++) {
            const double k = floor(t.beats[i] / period + 0.5);
            near += fabs(t.beats[i] - k * period) <= 0.05;
        }
        assert_true(near >= (int64_t)(0.9 * (double)t.n_beats));
    }
    dumu_tempo_deinit(&t);
    assert_null(t.beats);
    dumu_tempo_deinit(&t);
}

static void test_click_tracks(void **state) {
    (void)state;
    const double tempi[] = {72.0, 95.0, 120.0, 128.0, 145.0, 174.0};
    for (int i = 0; i < 6; i++) {
        dumu_audio a = render_clicks(tempi[i], 12.0, DUMU_TEMPO_SR, 1, HIT_CLICK);
        check_detect("clicks", &a, tempi[i], 0.005, 1);
        dumu_audio_deinit(&a);
    }
}

static void test_pulsed_tones_stereo_44k(void **state) {
    (void)state;
    /* 440 Hz bursts, 44.1 kHz stereo: the mono mix-down and the resampler run too. */
    const double tempi[] = {72.0, 95.0, 120.0, 128.0, 145.0, 174.0};
    for (int i = 0; i < 6; i++) {
        dumu_audio a = render_clicks(tempi[i], 12.0, 44100, 2, HIT_TONE);
        check_detect("tones 44k", &a, tempi[i], 0.005, 1);
        dumu_audio_deinit(&a);
    }
}

static void test_drum_patterns(void **state) {
    (void)state;
    /* kick / snare / hat, one character per step; truth = notated quarter-note tempo. */
    static const pattern pats[] = {
        {"rock 120", 120, 2, "x..xx...", "..x...x.", "xxxxxxxx", 0.0, 0.0},
        {"rock 95 noisy", 95, 2, "x...x...", "..x...x.", "xxxxxxxx", 0.0, 0.03},
        {"four-floor 128", 128, 2, "x.x.x.x.", "..x...x.", ".x.x.x.x", 0.0, 0.05},
        {"shuffle 95", 95, 2, "x...x...", "..x...x.", "xxxxxxxx", 1.0 / 3.0, 0.0},
        {"swing 160 noisy", 160, 2, "x...x...", "..x...x.", "xxxxxxxx", 0.2, 0.02},
        {"waltz 145", 145, 2, "x.....", "..x.x.", "x.x.x.", 0.0, 0.0},
        {"halftime 140", 140, 2, "x.......x.x.....", "....x.......x...", "x.x.x.x.", 0.0, 0.0},
        {"breakbeat 174", 174, 2, "x......x..x.....", "..x.....x.....x.", "xxxxxxxx", 0.0, 0.0},
        /* Syncopated 3+3+2 eighths over quarter-note hats, and 6/8 (quarter = 2 eighths in
         * MIDI terms): both have a dotted-quarter periodicity as strong as the quarter's,
         * which the 3:2 guard must resolve. */
        {"3+3+2 150", 150, 2, ".x.xx.xxxx.x.xx.", ".x.xx.xxxx.x.xx.", "x.x.x.x.", 0.0, 0.0},
        {"6/8 q=105", 105, 2, "x.....x.....", "...x.....x..", "xxxxxx", 0.0, 0.0},
    };
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        dumu_audio a = render(&pats[i], 16.0, DUMU_TEMPO_SR, 1, -1);
        check_detect(pats[i].name, &a, pats[i].bpm, 0.02, 0);
        dumu_audio_deinit(&a);
    }
}

static void test_silence_short_and_noise(void **state) {
    (void)state;
    const dumu_tempo_params p = dumu_tempo_default_params();
    dumu_tempo t = {0};
    /* Digital silence: bpm 0, no beats, not an error. */
    dumu_audio a = render_clicks(120.0, 5.0, 44100, 2, HIT_CLICK);
    memset(a.samples, 0, sizeof(float) * (size_t)(a.n_frames * 2));
    assert_int_equal(dumu_tempo_detect(&a, &p, &t, NULL), DUMU_OK);
    assert_true(t.bpm == 0.0 && t.n_beats == 0 && t.beats == NULL && t.confidence == 0.0);
    dumu_audio_deinit(&a);
    /* No frames at all. */
    dumu_audio empty = {NULL, 0, 1, 22050};
    t.bpm = 5.0;
    assert_int_equal(dumu_tempo_detect(&empty, &p, &t, NULL), DUMU_OK);
    assert_true(t.bpm == 0.0 && t.n_beats == 0 && t.beats == NULL);
    /* Very short input: a sensible result (a tempo in range or none), never a crash. */
    const double lengths[] = {0.01, 0.1, 0.5, 0.9};
    for (int i = 0; i < 4; i++) {
        a = render_clicks(120.0, lengths[i], 44100, 1, HIT_CLICK);
        assert_int_equal(dumu_tempo_detect(&a, &p, &t, NULL), DUMU_OK);
        check_invariants(&t, &p, lengths[i]);
        dumu_tempo_deinit(&t);
        dumu_audio_deinit(&a);
    }
    /* A single sample. */
    float one = 0.5f;
    dumu_audio single = {&one, 1, 1, 8000};
    assert_int_equal(dumu_tempo_detect(&single, &p, &t, NULL), DUMU_OK);
    assert_true(t.bpm == 0.0 && t.n_beats == 0);
    /* White noise: no clear pulse, so whatever tempo comes out has a low confidence. */
    pattern noise = {"noise", 120, 1, "", "", "", 0.0, 0.3};
    a = render(&noise, 12.0, DUMU_TEMPO_SR, 1, -1);
    assert_int_equal(dumu_tempo_detect(&a, &p, &t, NULL), DUMU_OK);
    check_invariants(&t, &p, 12.0);
    print_message("  white noise: bpm %.1f confidence %.3f\n", t.bpm, t.confidence);
    assert_true(t.confidence < 0.25);
    dumu_tempo_deinit(&t);
    dumu_audio_deinit(&a);
}

static void test_params(void **state) {
    (void)state;
    dumu_audio a = render_clicks(72.0, 10.0, DUMU_TEMPO_SR, 1, HIT_CLICK);
    dumu_tempo t = {0};
    /* A range that excludes 72 bpm gives the octave inside it. */
    dumu_tempo_params p = dumu_tempo_default_params();
    p.min_bpm = 100.0;
    p.max_bpm = 200.0;
    assert_int_equal(dumu_tempo_detect(&a, &p, &t, NULL), DUMU_OK);
    assert_true(fabs(t.bpm / 144.0 - 1.0) < 0.02);
    dumu_tempo_deinit(&t);
    /* track_beats false: tempo only. */
    p = dumu_tempo_default_params();
    p.track_beats = false;
    assert_int_equal(dumu_tempo_detect(&a, &p, &t, NULL), DUMU_OK);
    assert_true(fabs(t.bpm / 72.0 - 1.0) < 0.02 && t.n_beats == 0 && t.beats == NULL);
    /* NULL params: the defaults. */
    assert_int_equal(dumu_tempo_detect(&a, NULL, &t, NULL), DUMU_OK);
    assert_true(fabs(t.bpm / 72.0 - 1.0) < 0.02 && t.n_beats > 0);
    dumu_tempo_deinit(&t);
    dumu_audio_deinit(&a);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    float buf[64] = {0};
    const dumu_tempo_params good = dumu_tempo_default_params();
    dumu_tempo t = {0};
    dumu_error err = {0};
    dumu_audio a = {buf, 64, 1, 22050};
    assert_int_equal(dumu_tempo_detect(NULL, &good, &t, &err), DUMU_E_INVALID_ARG);
    assert_true(err.status == DUMU_E_INVALID_ARG && err.message[0] != '\0');
    assert_int_equal(dumu_tempo_detect(&a, &good, NULL, NULL), DUMU_E_INVALID_ARG);
    const dumu_audio bad_audio[] = {
        {NULL, 64, 1, 22050}, {buf, -1, 1, 22050}, {buf, 64, 0, 22050}, {buf, 64, 1, 0}};
    for (int i = 0; i < 4; i++) {
        t.bpm = 1.0;
        assert_int_equal(dumu_tempo_detect(&bad_audio[i], &good, &t, NULL), DUMU_E_INVALID_ARG);
        assert_true(t.bpm == 0.0 && t.beats == NULL); /* output zeroed */
    }
    dumu_tempo_params p[6];
    for (int i = 0; i < 6; i++)
        p[i] = good;
    p[0].min_bpm = 0.0;
    p[1].max_bpm = 50.0; /* below min */
    p[2].prior_bpm = -1.0;
    p[3].prior_bpm = (double)NAN;
    p[4].max_bpm = HUGE_VAL;
    p[5].min_bpm = (double)NAN;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(dumu_tempo_detect(&a, &p[i], &t, &err), DUMU_E_INVALID_ARG);
    }
    dumu_tempo_deinit(NULL);
    double bpm = 1.0, conf = 1.0;
    assert_int_equal(dumu_tempo_estimate(NULL, 5, &good, &bpm, &conf, NULL), DUMU_E_INVALID_ARG);
    assert_true(bpm == 0.0 && conf == 0.0);
}

static void test_allocation_failures(void **state) {
    (void)state;
    dumu_audio a = render_clicks(128.0, 4.0, 44100, 2, HIT_CLICK);
    const dumu_tempo_params p = dumu_tempo_default_params();
    dumu_tempo t = {0};
    dumu_alloc_fail_after(0);
    assert_int_equal(dumu_tempo_detect(&a, &p, &t, NULL), DUMU_OK);
    const int64_t n_allocs = dumu_alloc_fail_after(0);
    const double want = t.bpm;
    dumu_tempo_deinit(&t);
    assert_true(n_allocs > 5);
    for (int64_t k = 1; k <= n_allocs; k++) {
        dumu_error err = {0};
        dumu_alloc_fail_after(k);
        dumu_status rc = dumu_tempo_detect(&a, &p, &t, &err);
        dumu_alloc_fail_after(0);
        if (rc == DUMU_OK) {
            assert_true(t.bpm == want);
        } else {
            assert_int_equal(rc, DUMU_E_NOMEM);
            assert_true(err.status == DUMU_E_NOMEM);
            assert_true(t.bpm == 0.0 && t.beats == NULL && t.n_beats == 0);
        }
        dumu_tempo_deinit(&t);
    }
    dumu_audio_deinit(&a);
}

typedef struct detect_job {
    const dumu_audio *audio;
    dumu_tempo out;
    dumu_status rc;
} detect_job;

static void *detect_thread(void *arg) {
    detect_job *j = arg;
    const dumu_tempo_params p = dumu_tempo_default_params();
    j->rc = dumu_tempo_detect(j->audio, &p, &j->out, NULL);
    return NULL;
}

static void test_concurrent_calls_agree(void **state) {
    (void)state;
    pattern pat = {"rock", 128, 2, "x..xx...", "..x...x.", "xxxxxxxx", 0.0, 0.01};
    dumu_audio a = render(&pat, 8.0, 44100, 2, -1);
    detect_job ref;
    memset(&ref, 0, sizeof ref);
    ref.audio = &a;
    detect_thread(&ref);
    assert_int_equal(ref.rc, DUMU_OK);

    enum { N = 4 };

    detect_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].audio = &a;
        jobs[i].rc = DUMU_E_IO;
        assert_int_equal(pthread_create(&th[i], NULL, detect_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].rc, DUMU_OK);
        assert_true(jobs[i].out.bpm == ref.out.bpm);
        assert_true(jobs[i].out.n_beats == ref.out.n_beats);
        for (int64_t b = 0; b < ref.out.n_beats; b++) {
            assert_true(jobs[i].out.beats[b] == ref.out.beats[b]);
        }
        dumu_tempo_deinit(&jobs[i].out);
    }
    dumu_tempo_deinit(&ref.out);
    dumu_audio_deinit(&a);
}

/* ---------------------------------------------------------------------------------------- */
/* The beat map: banded smoother against a dense solve, steady, drifting and stepped beats */

/* Dense reference of dumu_whittaker: Gaussian elimination on (W + lambda D'D) f = W y. */
static void whittaker_dense(const double *y, const double *w, int n, double lambda, double *f) {
    double *a = calloc((size_t)n * (size_t)(n + 1), sizeof *a);
    assert_non_null(a);
    const int m = n + 1;
    for (int i = 0; i < n; i++) {
        a[i * m + i] = w[i];
        a[i * m + n] = w[i] * y[i];
    }
    const double v[3] = {1.0, -2.0, 1.0};
    for (int k = 0; k + 2 < n; k++) {
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                a[(k + r) * m + k + c] += lambda * v[r] * v[c];
    }
    for (int p = 0; p < n; p++) {
        for (int r = p + 1; r < n; r++) {
            const double q = a[r * m + p] / a[p * m + p];
            for (int c = p; c <= n; c++)
                a[r * m + c] -= q * a[p * m + c];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = a[i * m + n];
        for (int c = i + 1; c < n; c++)
            s -= a[i * m + c] * f[c];
        f[i] = s / a[i * m + i];
    }
    free(a);
}

static void test_whittaker_matches_dense(void **state) {
    (void)state;
    uint64_t rng = 7;
    const int sizes[] = {1, 2, 3, 4, 7, 40};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int n = sizes[si];
        double y[40], w[40], f[40], g[40], work[200];
        for (int i = 0; i < n; i++) {
            y[i] = 0.5 * i + 0.01 * rnd(&rng);
            w[i] = 1.0 + 0.5 * rnd(&rng);
        }
        const double lambdas[] = {0.0, 0.1, 10.0, 1e5};
        for (int li = 0; li < 4; li++) {
            dumu_whittaker(y, w, n, lambdas[li], f, work);
            whittaker_dense(y, w, n, lambdas[li], g);
            for (int i = 0; i < n; i++)
                assert_true(fabs(f[i] - g[i]) < 1e-9 * (1.0 + fabs(g[i])));
        }
    }
}

/* Beats of a tempo curve bpm(beat) with frame-quantised timing (23.2 ms frames, as the
 * tracker delivers them): beat k at the integral of 60 / bpm. */
static void curve_beats(double *b, int n, double bpm0, double amp, double period_beats,
                        double step_at, double step_bpm) {
    double t = 0.3;
    for (int k = 0; k < n; k++) {
        const double frame = 512.0 / 22050.0;
        b[k] = floor(t / frame + 0.5) * frame;
        double bpm = bpm0 * (1.0 + amp * sin(2.0 * M_PI * k / period_beats));
        if (step_at > 0 && k >= step_at) bpm = step_bpm;
        t += 60.0 / bpm;
    }
}

static void test_beat_map_steady(void **state) {
    (void)state;
    double b[80], out[80];
    curve_beats(b, 80, 115.0, 0.0, 1.0, 0, 0); /* 115 BPM: intervals alternate 22/23 frames */
    int64_t seg = 0;
    assert_int_equal(dumu_beats_model(b, 80, out, &seg, NULL), DUMU_OK);
    assert_int_equal(seg, 1);
    const double p = out[1] - out[0];
    for (int k = 1; k < 80; k++)
        assert_true(fabs((out[k] - out[k - 1]) - p) < 1e-9);
    assert_true(fabs(60.0 / p / 115.0 - 1.0) < 0.002);
}

static void test_beat_map_drift(void **state) {
    (void)state;

    enum { N = 60 };

    double b[N], out[N];
    curve_beats(b, N, 120.0, 0.04, 20.0, 0, 0); /* a band breathing +-4 % every 20 beats */
    int64_t seg = 0;
    assert_int_equal(dumu_beats_model(b, N, out, &seg, NULL), DUMU_OK);
    assert_true(seg > 3 && seg < N / 2); /* follows the drift with few events */
    double worst = 0.0;
    for (int k = 2; k < N - 2; k++) { /* each written interval against the true tempo there */
        const double bpm = 60.0 / (out[k + 1] - out[k]);
        const double truth = 120.0 * (1.0 + 0.04 * sin(2.0 * M_PI * (k + 0.5) / 20.0));
        worst = fmax(worst, fabs(bpm / truth - 1.0));
    }
    print_message("drifting beats: %lld steady runs, worst interval %.2f %% off the truth\n",
                  (long long)seg, 100.0 * worst);
    assert_true(worst < 0.03);
    for (int k = 0; k < N; k++) /* and stays on the beats */
        assert_true(fabs(out[k] - b[k]) < 0.03);
}

static void test_beat_map_step(void **state) {
    (void)state;

    enum { N = 64 };

    double b[N], out[N];
    curve_beats(b, N, 120.0, 0.0, 1.0, 32, 140.0);
    int64_t seg = 0;
    assert_int_equal(dumu_beats_model(b, N, out, &seg, NULL), DUMU_OK);
    assert_true(seg >= 2);
    for (int k = 0; k + 1 < N; k++) { /* away from the step, the right tempo */
        if (k > 26 && k < 38) continue;
        const double bpm = 60.0 / (out[k + 1] - out[k]);
        assert_true(fabs(bpm / (k < 32 ? 120.0 : 140.0) - 1.0) < 0.01);
    }
    assert_int_equal(dumu_beats_model(b, 0, out, &seg, NULL), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_beats_model(NULL, 4, out, &seg, NULL), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_beats_model(b, 2, out, &seg, NULL), DUMU_OK);
    assert_true(out[0] == b[0] && out[1] == b[1] && seg == 1);
}

/* Which tempos are shown: a clear pulse of a bar or more; a short clip or a faint, noisy
 * pulse is not, and says why. */
static void test_tempo_check(void **state) {
    (void)state;
    double beats[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5};
    dumu_tempo t = {120.0, 0.6, beats, 8};
    assert_int_equal(dumu_tempo_check(&t, 4.0), DUMU_TEMPO_FOUND);
    t.confidence = 0.01; /* white noise */
    assert_int_equal(dumu_tempo_check(&t, 4.0), DUMU_TEMPO_NO_PULSE);
    t.confidence = 0.6;
    t.n_beats = 2; /* a 0.4 s clip */
    assert_int_equal(dumu_tempo_check(&t, 0.4), DUMU_TEMPO_TOO_SHORT);
    t = (dumu_tempo){0.0, 0.0, NULL, 0}; /* silence */
    assert_int_equal(dumu_tempo_check(&t, 10.0), DUMU_TEMPO_NO_PULSE);
    assert_int_equal(dumu_tempo_check(NULL, 1.0), DUMU_TEMPO_TOO_SHORT);
    assert_string_equal(dumu_tempo_status_name(DUMU_TEMPO_FOUND), "found");
    assert_string_equal(dumu_tempo_status_name(DUMU_TEMPO_TOO_SHORT), "too_short");
    assert_string_equal(dumu_tempo_status_name(DUMU_TEMPO_NO_PULSE), "no_pulse");
    assert_null(dumu_tempo_status_name((dumu_tempo_status)3));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tempo_check),
        cmocka_unit_test(test_whittaker_matches_dense),
        cmocka_unit_test(test_beat_map_steady),
        cmocka_unit_test(test_beat_map_drift),
        cmocka_unit_test(test_beat_map_step),
        cmocka_unit_test(test_stft_frame_matches_dft),
        cmocka_unit_test(test_hann_window),
        cmocka_unit_test(test_mel_scale),
        cmocka_unit_test(test_melbank_shape_and_apply),
        cmocka_unit_test(test_envelope_timing_and_silence),
        cmocka_unit_test(test_acf_fft_matches_reference),
        cmocka_unit_test(test_prior_and_candidates),
        cmocka_unit_test(test_beat_tracker_on_impulses),
        cmocka_unit_test(test_click_tracks),
        cmocka_unit_test(test_pulsed_tones_stereo_44k),
        cmocka_unit_test(test_drum_patterns),
        cmocka_unit_test(test_silence_short_and_noise),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_concurrent_calls_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
