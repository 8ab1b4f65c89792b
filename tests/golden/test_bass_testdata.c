/* Bass mode against raw Basic Pitch on the real bass parts of the developer test data
 * (../shared/testdata): for every MIDI render, its bass.flac (the bass part alone) goes
 * through dumu_transcribe in both modes and the notes are scored against bass_notes.csv
 * (onset within 50 ms, exact pitch, one-to-one matching; src/music/score.c).
 *
 * Asserted: bass mode's mean note F1 is at least 0.10 above raw mode's, its mean recall is
 * not lower, and no item's F1 drops. (The separated stems of `dumu eval` are noisier; this
 * test isolates note creation from separation, and runs in seconds.) */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "music/score.h"
#include "testutil.h"

static void score_mode(const dumu_bp_model *bp, const dumu_audio *a, dumu_note_mode mode,
                       const dumu_note *ref, int64_t n_ref, dumu_note_scores *sc) {
    dumu_transcribe_params tp = dumu_transcribe_default_params();
    tp.mode = mode;
    tp.fixed_bpm = 120.0; /* the tempo is not under test */
    tp.notes.pitch_bends = false;
    dumu_transcription tr = {0};
    dumu_error err = {0};
    assert_int_equal(dumu_transcribe(bp, a, &tp, &tr, &err), DUMU_OK);
    assert_int_equal(dumu_score_notes(ref, n_ref, tr.notes.notes, tr.notes.n_notes, NULL, sc, &err),
                     DUMU_OK);
    dumu_transcription_deinit(&tr);
}

static void test_bass_mode_beats_raw(void **state) {
    (void)state;
    dumu_bp_model *bp = NULL;
    dumu_error err = {0};
    assert_int_equal(dumu_bp_model_open(test_path("DUMU_MODELS_DIR", "basic-pitch"), &bp, &err),
                     DUMU_OK);
    size_t size = 0;
    char *json = test_read_file(test_path("DUMU_TESTDATA_DIR", "manifest.json"), &size);
    cJSON *root = cJSON_ParseWithLength(json, size);
    assert_non_null(root);
    const cJSON *items = cJSON_GetObjectItem(root, "items");
    double f1[2] = {0}, rec[2] = {0};
    int n = 0;
    printf("  %-40s %8s %8s %8s %8s\n", "item", "raw F1", "bass F1", "raw R", "bass R");
    for (int i = 0; i < cJSON_GetArraySize(items); i++) {
        const cJSON *it = cJSON_GetArrayItem(items, i);
        if (strcmp(cJSON_GetObjectItem(it, "kind")->valuestring, "midi_render") != 0) continue;
        const char *id = cJSON_GetObjectItem(it, "id")->valuestring;
        char rel[512];
        snprintf(rel, sizeof rel, "%s/bass.flac", id);
        dumu_decode_params dp = dumu_decode_default_params();
        dumu_audio a = {0};
        assert_int_equal(dumu_audio_decode_file(test_path("DUMU_TESTDATA_DIR", rel), &dp, &a, &err),
                         DUMU_OK);
        snprintf(rel, sizeof rel, "%s/bass_notes.csv", id);
        dumu_note *ref = NULL;
        int64_t n_ref = 0;
        assert_int_equal(
            dumu_notes_read_csv(test_path("DUMU_TESTDATA_DIR", rel), &ref, &n_ref, &err), DUMU_OK);
        dumu_note_scores raw, bass;
        score_mode(bp, &a, DUMU_NOTES_RAW, ref, n_ref, &raw);
        score_mode(bp, &a, DUMU_NOTES_BASS, ref, n_ref, &bass);
        printf("  %-40s %8.3f %8.3f %8.3f %8.3f\n", id, raw.onset.f1, bass.onset.f1,
               raw.onset.recall, bass.onset.recall);
        assert_true(bass.onset.f1 >= raw.onset.f1 - 1e-9);
        f1[0] += raw.onset.f1;
        f1[1] += bass.onset.f1;
        rec[0] += raw.onset.recall;
        rec[1] += bass.onset.recall;
        n++;
        dumu_free(ref);
        dumu_audio_deinit(&a);
    }
    assert_int_equal(n, 6);
    printf("  %-40s %8.3f %8.3f %8.3f %8.3f\n", "mean", f1[0] / n, f1[1] / n, rec[0] / n,
           rec[1] / n);
    assert_true(f1[1] / n >= f1[0] / n + 0.10);
    assert_true(rec[1] >= rec[0]);
    cJSON_Delete(root);
    free(json);
    dumu_bp_model_free(bp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bass_mode_beats_raw),
    };
    return cmocka_run_group_tests_name("bass_testdata", tests, NULL, NULL);
}
