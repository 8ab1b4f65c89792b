/* Bar layout (src/music/layout.c): the pickup rule and its bounds on a sweep of lead-ins (steady
 * and uneven beats, simple and compound meters), seconds <-> quarters round trips, grid snapping
 * against a brute-force reference (every grid point listed, the nearest taken), measures, time
 * signatures and invalid arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "music/layout.h"
#include "music/quantize.h"
#include "testutil.h"

#define NEAR(a, b, tol) assert_true(fabs((a) - (b)) <= (tol))

/* n beats of `period` seconds from t0. */
static void steady(double *b, int n, double t0, double period) {
    for (int i = 0; i < n; i++)
        b[i] = t0 + period * i;
}

/* The pickup rule, checked on its definition for one layout: D is the earliest bar line at or
 * after time 0, L is x rounded to 32nds (x < 1 beat) or 16ths, and the bounds of layout.c hold:
 * each beat from time 0 to beat D + m is written within 1/16 of its length, the written bar 1
 * downbeat is within 1/16 beat of the detected one, in time and in written beats. */
static void check_rule(const dumu_layout *l, int32_t first_downbeat) {
    const double bpb = l->beats_per_bar, q = l->beat_q;
    const double p0 = dumu_beat_position(l->beats, l->n_beats, 0.0);
    /* D: a bar line (congruent to first_downbeat), at or after p0, less than a bar after it */
    NEAR(l->downbeat, round(l->downbeat), 0.0);
    NEAR(fmod(fmod(l->downbeat - first_downbeat, bpb) + bpb, bpb), 0.0, 0.0);
    assert_true(l->downbeat >= p0 - 1e-9 && l->downbeat < p0 + bpb);
    const double x = l->lead_in;
    NEAR(x, l->downbeat - p0, 1e-9);
    /* L: the rounding, and the pickup modulo a bar */
    const double unit = x < 1.0 ? 0.125 : 0.25;
    NEAR(l->lead_q, round(x * q / unit) * unit, 0.0);
    const double e = fabs(x * q - l->lead_q) / q; /* in beats */
    assert_true(e <= unit / 2 / q + 1e-12);
    NEAR(l->pickup_q, l->lead_q == l->bar_q ? 0.0 : l->lead_q, 0.0);
    /* tempo: every beat interval from time 0 to D + 1 written at its own length, scaled by at
     * most 1/16 (the bound e / (1 + min(x, L)) and its worst case 1/16) */
    const double m = x < 1.0 ? (double)l->beats_per_bar : 1.0;
    NEAR(l->span, m, 0.0);
    const double lb = l->lead_q / q, bound = e / (m + fmin(x, lb));
    assert_true(bound <= 1.0 / 16 + 1e-12);
    for (int64_t j = (int64_t)floor(p0); j <= (int64_t)(l->downbeat + m); j++) {
        const int64_t k = j < 0 ? 0 : j > l->n_beats - 2 ? l->n_beats - 2 : j;
        const double true_s = (l->beats[k + 1] - l->beats[k]) / q; /* per quarter */
        const double dev = fabs(dumu_layout_quarter_s(l, j) / true_s - 1.0);
        assert_true(dev <= bound + 1e-9);
        if ((double)j >= l->downbeat + m) NEAR(dev, 0.0, 1e-12); /* beat D + m on: exact */
    }
    /* downbeat: the detected one's written position, and the written bar line's time */
    const double t_d = dumu_beat_time(l->beats, l->n_beats, l->downbeat);
    const double db_bound = m > 1.0 ? e : e / (1.0 + fmin(x, lb)); /* m e / (m + ..) <= e */
    assert_true(db_bound <= 1.0 / 16 + 1e-12);
    assert_true(fabs(dumu_layout_quarters(l, t_d) - l->lead_q) / q <= db_bound + 1e-9);
    const double u_bar =
        dumu_beat_position(l->beats, l->n_beats, dumu_layout_seconds(l, l->lead_q));
    assert_true(fabs(u_bar - l->downbeat) <= db_bound + 1e-9);
    /* time 0 is tick 0, beats from D + m on sit on whole beats after the pickup */
    NEAR(dumu_layout_quarters(l, 0.0), 0.0, 1e-9);
    for (int64_t j = (int64_t)(l->downbeat + m); j < l->n_beats; j++) {
        if (j < 0) continue;
        NEAR(dumu_layout_quarters(l, l->beats[j]), l->lead_q + (double)(j - l->downbeat) * q, 1e-9);
    }
}

