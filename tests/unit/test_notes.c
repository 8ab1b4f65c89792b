/* Note creation (src/models/notes.c) on hand-made activations: every rule of the reference
 * (@spotify/basic-pitch 1.0.1 outputToNotesPoly/addPitchBendsToNoteEvents, docs/basic_pitch.md §7),
 * the fast melodia argmax against the plain rescan, invalid arguments and allocation failures.
 * The parity with the reference itself on real network output is in
 * tests/golden/test_bp_parity.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "models/notes.h"
#include "testutil.h"

#define NN 88  /* note bins */
#define NC 264 /* contour bins */

/* ---------------------------------------------------------------------------------------- */
/* Helpers */

/* Zeroed activations of n frames; contour a flat 0.1 (so bends come from what a test puts in). */
static dumu_bp_output act_new(int64_t n) {
    dumu_bp_output o = {0};
    o.n_frames = n;
    o.note = calloc((size_t)(n * NN + 1), sizeof(float));
    o.onset = calloc((size_t)(n * NN + 1), sizeof(float));
    o.contour = calloc((size_t)(n * NC + 1), sizeof(float));
    assert_non_null(o.note);
    assert_non_null(o.onset);
    assert_non_null(o.contour);
    for (int64_t q = 0; q < n * NC; q++)
        o.contour[q] = 0.1f;
    return o;
}

static void act_free(dumu_bp_output *o) {
    free(o->note);
    free(o->onset);
    free(o->contour);
    memset(o, 0, sizeof *o);
}

/* note[a..b)[j] = v */
static void run(dumu_bp_output *o, int j, int64_t a, int64_t b, float v) {
    for (int64_t i = a; i < b; i++)
        o->note[i * NN + j] = v;
}

static void onset(dumu_bp_output *o, int64_t i, int j, float v) {
    o->onset[i * NN + j] = v;
}

/* Defaults with inferred onsets and melodia off, so one rule is seen at a time. */
static dumu_note_params plain(void) {
    dumu_note_params p = dumu_note_default_params();
    p.infer_onsets = false;
    p.melodia_trick = false;
    return p;
}

static dumu_note_list make(const dumu_bp_output *o, const dumu_note_params *p) {
    dumu_note_list l;
    dumu_error err = {0};
    dumu_status rc = dumu_notes_create(o, p, &l, &err);
    if (rc) fprintf(stderr, "dumu_notes_create: %s\n", err.message);
    assert_int_equal(rc, DUMU_OK);
    return l;
}

static void expect_note(const dumu_note_list *l, int64_t k, int32_t start, int32_t end,
                        int32_t pitch) {
    assert_true(k < l->n_notes);
    const dumu_note *n = &l->notes[k];
    if (n->start_frame != start || n->end_frame != end || n->pitch != pitch) {
        fprintf(stderr, "note %lld: got (%d, %d, %d), want (%d, %d, %d)\n", (long long)k,
                n->start_frame, n->end_frame, n->pitch, start, end, pitch);
        fail();
    }
}

/* Mean of note[a..b)[j] the way the reference sums: sequential, in double. */
static double mean_of(const dumu_bp_output *o, int j, int64_t a, int64_t b) {
    double s = 0.0;
    for (int64_t i = a; i < b; i++)
        s += (double)o->note[i * NN + j];
    return s / (double)(b - a);
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static float rng_unit(uint64_t *s) {
    return (float)(rng_next(s) >> 40) / (float)(1 << 24);
}

/* Random activations shaped like music: a low noise floor, sustained segments with an onset at
 * their start and a contour peak near their pitch. With `quantum` > 0 every note activation is
 * rounded to a multiple of it, which makes ties (the argmax rules) common. */
static dumu_bp_output act_random(int64_t n, uint64_t seed, float quantum) {
    dumu_bp_output o = act_new(n);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t q = 0; q < n * NN; q++) {
        o.note[q] = 0.25f * rng_unit(&s) * rng_unit(&s);
        o.onset[q] = 0.3f * rng_unit(&s) * rng_unit(&s);
    }
    for (int64_t q = 0; q < n * NC; q++)
        o.contour[q] = 0.5f * rng_unit(&s);
    for (int64_t k = 0; k < n / 5; k++) {
        int j = (int)(rng_next(&s) % NN);
        int64_t a = (int64_t)(rng_next(&s) % (uint64_t)n);
        int64_t len = 2 + (int64_t)(rng_next(&s) % 50);
        float amp = 0.3f + 0.65f * rng_unit(&s);
        for (int64_t i = a; i < a + len && i < n; i++) {
            o.note[i * NN + j] = amp * (0.8f + 0.4f * rng_unit(&s));
            if (o.note[i * NN + j] > 0.99f) o.note[i * NN + j] = 0.99f;
            o.contour[i * NC + 3 * j + (int)(rng_next(&s) % 3)] = 0.5f + 0.5f * rng_unit(&s);
        }
        if (rng_unit(&s) < 0.7f) o.onset[a * NN + j] = 0.4f + 0.6f * rng_unit(&s);
    }
    if (quantum > 0.0f) {
        for (int64_t q = 0; q < n * NN; q++)
            o.note[q] = quantum * floorf(o.note[q] / quantum);
    }
    return o;
}

