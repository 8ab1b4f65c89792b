/* MIDI grid reader (src/io/midi_read.c): VLQ boundaries, hand-made files (running status,
 * sysex, alien chunks, several tracks, events on one tick), round trips through the writer
 * (dumu_midi_encode) at a constant tempo and with a beat-following tempo map, every malformed
 * header, chunk and event the reader names, every prefix and many byte mutations of a valid
 * file (no overread: run it under ASan), and allocation failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "io/midi_read.h"
#include "testutil.h"

/* ---------------------------------------------------------------------------------------- */
/* Building files by hand */

typedef struct bytes {
    uint8_t b[4096];
    size_t n;
} bytes;

static void put(bytes *f, const uint8_t *p, size_t n) {
    assert_true(f->n + n <= sizeof f->b);
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

#define PUT(f, ...)                           \
    do {                                      \
        const uint8_t put_[] = {__VA_ARGS__}; \
        put((f), put_, sizeof put_);          \
    } while (0)

static void header(bytes *f, uint16_t format, uint16_t n_tracks, uint16_t division) {
    PUT(f, 'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, (uint8_t)format, (uint8_t)(n_tracks >> 8),
        (uint8_t)n_tracks, (uint8_t)(division >> 8), (uint8_t)division);
}

/* A track chunk around `body`. */
static void track(bytes *f, const uint8_t *body, size_t n) {
    PUT(f, 'M', 'T', 'r', 'k', (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
        (uint8_t)n);
    put(f, body, n);
}

static dumu_status read_grid(const bytes *f, dumu_midi_grid *g, dumu_error *err) {
    return dumu_midi_read_grid(f->b, f->n, g, err);
}

/* ---------------------------------------------------------------------------------------- */
/* Tests */

static void test_vlq(void **state) {
    (void)state;
    uint32_t v = 7;
    assert_int_equal(dumu_midi_read_vlq((const uint8_t[]){0x00}, 1, &v), 1);
    assert_int_equal(v, 0);
    assert_int_equal(dumu_midi_read_vlq((const uint8_t[]){0x7F}, 1, &v), 1);
    assert_int_equal(v, 0x7F);
    assert_int_equal(dumu_midi_read_vlq((const uint8_t[]){0x81, 0x00}, 2, &v), 2);
    assert_int_equal(v, 0x80);
    assert_int_equal(dumu_midi_read_vlq((const uint8_t[]){0xC0, 0x80, 0x00}, 3, &v), 3);
    assert_int_equal(v, 0x100000);
    assert_int_equal(dumu_midi_read_vlq((const uint8_t[]){0xFF, 0xFF, 0xFF, 0x7F}, 4, &v), 4);
    assert_int_equal(v, 0x0FFFFFFF);
    v = 7;
    /* five bytes, and bytes that end inside the quantity: not read, v untouched */
    assert_int_equal(dumu_midi_read_vlq((const uint8_t[]){0x81, 0x80, 0x80, 0x80, 0x00}, 5, &v), 0);
    assert_int_equal(dumu_midi_read_vlq((const uint8_t[]){0x81, 0x80}, 2, &v), 0);
    assert_int_equal(dumu_midi_read_vlq((const uint8_t[]){0x81}, 0, &v), 0);
    assert_int_equal(v, 7);
}

static void test_hand_made_file(void **state) {
    (void)state;
    bytes f = {0};
    header(&f, 1, 2, 96);
    /* An alien chunk between the header and the tracks is skipped. */
    PUT(&f, 'X', 'Y', 'Z', 'W', 0, 0, 0, 3, 1, 2, 3);
    /* Track 0: a text event, time signature 3/4 at 0, tempo 100 BPM (600000 us) at 0, a
     * sysex, tempo 150 BPM at tick 288, time signature 6/8 at 288 then 7/8 on the same tick
     * (both kept, in file order), end of track, then junk the reader must not look at. */
    const uint8_t t0[] = {
        0x00, 0xFF, 0x01, 0x03, 'a',  'b',  'c',        /* text */
        0x00, 0xFF, 0x58, 0x04, 0x03, 0x02, 0x18, 0x08, /* 3/4 */
        0x00, 0xFF, 0x51, 0x03, 0x09, 0x27, 0xC0,       /* 600000 us */
        0x10, 0xF0, 0x03, 0x7E, 0x7F, 0xF7,             /* sysex at 16 */
        0x82, 0x10, 0xFF, 0x51, 0x03, 0x06, 0x1A, 0x80, /* 400000 us at 288 */
        0x00, 0xFF, 0x58, 0x04, 0x06, 0x03, 0x18, 0x08, /* 6/8 */
        0x00, 0xFF, 0x58, 0x04, 0x07, 0x03, 0x18, 0x08, /* 7/8 */
        0x00, 0xFF, 0x2F, 0x00,                         /* end of track */
        0xF8, 0xF8, 0xF8,                               /* ignored */
    };
    track(&f, t0, sizeof t0);
    /* Track 1: notes with running status, program change (one data byte), pitch bend, and a
     * tempo event at tick 96 that must sort between track 0's events; no end_of_track. */
    const uint8_t t1[] = {
        0x00, 0xC0, 0x21,                         /* program change */
        0x00, 0x90, 0x28, 0x40,                   /* note on */
        0x30, 0x28, 0x00,                         /* running status: note on velocity 0 at 48 */
        0x30, 0xE0, 0x00, 0x40,                   /* pitch bend at 96 */
        0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, /* 500000 us at 96 */
        0x00, 0xD0, 0x10,                         /* channel pressure (one byte) */
        0x00, 0x50,                               /* running status 0xD0 again */
    };
    track(&f, t1, sizeof t1);
    PUT(&f, 0xDE, 0xAD); /* after the last declared track: ignored */

    dumu_midi_grid g;
    dumu_error err = {0};
    assert_int_equal(read_grid(&f, &g, &err), DUMU_OK);
    assert_int_equal(g.ppq, 96);
    assert_int_equal(g.n_tempos, 3);
    assert_int_equal(g.tempos[0].tick, 0);
    assert_int_equal(g.tempos[0].us_per_quarter, 600000);
    assert_int_equal(g.tempos[1].tick, 96);
    assert_int_equal(g.tempos[1].us_per_quarter, 500000);
    assert_int_equal(g.tempos[2].tick, 288);
    assert_int_equal(g.tempos[2].us_per_quarter, 400000);
    assert_int_equal(g.n_time_signatures, 3);
    assert_int_equal(g.time_signatures[0].tick, 0);
    assert_int_equal(g.time_signatures[0].numerator, 3);
    assert_int_equal(g.time_signatures[0].denominator_log2, 2);
    assert_int_equal(g.time_signatures[1].tick, 288);
    assert_int_equal(g.time_signatures[1].numerator, 6);
    assert_int_equal(g.time_signatures[2].tick, 288);
    assert_int_equal(g.time_signatures[2].numerator, 7);
    assert_int_equal(g.time_signatures[2].denominator_log2, 3);

    /* Its grid over 4.05 s: 100 BPM for a quarter (0.6 s), 120 BPM for two (1.0 s), then
     * 150 BPM (0.4 s a quarter). Bars: 3/4 from 0 (0, 3 quarters = 1.6 s), then at tick 288
     * (3 quarters, 1.6 s) the 7/8 wins over the 6/8 on the same tick: 3.5 quarters = 1.4 s,
     * the next one at 4.4 s. */
    dumu_grid grid;
    assert_int_equal(dumu_midi_grid_times(&g, 4.05, &grid, &err), DUMU_OK);
    const double beats[] = {0.0, 0.6, 1.1, 1.6, 2.0, 2.4, 2.8, 3.2, 3.6, 4.0};
    assert_int_equal(grid.n_beats, 10);
    for (int i = 0; i < 10; i++)
        assert_true(fabs(grid.beats[i] - beats[i]) < 1e-9);
    assert_int_equal(grid.n_bars, 3);
    assert_true(fabs(grid.bars[0] - 0.0) < 1e-9);
    assert_true(fabs(grid.bars[1] - 1.6) < 1e-9);
    assert_true(fabs(grid.bars[2] - 3.0) < 1e-9);
    assert_int_equal(grid.n_tempo, 3);
    assert_true(grid.tempo[0].time_s == 0.0 && fabs(grid.tempo[0].bpm - 100.0) < 1e-9);
    assert_true(fabs(grid.tempo[1].time_s - 0.6) < 1e-12 && fabs(grid.tempo[1].bpm - 120.0) < 1e-9);
    assert_true(fabs(grid.tempo[2].time_s - 1.6) < 1e-12 && fabs(grid.tempo[2].bpm - 150.0) < 1e-9);
    /* 3 quarter notes in the first 1.6 s, 2.5 a second after */
    assert_true(fabs(grid.mean_bpm - 60.0 * (3.0 + 2.45 * 2.5) / 4.05) < 1e-9);
    dumu_grid_deinit(&grid);
    dumu_midi_grid_deinit(&g);
    dumu_midi_grid_deinit(&g); /* twice is fine: the struct is zeroed */
}

static void test_defaults_without_meta_events(void **state) {
    (void)state;
    /* No tempo and no time signature: 120 BPM, 4/4. Format 0, a single empty track. */
    bytes f = {0};
    header(&f, 0, 1, 480);
    const uint8_t t[] = {0x00, 0xFF, 0x2F, 0x00};
    track(&f, t, sizeof t);
    dumu_midi_grid g;
    dumu_grid grid;
    assert_int_equal(read_grid(&f, &g, NULL), DUMU_OK);
    assert_int_equal(g.n_tempos, 0);
    assert_int_equal(g.n_time_signatures, 0);
    assert_int_equal(dumu_midi_grid_times(&g, 5.0, &grid, NULL), DUMU_OK);
    assert_int_equal(grid.n_beats, 11);
    assert_int_equal(grid.n_bars, 3); /* 0, 2, 4 s */
    assert_true(fabs(grid.bars[2] - 4.0) < 1e-12);
    assert_true(fabs(grid.mean_bpm - 120.0) < 1e-9);
    dumu_grid_deinit(&grid);
    dumu_midi_grid_deinit(&g);

    /* Zero tracks is a valid (empty) file. */
    bytes e = {0};
    header(&e, 1, 0, 480);
    assert_int_equal(read_grid(&e, &g, NULL), DUMU_OK);
    assert_int_equal(g.n_tempos, 0);
    dumu_midi_grid_deinit(&g);
}

static void test_beats_restart_at_time_signatures(void **state) {
    (void)state;
    /* A pickup bar of one eighth (1/8) before 4/4 at tick 240, 120 BPM: a DAW draws a beat at
     * 0 s (the pickup's own) and then on the 4/4 bar line, 0.25 s, and every 0.5 s after it,
     * not every 480 ticks from tick 0. */
    bytes f = {0};
    header(&f, 1, 1, 480);
    const uint8_t t[] = {
        0x00, 0xFF, 0x58, 0x04, 0x01, 0x03, 0x0C, 0x08,       /* 1/8 */
        0x81, 0x70, 0xFF, 0x58, 0x04, 0x04, 0x02, 0x18, 0x08, /* 4/4 at 240 */
        0x00, 0xFF, 0x2F, 0x00,
    };
    track(&f, t, sizeof t);
    dumu_midi_grid g;
    dumu_grid grid;
    assert_int_equal(read_grid(&f, &g, NULL), DUMU_OK);
    assert_int_equal(dumu_midi_grid_times(&g, 2.0, &grid, NULL), DUMU_OK);
    const double beats[5] = {0.0, 0.25, 0.75, 1.25, 1.75};
    const double bars[2] = {0.0, 0.25}; /* the next at 2.25 s */
    assert_int_equal(grid.n_beats, 5);
    for (int i = 0; i < 5; i++)
        assert_true(fabs(grid.beats[i] - beats[i]) < 1e-12);
    assert_int_equal(grid.n_bars, 2);
    for (int i = 0; i < 2; i++)
        assert_true(fabs(grid.bars[i] - bars[i]) < 1e-12);
    dumu_grid_deinit(&grid);
    dumu_midi_grid_deinit(&g);
}

static void test_round_trip_through_the_writer(void **state) {
    (void)state;
    const dumu_note notes[3] = {test_note(0.0, 0.4, 40, 0.7), test_note(0.5, 0.9, 43, 0.7),
                                test_note(1.0, 1.8, 45, 0.7)};
    dumu_midi_params p = dumu_midi_default_params();
    p.bpm = 93.0;
    uint8_t *mid = NULL;
    size_t size = 0;
    dumu_error err = {0};
    assert_int_equal(dumu_midi_encode(notes, 3, &p, &mid, &size, &err), DUMU_OK);
    dumu_midi_grid g;
    assert_int_equal(dumu_midi_read_grid(mid, size, &g, &err), DUMU_OK);
    assert_int_equal(g.ppq, p.ppq);
    assert_int_equal(g.n_tempos, 1);
    assert_int_equal(g.tempos[0].tick, 0);
    assert_int_equal(g.tempos[0].us_per_quarter, 645161); /* round(60e6 / 93) */
    assert_int_equal(g.n_time_signatures, 1);
    assert_int_equal(g.time_signatures[0].numerator, 4);
    assert_int_equal(g.time_signatures[0].denominator_log2, 2);
    dumu_midi_grid_deinit(&g);
    dumu_free(mid);

    /* A beat-following tempo map from 0 s (no lead-in): the grid's beats are the beats given
     * (to the writer's 1 us per quarter rounding), and after the last one the last interval
     * goes on. */
    double beats[40];
    double t = 0.0;
    for (int i = 0; i < 40; i++) {
        beats[i] = t;
        t += 0.5 * (1.0 + 0.05 * sin(i * 0.7));
    }
    p = dumu_midi_default_params();
    p.beats = beats;
    p.n_beats = 40;
    p.beats_per_bar = 3;
    assert_int_equal(dumu_midi_encode(notes, 3, &p, &mid, &size, &err), DUMU_OK);
    assert_int_equal(dumu_midi_read_grid(mid, size, &g, &err), DUMU_OK);
    assert_true(g.n_tempos >= 30);
    dumu_grid grid;
    double dur = beats[39] + 1.0;
    assert_int_equal(dumu_midi_grid_times(&g, dur, &grid, &err), DUMU_OK);
    assert_true(grid.n_beats >= 41);
    for (int i = 0; i < 40; i++)
        assert_true(fabs(grid.beats[i] - beats[i]) < 1e-4);
    double last = beats[39] - beats[38];
    assert_true(fabs(grid.beats[40] - (beats[39] + last)) < 1e-4);
    for (int64_t i = 0; i < grid.n_bars && 3 * i < 40; i++)
        assert_true(fabs(grid.bars[i] - beats[3 * i]) < 1e-4);
    dumu_grid_deinit(&grid);
    dumu_midi_grid_deinit(&g);
    dumu_free(mid);
}

/* One malformed file: read must fail with `want` and a message containing `what`. */
static void expect_error(const bytes *f, dumu_status want, const char *what) {
    dumu_midi_grid g;
    dumu_error err = {0};
    dumu_status rc = read_grid(f, &g, &err);
    if (rc != want || !strstr(err.message, what))
        fail_msg("status %d (%s), want %d with \"%s\"", rc, err.message, want, what);
    assert_null(g.tempos);
    assert_int_equal(g.n_tempos, 0);
}

static void test_malformed_files(void **state) {
    (void)state;
    bytes f;
    const uint8_t eot[] = {0x00, 0xFF, 0x2F, 0x00};

    f = (bytes){0};
    expect_error(&f, DUMU_E_FORMAT, "no MThd");
    PUT(&f, 'M', 'T', 'h', 'x', 0, 0, 0, 6, 0, 1, 0, 1, 1, 0xE0);
    expect_error(&f, DUMU_E_FORMAT, "no MThd");
    f = (bytes){0};
    PUT(&f, 'M', 'T', 'h', 'd', 0, 0, 0, 5, 0, 1, 0, 1, 1, 0xE0); /* header of 5 bytes */
    expect_error(&f, DUMU_E_FORMAT, "header chunk of 5");
    f = (bytes){0};
    PUT(&f, 'M', 'T', 'h', 'd', 0, 0, 1, 0, 0, 1, 0, 1, 1, 0xE0); /* longer than the file */
    expect_error(&f, DUMU_E_FORMAT, "header chunk of 256");
    f = (bytes){0};
    header(&f, 3, 1, 480);
    expect_error(&f, DUMU_E_FORMAT, "format 3");
    f = (bytes){0};
    header(&f, 1, 1, 0xE728); /* -25 fps, 40 ticks per frame */
    expect_error(&f, DUMU_E_UNSUPPORTED, "SMPTE");
    f = (bytes){0};
    header(&f, 1, 1, 0);
    expect_error(&f, DUMU_E_FORMAT, "0 ticks");

    /* Chunks */
    f = (bytes){0};
    header(&f, 1, 2, 480);
    track(&f, eot, sizeof eot);
    expect_error(&f, DUMU_E_FORMAT, "declares 2 tracks, 1 found");
    f = (bytes){0};
    header(&f, 1, 1, 480);
    PUT(&f, 'M', 'T', 'r', 'k', 0, 0, 0, 9, 0x00, 0xFF, 0x2F, 0x00); /* 9 declared, 4 there */
    expect_error(&f, DUMU_E_FORMAT, "truncated chunk");
    f = (bytes){0};
    header(&f, 1, 1, 480);
    PUT(&f, 'M', 'T', 'r', 'k', 0xFF, 0xFF, 0xFF, 0xFF); /* a length near 4 GiB */
    expect_error(&f, DUMU_E_FORMAT, "truncated chunk");
    f = (bytes){0};
    header(&f, 1, 1, 480);
    PUT(&f, 'M', 'T', 'r'); /* chunk header cut */
    expect_error(&f, DUMU_E_FORMAT, "1 tracks, 0 found");

    /* Events: each body is one track of an otherwise valid file. */
    static const struct {
        uint8_t body[16];
        size_t n;
        const char *what;
    } bad[] = {
        {{0x81}, 1, "delta time"},                               /* VLQ past the end */
        {{0x81, 0x80, 0x80, 0x80, 0x00}, 5, "delta time"},       /* 5-byte VLQ */
        {{0x00}, 1, "ends after a delta"},                       /* no event after it */
        {{0x00, 0xFF}, 2, "truncated meta"},                     /* meta type cut */
        {{0x00, 0xFF, 0x01, 0x05, 'a'}, 5, "meta event length"}, /* text past the end */
        {{0x00, 0xFF, 0x01, 0x81}, 4, "meta event length"},      /* length VLQ cut */
        {{0x00, 0xF0, 0x7F, 0x01}, 4, "sysex length"},           /* sysex past the end */
        {{0x00, 0x40, 0x40}, 3, "running status"},               /* data with no status */
        {{0x00, 0xFF, 0x2F - 0x20, 0x00, 0x00, 0x40}, 6, "running status"}, /* meta cancels */
        {{0x00, 0xF8}, 2, "status byte 0xF8"},        /* real-time in a file */
        {{0x00, 0x90, 0x40}, 3, "truncated channel"}, /* note-on cut */
        {{0x00, 0xFF, 0x51, 0x02, 0x07, 0xA1}, 6, "set_tempo of 2"},
        {{0x00, 0xFF, 0x51, 0x03, 0x00, 0x00, 0x00}, 7, "set_tempo of 0"},
        {{0x00, 0xFF, 0x58, 0x02, 0x04, 0x02}, 6, "time_signature of 2"},
        {{0x00, 0xFF, 0x58, 0x04, 0x00, 0x02, 0x18, 0x08}, 8, "time signature 0/"},
        {{0x00, 0xFF, 0x58, 0x04, 0x04, 0x20, 0x18, 0x08}, 8, "denominator past"},
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = (bytes){0};
        header(&f, 0, 1, 480);
        track(&f, bad[i].body, bad[i].n);
        expect_error(&f, DUMU_E_FORMAT, bad[i].what);
    }

    dumu_midi_grid g;
    dumu_error err = {0};
    assert_int_equal(dumu_midi_read_grid(NULL, 10, &g, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_midi_read_grid(NULL, 0, &g, &err), DUMU_E_FORMAT);
}

/* Every prefix of a real file, and random byte changes: an answer every time, and what is
 * read is sorted and in range. Under ASan this is the overread check. */
static void test_prefixes_and_mutations(void **state) {
    (void)state;
    double beats[16];
    for (int i = 0; i < 16; i++)
        beats[i] = 0.1 + 0.45 * i + 0.01 * (i % 3);
    const dumu_note notes[2] = {test_note(0.2, 0.5, 40, 0.7), test_note(0.6, 3.0, 47, 0.7)};
    dumu_midi_params p = dumu_midi_default_params();
    p.beats = beats;
    p.n_beats = 16;
    p.first_downbeat = 1;
    p.has_key = true;
    p.key_fifths = -2;
    uint8_t *mid = NULL;
    size_t size = 0;
    assert_int_equal(dumu_midi_encode(notes, 2, &p, &mid, &size, NULL), DUMU_OK);
    dumu_midi_grid g;
    for (size_t n = 0; n < size; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
        assert_non_null(copy);
        memcpy(copy, mid, n);
        /* The last chunk is always cut short. */
        assert_int_equal(dumu_midi_read_grid(copy, n, &g, NULL), DUMU_E_FORMAT);
        dumu_midi_grid_deinit(&g);
        free(copy);
    }
    srand(12345);
    for (int k = 0; k < 3000; k++) {
        uint8_t *copy = malloc(size);
        assert_non_null(copy);
        memcpy(copy, mid, size);
        int changes = 1 + rand() % 4;
        for (int c = 0; c < changes; c++)
            copy[(size_t)rand() % size] = (uint8_t)rand();
        dumu_status rc = dumu_midi_read_grid(copy, size, &g, NULL);
        assert_true(rc == DUMU_OK || rc == DUMU_E_FORMAT || rc == DUMU_E_UNSUPPORTED);
        if (rc == DUMU_OK) {
            assert_true(g.ppq >= 1);
            for (int64_t i = 0; i < g.n_tempos; i++)
                assert_true(g.tempos[i].us_per_quarter >= 1 &&
                            (i == 0 || g.tempos[i].tick >= g.tempos[i - 1].tick));
            dumu_grid grid;
            dumu_status grc = dumu_midi_grid_times(&g, 10.0, &grid, NULL);
            assert_true(grc == DUMU_OK || grc == DUMU_E_TOO_LONG);
            for (int64_t i = 1; i < grid.n_beats; i++)
                assert_true(grid.beats[i] >= grid.beats[i - 1]);
            dumu_grid_deinit(&grid);
        }
        dumu_midi_grid_deinit(&g);
        free(copy);
    }
    dumu_free(mid);
}

static void test_allocation_failures(void **state) {
    (void)state;
    /* 40 tempo events and 20 time signatures: the arrays grow past their first 16. */
    bytes f = {0};
    header(&f, 0, 1, 480);
    uint8_t body[2048];
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        const uint8_t ev[] = {0x83, 0x60, 0xFF, 0x51, 0x03, 0x07, 0xA1, (uint8_t)(0x20 + i)};
        memcpy(body + n, ev, sizeof ev);
        n += sizeof ev;
        if (i % 2) continue;
        const uint8_t ts[] = {0x00, 0xFF, 0x58, 0x04, (uint8_t)(2 + i % 5), 0x02, 0x18, 0x08};
        memcpy(body + n, ts, sizeof ts);
        n += sizeof ts;
    }
    track(&f, body, n);
    dumu_midi_grid g;
    assert_int_equal(read_grid(&f, &g, NULL), DUMU_OK);
    assert_int_equal(g.n_tempos, 40);
    assert_int_equal(g.n_time_signatures, 20);
    dumu_midi_grid_deinit(&g);
    dumu_alloc_fail_after(0);
    assert_int_equal(read_grid(&f, &g, NULL), DUMU_OK);
    int64_t made = dumu_alloc_fail_after(0);
    dumu_midi_grid_deinit(&g);
    assert_true(made >= 4);
    for (int64_t k = 1; k <= made; k++) {
        dumu_alloc_fail_after(k);
        dumu_status rc = read_grid(&f, &g, NULL);
        dumu_alloc_fail_after(0);
        assert_int_equal(rc, DUMU_E_NOMEM);
        assert_null(g.tempos);
        assert_null(g.time_signatures);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vlq),
        cmocka_unit_test(test_hand_made_file),
        cmocka_unit_test(test_defaults_without_meta_events),
        cmocka_unit_test(test_beats_restart_at_time_signatures),
        cmocka_unit_test(test_round_trip_through_the_writer),
        cmocka_unit_test(test_malformed_files),
        cmocka_unit_test(test_prefixes_and_mutations),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
