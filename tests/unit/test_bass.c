/* Bass-mode note decoding (src/models/bass.c) on hand-made activations: each case is a
 * mistake Basic Pitch's own note creation makes on bass (checked here too, where it does),
 * and what the bass line must give instead. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/bass.h"
#include "testutil.h"

#define T 200 /* frames (~2.3 s) */

typedef struct acts {
    float note[T * DUMU_BP_N_NOTES];
    float onset[T * DUMU_BP_N_NOTES];
    float contour[T * DUMU_BP_N_CONTOUR];
    dumu_bp_output out;
} acts;

static acts *acts_new(void) {
    acts *a = calloc(1, sizeof *a);
    assert_non_null(a);
    for (int i = 0; i < T * DUMU_BP_N_NOTES; i++) {
        a->note[i] = 0.02f;
        a->onset[i] = 0.02f;
    }
    a->out = (dumu_bp_output){T, a->note, a->onset, a->contour};
    return a;
}

/* Holds `pitch` at activation v over frames [t0, t1) with an onset peak at t0. */
static void hold(acts *a, int pitch, int t0, int t1, float v, float onset) {
    int j = pitch - DUMU_BP_MIDI_OFFSET;
    for (int t = t0; t < t1; t++)
        a->note[t * DUMU_BP_N_NOTES + j] = v;
    if (onset > 0.0f) {
        a->onset[t0 * DUMU_BP_N_NOTES + j] = onset;
        if (t0 + 1 < T) a->onset[(t0 + 1) * DUMU_BP_N_NOTES + j] = onset * 0.5f;
    }
}

static dumu_note_list decode(const acts *a) {
    dumu_note_params p = dumu_note_default_params();
    dumu_note_list l = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_bass_notes(&a->out, &p, &l, &err), DUMU_OK);
    return l;
}

static int64_t raw_count(const acts *a) {
    dumu_note_params p = dumu_note_default_params();
    p.pitch_bends = false;
    dumu_note_list l = {0};
    assert_int_equal(dumu_notes_create(&a->out, &p, &l, NULL), DUMU_OK);
    int64_t n = l.n_notes;
    dumu_note_list_deinit(&l);
    return n;
}

/* E1 (28) with its second harmonic E2 (40) lit almost as strongly: one note, at E1. */
static void test_octave_harmonic_is_not_a_note(void **state) {
    (void)state;
    acts *a = acts_new();
    hold(a, 28, 20, 120, 0.8f, 0.9f);
    hold(a, 40, 20, 120, 0.7f, 0.8f);
    assert_int_equal(raw_count(a), 2); /* Basic Pitch's notes: both octaves */
    dumu_note_list l = decode(a);
    assert_int_equal(l.n_notes, 1);
    assert_int_equal(l.notes[0].pitch, 28);
    assert_true(abs(l.notes[0].start_frame - 20) <= 1);
    assert_true(abs(l.notes[0].end_frame - 120) <= 1);
    assert_true(l.notes[0].n_bends == 0);
    assert_true(fabs(l.notes[0].start_s - (dumu_bp_frame_to_time(l.notes[0].start_frame) -
                                           DUMU_BASS_NOTE_LAG_S)) < 1e-12);
    assert_true(fabs((l.notes[0].end_s - l.notes[0].start_s) -
                     (dumu_bp_frame_to_time(l.notes[0].end_frame) -
                      dumu_bp_frame_to_time(l.notes[0].start_frame))) < 1e-12);
    dumu_note_list_deinit(&l);
    free(a);
}

/* E1 heard at 0.35 (over the frame threshold) under an E2 at 0.9, its attack shown only an
 * octave up: the line takes the E2, E1's second harmonic, and the note is E1. */
static void test_weak_fundamental_heard(void **state) {
    (void)state;
    acts *a = acts_new();
    hold(a, 40, 20, 120, 0.9f, 0.9f);
    hold(a, 28, 20, 120, 0.35f, 0.0f);
    dumu_note_list l = decode(a);
    assert_int_equal(l.n_notes, 1);
    assert_int_equal(l.notes[0].pitch, 28);
    assert_true(fabs(l.notes[0].amplitude - 0.35) < 1e-6);
    dumu_note_list_deinit(&l);
    free(a);
}

/* A real octave jump (the upper note clearly stronger than the lower) is kept. */
static void test_octave_jump_is_kept(void **state) {
    (void)state;
    acts *a = acts_new();
    hold(a, 33, 10, 60, 0.85f, 0.9f);
    hold(a, 45, 60, 110, 0.85f, 0.9f);
    hold(a, 33, 60, 110, 0.15f, 0.0f); /* a little energy left an octave below */
    dumu_note_list l = decode(a);
    assert_int_equal(l.n_notes, 2);
    assert_int_equal(l.notes[0].pitch, 33);
    assert_int_equal(l.notes[1].pitch, 45);
    dumu_note_list_deinit(&l);
    free(a);
}

