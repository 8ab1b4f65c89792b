/* Bass tablature (src/music/tab.c): tunings, fret choice on hand-made lines, the DP against
 * exhaustive search on random short lines, double stops, out-of-range notes, the exact text of
 * small tabs (4/4 with and without a pickup, 6/8 with a 1/8 pickup), and the ground-truth bass lines of the test data (DUMU_TESTDATA_DIR) on 4- and
 * 5-string basses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "music/score.h"
#include "music/tab.h"
#include "testutil.h"

static dumu_note note(double on, double off, int32_t pitch) {
    return test_note(on, off, pitch, 0.7);
}

static void test_tunings(void **state) {
    (void)state;
    const int32_t four[4] = {28, 33, 38, 43}, five[5] = {23, 28, 33, 38, 43};
    for (int s = 0; s < 4; s++)
        assert_int_equal(dumu_tab_open_pitch(4, s), four[s]);
    for (int s = 0; s < 5; s++)
        assert_int_equal(dumu_tab_open_pitch(5, s), five[s]);
}

static void test_simple_lines(void **state) {
    (void)state;
    /* E1 G1 A1 B1 C2 D2: first position, open strings where they fit. */
    const dumu_note up[6] = {note(0, .4, 28),    note(.5, .9, 31), note(1, 1.4, 33),
                             note(1.5, 1.9, 35), note(2, 2.4, 36), note(2.5, 2.9, 38)};
    dumu_tab_pos pos[6];
    int64_t n_out = -1;
    assert_int_equal(dumu_tab_assign(up, 6, NULL, pos, &n_out, NULL), DUMU_OK);
    assert_int_equal(n_out, 0);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(dumu_tab_open_pitch(4, pos[i].string) + pos[i].fret, up[i].pitch);
        assert_true(pos[i].fret <= 5);
    }
    /* A riff around C3-G3 (MIDI 48-55) stays in one position instead of jumping to the
     * lowest frets string by string. */
    const int32_t riff[8] = {48, 50, 52, 55, 53, 52, 50, 48};
    dumu_note r[8];
    for (int i = 0; i < 8; i++)
        r[i] = note(i * 0.25, i * 0.25 + 0.2, riff[i]);
    dumu_tab_pos rp[8];
    assert_int_equal(dumu_tab_assign(r, 8, NULL, rp, NULL, NULL), DUMU_OK);
    int lo = 99, hi = -1;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(dumu_tab_open_pitch(4, rp[i].string) + rp[i].fret, riff[i]);
        if (rp[i].fret > 0) {
            lo = rp[i].fret < lo ? rp[i].fret : lo;
            hi = rp[i].fret > hi ? rp[i].fret : hi;
        }
    }
    assert_true(hi - lo <= 4); /* one hand position */

    /* Out of range: B0 and a high C6 on a 4-string; B0 is the open low string of a 5-string. */
    const dumu_note odd[3] = {note(0, .4, 23), note(.5, .9, 40), note(1, 1.4, 84)};
    dumu_tab_pos op[3];
    assert_int_equal(dumu_tab_assign(odd, 3, NULL, op, &n_out, NULL), DUMU_OK);
    assert_int_equal(n_out, 2);
    assert_true(op[0].string == -1 && op[0].fret == -1 && op[2].string == -1);
    assert_true(op[1].string >= 0);
    dumu_tab_params five = dumu_tab_default_params();
    five.n_strings = 5;
    assert_int_equal(dumu_tab_assign(odd, 3, &five, op, &n_out, NULL), DUMU_OK);
    assert_int_equal(n_out, 1);
    assert_true(op[0].string == 0 && op[0].fret == 0);
    /* max_fret limits the range. */
    dumu_tab_params low = dumu_tab_default_params();
    low.max_fret = 5;
    const dumu_note g3 = note(0, 1, 55); /* G2 string fret 12 */
    assert_int_equal(dumu_tab_assign(&g3, 1, &low, op, &n_out, NULL), DUMU_OK);
    assert_int_equal(n_out, 1);

    /* Double stop: E1 + B1 together take two strings. */
    const dumu_note ds[2] = {note(0, 1, 28), note(0.01, 1, 35)};
    assert_int_equal(dumu_tab_assign(ds, 2, NULL, op, NULL, NULL), DUMU_OK);
    assert_true(op[0].string != op[1].string);

    /* Invalid arguments. */
    dumu_error err = {0};
    const dumu_note back[2] = {note(1, 2, 40), note(0.5, 1, 40)};
    assert_int_equal(dumu_tab_assign(back, 2, NULL, op, NULL, &err), DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "playing order"));
    dumu_tab_params bad = dumu_tab_default_params();
    bad.n_strings = 6;
    assert_int_equal(dumu_tab_assign(up, 6, &bad, pos, NULL, &err), DUMU_E_INVALID_ARG);
    bad = dumu_tab_default_params();
    bad.max_fret = 30;
    assert_int_equal(dumu_tab_assign(up, 6, &bad, pos, NULL, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_tab_assign(NULL, 2, NULL, pos, NULL, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_tab_assign(NULL, 0, NULL, NULL, &n_out, &err), DUMU_OK);
    assert_int_equal(n_out, 0);
}

/* Exhaustive search over every (string, hand position) choice of a short line. */
static double brute(const dumu_note *notes, int n, int i, dumu_tab_pos *t,
                    const dumu_tab_params *p) {
    if (i == n) return dumu_tab_line_cost(t, n);
    double best = INFINITY;
    for (int s = 0; s < p->n_strings; s++) {
        const int f = notes[i].pitch - dumu_tab_open_pitch(p->n_strings, s);
        if (f < 0 || f > p->max_fret) continue;
        for (int h = 1; h <= p->max_fret; h++) {
            if (f > 0 && (f < h || f > h + 3)) continue;
            t[i].string = (int8_t)s;
            t[i].fret = (int8_t)f;
            t[i].hand = (int8_t)h;
            best = fmin(best, brute(notes, n, i + 1, t, p));
        }
    }
    return best;
}

/* The DP finds the cheapest fingering: exhaustive search on random lines of up to 4 notes,
 * over the whole neck, and with max_fret 5 (where open strings leave 5 hand positions). */
static void test_dp_is_optimal(void **state) {
    (void)state;
    srand(99);
    for (int trial = 0; trial < 400; trial++) {
        dumu_tab_params p = dumu_tab_default_params();
        if (trial % 2) p.max_fret = 5;
        const int n = 1 + rand() % 4;
        dumu_note notes[4];
        for (int i = 0; i < n; i++) {
            notes[i] = note(i * 0.3, i * 0.3 + 0.25, 28 + rand() % (p.max_fret == 5 ? 20 : 30));
        }
        dumu_tab_pos dp[4], t[4];
        assert_int_equal(dumu_tab_assign(notes, n, &p, dp, NULL, NULL), DUMU_OK);
        for (int i = 0; i < n; i++) {
            assert_int_equal(dumu_tab_open_pitch(4, dp[i].string) + dp[i].fret, notes[i].pitch);
            assert_true(dp[i].fret == 0 ||
                        (dp[i].fret >= dp[i].hand && dp[i].fret <= dp[i].hand + 3));
        }
        assert_true(fabs(dumu_tab_line_cost(dp, n) - brute(notes, n, 0, t, &p)) < 1e-9);
    }
}

static void test_render_exact(void **state) {
    (void)state;
    /* 120 BPM, 8th-note columns (2 per beat), 2 bars per line, bar 1 from beat 0. A2 at
     * 2.24 s (beat 4.48) rounds to bar 2's second column, on the G string at the 2nd fret, where
     * the hand already is after E1-G1 (open A in between). */
    double beats[16];
    for (int i = 0; i < 16; i++)
        beats[i] = 0.5 * i;
    const dumu_note n[5] = {note(0.0, 0.4, 28), note(0.52, 0.9, 31), note(1.0, 1.4, 33),
                            note(2.24, 2.4, 45), note(4.0, 4.4, 23)};
    dumu_tab_pos pos[5];
    int64_t n_out = 0;
    assert_int_equal(dumu_tab_assign(n, 5, NULL, pos, &n_out, NULL), DUMU_OK);
    assert_int_equal(n_out, 1);
    dumu_tab_layout l = {beats, 16, 4, 0, 2, 2, false, 0};
    char *text = NULL;
    dumu_error err = {0};
    assert_int_equal(dumu_tab_render(n, pos, 5, NULL, &l, &text, &err), DUMU_OK);
    const char *want = "4-string bass (E A D G), 4/4, 2 columns per quarter\n"
                       "\n"
                       "  1                        2\n"
                       "G|------------------------|---2--------------------|\n"
                       "D|------------------------|------------------------|\n"
                       "A|------------0-----------|------------------------|\n"
                       "E|0-----3-----------------|------------------------|\n"
                       "\n"
                       "(1 note out of the range of a 4-string bass left out)\n";
    if (strcmp(text, want) != 0) {
        print_error("got:\n%s\nwant:\n%s\n", text, want);
        fail();
    }
    dumu_free(text);

    /* A line of 60 characters holds two bars of 25 after "G|"; 40 holds one (and 10, one). */
    const int widths[3] = {60, 40, 10}, systems[3] = {1, 2, 2};
    for (int w = 0; w < 3; w++) {
        l.line_width = widths[w];
        assert_int_equal(dumu_tab_render(n, pos, 5, NULL, &l, &text, &err), DUMU_OK);
        int n_systems = 0;
        for (const char *c = text; (c = strstr(c, "\nG|")) != NULL; c++)
            n_systems++;
        assert_int_equal(n_systems, systems[w]);
        assert_non_null(strstr(text, w ? "\n  2\nG|---2" : "  1                        2\n"));
        dumu_free(text);
    }
    l.line_width = 0;

    /* Bars from beat 2: the two beats before it are a 2/4 pickup (as in the MIDI file), bar 1
     * starts on beat 2; a 5-string, where B0 fits, in a second system. */
    l.first_downbeat = 2;
    dumu_tab_params five = dumu_tab_default_params();
    five.n_strings = 5;
    assert_int_equal(dumu_tab_assign(n, 5, &five, pos, &n_out, NULL), DUMU_OK);
    assert_int_equal(dumu_tab_render(n, pos, 5, &five, &l, &text, &err), DUMU_OK);
    const char *want5 = "5-string bass (B E A D G), 4/4, 2 columns per quarter, pickup 2/4\n"
                        "\n"
                        "  1            2\n"
                        "G|------------|---------------2--------|\n"
                        "D|------------|------------------------|\n"
                        "A|------------|0-----------------------|\n"
                        "E|0-----3-----|------------------------|\n"
                        "B|------------|------------------------|\n"
                        "\n"
                        "  3\n"
                        "G|------------------------|\n"
                        "D|------------------------|\n"
                        "A|------------------------|\n"
                        "E|------------------------|\n"
                        "B|------------0-----------|\n";
    if (strcmp(text, want5) != 0) {
        print_error("got:\n%s\nwant:\n%s\n", text, want5);
        fail();
    }
    dumu_free(text);

    /* 6/8 (two dotted-quarter beats of 0.75 s), the first beat 0.25 s in: a lead-in of 1/3
     * beat, a 1/8 pickup of two 16th columns; E1 on the pickup's second 16th, A1 on bar 1's
     * downbeat, D2 on its second beat (the 4th eighth). */
    double slow[8];
    for (int i = 0; i < 8; i++)
        slow[i] = 0.25 + 0.75 * i;
    const dumu_note c[3] = {note(0.125, 0.25, 28), note(0.25, 0.5, 33), note(1.0, 1.2, 38)};
    dumu_tab_pos cpos[3];
    assert_int_equal(dumu_tab_assign(c, 3, NULL, cpos, NULL, NULL), DUMU_OK);
    const dumu_tab_layout six = {slow, 8, 2, 0, 4, 4, true, 0};
    assert_int_equal(dumu_tab_render(c, cpos, 3, NULL, &six, &text, &err), DUMU_OK);
    const char *want6 = "4-string bass (E A D G), 6/8, 4 columns per quarter, pickup 1/8\n"
                        "\n"
                        "  1      2\n"
                        "G|------|------------------------------------|\n"
                        "D|------|------------------0-----------------|\n"
                        "A|------|0-----------------------------------|\n"
                        "E|---0--|------------------------------------|\n";
    if (strcmp(text, want6) != 0) {
        print_error("got:\n%s\nwant:\n%s\n", text, want6);
        fail();
    }
    dumu_free(text);
    /* A 9/8 bar is 4.5 quarters: not a whole number of quarter columns. */
    const dumu_tab_layout nine = {slow, 8, 3, 0, 1, 4, true, 0};
    assert_int_equal(dumu_tab_render(c, cpos, 3, NULL, &nine, &text, &err), DUMU_E_INVALID_ARG);
    assert_null(text);

    l.subdivisions = 0;
    assert_int_equal(dumu_tab_render(n, pos, 5, NULL, &l, &text, &err), DUMU_E_INVALID_ARG);
    assert_null(text);
    l.subdivisions = 2;
    dumu_note far = note(1e7, 1e7 + 1, 40); /* 2e7 beats away */
    dumu_tab_pos far_pos = {1, 7, 5};
    assert_int_equal(dumu_tab_render(&far, &far_pos, 1, NULL, &l, &text, &err), DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "too far"));
    l.n_beats = 1;
    assert_int_equal(dumu_tab_render(n, pos, 5, NULL, &l, &text, &err), DUMU_E_INVALID_ARG);
    l.n_beats = 16;
    for (int64_t k = 1; k <= 4; k++) {
        dumu_alloc_fail_after(k);
        dumu_status rc = dumu_tab_render(n, pos, 5, NULL, &l, &text, &err);
        int64_t made = dumu_alloc_fail_after(0);
        if (made < k) {
            assert_int_equal(rc, DUMU_OK);
            dumu_free(text);
            break;
        }
        assert_int_equal(rc, DUMU_E_NOMEM);
        assert_null(text);
    }
}

