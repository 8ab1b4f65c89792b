/* Unit tests of src/dsp/lowband.c: the Butterworth low-pass against its analytic gain, band
 * power of sines, and the source choice on levels at the edges of its rule. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "dsp/lowband.h"
#include "testutil.h"

#ifndef M_PI
#    define M_PI 3.14159265358979323846
#endif

#define RATE 44100

/* A stereo sine of `hz` and amplitude `amp`, n frames (caller deinits). */
static dumu_audio sine(double hz, double amp, int64_t n) {
    dumu_audio a = {0};
    a.samples = dumu_malloc(sizeof(float) * (size_t)n * 2);
    assert_non_null(a.samples);
    a.n_frames = n;
    a.n_channels = 2;
    a.sample_rate = RATE;
    for (int64_t t = 0; t < n; t++)
        a.samples[2 * t] = a.samples[2 * t + 1] = (float)(amp * sin(2.0 * M_PI * hz * t / RATE));
    return a;
}

/* Mean square of channel 0 after the first `skip` frames (the filter's transient). */
static double power_after(const dumu_audio *a, int64_t skip) {
    double s = 0.0;
    for (int64_t t = skip; t < a->n_frames; t++)
        s += (double)a->samples[2 * t] * (double)a->samples[2 * t];
    return s / (double)(a->n_frames - skip);
}

/* |H(f)|^2 of a 4th-order Butterworth low-pass: 1 / (1 + (f/fc)^8), with the bilinear
 * transform's warping tan(pi f / rate). */
static double bw4_gain2(double f, double fc) {
    double r = tan(M_PI * f / RATE) / tan(M_PI * fc / RATE);
    return 1.0 / (1.0 + pow(r, 8.0));
}

static void test_lowpass_gain(void **state) {
    (void)state;
    const double freqs[] = {55.0, 220.0, 450.0, 900.0, 2000.0};
    for (size_t i = 0; i < sizeof freqs / sizeof freqs[0]; i++) {
        dumu_audio in = sine(freqs[i], 0.5, RATE), out = {0};
        dumu_error err = {0};
        assert_int_equal(dumu_lowpass(&in, 450.0, &out, &err), DUMU_OK);
        assert_int_equal(out.n_frames, in.n_frames);
        assert_int_equal(out.n_channels, 2);
        double gain2 = power_after(&out, RATE / 4) / power_after(&in, RATE / 4);
        double want = bw4_gain2(freqs[i], 450.0);
        /* within 0.1 dB, or both below -60 dB */
        assert_true(fabs(10.0 * log10(gain2 / want)) < 0.1 || (gain2 < 1e-6 && want < 1e-6));
        dumu_audio_deinit(&in);
        dumu_audio_deinit(&out);
    }
}

static void test_lowpass_rejects(void **state) {
    (void)state;
    dumu_audio in = sine(100.0, 0.5, 16), out = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_lowpass(&in, 0.0, &out, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_lowpass(&in, RATE / 2, &out, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_lowpass(NULL, 450.0, &out, &err), DUMU_E_INVALID_ARG);
    assert_null(out.samples);
    dumu_audio empty = {NULL, 0, 1, RATE};
    assert_int_equal(dumu_lowpass(&empty, 450.0, &out, &err), DUMU_OK);
    assert_int_equal(out.n_frames, 0);
    dumu_audio_deinit(&out);
    dumu_audio_deinit(&in);
}

static void test_band_power(void **state) {
    (void)state;
    dumu_audio in_band = sine(110.0, 1.0, RATE), above = sine(3000.0, 1.0, RATE);
    dumu_audio below = sine(8.0, 1.0, RATE);
    /* a unit sine has mean power 1/2; the filters' start-up costs a little of it */
    assert_true(fabs(dumu_band_power(&in_band, DUMU_BASS_BAND_LO_HZ, DUMU_BASS_BAND_HI_HZ) - 0.5) <
                0.02);
    assert_true(dumu_band_power(&above, DUMU_BASS_BAND_LO_HZ, DUMU_BASS_BAND_HI_HZ) < 1e-5);
    assert_true(dumu_band_power(&below, DUMU_BASS_BAND_LO_HZ, DUMU_BASS_BAND_HI_HZ) < 0.01);
    dumu_audio empty = {NULL, 0, 2, RATE};
    assert_true(dumu_band_power(&empty, DUMU_BASS_BAND_LO_HZ, DUMU_BASS_BAND_HI_HZ) == 0.0);
    dumu_audio_deinit(&in_band);
    dumu_audio_deinit(&above);
    dumu_audio_deinit(&below);
}

static void test_choose(void **state) {
    (void)state;
    const dumu_bass_levels silent = {0.0, 0.0, 0.0}, normal = {1e-3, 4e-4, 3e-4},
                           in_other = {1e-3, 1e-6, 8e-4}, no_other = {1e-3, 1e-6, -1.0};
    assert_int_equal(dumu_bass_source_choose(&silent), DUMU_BASS_SOURCE_NONE);
    assert_int_equal(dumu_bass_source_choose(&normal), DUMU_BASS_SOURCE_BASS_STEM);
    assert_int_equal(dumu_bass_source_choose(&in_other), DUMU_BASS_SOURCE_OTHER_STEM);
    assert_int_equal(dumu_bass_source_choose(&no_other), DUMU_BASS_SOURCE_MIX);
    /* contested: the bass stem is kept by the levels but holds less than the other stem */
    const dumu_bass_levels split = {1e-3, 2e-4, 8e-4};
    assert_int_equal(dumu_bass_source_choose(&split), DUMU_BASS_SOURCE_BASS_STEM);
    assert_true(dumu_bass_source_contested(&split));
    assert_false(dumu_bass_source_contested(&normal));
    assert_false(dumu_bass_source_contested(&in_other));
    assert_false(dumu_bass_source_contested(&no_other));
    assert_false(dumu_bass_source_contested(&silent));
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(dumu_bass_source_name(DUMU_BASS_SOURCE_BASS_STEM), "bass_stem");
    assert_string_equal(dumu_bass_source_name(DUMU_BASS_SOURCE_OTHER_STEM), "other_stem");
    assert_string_equal(dumu_bass_source_name(DUMU_BASS_SOURCE_MIX), "mix");
    assert_string_equal(dumu_bass_source_name(DUMU_BASS_SOURCE_NONE), "none");
    assert_null(dumu_bass_source_name((dumu_bass_source)4));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowpass_gain), cmocka_unit_test(test_lowpass_rejects),
        cmocka_unit_test(test_band_power),   cmocka_unit_test(test_choose),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
