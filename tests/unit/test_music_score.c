/* Transcription scorer (src/music/score.c): the matching rules and tolerance boundaries on
 * hand-made notes, a case where a greedy matcher loses a match that the maximum matching
 * keeps, the matching size against exhaustive search on random small cases, tempo and key
 * scores, SDR, the bass_notes.csv reader on the test data (DUMU_TESTDATA_DIR) and the scores of
 * altered ground truth. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "music/score.h"
#include "testutil.h"

static dumu_note note(double on, double off, int32_t pitch) {
    dumu_note n;
    memset(&n, 0, sizeof n);
    n.start_s = on;
    n.end_s = off;
    n.pitch = pitch;
    n.amplitude = 0.5;
    return n;
}

static int64_t match(const dumu_note *ref, int64_t n_ref, const dumu_note *est, int64_t n_est,
                     dumu_match_rule rule) {
    int64_t m = -1;
    dumu_error err = {0};
    assert_int_equal(dumu_score_match(ref, n_ref, est, n_est, rule, NULL, &m, NULL, &err), DUMU_OK);
    return m;
}

/* Greedy matching as a naive scorer would do it: repeatedly take the admissible pair with the
 * smallest onset distance among free notes. */
static int64_t greedy_onset_match(const dumu_note *ref, int n_ref, const dumu_note *est,
                                  int n_est) {
    int ref_used[16] = {0}, est_used[16] = {0};
    int64_t m = 0;
    for (;;) {
        int bi = -1, bj = -1;
        double best = 1e9;
        for (int i = 0; i < n_ref; i++) {
            for (int j = 0; j < n_est; j++) {
                double d = fabs(ref[i].start_s - est[j].start_s);
                if (ref_used[i] || est_used[j] || ref[i].pitch != est[j].pitch || d > 0.05)
                    continue;
                if (d < best) {
                    best = d;
                    bi = i;
                    bj = j;
                }
            }
        }
        if (bi < 0) return m;
        ref_used[bi] = est_used[bj] = 1;
        m++;
    }
}

static void test_greedy_fails_maximum_does_not(void **state) {
    (void)state;
    /* E0 (0.029) is nearest to R0 (0.000) and within reach of R1 (0.060); E1 (-0.045) only
     * reaches R0. Greedy gives E0 to R0 and strands R1; the maximum matching is R0-E1, R1-E0. */
    const dumu_note ref[2] = {note(0.000, 0.5, 40), note(0.060, 0.5, 40)};
    const dumu_note est[2] = {note(0.029, 0.5, 40), note(-0.045, 0.5, 40)};
    assert_int_equal(greedy_onset_match(ref, 2, est, 2), 1);
    int64_t m = 0, of_ref[2];
    dumu_error err = {0};
    assert_int_equal(dumu_score_match(ref, 2, est, 2, DUMU_MATCH_ONSET, NULL, &m, of_ref, &err),
                     DUMU_OK);
    assert_int_equal(m, 2);
    assert_int_equal(of_ref[0], 1);
    assert_int_equal(of_ref[1], 0);

    /* A longer chain: each flip must propagate through three earlier matches. */
    const dumu_note r4[4] = {note(0.00, 1, 50), note(0.06, 1, 50), note(0.12, 1, 50),
                             note(0.18, 1, 50)};
    const dumu_note e4[4] = {note(0.029, 1, 50), note(0.089, 1, 50), note(0.149, 1, 50),
                             note(-0.045, 1, 50)};
    assert_true(greedy_onset_match(r4, 4, e4, 4) < 4);
    assert_int_equal(match(r4, 4, e4, 4, DUMU_MATCH_ONSET), 4);
}