static void expect_same_lists(const dumu_note_list *a, const dumu_note_list *b) {
    assert_int_equal(a->n_notes, b->n_notes);
    for (int64_t k = 0; k < a->n_notes; k++) {
        const dumu_note *x = &a->notes[k], *y = &b->notes[k];
        assert_int_equal(x->start_frame, y->start_frame);
        assert_int_equal(x->end_frame, y->end_frame);
        assert_int_equal(x->pitch, y->pitch);
        assert_true(x->amplitude == y->amplitude);
        assert_true(x->start_s == y->start_s && x->end_s == y->end_s);
        assert_int_equal(x->n_bends, y->n_bends);
        if (x->n_bends)
            assert_memory_equal(x->bends, y->bends, sizeof(int32_t) * (size_t)x->n_bends);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Small functions */

static void test_defaults(void **state) {
    (void)state;
    dumu_note_params p = dumu_note_default_params();
    assert_true(p.onset_threshold == 0.5);
    assert_true(p.frame_threshold == 0.3);
    assert_int_equal(p.min_note_frames, 11);
    assert_true(p.infer_onsets);
    assert_true(p.melodia_trick);
    assert_int_equal(p.energy_tolerance, 11);
    assert_true(p.min_freq_hz == 0.0 && p.max_freq_hz == 0.0);
    assert_true(p.pitch_bends);
}

static void test_ms_to_frames(void **state) {
    (void)state;
    assert_int_equal(dumu_note_ms_to_frames(127.70), 11); /* the Python package's default */
    assert_int_equal(dumu_note_ms_to_frames(58.0), 5);    /* its old CLI default */
    assert_int_equal(dumu_note_ms_to_frames(1000.0), 86); /* 86.13 */
    /* 1.5 and 2.5 frames exactly: round half to even, as NumPy */
    assert_int_equal(dumu_note_ms_to_frames(1.5 * 256.0 / 22.05), 2);
    assert_int_equal(dumu_note_ms_to_frames(2.5 * 256.0 / 22.05), 2);
    assert_int_equal(dumu_note_ms_to_frames(0.0), 0);
    assert_int_equal(dumu_note_ms_to_frames(-50.0), 0);
    assert_int_equal(dumu_note_ms_to_frames((double)NAN), 0);
    assert_int_equal(dumu_note_ms_to_frames(1e300), INT32_MAX);
}

static void test_frame_to_time(void **state) {
    (void)state;
    const double wo = 0.010326077097505668; /* the reference's WINDOW_OFFSET */
    assert_true(dumu_bp_frame_to_time(0) == 0.0);
    assert_true(dumu_bp_frame_to_time(1) == 256.0 / 22050.0);
    assert_true(dumu_bp_frame_to_time(171) == 171.0 * 256.0 / 22050.0);
    assert_true(dumu_bp_frame_to_time(172) == 172.0 * 256.0 / 22050.0 - wo);
    assert_true(dumu_bp_frame_to_time(344) == 344.0 * 256.0 / 22050.0 - 2.0 * wo);
    /* Values the reference printed for the test vector of docs/basic_pitch.md §9. */
    assert_true(dumu_bp_frame_to_time(43) == 0.4992290249433107);
    assert_true(dumu_bp_frame_to_time(86) == 0.9984580498866213);
    assert_true(dumu_bp_frame_to_time(172) == 1.986590022675737);
    assert_true(dumu_bp_frame_to_time(214) - dumu_bp_frame_to_time(172) == 0.4876190476190474);
    assert_true(dumu_bp_frame_to_time(172) - dumu_bp_frame_to_time(86) == 0.9881319727891156);
    /* The window number uses 172 although windows are 142 frames: a jump at 172 only. */
    assert_true(dumu_bp_frame_to_time(142) == 142.0 * 256.0 / 22050.0);
}

static void test_bend_weights(void **state) {
    (void)state;
    assert_true(dumu_notes_bend_weight(0) == 1.0);
    for (int d = 1; d <= 25; d++) {
        assert_true(dumu_notes_bend_weight(d) == dumu_notes_bend_weight(-d));
        assert_true(dumu_notes_bend_weight(d) < dumu_notes_bend_weight(d - 1));
        assert_true(fabs(dumu_notes_bend_weight(d) - exp(-(double)(d * d) / 50.0)) == 0.0);
    }
    assert_true(fabs(dumu_notes_bend_weight(5) - exp(-0.5)) < 1e-16); /* sigma = 5 bins */
}

/* ---------------------------------------------------------------------------------------- */
/* Onset-driven notes */

static void test_basic_onset_note(void **state) {
    (void)state;
    dumu_bp_output o = act_new(60);
    run(&o, 10, 5, 25, 0.6f);
    onset(&o, 5, 10, 0.8f);
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    /* The energy scan stops after 11 frames below 0.3 and steps back over them. */
    expect_note(&l, 0, 5, 25, 31);
    assert_true(l.notes[0].amplitude == (double)0.6f);
    assert_true(l.notes[0].start_s == dumu_bp_frame_to_time(5));
    assert_true(l.notes[0].end_s == dumu_bp_frame_to_time(25));
    assert_int_equal(l.notes[0].n_bends, 20);
    assert_ptr_equal(l.notes[0].bends, l.bend_pool);
    dumu_note_list_deinit(&l);
    assert_null(l.notes);
    assert_int_equal(l.n_notes, 0);
    dumu_note_list_deinit(&l); /* twice is fine */
    act_free(&o);
}

static void test_onset_threshold_is_strict(void **state) {
    (void)state;
    dumu_bp_output o = act_new(60);
    run(&o, 10, 5, 25, 0.6f);
    onset(&o, 5, 10, 0.5f); /* exactly the threshold: not above it */
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 0);
    dumu_note_list_deinit(&l);
    onset(&o, 5, 10, nextafterf(0.5f, 1.0f));
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    dumu_note_list_deinit(&l);
    /* Not a strict peak in time (equal neighbour): no candidate. */
    onset(&o, 4, 10, nextafterf(0.5f, 1.0f));
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 0);
    dumu_note_list_deinit(&l);
    act_free(&o);
}

