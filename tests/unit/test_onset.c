/* Note starts and ends from the source's energy (src/dsp/onset.c) on synthetic audio: a 55 Hz
 * tone that starts and stops at known times. */
#include <math.h>
#include <stdlib.h>

#include "dsp/onset.h"
#include "testutil.h"

#ifndef M_PI
#    define M_PI 3.14159265358979323846
#endif

#define RATE 22050.0

/* n samples: silence, then a 55 Hz sine (amplitude 0.5) from `on` seconds to `off`. */
static float *tone(int64_t n, double on, double off) {
    float *x = calloc((size_t)n, sizeof *x);
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / RATE;
        if (t >= on && t < off) x[i] = (float)(0.5 * sin(2.0 * M_PI * 55.0 * (t - on)));
    }
    return x;
}

static dumu_note note_at(double start, double end) {
    dumu_note nt = {0};
    nt.pitch = 33;
    nt.start_s = start;
    nt.end_s = end;
    nt.amplitude = 0.5;
    return nt;
}

/* The largest rise (silence to tone) is at the last window that starts on or before the
 * attack (the window before it is all silence), and a late start moves back onto the attack; a start in the middle of the steady
 * tone has no climb near it and stays. */
static void test_attack_found(void **state) {
    (void)state;
    int64_t n = (int64_t)(3.0 * RATE);
    float *x = tone(n, 1.0, 2.5);
    dumu_energy_rise r = {0};
    assert_int_equal(dumu_energy_rise_compute(x, n, RATE, &r, NULL), DUMU_OK);
    assert_true(r.n > 900 && fabs(r.hop_s - 64.0 / RATE) < 1e-12);
    int64_t top = 0;
    for (int64_t t = 1; t < r.n; t++)
        if (r.rise[t] > r.rise[top]) top = t;
    double top_s = (double)top * r.hop_s;
    assert_true(top_s > 1.0 - r.hop_s && top_s <= 1.0);
    assert_true(r.rise[top] > 10.0f);
    assert_true(fabsf(r.rise[top + 30]) < 1.0f); /* steady tone: no climb */

    dumu_note notes[2] = {note_at(1.04, 1.5), note_at(1.9, 2.4)};
    dumu_refine_onsets(&r, notes, 2);
    assert_true(fabs(notes[0].start_s - 1.0) < 0.006);
    assert_true(notes[1].start_s == 1.9); /* no rise near it */
    assert_true(notes[0].end_s == 1.5 && notes[0].pitch == 33 && notes[0].amplitude == 0.5);
    dumu_energy_rise_deinit(&r);
    free(x);
}

/* A start never moves to within DUMU_RISE_GAP_S of the note before, nor past its own end. */
static void test_guards(void **state) {
    (void)state;
    int64_t n = (int64_t)(2.0 * RATE);
    float *x = tone(n, 1.0, 1.8);
    dumu_energy_rise r = {0};
    assert_int_equal(dumu_energy_rise_compute(x, n, RATE, &r, NULL), DUMU_OK);
    /* the attack at 1.0 is within reach of all three */
    dumu_note notes[3] = {note_at(0.99, 1.5), note_at(1.03, 1.6), note_at(1.04, 1.06)};
    dumu_refine_onsets(&r, notes, 3);
    assert_true(fabs(notes[0].start_s - 1.0) < 0.006);
    assert_true(notes[1].start_s == 1.03); /* the search starts 30 ms after 0.99: past 1.0 */
    assert_true(notes[2].start_s == 1.04); /* its own end leaves no room */
    dumu_energy_rise_deinit(&r);
    free(x);
}

/* An end that runs on past the tone's stop moves back onto it; an end inside the steady tone,
 * a stop further back than DUMU_FALL_BEFORE_S and a stop within DUMU_FALL_KEEP_S of the start
 * leave the end where it is. */
static void test_release_found(void **state) {
    (void)state;
    int64_t n = (int64_t)(3.0 * RATE);
    float *x = tone(n, 1.0, 1.6);
    dumu_energy_rise r = {0};
    assert_int_equal(dumu_energy_rise_compute(x, n, RATE, &r, NULL), DUMU_OK);
    dumu_note notes[4] = {note_at(1.0, 1.75), note_at(1.0, 1.4), note_at(1.0, 2.0),
                          note_at(1.56, 1.7)};
    for (int i = 0; i < 4; i++)
        dumu_refine_offsets(&r, &notes[i], 1);
    assert_true(fabs(notes[0].end_s - 1.6) < 0.006);
    assert_true(notes[0].start_s == 1.0 && notes[0].pitch == 33 && notes[0].amplitude == 0.5);
    assert_true(notes[1].end_s == 1.4); /* no fall in the steady tone */
    assert_true(notes[2].end_s == 2.0); /* the stop is 0.4 s back: out of reach */
    assert_true(notes[3].end_s == 1.7); /* the stop is 0.04 s after its start */
    dumu_energy_rise_deinit(&r);
    free(x);
}

static void test_short_and_bad(void **state) {
    (void)state;
    float x[100] = {0};
    dumu_energy_rise r = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_energy_rise_compute(x, 100, RATE, &r, &err), DUMU_OK);
    assert_int_equal(r.n, 0);
    dumu_note nt = note_at(0.001, 0.002);
    dumu_refine_onsets(&r, &nt, 1); /* nothing to search: unchanged */
    dumu_refine_offsets(&r, &nt, 1);
    assert_true(nt.start_s == 0.001 && nt.end_s == 0.002);
    dumu_energy_rise_deinit(&r);
    assert_int_equal(dumu_energy_rise_compute(NULL, 100, RATE, &r, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_energy_rise_compute(x, -1, RATE, &r, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_energy_rise_compute(x, 100, 10.0, &r, &err), DUMU_E_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attack_found),
        cmocka_unit_test(test_guards),
        cmocka_unit_test(test_release_found),
        cmocka_unit_test(test_short_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
