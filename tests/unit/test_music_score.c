/* Transcription scorer (src/music/score.c): the matching rules and tolerance boundaries on
 * hand-made notes, a case where a greedy matcher loses a match that the maximum matching
 * keeps, the matching size against exhaustive search on random small cases, tempo and key
 * scores, SDR, the note-error classes (one hand-made case each, a mix whose classes add up,
 * the onset bias), the bass_notes.csv reader on the test data (DUMU_TESTDATA_DIR) and the
 * scores of altered ground truth. Grid metrics: beat matching (window, one-to-one, against exhaustive
 * search), tempo-map grids, and MIDI files made by the writer scored against true grids
 * (perfect, half a beat late, double tempo, 3/4 against 4/4, a drifting tempo). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "music/score.h"
#include "testutil.h"

static dumu_note note(double on, double off, int32_t pitch) {
    return test_note(on, off, pitch, 0.5);
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
/* ---------------------------------------------------------------------------------------- */
/* Note errors: one hand-made case per class, then a mix whose classes add up. */

static dumu_note_errors note_errors(const dumu_note *ref, int64_t n_ref, const dumu_note *est,
                                    int64_t n_est) {
    dumu_note_errors e;
    dumu_error err = {0};
    assert_int_equal(dumu_score_note_errors(ref, n_ref, est, n_est, NULL, &e, &err), DUMU_OK);
    /* Every unmatched note is in exactly one class. */
    assert_int_equal(e.n_est_timing + e.n_est_octave + e.n_est_harmonic + e.n_est_pitch +
                         e.n_est_fragment + e.n_est_ghost + e.n_est_other,
                     n_est - e.n_matched);
    assert_int_equal(e.n_ref_merged + e.n_ref_timing + e.n_ref_pitch + e.n_ref_missed,
                     n_ref - e.n_matched);
    assert_int_equal(e.n_ref_by_register[0] + e.n_ref_by_register[1] + e.n_ref_by_register[2],
                     n_ref);
    return e;
}