static void test_onset_rules_and_boundaries(void **state) {
    (void)state;
    const dumu_note r[1] = {note(1.0, 2.0, 40)};
    /* 50 ms exactly (with float noise) counts, 50.1 ms does not. */
    dumu_note e = note(1.0 + 0.05 + 1e-9, 2.0, 40);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET), 1);
    e = note(1.0 - 0.05, 2.0, 40);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET), 1);
    e = note(1.0501, 2.0, 40);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET), 0);
    /* Pitch: exact for onset, pitch class for chroma. */
    e = note(1.0, 2.0, 52);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET), 0);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET_CHROMA), 1);
    e = note(1.0, 2.0, 28);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET_CHROMA), 1);
    e = note(1.0, 2.0, 41);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET_CHROMA), 0);

    /* Offsets: 1 s reference -> tolerance 0.2 s; 0.1 s reference -> the 50 ms floor. */
    e = note(1.01, 2.19, 40);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET_OFFSET), 1);
    e = note(1.01, 1.80, 40);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET_OFFSET), 1);
    e = note(1.01, 2.21, 40);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET_OFFSET), 0);
    assert_int_equal(match(r, 1, &e, 1, DUMU_MATCH_ONSET), 1);
    const dumu_note shortr = note(1.0, 1.1, 40);
    e = note(1.0, 1.15, 40);
    assert_int_equal(match(&shortr, 1, &e, 1, DUMU_MATCH_ONSET_OFFSET), 1);
    e = note(1.0, 1.151, 40);
    assert_int_equal(match(&shortr, 1, &e, 1, DUMU_MATCH_ONSET_OFFSET), 0);

    /* Custom tolerances. */
    dumu_score_params p = dumu_score_default_params();
    p.onset_tol_s = 0.1;
    e = note(1.08, 2.0, 40);
    int64_t m = 0;
    assert_int_equal(dumu_score_match(r, 1, &e, 1, DUMU_MATCH_ONSET, &p, &m, NULL, NULL), DUMU_OK);
    assert_int_equal(m, 1);
}

static void test_one_to_one_and_prf(void **state) {
    (void)state;
    /* Two estimates on one reference: one match; precision 1/2, recall 1. */
    const dumu_note r[1] = {note(0.5, 1.0, 33)};
    const dumu_note e[2] = {note(0.5, 1.0, 33), note(0.51, 1.0, 33)};
    dumu_note_scores s;
    assert_int_equal(dumu_score_notes(r, 1, e, 2, NULL, &s, NULL), DUMU_OK);
    assert_int_equal(s.onset.n_matched, 1);
    assert_true(fabs(s.onset.precision - 0.5) < 1e-12);
    assert_true(fabs(s.onset.recall - 1.0) < 1e-12);
    assert_true(fabs(s.onset.f1 - 2.0 / 3.0) < 1e-12);
    /* Empty lists score 0, as mir_eval. */
    assert_int_equal(dumu_score_notes(r, 1, NULL, 0, NULL, &s, NULL), DUMU_OK);
    assert_true(s.onset.f1 == 0.0 && s.onset.precision == 0.0 && s.onset.n_ref == 1);
    assert_int_equal(dumu_score_notes(NULL, 0, NULL, 0, NULL, &s, NULL), DUMU_OK);
    assert_true(s.chroma.f1 == 0.0);
}

/* Exhaustive maximum matching over an admissibility matrix (n <= 8). */
static int brute_max(int adm[8][8], int n_ref, int n_est, int i, unsigned used) {
    if (i == n_ref) return 0;
    int best = brute_max(adm, n_ref, n_est, i + 1, used);
    for (int j = 0; j < n_est; j++) {
        if (adm[i][j] && !(used & (1u << j))) {
            int v = 1 + brute_max(adm, n_ref, n_est, i + 1, used | (1u << j));
            if (v > best) best = v;
        }
    }
    return best;
}