/* A held pitch re-attacked (an onset peak in the middle, the activation dipping before it and
 * climbing again) is two notes; a dip of two frames without an onset is not a new note. */
static void test_reattack_splits_and_dip_closes(void **state) {
    (void)state;
    acts *a = acts_new();
    hold(a, 36, 10, 70, 0.8f, 0.9f);
    hold(a, 36, 67, 70, 0.6f, 0.0f);   /* the first note lets go */
    hold(a, 36, 70, 130, 0.8f, 0.9f);  /* re-attack at 70 */
    hold(a, 36, 100, 102, 0.1f, 0.0f); /* dip */
    dumu_note_list l = decode(a);
    assert_int_equal(l.n_notes, 2);
    assert_int_equal(l.notes[0].pitch, 36);
    assert_int_equal(l.notes[1].pitch, 36);
    assert_true(abs(l.notes[1].start_frame - 70) <= 1);
    assert_true(abs(l.notes[1].end_frame - 130) <= 1);
    assert_true(l.notes[0].end_frame <= l.notes[1].start_frame);
    dumu_note_list_deinit(&l);
    free(a);
}

/* An onset peak inside a held note whose activation goes on falling (a slap's second
 * transient, a pick scrape) does not cut it in two. */
static void test_transient_in_held_note(void **state) {
    (void)state;
    acts *a = acts_new();
    int j = 33 - DUMU_BP_MIDI_OFFSET;
    for (int t = 10; t < 130; t++)
        a->note[t * DUMU_BP_N_NOTES + j] = 0.9f - 0.4f * (float)(t - 10) / 120.0f;
    a->onset[10 * DUMU_BP_N_NOTES + j] = 0.9f;
    a->onset[60 * DUMU_BP_N_NOTES + j] = 0.8f; /* the transient */
    dumu_note_list l = decode(a);
    assert_int_equal(l.n_notes, 1);
    assert_int_equal(l.notes[0].pitch, 33);
    assert_true(abs(l.notes[0].end_frame - 130) <= 1);
    dumu_note_list_deinit(&l);
    free(a);
}

/* A three-frame blip of another pitch inside a held note, and a weak ghost below the frame
 * threshold, do not become notes; a pitch above the bass register is ignored. */
static void test_blips_and_ghosts_dropped(void **state) {
    (void)state;
    acts *a = acts_new();
    hold(a, 31, 10, 150, 0.75f, 0.9f);
    hold(a, 38, 60, 63, 0.8f, 0.0f);   /* blip */
    hold(a, 50, 20, 140, 0.25f, 0.0f); /* ghost under 0.3 */
    hold(a, 80, 20, 140, 0.9f, 0.9f);  /* far above the bass */
    dumu_note_list l = decode(a);
    assert_int_equal(l.n_notes, 1);
    assert_int_equal(l.notes[0].pitch, 31);
    dumu_note_list_deinit(&l);
    free(a);
}

/* A strongly held double stop (a fourth, not a harmonic) keeps both notes, time-sorted. */
static void test_double_stop(void **state) {
    (void)state;
    acts *a = acts_new();
    hold(a, 33, 20, 120, 0.8f, 0.9f);
    hold(a, 38, 20, 120, 0.75f, 0.9f);
    dumu_note_list l = decode(a);
    assert_int_equal(l.n_notes, 2);
    int lo = l.notes[0].pitch < l.notes[1].pitch ? 0 : 1;
    assert_int_equal(l.notes[lo].pitch, 33);
    assert_int_equal(l.notes[1 - lo].pitch, 38);
    assert_true(l.notes[0].start_frame <= l.notes[1].start_frame);
    dumu_note_list_deinit(&l);
    free(a);
}

/* Short notes: kept from ~58 ms when an onset opens them, dropped otherwise; frequency limits
 * narrow the register. */
static void test_lengths_and_limits(void **state) {
    (void)state;
    acts *a = acts_new();
    hold(a, 40, 10, 17, 0.8f, 0.9f); /* 7 frames with an onset: kept */
    hold(a, 43, 40, 47, 0.8f, 0.0f); /* 7 frames without: dropped */
    hold(a, 28, 80, 140, 0.8f, 0.9f);
    dumu_note_list l = decode(a);
    assert_int_equal(l.n_notes, 2);
    assert_int_equal(l.notes[0].pitch, 40);
    assert_int_equal(l.notes[1].pitch, 28);
    dumu_note_list_deinit(&l);

    dumu_note_params p = dumu_note_default_params();
    p.min_freq_hz = 50.0; /* above E1 (41.2 Hz) */
    assert_int_equal(dumu_bass_notes(&a->out, &p, &l, NULL), DUMU_OK);
    assert_int_equal(l.n_notes, 1);
    assert_int_equal(l.notes[0].pitch, 40);
    dumu_note_list_deinit(&l);
    free(a);
}