/* Lead-ins from 0 to more than a bar, in steps of 1/100 beat, for 4/4, 3/4, 5/4, 6/4 and
 * compound 6/8 (2 beats) and 9/8 (3 beats); downbeats on several beats. */
static void test_pickup_sweep(void **state) {
    (void)state;

    static const struct {
        int bpb;
        bool compound;
    } meters[] = {{4, false}, {3, false}, {5, false}, {6, false}, {2, true}, {3, true}};

    double b[64];
    int n_cases = 0, n_pickups = 0;
    for (size_t m = 0; m < sizeof meters / sizeof meters[0]; m++) {
        for (int f = 0; f < 3; f++) {
            for (int k = 0; k <= 300; k++) {
                const double period = 0.5, t0 = k * 0.01 * period;
                steady(b, 64, t0, period);
                dumu_layout l;
                dumu_error err = {0};
                assert_int_equal(
                    dumu_layout_init(&l, b, 64, f, meters[m].bpb, meters[m].compound, &err),
                    DUMU_OK);
                check_rule(&l, f);
                n_cases++;
                n_pickups += dumu_layout_has_pickup(&l);
            }
        }
    }
    print_message("%d layouts, %d with a pickup bar\n", n_cases, n_pickups);
    assert_true(n_pickups > n_cases / 2);

    /* Uneven beats before the downbeat (a tracker settling): each lead-in beat keeps its own
     * tempo within the bound, unlike one mean tempo over the lead-in. */
    const double uneven[12] = {0.10, 0.52, 0.98, 1.46, 1.96, 2.46,
                               2.96, 3.46, 3.96, 4.46, 4.96, 5.46};
    for (int f = 0; f < 4; f++) {
        dumu_layout l;
        assert_int_equal(dumu_layout_init(&l, uneven, 12, f, 4, false, NULL), DUMU_OK);
        check_rule(&l, f);
    }
}

