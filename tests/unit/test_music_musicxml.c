/* MusicXML writer (src/io/musicxml.c): the text of small hand-made scores (attributes, written
 * pitch an octave up, spelling by key, ties over bar lines, rests, dotted and triplet values),
 * measure durations on every ground-truth bass line of the test data (DUMU_TESTDATA_DIR), and
 * invalid arguments. With DUMU_MUSICXML_DIR set it also leaves the test-data scores there with
 * the notes a player must sound (<name>.expect: subdivisions, then "start_step pitch" per
 * note), for tests/scripts/test_musicxml.sh to open them in MuseScore. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "io/musicxml.h"
#include "music/layout.h"
#include "music/quantize.h"
#include "music/score.h"
#include "testutil.h"

static dumu_note note(double on, double off, int32_t pitch) {
    return test_note(on, off, pitch, 0.7);
}

static int count(const char *text, const char *what) {
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* Checks that every measure's notes (chord members not counted again) add up to `bar`
 * divisions, except a first, implicit measure (the pickup) of `pickup` divisions (0: none
 * expected), and returns the number of measures. */
static int check_measures_pickup(const char *text, long bar, long pickup) {
    int n_measures = 0;
    for (const char *m = strstr(text, "<measure "); m; m = strstr(m + 1, "<measure ")) {
        const char *end = strstr(m, "</measure>");
        assert_non_null(end);
        static const char pickup_tag[] = "<measure number=\"0\" implicit=\"yes\">";
        const int implicit = strncmp(m, pickup_tag, strlen(pickup_tag)) == 0;
        assert_int_equal(implicit, n_measures == 0 && pickup > 0);
        long sum = 0;
        for (const char *nt = strstr(m, "<note>"); nt && nt < end; nt = strstr(nt + 1, "<note>")) {
            const char *close = strstr(nt, "</note>");
            const char *chord = strstr(nt, "<chord/>");
            const char *d = strstr(nt, "<duration>");
            assert_non_null(d);
            if (chord && chord < close) continue;
            sum += strtol(d + strlen("<duration>"), NULL, 10);
        }
        if (sum != (implicit ? pickup : bar)) {
            print_error("measure %d lasts %ld divisions, not %ld\n", n_measures + 1, sum,
                        implicit ? pickup : bar);
            fail();
        }
        n_measures++;
    }
    return n_measures;
}

static int check_measures(const char *text, long bar) {
    return check_measures_pickup(text, bar, 0);
}

static long tag_value(const char *text, const char *tag) {
    const char *v = strstr(text, tag);
    assert_non_null(v);
    return strtol(v + strlen(tag), NULL, 10);
}

static double *steady(int n, double period) {
    double *b = malloc((size_t)n * sizeof *b);
    assert_non_null(b);
    for (int i = 0; i < n; i++)
        b[i] = i * period;
    return b;
}