static void test_random_against_exhaustive(void **state) {
    (void)state;
    srand(12345);
    for (int trial = 0; trial < 2000; trial++) {
        int n_ref = rand() % 8 + 1, n_est = rand() % 8 + 1;
        dumu_note r[8], e[8];
        for (int i = 0; i < n_ref; i++) {
            double on = (rand() % 40) * 0.01;
            r[i] = note(on, on + 0.05 + (rand() % 30) * 0.01, 40 + (rand() % 3) * 12 + rand() % 2);
        }
        for (int j = 0; j < n_est; j++) {
            double on = (rand() % 40) * 0.01;
            e[j] = note(on, on + 0.05 + (rand() % 30) * 0.01, 40 + (rand() % 3) * 12 + rand() % 2);
        }
        const dumu_match_rule rules[3] = {DUMU_MATCH_ONSET, DUMU_MATCH_ONSET_OFFSET,
                                          DUMU_MATCH_ONSET_CHROMA};
        for (int k = 0; k < 3; k++) {
            int adm[8][8] = {{0}};
            for (int i = 0; i < n_ref; i++) {
                for (int j = 0; j < n_est; j++) {
                    /* The rules restated independently, on integer centiseconds (no rounding
                     * question: every time above is a multiple of 10 ms). */
                    long don = lround(fabs(r[i].start_s - e[j].start_s) * 100);
                    long doff = lround(fabs(r[i].end_s - e[j].end_s) * 100);
                    long dur = lround((r[i].end_s - r[i].start_s) * 100);
                    int dp = abs(r[i].pitch - e[j].pitch);
                    int ok = don <= 5;
                    if (rules[k] == DUMU_MATCH_ONSET_CHROMA) {
                        ok = ok && dp % 12 == 0;
                    } else {
                        ok = ok && dp == 0;
                    }
                    if (rules[k] == DUMU_MATCH_ONSET_OFFSET) {
                        ok = ok && doff * 10 <= (dur * 2 > 50 ? dur * 2 : 50);
                    }
                    adm[i][j] = ok;
                }
            }
            int64_t m = -1, of_ref[8];
            assert_int_equal(dumu_score_match(r, n_ref, e, n_est, rules[k], NULL, &m, of_ref, NULL),
                             DUMU_OK);
            assert_int_equal(m, brute_max(adm, n_ref, n_est, 0, 0));
            /* The reported matching is one-to-one and admissible. */
            unsigned used = 0;
            int64_t count = 0;
            for (int i = 0; i < n_ref; i++) {
                if (of_ref[i] < 0) continue;
                assert_true(adm[i][of_ref[i]]);
                assert_false(used & (1u << of_ref[i]));
                used |= 1u << of_ref[i];
                count++;
            }
            assert_int_equal(count, m);
        }
    }
}

static void test_tempo_and_key(void **state) {
    (void)state;
    assert_true(dumu_score_tempo(124.0, 120.0, 0.04));
    assert_true(dumu_score_tempo(115.2, 120.0, 0.04));
    assert_false(dumu_score_tempo(125.0, 120.0, 0.04));
    assert_false(dumu_score_tempo(240.0, 120.0, 0.04));
    assert_false(dumu_score_tempo(120.0, 0.0, 0.04));
    assert_true(dumu_score_tempo_tolerant(240.0, 120.0, 0.04));
    assert_true(dumu_score_tempo_tolerant(61.0, 120.0, 0.04));
    assert_true(dumu_score_tempo_tolerant(180.0, 120.0, 0.04));
    assert_true(dumu_score_tempo_tolerant(80.0, 120.0, 0.04));
    assert_false(dumu_score_tempo_tolerant(360.0, 120.0, 0.04));
    assert_false(dumu_score_tempo_tolerant(100.0, 120.0, 0.04));

    /* C major reference (0, major). */
    assert_true(dumu_score_key(0, false, 0, false) == 1.0);
    assert_true(dumu_score_key(0, false, 7, false) == 0.5); /* G major: fifth above */
    assert_true(dumu_score_key(0, false, 5, false) == 0.0); /* F major: fifth below */
    assert_true(dumu_score_key(0, false, 9, true) == 0.3);  /* A minor: relative */
    assert_true(dumu_score_key(0, false, 0, true) == 0.2);  /* C minor: parallel */
    assert_true(dumu_score_key(0, false, 2, false) == 0.0);
    /* A minor reference (9, minor). */
    assert_true(dumu_score_key(9, true, 4, true) == 0.5);  /* E minor */
    assert_true(dumu_score_key(9, true, 0, false) == 0.3); /* C major: relative */
    assert_true(dumu_score_key(9, true, 9, false) == 0.2); /* A major: parallel */
    assert_true(dumu_score_key(9, true, 4, false) == 0.0);
}