/* The examples of the issue and of midi.c's DECISIONS, 120 BPM 4/4. */
static void test_examples(void **state) {
    (void)state;
    double b[32];
    dumu_layout l;
    int32_t num, den;
    /* downbeat at 0: no pickup, the map is the beats */
    steady(b, 32, 0.0, 0.5);
    assert_int_equal(dumu_layout_init(&l, b, 32, 0, 4, false, NULL), DUMU_OK);
    assert_false(dumu_layout_has_pickup(&l));
    NEAR(l.scale, 1.0, 0.0);
    /* 23 ms: no pickup, bar 1's four beats 1.1 % slow, the bar line at tick 0 */
    steady(b, 32, 0.023, 0.5);
    assert_int_equal(dumu_layout_init(&l, b, 32, 0, 4, false, NULL), DUMU_OK);
    assert_false(dumu_layout_has_pickup(&l));
    NEAR(l.downbeat, 0.0, 0.0);
    NEAR(l.span, 4.0, 0.0);
    for (int64_t j = -1; j < 4; j++)
        NEAR(60.0 / dumu_layout_quarter_s(&l, j), 120.0 * 4.0 / 4.046, 1e-9);
    NEAR(60.0 / dumu_layout_quarter_s(&l, 4), 120.0, 1e-9);
    /* half a beat: a 1/8 pickup, exact */
    steady(b, 32, 0.25, 0.5);
    assert_int_equal(dumu_layout_init(&l, b, 32, 0, 4, false, NULL), DUMU_OK);
    NEAR(l.pickup_q, 0.5, 0.0);
    NEAR(l.scale, 1.0, 1e-15);
    dumu_layout_time_signature(&l, 0, &num, &den);
    assert_true(num == 1 && den == 8);
    dumu_layout_time_signature(&l, 1, &num, &den);
    assert_true(num == 4 && den == 4);
    /* the downbeat at 1.9 bars (3.8 s, beat 7 of beats from 0.3 s): bar lines at beats 3 and
     * 7; x = 3.6 beats -> a 7/8 pickup, then a whole bar, then the bar on beat 7 */
    steady(b, 32, 0.3, 0.5);
    assert_int_equal(dumu_layout_init(&l, b, 32, 7, 4, false, NULL), DUMU_OK);
    NEAR(l.downbeat, 3.0, 0.0);
    NEAR(l.lead_q, 3.5, 0.0);
    dumu_layout_time_signature(&l, 0, &num, &den);
    assert_true(num == 7 && den == 8);
    NEAR(dumu_layout_measure_start(&l, 2), 7.5, 0.0);
    NEAR(dumu_layout_quarters(&l, 3.8), 7.5, 1e-9); /* beat 7 opens measure 2 */
    assert_int_equal(dumu_layout_measure_of(&l, 7.5), 2);

    /* other pickups: 3/16, 5/32, 2/4; compound 6/8 with 2/8 and 3/8 */
    const struct {
        double t0;
        int bpb;
        bool compound;
        int num, den;
    } ts[] = {{0.375, 4, false, 3, 16},   {0.3125, 4, false, 5, 32}, {1.0, 4, false, 2, 4},
              {0.5 / 1.5, 2, true, 2, 8}, {0.5, 2, true, 3, 8},      {0.0625, 4, false, 1, 32}};

    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        steady(b, 32, ts[i].t0, 0.5);
        assert_int_equal(dumu_layout_init(&l, b, 32, 0, ts[i].bpb, ts[i].compound, NULL), DUMU_OK);
        dumu_layout_time_signature(&l, 0, &num, &den);
        if (num != ts[i].num || den != ts[i].den) {
            print_error("lead-in %g s: pickup %d/%d, expected %d/%d\n", ts[i].t0, num, den,
                        ts[i].num, ts[i].den);
            fail();
        }
    }
    dumu_layout_time_signature(&l, 1, &num, &den);
    assert_true(num == 4 && den == 4);
    steady(b, 32, 0.0, 0.5);
    assert_int_equal(dumu_layout_init(&l, b, 32, 0, 2, true, NULL), DUMU_OK);
    dumu_layout_time_signature(&l, 0, &num, &den);
    assert_true(num == 6 && den == 8);
    NEAR(dumu_layout_quarters(&l, 1.0), 3.0, 1e-12); /* beat 2 = bar 2: 2 dotted quarters */
    /* a lead-in that rounds to a whole bar is no pickup: bar lines at 0 and at D */
    steady(b, 32, 1.99, 0.5); /* x = 3.98 beats */
    assert_int_equal(dumu_layout_init(&l, b, 32, 0, 4, false, NULL), DUMU_OK);
    NEAR(l.lead_q, 4.0, 0.0);
    assert_false(dumu_layout_has_pickup(&l));
    NEAR(dumu_layout_measure_start(&l, 1), 4.0, 0.0);
}

static void test_round_trip(void **state) {
    (void)state;
    const double b[8] = {0.41, 0.83, 1.30, 1.74, 2.21, 2.60, 3.10, 3.55};
    for (int f = 0; f < 4; f++) {
        dumu_layout l;
        assert_int_equal(dumu_layout_init(&l, b, 8, f, 3, f % 2, NULL), DUMU_OK);
        for (double t = -1.0; t < 6.0; t += 0.0137) {
            const double q = dumu_layout_quarters(&l, t);
            NEAR(dumu_layout_seconds(&l, q), t, 1e-9);
        }
        double last = -INFINITY;
        for (double t = -1.0; t < 6.0; t += 0.0137) { /* increasing */
            const double q = dumu_layout_quarters(&l, t);
            assert_true(q > last);
            last = q;
        }
    }
}

/* Reference: every grid point as layout.h lists them (each bar's start + k / steps inside the
 * bar and its end; in the pickup pickup - k / steps, none before 0), the nearest one taken. */