static void test_small_score(void **state) {
    (void)state;
    double *beats = steady(32, 0.5); /* 120 BPM, 16ths are 0.125 s */
    dumu_musicxml_params p = dumu_musicxml_default_params();
    p.beats = beats;
    p.n_beats = 32;
    p.fifths = -3;
    p.minor = true;
    p.title = "Riff <1> & co";
    /* C2 quarter, Eb2 16th, rests, F2 from beat 3.5 over the bar line to beat 5, then a G2+D3
     * double stop of a dotted eighth, then rests until the bar ends. */
    const dumu_note n[5] = {note(0.01, 0.49, 36), note(0.51, 0.62, 39), note(1.75, 2.5, 41),
                            note(2.5, 2.86, 43), note(2.5, 2.84, 50)};
    char *x = NULL;
    size_t size = 0;
    dumu_error err = {0};
    assert_int_equal(dumu_musicxml_encode(n, 5, &p, &x, &size, &err), DUMU_OK);
    assert_int_equal(strlen(x), size);
    assert_non_null(strstr(x, "<score-partwise version=\"3.1\">"));
    assert_non_null(strstr(x, "<work-title>Riff &lt;1&gt; &amp; co</work-title>"));
    assert_non_null(strstr(x, "<divisions>4</divisions>"));
    assert_non_null(strstr(x, "<key><fifths>-3</fifths><mode>minor</mode></key>"));
    assert_non_null(strstr(x, "<time><beats>4</beats><beat-type>4</beat-type></time>"));
    assert_non_null(strstr(x, "<clef><sign>F</sign><line>4</line></clef>"));
    assert_non_null(strstr(x, "<octave-change>-1</octave-change>"));
    assert_non_null(strstr(x, "<sound tempo=\"120.000\"/>"));
    /* C2 sounds, C3 is written; Eb (flat key) is E-flat, not D-sharp. */
    assert_non_null(strstr(x,
                           "<pitch><step>C</step><octave>3</octave></pitch><duration>4</duration>"
                           "<voice>1</voice><type>quarter</type>"));
    assert_non_null(strstr(x, "<pitch><step>E</step><alter>-1</alter><octave>3</octave></pitch>"
                              "<duration>1</duration><voice>1</voice><type>16th</type>"));
    /* F2 from step 14 to 20: an eighth in bar 1 tied to a quarter in bar 2. */
    assert_int_equal(count(x, "<step>F</step>"), 2);
    assert_non_null(strstr(x, "<step>F</step><octave>3</octave></pitch><duration>2</duration>"
                              "<tie type=\"start\"/><voice>1</voice><type>eighth</type>"
                              "<notations><tied type=\"start\"/></notations>"));
    assert_non_null(strstr(x, "<step>F</step><octave>3</octave></pitch><duration>4</duration>"
                              "<tie type=\"stop\"/><voice>1</voice><type>quarter</type>"
                              "<notations><tied type=\"stop\"/></notations>"));
    assert_int_equal(count(x, "<tie type=\"start\"/>"), 1);
    assert_int_equal(count(x, "<tie type=\"stop\"/>"), 1);
    /* The double stop: G3 and D4 written, a dotted eighth (3 steps), the second a chord. */
    assert_non_null(strstr(x, "<note><chord/><pitch><step>D</step><octave>4</octave></pitch>"
                              "<duration>3</duration><voice>1</voice><type>eighth</type><dot/>"));
    assert_int_equal(check_measures(x, 16), 2);
    assert_int_equal(count(x, "<chord/>"), 1);
    dumu_free(x);

    /* Sharp keys spell with sharps; 3/4; a pickup: bars start at beat 1, so beat 0 is a 1/4
     * pickup (measure 0, implicit) with F#, then bar 1 in 3/4: C#, 2 beats of rest. */
    p.fifths = 2;
    p.minor = false;
    p.beats_per_bar = 3;
    p.first_downbeat = 1;
    p.title = NULL;
    const dumu_note m[2] = {note(0.0, 0.5, 42), note(0.5, 1.0, 37)};
    assert_int_equal(dumu_musicxml_encode(m, 2, &p, &x, &size, &err), DUMU_OK);
    assert_non_null(strstr(x, "<work-title>Bass</work-title>"));
    assert_non_null(strstr(x, "<step>F</step><alter>1</alter><octave>3</octave>"));
    assert_non_null(strstr(x, "<step>C</step><alter>1</alter><octave>3</octave>"));
    assert_int_equal(check_measures_pickup(x, 12, 4), 2);
    assert_non_null(strstr(x, "<time><beats>1</beats><beat-type>4</beat-type></time>"));
    assert_non_null(strstr(x, "<measure number=\"1\">\n      <attributes>\n        <time><beats>3"
                              "</beats><beat-type>4</beat-type></time>\n      </attributes>"));
    assert_non_null(strstr(x, "<rest/><duration>8</duration><voice>1</voice><type>half</type>"));
    dumu_free(x);

    /* No notes: the pickup and bar 1, whole-measure rests. */
    assert_int_equal(dumu_musicxml_encode(NULL, 0, &p, &x, &size, &err), DUMU_OK);
    assert_int_equal(check_measures_pickup(x, 12, 4), 2);
    assert_int_equal(count(x, "<rest measure=\"yes\"/>"), 2);
    dumu_free(x);
    free(beats);
}