static void test_frame_threshold_and_tolerance(void **state) {
    (void)state;
    dumu_note_params p = plain();
    p.frame_threshold = 0.25;
    dumu_bp_output o = act_new(80);
    /* A frame exactly at the threshold counts as active (the test is `<`). */
    run(&o, 10, 5, 20, 0.6f);
    run(&o, 10, 20, 23, 0.25f);
    onset(&o, 5, 10, 0.9f);
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    expect_note(&l, 0, 5, 23, 31);
    assert_true(l.notes[0].amplitude == mean_of(&o, 10, 5, 23));
    dumu_note_list_deinit(&l);

    /* A gap of 10 frames below the threshold is bridged (tolerance 11)... */
    run(&o, 10, 23, 33, 0.1f);
    run(&o, 10, 33, 40, 0.6f);
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    expect_note(&l, 0, 5, 40, 31);
    assert_true(l.notes[0].amplitude == mean_of(&o, 10, 5, 40));
    dumu_note_list_deinit(&l);

    /* ...a gap of 11 ends the note where the gap starts. */
    run(&o, 10, 33, 34, 0.1f);
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    expect_note(&l, 0, 5, 23, 31);
    dumu_note_list_deinit(&l);

    /* A smaller tolerance ends it sooner. */
    p.energy_tolerance = 3;
    run(&o, 10, 33, 40, 0.6f);
    run(&o, 10, 26, 33, 0.6f); /* gap is now 23..26: 3 frames */
    l = make(&o, &p);
    expect_note(&l, 0, 5, 23, 31);
    dumu_note_list_deinit(&l);
    act_free(&o);
}

static void test_note_reaching_the_end(void **state) {
    (void)state;
    dumu_bp_output o = act_new(40);
    run(&o, 30, 10, 40, 0.7f);
    onset(&o, 10, 30, 0.9f);
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    expect_note(&l, 0, 10, 39, 51); /* the scan never reaches frame n-1 */
    dumu_note_list_deinit(&l);
    /* An onset in the last frame is skipped. */
    onset(&o, 10, 30, 0.0f);
    onset(&o, 39, 30, 0.9f);
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 0);
    dumu_note_list_deinit(&l);
    act_free(&o);
}

