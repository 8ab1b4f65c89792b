/* Beat grid and quantisation (src/music/quantize.c): positions through steady and changing
 * beats, the strength and minimum-length rules on hand-made notes, grid names, and the
 * ground-truth bass lines of the test data (DUMU_TESTDATA_DIR): jittered notes come back onto
 * their grid. The beat phase and the meter: test_music_meter.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "music/quantize.h"
#include "music/score.h"
#include "testutil.h"

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
    dumu_note n[4] = {test_note(0.26, 0.49, 40, 0.5), test_note(0.52, 0.53, 41, 0.5),
                      test_note(0.70, 0.74, 42, 0.5), test_note(-0.11, 0.14, 43, 0.5)};
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
    dumu_note m = test_note(1.76, 2.2, 40, 0.5);
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

/* Notes that quantising put on one start and pitch become one note, as the MIDI file has them:
 * the first keeps its place with the group's latest end and highest amplitude. */
static void test_merge_collisions(void **state) {
    (void)state;
    dumu_note n[5] = {{0}, {0}, {0}, {0}, {0}};
    const int32_t pitch[5] = {40, 43, 40, 40, 43};
    const double start[5] = {1.0, 1.0, 1.0, 2.0, 1.0}, end[5] = {1.2, 1.1, 1.5, 2.1, 1.3};
    for (int i = 0; i < 5; i++) {
        n[i].pitch = pitch[i];
        n[i].start_s = start[i];
        n[i].end_s = end[i];
        n[i].amplitude = 0.1 * (i + 1);
    }
    assert_int_equal(dumu_quantize_merge(n, 5), 3);
    assert_int_equal(n[0].pitch, 40);
    assert_true(n[0].end_s == 1.5 && fabs(n[0].amplitude - 0.3) < 1e-12);
    assert_int_equal(n[1].pitch, 43);
    assert_true(n[1].end_s == 1.3 && fabs(n[1].amplitude - 0.5) < 1e-12);
    assert_int_equal(n[2].pitch, 40);
    assert_true(n[2].start_s == 2.0);
    assert_int_equal(dumu_quantize_merge(n, 1), 1);
    assert_int_equal(dumu_quantize_merge(NULL, 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beat_positions),
        cmocka_unit_test(test_grid_names),
        cmocka_unit_test(test_quantize_rules),
        cmocka_unit_test(test_merge_collisions),
        cmocka_unit_test(test_testdata_jitter_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