static void test_triplets(void **state) {
    (void)state;
    double *beats = steady(16, 0.6); /* 100 BPM, eighth triplets are 0.2 s */
    dumu_musicxml_params p = dumu_musicxml_default_params();
    p.beats = beats;
    p.n_beats = 16;
    p.subdivisions = 3;
    /* Triplet eighths A-C-E on beat 1, a quarter-triplet + eighth-triplet on beat 2, a half
     * note from beat 3. */
    const dumu_note n[6] = {note(0.0, 0.2, 33), note(0.2, 0.4, 36), note(0.4, 0.6, 40),
                            note(0.6, 1.0, 38), note(1.0, 1.2, 36), note(1.2, 2.4, 33)};
    char *x = NULL;
    size_t size = 0;
    assert_int_equal(dumu_musicxml_encode(n, 6, &p, &x, &size, NULL), DUMU_OK);
    assert_non_null(strstr(x, "<divisions>3</divisions>"));
    assert_int_equal(count(x, "<actual-notes>3</actual-notes><normal-notes>2</normal-notes>"), 5);
    assert_int_equal(count(x, "<tuplet type=\"start\"/>"), 2);
    assert_int_equal(count(x, "<tuplet type=\"stop\"/>"), 2);
    assert_non_null(strstr(x, "<duration>2</duration><voice>1</voice><type>quarter</type>"
                              "<time-modification>"));
    assert_non_null(strstr(x, "<duration>6</duration><voice>1</voice><type>half</type></note>"));
    assert_int_equal(check_measures(x, 12), 1);
    dumu_free(x);

    /* A note starting inside a group and lasting past it: triplets to the group's end, then
     * plain values, tied. */
    const dumu_note t = note(0.2, 1.4, 40); /* steps 1..7 */
    assert_int_equal(dumu_musicxml_encode(&t, 1, &p, &x, &size, NULL), DUMU_OK);
    assert_int_equal(check_measures(x, 12), 1);
    assert_int_equal(count(x, "<tuplet type=\"start\"/>"), count(x, "<tuplet type=\"stop\"/>"));
    assert_true(count(x, "<tie type=\"start\"/>") >= 2);
    dumu_free(x);
    free(beats);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    double *beats = steady(8, 0.5);
    dumu_musicxml_params p = dumu_musicxml_default_params();
    const dumu_note n = note(0, 0.5, 40);
    char *x = (char *)1;
    size_t size = 7;
    dumu_error err = {0};
    assert_int_equal(dumu_musicxml_encode(&n, 1, &p, &x, &size, &err), DUMU_E_INVALID_ARG);
    assert_null(x);
    assert_int_equal(size, 0);
    p.beats = beats;
    p.n_beats = 8;
    p.subdivisions = 5;
    assert_int_equal(dumu_musicxml_encode(&n, 1, &p, &x, &size, &err), DUMU_E_INVALID_ARG);
    p.subdivisions = 4;
    p.fifths = 8;
    assert_int_equal(dumu_musicxml_encode(&n, 1, &p, &x, &size, &err), DUMU_E_INVALID_ARG);
    p.fifths = 0;
    const dumu_note high = note(0, 0.5, 116), nan_note = note(NAN, 0.5, 40);
    assert_int_equal(dumu_musicxml_encode(&high, 1, &p, &x, &size, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_musicxml_encode(&nan_note, 1, &p, &x, &size, &err), DUMU_E_INVALID_ARG);
    const dumu_note far = note(0, 1e7, 40); /* ends 2e7 beats away */
    assert_int_equal(dumu_musicxml_encode(&far, 1, &p, &x, &size, &err), DUMU_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "too far"));
    assert_int_equal(dumu_musicxml_write_file("/nonexistent/dir/x.musicxml", &n, 1, &p, &err),
                     DUMU_E_IO);
    assert_non_null(strstr(err.message, "/nonexistent/dir/x.musicxml"));
    for (int64_t k = 1; k <= 4; k++) {
        dumu_alloc_fail_after(k);
        dumu_status rc = dumu_musicxml_encode(&n, 1, &p, &x, &size, NULL);
        int64_t made = dumu_alloc_fail_after(0);
        if (made < k) {
            assert_int_equal(rc, DUMU_OK);
            dumu_free(x);
            break;
        }
        assert_int_equal(rc, DUMU_E_NOMEM);
        assert_null(x);
    }
    free(beats);
}