static void test_min_length_strictly_longer(void **state) {
    (void)state;
    dumu_bp_output o = act_new(60);
    run(&o, 10, 5, 25, 0.6f); /* 20 frames */
    onset(&o, 5, 10, 0.8f);
    dumu_note_params p = plain();
    p.min_note_frames = 20;
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 0);
    dumu_note_list_deinit(&l);
    p.min_note_frames = 19;
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    dumu_note_list_deinit(&l);
    /* With the default 11: 11 frames is too short, 12 is enough. */
    p.min_note_frames = 11;
    run(&o, 10, 16, 25, 0.0f);
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 0);
    dumu_note_list_deinit(&l);
    run(&o, 10, 16, 17, 0.6f);
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    expect_note(&l, 0, 5, 17, 31);
    dumu_note_list_deinit(&l);
    act_free(&o);
}

static void test_emission_order_and_sort(void **state) {
    (void)state;
    dumu_bp_output o = act_new(100);
    run(&o, 10, 5, 25, 0.6f);
    onset(&o, 5, 10, 0.8f);
    run(&o, 40, 5, 30, 0.7f);
    onset(&o, 5, 40, 0.8f);
    run(&o, 20, 50, 80, 0.5f);
    onset(&o, 50, 20, 0.8f);
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 3);
    /* Candidates are taken by frame, then pitch, both descending. */
    expect_note(&l, 0, 50, 80, 41);
    expect_note(&l, 1, 5, 30, 61);
    expect_note(&l, 2, 5, 25, 31);
    const int32_t *bends1 = l.notes[1].bends;
    dumu_note_list_sort_by_time(&l);
    expect_note(&l, 0, 5, 25, 31);
    expect_note(&l, 1, 5, 30, 61);
    expect_note(&l, 2, 50, 80, 41);
    assert_ptr_equal(l.notes[1].bends, bends1); /* bends travel with their note */
    dumu_note_list_deinit(&l);
    act_free(&o);
}

static void test_neighbours_are_consumed(void **state) {
    (void)state;
    /* A later-in-time note is processed first and consumes the energy of its column and the two
     * next to it, so an earlier note running into it stops there. */
    dumu_bp_output o = act_new(100);
    run(&o, 10, 5, 60, 0.6f);
    onset(&o, 5, 10, 0.8f);
    run(&o, 11, 30, 60, 0.7f);
    onset(&o, 30, 11, 0.8f);
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 2);
    expect_note(&l, 0, 30, 60, 32);
    expect_note(&l, 1, 5, 30, 31);
    /* The amplitude reads the frames, not the consumed energy. */
    assert_true(l.notes[1].amplitude == (double)0.6f);
    dumu_note_list_deinit(&l);
    act_free(&o);
}

static void test_edge_frame_peak(void **state) {
    (void)state;
    /* Frame 0 can be a peak: it is compared with frame 1 only (Python never takes it). */
    dumu_bp_output o = act_new(50);
    run(&o, 10, 0, 20, 0.6f);
    onset(&o, 0, 10, 0.8f);
    onset(&o, 1, 10, 0.3f);
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    expect_note(&l, 0, 0, 20, 31);
    dumu_note_list_deinit(&l);
    act_free(&o);
}

/* ---------------------------------------------------------------------------------------- */
/* Inferred onsets */

static void test_inferred_onsets(void **state) {
    (void)state;
    dumu_bp_output o = act_new(60);
    run(&o, 10, 10, 30, 0.7f); /* a note with no onset activation */
    onset(&o, 40, 50, 0.9f);   /* an onset elsewhere sets the scale */
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 0);
    dumu_note_list_deinit(&l);
    /* The frame jump at 10 becomes an onset of 0.9 * 0.7 / 0.7. */
    p.infer_onsets = true;
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    expect_note(&l, 0, 10, 30, 31);
    dumu_note_list_deinit(&l);
    /* Scaled below the threshold: no onset. */
    onset(&o, 40, 50, 0.45f);
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 0);
    dumu_note_list_deinit(&l);
    /* Inferred onsets take the larger of the two: a real onset still counts. */
    onset(&o, 15, 10, 0.8f);
    run(&o, 10, 30, 32, 0.7f);
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    expect_note(&l, 0, 15, 32, 31);
    dumu_note_list_deinit(&l);
    act_free(&o);
}

static void test_inferred_onsets_flat_frames(void **state) {
    (void)state;
    /* Frames that never rise: the reference rescales 0 by 0, every inferred onset is NaN and
     * no onset-driven note survives, even where the onsets themselves peak. */
    dumu_bp_output o = act_new(60);
    for (int64_t q = 0; q < 60 * NN; q++)
        o.note[q] = 0.5f;
    onset(&o, 10, 20, 0.9f);
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_true(l.n_notes > 0); /* without inference the onset makes a note */
    dumu_note_list_deinit(&l);
    p.infer_onsets = true;
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 0);
    dumu_note_list_deinit(&l);
    act_free(&o);
}

