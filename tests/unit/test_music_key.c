/* Key estimation (src/music/key.c) and mix chroma (src/dsp/chroma.c): profiles and signatures on
 * hand-made cases, chroma of synthetic tones, and the accuracy on the six MIDI renders of the
 * test data (DUMU_TESTDATA_DIR), printed and held at what was measured.
 *
 * Ground truth for the test data comes from each item's excerpt.mid: dm03, dm05 and dm06 carry
 * a key-signature meta event (C, Cm, C); dm01, dm02 and dm04 carry none, so their keys were
 * labelled by hand from the excerpt's notes (all tracks): dm01 B minor (B-G-E-A bass over
 * B C# D E F# G A), dm02 E minor (E phrygian: E with F natural and D), dm04 G minor (G Bb C D
 * F). dm03's event says C major although its harmony centres on A (bass A-E-G-D, A and C the
 * most held classes); the event is kept as the truth and the relative-key confusion shows up in
 * the MIREX score. The judged set is different: nothing here is tuned to these files.
 *
 * Measured (ground-truth bass notes from bass_notes.csv, chroma of mix.flac):
 *     bass notes only      exact 4/6, same signature 4/6, MIREX 4.0/6
 *     mix chroma only      exact 2/6, same signature 3/6, MIREX 2.5/6
 *     both (weight 0.5)    exact 4/6, same signature 4/6, MIREX 4.0/6
 * Misses: dm01 (E minor for B minor: the bass's roots B-G-E-A fit E minor as well; the C# that
 * rules it out is in the upper parts) and dm03 (A major for the event's C major). The
 * Temperley (Kostka-Payne) profiles did worse here (2/6) and are not used. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "dsp/chroma.h"
#include "music/key.h"
#include "music/score.h"
#include "testutil.h"

#ifndef M_PI
#    define M_PI 3.14159265358979323846
#endif

static void test_signatures_and_names(void **state) {
    (void)state;
    assert_int_equal(dumu_key_fifths(0, false), 0);
    assert_int_equal(dumu_key_fifths(9, true), 0);  /* A minor */
    assert_int_equal(dumu_key_fifths(7, false), 1); /* G major */
    assert_int_equal(dumu_key_fifths(4, true), 1);  /* E minor */
    assert_int_equal(dumu_key_fifths(5, false), -1);
    assert_int_equal(dumu_key_fifths(0, true), -3);  /* C minor */
    assert_int_equal(dumu_key_fifths(6, false), -6); /* Gb major */
    assert_int_equal(dumu_key_fifths(3, true), -6);  /* Eb minor */
    assert_int_equal(dumu_key_fifths(1, false), -5);
    assert_int_equal(dumu_key_fifths(1, true), 4);
    /* Relative keys share the signature; every major key's is distinct. */
    int seen[13] = {0};
    for (int32_t t = 0; t < 12; t++) {
        assert_int_equal(dumu_key_fifths(t, false), dumu_key_fifths((t + 9) % 12, true));
        int f = dumu_key_fifths(t, false);
        assert_true(f >= -6 && f <= 6);
        assert_false(seen[f + 6]);
        seen[f + 6] = 1;
    }
    assert_string_equal(dumu_key_name(10, false), "Bb major");
    assert_string_equal(dumu_key_name(6, true), "F# minor");
    assert_string_equal(dumu_key_name(8, true), "G# minor");
}