static void test_note_error_classes(void **state) {
    (void)state;
    const dumu_note held[1] = {note(1.0, 2.0, 40)}; /* E2, found at its onset below */
    dumu_note_errors e;

    /* timing: the right pitch 80 ms late; the reference note is a timing error too */
    const dumu_note late[1] = {note(1.08, 2.0, 40)};
    e = note_errors(held, 1, late, 1);
    assert_int_equal(e.n_matched, 0);
    assert_int_equal(e.n_est_timing, 1);
    assert_int_equal(e.n_ref_timing, 1);

    /* octave: at the onset, an octave up; the reference note lost to a pitch error */
    const dumu_note up[1] = {note(1.01, 2.0, 52)};
    e = note_errors(held, 1, up, 1);
    assert_int_equal(e.n_est_octave, 1);
    assert_int_equal(e.n_octave_by_register[2], 1);
    assert_int_equal(e.n_ref_pitch, 1);
    /* ... by the reference note's register: B0 (23) and A1 (33), two octaves and one down */
    const dumu_note low[2] = {note(1.0, 1.5, 23), note(3.0, 3.5, 33)};
    const dumu_note low_est[2] = {note(1.0, 1.5, 47), note(3.02, 3.5, 21)};
    e = note_errors(low, 2, low_est, 2);
    assert_int_equal(e.n_est_octave, 2);
    assert_int_equal(e.n_octave_by_register[0], 1);
    assert_int_equal(e.n_octave_by_register[1], 1);
    assert_int_equal(e.n_octave_by_register[2], 0);
    assert_int_equal(e.n_est_octave_below, 1);
    assert_int_equal(e.n_ref_by_register[0], 1);
    assert_int_equal(e.n_ref_by_register[1], 1);

    /* harmonic: a twelfth (+19) and a fifth (+7) over a held note found at its onset */
    const dumu_note partials[3] = {note(1.0, 2.0, 40), note(1.3, 1.6, 59), note(1.7, 1.9, 47)};
    e = note_errors(held, 1, partials, 3);
    assert_int_equal(e.n_matched, 1);
    assert_int_equal(e.n_est_harmonic, 2);

    /* pitch: at the onset, a minor third up */
    const dumu_note third[1] = {note(0.98, 2.0, 43)};
    e = note_errors(held, 1, third, 1);
    assert_int_equal(e.n_est_pitch, 1);
    assert_int_equal(e.n_ref_pitch, 1);

    /* fragment: the held note found, then re-triggered; and a duplicate at its onset */
    const dumu_note pieces[3] = {note(1.0, 1.4, 40), note(1.45, 2.0, 40), note(1.03, 1.2, 40)};
    e = note_errors(held, 1, pieces, 3);
    assert_int_equal(e.n_matched, 1);
    assert_int_equal(e.n_est_fragment, 2);

    /* ghost: after the note has ended, nothing sounds */
    const dumu_note after[2] = {note(1.0, 2.0, 40), note(2.5, 3.0, 40)};
    e = note_errors(held, 1, after, 2);
    assert_int_equal(e.n_est_ghost, 1);

    /* other: a fourth (+5) over the held note */
    const dumu_note fourth[2] = {note(1.0, 2.0, 40), note(1.3, 1.6, 45)};
    e = note_errors(held, 1, fourth, 2);
    assert_int_equal(e.n_est_other, 1);

    /* merged: two true E2s in a row played as one long note */
    const dumu_note repeated[2] = {note(1.0, 1.5, 40), note(1.5, 2.0, 40)};
    const dumu_note one[1] = {note(1.0, 2.0, 40)};
    e = note_errors(repeated, 2, one, 1);
    assert_int_equal(e.n_matched, 1);
    assert_int_equal(e.n_ref_merged, 1);
    /* ... but a note that only starts 80 ms early is a timing error, not a merge */
    const dumu_note early[1] = {note(0.92, 1.5, 40)};
    e = note_errors(repeated, 1, early, 1);
    assert_int_equal(e.n_ref_timing, 1);
    assert_int_equal(e.n_est_timing, 1);

    /* missed: nothing estimated; with no estimate at all every reference note is missed and
     * with no reference every estimate a ghost */
    e = note_errors(repeated, 2, NULL, 0);
    assert_int_equal(e.n_ref_missed, 2);
    e = note_errors(NULL, 0, repeated, 2);
    assert_int_equal(e.n_est_ghost, 2);
    assert_true(e.onset_bias_ms == 0.0);

    /* Order: a late note of the right pitch that is also near another pitch's onset is a
     * timing error (the same-pitch evidence first). */
    const dumu_note two[2] = {note(1.0, 1.2, 40), note(1.1, 1.6, 43)};
    const dumu_note late43[2] = {note(1.0, 1.2, 40), note(1.04, 1.6, 43)};
    e = note_errors(two, 2, late43, 2);
    assert_int_equal(e.n_est_timing, 1);
    assert_int_equal(e.n_est_pitch, 0);
}