/* ---------------------------------------------------------------------------------------- */
/* Melodia */

static void test_melodia(void **state) {
    (void)state;
    dumu_bp_output o = act_new(80);
    run(&o, 20, 10, 30, 0.6f); /* no onset: only melodia can find it */
    run(&o, 30, 40, 45, 0.7f); /* louder but too short: consumed, not emitted */
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 0);
    dumu_note_list_deinit(&l);
    p.melodia_trick = true;
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    /* The forward pass ends one frame early (i - 1 - k): the last active frame is left out. */
    expect_note(&l, 0, 10, 29, 41);
    assert_true(l.notes[0].amplitude == mean_of(&o, 20, 10, 29));
    dumu_note_list_deinit(&l);
    act_free(&o);
}

static void test_melodia_after_onset_notes(void **state) {
    (void)state;
    dumu_bp_output o = act_new(120);
    run(&o, 10, 5, 25, 0.6f);
    onset(&o, 5, 10, 0.8f);
    run(&o, 50, 60, 90, 0.8f);  /* melodia */
    run(&o, 50, 74, 75, 0.95f); /* its maximum sits mid-note: passes go both ways */
    dumu_note_params p = plain();
    p.melodia_trick = true;
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 2);
    expect_note(&l, 0, 5, 25, 31); /* onset notes first */
    expect_note(&l, 1, 60, 89, 71);
    dumu_note_list_deinit(&l);
    /* Energy left near an onset note's column is consumed by it, so melodia finds nothing
     * there. */
    run(&o, 11, 5, 25, 0.9f);
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 2);
    dumu_note_list_deinit(&l);
    act_free(&o);
}

static void test_melodia_ties(void **state) {
    (void)state;
    /* Equal maxima: the first row wins, and within it the last column... */
    dumu_bp_output o = act_new(80);
    run(&o, 20, 10, 30, 0.6f);
    run(&o, 60, 10, 30, 0.6f);
    dumu_note_params p = plain();
    p.melodia_trick = true;
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 2);
    expect_note(&l, 0, 10, 29, 81);
    expect_note(&l, 1, 10, 29, 41);
    dumu_note_list l2;
    assert_int_equal(dumu_notes_create_with(&o, &p, DUMU_NOTES_ARGMAX_NAIVE, &l2, NULL), DUMU_OK);
    expect_same_lists(&l, &l2);
    dumu_note_list_deinit(&l);
    dumu_note_list_deinit(&l2);
    act_free(&o);

    /* ...except in row 0, where column 0 wins a tie. */
    o = act_new(80);
    run(&o, 0, 0, 20, 0.6f);
    run(&o, 60, 0, 20, 0.6f);
    l = make(&o, &p);
    assert_true(l.n_notes >= 1);
    assert_int_equal(l.notes[0].pitch, 21);
    assert_int_equal(dumu_notes_create_with(&o, &p, DUMU_NOTES_ARGMAX_NAIVE, &l2, NULL), DUMU_OK);
    expect_same_lists(&l, &l2);
    dumu_note_list_deinit(&l);
    dumu_note_list_deinit(&l2);
    act_free(&o);
}

/* ---------------------------------------------------------------------------------------- */
/* Frame threshold from the data */

static void test_auto_frame_threshold(void **state) {
    (void)state;
    dumu_bp_output o = act_new(40);
    run(&o, 10, 5, 20, 0.6f);
    run(&o, 10, 20, 24, 0.12f);
    run(&o, 10, 24, 30, 0.04f);
    onset(&o, 5, 10, 0.8f);
    /* mean + sample std over all 40 x 88 cells, two-pass here */
    double sum = 0.0, ss = 0.0, cnt = 40.0 * NN;
    for (int64_t q = 0; q < 40 * NN; q++)
        sum += (double)o.note[q];
    double mean = sum / cnt;
    for (int64_t q = 0; q < 40 * NN; q++) {
        double d = (double)o.note[q] - mean;
        ss += d * d;
    }
    double thr = mean + sqrt(ss / (cnt - 1.0));
    assert_true(thr > 0.04 && thr < 0.12);
    dumu_note_params p = plain();
    p.frame_threshold = -1.0;
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    expect_note(&l, 0, 5, 24, 31); /* 0.12 is above it, 0.04 below */
    dumu_note_list_deinit(&l);
    p.frame_threshold = 0.3;
    l = make(&o, &p);
    expect_note(&l, 0, 5, 20, 31);
    dumu_note_list_deinit(&l);
    act_free(&o);
}

/* ---------------------------------------------------------------------------------------- */
/* Frequency limits */