/* The six ground-truth bass lines: every note the bass can reach gets a fret in 0..24; the DP
 * costs no more than always taking the lowest fret, and moves the hand less. */
static void test_testdata_lines(void **state) {
    (void)state;
    static const char *const items[6] = {
        "dm01_freedoom2_d_ddtbl2",           "dm02_freedoom1_d_e3m2",
        "dm03_freedoom2_d_read_m",           "dm04_openmsx_train_filled_with_cash",
        "dm05_openmsx_no_work_song_redfarn", "dm06_blupi_music007"};
    for (int i = 0; i < 6; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "%s/bass_notes.csv", items[i]);
        dumu_note *notes = NULL;
        int64_t n = 0;
        dumu_error err = {0};
        assert_int_equal(dumu_notes_read_csv(test_path("DUMU_TESTDATA_DIR", rel), &notes, &n, &err),
                         DUMU_OK);
        for (int ns = 4; ns <= 5; ns++) {
            dumu_tab_params p = dumu_tab_default_params();
            p.n_strings = ns;
            dumu_tab_pos *pos = malloc((size_t)n * sizeof *pos);
            dumu_tab_pos *low = malloc((size_t)n * sizeof *low);
            assert_non_null(pos);
            assert_non_null(low);
            int64_t n_out = 0, expect_out = 0;
            assert_int_equal(dumu_tab_assign(notes, n, &p, pos, &n_out, &err), DUMU_OK);
            int max_fret = 0;
            for (int64_t k = 0; k < n; k++) {
                const int reachable = notes[k].pitch >= dumu_tab_open_pitch(ns, 0) &&
                                      notes[k].pitch <= dumu_tab_open_pitch(ns, ns - 1) + 24;
                expect_out += !reachable;
                assert_int_equal(pos[k].string >= 0, reachable);
                low[k].string = -1;
                low[k].fret = -1;
                low[k].hand = k ? low[k - 1].hand : 1;
                if (!reachable) continue;
                assert_int_equal(dumu_tab_open_pitch(ns, pos[k].string) + pos[k].fret,
                                 notes[k].pitch);
                max_fret = pos[k].fret > max_fret ? pos[k].fret : max_fret;
                /* the lowest-fret choice: the highest string that reaches the pitch, the hand
                 * at that fret (or kept, on an open string) */
                for (int s = ns - 1; s >= 0; s--) {
                    if (notes[k].pitch >= dumu_tab_open_pitch(ns, s)) {
                        low[k].string = (int8_t)s;
                        low[k].fret = (int8_t)(notes[k].pitch - dumu_tab_open_pitch(ns, s));
                        low[k].hand = low[k].fret ? low[k].fret : (k ? low[k - 1].hand : 1);
                        break;
                    }
                }
            }
            assert_int_equal(n_out, expect_out);
            const double c_dp = dumu_tab_line_cost(pos, n), c_low = dumu_tab_line_cost(low, n);
            assert_true(c_dp <= c_low + 1e-9);
            print_message("%-36s %d strings: %3lld notes, %2lld out of range, frets up to %2d, "
                          "cost %.1f (lowest-fret choice %.1f)\n",
                          items[i], ns, (long long)n, (long long)n_out, max_fret, c_dp, c_low);
            free(low);
            free(pos);
        }
        dumu_free(notes);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tunings),        cmocka_unit_test(test_simple_lines),
        cmocka_unit_test(test_dp_is_optimal),  cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_testdata_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