static double snap_reference(const dumu_layout *l, double q, int32_t steps) {
    double best = NAN, best_d = INFINITY;
    const double step = 1.0 / steps;
    for (int64_t m = 0; m < 12; m++) {
        const double s = dumu_layout_measure_start(l, m);
        const double e = dumu_layout_has_pickup(l) && m == 0 ? l->pickup_q : s + l->bar_q;
        const bool pickup = dumu_layout_has_pickup(l) && m == 0;
        for (int64_t k = 0;; k++) {
            const double p = pickup ? e - k * step : s + k * step;
            if (pickup ? p < 0.0 : p > e) break;
            if (fabs(p - q) < best_d) {
                best_d = fabs(p - q);
                best = p;
            }
        }
        if (fabs(e - q) < best_d) {
            best_d = fabs(e - q);
            best = e;
        }
    }
    return best;
}

static void test_snap_reference(void **state) {
    (void)state;
    static const int32_t grids[] = {1, 2, 3, 4, 6, 8, 12, 16};
    double b[40];
    unsigned seed = 11;
    int n_checked = 0;
    for (int c = 0; c < 12; c++) {
        steady(b, 40, (double)c * 0.137, 0.5);
        dumu_layout l;
        assert_int_equal(dumu_layout_init(&l, b, 40, c % 4, c % 3 + 2, c % 2, NULL), DUMU_OK);
        for (size_t g = 0; g < sizeof grids / sizeof grids[0]; g++) {
            for (int i = 0; i < 300; i++) {
                seed = seed * 1103515245u + 12345u;
                const double q = -0.5 + (double)(seed >> 8) / (double)(1u << 24) * 20.0;
                const double want = snap_reference(&l, q, grids[g]);
                const double got = dumu_layout_snap(&l, q, grids[g]);
                /* equal, or a tie between two points (then either is nearest) */
                if (fabs(got - want) > 1e-12 && fabs(fabs(got - q) - fabs(want - q)) > 1e-12) {
                    print_error("snap(%g, %d) = %.12g, reference %.12g (pickup %g, bar %g)\n", q,
                                grids[g], got, want, l.pickup_q, l.bar_q);
                    fail();
                }
                /* a grid point maps to itself, and is a whole number of steps from tick 0's
                 * grid when the pickup is */
                NEAR(dumu_layout_snap(&l, got, grids[g]), got, 0.0);
                n_checked++;
            }
        }
    }
    print_message("%d grid snaps match the reference\n", n_checked);
}

static void test_invalid(void **state) {
    (void)state;
    double b[4] = {0.0, 0.5, 1.0, 1.5};
    dumu_layout l;
    dumu_error err = {0};
    assert_int_equal(dumu_layout_init(&l, b, 1, 0, 4, false, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_layout_init(&l, NULL, 4, 0, 4, false, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_layout_init(&l, b, 4, -1, 4, false, &err), DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "first_downbeat"));
    assert_int_equal(dumu_layout_init(&l, b, 4, 0, 17, false, &err), DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "beats_per_bar"));
    b[2] = NAN;
    assert_int_equal(dumu_layout_init(&l, b, 4, 0, 4, false, &err), DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "beat 2"));
    b[2] = 0.5;
    assert_int_equal(dumu_layout_init(&l, b, 4, 0, 4, false, &err), DUMU_E_INVALID_ARG);
    b[2] = 1.0;
    const double far[2] = {1e9, 1e9 + 1e-4}; /* time 0 is 1e13 beats away */
    assert_int_equal(dumu_layout_init(&l, far, 2, 0, 4, false, &err), DUMU_E_INVALID_ARG);
    /* any first_downbeat >= 0 works, also past the beats: only its bar phase counts */
    dumu_layout a, c;
    assert_int_equal(dumu_layout_init(&a, b, 4, 1, 4, false, NULL), DUMU_OK);
    assert_int_equal(dumu_layout_init(&c, b, 4, 9, 4, false, NULL), DUMU_OK);
    assert_true(a.downbeat == c.downbeat && a.lead_q == c.lead_q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pickup_sweep), cmocka_unit_test(test_examples),
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_snap_reference),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