/* Pickups that are not a whole number of grid steps: a 5/32 pickup on the 16th grid (the
 * score counts in 32nds: divisions 8) and a 1/8 pickup on the eighth-triplet grid (divisions
 * 6: the leading sixth of a quarter is an unbracketed triplet-16th rest, then the group up to
 * the downbeat is a bracketed tuplet). Every measure is full, every tuplet bracket closes, and
 * with DUMU_MUSICXML_DIR set the scores are left for MuseScore (the .expect counts in
 * divisions). */
static void test_odd_pickups(void **state) {
    (void)state;

    static const struct {
        double t0;
        int32_t sub;
        long div, pickup;
        const char *tag;
    } v[2] = {{0.3125, 4, 8, 5, "pickup_5_32"}, {0.25, 3, 6, 3, "pickup_1_8_triplets"}};

    const char *keep = getenv("DUMU_MUSICXML_DIR");
    for (int g = 0; g < 2; g++) {
        double *beats = steady(40, 0.5);
        for (int k = 0; k < 40; k++)
            beats[k] += v[g].t0;
        /* the last grid step of the pickup, the downbeat, the beat after, then a few more */
        const double step = 0.5 / v[g].sub, d = v[g].t0;
        const dumu_note n[5] = {note(d - step, d, 40), note(d, d + 0.5, 43),
                                note(d + 0.5, d + 0.5 + step, 45), note(d + 1.0, d + 1.3, 47),
                                note(d + 2.5, d + 3.0, 36)};
        dumu_musicxml_params p = dumu_musicxml_default_params();
        p.beats = beats;
        p.n_beats = 40;
        p.subdivisions = v[g].sub;
        char *x = NULL;
        size_t size = 0;
        assert_int_equal(dumu_musicxml_encode(n, 5, &p, &x, &size, NULL), DUMU_OK);
        assert_int_equal(tag_value(x, "<divisions>"), v[g].div);
        assert_int_equal(check_measures_pickup(x, 4 * v[g].div, v[g].pickup), 3);
        assert_int_equal(count(x, "<tuplet type=\"start\"/>"), count(x, "<tuplet type=\"stop\"/>"));
        assert_int_equal(count(x, "<note>") - count(x, "<rest") - count(x, "<tie type=\"stop\"/>"),
                         5);
        if (keep) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.musicxml", keep, v[g].tag);
            assert_int_equal(dumu_musicxml_write_file(path, n, 5, &p, NULL), DUMU_OK);
            snprintf(path, sizeof path, "%s/%s.expect", keep, v[g].tag);
            FILE *f = fopen(path, "w");
            assert_non_null(f);
            /* quarter k of the score is at d - pickup + k * 0.5 s */
            fprintf(f, "%ld\n", v[g].div);
            const double origin = d - (double)v[g].pickup / (double)v[g].div * 0.5;
            for (int k = 0; k < 5; k++)
                fprintf(f, "%ld %d\n", lround((n[k].start_s - origin) / 0.5 * (double)v[g].div),
                        (int)n[k].pitch);
            assert_int_equal(fclose(f), 0);
        }
        dumu_free(x);
        free(beats);
    }
}

/* Every ground-truth bass line on its true beat grid (bar-aligned excerpts; dm03 at its
 * 120 BPM, which holds for all but its last bars), at 1/16 and 1/8t, without and with a
 * pickup: each measure is full (the pickup as long as it should be), and every note onset
 * appears once as the start of a note (not a tie continuation). */
