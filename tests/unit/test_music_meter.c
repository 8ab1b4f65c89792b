/* Beat phase, meter and downbeat (src/music/meter.c) on hand-made evidence: chroma frames whose
 * chord changes every bar, bass lines that move on the downbeat and repeat on the off-beats;
 * beats given on the off-beats come back onto the beats; 4/4 and 3/4 with their first
 * downbeat; beats a half, a third or a quarter of a beat early are moved onto the beat; no
 * evidence keeps 4/4 from beat 0; bad arguments. The developer sets: dumu eval. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "music/meter.h"
#include "music/quantize.h"
#include "testutil.h"

enum { N_BEATS = 48, FRAMES_PER_BEAT = 20 };

static const double BEAT_S = 0.5, FRAME_S = 0.5 / FRAMES_PER_BEAT;

/* Chroma frames (n_beats * FRAMES_PER_BEAT, 12) of a chord progression that changes every
 * `bar` beats starting at beat `first`: C, F, G, A minor triads in turn. */
static float *chords(int bar, int first, int64_t *n_frames) {
    static const int triads[4][3] = {{0, 4, 7}, {5, 9, 0}, {7, 11, 2}, {9, 0, 4}};
    *n_frames = (int64_t)N_BEATS * FRAMES_PER_BEAT;
    float *c = calloc((size_t)*n_frames * 12, sizeof *c);
    assert_non_null(c);
    for (int64_t t = 0; t < *n_frames; t++) {
        const int beat = (int)(t / FRAMES_PER_BEAT);
        const int chord = ((beat - first + 4 * bar) / bar) % 4;
        for (int j = 0; j < 3; j++)
            c[t * 12 + triads[chord][j]] = 0.577f;
    }
    return c;
}

/* A bass line: the chord's root on each bar's downbeat, repeated on every eighth after it. */
static dumu_note *bass_line(int bar, int first, int64_t *n) {
    static const int roots[4] = {36, 41, 43, 45};
    dumu_note *notes = calloc(2 * N_BEATS, sizeof *notes);
    assert_non_null(notes);
    *n = 0;
    for (int e = 0; e < 2 * N_BEATS; e++) {
        const int beat = e / 2;
        dumu_note *x = &notes[(*n)++];
        x->pitch = roots[((beat - first + 4 * bar) / bar) % 4];
        x->start_s = e * BEAT_S / 2;
        x->end_s = x->start_s + 0.2;
        x->amplitude = 0.6;
    }
    return notes;
}

static double *beats_from(double t0) {
    double *b = malloc(N_BEATS * sizeof *b);
    assert_non_null(b);
    for (int k = 0; k < N_BEATS; k++)
        b[k] = t0 + k * BEAT_S;
    return b;
}

static void test_meter_bars(void **state) {
    (void)state;
    const int cases[][2] = {{4, 0}, {4, 1}, {4, 3}, {3, 0}, {3, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int bar = cases[i][0], first = cases[i][1];
        int64_t nf, nn;
        float *c = chords(bar, first, &nf);
        dumu_note *notes = bass_line(bar, first, &nn);
        double *b = beats_from(0.0);
        dumu_meter m;
        dumu_error err = {0};
        assert_int_equal(dumu_meter_estimate(b, N_BEATS, notes, nn, c, nf, FRAME_S, &m, &err),
                         DUMU_OK);
        assert_int_equal(m.beats_per_bar, bar);
        assert_int_equal(m.first_downbeat, first);
        assert_true(m.confidence > 0.0);
        /* each kind of evidence alone is enough */
        assert_int_equal(dumu_meter_estimate(b, N_BEATS, NULL, 0, c, nf, FRAME_S, &m, &err),
                         DUMU_OK);
        assert_true(m.beats_per_bar == bar && m.first_downbeat == first);
        assert_int_equal(dumu_meter_estimate(b, N_BEATS, notes, nn, NULL, 0, FRAME_S, &m, &err),
                         DUMU_OK);
        assert_true(m.beats_per_bar == bar && m.first_downbeat == first);
        free(b);
        free(notes);
        free(c);
    }
}

static void test_phase_moves_offbeat_beats(void **state) {
    (void)state;
    int64_t nf, nn;
    float *c = chords(4, 0, &nf);
    dumu_note *notes = bass_line(4, 0, &nn);
    dumu_error err = {0};
    /* beats on the "and" of every beat, or a third / a quarter of a beat early (swing,
     * anticipated drums): moved onto the beat, within 1/12 beat */
    const double early[3] = {0.5, 1.0 / 3.0, 0.25};
    for (int e = 0; e < 3; e++) {
        double *b = beats_from(BEAT_S * (1.0 - early[e]));
        double shift = 0.0;
        assert_int_equal(dumu_beats_phase(b, N_BEATS, notes, nn, c, nf, FRAME_S, &shift, &err),
                         DUMU_OK);
        /* the nearest grid on offer, or its neighbour 1/12 beat away (a chord change seen by
         * windows that straddle it by a frame looks alike from both) */
        assert_true(fabs(shift - early[e]) < 1.0 / 12 + 1e-12);
        for (int k = 0; k < N_BEATS; k++)
            assert_true(fabs(b[k] - (k + 1) * BEAT_S) <= BEAT_S / 12 + 1e-9);
        free(b);
    }
    /* beats on the beat stay where they are */
    double *on = beats_from(0.0);
    double shift = 1.0;
    assert_int_equal(dumu_beats_phase(on, N_BEATS, notes, nn, c, nf, FRAME_S, &shift, &err),
                     DUMU_OK);
    assert_true(shift == 0.0);
    assert_true(on[0] == 0.0 && on[N_BEATS - 1] == (N_BEATS - 1) * BEAT_S);
    /* no evidence either way: the tracker's phase stands */
    double *b = beats_from(0.25);
    assert_int_equal(dumu_beats_phase(b, N_BEATS, NULL, 0, NULL, 0, FRAME_S, &shift, &err),
                     DUMU_OK);
    assert_true(shift == 0.0 && b[0] == 0.25);
    free(on);
    free(b);
    free(notes);
    free(c);
}

static void test_no_evidence_and_bad_args(void **state) {
    (void)state;
    double *b = beats_from(0.0);
    dumu_meter m;
    dumu_error err = {0};
    assert_int_equal(dumu_meter_estimate(b, N_BEATS, NULL, 0, NULL, 0, FRAME_S, &m, &err), DUMU_OK);
    assert_true(m.beats_per_bar == 4 && m.first_downbeat == 0 && m.confidence == 0.0);
    assert_int_equal(dumu_meter_estimate(b, 1, NULL, 0, NULL, 0, FRAME_S, &m, &err),
                     DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_meter_estimate(b, N_BEATS, NULL, 3, NULL, 0, FRAME_S, &m, &err),
                     DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_beats_phase(b, N_BEATS, NULL, 0, NULL, 5, FRAME_S, NULL, &err),
                     DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_beats_phase(b, N_BEATS, NULL, 0, NULL, 0, 0.0, NULL, &err),
                     DUMU_E_INVALID_ARG);
    b[3] = b[2]; /* not ascending */
    assert_int_equal(dumu_beats_phase(b, N_BEATS, NULL, 0, NULL, 0, FRAME_S, NULL, &err),
                     DUMU_E_INVALID_ARG);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meter_bars),
        cmocka_unit_test(test_phase_moves_offbeat_beats),
        cmocka_unit_test(test_no_evidence_and_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
