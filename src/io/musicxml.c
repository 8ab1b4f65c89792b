/* musicxml.c - MusicXML 3.1 partwise writer for a bass part (notation choices in musicxml.h).
 *
 * PIPELINE
 *     notes (seconds) --grid--> (start step, end step, pitch), sorted --> events: runs of equal
 *     start step are chords, each cut at the next event's start --> a walk over the timeline
 *     from step 0 that writes rests for gaps, opens a <measure> at every multiple of the bar
 *     length, splits spans at bar lines and decomposes each piece into notatable values.
 *
 * DURATIONS
 *     <divisions> (per quarter) = subdivisions, so one grid step is one division. Values are
 *     measured in 1/48 of a quarter, which holds plain (whole 192 ... 64th 3), dotted (x 3/2)
 *     and triplet (x 2/3) values exactly; a value is usable when its length is a whole number
 *     of steps. A piece takes the longest usable value that fits (greedy). On triplet grids
 *     (3, 6, 12 steps per beat) the timeline is cut into groups of 3 steps (one plain value
 *     of 3 steps: a quarter, eighth or 16th): plain values must start on a group boundary and
 *     fill whole groups; what is left inside a group is written as triplet values (1 or 2
 *     steps, <time-modification> 3:2 with <tuplet> start/stop at the group's edges), so every
 *     tuplet is complete. Ties (<tie> and <tied>) join the pieces of one note.
 *
 * REFERENCES
 *     MusicXML 3.1 (W3C Music Notation Community Group): score-partwise, attributes (divisions,
 *     key, time, clef, transpose), note (chord, pitch, rest, duration, tie, voice, type, dot,
 *     time-modification, notations: tied, tuplet), direction (metronome, sound tempo). */
#include "io/musicxml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "music/quantize.h"

dumu_musicxml_params dumu_musicxml_default_params(void) {
    dumu_musicxml_params p;
    memset(&p, 0, sizeof p);
    p.beats_per_bar = 4;
    p.subdivisions = 4;
    return p;
}