static void test_testdata_scores(void **state) {
    (void)state;
    static const char *const items[6] = {
        "dm01_freedoom2_d_ddtbl2",           "dm02_freedoom1_d_e3m2",
        "dm03_freedoom2_d_read_m",           "dm04_openmsx_train_filled_with_cash",
        "dm05_openmsx_no_work_song_redfarn", "dm06_blupi_music007"};
    static const double bpm[6] = {145.0, 150.0, 120.0, 90.0, 110.0, 140.063};
    static const int fifths[6] = {2, 1, 0, -2, -3, 0};
    const char *keep = getenv("DUMU_MUSICXML_DIR");
    for (int i = 0; i < 6; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "%s/bass_notes.csv", items[i]);
        dumu_note *notes = NULL;
        int64_t n = 0;
        dumu_error err = {0};
        assert_int_equal(dumu_notes_read_csv(test_path("DUMU_TESTDATA_DIR", rel), &notes, &n, &err),
                         DUMU_OK);
        const double period = 60.0 / bpm[i];
        for (int g = 0; g < 4; g++) {
            /* Variants: 1/16 and 1/8t with bars from 0 s; 1/16 with the first beat 3/4 beat
             * late (a 3/16 pickup); 1/8t with bars from beat 3 (a 3/4 pickup). Either way
             * quarter note k of the written score starts at k * period. */
            static const struct {
                int32_t sub, downbeat;
                double lead;
                long pickup; /* divisions */
                const char *tag;
            } v[4] = {{4, 0, 0.0, 0, "16"},
                      {3, 0, 0.0, 0, "8t"},
                      {4, 0, 0.75, 3, "16p"},
                      {3, 3, 0.0, 9, "8tp"}};

            double *beats = steady(200, period);
            for (int k = 0; k < 200; k++)
                beats[k] += v[g].lead * period;
            dumu_musicxml_params p = dumu_musicxml_default_params();
            p.beats = beats;
            p.n_beats = 200;
            p.first_downbeat = v[g].downbeat;
            p.subdivisions = v[g].sub;
            p.fifths = fifths[i];
            p.title = items[i];
            char *x = NULL;
            size_t size = 0;
            assert_int_equal(dumu_musicxml_encode(notes, n, &p, &x, &size, &err), DUMU_OK);
            const int measures = check_measures_pickup(x, 4L * p.subdivisions, v[g].pickup);
            /* the steps the score must sound: the layout's grid (notes half way between two
             * grid points go where the writer's rounding puts them) */
            dumu_layout lay;
            assert_int_equal(dumu_layout_init(&lay, beats, 200, v[g].downbeat, 4, false, NULL),
                             DUMU_OK);
            assert_true(fabs(lay.pickup_q * p.subdivisions - (double)v[g].pickup) < 1e-12);
            /* Onsets: distinct (step, pitch) pairs of the notes on the grid. */
            int64_t *key = malloc((size_t)n * sizeof *key);
            assert_non_null(key);
            int64_t n_keys = 0;
            for (int64_t k = 0; k < n; k++) {
                const int64_t step = llround(
                    dumu_layout_snap(&lay, dumu_layout_quarters(&lay, notes[k].start_s), v[g].sub) *
                    v[g].sub);
                const int64_t kk = step * 128 + notes[k].pitch;
                int dup = 0;
                for (int64_t q = 0; q < n_keys; q++)
                    dup |= key[q] == kk;
                if (!dup) key[n_keys++] = kk;
            }
            const int starts =
                count(x, "<note>") - count(x, "<rest") - count(x, "<tie type=\"stop\"/>");
            print_message(
                "%-36s 1/%-3s: %3lld notes, %3lld onsets, %3d notes written, %2d measures\n",
                items[i], v[g].tag, (long long)n, (long long)n_keys, starts, measures);
            assert_int_equal(starts, n_keys);
            if (keep) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s_%s.musicxml", keep, items[i], v[g].tag);
                assert_int_equal(dumu_musicxml_write_file(path, notes, n, &p, &err), DUMU_OK);
                snprintf(path, sizeof path, "%s/%s_%s.expect", keep, items[i], v[g].tag);
                FILE *f = fopen(path, "w");
                assert_non_null(f);
                fprintf(f, "%d\n", (int)p.subdivisions);
                for (int64_t q = 0; q < n_keys; q++)
                    fprintf(f, "%lld %lld\n", (long long)(key[q] / 128), (long long)(key[q] % 128));
                assert_int_equal(fclose(f), 0);
            }
            free(key);
            dumu_free(x);
            free(beats);
        }
        dumu_free(notes);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_score),       cmocka_unit_test(test_triplets),
        cmocka_unit_test(test_invalid_arguments), cmocka_unit_test(test_odd_pickups),
        cmocka_unit_test(test_testdata_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