static void test_sdr(void **state) {
    (void)state;
    float ref[1000], est[1000];
    for (int i = 0; i < 1000; i++) {
        ref[i] = (float)sin(0.05 * i);
        est[i] = 0.9f * ref[i]; /* error 0.1 ref: 20 dB */
    }
    assert_true(fabs(dumu_score_sdr(ref, est, 1000) - 20.0) < 1e-3);
    memcpy(est, ref, sizeof est);
    assert_true(dumu_score_sdr(ref, est, 1000) > 80.0);
    memset(est, 0, sizeof est);
    assert_true(fabs(dumu_score_sdr(ref, est, 1000)) < 1e-6); /* silence: 0 dB */
    memset(ref, 0, sizeof ref);
    assert_true(dumu_score_sdr(ref, est, 1000) == 0.0);
    assert_true(dumu_score_sdr(NULL, NULL, 0) == 0.0);

    /* The test data's bass stem against the mix it sits in: the rest of the mix is the error.
     * bass.flac is the bass part at the mix's gain, so the SDR is the bass-to-rest ratio:
     * negative (the manifest's RMS levels put the bass 10 dB under the mix). */
    dumu_audio bass = {0}, mix = {0};
    dumu_error err = {0};
    const char *dir = "dm01_freedoom2_d_ddtbl2";
    char rel[256];
    snprintf(rel, sizeof rel, "%s/bass.flac", dir);
    assert_int_equal(dumu_audio_decode_file(test_path("DUMU_TESTDATA_DIR", rel), NULL, &bass, &err),
                     DUMU_OK);
    snprintf(rel, sizeof rel, "%s/mix.flac", dir);
    assert_int_equal(dumu_audio_decode_file(test_path("DUMU_TESTDATA_DIR", rel), NULL, &mix, &err),
                     DUMU_OK);
    assert_int_equal(bass.n_frames, mix.n_frames);
    const int64_t n = bass.n_frames * bass.n_channels;
    const double sdr_mix = dumu_score_sdr(bass.samples, mix.samples, n);
    const double sdr_self = dumu_score_sdr(bass.samples, bass.samples, n);
    print_message("SDR of dm01's mix as a bass estimate: %.2f dB\n", sdr_mix);
    assert_true(sdr_mix < -5.0 && sdr_mix > -15.0);
    assert_true(sdr_self > 100.0);
    dumu_audio_deinit(&bass);
    dumu_audio_deinit(&mix);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    const dumu_note r[1] = {note(0.5, 1.0, 33)};
    dumu_note bad = note(NAN, 1.0, 33);
    int64_t m = 0;
    dumu_error err = {0};
    assert_int_equal(dumu_score_match(r, 1, &bad, 1, DUMU_MATCH_ONSET, NULL, &m, NULL, &err),
                     DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "non-finite"));
    assert_int_equal(dumu_score_match(NULL, 2, r, 1, DUMU_MATCH_ONSET, NULL, &m, NULL, &err),
                     DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_score_match(r, -1, r, 1, DUMU_MATCH_ONSET, NULL, &m, NULL, &err),
                     DUMU_E_INVALID_ARG);
    dumu_score_params p = dumu_score_default_params();
    p.onset_tol_s = -1;
    assert_int_equal(dumu_score_match(r, 1, r, 1, DUMU_MATCH_ONSET, &p, &m, NULL, &err),
                     DUMU_E_INVALID_ARG);
}

static void test_allocation_failures(void **state) {
    (void)state;
    const dumu_note r[2] = {note(0.5, 1.0, 33), note(0.7, 1.0, 33)};
    for (int64_t k = 1; k <= 7; k++) {
        int64_t m = -1;
        dumu_alloc_fail_after(k);
        dumu_status rc = dumu_score_match(r, 2, r, 2, DUMU_MATCH_ONSET, NULL, &m, NULL, NULL);
        dumu_alloc_fail_after(0);
        assert_int_equal(rc, DUMU_E_NOMEM);
        assert_int_equal(m, 0);
    }
}

static void test_csv_reader_errors(void **state) {
    (void)state;
    dumu_note *notes = (dumu_note *)1;
    int64_t n = -1;
    dumu_error err = {0};
    assert_int_equal(dumu_notes_read_csv("/nonexistent/bass_notes.csv", &notes, &n, &err),
                     DUMU_E_IO);
    assert_null(notes);
    assert_int_equal(n, 0);
    const char *bad[] = {"onset_s,offset_s,midi_pitch,velocity\n0.5,0.4,40,100\n",
                         "onset_s,offset_s,midi_pitch,velocity\n0.5,0.6,140,100\n",
                         "onset_s,offset_s,midi_pitch,velocity\n0.5,0.6,40\n",
                         "onset_s,offset_s,midi_pitch,velocity\n0.5,0.6,40,100,7\n",
                         "onset_s,offset_s,midi_pitch,velocity\nnan,0.6,40,100\n"};
    char dir[] = "/tmp/dumu_score_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(bad[k], f);
        fclose(f);
        assert_int_equal(dumu_notes_read_csv(path, &notes, &n, &err), DUMU_E_FORMAT);
        assert_null(notes);
        assert_non_null(strstr(err.message, ":2:"));
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("onset_s,offset_s,midi_pitch,velocity\n0.5,0.75,40,127\n\n1.0,1.5,43,0\n", f);
    fclose(f);
    assert_int_equal(dumu_notes_read_csv(path, &notes, &n, &err), DUMU_OK);
    assert_int_equal(n, 2);
    assert_true(notes[0].start_s == 0.5 && notes[0].end_s == 0.75 && notes[0].pitch == 40);
    assert_true(notes[0].amplitude == 1.0 && notes[1].amplitude == 0.0 && notes[1].pitch == 43);
    dumu_free(notes);
    remove(path);
    rmdir(dir);
}