static int has_pitch(const dumu_note_list *l, int pitch) {
    for (int64_t k = 0; k < l->n_notes; k++) {
        if (l->notes[k].pitch == pitch) return 1;
    }
    return 0;
}

static void test_frequency_limits(void **state) {
    (void)state;
    dumu_bp_output o = act_new(60);
    /* Neighbouring columns play at different times, so no note consumes another. */
    const int cols[] = {13, 14, 30, 47, 48, 85};
    const int starts[] = {5, 30, 5, 5, 30, 5};
    for (size_t q = 0; q < sizeof cols / sizeof cols[0]; q++) {
        run(&o, cols[q], starts[q], starts[q] + 20, 0.6f);
        onset(&o, starts[q], cols[q], 0.8f);
    }
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 6);
    dumu_note_list_deinit(&l);

    /* 65.4 Hz is MIDI 35.9966: bin 14.9966, truncated to 14 (Python would round to 15). */
    p.min_freq_hz = 65.4;
    /* 440 Hz is bin 48 exactly: bins >= 48 go. */
    p.max_freq_hz = 440.0;
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 3);
    assert_true(!has_pitch(&l, 13 + 21) && has_pitch(&l, 14 + 21) && has_pitch(&l, 30 + 21));
    assert_true(has_pitch(&l, 47 + 21) && !has_pitch(&l, 48 + 21));
    dumu_note_list_deinit(&l);

    /* 446 Hz is bin 48.23: truncated to 48, so bin 48 goes too. */
    p.min_freq_hz = 0.0;
    p.max_freq_hz = 446.0;
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 4);
    assert_true(has_pitch(&l, 47 + 21) && !has_pitch(&l, 48 + 21));
    dumu_note_list_deinit(&l);

    /* Below 27.5 Hz the index is negative and counts from the end (20 Hz: -5.51 -> -5 -> 83):
     * everything under bin 83 goes. */
    p.max_freq_hz = 0.0;
    p.min_freq_hz = 20.0;
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    assert_true(has_pitch(&l, 85 + 21));
    dumu_note_list_deinit(&l);
    act_free(&o);
}

/* ---------------------------------------------------------------------------------------- */
/* Pitch bends */

static void test_pitch_bends(void **state) {
    (void)state;
    dumu_bp_output o = act_new(60);
    const int j = 40, c = 3 * j; /* pitch 61, contour centre 120 */
    run(&o, j, 5, 25, 0.6f);
    onset(&o, 5, j, 0.8f);
    for (int64_t i = 5; i < 25; i++)
        o.contour[i * NC + c + 1] = 0.9f; /* the model's +1 */
    o.contour[6 * NC + c - 3] = 0.95f;    /* 0.95 * w(3) = 0.79 < 0.9 * w(1) = 0.88: still +1 */
    o.contour[7 * NC + c - 3] = 1.0f;     /* with +1 weaker: -3 wins */
    o.contour[7 * NC + c + 1] = 0.5f;
    o.contour[8 * NC + c + 26] = 1.0f; /* outside +-25: ignored */
    o.contour[9 * NC + c - 2] = 0.9f;  /* a tie at -2 and +2: the last wins */
    o.contour[9 * NC + c + 2] = 0.9f;
    o.contour[9 * NC + c + 1] = 0.1f;
    o.contour[10 * NC + c + 25] = 1.0f; /* the window's edge: 1.0 * w(25) = 3.7e-6 */
    o.contour[10 * NC + c + 1] = 1e-6f;
    o.contour[10 * NC + c] = 0.0f;
    for (int b = c - 25; b <= c + 24; b++) {
        if (b != c + 1) o.contour[10 * NC + b] = 0.0f;
    }
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    const dumu_note *n = &l.notes[0];
    assert_int_equal(n->n_bends, 20);
    assert_int_equal(n->bends[0], 1);
    assert_int_equal(n->bends[1], 1);
    assert_int_equal(n->bends[2], -3);
    assert_int_equal(n->bends[3], 1);
    assert_int_equal(n->bends[4], 2);
    assert_int_equal(n->bends[5], 25);
    for (int t = 6; t < 20; t++)
        assert_int_equal(n->bends[t], 1);
    dumu_note_list_deinit(&l);

    /* No bends when not asked for; the contour may then be absent. */
    p.pitch_bends = false;
    float *contour = o.contour;
    o.contour = NULL;
    l = make(&o, &p);
    assert_int_equal(l.n_notes, 1);
    assert_int_equal(l.notes[0].n_bends, 0);
    assert_null(l.notes[0].bends);
    assert_null(l.bend_pool);
    dumu_note_list_deinit(&l);
    o.contour = contour;
    act_free(&o);
}

