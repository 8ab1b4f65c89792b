/* Beat grid, quantisation and meter (src/music/quantize.c): positions through steady and
 * changing beats, the strength and minimum-length rules on hand-made notes, grid names, a
 * waltz and a 4/4 line for the meter, and the ground-truth bass lines of the test data
 * (DUMU_TESTDATA_DIR): jittered notes come back onto their grid, and the meter and downbeats
 * found with the beat tracker's beats on the mix are printed and checked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "music/quantize.h"
#include "music/score.h"
#include "testutil.h"

static dumu_note note(double on, double off, int32_t pitch, double amp) {
    dumu_note n;
    memset(&n, 0, sizeof n);
    n.start_s = on;
    n.end_s = off;
    n.pitch = pitch;
    n.amplitude = amp;
    return n;
}

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static const dumu_meter m44 = {4, 0, 0.0, false}; /* 4/4, a bar line on beat 0 */

static void test_beat_positions(void **state) {
    (void)state;
    /* 120 BPM for 4 beats, then 60 BPM. */
    const double beats[6] = {1.0, 1.5, 2.0, 2.5, 3.5, 4.5};
    NEAR(dumu_beat_position(beats, 6, 1.0), 0.0);
    NEAR(dumu_beat_position(beats, 6, 1.25), 0.5);
    NEAR(dumu_beat_position(beats, 6, 3.0), 3.5);
    NEAR(dumu_beat_position(beats, 6, 4.5), 5.0);
    NEAR(dumu_beat_position(beats, 6, 0.5), -1.0); /* first interval extrapolated */
    NEAR(dumu_beat_position(beats, 6, 5.5), 6.0);  /* last interval extrapolated */
    for (double t = -1.0; t < 7.0; t += 0.0625) {
        NEAR(dumu_beat_time(beats, 6, dumu_beat_position(beats, 6, t)), t);
    }
    assert_true(dumu_beats_valid(beats, 6));
    assert_false(dumu_beats_valid(beats, 1));
    assert_false(dumu_beats_valid(NULL, 3));
    const double flat[3] = {1.0, 1.0, 2.0};
    assert_false(dumu_beats_valid(flat, 3));
    const double nan_b[3] = {1.0, NAN, 2.0};
    assert_false(dumu_beats_valid(nan_b, 3));
}

static void test_grid_names(void **state) {
    (void)state;
    const char *names[8] = {"1/4", "1/8", "1/16", "1/32", "1/64", "1/8t", "1/16t", "1/32t"};
    const int32_t subs[8] = {1, 2, 4, 8, 16, 3, 6, 12};
    for (int k = 0; k < 8; k++) {
        int32_t s = 0;
        assert_int_equal(dumu_quantize_parse_grid(names[k], &s, NULL), DUMU_OK);
        assert_int_equal(s, subs[k]);
    }
    int32_t s = 0;
    dumu_error err = {0};
    assert_int_equal(dumu_quantize_parse_grid("1/12", &s, &err), DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "1/8t"));
    assert_int_equal(dumu_quantize_parse_grid(NULL, &s, &err), DUMU_E_INVALID_ARG);
}