static void test_note_errors_mixed_and_bias(void **state) {
    (void)state;
    /* One bar of bass with a bit of everything; matched notes 10, 20, 30 and 40 ms late. */
    const dumu_note ref[8] = {
        note(0.0, 0.45, 40), /* matched (+10 ms) */
        note(0.5, 0.95, 40), /* matched (+20 ms) */
        note(1.0, 1.45, 43), /* estimated an octave up: pitch */
        note(1.5, 1.95, 45), /* 90 ms late: timing */
        note(2.0, 2.45, 47), /* matched (+30 ms), then a twelfth and a re-trigger over it */
        note(2.5, 2.95, 47), /* held over from 2.0: merged */
        note(3.0, 3.45, 28), /* missed */
        note(3.5, 3.95, 33), /* matched (+40 ms) */
    };
    const dumu_note est[9] = {
        note(0.01, 0.45, 40), note(0.52, 0.95, 40), note(1.0, 1.45, 55),
        note(1.59, 1.95, 45), note(2.03, 2.95, 47), note(2.2, 2.4, 66),
        note(2.3, 2.45, 47),  note(3.54, 3.9, 33),  note(5.0, 5.5, 30), /* ghost */
    };
    dumu_note_errors e = note_errors(ref, 8, est, 9);
    assert_int_equal(e.n_matched, 4);
    assert_int_equal(e.n_est_octave, 1);
    assert_int_equal(e.n_est_timing, 1);
    assert_int_equal(e.n_est_harmonic, 1);
    assert_int_equal(e.n_est_fragment, 1);
    assert_int_equal(e.n_est_ghost, 1);
    assert_int_equal(e.n_ref_pitch, 1);
    assert_int_equal(e.n_ref_timing, 1);
    assert_int_equal(e.n_ref_merged, 1);
    assert_int_equal(e.n_ref_missed, 1);
    assert_int_equal(e.n_octave_by_register[2], 1);
    assert_int_equal(e.n_ref_by_register[0], 1);
    assert_int_equal(e.n_ref_by_register[1], 1);
    assert_int_equal(e.n_ref_by_register[2], 6);
    assert_true(fabs(e.onset_bias_ms - 25.0) < 1e-9); /* median of 10, 20, 30, 40 */
    e = note_errors(ref, 1, est, 1);
    assert_true(fabs(e.onset_bias_ms - 10.0) < 1e-9);

    /* Errors and allocation failures. */
    dumu_note bad = note(NAN, 1.0, 40);
    dumu_error err = {0};
    assert_int_equal(dumu_score_note_errors(ref, 8, &bad, 1, NULL, &e, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_score_note_errors(NULL, 3, est, 9, NULL, &e, &err), DUMU_E_INVALID_ARG);
    dumu_status rc = DUMU_E_NOMEM;
    for (int64_t k = 1; rc == DUMU_E_NOMEM; k++) {
        assert_true(k < 100);
        dumu_alloc_fail_after(k);
        rc = dumu_score_note_errors(ref, 8, est, 9, NULL, &e, NULL);
        dumu_alloc_fail_after(0);
    }
    assert_int_equal(rc, DUMU_OK);
    assert_int_equal(e.n_matched, 4);
}

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

/* ---------------------------------------------------------------------------------------- */
/* Grid metrics */

static dumu_prf beats_prf(const double *ref, int64_t n_ref, const double *est, int64_t n_est) {
    dumu_prf p;
    dumu_error err = {0};
    assert_int_equal(dumu_score_beats(ref, n_ref, est, n_est, 0.07, &p, &err), DUMU_OK);
    return p;
}

/* Largest one-to-one matching of events within tol, by trying every assignment (n <= 6). */
static int exhaustive_beats(const double *ref, int n_ref, const double *est, int n_est, int i,
                            unsigned used, double tol) {
    if (i == n_ref) return 0;
    int best = exhaustive_beats(ref, n_ref, est, n_est, i + 1, used, tol);
    for (int j = 0; j < n_est; j++) {
        if (used & (1u << j) || fabs(ref[i] - est[j]) > tol) continue;
        int m = 1 + exhaustive_beats(ref, n_ref, est, n_est, i + 1, used | (1u << j), tol);
        if (m > best) best = m;
    }
    return best;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_score_beats(void **state) {
    (void)state;
    const double ref[4] = {0.0, 0.5, 1.0, 1.5};
    /* The window is +-70 ms inclusive. */
    const double in[4] = {0.069, 0.431, 1.0, 1.5699};
    const double out[4] = {0.071, 0.429, 1.0, 1.5701};
    dumu_prf p = beats_prf(ref, 4, in, 4);
    assert_int_equal(p.n_matched, 4);
    assert_true(p.f1 == 1.0);
    p = beats_prf(ref, 4, out, 4);
    assert_int_equal(p.n_matched, 1);
    assert_true(p.precision == 0.25 && p.recall == 0.25);
    /* One-to-one: three estimates near one reference beat count once. */
    const double crowd[3] = {0.49, 0.5, 0.51};
    p = beats_prf(ref, 4, crowd, 3);
    assert_int_equal(p.n_matched, 1);
    assert_true(fabs(p.precision - 1.0 / 3.0) < 1e-12 && p.recall == 0.25);
    /* Empty lists score 0 (mir_eval). */
    p = beats_prf(ref, 4, NULL, 0);
    assert_true(p.f1 == 0.0 && p.n_ref == 4);
    p = beats_prf(NULL, 0, ref, 4);
    assert_true(p.f1 == 0.0 && p.n_est == 4);
    /* Half a beat late: nothing matches. */
    double late[4];
    for (int i = 0; i < 4; i++)
        late[i] = ref[i] + 0.25;
    assert_true(beats_prf(ref, 4, late, 4).f1 == 0.0);

    /* The two-pointer matching is maximum: random small cases against exhaustive search. */
    srand(7);
    for (int trial = 0; trial < 3000; trial++) {
        int n_ref = rand() % 7, n_est = rand() % 7;
        double r[6], e[6];
        for (int i = 0; i < n_ref; i++)
            r[i] = (rand() % 40) * 0.02;
        for (int j = 0; j < n_est; j++)
            e[j] = (rand() % 40) * 0.02 + 0.005;
        qsort(r, (size_t)n_ref, sizeof r[0], cmp_dbl);
        qsort(e, (size_t)n_est, sizeof e[0], cmp_dbl);
        dumu_prf q;
        assert_int_equal(dumu_score_beats(r, n_ref, e, n_est, 0.05, &q, NULL), DUMU_OK);
        assert_int_equal(q.n_matched, exhaustive_beats(r, n_ref, e, n_est, 0, 0, 0.05));
    }

    dumu_error err = {0};
    const double down[2] = {1.0, 0.5};
    assert_int_equal(dumu_score_beats(ref, 4, down, 2, 0.07, &p, &err), DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "ascending"));
    const double nan[1] = {NAN};
    assert_int_equal(dumu_score_beats(nan, 1, ref, 4, 0.07, &p, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_score_beats(NULL, 2, ref, 4, 0.07, &p, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_score_beats(ref, 4, ref, 4, -0.1, &p, &err), DUMU_E_INVALID_ARG);
}

static void test_tempo_map_grid(void **state) {
    (void)state;
    /* 120 BPM for 2 s (4 quarters), then 60 BPM: beats at 0 .. 2 every 0.5 s, then every 1 s;
     * 3/4 bars at quarters 0, 3, 6 -> 0, 1.5, 4 s. The change at -1 s only sets the tempo
     * before 0; of the two at 2 s the later counts. */
    const dumu_tempo_change map[4] = {{-1.0, 120.0}, {2.0, 90.0}, {2.0, 60.0}, {30.0, 200.0}};
    dumu_grid g;
    dumu_error err = {0};
    assert_int_equal(dumu_tempo_map_grid(map, 4, 3.0, 5.0, &g, &err), DUMU_OK);
    const double beats[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0};
    assert_int_equal(g.n_beats, 8);
    for (int i = 0; i < 8; i++)
        assert_true(fabs(g.beats[i] - beats[i]) < 1e-12);
    assert_int_equal(g.n_bars, 3);
    assert_true(g.bars[0] == 0.0 && fabs(g.bars[1] - 1.5) < 1e-12);
    assert_true(fabs(g.bars[2] - 4.0) < 1e-12);
    assert_int_equal(g.n_tempo, 3);
    assert_true(g.tempo[0].time_s == 0.0 && g.tempo[0].bpm == 120.0);
    assert_true(g.tempo[1].time_s == 2.0 && g.tempo[1].bpm == 60.0);
    assert_true(fabs(g.mean_bpm - 60.0 * 7.0 / 5.0) < 1e-12); /* 7 quarter notes in 5 s */
    assert_true(g.duration_s == 5.0);
    dumu_grid_deinit(&g);
    dumu_grid_deinit(&g);

    assert_int_equal(dumu_tempo_map_grid(map, 4, 4.0, 0.0, &g, &err), DUMU_OK);
    assert_int_equal(g.n_beats, 1); /* the beat at 0 s */
    assert_true(g.mean_bpm == 0.0);
    dumu_grid_deinit(&g);

    const dumu_tempo_change back[2] = {{0.0, 120.0}, {-0.5, 100.0}};
    const dumu_tempo_change zero[1] = {{0.0, 0.0}};
    assert_int_equal(dumu_tempo_map_grid(back, 2, 4.0, 5.0, &g, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_tempo_map_grid(zero, 1, 4.0, 5.0, &g, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_tempo_map_grid(map, 0, 4.0, 5.0, &g, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_tempo_map_grid(map, 4, 0.0, 5.0, &g, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_tempo_map_grid(map, 4, 4.0, NAN, &g, &err), DUMU_E_INVALID_ARG);
    assert_null(g.beats);
    /* A tempo that puts over 2^20 lines into the duration. */
    const dumu_tempo_change fast[1] = {{0.0, 1e8}};
    assert_int_equal(dumu_tempo_map_grid(fast, 1, 4.0, 1.0, &g, &err), DUMU_E_TOO_LONG);
    assert_null(g.beats);
}

/* A MIDI file from the writer: constant `bpm` (beats == NULL) or a beat-following map, with
 * `per_bar` beats a bar; read back and turned into its grid over `dur` seconds. */
static dumu_midi_grid written_grid(double bpm, const double *beats, int64_t n_beats,
                                   int32_t per_bar, double dur, dumu_grid *out) {
    const dumu_note notes[1] = {note(0.0, 1.0, 40)};
    dumu_midi_params mp = dumu_midi_default_params();
    mp.bpm = bpm;
    mp.beats = beats;
    mp.n_beats = n_beats;
    mp.beats_per_bar = per_bar;
    uint8_t *mid = NULL;
    size_t size = 0;
    dumu_error err = {0};
    dumu_midi_grid mg;
    assert_int_equal(dumu_midi_encode(notes, 1, &mp, &mid, &size, &err), DUMU_OK);
    assert_int_equal(dumu_midi_read_grid(mid, size, &mg, &err), DUMU_OK);
    assert_int_equal(dumu_midi_grid_times(&mg, dur, out, &err), DUMU_OK);
    dumu_free(mid);
    return mg;
}

static dumu_grid_scores grid_scores(const dumu_grid *ref, const dumu_grid *est, double ref_bpm) {
    dumu_grid_scores s;
    dumu_error err = {0};
    assert_int_equal(dumu_score_grid(ref, est, ref_bpm, NULL, &s, &err), DUMU_OK);
    return s;
}

static void test_grid_of_written_files(void **state) {
    (void)state;
    const double dur = 20.0;
    const dumu_tempo_change truth[1] = {{0.0, 120.0}};
    dumu_grid ref, est;
    assert_int_equal(dumu_tempo_map_grid(truth, 1, 4.0, dur, &ref, NULL), DUMU_OK);
    assert_int_equal(ref.n_beats, 41);
    assert_int_equal(ref.n_bars, 11);

    /* The perfect file. */
    dumu_midi_grid mg = written_grid(120.0, NULL, 0, 4, dur, &est);
    dumu_grid_scores s = grid_scores(&ref, &est, 120.0);
    assert_true(s.beats.f1 == 1.0 && s.downbeats.f1 == 1.0);
    assert_true(s.max_tempo_dev == 0.0);
    assert_true(s.tempo_ok && s.tempo_ok_tolerant);
    assert_true(fabs(s.bpm - 120.0) < 1e-9);
    assert_int_equal(mg.n_tempos, 1);
    dumu_midi_grid_deinit(&mg);
    dumu_grid_deinit(&est);

    /* Half a beat late: beats every 0.5 s from 0.25 s. The file still has a bar line and a
     * beat at 0 s (tick 0: a lead-in before the first given beat), so that is its only
     * match. */
    double late[40];
    for (int i = 0; i < 40; i++)
        late[i] = 0.25 + 0.5 * i;
    mg = written_grid(0.0, late, 40, 4, dur, &est);
    s = grid_scores(&ref, &est, 120.0);
    assert_true(s.beats.n_matched <= 1);
    assert_true(s.beats.f1 < 0.03);
    /* Without the line at 0 s, the shifted beats match nothing. */
    assert_true(beats_prf(ref.beats + 1, ref.n_beats - 1, late, 40).f1 == 0.0);
    dumu_midi_grid_deinit(&mg);
    dumu_grid_deinit(&est);

    /* Double tempo: Acc1 fails, Acc2 holds; every true beat is matched, half the file's. */
    mg = written_grid(240.0, NULL, 0, 4, dur, &est);
    s = grid_scores(&ref, &est, 120.0);
    assert_false(s.tempo_ok);
    assert_true(s.tempo_ok_tolerant);
    assert_int_equal(s.beats.n_matched, 41);
    assert_true(fabs(s.beats.precision - 41.0 / 81.0) < 1e-12);
    assert_true(fabs(s.max_tempo_dev - 1.0) < 1e-6);
    dumu_midi_grid_deinit(&mg);
    dumu_grid_deinit(&est);
    /* Triple and a third are Acc2 too; 3/2 is not. */
    mg = written_grid(40.0, NULL, 0, 4, dur, &est);
    s = grid_scores(&ref, &est, 120.0);
    assert_true(!s.tempo_ok && s.tempo_ok_tolerant);
    dumu_midi_grid_deinit(&mg);
    dumu_grid_deinit(&est);
    mg = written_grid(180.0, NULL, 0, 4, dur, &est);
    s = grid_scores(&ref, &est, 120.0);
    assert_true(!s.tempo_ok && !s.tempo_ok_tolerant);
    dumu_midi_grid_deinit(&mg);
    dumu_grid_deinit(&est);

    /* 3/4 against 4/4: every beat right, bar lines agree every 12 beats (0, 6, 12, 18 s). */
    mg = written_grid(120.0, NULL, 0, 3, dur, &est);
    s = grid_scores(&ref, &est, 120.0);
    assert_true(s.beats.f1 == 1.0);
    assert_int_equal(s.downbeats.n_matched, 4);
    assert_int_equal(s.downbeats.n_est, 14);
    assert_true(s.downbeats.f1 < 0.35);
    dumu_midi_grid_deinit(&mg);
    dumu_grid_deinit(&est);
    dumu_grid_deinit(&ref);
}

static void test_drifting_reference(void **state) {
    (void)state;
    /* A drift like the test data's: 120 BPM x (1 + 3 % sin(2 pi beat / 16)), one tempo
     * change per eighth note. */
    const double dur = 20.0;
    dumu_tempo_change truth[100];
    double t = 0.0;
    for (int k = 0; k < 100; k++) {
        double bpm = 120.0 * (1.0 + 0.03 * sin(2.0 * 3.141592653589793 * (0.5 * k) / 16.0));
        truth[k] = (dumu_tempo_change){t, bpm};
        t += 30.0 / bpm; /* an eighth note */
    }
    dumu_grid ref, est;
    assert_int_equal(dumu_tempo_map_grid(truth, 100, 4.0, dur, &ref, NULL), DUMU_OK);
    assert_true(fabs(ref.mean_bpm - 120.0) < 2.0);

    /* A file following the true beats: perfect beats and bars, one tempo event per beat
     * interval, each within the spread of the two eighth notes it spans. */
    dumu_midi_grid mg = written_grid(0.0, ref.beats, ref.n_beats, 4, dur, &est);
    dumu_grid_scores s = grid_scores(&ref, &est, ref.mean_bpm);
    assert_true(s.beats.f1 == 1.0 && s.downbeats.f1 == 1.0);
    assert_true(s.tempo_ok);
    assert_true(mg.n_tempos >= ref.n_beats - 2);
    print_message("following the drift: %lld tempo events, largest deviation %.3f %%\n",
                  (long long)mg.n_tempos, 100.0 * s.max_tempo_dev);
    /* Up to the last beat each event is within 0.3 % of the eighth notes it spans; after it
     * the last interval's tempo goes on while the true one keeps falling (0.9 % by 20 s). */
    double upto_last = -1.0;
    assert_int_equal(dumu_score_tempo_events(ref.tempo, ref.n_tempo, est.tempo, est.n_tempo,
                                             ref.beats[ref.n_beats - 1], &upto_last, NULL),
                     DUMU_OK);
    assert_true(upto_last < 0.004);
    assert_true(s.max_tempo_dev < 0.01);
    dumu_midi_grid_deinit(&mg);
    dumu_grid_deinit(&est);

    /* One constant tempo at the mean: the deviation is about the drift's 3 %; the beats
     * stray from the true ones by up to ~0.03 * 16 / (2 pi) beats = 40 ms, inside 70 ms. */
    mg = written_grid(ref.mean_bpm, NULL, 0, 4, dur, &est);
    s = grid_scores(&ref, &est, ref.mean_bpm);
    assert_int_equal(mg.n_tempos, 1);
    assert_true(s.max_tempo_dev > 0.025 && s.max_tempo_dev < 0.035);
    assert_true(s.tempo_ok);
    dumu_midi_grid_deinit(&mg);
    dumu_grid_deinit(&est);
    dumu_grid_deinit(&ref);
}

static void test_tempo_event_deviation(void **state) {
    (void)state;
    const dumu_tempo_change ref[3] = {{0.0, 100.0}, {10.0, 120.0}, {20.0, 90.0}};
    double dev = -1;
    dumu_error err = {0};
    /* In force over [0, 10) only: 110 against 100 is 10 %; touching 120 at 10 s exactly does
     * not count (overlap of length 0), nor would an overlap of up to 1 ms. */
    const dumu_tempo_change a[2] = {{0.0, 110.0}, {10.0, 120.0}};
    assert_int_equal(dumu_score_tempo_events(ref, 3, a, 2, 15.0, &dev, &err), DUMU_OK);
    assert_true(fabs(dev - 0.1) < 1e-12);
    const dumu_tempo_change a2[2] = {{0.0, 90.0}, {10.0009, 120.0}};
    assert_int_equal(dumu_score_tempo_events(ref, 3, a2, 2, 15.0, &dev, &err), DUMU_OK);
    assert_true(fabs(dev - 0.1) < 1e-12);
    const dumu_tempo_change a3[2] = {{0.0, 90.0}, {10.0011, 120.0}};
    assert_int_equal(dumu_score_tempo_events(ref, 3, a3, 2, 15.0, &dev, &err), DUMU_OK);
    assert_true(fabs(dev - 0.25) < 1e-12); /* 90 against 120 for 1.1 ms */
    /* Spanning two true tempi: the worse counts (132 / 120 - 1 = 10 %, 132 / 100 = 32 %). */
    const dumu_tempo_change b[2] = {{0.0, 100.0}, {5.0, 132.0}};
    assert_int_equal(dumu_score_tempo_events(ref, 3, b, 2, 15.0, &dev, &err), DUMU_OK);
    assert_true(fabs(dev - 0.32) < 1e-12);
    /* Clipped to the duration: the change at 20 s and the true 90 BPM after it are not
     * heard in 15 s. */
    const dumu_tempo_change c[3] = {{0.0, 100.0}, {10.0, 120.0}, {20.0, 300.0}};
    assert_int_equal(dumu_score_tempo_events(ref, 3, c, 3, 15.0, &dev, &err), DUMU_OK);
    assert_true(dev == 0.0);
    /* Of two changes at one time only the later is in force. */
    const dumu_tempo_change d[3] = {{0.0, 100.0}, {10.0, 500.0}, {10.0, 120.0}};
    assert_int_equal(dumu_score_tempo_events(ref, 3, d, 3, 15.0, &dev, &err), DUMU_OK);
    assert_true(dev == 0.0);
    assert_int_equal(dumu_score_tempo_events(ref, 3, d, 0, 15.0, &dev, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_score_tempo_events(ref, 3, d, 3, -1.0, &dev, &err), DUMU_E_INVALID_ARG);

    /* dumu_score_grid checks its arguments. */
    dumu_grid g = {0};
    dumu_grid_scores s;
    assert_int_equal(dumu_score_grid(&g, &g, 120.0, NULL, &s, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_tempo_map_grid(ref, 3, 4.0, 15.0, &g, &err), DUMU_OK);
    assert_int_equal(dumu_score_grid(&g, &g, 0.0, NULL, &s, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_score_grid(&g, &g, 110.0, NULL, &s, &err), DUMU_OK);
    assert_true(s.beats.f1 == 1.0 && s.max_tempo_dev == 0.0);
    dumu_grid_deinit(&g);
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
        cmocka_unit_test(test_note_error_classes),
        cmocka_unit_test(test_note_errors_mixed_and_bias),
        cmocka_unit_test(test_testdata_ground_truth),
        cmocka_unit_test(test_score_beats),
        cmocka_unit_test(test_tempo_map_grid),
        cmocka_unit_test(test_grid_of_written_files),
        cmocka_unit_test(test_drifting_reference),
        cmocka_unit_test(test_tempo_event_deviation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