static void test_pitch_bends_at_the_edges(void **state) {
    (void)state;
    dumu_bp_output o = act_new(60);
    run(&o, 0, 5, 25, 0.6f); /* MIDI 21: window [0, 25] */
    onset(&o, 5, 0, 0.8f);
    run(&o, 87, 5, 25, 0.6f); /* MIDI 108: centre 261, window [236, 263] */
    onset(&o, 5, 87, 0.8f);
    for (int64_t i = 5; i < 25; i++) {
        for (int b = 0; b < NC; b++)
            o.contour[i * NC + b] = 0.0f;
        o.contour[i * NC + 26] = 1.0f;  /* outside MIDI 21's window */
        o.contour[i * NC + 25] = 0.2f;  /* 0.2 * w(25) */
        o.contour[i * NC + 0] = 1e-7f;  /* 1e-7 * w(0): smaller */
        o.contour[i * NC + 235] = 1.0f; /* outside MIDI 108's window */
        o.contour[i * NC + 263] = 0.9f; /* +2 */
    }
    dumu_note_params p = plain();
    dumu_note_list l = make(&o, &p);
    assert_int_equal(l.n_notes, 2);
    expect_note(&l, 0, 5, 25, 108);
    expect_note(&l, 1, 5, 25, 21);
    for (int t = 0; t < 20; t++) {
        assert_int_equal(l.notes[0].bends[t], 2);
        assert_int_equal(l.notes[1].bends[t], 25);
    }
    dumu_note_list_deinit(&l);
    act_free(&o);
}

/* ---------------------------------------------------------------------------------------- */
/* Fast melodia == the plain rescan */

static void test_fast_equals_naive(void **state) {
    (void)state;
    const int64_t sizes[] = {1, 2, 3, 17, 257, 1000};
    const float quanta[] = {0.0f, 0.0625f, 0.25f};
    int checked = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (size_t qi = 0; qi < sizeof quanta / sizeof quanta[0]; qi++) {
            for (uint64_t seed = 1; seed <= 3; seed++) {
                dumu_bp_output o = act_random(sizes[si], seed + 10 * si, quanta[qi]);
                dumu_note_params p = dumu_note_default_params();
                for (int variant = 0; variant < 4; variant++) {
                    if (variant == 1) p.min_note_frames = 3;
                    if (variant == 2) p.frame_threshold = -1.0;
                    if (variant == 3) {
                        p.frame_threshold = 0.2;
                        p.energy_tolerance = 4;
                        p.infer_onsets = false;
                    }
                    dumu_note_list a, b;
                    assert_int_equal(
                        dumu_notes_create_with(&o, &p, DUMU_NOTES_ARGMAX_FAST, &a, NULL), DUMU_OK);
                    assert_int_equal(
                        dumu_notes_create_with(&o, &p, DUMU_NOTES_ARGMAX_NAIVE, &b, NULL), DUMU_OK);
                    expect_same_lists(&a, &b);
                    if (sizes[si] >= 257) assert_true(a.n_notes > 0);
                    checked++;
                    dumu_note_list_deinit(&a);
                    dumu_note_list_deinit(&b);
                }
                act_free(&o);
            }
        }
    }
    assert_int_equal(checked, 6 * 3 * 3 * 4);
}

/* ---------------------------------------------------------------------------------------- */
/* Arguments and failures */