/* A low note Basic Pitch hears only faintly (activation 0.2, under the frame threshold) but
 * whose attacks are clear is kept, re-attacks and all; the same faint activation without an
 * attack is not a note. */
static void test_faint_note_with_clear_attack(void **state) {
    (void)state;
    acts *a = acts_new();
    hold(a, 30, 20, 60, 0.2f, 0.9f);
    hold(a, 30, 57, 60, 0.15f, 0.0f);  /* the first note lets go */
    hold(a, 30, 60, 100, 0.2f, 0.9f);  /* re-attack at 60 */
    hold(a, 35, 130, 170, 0.2f, 0.0f); /* faint, no attack */
    assert_int_equal(raw_count(a), 0); /* Basic Pitch's own notes: none */
    dumu_note_list l = decode(a);
    assert_int_equal(l.n_notes, 2);
    assert_int_equal(l.notes[0].pitch, 30);
    assert_int_equal(l.notes[1].pitch, 30);
    assert_true(abs(l.notes[0].start_frame - 20) <= 1);
    assert_true(abs(l.notes[1].start_frame - 60) <= 1);
    assert_true(abs(l.notes[1].end_frame - 100) <= 1);
    dumu_note_list_deinit(&l);
    free(a);
}

/* Confidence: a clean attack with nothing an octave away is trusted; a note that fades in
 * without an attack is not; the same note with its octave below sounding too (the line may
 * have taken a harmonic) is trusted less. Every value lies in (0, 1). */
static void test_confidence(void **state) {
    (void)state;
    acts *a = acts_new();
    hold(a, 40, 10, 60, 0.8f, 0.9f);   /* clean attack */
    hold(a, 45, 80, 130, 0.8f, 0.05f); /* no attack */
    dumu_note_list l = decode(a);
    assert_int_equal(l.n_notes, 2);
    assert_true(l.notes[0].confidence > 0.8 && l.notes[0].confidence < 1.0);
    assert_true(l.notes[1].confidence > 0.0 && l.notes[1].confidence < 0.2);
    double clean = l.notes[0].confidence;
    dumu_note_list_deinit(&l);

    acts *b = acts_new();
    hold(b, 40, 10, 60, 0.8f, 0.9f);
    hold(b, 28, 10, 60, 0.25f, 0.0f); /* E1 under the E2: the E2 wins, but less surely */
    l = decode(b);
    int64_t k = 0;
    while (k < l.n_notes && l.notes[k].pitch != 40)
        k++;
    assert_true(k < l.n_notes);
    assert_true(l.notes[k].confidence < clean - 0.02);
    dumu_note_list_deinit(&l);
    free(b);
    free(a);
}

static void test_bad_input(void **state) {
    (void)state;
    acts *a = acts_new();
    dumu_note_params p = dumu_note_default_params();
    dumu_note_list l = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_bass_notes(NULL, &p, &l, &err), DUMU_E_INVALID_ARG);
    p.frame_threshold = 0.0;
    assert_int_equal(dumu_bass_notes(&a->out, &p, &l, &err), DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "threshold"));
    p = dumu_note_default_params();
    a->note[5] = NAN;
    assert_int_equal(dumu_bass_notes(&a->out, &p, &l, &err), DUMU_E_INVALID_ARG);
    assert_null(l.notes);
    a->note[5] = 0.0f;
    dumu_bp_output empty = {0};
    assert_int_equal(dumu_bass_notes(&empty, &p, &l, &err), DUMU_OK);
    assert_int_equal(l.n_notes, 0);
    free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_octave_harmonic_is_not_a_note),
        cmocka_unit_test(test_weak_fundamental_heard),
        cmocka_unit_test(test_octave_jump_is_kept),
        cmocka_unit_test(test_reattack_splits_and_dip_closes),
        cmocka_unit_test(test_transient_in_held_note),
        cmocka_unit_test(test_blips_and_ghosts_dropped),
        cmocka_unit_test(test_double_stop),
        cmocka_unit_test(test_lengths_and_limits),
        cmocka_unit_test(test_faint_note_with_clear_attack),
        cmocka_unit_test(test_confidence),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests_name("bass", tests, NULL, NULL);
}