static void test_profiles_on_scales(void **state) {
    (void)state;
    /* The profile itself correlates 1 with its own key. */
    double ev[12];
    const double maj[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
    for (int p = 0; p < 12; p++)
        ev[(p + 2) % 12] = maj[p];
    assert_true(fabs(dumu_key_correlation(ev, 2, false) - 1.0) < 1e-12);
    for (int p = 0; p < 12; p++)
        ev[p] = 1.0;
    assert_true(dumu_key_correlation(ev, 0, false) == 0.0);

    /* Every major and minor key from a bass line that dwells on tonic and fifth and walks the
     * scale (natural minor), transposed to all 12 tonics. */
    const int major_line[8] = {0, 7, 0, 4, 5, 7, 11, 0};
    const int minor_line[8] = {0, 7, 0, 3, 5, 7, 10, 0};
    const double durs[8] = {1.0, 0.5, 1.0, 0.5, 0.5, 0.5, 0.25, 1.0};
    for (int m = 0; m < 2; m++) {
        for (int32_t t = 0; t < 12; t++) {
            dumu_note notes[8];
            double at = 0.0;
            for (int i = 0; i < 8; i++) {
                notes[i] =
                    test_note(at, at + durs[i], 28 + t + (m ? minor_line[i] : major_line[i]), 0.8);
                at += durs[i];
            }
            dumu_key k;
            dumu_error err = {0};
            assert_int_equal(dumu_key_estimate(notes, 8, NULL, NULL, &k, &err), DUMU_OK);
            assert_int_equal(k.tonic, (28 + t) % 12);
            assert_int_equal(k.minor, m == 1);
            assert_int_equal(k.fifths, dumu_key_fifths(k.tonic, k.minor));
            assert_true(k.confidence > 0.0 && k.correlation > 0.5);
        }
    }

    /* Duration and amplitude weight the histogram; bad notes add nothing. */
    const dumu_note h[4] = {test_note(0, 2, 40, 0.5), test_note(0, 1, 52, 1.0),
                            test_note(0, 1, 41, NAN), test_note(1, 0.5, 43, 1.0)};
    double hist[12];
    dumu_key_histogram(h, 4, hist);
    assert_true(fabs(hist[4] - 2.0) < 1e-12);
    assert_true(hist[5] == 0.0 && hist[7] == 0.0);

    /* No evidence: C major, zero confidence. */
    dumu_key k;
    assert_int_equal(dumu_key_estimate(NULL, 0, NULL, NULL, &k, NULL), DUMU_OK);
    assert_true(k.tonic == 0 && !k.minor && k.confidence == 0.0);

    /* Chroma alone decides when there are no notes; a weight of 0 ignores it. */
    float chroma[12] = {0};
    const int a_minor_triads[] = {9, 0, 4, 2, 5, 9, 4, 7, 11, 9, 0, 4};
    for (size_t i = 0; i < sizeof a_minor_triads / sizeof a_minor_triads[0]; i++)
        chroma[a_minor_triads[i]] += 1.0f;
    assert_int_equal(dumu_key_estimate(NULL, 0, chroma, NULL, &k, NULL), DUMU_OK);
    assert_int_equal(k.tonic, 9);
    assert_true(k.minor);
    const dumu_note g_line[3] = {test_note(0, 1, 31, 1), test_note(1, 2, 38, 1),
                                 test_note(2, 3, 35, 1)};
    dumu_key_params kp = dumu_key_default_params();
    kp.chroma_weight = 0.0;
    assert_int_equal(dumu_key_estimate(g_line, 3, chroma, &kp, &k, NULL), DUMU_OK);
    assert_int_equal(k.tonic, 7);
    assert_false(k.minor);

    /* Invalid arguments. */
    dumu_error err = {0};
    kp.chroma_weight = 1.5;
    assert_int_equal(dumu_key_estimate(g_line, 3, chroma, &kp, &k, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_key_estimate(NULL, 3, chroma, NULL, &k, &err), DUMU_E_INVALID_ARG);
    chroma[3] = -1.0f;
    assert_int_equal(dumu_key_estimate(g_line, 3, chroma, NULL, &k, &err), DUMU_E_INVALID_ARG);
}

/* Sum of sines at the given MIDI pitches, each with three harmonics, sr Hz. */
static float *tones(const int *pitches, int n_pitches, double seconds, int sr, int64_t *n) {
    *n = (int64_t)(seconds * sr);
    float *x = calloc((size_t)*n, sizeof *x);
    assert_non_null(x);
    for (int k = 0; k < n_pitches; k++) {
        const double f0 = 440.0 * pow(2.0, (pitches[k] - 69) / 12.0);
        for (int h = 1; h <= 3; h++) {
            for (int64_t i = 0; i < *n; i++)
                x[i] += (float)(0.1 / h * sin(2.0 * M_PI * f0 * h * (double)i / sr));
        }
    }
    return x;
}

static void test_chroma_of_tones(void **state) {
    (void)state;
    /* A C major triad (C3 E3 G3) at 44.1 and 22.05 kHz: C, E, G (and G's 3rd harmonic D, C's
     * 3rd harmonic G) dominate; the classes outside the triad and its harmonics stay small. */
    const int triad[3] = {48, 52, 55};
    const int rates[2] = {44100, 22050};
    for (int r = 0; r < 2; r++) {
        int64_t n = 0;
        float *x = tones(triad, 3, 2.0, rates[r], &n);
        float c[12];
        assert_int_equal(dumu_chroma_mean(x, n, rates[r], c, NULL), DUMU_OK);
        double sum = 0.0;
        for (int p = 0; p < 12; p++)
            sum += (double)c[p];
        assert_true(fabs(sum - 1.0) < 1e-4);
        const int off_triad[5] = {1, 3, 6, 8, 10};
        for (int k = 0; k < 5; k++) {
            assert_true(c[off_triad[k]] < c[0] / 4 && c[off_triad[k]] < c[4] / 4);
        }
        assert_true(c[0] > 0.12f && c[4] > 0.12f && c[7] > 0.12f);
        free(x);
    }
    /* A single A1 (55 Hz, bins of 2.7 Hz): still mostly class A once the harmonics count. */
    const int a1[1] = {33};
    int64_t n = 0;
    float *x = tones(a1, 1, 2.0, 44100, &n);
    float c[12];
    assert_int_equal(dumu_chroma_mean(x, n, 44100, c, NULL), DUMU_OK);
    for (int p = 0; p < 12; p++) {
        if (p != 9 && p != 4) assert_true(c[p] < c[9]);
    }
    /* Silence: all zeros, not an error. */
    memset(x, 0, (size_t)n * sizeof *x);
    assert_int_equal(dumu_chroma_mean(x, n, 44100, c, NULL), DUMU_OK);
    for (int p = 0; p < 12; p++)
        assert_true(c[p] == 0.0f);
    assert_int_equal(dumu_chroma_mean(x, 0, 44100, c, NULL), DUMU_OK);
    /* Invalid arguments. */
    dumu_error err = {0};
    assert_int_equal(dumu_chroma_mean(x, n, 4000, c, &err), DUMU_E_INVALID_ARG);
    x[5] = NAN;
    assert_int_equal(dumu_chroma_mean(x, n, 44100, c, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_chroma_mean(NULL, 5, 44100, c, &err), DUMU_E_INVALID_ARG);
    free(x);
    for (int64_t k = 1; k <= 6; k++) {
        dumu_alloc_fail_after(k);
        const int one[1] = {45};
        int64_t m = 0;
        float *y = tones(one, 1, 0.5, 22050, &m);
        dumu_status rc = dumu_chroma_mean(y, m, 22050, c, NULL);
        int64_t made = dumu_alloc_fail_after(0);
        free(y);
        if (made < k) {
            assert_int_equal(rc, DUMU_OK);
            break;
        }
        assert_int_equal(rc, DUMU_E_NOMEM);
    }
}

/* Reads a whole mix as mono at its own rate (the mean of the channels). */
static dumu_audio read_mono(const char *path) {
    dumu_decode_params dp = dumu_decode_default_params();
    dp.n_channels = 1;
    dumu_audio a = {0};
    dumu_error err = {0};
    if (dumu_audio_decode_file(path, &dp, &a, &err)) {
        print_error("%s: %s\n", path, err.message);
        fail();
    }
    return a;
}

static void test_testdata_accuracy(void **state) {
    (void)state;

    static const struct {
        const char *id;
        int32_t tonic;
        bool minor;
        const char *source;
    } items[6] = {
        {"dm01_freedoom2_d_ddtbl2", 11, true, "hand"},
        {"dm02_freedoom1_d_e3m2", 4, true, "hand"},
        {"dm03_freedoom2_d_read_m", 0, false, "event"},
        {"dm04_openmsx_train_filled_with_cash", 7, true, "hand"},
        {"dm05_openmsx_no_work_song_redfarn", 0, true, "event"},
        {"dm06_blupi_music007", 0, false, "event"},
    };

    const char *modes[3] = {"bass notes", "mix chroma", "both (0.5)"};
    int exact[3] = {0}, same_sig[3] = {0};
    double mirex[3] = {0};
    print_message("%-38s %-16s | %-10s %-10s %-10s\n", "item", "truth", modes[0], modes[1],
                  modes[2]);
    for (int i = 0; i < 6; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "%s/bass_notes.csv", items[i].id);
        dumu_note *notes = NULL;
        int64_t n = 0;
        dumu_error err = {0};
        assert_int_equal(dumu_notes_read_csv(test_path("DUMU_TESTDATA_DIR", rel), &notes, &n, &err),
                         DUMU_OK);
        snprintf(rel, sizeof rel, "%s/mix.flac", items[i].id);
        dumu_audio mix = read_mono(test_path("DUMU_TESTDATA_DIR", rel));
        float chroma[12];
        assert_int_equal(dumu_chroma_mean(mix.samples, mix.n_frames, mix.sample_rate, chroma, &err),
                         DUMU_OK);
        dumu_audio_deinit(&mix);

        char line[3][32];
        for (int m = 0; m < 3; m++) {
            dumu_key_params kp = dumu_key_default_params();
            dumu_key k;
            if (m == 0) kp.chroma_weight = 0.0;
            if (m == 1) kp.chroma_weight = 1.0;
            assert_int_equal(dumu_key_estimate(notes, n, chroma, &kp, &k, &err), DUMU_OK);
            const double s = dumu_score_key(items[i].tonic, items[i].minor, k.tonic, k.minor);
            exact[m] += s == 1.0;
            mirex[m] += s;
            same_sig[m] += k.fifths == dumu_key_fifths(items[i].tonic, items[i].minor);
            snprintf(line[m], sizeof line[m], "%s", dumu_key_name(k.tonic, k.minor));
        }
        char truth[40];
        snprintf(truth, sizeof truth, "%s (%s)", dumu_key_name(items[i].tonic, items[i].minor),
                 items[i].source);
        print_message("%-38s %-16s | %-10s %-10s %-10s\n", items[i].id, truth, line[0], line[1],
                      line[2]);
        dumu_free(notes);
    }
    for (int m = 0; m < 3; m++) {
        print_message("%-11s exact %d/6, same key signature %d/6, MIREX weighted %.2f/6\n",
                      modes[m], exact[m], same_sig[m], mirex[m]);
    }
    /* Held at the measured values (see the report in the file's header comment). */
    assert_true(exact[2] >= 4);
    assert_true(mirex[2] >= 4.0);
}

/* A key is named only from notes of three pitch classes or more, with some evidence. */
static void test_key_found(void **state) {
    (void)state;
    dumu_key k = {9, true, 0, 0.8, 0.1};
    dumu_note n[3] = {{0}, {0}, {0}};
    n[0].pitch = 45; /* A */
    n[1].pitch = 57; /* A again */
    n[2].pitch = 48; /* C */
    assert_false(dumu_key_found(&k, n, 0));
    assert_false(dumu_key_found(&k, n, 3)); /* two pitch classes */
    n[1].pitch = 52;                        /* E */
    assert_true(dumu_key_found(&k, n, 3));
    k.confidence = 0.0; /* no evidence */
    assert_false(dumu_key_found(&k, n, 3));
    assert_false(dumu_key_found(NULL, n, 3));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_found),          cmocka_unit_test(test_signatures_and_names),
        cmocka_unit_test(test_profiles_on_scales), cmocka_unit_test(test_chroma_of_tones),
        cmocka_unit_test(test_testdata_accuracy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
