/* MIDI writer (src/io/midi.c): the exact bytes of small files, VLQ boundaries, tempo bytes,
 * and round trips through an independent reader, tests/scripts/midi_dump.py (Debian's
 * python3-mido), on synthetic notes and on the ground-truth bass lines of the developer test
 * data (DUMU_TESTDATA_DIR). Also overlapping same-pitch notes, pitch bends and polyphony,
 * invalid arguments, I/O errors and allocation failures. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "io/midi.h"
#include "music/layout.h"
#include "music/quantize.h"
#include "testutil.h"

#define FRAME_S (256.0 / 22050.0) /* one Basic Pitch model frame, seconds */

static int group_setup(void **state) {
    (void)state;
    return test_scratch_create("dumu_midi");
}

static int group_teardown(void **state) {
    (void)state;
    return test_scratch_remove();
}

/* ---------------------------------------------------------------------------------------- */
/* The independent reader and JSON access */

/* Runs midi_dump.py on `path` and returns its parsed JSON (free with cJSON_Delete). */
static cJSON *dump_file(const char *path_in) {
    char path[4096], cmd[8300];
    snprintf(path, sizeof path, "%s", path_in); /* test_path's buffer is reused below */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'",
             test_path("DUMU_SOURCE_DIR", "tests/scripts/midi_dump.py"), path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (;;) {
        if (cap - len < 4097) {
            cap *= 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        size_t got = fread(text + len, 1, 4096, p);
        if (!got) break;
        len += got;
    }
    text[len] = '\0';
    int status = pclose(p);
    if (status != 0) {
        fprintf(stderr, "midi_dump.py exited with %d on %s\n", status, path);
        free(text);
        fail();
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static const cJSON *jget(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        fprintf(stderr, "midi_dump output has no '%s'\n", key);
        fail();
    }
    return v;
}

static double jnum(const cJSON *o, const char *key) {
    const cJSON *v = jget(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static int64_t jint(const cJSON *o, const char *key) {
    return (int64_t)jnum(o, key); /* exact: the reader's integers are far below 2^53 */
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = jget(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static bool jbool(const cJSON *o, const char *key) {
    const cJSON *v = jget(o, key);
    assert_true(cJSON_IsBool(v));
    return cJSON_IsTrue(v);
}

static int jlen(const cJSON *o, const char *key) {
    const cJSON *v = jget(o, key);
    assert_true(cJSON_IsArray(v));
    return cJSON_GetArraySize(v);
}

static const cJSON *jat(const cJSON *o, const char *key, int i) {
    const cJSON *v = cJSON_GetArrayItem(jget(o, key), i);
    assert_non_null(v);
    return v;
}

/* ---------------------------------------------------------------------------------------- */
/* Expectations, written from the spec and not from midi.c */

/* round(60e6 / bpm) with the documented fallback and clamp. */
static int64_t expect_tempo_us(double bpm) {
    if (!(bpm > 0.0) || !isfinite(bpm)) bpm = 120.0;
    double us = floor(60e6 / bpm + 0.5);
    return us < 1 ? 1 : us > 16777215.0 ? 16777215 : (int64_t)us;
}

static int expect_velocity(double amplitude, int vmin) {
    double a = amplitude < 0 ? 0 : amplitude > 1 ? 1 : amplitude;
    return (int)floor((double)vmin + a * (127 - vmin) + 0.5);
}

/* Writes the notes with dumu_midi_write_file, checks the file equals dumu_midi_encode's
 * bytes, and returns the reader's view of it. */
static cJSON *write_and_dump(const char *name, const dumu_note *notes, int64_t n,
                             const dumu_midi_params *p) {
    const char *path = test_scratch_path(name);
    dumu_error err = {0};
    dumu_status rc = dumu_midi_write_file(path, notes, n, p, &err);
    if (rc) fprintf(stderr, "write %s: %s\n", path, err.message);
    assert_int_equal(rc, DUMU_OK);
    uint8_t *mem = NULL;
    size_t size = 0;
    assert_int_equal(dumu_midi_encode(notes, n, p, &mem, &size, &err), DUMU_OK);
    size_t fsize = 0;
    uint8_t *file = test_read_file(path, &fsize);
    assert_int_equal(fsize, size);
    assert_memory_equal(file, mem, size);
    free(file);
    dumu_free(mem);
    return dump_file(path);
}

/* What every dumu file looks like to the reader: format 1, MThd + two MTrk chunks and nothing
 * after them, each track closed by exactly one end_of_track, the conductor named "Dumu" with
 * one tempo and one 4/4 at tick 0, the bass track with its name and one program change, and
 * no note left hanging or retriggered while sounding. */
static void check_layout(const cJSON *d, const dumu_midi_params *p, const char *name) {
    assert_int_equal(jint(d, "format"), 1);
    assert_int_equal(jint(d, "ppq"), p->ppq);
    assert_int_equal(jint(d, "n_tracks"), 2);
    assert_int_equal(jlen(d, "chunks"), 3);
    assert_string_equal(jstr(jat(d, "chunks", 0), "id"), "MThd");
    assert_int_equal(jint(jat(d, "chunks", 0), "length"), 6);
    assert_string_equal(jstr(jat(d, "chunks", 1), "id"), "MTrk");
    assert_string_equal(jstr(jat(d, "chunks", 2), "id"), "MTrk");
    assert_int_equal(jint(d, "trailing_bytes"), 0);
    for (int t = 0; t < 2; t++) {
        const cJSON *tr = jat(d, "tracks", t);
        assert_true(jbool(tr, "ends_with_end_of_track"));
        assert_int_equal(jint(tr, "n_end_of_track"), 1);
    }
    assert_string_equal(jstr(jat(d, "tracks", 0), "name"), "Dumu");
    assert_string_equal(jstr(jat(d, "tracks", 1), "name"), name);

    assert_int_equal(jlen(d, "tempos"), 1);
    const cJSON *tempo = jat(d, "tempos", 0);
    assert_int_equal(jint(tempo, "track"), 0);
    assert_int_equal(jint(tempo, "tick"), 0);
    assert_int_equal(jint(tempo, "tempo_us"), expect_tempo_us(p->bpm));

    assert_int_equal(jlen(d, "time_signatures"), 1);
    const cJSON *ts = jat(d, "time_signatures", 0);
    assert_int_equal(jint(ts, "track"), 0);
    assert_int_equal(jint(ts, "tick"), 0);
    assert_int_equal(jint(ts, "numerator"), 4);
    assert_int_equal(jint(ts, "denominator"), 4);
    assert_int_equal(jint(ts, "clocks_per_click"), 24);
    assert_int_equal(jint(ts, "notated_32nd_notes_per_beat"), 8);

    assert_int_equal(jlen(d, "programs"), 1);
    const cJSON *pc = jat(d, "programs", 0);
    assert_int_equal(jint(pc, "track"), 1);
    assert_int_equal(jint(pc, "tick"), 0);
    assert_int_equal(jint(pc, "channel"), p->channel);
    assert_int_equal(jint(pc, "program"), p->program);

    assert_int_equal(jint(d, "open_retriggers"), 0);
    assert_int_equal(jint(d, "stray_note_offs"), 0);
    assert_int_equal(jint(d, "unterminated_notes"), 0);
}

/* Seconds per tick as the reader plays the file. */
static double tick_s(const cJSON *d) {
    return (double)jint(jat(d, "tempos", 0), "tempo_us") * 1e-6 / (double)jint(d, "ppq");
}

/* Every input note appears once in the reader's view: same pitch and velocity, on the
 * channel, in track 1, starting within half a tick of max(0, start_s) and ending within half
 * a tick of max(0, end_s), except that a note ends where the next note of its pitch starts
 * when that comes first, and a note shorter than half a tick lasts exactly one tick. */
static void check_notes(const cJSON *d, const dumu_note *notes, int64_t n,
                        const dumu_midi_params *p) {
    const double tk = tick_s(d), half = 0.5 * tk + 1e-9;
    int n_parsed = jlen(d, "notes");
    assert_int_equal(n_parsed, n);
    bool *used = calloc((size_t)n_parsed + 1, 1);
    assert_non_null(used);
    for (int64_t i = 0; i < n; i++) {
        double start = notes[i].start_s > 0 ? notes[i].start_s : 0;
        double end = notes[i].end_s > 0 ? notes[i].end_s : 0;
        for (int64_t k = 0; k < n; k++) {
            if (k == i || notes[k].pitch != notes[i].pitch) continue;
            if (notes[k].start_s > start + half && notes[k].start_s < end) end = notes[k].start_s;
        }
        int found = -1;
        for (int j = 0; j < n_parsed && found < 0; j++) {
            const cJSON *q = jat(d, "notes", j);
            if (!used[j] && jint(q, "pitch") == notes[i].pitch &&
                fabs(jnum(q, "start_s") - start) <= half) {
                found = j;
            }
        }
        if (found < 0) {
            fprintf(stderr, "note %lld (pitch %d at %.6f s) is missing\n", (long long)i,
                    notes[i].pitch, notes[i].start_s);
            fail();
        }
        used[found] = true;
        const cJSON *q = jat(d, "notes", found);
        assert_int_equal(jint(q, "track"), 1);
        assert_int_equal(jint(q, "channel"), p->channel);
        assert_int_equal(jint(q, "velocity"), expect_velocity(notes[i].amplitude, p->min_velocity));
        if (end - start < half) {
            assert_int_equal(jint(q, "end_tick"), jint(q, "start_tick") + 1);
        } else if (fabs(jnum(q, "end_s") - end) > half) {
            fprintf(stderr, "note %lld ends at %.6f s, expected %.6f\n", (long long)i,
                    jnum(q, "end_s"), end);
            fail();
        }
    }
    free(used);
}

/* ---------------------------------------------------------------------------------------- */
/* Helpers, defaults, bytes */

static void test_default_params(void **state) {
    (void)state;
    dumu_midi_params p = dumu_midi_default_params();
    assert_true(p.bpm == 120.0);
    assert_int_equal(p.ppq, 480);
    assert_int_equal(p.program, 33);
    assert_int_equal(p.channel, 0);
    assert_string_equal(p.track_name, "Bass");
    assert_false(p.pitch_bends);
    assert_true(p.bend_range_semitones == 2.0);
    assert_int_equal(p.min_velocity, 1);
}

static void test_vlq_boundaries(void **state) {
    (void)state;

    static const struct {
        uint32_t value;
        size_t n;
        uint8_t bytes[4];
    } cases[] = {
        {0, 1, {0x00}},
        {0x40, 1, {0x40}},
        {127, 1, {0x7F}},
        {128, 2, {0x81, 0x00}},
        {0x2000, 2, {0xC0, 0x00}},
        {16383, 2, {0xFF, 0x7F}},
        {16384, 3, {0x81, 0x80, 0x00}},
        {0x1FFFFF, 3, {0xFF, 0xFF, 0x7F}},
        {0x200000, 4, {0x81, 0x80, 0x80, 0x00}},
        {0x08000000, 4, {0xC0, 0x80, 0x80, 0x00}},
        {0x0FFFFFFF, 4, {0xFF, 0xFF, 0xFF, 0x7F}},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[4] = {0xAA, 0xAA, 0xAA, 0xAA};
        size_t n = dumu_midi_vlq(cases[i].value, out);
        assert_int_equal(n, cases[i].n);
        assert_memory_equal(out, cases[i].bytes, n);
        for (size_t k = n; k < 4; k++)
            assert_int_equal(out[k], 0xAA); /* nothing past n */
    }
}

static void test_conversions(void **state) {
    (void)state;
    assert_int_equal(dumu_midi_tempo_us(120.0), 500000);
    assert_int_equal(dumu_midi_tempo_us(145.0), 413793);   /* 413793.1 */
    assert_int_equal(dumu_midi_tempo_us(140.063), 428379); /* 428378.66 */
    assert_int_equal(dumu_midi_tempo_us(0.0), 500000);
    assert_int_equal(dumu_midi_tempo_us(-90.0), 500000);
    assert_int_equal(dumu_midi_tempo_us(NAN), 500000);
    assert_int_equal(dumu_midi_tempo_us(INFINITY), 500000);
    assert_int_equal(dumu_midi_tempo_us(3.0), 0xFFFFFF); /* 20 s per quarter: clamped */
    assert_int_equal(dumu_midi_tempo_us(1e-300), 0xFFFFFF);
    assert_int_equal(dumu_midi_tempo_us(1e9), 1);

    assert_int_equal(dumu_midi_velocity(0.0, 1), 1);
    assert_int_equal(dumu_midi_velocity(1.0, 1), 127);
    assert_int_equal(dumu_midi_velocity(0.5, 1), 64);  /* 1 + 63 */
    assert_int_equal(dumu_midi_velocity(0.5, 20), 74); /* 20 + 53.5, half away from zero */
    assert_int_equal(dumu_midi_velocity(-3.0, 20), 20);
    assert_int_equal(dumu_midi_velocity(7.0, 20), 127);
    assert_int_equal(dumu_midi_velocity(INFINITY, 5), 127);
    assert_int_equal(dumu_midi_velocity(0.25, 127), 127);

    assert_int_equal(dumu_midi_bend_value(0, 2.0), 8192);
    assert_int_equal(dumu_midi_bend_value(3, 2.0), 12288);  /* +1 semitone of 2 */
    assert_int_equal(dumu_midi_bend_value(-6, 2.0), 0);     /* -2 semitones: the bottom */
    assert_int_equal(dumu_midi_bend_value(6, 2.0), 16383);  /* +2 semitones: clamped */
    assert_int_equal(dumu_midi_bend_value(1, 2.0), 9557);   /* 8192 + 1365.33 */
    assert_int_equal(dumu_midi_bend_value(-1, 2.0), 6827);  /* 8192 - 1365.33 */
    assert_int_equal(dumu_midi_bend_value(9, 12.0), 10240); /* +3 of 12 */
    assert_int_equal(dumu_midi_bend_value(INT32_MAX, 1e-300), 16383);
    assert_int_equal(dumu_midi_bend_value(INT32_MIN, 1e-300), 0);
}

/* The whole file for one note, byte by byte. */
static void test_tiny_file_bytes(void **state) {
    (void)state;
    dumu_note note = {.pitch = 40, .amplitude = 0.5, .start_s = 0.0, .end_s = 0.5};
    static const uint8_t expect[] = {
        'M',  'T',  'h',  'd',  0,    0,    0,    6,
        0,    1,    0,    2,    0x01, 0xE0,             /* format 1, 2 tracks, 480 */
        'M',  'T',  'r',  'k',  0,    0,    0,    27,   /* conductor */
        0x00, 0xFF, 0x03, 4,    'D',  'u',  'm',  'u',  /* track name */
        0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,       /* 500000 us per quarter */
        0x00, 0xFF, 0x58, 0x04, 0x04, 0x02, 0x18, 0x08, /* 4/4, 24 clocks, 8 32nds */
        0x00, 0xFF, 0x2F, 0x00,                         /* end of track */
        'M',  'T',  'r',  'k',  0,    0,    0,    24,   /* bass */
        0x00, 0xFF, 0x03, 4,    'B',  'a',  's',  's',  /* track name */
        0x00, 0xC0, 33,                                 /* program 33 */
        0x00, 0x90, 40,   64,                           /* note on, velocity 64 */
        0x83, 0x60, 0x80, 40,   0,                      /* 480 ticks later: off */
        0x00, 0xFF, 0x2F, 0x00,
    };
    dumu_midi_params p = dumu_midi_default_params();
    uint8_t *out = NULL;
    size_t size = 0;
    assert_int_equal(dumu_midi_encode(&note, 1, &p, &out, &size, NULL), DUMU_OK);
    assert_int_equal(size, sizeof expect);
    assert_memory_equal(out, expect, sizeof expect);
    dumu_free(out);

    /* params == NULL means the defaults. */
    assert_int_equal(dumu_midi_encode(&note, 1, NULL, &out, &size, NULL), DUMU_OK);
    assert_int_equal(size, sizeof expect);
    assert_memory_equal(out, expect, sizeof expect);
    dumu_free(out);
}

static void test_empty_file(void **state) {
    (void)state;
    static const uint8_t track1[] = {
        'M', 'T', 'r', 'k', 0,    0,    0,  15,   0x00, 0xFF, 0x03, 4,
        'B', 'a', 's', 's', 0x00, 0xC0, 33, 0x00, 0xFF, 0x2F, 0x00,
    };
    uint8_t *out = NULL;
    size_t size = 0;
    assert_int_equal(dumu_midi_encode(NULL, 0, NULL, &out, &size, NULL), DUMU_OK);
    assert_int_equal(size, 14 + 35 + sizeof track1);
    assert_memory_equal(out + 49, track1, sizeof track1);
    dumu_free(out);

    dumu_midi_params p = dumu_midi_default_params();
    cJSON *d = write_and_dump("empty.mid", NULL, 0, &p);
    check_layout(d, &p, "Bass");
    assert_int_equal(jlen(d, "notes"), 0);
    assert_int_equal(jlen(d, "pitch_bends"), 0);
    cJSON_Delete(d);
}

/* The set_tempo event sits right after the conductor's name: bytes 30..36. */
static void test_tempo_bytes(void **state) {
    (void)state;

    static const struct {
        double bpm;
        uint8_t us[3];
    } cases[] = {
        {120.0, {0x07, 0xA1, 0x20}}, /* 500000 */
        {145.0, {0x06, 0x50, 0x61}}, /* 413793 */
        {-1.0, {0x07, 0xA1, 0x20}},  /* fallback 120 */
        {1.0, {0xFF, 0xFF, 0xFF}},   /* clamped to 24 bits */
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dumu_midi_params p = dumu_midi_default_params();
        p.bpm = cases[i].bpm;
        uint8_t *out = NULL;
        size_t size = 0;
        assert_int_equal(dumu_midi_encode(NULL, 0, &p, &out, &size, NULL), DUMU_OK);
        const uint8_t head[] = {0x00, 0xFF, 0x51, 0x03};
        assert_memory_equal(out + 30, head, 4);
        assert_memory_equal(out + 34, cases[i].us, 3);
        dumu_free(out);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Round trips through the reader */

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static double urand(uint32_t *s) {
    return (double)lcg(s) / 16777216.0;
}

/* Random notes in any order: pitches 28..60, each pitch's notes one after another (sometimes
 * touching), different pitches overlapping freely, amplitudes slightly past [0, 1]. */
static void random_notes(dumu_note *notes, int64_t n, uint32_t seed) {
    double lane[128] = {0};
    uint32_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        int pitch = 28 + (int)(lcg(&s) % 33);
        double gap = lcg(&s) % 4 == 0 ? 0.0 : 0.01 + 2.0 * urand(&s);
        double start = lane[pitch] + gap, dur = 0.05 + 1.5 * urand(&s);
        notes[i] = (dumu_note){.pitch = pitch,
                               .amplitude = -0.1 + 1.2 * urand(&s),
                               .start_s = start,
                               .end_s = start + dur};
        lane[pitch] = start + dur;
    }
}

static void test_round_trip(void **state) {
    (void)state;

    enum { N = 160 };

    dumu_note notes[N];

    static const struct {
        double bpm;
        int ppq, program, channel, min_velocity;
        const char *name;
    } cfg[] = {
        {120.0, 480, 33, 0, 1, "Bass"},
        {145.0, 480, 33, 0, 1, "Bass"},
        {97.3, 960, 38, 5, 20,
         "Synth bass, a rather long track name to make the length VLQ "
         "take two bytes: 0123456789012345678901234567890123456789"},
        {233.7, 96, 0, 15, 127, "x"},
        {61.0, 7, 127, 9, 1, ""},
    };

    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        random_notes(notes, N, 1234u + (uint32_t)c);
        dumu_midi_params p = dumu_midi_default_params();
        p.bpm = cfg[c].bpm;
        p.ppq = cfg[c].ppq;
        p.program = cfg[c].program;
        p.channel = cfg[c].channel;
        p.min_velocity = cfg[c].min_velocity;
        p.track_name = cfg[c].name;
        char name[32];
        snprintf(name, sizeof name, "round_trip_%zu.mid", c);
        cJSON *d = write_and_dump(name, notes, N, &p);
        check_layout(d, &p, cfg[c].name);
        check_notes(d, notes, N, &p);
        assert_int_equal(jlen(d, "pitch_bends"), 0);
        cJSON_Delete(d);
    }
}

/* The caller's order does not matter: reversed input gives the same bytes. */
static void test_input_order_irrelevant(void **state) {
    (void)state;

    enum { N = 100 };

    dumu_note notes[N], rev[N];
    random_notes(notes, N, 77u);
    for (int i = 0; i < N; i++)
        rev[i] = notes[N - 1 - i];
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    assert_int_equal(dumu_midi_encode(notes, N, NULL, &a, &na, NULL), DUMU_OK);
    assert_int_equal(dumu_midi_encode(rev, N, NULL, &b, &nb, NULL), DUMU_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    dumu_free(a);
    dumu_free(b);
}

/* Delta times at the VLQ boundaries, end to end: at 120 BPM and 480 PPQ a tick is 1/960 s. */
static void test_delta_boundaries(void **state) {
    (void)state;
    /* One note per boundary, each starting where the previous ended: the note-off deltas
     * are the lengths. */
    static const int64_t lengths[] = {1, 127, 128, 16383, 16384, 0x1FFFFF, 0x200000};

    enum { N = sizeof lengths / sizeof lengths[0] };

    dumu_note notes[N + 1];
    int64_t t = 0;
    for (int i = 0; i < N; i++) {
        notes[i] = (dumu_note){.pitch = 30 + i,
                               .amplitude = 1.0,
                               .start_s = (double)t / 960.0,
                               .end_s = (double)(t + lengths[i]) / 960.0};
        t += lengths[i];
    }
    dumu_midi_params p = dumu_midi_default_params();
    cJSON *d = write_and_dump("deltas.mid", notes, N, &p);
    check_layout(d, &p, "Bass");
    assert_int_equal(jlen(d, "notes"), N);
    t = 0;
    for (int i = 0; i < N; i++) {
        const cJSON *q = jat(d, "notes", i);
        assert_int_equal(jint(q, "pitch"), 30 + i);
        assert_int_equal(jint(q, "start_tick"), t);
        assert_int_equal(jint(q, "end_tick"), t + lengths[i]);
        t += lengths[i];
    }
    cJSON_Delete(d);

    /* The largest delta a file can hold: a note from tick 0 to tick 0x0FFFFFFF. */
    notes[0] = (dumu_note){
        .pitch = 33, .amplitude = 1.0, .start_s = 0.0, .end_s = (double)0x0FFFFFFF / 960.0};
    d = write_and_dump("max_delta.mid", notes, 1, &p);
    check_layout(d, &p, "Bass");
    assert_int_equal(jlen(d, "notes"), 1);
    assert_int_equal(jint(jat(d, "notes", 0), "end_tick"), 0x0FFFFFFF);
    assert_int_equal(jint(jat(d, "tracks", 1), "end_tick"), 0x0FFFFFFF);
    cJSON_Delete(d);

    /* One tick further cannot be written. */
    dumu_error err = {0};
    uint8_t *out = (uint8_t *)&err;
    size_t size = 99;
    notes[0].end_s = (double)0x10000000 / 960.0;
    assert_int_equal(dumu_midi_encode(notes, 1, &p, &out, &size, &err), DUMU_E_INVALID_ARG);
    assert_null(out);
    assert_int_equal(size, 0);
    assert_non_null(strstr(err.message, "note 0"));
}

/* Same pitch, overlapping: the earlier note ends where the later one starts; same start:
 * one note. Other pitches keep overlapping. */
static void test_overlapping_same_pitch(void **state) {
    (void)state;
    const dumu_note notes[] = {
        {.pitch = 40, .amplitude = 0.2, .start_s = 0.0, .end_s = 1.0},
        {.pitch = 40, .amplitude = 0.4, .start_s = 0.5, .end_s = 1.5},   /* overlaps the first */
        {.pitch = 40, .amplitude = 0.6, .start_s = 1.5, .end_s = 2.0},   /* touches the second */
        {.pitch = 40, .amplitude = 0.9, .start_s = 3.0, .end_s = 3.2},   /* same start: merged */
        {.pitch = 40, .amplitude = 0.3, .start_s = 3.0, .end_s = 3.5},   /* longer, quieter */
        {.pitch = 45, .amplitude = 1.0, .start_s = 0.25, .end_s = 2.75}, /* other pitch */
        {.pitch = 52, .amplitude = 1.0, .start_s = 4.0, .end_s = 9.0},   /* long, then a */
        {.pitch = 52, .amplitude = 1.0, .start_s = 4.5, .end_s = 5.0},   /* short one inside */
    };
    /* pitch, start tick, end tick, velocity (120 BPM, 480 PPQ: 960 ticks per second) */
    static const int64_t expect[][4] = {
        {40, 0, 480, 26},      {45, 240, 2640, 127},  {40, 480, 1440, 51},   {40, 1440, 1920, 77},
        {40, 2880, 3360, 114}, {52, 3840, 4320, 127}, {52, 4320, 4800, 127},
    };

    enum { NE = sizeof expect / sizeof expect[0] };

    dumu_midi_params p = dumu_midi_default_params();
    cJSON *d = write_and_dump("overlap.mid", notes, sizeof notes / sizeof notes[0], &p);
    check_layout(d, &p, "Bass"); /* includes: no note-on while the same pitch sounds */
    assert_int_equal(jlen(d, "notes"), NE);
    for (int i = 0; i < NE; i++) {
        const cJSON *q = jat(d, "notes", i);
        assert_int_equal(jint(q, "pitch"), expect[i][0]);
        assert_int_equal(jint(q, "start_tick"), expect[i][1]);
        assert_int_equal(jint(q, "end_tick"), expect[i][2]);
        assert_int_equal(jint(q, "velocity"), expect[i][3]);
    }
    cJSON_Delete(d);

    /* At a shared tick the note-off comes first: bytes of two touching notes. */
    const dumu_note two[] = {
        {.pitch = 40, .amplitude = 1.0, .start_s = 0.5, .end_s = 1.0},
        {.pitch = 40, .amplitude = 1.0, .start_s = 0.0, .end_s = 0.5},
    };
    static const uint8_t events[] = {
        0x00, 0x90, 40,   127,  0x83, 0x60, 0x80, 40,   0,    0x00, 0x90,
        40,   127,  0x83, 0x60, 0x80, 40,   0,    0x00, 0xFF, 0x2F, 0x00,
    };
    uint8_t *out = NULL;
    size_t size = 0;
    assert_int_equal(dumu_midi_encode(two, 2, &p, &out, &size, NULL), DUMU_OK);
    assert_int_equal(size, 49 + 8 + 11 + sizeof events);
    assert_memory_equal(out + 49 + 8 + 11, events, sizeof events);
    dumu_free(out);
}

/* Zero-length and backwards notes last one tick; negative times clamp to 0. */
static void test_short_and_negative_times(void **state) {
    (void)state;
    const dumu_note notes[] = {
        {.pitch = 50, .amplitude = 1.0, .start_s = 1.0, .end_s = 1.0},
        {.pitch = 51, .amplitude = 1.0, .start_s = 2.0, .end_s = 1.5},
        {.pitch = 52, .amplitude = 1.0, .start_s = -0.5, .end_s = 0.25},
        {.pitch = 53, .amplitude = 1.0, .start_s = -1.0, .end_s = -0.5},
        {.pitch = 54, .amplitude = 1.0, .start_s = 3.0, .end_s = 3.0 + 0.4 / 960.0},
    };
    static const int64_t expect[][3] = {
        {52, 0, 240}, {53, 0, 1}, {50, 960, 961}, {51, 1920, 1921}, {54, 2880, 2881},
    };
    dumu_midi_params p = dumu_midi_default_params();
    cJSON *d = write_and_dump("short.mid", notes, 5, &p);
    check_layout(d, &p, "Bass");
    check_notes(d, notes, 5, &p);
    assert_int_equal(jlen(d, "notes"), 5);
    for (int i = 0; i < 5; i++) {
        const cJSON *q = jat(d, "notes", i);
        assert_int_equal(jint(q, "pitch"), expect[i][0]);
        assert_int_equal(jint(q, "start_tick"), expect[i][1]);
        assert_int_equal(jint(q, "end_tick"), expect[i][2]);
    }
    cJSON_Delete(d);
}

/* ---------------------------------------------------------------------------------------- */
/* Pitch bends */

static int64_t frame_tick(int frame) {
    return (int64_t)floor(frame * FRAME_S * 960.0 + 0.5); /* 120 BPM, 480 PPQ */
}

static void test_pitch_bends(void **state) {
    (void)state;
    int32_t bends_a[] = {0, 0, 3, 3, -6, -6, 0, 0};
    int32_t bends_b[] = {9, 9, -1};
    int32_t bends_cd[10] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    int32_t bends_e[] = {1, 1};
    int32_t bends_f[] = {0, 0, 0};
#define NOTE(p, f0, f1, b)                                                                   \
    {                                                                                        \
        .start_frame = (f0), .end_frame = (f1), .pitch = (p), .amplitude = 0.8,              \
        .start_s = (f0)*FRAME_S, .end_s = (f1)*FRAME_S, .n_bends = (f1) - (f0), .bends = (b) \
    }
    const dumu_note notes[] = {
        NOTE(40, 10, 18, bends_a),                             /* alone */
        NOTE(43, 18, 21, bends_b),                             /* starts where the first ends */
        NOTE(45, 30, 40, bends_cd),                            /* these two overlap: no bends */
        NOTE(48, 35, 45, bends_cd), NOTE(40, 50, 52, bends_e), /* alone again */
        NOTE(41, 60, 63, bends_f),                             /* alone, never bent */
    };
#undef NOTE

    enum { N = sizeof notes / sizeof notes[0] };

    /* Hand-computed: value changes only, the last one on a tick wins (the first note's
     * return to 8192 at frame 18 gives way to the second note's 16383), 8192 after a note. */
    static const int64_t expect[][2] = {
        {12, 12288}, {14, 0},    {16, 8192}, {18, 16383},
        {20, 6827},  {21, 8192}, {50, 9557}, {52, 8192},
    };

    enum { NE = sizeof expect / sizeof expect[0] };

    dumu_midi_params p = dumu_midi_default_params();
    p.pitch_bends = true;
    cJSON *d = write_and_dump("bends.mid", notes, N, &p);
    check_layout(d, &p, "Bass");
    check_notes(d, notes, N, &p);
    const double half = 0.5 * tick_s(d) + 1e-9;
    assert_int_equal(jlen(d, "pitch_bends"), NE);
    for (int i = 0; i < NE; i++) {
        const cJSON *b = jat(d, "pitch_bends", i);
        assert_int_equal(jint(b, "track"), 1);
        assert_int_equal(jint(b, "channel"), 0);
        assert_int_equal(jint(b, "tick"), frame_tick((int)expect[i][0]));
        assert_true(fabs(jnum(b, "time_s") - (double)expect[i][0] * FRAME_S) <= half);
        assert_int_equal(jint(b, "value"), expect[i][1]);
    }
    /* The bend on a note's first frame is in place when its note-on arrives, and a note's
     * last bend is still on when its note-off arrives. Notes come sorted by start. */
    static const int64_t start_bend[N] = {8192, 16383, 8192, 8192, 9557, 8192};
    static const int64_t end_bend[N] = {8192, 6827, 8192, 8192, 9557, 8192};
    for (int i = 0; i < N; i++) {
        assert_int_equal(jint(jat(d, "notes", i), "start_bend"), start_bend[i]);
        assert_int_equal(jint(jat(d, "notes", i), "end_bend"), end_bend[i]);
    }
    cJSON_Delete(d);

    /* Another range scales the values: +3 semitones of 12. */
    p.bend_range_semitones = 12.0;
    d = write_and_dump("bends12.mid", notes, N, &p);
    assert_int_equal(jint(jat(d, "pitch_bends", 3), "value"), 10240);
    cJSON_Delete(d);

    /* Bends past a note's end are never read, and a huge n_bends on a 3-frame note neither
     * allocates nor reads more than the note's frames (ASan watches the 8-value array). */
    p.bend_range_semitones = 2.0;
    int32_t few[8] = {3, 3, 3, 3, 3, 3, 3, 3};
    dumu_note lying = {.start_frame = 100,
                       .end_frame = 103,
                       .pitch = 40,
                       .amplitude = 1.0,
                       .start_s = 100 * FRAME_S,
                       .end_s = 103 * FRAME_S,
                       .n_bends = INT32_MAX,
                       .bends = few};
    d = write_and_dump("lying.mid", &lying, 1, &p);
    check_layout(d, &p, "Bass");
    assert_int_equal(jlen(d, "pitch_bends"), 2);
    assert_int_equal(jint(jat(d, "pitch_bends", 0), "tick"), frame_tick(100));
    assert_int_equal(jint(jat(d, "pitch_bends", 0), "value"), 12288);
    assert_int_equal(jint(jat(d, "pitch_bends", 1), "tick"), frame_tick(103));
    assert_int_equal(jint(jat(d, "pitch_bends", 1), "value"), 8192);
    cJSON_Delete(d);

    /* Without pitch_bends nothing is written, and the bends are not even read. */
    p.pitch_bends = false;
    dumu_note unread[N];
    memcpy(unread, notes, sizeof unread);
    unread[0].n_bends = -5;
    unread[1].bends = NULL;
    d = write_and_dump("nobends.mid", unread, N, &p);
    check_layout(d, &p, "Bass");
    assert_int_equal(jlen(d, "pitch_bends"), 0);
    cJSON_Delete(d);
}

/* Constant synthetic bends on every note (value per note, never 0), written with
 * pitch_bends, then checked against a pairwise overlap scan of the reader's notes: a note
 * that overlaps another has no bend inside it and sounds unbent; any other note starts and
 * ends with its own value. `bend_of` maps a parsed note back to its constant. */
static void check_bends_vs_overlaps(const cJSON *d, double range, const dumu_note *notes,
                                    int64_t n) {
    int nn = jlen(d, "notes"), nb = jlen(d, "pitch_bends");
    int n_mono = 0, n_poly = 0;
    const double half = 0.5 * tick_s(d) + 1e-9;
    for (int i = 0; i < nn; i++) {
        const cJSON *q = jat(d, "notes", i);
        int64_t s = jint(q, "start_tick"), e = jint(q, "end_tick");
        bool poly = false;
        for (int j = 0; j < nn && !poly; j++) {
            const cJSON *r = jat(d, "notes", j);
            if (j != i && jint(r, "start_tick") < e && s < jint(r, "end_tick")) poly = true;
        }
        int inside = 0;
        for (int k = 0; k < nb; k++) {
            int64_t t = jint(jat(d, "pitch_bends", k), "tick");
            if (t > s && t < e) inside++;
        }
        /* The source note: same pitch, start within half a tick. */
        int64_t src = -1;
        for (int64_t k = 0; k < n && src < 0; k++) {
            if (notes[k].pitch == jint(q, "pitch") &&
                fabs(fmax(notes[k].start_s, 0) - jnum(q, "start_s")) <= half) {
                src = k;
            }
        }
        assert_true(src >= 0);
        assert_int_equal(inside, 0); /* constant bends: one event at the start at most */
        if (poly) {
            n_poly++;
            assert_int_equal(jint(q, "start_bend"), 8192);
            assert_int_equal(jint(q, "end_bend"), 8192);
        } else {
            n_mono++;
            int64_t v = dumu_midi_bend_value(notes[src].bends[0], range);
            assert_int_not_equal(v, 8192);
            assert_int_equal(jint(q, "start_bend"), v);
            assert_int_equal(jint(q, "end_bend"), v);
        }
    }
    assert_true(n_mono > 0);
    assert_true(n_poly > 0);
    if (nb > 0) assert_int_equal(jint(jat(d, "pitch_bends", nb - 1), "value"), 8192);
}

static void test_bends_only_when_monophonic(void **state) {
    (void)state;

    enum { N = 90 };

    dumu_note notes[N];
    int32_t *pool = calloc(N * 80, sizeof *pool);
    assert_non_null(pool);
    uint32_t s = 99;
    int lane[128] = {0};
    for (int i = 0; i < N; i++) {
        int pitch = 30 + (int)(lcg(&s) % 20);
        int f0 = lane[pitch] + (int)(lcg(&s) % 150), f1 = f0 + 3 + (int)(lcg(&s) % 60);
        lane[pitch] = f1;
        int32_t c = (int32_t)(lcg(&s) % 13) - 6;
        if (c == 0) c = 2;
        for (int k = 0; k < f1 - f0; k++)
            pool[i * 80 + k] = c;
        notes[i] = (dumu_note){.start_frame = f0,
                               .end_frame = f1,
                               .pitch = pitch,
                               .amplitude = urand(&s),
                               .start_s = f0 * FRAME_S,
                               .end_s = f1 * FRAME_S,
                               .n_bends = f1 - f0,
                               .bends = pool + i * 80};
    }
    dumu_midi_params p = dumu_midi_default_params();
    p.pitch_bends = true;
    p.bend_range_semitones = 2.5;
    cJSON *d = write_and_dump("poly.mid", notes, N, &p);
    check_layout(d, &p, "Bass");
    check_notes(d, notes, N, &p);
    check_bends_vs_overlaps(d, p.bend_range_semitones, notes, N);
    cJSON_Delete(d);
    free(pool);
}

/* ---------------------------------------------------------------------------------------- */
/* Real bass lines: the ground-truth notes of the developer test data */

typedef struct csv_notes {
    dumu_note *notes;
    int *velocity;
    int32_t *bends;
    int64_t n;
} csv_notes;

/* Reads onset_s,offset_s,midi_pitch,velocity rows; amplitude (v-1)/126 maps back to v with
 * min_velocity 1. Every note gets constant bends (one per model frame, value 1 + pitch%4). */
static csv_notes read_csv(const char *path) {
    csv_notes c = {0};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "onset_s,offset_s,midi_pitch,velocity"));
    size_t cap = 0;
    double on, off;
    int pitch, vel;
    while (fscanf(f, "%lf,%lf,%d,%d", &on, &off, &pitch, &vel) == 4) {
        if ((size_t)c.n == cap) {
            cap = cap ? 2 * cap : 64;
            c.notes = realloc(c.notes, cap * sizeof *c.notes);
            c.velocity = realloc(c.velocity, cap * sizeof *c.velocity);
            assert_non_null(c.notes);
            assert_non_null(c.velocity);
        }
        c.notes[c.n] = (dumu_note){
            .pitch = pitch, .amplitude = (vel - 1) / 126.0, .start_s = on, .end_s = off};
        c.velocity[c.n] = vel;
        c.n++;
    }
    fclose(f);
    assert_true(c.n > 0);
    size_t total = 0;
    for (int64_t i = 0; i < c.n; i++) {
        int32_t nb = (int32_t)ceil((c.notes[i].end_s - c.notes[i].start_s) / FRAME_S);
        c.notes[i].n_bends = nb > 0 ? nb : 1;
        total += (size_t)c.notes[i].n_bends;
    }
    c.bends = malloc(total * sizeof *c.bends);
    assert_non_null(c.bends);
    size_t at = 0;
    for (int64_t i = 0; i < c.n; i++) {
        c.notes[i].bends = c.bends + at;
        for (int32_t k = 0; k < c.notes[i].n_bends; k++)
            c.bends[at++] = 1 + c.notes[i].pitch % 4;
    }
    return c;
}

static void free_csv(csv_notes *c) {
    free(c->notes);
    free(c->velocity);
    free(c->bends);
}

typedef struct tick_note {
    int64_t start, end, pitch;
} tick_note;

static int cmp_tick_note(const void *pa, const void *pb) {
    const tick_note *a = pa, *b = pb;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    if (a->pitch != b->pitch) return a->pitch < b->pitch ? -1 : 1;
    return (a->end > b->end) - (a->end < b->end);
}

/* Notes of `channel` as (start, end, pitch) ticks, sorted. */
static tick_note *tick_notes(const cJSON *d, int channel, int *n_out) {
    int nn = jlen(d, "notes"), n = 0;
    tick_note *t = calloc((size_t)nn + 1, sizeof *t);
    assert_non_null(t);
    for (int i = 0; i < nn; i++) {
        const cJSON *q = jat(d, "notes", i);
        if (jint(q, "channel") != channel) continue;
        t[n++] = (tick_note){jint(q, "start_tick"), jint(q, "end_tick"), jint(q, "pitch")};
    }
    qsort(t, (size_t)n, sizeof *t, cmp_tick_note);
    *n_out = n;
    return t;
}

static void test_real_bass_lines(void **state) {
    (void)state;
    size_t msize = 0;
    char *text = test_read_file(test_path("DUMU_TESTDATA_DIR", "manifest.json"), &msize);
    text = realloc(text, msize + 1);
    assert_non_null(text);
    text[msize] = '\0';
    cJSON *manifest = cJSON_Parse(text);
    free(text);
    assert_non_null(manifest);
    const cJSON *items = jget(manifest, "items");
    int n_items = 0, n_tick_checked = 0, n_with_overlaps = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, items) {
        if (strcmp(jstr(item, "kind"), "midi_render") != 0) continue;
        n_items++;
        const char *id = jstr(item, "id");
        const cJSON *excerpt = jget(item, "excerpt");
        const cJSON *bass = jget(item, "bass");
        char rel[256];
        snprintf(rel, sizeof rel, "%s", jstr(jget(jget(item, "files"), "notes"), "path"));
        csv_notes c = read_csv(test_path("DUMU_TESTDATA_DIR", rel));
        assert_int_equal(c.n, jint(item, "note_count"));

        dumu_midi_params p = dumu_midi_default_params();
        p.bpm = jnum(item, "tempo_bpm");
        p.ppq = (int32_t)jint(excerpt, "ticks_per_beat");
        p.program = (int32_t)jint(bass, "program");
        p.track_name = jstr(bass, "program_name");
        p.pitch_bends = true;
        char name[160];
        snprintf(name, sizeof name, "%s.mid", id);
        cJSON *d = write_and_dump(name, c.notes, c.n, &p);
        check_layout(d, &p, p.track_name);
        check_notes(d, c.notes, c.n, &p);
        /* Velocities come back exactly as the ground truth has them. */
        const double half = 0.5 * tick_s(d) + 1e-9;
        for (int64_t i = 0; i < c.n; i++) {
            bool ok = false;
            for (int j = 0; j < jlen(d, "notes") && !ok; j++) {
                const cJSON *q = jat(d, "notes", j);
                ok = jint(q, "pitch") == c.notes[i].pitch &&
                     fabs(jnum(q, "start_s") - c.notes[i].start_s) <= half &&
                     jint(q, "velocity") == c.velocity[i];
            }
            assert_true(ok);
        }
        if (jint(bass, "max_simultaneous_notes") > 1) {
            check_bends_vs_overlaps(d, p.bend_range_semitones, c.notes, c.n);
            n_with_overlaps++;
        } else {
            /* A monophonic line: every note sounds with its bend. */
            for (int j = 0; j < jlen(d, "notes"); j++) {
                const cJSON *q = jat(d, "notes", j);
                int32_t v = dumu_midi_bend_value(1 + (int32_t)jint(q, "pitch") % 4, 2.0);
                assert_int_equal(jint(q, "start_bend"), v);
            }
        }

        /* With the piece's own tempo and resolution, the ticks are the ones of the MIDI file
         * that was rendered (its bass channel, shifted to the excerpt). */
        if (cJSON_IsTrue(jget(item, "tempo_constant"))) {
            snprintf(rel, sizeof rel, "%s", jstr(jget(jget(item, "files"), "midi"), "path"));
            cJSON *orig = dump_file(test_path("DUMU_TESTDATA_DIR", rel));
            int na = 0, nb = 0;
            tick_note *ours = tick_notes(d, p.channel, &na);
            tick_note *theirs = tick_notes(orig, (int)jint(bass, "midi_channel") - 1, &nb);
            assert_int_equal(na, nb);
            for (int i = 0; i < na; i++) {
                if (ours[i].start != theirs[i].start || ours[i].end != theirs[i].end ||
                    ours[i].pitch != theirs[i].pitch) {
                    fprintf(stderr, "%s note %d: ours %lld..%lld p%lld, source %lld..%lld p%lld\n",
                            id, i, (long long)ours[i].start, (long long)ours[i].end,
                            (long long)ours[i].pitch, (long long)theirs[i].start,
                            (long long)theirs[i].end, (long long)theirs[i].pitch);
                    fail();
                }
            }
            free(ours);
            free(theirs);
            cJSON_Delete(orig);
            n_tick_checked++;
        }
        cJSON_Delete(d);
        free_csv(&c);
    }
    assert_true(n_items >= 6);
    assert_true(n_tick_checked >= 5);
    assert_true(n_with_overlaps >= 1);
    cJSON_Delete(manifest);
}

/* ---------------------------------------------------------------------------------------- */
/* Errors */

static void expect_invalid(const dumu_note *notes, int64_t n, const dumu_midi_params *p,
                           const char *needle) {
    dumu_error err = {0};
    uint8_t *out = (uint8_t *)&err; /* must come back NULL */
    size_t size = 123;
    assert_int_equal(dumu_midi_encode(notes, n, p, &out, &size, &err), DUMU_E_INVALID_ARG);
    assert_null(out);
    assert_int_equal(size, 0);
    assert_int_equal(err.status, DUMU_E_INVALID_ARG);
    if (!strstr(err.message, needle)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", err.message, needle);
        fail();
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The beat-following tempo map and the pickup rule (DECISIONS), through the reader */

/* Seconds at `tick` through the file's tempo events as the reader lists them (500000 us per
 * quarter before the first). */
static double tick_seconds(const cJSON *d, int64_t tick) {
    const double ppq = (double)jint(d, "ppq");
    double t = 0.0, us = 500000.0;
    int64_t at = 0;
    for (int i = 0; i < jlen(d, "tempos"); i++) {
        const cJSON *e = jat(d, "tempos", i);
        if (jint(e, "tick") > tick) break;
        t += (double)(jint(e, "tick") - at) * us * 1e-6 / ppq;
        at = jint(e, "tick");
        us = jnum(e, "tempo_us");
    }
    return t + (double)(tick - at) * us * 1e-6 / ppq;
}

/* Every tempo event against the true tempo of every beat interval it is in force over (the
 * first and last intervals extended to +-infinity), slivers of 2 ticks or less at its ends
 * not counted: |us / true us per quarter - 1| <= tol. Returns the largest deviation. */
static double check_tempo_events(const cJSON *d, const double *beats, int64_t n, double beat_q,
                                 double tol) {
    const int n_t = jlen(d, "tempos");
    const double ppq = (double)jint(d, "ppq");
    double worst = 0.0;
    for (int i = 0; i < n_t; i++) {
        const double us = jnum(jat(d, "tempos", i), "tempo_us");
        const double sliver = 2.0 * us * 1e-6 / ppq;
        const double ta = tick_seconds(d, jint(jat(d, "tempos", i), "tick")) + sliver;
        const double tb = i + 1 < n_t
                              ? tick_seconds(d, jint(jat(d, "tempos", i + 1), "tick")) - sliver
                              : (double)INFINITY;
        for (int64_t j = -1; j < n; j++) {
            const double lo = j < 0 ? -(double)INFINITY : beats[j];
            const double hi = j + 1 < n ? beats[j + 1] : (double)INFINITY;
            const int64_t k = j < 0 ? 0 : j > n - 2 ? n - 2 : j;
            if (!(fmax(ta, lo) < fmin(tb, hi))) continue;
            const double dev = fabs(us / ((beats[k + 1] - beats[k]) * 1e6 / beat_q) - 1.0);
            worst = fmax(worst, dev);
            if (dev > tol) {
                fprintf(stderr, "tempo %d (%.0f us) is %.2f %% off beat interval %lld\n", i, us,
                        100.0 * dev, (long long)j);
                fail();
            }
        }
    }
    return worst;
}

/* The pickup cases of the issue and the meters: steady beats of `period` s from t0, bars
 * through beat f. Expected (from the rule, by hand): the lead-in L in 32nds and the pickup
 * bar's time signature (0/0: none), the bar's, and the number of tempo events. Notes on
 * every beat and one at 10 ms. Checks: the time signatures and where bar 1 starts; every
 * tempo event within 6.25 % of the beats' tempo (the issue asks 10 %); the written bar line
 * at L within 1/16 beat of the detected downbeat; every note's tick is its position on the
 * layout, exactly L + (j - D) beats for beat j from D + m on (m = 1, or a bar without a
 * pickup); every note plays at its time to within half a tick. */
static void test_pickup_rule(void **state) {
    (void)state;

    static const struct {
        const char *what;
        double t0, period;
        int32_t f, bpb;
        bool compound;
        int lead_32nds, pick_num, pick_den, bar_num, bar_den, n_tempos;
    } cases[] = {
        {"downbeat at 0 ms", 0.0, 0.5, 0, 4, false, 0, 0, 0, 4, 4, 1},
        {"downbeat at 23 ms", 0.023, 0.5, 0, 4, false, 0, 0, 0, 4, 4, 2},
        {"downbeat at half a beat", 0.25, 0.5, 0, 4, false, 4, 1, 8, 4, 4, 1},
        {"downbeat at 1.9 bars", 0.3, 0.5, 7, 4, false, 28, 7, 8, 4, 4, 2},
        {"3/4, lead-in 2.2 beats", 0.1, 0.5, 2, 3, false, 18, 9, 16, 3, 4, 2},
        {"6/4, lead-in 5.8 beats", 0.4, 0.5, 5, 6, false, 46, 23, 16, 6, 4, 2},
        {"5/4, lead-in 2.2 beats", 0.6, 0.5, 1, 5, false, 18, 9, 16, 5, 4, 2},
        {"6/8, lead-in 1.27 beats", 0.2, 0.75, 1, 2, true, 16, 4, 8, 6, 8, 2},
        {"6/8 from 0", 0.0, 0.75, 0, 2, true, 0, 0, 0, 6, 8, 1},
        {"3/4, lead-in of a whole bar", 1.49, 0.5, 0, 3, false, 24, 0, 0, 3, 4, 2},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double beats[40];
        for (int i = 0; i < 40; i++)
            beats[i] = cases[c].t0 + cases[c].period * i;
        dumu_note notes[41];
        for (int i = 0; i < 40; i++) {
            notes[i] = (dumu_note){.pitch = 30 + i % 40, .amplitude = 0.7};
            notes[i].start_s = beats[i];
            notes[i].end_s = beats[i] + 0.1;
        }
        notes[40] = (dumu_note){.pitch = 90, .amplitude = 0.7, .start_s = 0.01, .end_s = 0.02};
        dumu_midi_params p = dumu_midi_default_params();
        p.beats = beats;
        p.n_beats = 40;
        p.first_downbeat = cases[c].f;
        p.beats_per_bar = cases[c].bpb;
        p.compound = cases[c].compound;
        char name[64];
        snprintf(name, sizeof name, "pickup%zu.mid", c);
        cJSON *d = write_and_dump(name, notes, 41, &p);
        print_message("%-30s: %d tempo events, %d time signatures\n", cases[c].what,
                      jlen(d, "tempos"), jlen(d, "time_signatures"));
        const double beat_q = cases[c].compound ? 1.5 : 1.0;
        const int64_t lead = cases[c].lead_32nds * p.ppq / 8;
        /* time signatures */
        const int has_pickup = cases[c].pick_num > 0;
        assert_int_equal(jlen(d, "time_signatures"), 1 + has_pickup);
        const cJSON *ts0 = jat(d, "time_signatures", 0);
        assert_int_equal(jint(ts0, "tick"), 0);
        if (has_pickup) {
            assert_int_equal(jint(ts0, "numerator"), cases[c].pick_num);
            assert_int_equal(jint(ts0, "denominator"), cases[c].pick_den);
            ts0 = jat(d, "time_signatures", 1);
            assert_int_equal(jint(ts0, "tick"), lead);
        }
        assert_int_equal(jint(ts0, "numerator"), cases[c].bar_num);
        assert_int_equal(jint(ts0, "denominator"), cases[c].bar_den);
        assert_int_equal(jint(ts0, "clocks_per_click"), cases[c].compound ? 36 : 24);
        /* tempo */
        assert_int_equal(jlen(d, "tempos"), cases[c].n_tempos);
        check_tempo_events(d, beats, 40, beat_q, 1.0 / 16 + 1e-6);
        /* the detected downbeat D: the earliest bar line at or after 0 s */
        int64_t D = cases[c].f;
        while (beats[0] + (double)(D - cases[c].bpb) * cases[c].period >= 0.0)
            D -= cases[c].bpb;
        const double t_d = beats[0] + (double)D * cases[c].period;
        assert_true(fabs(tick_seconds(d, lead) - t_d) <= cases[c].period / 16 + 1e-9);
        /* notes: the layout's ticks, exact after the downbeat, and their times */
        dumu_layout lay;
        assert_int_equal(
            dumu_layout_init(&lay, beats, 40, cases[c].f, cases[c].bpb, cases[c].compound, NULL),
            DUMU_OK);
        assert_int_equal(jlen(d, "notes"), 41);
        for (int i = 0; i < 41; i++) {
            const cJSON *q = jat(d, "notes", i);
            const int pitch = (int)jint(q, "pitch");
            const dumu_note *src = pitch == 90 ? &notes[40] : &notes[pitch - 30];
            const int64_t j = pitch == 90 ? -1 : pitch - 30;
            assert_int_equal(jint(q, "start_tick"),
                             llround(dumu_layout_quarters(&lay, src->start_s) * p.ppq));
            if ((double)j >= (double)D + lay.span) {
                assert_int_equal(jint(q, "start_tick"),
                                 lead + llround((double)(j - D) * beat_q * p.ppq));
            }
            const double half = 0.5 * cases[c].period / beat_q * 1.07 / p.ppq;
            assert_true(fabs(jnum(q, "start_s") - src->start_s) <= half);
        }
        cJSON_Delete(d);
    }
}

/* Equal beat intervals give one tempo event, also when the interval is a whole number of us
 * plus a half (400000.5 us: rounding alone would flip between two values on float noise) and
 * when the beats are summed one interval at a time. A tempo that drifts by 0.3 us per beat
 * gets an event only where it has moved by more than 0.5 us. */
static void test_steady_one_tempo(void **state) {
    (void)state;
    static const double periods[] = {0.5, 0.4000005, 60.0 / 137.0, 60.0 / 97.3, 0.3333333};
    double beats[600];
    dumu_note note = {.pitch = 40, .amplitude = 0.5, .start_s = 1.0, .end_s = 2.0};
    for (size_t k = 0; k < sizeof periods / sizeof periods[0]; k++) {
        for (int sum = 0; sum < 2; sum++) {
            for (int i = 0; i < 600; i++)
                beats[i] = sum ? (i ? beats[i - 1] + periods[k] : 0.0) : i * periods[k];
            dumu_midi_params p = dumu_midi_default_params();
            p.beats = beats;
            p.n_beats = 600;
            cJSON *d = write_and_dump("steady.mid", &note, 1, &p);
            assert_int_equal(jlen(d, "tempos"), 1);
            assert_true(fabs(jnum(jat(d, "tempos", 0), "tempo_us") - periods[k] * 1e6) <= 0.5);
            assert_int_equal(jlen(d, "time_signatures"), 1);
            cJSON_Delete(d);
        }
    }
    for (int i = 0; i < 600; i++) /* 500000.0, 500000.3, 500000.6, ... us */
        beats[i] = i * 0.5 + 0.15e-6 * i * (i - 1);
    dumu_midi_params p = dumu_midi_default_params();
    p.beats = beats;
    p.n_beats = 600;
    cJSON *d = write_and_dump("drift.mid", &note, 1, &p);
    const int n_t = jlen(d, "tempos");
    assert_true(n_t > 50 && n_t < 600 / 2);
    check_tempo_events(d, beats, 600, 1.0, 1.01e-6); /* within 0.5 us of 0.5 s */
    cJSON_Delete(d);
}

/* Uneven beats (faster and slower), bars of 3 through beat 1, the first beat at 0.37 s: the
 * lead-in of 1.84 beats is a 7/16 pickup; each written beat keeps its own tempo (within
 * 6.25 % in the lead-in, exactly after it), and every note still plays at its own time
 * (within half a tick) through the file's tempo events as the independent reader sees them;
 * the key signature is written as asked. */
static void test_beat_tempo_map(void **state) {
    (void)state;
    double beats[12];
    double t = 0.37;
    for (int i = 0; i < 12; i++) {
        beats[i] = t;
        t += 0.5 + 0.04 * (double)((i * 7) % 5) - 0.06; /* 0.44 .. 0.6 s */
    }
    dumu_note notes[10];
    for (int i = 0; i < 10; i++) {
        notes[i] = (dumu_note){.pitch = 30 + i, .amplitude = 0.7};
        notes[i].start_s = i < 9 ? beats[i + 1] : 0.1; /* the last one in the lead-in */
        notes[i].end_s = i < 9 ? beats[i + 1] + 0.2 : 0.3;
    }
    dumu_midi_params p = dumu_midi_default_params();
    p.beats = beats;
    p.n_beats = 12;
    p.beats_per_bar = 3;
    p.first_downbeat = 1;
    p.has_key = true;
    p.key_fifths = -3;
    p.key_minor = true;
    cJSON *d = write_and_dump("tempo_map.mid", notes, 10, &p);
    /* beat 1 is the downbeat at x = 1 + 0.37 / 0.44 = 1.84 beats: L = 1.75 (7/16) */
    const int64_t lead = 7 * p.ppq / 4;
    for (int i = 0; i < jlen(d, "notes"); i++) {
        const cJSON *n = jat(d, "notes", i);
        int pitch = (int)jint(n, "pitch");
        const dumu_note *src = &notes[pitch - 30];
        if (pitch - 30 >= 1 && pitch - 30 < 9) { /* beats 2.. : whole beats after the pickup */
            assert_int_equal(jint(n, "start_tick"), lead + (pitch - 30) * p.ppq);
        }
        double tick = 60.0 / 200.0 / (double)p.ppq; /* half a tick at the fastest tempo */
        assert_true(fabs(jnum(n, "start_s") - src->start_s) < tick);
        assert_true(fabs(jnum(n, "end_s") - src->end_s) < tick);
    }
    assert_int_equal(jlen(d, "notes"), 10);
    assert_true(jlen(d, "tempos") >= 5);
    assert_true(check_tempo_events(d, beats, 12, 1.0, 1.0 / 16) > 0.01);
    assert_int_equal(jlen(d, "time_signatures"), 2);
    assert_int_equal(jint(jat(d, "time_signatures", 0), "numerator"), 7);
    assert_int_equal(jint(jat(d, "time_signatures", 0), "denominator"), 16);
    assert_int_equal(jint(jat(d, "time_signatures", 1), "numerator"), 3);
    assert_int_equal(jint(jat(d, "time_signatures", 1), "tick"), lead);
    /* the downbeat note (beat 1) within 1/16 beat of the bar line */
    assert_true(fabs(tick_seconds(d, lead) - beats[1]) <= (beats[2] - beats[1]) / 16);
    cJSON_Delete(d);
    /* the key signature bytes: FF 59 02 sf mi */
    uint8_t *mem = NULL;
    size_t size = 0;
    assert_int_equal(dumu_midi_encode(notes, 10, &p, &mem, &size, NULL), DUMU_OK);
    const uint8_t key[] = {0xFF, 0x59, 0x02, 0xFD, 0x01};
    int found = 0;
    for (size_t i = 0; i + sizeof key <= size; i++)
        found |= memcmp(mem + i, key, sizeof key) == 0;
    assert_true(found);
    dumu_free(mem);
    /* any first_downbeat >= 0 works (only its bar phase counts): 4 is 1 in 3/4 */
    uint8_t *mem4 = NULL;
    size_t size4 = 0;
    p.first_downbeat = 4;
    assert_int_equal(dumu_midi_encode(notes, 10, &p, &mem4, &size4, NULL), DUMU_OK);
    assert_int_equal(dumu_midi_encode(notes, 10, &p, &mem, &size, NULL), DUMU_OK);
    assert_int_equal(size4, size);
    assert_memory_equal(mem4, mem, size);
    dumu_free(mem4);
    dumu_free(mem);
    /* bad beat lists and layouts */
    double bad[3] = {1.0, 0.5, 2.0};
    p.beats = bad;
    p.n_beats = 3;
    p.first_downbeat = 0;
    expect_invalid(notes, 1, &p, "beat 1");
    p.beats = beats;
    p.n_beats = 12;
    p.first_downbeat = -1;
    expect_invalid(notes, 1, &p, "first_downbeat");
    p.first_downbeat = 0;
    p.ppq = 100; /* a pickup of 7 32nds would end on tick 87.5 */
    expect_invalid(notes, 1, &p, "multiple of 8");
}

/* Quantised to 1/16 on the layout (dumu_quantize_notes, as --quantize 1/16 does), the notes
 * land on the DAW's 16th grid of the written file: read back, every onset is a whole number
 * of ppq/4 ticks after bar 1's downbeat, i.e. from tick 0 when the pickup is a whole number of
 * 16ths (the 23 ms and half-beat lead-ins, 3/16, 6/8), and counted back from the downbeat in a
 * 5/32 pickup. Jittered onsets (+-40 ms) on beats that speed up. */
static void test_quantized_ticks(void **state) {
    (void)state;

    static const struct {
        double t0;
        int32_t f, bpb;
        bool compound;
        int pickup_32nds; /* the pickup, as the rule gives it */
    } cases[] = {{0.023, 0, 4, false, 0},  {0.25, 0, 4, false, 4}, {0.375, 0, 4, false, 6},
                 {0.3125, 0, 4, false, 5}, {0.2, 1, 2, true, 16},  {0.3, 7, 4, false, 28}};

    srand(3);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double beats[64], t = cases[c].t0;
        for (int i = 0; i < 64; i++) {
            beats[i] = t;
            t += (cases[c].compound ? 0.75 : 0.5) * (1.0 - 0.002 * i); /* speeding up */
        }
        dumu_note notes[120];
        for (int i = 0; i < 120; i++) {
            const double on = 0.02 + 0.21 * i + ((rand() % 801) - 400) * 1e-4;
            notes[i] = (dumu_note){.pitch = 28 + i % 20, .amplitude = 0.6};
            notes[i].start_s = on;
            notes[i].end_s = on + 0.15;
        }
        const dumu_meter meter = {cases[c].bpb, cases[c].f, 0.0, cases[c].compound};
        dumu_quantize_params qp = dumu_quantize_default_params();
        assert_int_equal(qp.subdivisions, 4);
        assert_int_equal(dumu_quantize_notes(beats, 64, &meter, &qp, notes, 120, NULL), DUMU_OK);
        dumu_midi_params p = dumu_midi_default_params();
        p.beats = beats;
        p.n_beats = 64;
        p.first_downbeat = cases[c].f;
        p.beats_per_bar = cases[c].bpb;
        p.compound = cases[c].compound;
        cJSON *d = write_and_dump("quantized.mid", notes, 120, &p);
        const int64_t sixteenth = p.ppq / 4, pickup = cases[c].pickup_32nds * p.ppq / 8;
        const int64_t first =
            jint(jat(d, "time_signatures", jlen(d, "time_signatures") - 1), "tick"); /* bar 1 */
        if (cases[c].pickup_32nds % (cases[c].compound ? 12 : 8) != 0)
            assert_int_equal(first, pickup);
        int n_off = 0;
        for (int i = 0; i < jlen(d, "notes"); i++) {
            const int64_t tick = jint(jat(d, "notes", i), "start_tick");
            n_off += ((tick - pickup) % sixteenth + sixteenth) % sixteenth != 0;
            if (pickup % sixteenth == 0) n_off += tick % sixteenth != 0;
        }
        print_message("pickup of %d 32nds: %d notes, %d off the 16th grid\n", cases[c].pickup_32nds,
                      jlen(d, "notes"), n_off);
        assert_int_equal(n_off, 0);
        cJSON_Delete(d);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The exports of one transcription agree: MIDI, MusicXML and tab have the same bars */

/* Sorted, distinct int64 values (a small set). */
typedef struct i64set {
    int64_t v[512];
    int n;
} i64set;

static void set_add(i64set *s, int64_t x) {
    int i = 0;
    while (i < s->n && s->v[i] < x)
        i++;
    if (i < s->n && s->v[i] == x) return;
    assert_true(s->n < 512);
    memmove(s->v + i + 1, s->v + i, (size_t)(s->n - i) * sizeof *s->v);
    s->v[i] = x;
    s->n++;
}

static void set_equal(const i64set *a, const i64set *b, const char *what) {
    int same = a->n == b->n;
    for (int i = 0; same && i < a->n; i++)
        same = a->v[i] == b->v[i];
    if (!same) {
        fprintf(stderr, "%s differ: %d vs %d values", what, a->n, b->n);
        for (int i = 0; i < a->n || i < b->n; i++)
            fprintf(stderr, "%s %lld/%lld", i ? "," : ":", i < a->n ? (long long)a->v[i] : -1LL,
                    i < b->n ? (long long)b->v[i] : -1LL);
        fprintf(stderr, "\n");
        fail();
    }
}

static long tag_long(const char *at, const char *tag) {
    const char *v = strstr(at, tag);
    assert_non_null(v);
    return strtol(v + strlen(tag), NULL, 10);
}

/* The MusicXML's bar lines (the end of the last measure included), time signatures (where
 * they change in `ts_at`, ticks; what they are in `ts`, num * 100 + den), note onsets (MIDI
 * ticks) and the length of its implicit (pickup) measure in divisions. */
static void musicxml_grid(const char *x, int64_t ppq, i64set *bars, i64set *ts_at, i64set *ts,
                          i64set *onsets, int64_t *pickup) {
    const long div = tag_long(x, "<divisions>");
    int64_t pos = 0; /* divisions */
    *pickup = 0;
    for (const char *m = strstr(x, "<measure "); m; m = strstr(m + 1, "<measure ")) {
        const char *end = strstr(m, "</measure>");
        assert_non_null(end);
        set_add(bars, pos * ppq / div);
        const char *t = strstr(m, "<time>");
        if (t && t < end) {
            set_add(ts_at, pos * ppq / div);
            set_add(ts, tag_long(t, "<beats>") * 100 + tag_long(t, "<beat-type>"));
        }
        int64_t len = 0;
        for (const char *nt = strstr(m, "<note>"); nt && nt < end; nt = strstr(nt + 1, "<note>")) {
            const char *close = strstr(nt, "</note>");
            const char *chord = strstr(nt, "<chord/>"), *rest = strstr(nt, "<rest");
            const char *tie = strstr(nt, "<tie type=\"stop\"/>");
            if (chord && chord < close) continue;
            if (!(rest && rest < close) && !(tie && tie < close))
                set_add(onsets, (pos + len) * ppq / div);
            len += tag_long(nt, "<duration>");
        }
        if (strstr(m, "implicit=\"yes\"") && strstr(m, "implicit=\"yes\"") < end) *pickup = len;
        pos += len;
    }
    set_add(bars, pos * ppq / div); /* the end of the last measure */
}

/* The tab's bar lines and the columns with a fret, in MIDI ticks (a column is a 16th). */
static void tab_grid(const char *text, int64_t ppq, i64set *bars, i64set *onsets) {
    int64_t base = 0; /* columns before this system */
    const char *line = strstr(text, "\n\n") + 2;
    if (*line == ' ') line = strchr(line, '\n') + 1; /* the bar numbers over a system */
    while (line && *line == 'G') {
        int64_t col = 0;
        for (int s = 0; s < 4; s++) { /* G D A E */
            const char *c = line + 2;
            col = 0;
            set_add(bars, base * ppq / 4);
            while (*c && *c != '\n') {
                if (*c == '|') {
                    set_add(bars, (base + col) * ppq / 4);
                    c++;
                    continue;
                }
                if (c[0] != '-') set_add(onsets, (base + col) * ppq / 4);
                c += 3;
                col++;
            }
            line = strchr(line, '\n') + 1;
        }
        base += col;
        line = *line == '\n' ? line + 1 : NULL;
        if (line && *line == ' ') line = strchr(line, '\n') + 1;
    }
}

/* A transcription borrowing notes and beats, for the exports. */
static dumu_transcription transcription_of(dumu_note *notes, int64_t n, double *beats,
                                           int64_t n_beats, double bpm, dumu_meter meter) {
    dumu_transcription tr;
    memset(&tr, 0, sizeof tr);
    tr.notes.notes = notes;
    tr.notes.n_notes = n;
    tr.tempo.beats = beats;
    tr.tempo.n_beats = n_beats;
    tr.tempo.bpm = bpm;
    tr.meter = meter;
    return tr;
}

/* A transcription with beats that start late and speed up, its notes quantised to 1/16 as
 * --quantize does: dumu_transcription_midi, _musicxml and _tab have the same pickup, bar lines
 * and time signatures, and their onsets sit on the same ticks. For 4/4 with the downbeat at
 * 1.9 bars (a 7/8 pickup), 3/4 with a 3/16 pickup, 6/8 with a 1/8 pickup, and no pickup. */
static void test_exports_agree(void **state) {
    (void)state;

    static const struct {
        double t0, period;
        int32_t f, bpb;
        bool compound;
        int64_t pickup_16ths;
    } cases[] = {{0.3, 0.5, 7, 4, false, 14},
                 {0.375, 0.5, 0, 3, false, 3},
                 {0.25, 0.75, 0, 2, true, 2},
                 {0.023, 0.5, 0, 4, false, 0}};

    srand(5);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double beats[48], t = cases[c].t0;
        for (int i = 0; i < 48; i++) {
            beats[i] = t;
            t += cases[c].period * (1.0 - 0.003 * i);
        }
        dumu_note notes[60];
        for (int i = 0; i < 60; i++) {
            const double on = 0.05 + 0.29 * i + ((rand() % 401) - 200) * 1e-4;
            notes[i] = (dumu_note){.pitch = 28 + (i * 7) % 30, .amplitude = 0.6};
            notes[i].start_s = on;
            notes[i].end_s = on + 0.2;
        }
        dumu_transcription tr =
            transcription_of(notes, 60, beats, 48, 60.0 / cases[c].period,
                             (dumu_meter){cases[c].bpb, cases[c].f, 1.0, cases[c].compound});
        const dumu_quantize_params qp = dumu_quantize_default_params();
        assert_int_equal(dumu_quantize_notes(beats, 48, &tr.meter, &qp, notes, 60, NULL), DUMU_OK);

        uint8_t *mid = NULL;
        size_t size = 0;
        assert_int_equal(dumu_transcription_midi(&tr, NULL, &mid, &size, NULL), DUMU_OK);
        const char *path = test_scratch_path("export.mid");
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(mid, 1, size, f), size);
        assert_int_equal(fclose(f), 0);
        dumu_free(mid);
        cJSON *d = dump_file(path);
        const int64_t ppq = jint(d, "ppq");
        char *x = NULL, *tab = NULL;
        size_t xsize = 0;
        assert_int_equal(dumu_transcription_musicxml(&tr, NULL, &x, &xsize, NULL), DUMU_OK);
        assert_int_equal(dumu_transcription_tab(&tr, NULL, &tab, NULL), DUMU_OK);

        i64set x_bars = {0}, x_ts_at = {0}, x_ts = {0}, x_on = {0};
        int64_t x_pickup = 0;
        musicxml_grid(x, ppq, &x_bars, &x_ts_at, &x_ts, &x_on, &x_pickup);
        const long div = tag_long(x, "<divisions>");
        /* the MIDI's: time signatures, the bar lines they make up to the MusicXML's end,
         * onsets */
        i64set m_bars = {0}, m_ts_at = {0}, m_ts = {0}, m_on = {0};
        const int n_ts = jlen(d, "time_signatures");
        const int64_t end = x_bars.v[x_bars.n - 1];
        for (int i = 0; i < n_ts; i++) {
            const cJSON *ts = jat(d, "time_signatures", i);
            const int64_t at = jint(ts, "tick");
            const int64_t bar = jint(ts, "numerator") * 4 * ppq / jint(ts, "denominator");
            const int64_t until =
                i + 1 < n_ts ? jint(jat(d, "time_signatures", i + 1), "tick") : end;
            set_add(&m_ts_at, at);
            set_add(&m_ts, jint(ts, "numerator") * 100 + jint(ts, "denominator"));
            for (int64_t b = at; b < until; b += bar)
                set_add(&m_bars, b);
        }
        set_add(&m_bars, end);
        for (int i = 0; i < jlen(d, "notes"); i++)
            set_add(&m_on, jint(jat(d, "notes", i), "start_tick"));
        print_message("%d/%d%s, pickup of %lld 16ths: %d bars, %d onsets, MusicXML divisions "
                      "%ld\n",
                      cases[c].compound ? 3 * cases[c].bpb : cases[c].bpb,
                      cases[c].compound ? 8 : 4, cases[c].compound ? " (compound)" : "",
                      (long long)cases[c].pickup_16ths, x_bars.n - 1, m_on.n, div);
        assert_int_equal(x_pickup * ppq / div, cases[c].pickup_16ths * ppq / 4);
        set_equal(&x_bars, &m_bars, "MusicXML and MIDI bar lines");
        set_equal(&x_ts_at, &m_ts_at, "MusicXML and MIDI time signature ticks");
        set_equal(&x_ts, &m_ts, "MusicXML and MIDI time signatures");
        set_equal(&x_on, &m_on, "MusicXML and MIDI onsets");
        /* the tab: the same bar lines (it stops after the bar of the last onset, as the
         * MusicXML does) and onset columns */
        i64set t_bars = {0}, t_on = {0};
        tab_grid(tab, ppq, &t_bars, &t_on);
        set_equal(&t_bars, &x_bars, "tab and MusicXML bar lines");
        set_equal(&t_on, &m_on, "tab and MIDI onsets");
        if (cases[c].pickup_16ths) {
            int32_t num = 0, den = 0;
            assert_int_equal(sscanf(strstr(tab, "pickup "), "pickup %d/%d", &num, &den), 2);
            i64set both = x_ts;
            set_add(&both, num * 100 + den); /* the tab's pickup is one of the score's */
            set_equal(&both, &x_ts, "tab and MusicXML pickups");
        }
        dumu_free(tab);
        dumu_free(x);
        cJSON_Delete(d);
    }
}

/* constant_tempo: beats that speed up by a fifth; the file has one tempo (the transcription's
 * bpm) after any pickup, a bar line on the first downbeat, and every note at its own time (a
 * reader following the file's tempo events, mido here, hears it within half a tick). */
static void test_constant_tempo(void **state) {
    (void)state;
    double beats[40], t = 0.3;
    for (int i = 0; i < 40; i++) {
        beats[i] = t;
        t += 0.5 * (1.0 - 0.005 * i);
    }
    dumu_note notes[30];
    for (int i = 0; i < 30; i++) {
        notes[i] = (dumu_note){.pitch = 30 + i % 12, .amplitude = 0.5};
        notes[i].start_s = 0.41 + 0.53 * i;
        notes[i].end_s = notes[i].start_s + 0.3;
    }
    dumu_transcription tr =
        transcription_of(notes, 30, beats, 40, 127.0, (dumu_meter){4, 1, 1.0, false});
    dumu_midi_params p = dumu_midi_default_params();
    p.constant_tempo = true;
    uint8_t *mid = NULL;
    size_t size = 0;
    assert_int_equal(dumu_transcription_midi(&tr, &p, &mid, &size, NULL), DUMU_OK);
    dumu_midi_grid g = {0};
    dumu_grid grid = {0};
    assert_int_equal(dumu_midi_read_grid(mid, size, &g, NULL), DUMU_OK);
    assert_int_equal(dumu_midi_grid_times(&g, 18.0, &grid, NULL), DUMU_OK);
    assert_true(g.n_tempos >= 1 && g.n_tempos <= 3); /* the pickup's, then the bars' */
    const double last = 60e6 / g.tempos[g.n_tempos - 1].us_per_quarter;
    assert_true(fabs(last - 127.0) < 0.01);
    int on_downbeat = 0;
    for (int64_t i = 0; i < grid.n_bars; i++)
        on_downbeat |= fabs(grid.bars[i] - beats[1]) < 0.025; /* the pickup's rounding */
    assert_true(on_downbeat);
    const char *path = test_scratch_path("constant.mid");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(mid, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    cJSON *d = dump_file(path);
    assert_int_equal(jlen(d, "notes"), 30);
    const double half = 0.5 * 60.0 / 127.0 / p.ppq + 1e-9;
    for (int i = 0; i < 30; i++)
        assert_true(fabs(jnum(jat(d, "notes", i), "start_s") - notes[i].start_s) <= half);
    cJSON_Delete(d);
    dumu_grid_deinit(&grid);
    dumu_midi_grid_deinit(&g);
    dumu_free(mid);
}

static void test_invalid_args(void **state) {
    (void)state;
    dumu_midi_params p = dumu_midi_default_params();
    dumu_note ok = {.pitch = 40, .amplitude = 0.5, .start_s = 0.0, .end_s = 1.0};
    dumu_note bad;

    expect_invalid(&ok, -1, &p, "n_notes");
    expect_invalid(NULL, 3, &p, "NULL");
    bad = ok, bad.pitch = -1;
    expect_invalid(&bad, 1, &p, "pitch -1");
    bad = ok, bad.pitch = 128;
    expect_invalid(&bad, 1, &p, "pitch 128");
    bad = ok, bad.start_s = NAN;
    expect_invalid(&bad, 1, &p, "non-finite");
    bad = ok, bad.end_s = INFINITY;
    expect_invalid(&bad, 1, &p, "non-finite");
    bad = ok, bad.start_s = -INFINITY;
    expect_invalid(&bad, 1, &p, "non-finite");
    bad = ok, bad.amplitude = NAN;
    expect_invalid(&bad, 1, &p, "NaN amplitude");
    bad = ok, bad.start_s = 1e300, bad.end_s = 1e300;
    expect_invalid(&bad, 1, &p, "past the last tick");

    /* The second note is the bad one: the message names it. */
    dumu_note two[2] = {ok, ok};
    two[1].pitch = 200;
    expect_invalid(two, 2, &p, "note 1 has pitch 200");

    dumu_midi_params q;
    q = p, q.ppq = 0;
    expect_invalid(&ok, 1, &q, "ppq");
    q = p, q.ppq = 32768;
    expect_invalid(&ok, 1, &q, "ppq");
    q = p, q.program = 128;
    expect_invalid(&ok, 1, &q, "program");
    q = p, q.program = -1;
    expect_invalid(&ok, 1, &q, "program");
    q = p, q.channel = 16;
    expect_invalid(&ok, 1, &q, "channel");
    q = p, q.min_velocity = 0;
    expect_invalid(&ok, 1, &q, "min_velocity");
    q = p, q.min_velocity = 128;
    expect_invalid(&ok, 1, &q, "min_velocity");
    q = p, q.pitch_bends = true, q.bend_range_semitones = 0.0;
    expect_invalid(&ok, 1, &q, "bend_range");
    q = p, q.pitch_bends = true, q.bend_range_semitones = NAN;
    expect_invalid(&ok, 1, &q, "bend_range");
    q = p, q.pitch_bends = true;
    bad = ok, bad.n_bends = -1;
    expect_invalid(&bad, 1, &q, "bends");
    bad = ok, bad.n_bends = 4, bad.bends = NULL;
    expect_invalid(&bad, 1, &q, "bends");

    /* Without pitch_bends a bad range is ignored; a NULL track name is "Bass". */
    q = p, q.bend_range_semitones = -1.0, q.track_name = NULL;
    uint8_t *out = NULL, *ref = NULL;
    size_t size = 0, ref_size = 0;
    assert_int_equal(dumu_midi_encode(&ok, 1, &q, &out, &size, NULL), DUMU_OK);
    assert_int_equal(dumu_midi_encode(&ok, 1, &p, &ref, &ref_size, NULL), DUMU_OK);
    assert_int_equal(size, ref_size);
    assert_memory_equal(out, ref, size);
    dumu_free(out);
    dumu_free(ref);

    /* Missing outputs, missing path; err may be NULL. */
    assert_int_equal(dumu_midi_encode(&ok, 1, &p, NULL, &size, NULL), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_midi_encode(&ok, 1, &p, &out, NULL, NULL), DUMU_E_INVALID_ARG);
    assert_null(out);
    dumu_error err = {0};
    assert_int_equal(dumu_midi_write_file(NULL, &ok, 1, &p, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_midi_write_file("", &ok, 1, &p, &err), DUMU_E_INVALID_ARG);
    /* Bad notes are reported before the file is touched. */
    const char *path = test_scratch_path("never.mid");
    assert_int_equal(dumu_midi_write_file(path, &ok, -2, &p, &err), DUMU_E_INVALID_ARG);
    assert_false(test_exists(path));
}

static void test_io_errors(void **state) {
    (void)state;
    dumu_note ok = {.pitch = 40, .amplitude = 0.5, .start_s = 0.0, .end_s = 1.0};
    dumu_error err = {0};
    char path[600];
    snprintf(path, sizeof path, "%s/no/such/dir/out.mid", test_scratch_dir());
    assert_int_equal(dumu_midi_write_file(path, &ok, 1, NULL, &err), DUMU_E_IO);
    assert_int_equal(err.status, DUMU_E_IO);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, strerror(ENOENT)));

    /* A directory is not a file. */
    assert_int_equal(dumu_midi_write_file(test_scratch_dir(), &ok, 1, NULL, &err), DUMU_E_IO);
    assert_non_null(strstr(err.message, test_scratch_dir()));

    /* A full device: the write fails at flush time; the device itself is left alone. */
    if (test_exists("/dev/full")) {
        memset(&err, 0, sizeof err);
        assert_int_equal(dumu_midi_write_file("/dev/full", &ok, 1, NULL, &err), DUMU_E_IO);
        assert_non_null(strstr(err.message, "/dev/full"));
        assert_non_null(strstr(err.message, strerror(ENOSPC)));
        assert_true(test_exists("/dev/full"));
    }

    /* Overwriting an existing file works and leaves exactly the new bytes. */
    const char *dst = test_scratch_path("overwrite.mid");
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    for (int i = 0; i < 1000; i++)
        fputs("old content ", f);
    fclose(f);
    assert_int_equal(dumu_midi_write_file(dst, &ok, 1, NULL, &err), DUMU_OK);
    size_t size = 0;
    uint8_t *bytes = test_read_file(dst, &size);
    assert_int_equal(size, 81);
    assert_memory_equal(bytes, "MThd", 4);
    free(bytes);
}

/* Every allocation, made to fail in turn: DUMU_E_NOMEM, no output, nothing leaked (ASan's
 * leak checker watches), and the first run that succeeds gives the normal bytes. */
static void test_alloc_failures(void **state) {
    (void)state;

    enum { N = 120 };

    dumu_note notes[N];
    int32_t bends[64];
    for (int k = 0; k < 64; k++)
        bends[k] = (k % 7) - 3;
    /* A monophonic run with bends (many bend events), then overlapping random notes. */
    random_notes(notes, N, 5u);
    for (int i = 0; i < N; i++) {
        if (i < N / 2) {
            notes[i].start_s = i * 20 * FRAME_S;
            notes[i].end_s = (i + 1) * 20 * FRAME_S;
        } else {
            notes[i].start_s += 30.0;
            notes[i].end_s += 30.0;
        }
        notes[i].n_bends = 1 + i % 60;
        notes[i].bends = bends;
    }
    dumu_midi_params p = dumu_midi_default_params();
    p.pitch_bends = true;
    uint8_t *ref = NULL;
    size_t ref_size = 0;
    assert_int_equal(dumu_midi_encode(notes, N, &p, &ref, &ref_size, NULL), DUMU_OK);
    assert_true(ref_size > 2048); /* the buffer (256 bytes first) grows at least 3 times */

    int failures = 0;
    for (int64_t k = 1;; k++) {
        dumu_error err = {0};
        uint8_t *out = (uint8_t *)&err;
        size_t size = 7;
        dumu_alloc_fail_after(k);
        dumu_status rc = dumu_midi_encode(notes, N, &p, &out, &size, &err);
        dumu_alloc_fail_after(0);
        if (rc == DUMU_OK) {
            assert_int_equal(size, ref_size);
            assert_memory_equal(out, ref, size);
            dumu_free(out);
            break;
        }
        assert_int_equal(rc, DUMU_E_NOMEM);
        assert_int_equal(err.status, DUMU_E_NOMEM);
        assert_null(out);
        assert_int_equal(size, 0);
        failures++;
        assert_true(k < 1000);
    }
    assert_true(failures >= 3); /* notes, events, at least one buffer growth */

    const char *path = test_scratch_path("nomem.mid");
    for (int64_t k = 1;; k++) {
        dumu_alloc_fail_after(k);
        dumu_status rc = dumu_midi_write_file(path, notes, N, &p, NULL);
        dumu_alloc_fail_after(0);
        if (rc == DUMU_OK) break;
        assert_int_equal(rc, DUMU_E_NOMEM);
        assert_false(test_exists(path));
        assert_true(k < 1000);
    }
    size_t size = 0;
    uint8_t *bytes = test_read_file(path, &size);
    assert_int_equal(size, ref_size);
    assert_memory_equal(bytes, ref, size);
    free(bytes);
    dumu_free(ref);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_params),
        cmocka_unit_test(test_vlq_boundaries),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_tiny_file_bytes),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_tempo_bytes),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_input_order_irrelevant),
        cmocka_unit_test(test_delta_boundaries),
        cmocka_unit_test(test_overlapping_same_pitch),
        cmocka_unit_test(test_short_and_negative_times),
        cmocka_unit_test(test_pitch_bends),
        cmocka_unit_test(test_bends_only_when_monophonic),
        cmocka_unit_test(test_real_bass_lines),
        cmocka_unit_test(test_beat_tempo_map),
        cmocka_unit_test(test_pickup_rule),
        cmocka_unit_test(test_steady_one_tempo),
        cmocka_unit_test(test_quantized_ticks),
        cmocka_unit_test(test_exports_agree),
        cmocka_unit_test(test_constant_tempo),
        cmocka_unit_test(test_invalid_args),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