static void test_quantize_rules(void **state) {
    (void)state;
    const double beats[4] = {0.0, 0.5, 1.0, 1.5}; /* 120 BPM: 16ths are 0.125 s */
    dumu_quantize_params p = dumu_quantize_default_params();
    assert_int_equal(p.subdivisions, 4);
    dumu_note n[4] = {note(0.26, 0.49, 40, 0.5), note(0.52, 0.53, 41, 0.5),
                      note(0.70, 0.74, 42, 0.5), note(-0.11, 0.14, 43, 0.5)};
    dumu_note orig[4];
    memcpy(orig, n, sizeof n);
    assert_int_equal(dumu_quantize_notes(beats, 4, &m44, &p, n, 4, NULL), DUMU_OK);
    NEAR(n[0].start_s, 0.25);
    NEAR(n[0].end_s, 0.5);
    NEAR(n[1].start_s, 0.5); /* 10 ms note: stretched to one 16th */
    NEAR(n[1].end_s, 0.625);
    NEAR(n[2].start_s, 0.75); /* both ends round to 0.75: one step long */
    NEAR(n[2].end_s, 0.875);
    NEAR(n[3].start_s, 0.0); /* before time 0: the file's first grid point */
    NEAR(n[3].end_s, 0.125);
    assert_int_equal(n[0].pitch, 40);

    /* Half strength: half way; zero strength: unchanged. */
    memcpy(n, orig, sizeof n);
    p.strength = 0.5;
    assert_int_equal(dumu_quantize_notes(beats, 4, &m44, &p, n, 4, NULL), DUMU_OK);
    NEAR(n[0].start_s, 0.255);
    NEAR(n[0].end_s, 0.495);
    NEAR(n[1].end_s, 0.5775);
    for (int i = 0; i < 4; i++)
        assert_true(n[i].end_s > n[i].start_s);
    memcpy(n, orig, sizeof n);
    p.strength = 0.0;
    assert_int_equal(dumu_quantize_notes(beats, 4, &m44, &p, n, 4, NULL), DUMU_OK);
    assert_memory_equal(n, orig, sizeof n);

    /* Triplets: 1/8t grid points at 0, 1/6, 1/3 s. */
    memcpy(n, orig, sizeof n);
    p.strength = 1.0;
    p.subdivisions = 3;
    assert_int_equal(dumu_quantize_notes(beats, 4, &m44, &p, n, 4, NULL), DUMU_OK);
    NEAR(n[0].start_s, 1.0 / 3.0);
    NEAR(n[0].end_s, 0.5);

    /* The grid follows a tempo change: 16ths of 0.25 s after the 4th beat. */
    const double slow[5] = {0.0, 0.5, 1.0, 1.5, 2.5};
    dumu_note m = note(1.76, 2.2, 40, 0.5);
    p.subdivisions = 4;
    assert_int_equal(dumu_quantize_notes(slow, 5, &m44, &p, &m, 1, NULL), DUMU_OK);
    NEAR(m.start_s, 1.75);
    NEAR(m.end_s, 2.25);

    /* Invalid arguments. */
    dumu_error err = {0};
    assert_int_equal(dumu_quantize_notes(beats, 1, &m44, &p, n, 4, &err), DUMU_E_INVALID_ARG);
    p.subdivisions = 0;
    assert_int_equal(dumu_quantize_notes(beats, 4, &m44, &p, n, 4, &err), DUMU_E_INVALID_ARG);
    p.subdivisions = 4;
    p.strength = 1.5;
    assert_int_equal(dumu_quantize_notes(beats, 4, &m44, &p, n, 4, &err), DUMU_E_INVALID_ARG);
    p.strength = 1.0;
    n[2].end_s = INFINITY;
    assert_int_equal(dumu_quantize_notes(beats, 4, &m44, &p, n, 4, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_quantize_notes(beats, 4, &m44, &p, NULL, 2, &err), DUMU_E_INVALID_ARG);
}

/* Steady beats of `period` seconds from t0. */
static double *steady_beats(int64_t n, double t0, double period) {
    double *b = malloc((size_t)n * sizeof *b);
    assert_non_null(b);
    for (int64_t i = 0; i < n; i++)
        b[i] = t0 + (double)i * period;
    return b;
}

static void test_meter_synthetic(void **state) {
    (void)state;
    /* A waltz bass: a dotted half... no, a half note on 1 and a quarter on 3, bars starting at
     * beat 2 (a two-beat pickup of quarter notes before). */
    double *beats = steady_beats(50, 0.3, 0.5);
    dumu_note notes[64];
    int n = 0;
    notes[n++] = note(0.3, 0.8, 40, 0.6);
    notes[n++] = note(0.8, 1.3, 43, 0.6);
    for (int bar = 0; bar < 16; bar++) {
        const double t = 0.3 + (2 + 3 * bar) * 0.5;
        notes[n++] = note(t, t + 1.0, 40 + bar % 3, 0.8);
        notes[n++] = note(t + 1.0, t + 1.4, 47, 0.6);
    }
    dumu_meter m;
    dumu_error err = {0};
    assert_int_equal(dumu_meter_estimate(beats, 50, notes, n, &m, &err), DUMU_OK);
    assert_int_equal(m.beats_per_bar, 3);
    assert_int_equal(m.first_downbeat, 2);
    assert_true(m.confidence > 0.0);

    /* A 4/4 line: root for two beats, then two quarters (fifth, octave), bars from beat 1. */
    n = 0;
    for (int bar = 0; bar < 12; bar++) {
        const double t = 0.3 + (1 + 4 * bar) * 0.5;
        notes[n++] = note(t, t + 1.0, 36 + bar % 4, 0.8);
        notes[n++] = note(t + 1.0, t + 1.45, 43, 0.7);
        notes[n++] = note(t + 1.5, t + 1.95, 48, 0.7);
    }
    assert_int_equal(dumu_meter_estimate(beats, 50, notes, n, &m, &err), DUMU_OK);
    assert_int_equal(m.beats_per_bar, 4);
    assert_int_equal(m.first_downbeat, 1);

    /* Steady quarter notes all alike: nothing to tell bars apart -> 4/4, no confidence. */
    n = 0;
    for (int i = 0; i < 40; i++)
        notes[n++] = note(0.3 + i * 0.5, 0.3 + i * 0.5 + 0.4, 40, 0.7);
    assert_int_equal(dumu_meter_estimate(beats, 50, notes, n, &m, &err), DUMU_OK);
    assert_int_equal(m.beats_per_bar, 4);
    assert_true(m.confidence < 0.05);
    assert_int_equal(dumu_meter_estimate(beats, 50, NULL, 0, &m, &err), DUMU_OK);
    assert_int_equal(m.beats_per_bar, 4);
    assert_true(m.confidence == 0.0);
    assert_int_equal(dumu_meter_estimate(beats, 1, notes, n, &m, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(m.beats_per_bar, 4);
    free(beats);
}

static const char *const items[6] = {
    "dm01_freedoom2_d_ddtbl2",           "dm02_freedoom1_d_e3m2",
    "dm03_freedoom2_d_read_m",           "dm04_openmsx_train_filled_with_cash",
    "dm05_openmsx_no_work_song_redfarn", "dm06_blupi_music007"};
static const double item_bpm[6] = {145.0, 150.0, 119.89, 90.0, 110.0, 140.063};

static dumu_note *read_truth(int i, int64_t *n) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/bass_notes.csv", items[i]);
    dumu_note *notes = NULL;
    dumu_error err = {0};
    assert_int_equal(dumu_notes_read_csv(test_path("DUMU_TESTDATA_DIR", rel), &notes, n, &err),
                     DUMU_OK);
    return notes;
}

/* The ground truth of the constant-tempo items, jittered by up to +-40 ms and quantised to
 * 1/16 on the true beat grid (bar-aligned excerpts: beat k at k * 60 / bpm), comes back onto
 * the ground-truth onsets wherever those lie on the 16th grid. */
static void test_testdata_jitter_roundtrip(void **state) {
    (void)state;
    srand(7);
    int n_checked = 0; /* items whose notes lie on the plain 16th grid (dm06's are played late) */
    for (int i = 0; i < 6; i++) {
        if (i == 2) continue; /* dm03's tempo changes inside the excerpt */
        int64_t n = 0;
        dumu_note *truth = read_truth(i, &n);
        double *beats = steady_beats(200, 0.0, 60.0 / item_bpm[i]);
        dumu_note *est = malloc((size_t)n * sizeof *est);
        assert_non_null(est);
        int64_t on_grid = 0, restored = 0;
        for (int64_t k = 0; k < n; k++) {
            est[k] = truth[k];
            const double jitter = ((rand() % 801) - 400) * 1e-4;
            est[k].start_s += jitter;
            est[k].end_s += jitter;
        }
        const dumu_quantize_params p = dumu_quantize_default_params();
        assert_int_equal(dumu_quantize_notes(beats, 200, &m44, &p, est, n, NULL), DUMU_OK);
        const double step = 60.0 / item_bpm[i] / 4;
        for (int64_t k = 0; k < n; k++) {
            const double g = truth[k].start_s / step;
            if (fabs(g - round(g)) * step > 1e-3) continue;
            on_grid++;
            /* 0.1 ms: the CSV has 6 decimals and the MIDI tempo is rounded to whole us per beat */
            restored += fabs(est[k].start_s - truth[k].start_s) < 1e-4;
            assert_true(est[k].end_s - est[k].start_s >= step - 1e-9);
        }
        print_message("%-38s %3lld notes, %3lld on the 16th grid, %3lld restored exactly\n",
                      items[i], (long long)n, (long long)on_grid, (long long)restored);
        n_checked += on_grid >= n * 9 / 10;
        assert_int_equal(restored, on_grid);
        free(est);
        free(beats);
        dumu_free(truth);
    }
    assert_int_equal(n_checked, 4);
}

/* Mean distance (in beats) of beats before 17 s from the true quarter grid of tempo bpm
 * starting at 0 s: near 0 on the beat, near 0.5 on the off-beat eighths. */
static double grid_phase(const double *beats, int64_t n_beats, double bpm) {
    double sum = 0.0;
    int64_t n = 0;
    for (int64_t b = 0; b < n_beats && beats[b] < 17.0; b++, n++) {
        const double ph = beats[b] * bpm / 60.0;
        sum += fabs(ph - round(ph));
    }
    return n ? sum / (double)n : 0.0;
}

/* Beat alignment, meter and downbeats with the beat tracker's beats on each mix and the
 * ground-truth notes. All six items are 4/4 with a bar starting at 0 s; dm03's tempo is 120
 * BPM for its first 17 s (then slows for a bar), so its grid is taken at 120 there. A downbeat
 * counts as right when the chosen first downbeat lies within 70 ms of a true bar start. */
static void test_testdata_meter(void **state) {
    (void)state;
    const double grid_bpm[6] = {145.0, 150.0, 120.0, 90.0, 110.0, 140.063};
    int n_four = 0, n_downbeat = 0, n_on_beat = 0;
    for (int i = 0; i < 6; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "%s/mix.flac", items[i]);
        dumu_audio mix = {0};
        dumu_error err = {0};
        const dumu_decode_params dp = dumu_decode_default_params();
        assert_int_equal(
            dumu_audio_decode_file(test_path("DUMU_TESTDATA_DIR", rel), &dp, &mix, &err), DUMU_OK);
        dumu_tempo t = {0};
        assert_int_equal(dumu_tempo_detect(&mix, NULL, &t, &err), DUMU_OK);
        dumu_audio_deinit(&mix);
        int64_t n = 0;
        dumu_note *truth = read_truth(i, &n);
        const double before = grid_phase(t.beats, t.n_beats, grid_bpm[i]);
        int shifted = 0;
        assert_int_equal(dumu_beats_align_to_notes(t.beats, t.n_beats, truth, n, &shifted, &err),
                         DUMU_OK);
        const double after = grid_phase(t.beats, t.n_beats, grid_bpm[i]);
        n_on_beat += after < 0.25;
        dumu_meter m;
        assert_int_equal(dumu_meter_estimate(t.beats, t.n_beats, truth, n, &m, &err), DUMU_OK);
        const double bar = 4 * 60.0 / grid_bpm[i];
        const double d0 = t.beats[m.first_downbeat];
        const double off = fabs(d0 - bar * round(d0 / bar));
        const int right = off <= 0.070 && m.beats_per_bar == 4;
        n_four += m.beats_per_bar == 4;
        n_downbeat += right;
        print_message("%-36s beats off the grid by %.2f -> %.2f beat%s, %d/4 (confidence %.2f), "
                      "first downbeat %.3f s, %3.0f ms from a bar start%s\n",
                      items[i], before, after, shifted ? " (shifted)" : "", (int)m.beats_per_bar,
                      m.confidence, d0, 1e3 * off, right ? "" : "  <- wrong");
        dumu_free(truth);
        dumu_tempo_deinit(&t);
    }
    print_message("beats on the beat after alignment: %d of 6; 4/4 found on %d of 6; downbeat "
                  "right on %d of 6\n",
                  n_on_beat, n_four, n_downbeat);
    assert_int_equal(n_four, 6);
    assert_true(n_on_beat >= 5);
    assert_true(n_downbeat >= 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beat_positions),
        cmocka_unit_test(test_grid_names),
        cmocka_unit_test(test_quantize_rules),
        cmocka_unit_test(test_meter_synthetic),
        cmocka_unit_test(test_testdata_jitter_roundtrip),
        cmocka_unit_test(test_testdata_meter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