/* Writes text with &, <, >, " escaped. */
static void put_escaped(dumu_text *b, const char *text) {
    for (const char *c = text; *c; c++) {
        switch (*c) {
        case '&': dumu_text_put(b, "&amp;"); break;
        case '<': dumu_text_put(b, "&lt;"); break;
        case '>': dumu_text_put(b, "&gt;"); break;
        case '"': dumu_text_put(b, "&quot;"); break;
        default: dumu_text_put(b, "%c", *c);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Note values */

typedef struct value {
    int units;        /* length in 1/48 quarter */
    const char *type; /* MusicXML <type> */
    int dots;         /* 0 or 1 */
    int triplet;      /* 1: 3:2 time modification */
} value;

/* Every value, longest first within each kind. */
static const value k_values[] = {
    {288, "whole", 1, 0},  {192, "whole", 0, 0},  {144, "half", 1, 0},   {96, "half", 0, 0},
    {72, "quarter", 1, 0}, {48, "quarter", 0, 0}, {36, "eighth", 1, 0},  {24, "eighth", 0, 0},
    {18, "16th", 1, 0},    {12, "16th", 0, 0},    {9, "32nd", 1, 0},     {6, "32nd", 0, 0},
    {3, "64th", 0, 0},     {64, "half", 0, 1},    {32, "quarter", 0, 1}, {16, "eighth", 0, 1},
    {8, "16th", 0, 1},     {4, "32nd", 0, 1},     {2, "64th", 0, 1},
};

#define N_VALUES ((int)(sizeof k_values / sizeof k_values[0]))

/* Length of value v in grid steps, or 0 when it is not a whole number of steps. */
static int64_t value_steps(const value *v, int sub) {
    return (v->units * sub) % 48 ? 0 : (int64_t)(v->units * sub / 48);
}

/* The value of the next piece of a span from step a to b (a < b, same bar). */
static const value *next_value(int64_t a, int64_t b, int sub) {
    const int triplet_grid = sub % 3 == 0;
    const int64_t room = b - a;
    if (triplet_grid && a % 3 != 0) {
        /* Inside a group: a triplet value up to the group's end (or b). */
        const int64_t group_end = (a / 3 + 1) * 3;
        const int64_t len = (b < group_end ? b : group_end) - a;
        for (int k = 0; k < N_VALUES; k++) {
            if (k_values[k].triplet && value_steps(&k_values[k], sub) == len) return &k_values[k];
        }
    }
    for (int k = 0; k < N_VALUES; k++) {
        const value *v = &k_values[k];
        const int64_t st = value_steps(v, sub);
        if (st == 0 || st > room || v->triplet != 0) continue;
        if (triplet_grid && st % 3 != 0) continue;
        return v;
    }
    /* Only on a triplet grid with less than a group left: triplets to the end. */
    DUMU_ASSERT(triplet_grid && room < 3);
    for (int k = 0; k < N_VALUES; k++) {
        if (k_values[k].triplet && value_steps(&k_values[k], sub) == room) return &k_values[k];
    }
    DUMU_ASSERT(0 && "no value fits");
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* The writer */

typedef struct grid_note {
    int64_t start, end; /* grid steps from the start of measure 1 */
    int32_t pitch;
} grid_note;

static int cmp_grid_note(const void *pa, const void *pb) {
    const grid_note *a = pa, *b = pb;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return (a->pitch > b->pitch) - (a->pitch < b->pitch);
}

typedef struct writer {
    dumu_text b;
    const dumu_musicxml_params *p;
    int sub;
    int64_t bar;          /* steps per bar */
    int64_t open_measure; /* number of the measure currently open, 0 before the first */
    double bpm;
} writer;

static void put_attributes(writer *w) {
    const dumu_musicxml_params *p = w->p;
    dumu_text_put(&w->b,
                  "      <attributes>\n"
                  "        <divisions>%d</divisions>\n"
                  "        <key><fifths>%d</fifths><mode>%s</mode></key>\n"
                  "        <time><beats>%d</beats><beat-type>4</beat-type></time>\n"
                  "        <clef><sign>F</sign><line>4</line></clef>\n"
                  "        <transpose><diatonic>0</diatonic><chromatic>0</chromatic>"
                  "<octave-change>-1</octave-change></transpose>\n"
                  "      </attributes>\n",
                  w->sub, (int)p->fifths, p->minor ? "minor" : "major", (int)p->beats_per_bar);
    dumu_text_put(&w->b,
                  "      <direction placement=\"above\">\n"
                  "        <direction-type><metronome><beat-unit>quarter</beat-unit>"
                  "<per-minute>%.0f</per-minute></metronome></direction-type>\n"
                  "        <sound tempo=\"%.3f\"/>\n"
                  "      </direction>\n",
                  w->bpm, w->bpm);
}

/* Opens the measure that starts at step `at` when `at` is a bar line not yet opened. */
static void measure_at(writer *w, int64_t at) {
    if (at % w->bar != 0 || at / w->bar + 1 == w->open_measure) return;
    if (w->open_measure > 0) dumu_text_put(&w->b, "    </measure>\n");
    w->open_measure = at / w->bar + 1;
    dumu_text_put(&w->b, "    <measure number=\"%lld\">\n", (long long)w->open_measure);
    if (w->open_measure == 1) put_attributes(w);
}

static void put_pitch(writer *w, int32_t sounding) {
    static const char steps_sharp[12] = {'C', 'C', 'D', 'D', 'E', 'F',
                                         'F', 'G', 'G', 'A', 'A', 'B'};
    static const int alter_sharp[12] = {0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0};
    static const char steps_flat[12] = {'C', 'D', 'D', 'E', 'E', 'F', 'G', 'G', 'A', 'A', 'B', 'B'};
    static const int alter_flat[12] = {0, -1, 0, -1, 0, 0, -1, 0, -1, 0, -1, 0};
    const int32_t written = sounding + 12; /* bass guitar: written an octave up */
    const int pc = written % 12;
    const int flats = w->p->fifths < 0;
    const char step = flats ? steps_flat[pc] : steps_sharp[pc];
    const int alter = flats ? alter_flat[pc] : alter_sharp[pc];
    dumu_text_put(&w->b, "<pitch><step>%c</step>", step);
    if (alter) dumu_text_put(&w->b, "<alter>%d</alter>", alter);
    dumu_text_put(&w->b, "<octave>%d</octave></pitch>", (int)(written / 12 - 1));
}

/* Writes the span [a, b) of one event, pitches (n >= 1; a chord when n > 1) or a rest (n == 0),
 * as pieces split at bar lines and into notatable values; the pieces of a note are tied. */
static void put_span(writer *w, int64_t a, int64_t b, const int32_t *pitches, int n) {
    const int64_t first = a;
    while (a < b) {
        measure_at(w, a);
        const int64_t bar_end = (a / w->bar + 1) * w->bar;
        const int64_t seg_end = b < bar_end ? b : bar_end;
        if (n == 0 && a % w->bar == 0 && seg_end - a == w->bar) {
            dumu_text_put(&w->b,
                          "      <note><rest measure=\"yes\"/><duration>%lld</duration>"
                          "<voice>1</voice></note>\n",
                          (long long)w->bar);
            a = seg_end;
            continue;
        }
        const value *v = next_value(a, seg_end, w->sub);
        const int64_t len = value_steps(v, w->sub);
        const int tie_stop = n > 0 && a > first, tie_start = n > 0 && a + len < b;
        const int tup_start = v->triplet && a % 3 == 0, tup_stop = v->triplet && (a + len) % 3 == 0;
        for (int k = 0; k < (n ? n : 1); k++) {
            dumu_text_put(&w->b, "      <note>");
            if (k > 0) dumu_text_put(&w->b, "<chord/>");
            if (n) {
                put_pitch(w, pitches[k]);
            } else {
                dumu_text_put(&w->b, "<rest/>");
            }
            dumu_text_put(&w->b, "<duration>%lld</duration>", (long long)len);
            if (tie_stop) dumu_text_put(&w->b, "<tie type=\"stop\"/>");
            if (tie_start) dumu_text_put(&w->b, "<tie type=\"start\"/>");
            dumu_text_put(&w->b, "<voice>1</voice><type>%s</type>", v->type);
            if (v->dots) dumu_text_put(&w->b, "<dot/>");
            if (v->triplet) {
                dumu_text_put(&w->b, "<time-modification><actual-notes>3</actual-notes>"
                                     "<normal-notes>2</normal-notes></time-modification>");
            }
            const int tuplet_marks = k == 0 && (tup_start || tup_stop);
            if (tie_stop || tie_start || tuplet_marks) {
                dumu_text_put(&w->b, "<notations>");
                if (tie_stop) dumu_text_put(&w->b, "<tied type=\"stop\"/>");
                if (tie_start) dumu_text_put(&w->b, "<tied type=\"start\"/>");
                if (k == 0 && tup_start) dumu_text_put(&w->b, "<tuplet type=\"start\"/>");
                if (k == 0 && tup_stop) dumu_text_put(&w->b, "<tuplet type=\"stop\"/>");
                dumu_text_put(&w->b, "</notations>");
            }
            dumu_text_put(&w->b, "</note>\n");
        }
        a += len;
    }
}

static dumu_status check_params(const dumu_musicxml_params *p, dumu_error *err) {
    const int s = p->subdivisions;
    const int sub_ok =
        s == 1 || s == 2 || s == 3 || s == 4 || s == 6 || s == 8 || s == 12 || s == 16;
    if (!dumu_beats_valid(p->beats, p->n_beats) || p->beats_per_bar < 2 || p->beats_per_bar > 7 ||
        p->first_downbeat < 0 || !sub_ok || p->fifths < -7 || p->fifths > 7 || !(p->bpm < 1000.0) ||
        isnan(p->bpm)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG,
                         "musicxml: needs >= 2 ascending beats, 2..7 beats per bar, a downbeat "
                         ">= 0, subdivisions 1 2 3 4 6 8 12 or 16, fifths -7..7 and bpm < 1000");
    }
    return DUMU_OK;
}

dumu_status dumu_musicxml_encode(const dumu_note *notes, int64_t n_notes,
                                 const dumu_musicxml_params *params, char **out, size_t *size,
                                 dumu_error *err) {
    DUMU_ASSERT(params && out && size);
    *out = NULL;
    *size = 0;
    const dumu_musicxml_params *p = params;
    dumu_status rc = check_params(p, err);
    if (rc) return rc;
    if (n_notes < 0 || (n_notes > 0 && !notes)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "musicxml: bad note list (%lld at %p)",
                         (long long)n_notes, (const void *)notes);
    }
    for (int64_t i = 0; i < n_notes; i++) {
        const dumu_note *n = &notes[i];
        if (!isfinite(n->start_s) || !isfinite(n->end_s) || n->pitch < 0 || n->pitch > 115 ||
            fabs(dumu_beat_position(p->beats, p->n_beats, n->start_s)) > DUMU_BEAT_POS_LIMIT ||
            fabs(dumu_beat_position(p->beats, p->n_beats, n->end_s)) > DUMU_BEAT_POS_LIMIT) {
            return dumu_fail(err, DUMU_E_INVALID_ARG,
                             "musicxml: note %lld has a time that is not finite or too far from "
                             "the beats, or a pitch outside 0..115",
                             (long long)i);
        }
    }
    writer w;
    memset(&w, 0, sizeof w);
    w.p = p;
    w.sub = p->subdivisions;
    w.bar = (int64_t)p->beats_per_bar * w.sub;
    w.bpm = p->bpm > 0 ? p->bpm
                       : 60.0 * (double)(p->n_beats - 1) / (p->beats[p->n_beats - 1] - p->beats[0]);

    /* Grid positions; measure 1 starts at beat `origin`. */
    grid_note *g = dumu_malloc((size_t)(n_notes ? n_notes : 1) * sizeof *g);
    if (!g) return dumu_fail(err, DUMU_E_NOMEM, "musicxml: out of memory");
    double first_pos = INFINITY;
    for (int64_t i = 0; i < n_notes; i++)
        first_pos = fmin(first_pos, dumu_beat_position(p->beats, p->n_beats, notes[i].start_s));
    int64_t origin = p->first_downbeat;
    if (isfinite(first_pos) && first_pos < (double)origin) {
        origin -= p->beats_per_bar *
                  (int64_t)ceil(((double)origin - first_pos) / p->beats_per_bar - 1e-9);
    }
    for (int64_t i = 0; i < n_notes; i++) {
        const double u0 = dumu_beat_position(p->beats, p->n_beats, notes[i].start_s);
        const double u1 = dumu_beat_position(p->beats, p->n_beats, notes[i].end_s);
        g[i].start = llround((u0 - (double)origin) * w.sub);
        g[i].end = llround((u1 - (double)origin) * w.sub);
        if (g[i].start < 0) g[i].start = 0;
        if (g[i].end < g[i].start + 1) g[i].end = g[i].start + 1;
        g[i].pitch = notes[i].pitch;
    }
    qsort(g, (size_t)n_notes, sizeof *g, cmp_grid_note);

    dumu_text_put(&w.b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
                        "<score-partwise version=\"3.1\">\n  <work><work-title>");
    put_escaped(&w.b, p->title ? p->title : "Bass");
    dumu_text_put(&w.b, "</work-title></work>\n"
                        "  <identification><encoding><software>Dumu " DUMU_VERSION
                        "</software></encoding></identification>\n"
                        "  <part-list>\n"
                        "    <score-part id=\"P1\">\n"
                        "      <part-name>Bass</part-name>\n"
                        "      <score-instrument id=\"P1-I1\"><instrument-name>Electric Bass"
                        "</instrument-name></score-instrument>\n"
                        "      <midi-instrument id=\"P1-I1\"><midi-channel>1</midi-channel>"
                        "<midi-program>34</midi-program></midi-instrument>\n"
                        "    </score-part>\n"
                        "  </part-list>\n"
                        "  <part id=\"P1\">\n");
    int64_t cursor = 0;
    int32_t chord[16];
    for (int64_t i = 0; i < n_notes;) {
        /* One event: the notes starting on g[i].start (distinct pitches, up to 16). */
        int64_t j = i, end = g[i].end;
        int n = 0;
        for (; j < n_notes && g[j].start == g[i].start; j++) {
            end = g[j].end > end ? g[j].end : end;
            if ((n == 0 || chord[n - 1] != g[j].pitch) && n < 16) chord[n++] = g[j].pitch;
        }
        if (j < n_notes && end > g[j].start) end = g[j].start;
        if (g[i].start > cursor) put_span(&w, cursor, g[i].start, NULL, 0);
        put_span(&w, g[i].start, end, chord, n);
        cursor = end;
        i = j;
    }
    const int64_t total = cursor > 0 ? (cursor + w.bar - 1) / w.bar * w.bar : w.bar;
    if (cursor < total) put_span(&w, cursor, total, NULL, 0);
    dumu_text_put(&w.b, "    </measure>\n  </part>\n</score-partwise>\n");
    dumu_free(g);
    if (w.b.failed) {
        dumu_free(w.b.s);
        return dumu_fail(err, DUMU_E_NOMEM, "musicxml: out of memory");
    }
    *out = w.b.s;
    *size = w.b.len;
    return DUMU_OK;
}

dumu_status dumu_musicxml_write_file(const char *path, const dumu_note *notes, int64_t n_notes,
                                     const dumu_musicxml_params *params, dumu_error *err) {
    char *text = NULL;
    size_t size = 0;
    dumu_status rc = dumu_musicxml_encode(notes, n_notes, params, &text, &size, err);
    if (rc) return rc;
    FILE *f = fopen(path, "wb");
    if (!f) {
        rc = dumu_fail(err, DUMU_E_IO, "cannot create %s: %s", path, strerror(errno));
    } else {
        const int bad_write = fwrite(text, 1, size, f) != size;
        const int e = errno;
        if (fclose(f) != 0 || bad_write) {
            rc = dumu_fail(err, DUMU_E_IO, "cannot write %s: %s", path, strerror(e ? e : errno));
        }
    }
    dumu_free(text);
    return rc;
}