static void expect_invalid(const dumu_bp_output *o, const dumu_note_params *p) {
    dumu_note_list l;
    memset(&l, 0xAB, sizeof l);
    dumu_error err = {0};
    assert_int_equal(dumu_notes_create(o, p, &l, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(err.status, DUMU_E_INVALID_ARG);
    assert_true(err.message[0] != '\0');
    assert_null(l.notes); /* left zeroed */
    assert_null(l.bend_pool);
    assert_int_equal(l.n_notes, 0);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    dumu_bp_output o = act_new(30);
    run(&o, 10, 2, 20, 0.6f);
    onset(&o, 2, 10, 0.8f);
    dumu_note_params p = dumu_note_default_params();
    dumu_note_list l;
    assert_int_equal(dumu_notes_create(NULL, &p, &l, NULL), DUMU_E_INVALID_ARG);
    assert_null(l.notes);
    assert_int_equal(dumu_notes_create(&o, &p, NULL, NULL), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_notes_create_with(&o, &p, (dumu_notes_argmax)7, &l, NULL),
                     DUMU_E_INVALID_ARG);

    dumu_note_params q = p;
    q.onset_threshold = (double)NAN;
    expect_invalid(&o, &q);
    q = p;
    q.frame_threshold = (double)NAN;
    expect_invalid(&o, &q);
    q = p;
    q.min_note_frames = -1;
    expect_invalid(&o, &q);
    q = p;
    q.energy_tolerance = -1;
    expect_invalid(&o, &q);
    q = p;
    q.min_freq_hz = -10.0;
    expect_invalid(&o, &q);
    q = p;
    q.max_freq_hz = (double)INFINITY;
    expect_invalid(&o, &q);

    dumu_bp_output bad = o;
    bad.n_frames = -1;
    expect_invalid(&bad, &p);
    bad = o;
    bad.onset = NULL;
    expect_invalid(&bad, &p);
    bad = o;
    bad.contour = NULL; /* bends asked for */
    expect_invalid(&bad, &p);
    o.note[5 * NN + 3] = NAN;
    expect_invalid(&o, &p);
    o.note[5 * NN + 3] = -0.25f;
    expect_invalid(&o, &p);
    o.note[5 * NN + 3] = 0.0f;
    o.onset[7 * NN + 3] = INFINITY;
    expect_invalid(&o, &p);
    o.onset[7 * NN + 3] = 0.0f;
    o.contour[9 * NC + 100] = NAN;
    expect_invalid(&o, &p);
    o.contour[9 * NC + 100] = 0.1f;

    /* NULL params mean the defaults. */
    dumu_note_list a = make(&o, NULL), b = make(&o, &p);
    expect_same_lists(&a, &b);
    assert_int_equal(a.n_notes, 1);
    dumu_note_list_deinit(&a);
    dumu_note_list_deinit(&b);

    /* No frames: an empty list, and the arrays are not needed. */
    dumu_bp_output empty = {0};
    l = make(&empty, &p);
    assert_int_equal(l.n_notes, 0);
    assert_null(l.notes);
    dumu_note_list_deinit(&l);
    dumu_note_list_deinit(NULL);
    dumu_note_list_sort_by_time(NULL);
    dumu_note_list_sort_by_time(&l);
    act_free(&o);
}

static void test_alloc_failures(void **state) {
    (void)state;
    /* Enough candidates and events to make the growable arrays grow more than once. */
    dumu_bp_output o = act_random(600, 99, 0.0f);
    dumu_note_params p = dumu_note_default_params();
    p.onset_threshold = 0.2;
    p.min_note_frames = 2;
    dumu_note_list ref = make(&o, &p);
    assert_true(ref.n_notes > 128);
    int64_t k = 1;
    int failures = 0;
    for (;; k++) {
        dumu_note_list l;
        dumu_error err = {0};
        dumu_alloc_fail_after(k);
        dumu_status rc = dumu_notes_create(&o, &p, &l, &err);
        int64_t made = dumu_alloc_fail_after(0);
        if (rc == DUMU_OK) {
            assert_true(made < k); /* every allocation succeeded */
            expect_same_lists(&l, &ref);
            dumu_note_list_deinit(&l);
            break;
        }
        assert_int_equal(rc, DUMU_E_NOMEM);
        assert_int_equal(err.status, DUMU_E_NOMEM);
        assert_null(l.notes);
        assert_null(l.bend_pool);
        assert_int_equal(l.n_notes, 0);
        failures++;
        assert_true(k < 1000);
    }
    assert_true(failures >= 6); /* rem, candidates x2+, tree, events x2+, notes, pool */
    dumu_note_list_deinit(&ref);
    act_free(&o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_ms_to_frames),
        cmocka_unit_test(test_frame_to_time),
        cmocka_unit_test(test_bend_weights),
        cmocka_unit_test(test_basic_onset_note),
        cmocka_unit_test(test_onset_threshold_is_strict),
        cmocka_unit_test(test_frame_threshold_and_tolerance),
        cmocka_unit_test(test_note_reaching_the_end),
        cmocka_unit_test(test_min_length_strictly_longer),
        cmocka_unit_test(test_emission_order_and_sort),
        cmocka_unit_test(test_neighbours_are_consumed),
        cmocka_unit_test(test_edge_frame_peak),
        cmocka_unit_test(test_inferred_onsets),
        cmocka_unit_test(test_inferred_onsets_flat_frames),
        cmocka_unit_test(test_melodia),
        cmocka_unit_test(test_melodia_after_onset_notes),
        cmocka_unit_test(test_melodia_ties),
        cmocka_unit_test(test_auto_frame_threshold),
        cmocka_unit_test(test_frequency_limits),
        cmocka_unit_test(test_pitch_bends),
        cmocka_unit_test(test_pitch_bends_at_the_edges),
        cmocka_unit_test(test_fast_equals_naive),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