/* The six MIDI renders of the test data: the reader gives the manifest's note counts, and
 * known alterations of the ground truth score as they must. */
static void test_testdata_ground_truth(void **state) {
    (void)state;

    static const struct {
        const char *id;
        int64_t n;
    } items[] = {
        {"dm01_freedoom2_d_ddtbl2", 82},           {"dm02_freedoom1_d_e3m2", 65},
        {"dm03_freedoom2_d_read_m", 60},           {"dm04_openmsx_train_filled_with_cash", 92},
        {"dm05_openmsx_no_work_song_redfarn", 50}, {"dm06_blupi_music007", 95}};

    for (size_t k = 0; k < sizeof items / sizeof items[0]; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "%s/bass_notes.csv", items[k].id);
        dumu_note *ref = NULL;
        int64_t n = 0;
        dumu_error err = {0};
        assert_int_equal(dumu_notes_read_csv(test_path("DUMU_TESTDATA_DIR", rel), &ref, &n, &err),
                         DUMU_OK);
        assert_int_equal(n, items[k].n);

        dumu_note *est = malloc((size_t)n * sizeof *est);
        assert_non_null(est);
        dumu_note_scores s;
        /* Identity: everything 1. */
        assert_int_equal(dumu_score_notes(ref, n, ref, n, NULL, &s, &err), DUMU_OK);
        assert_int_equal(s.onset.n_matched, n);
        assert_int_equal(s.onset_offset.n_matched, n);
        assert_true(s.onset.f1 == 1.0 && s.onset_offset.f1 == 1.0 && s.chroma.f1 == 1.0);
        /* 30 ms late, same durations: onsets and offsets still match. */
        for (int64_t i = 0; i < n; i++) {
            est[i] = ref[i];
            est[i].start_s += 0.03;
            est[i].end_s += 0.03;
        }
        assert_int_equal(dumu_score_notes(ref, n, est, n, NULL, &s, &err), DUMU_OK);
        assert_true(s.onset.f1 == 1.0 && s.onset_offset.f1 == 1.0);
        /* An octave up: exact pitch fails, the octave-forgiving score does not. */
        for (int64_t i = 0; i < n; i++) {
            est[i] = ref[i];
            est[i].pitch += 12;
        }
        assert_int_equal(dumu_score_notes(ref, n, est, n, NULL, &s, &err), DUMU_OK);
        assert_true(s.onset.f1 == 0.0 && s.chroma.f1 == 1.0);
        /* Every other note: precision 1, recall about 1/2. */
        int64_t m = 0;
        for (int64_t i = 0; i < n; i += 2)
            est[m++] = ref[i];
        assert_int_equal(dumu_score_notes(ref, n, est, m, NULL, &s, &err), DUMU_OK);
        assert_true(s.onset.precision == 1.0);
        assert_true(fabs(s.onset.recall - (double)m / (double)n) < 1e-12);
        /* Notes cut to half their length: onsets all match, offsets not all. */
        for (int64_t i = 0; i < n; i++) {
            double mid = 0.5 * (ref[i].start_s + ref[i].end_s);
            est[i] = ref[i];
            est[i].end_s = mid;
        }
        assert_int_equal(dumu_score_notes(ref, n, est, n, NULL, &s, &err), DUMU_OK);
        assert_true(s.onset.f1 == 1.0);
        assert_true(s.onset_offset.f1 < 1.0);
        free(est);
        dumu_free(ref);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_fails_maximum_does_not),
        cmocka_unit_test(test_onset_rules_and_boundaries),
        cmocka_unit_test(test_one_to_one_and_prf),
        cmocka_unit_test(test_random_against_exhaustive),
        cmocka_unit_test(test_tempo_and_key),
        cmocka_unit_test(test_sdr),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_csv_reader_errors),
        cmocka_unit_test(test_testdata_ground_truth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
