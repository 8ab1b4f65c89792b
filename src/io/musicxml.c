/* musicxml.c - MusicXML 3.1 partwise writer for a bass part (notation choices in musicxml.h).
 *
 * PIPELINE
 *     notes (seconds) --layout (src/music/layout.c)--> (start, end, pitch) in divisions from
 *     tick 0, snapped to the layout's grid, sorted --> events: runs of equal start are chords,
 *     each cut at the next event's start --> a walk over the timeline from tick 0 that writes
 *     rests for gaps, opens a <measure> at every bar line of the layout (the pickup, if any,
 *     as an implicit measure 0), splits spans at bar lines and decomposes each piece into
 *     notatable values.
 *
 * DURATIONS
 *     <divisions> (per quarter) = subdivisions, so one grid step is one division, unless the
 *     pickup or the bar is not a whole number of steps (a 3/16 pickup on an eighth grid): then
 *     a step is 2, 4 or 8 divisions. Values are measured in 1/48 of a quarter, which holds
 *     plain (whole 192 ... 64th 3), dotted (x 3/2) and triplet (x 2/3) values exactly; a
 *     value is usable when its length is a whole number of divisions. A piece takes the
 *     longest usable value that fits (greedy). On triplet grids (3, 6, 12 steps per quarter)
 *     the timeline is cut into groups of 3 steps counted from bar 1's downbeat (one plain
 *     value of 3 steps: a quarter, eighth or 16th): plain values must start on a group
 *     boundary and fill whole groups; what is left inside a group is written as triplet values
 *     (1 or 2 steps, <time-modification> 3:2 with one <tuplet> start/stop around the group's
 *     pieces), so every tuplet is complete; so is a pickup's partial first group, together
 *     with the rest before its first step. Ties (<tie> and <tied>) join the pieces of one
 *     note.
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
#include "music/layout.h"
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

/* Length of value v in divisions (div per quarter, a divisor of 48), or 0 when it is not a
 * whole number of divisions. */
static int64_t value_len(const value *v, int64_t div) {
    return (v->units * div) % 48 ? 0 : (int64_t)(v->units * div / 48);
}

/* ---------------------------------------------------------------------------------------- */
/* The writer */

typedef struct grid_note {
    int64_t start, end; /* divisions from tick 0 */
    int32_t pitch;
} grid_note;

static int cmp_grid_note(const void *pa, const void *pb) {
    const grid_note *a = pa, *b = pb;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return (a->pitch > b->pitch) - (a->pitch < b->pitch);
}

/* Positions are in divisions from tick 0; the layout's measures in those units are exact
 * integers: the pickup (0 for none) and then bars of `bar` divisions. */
typedef struct writer {
    dumu_text b;
    const dumu_musicxml_params *p;
    const dumu_layout *lay;
    int64_t div;          /* divisions per quarter */
    int64_t step;         /* divisions per grid step */
    int64_t pickup, bar;  /* divisions */
    int64_t open_measure; /* index (layout.h: 0 at tick 0) of the measure open, -1 before */
    int in_tuplet;        /* a tuplet bracket is open */
    double bpm;
} writer;

/* The measure holding position a >= 0, and its start and end. */
static int64_t measure_of(const writer *w, int64_t a, int64_t *start, int64_t *end) {
    if (a < w->pickup) {
        *start = 0;
        *end = w->pickup;
        return 0;
    }
    const int64_t k = (a - w->pickup) / w->bar;
    *start = w->pickup + k * w->bar;
    *end = *start + w->bar;
    return k + (w->pickup > 0);
}

static void put_time(writer *w, int64_t m) {
    int32_t num, den;
    dumu_layout_time_signature(w->lay, m, &num, &den);
    dumu_text_put(&w->b, "        <time><beats>%d</beats><beat-type>%d</beat-type></time>\n",
                  (int)num, (int)den);
}

static void put_attributes(writer *w) {
    const dumu_musicxml_params *p = w->p;
    dumu_text_put(&w->b,
                  "      <attributes>\n"
                  "        <divisions>%lld</divisions>\n"
                  "        <key><fifths>%d</fifths><mode>%s</mode></key>\n",
                  (long long)w->div, (int)p->fifths, p->minor ? "minor" : "major");
    put_time(w, 0);
    dumu_text_put(&w->b, "        <clef><sign>F</sign><line>4</line></clef>\n"
                         "        <transpose><diatonic>0</diatonic><chromatic>0</chromatic>"
                         "<octave-change>-1</octave-change></transpose>\n"
                         "      </attributes>\n");
    /* The mark counts beats (dotted quarters when compound); <sound tempo> is always in
     * quarter notes per minute. */
    dumu_text_put(&w->b,
                  "      <direction placement=\"above\">\n"
                  "        <direction-type><metronome><beat-unit>quarter</beat-unit>%s"
                  "<per-minute>%.0f</per-minute></metronome></direction-type>\n"
                  "        <sound tempo=\"%.3f\"/>\n"
                  "      </direction>\n",
                  w->lay->compound ? "<beat-unit-dot/>" : "", w->bpm, w->bpm * w->lay->beat_q);
}

/* Opens the measure that starts at `at` when `at` is a bar line not yet opened. */
static void measure_at(writer *w, int64_t at) {
    int64_t start, end;
    const int64_t m = measure_of(w, at, &start, &end);
    if (at != start || m == w->open_measure) return;
    if (w->open_measure >= 0) dumu_text_put(&w->b, "    </measure>\n");
    w->open_measure = m;
    const int pickup = w->pickup > 0 && m == 0;
    dumu_text_put(&w->b, "    <measure number=\"%lld\"%s>\n",
                  (long long)(w->pickup > 0 ? m : m + 1), pickup ? " implicit=\"yes\"" : "");
    if (m == 0) {
        put_attributes(w);
    } else if (m == 1 && w->pickup > 0) {
        dumu_text_put(&w->b, "      <attributes>\n");
        put_time(w, 1);
        dumu_text_put(&w->b, "      </attributes>\n");
    }
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

/* a modulo m, in 0..m-1, for any sign of a. */
static int64_t mod(int64_t a, int64_t m) {
    return ((a % m) + m) % m;
}

/* The value of the next piece of a span from a to b (a < b, one measure). Grid steps and, on
 * triplet grids (3, 6, 12 steps per quarter), groups of 3 steps (one plain value: a quarter,
 * eighth or 16th) count from bar 1's downbeat, so they line up with the beats in the pickup
 * too. Plain values start on a group boundary and fill whole groups; inside a group, or with
 * less than a group left, the piece is a triplet value (1 or 2 steps) up to the group's end
 * (or b), and *bracket is set: the group's pieces form one tuplet. Off the grid (only the
 * rest between tick 0 and the pickup's first step, or at a bar line that is not a whole
 * number of steps) the longest value of any kind that fits is taken; a triplet value there
 * joins the tuplet of the group it leads into (a 1/8 pickup on the eighth-triplet grid: a
 * triplet-16th rest and a triplet eighth, one bracket of 16th triplets). */
static const value *next_value(const writer *w, int64_t a, int64_t b, int *bracket) {
    const int triplet_grid = w->p->subdivisions % 3 == 0;
    const int64_t room = b - a, group = 3 * w->step, rel = a - w->pickup;
    *bracket = 0;
    if (mod(rel, w->step) == 0) {
        if (triplet_grid && (mod(rel, group) != 0 || room < group)) {
            const int64_t group_end = a + group - mod(rel, group);
            const int64_t len = (b < group_end ? b : group_end) - a;
            for (int k = 0; k < N_VALUES; k++) {
                if (k_values[k].triplet && value_len(&k_values[k], w->div) == len) {
                    *bracket = 1;
                    return &k_values[k];
                }
            }
        } else {
            for (int k = 0; k < N_VALUES; k++) {
                const value *v = &k_values[k];
                const int64_t len = value_len(v, w->div);
                if (len == 0 || len > room || v->triplet || (triplet_grid && len % group != 0))
                    continue;
                return v;
            }
        }
    }
    /* Off the grid: the longest value that fits. One division always does (div divides 24). */
    for (int k = 0; k < N_VALUES; k++) {
        const int64_t len = value_len(&k_values[k], w->div);
        if (len > 0 && len <= room) {
            *bracket = k_values[k].triplet;
            return &k_values[k];
        }
    }
    DUMU_ASSERT(0 && "no value fits");
    return NULL;
}

/* Writes the span [a, b) of one event, pitches (n >= 1; a chord when n > 1) or a rest (n == 0),
 * as pieces split at bar lines and into notatable values; the pieces of a note are tied. */
static void put_span(writer *w, int64_t a, int64_t b, const int32_t *pitches, int n) {
    const int64_t first = a, group = 3 * w->step;
    while (a < b) {
        measure_at(w, a);
        int64_t m_start, m_end;
        (void)measure_of(w, a, &m_start, &m_end);
        const int64_t seg_end = b < m_end ? b : m_end;
        if (n == 0 && a == m_start && seg_end == m_end) {
            dumu_text_put(&w->b,
                          "      <note><rest measure=\"yes\"/><duration>%lld</duration>"
                          "<voice>1</voice></note>\n",
                          (long long)(m_end - m_start));
            a = seg_end;
            continue;
        }
        int bracket;
        const value *v = next_value(w, a, seg_end, &bracket);
        const int64_t len = value_len(v, w->div);
        const int tie_stop = n > 0 && a > first, tie_start = n > 0 && a + len < b;
        /* A tuplet opens on the first bracketed piece of a group and closes on the piece
         * that ends the group, so every bracket is complete. */
        const int t_start = bracket && !w->in_tuplet;
        const int t_stop = bracket && mod(a + len - w->pickup, group) == 0;
        if (t_start) w->in_tuplet = 1;
        if (t_stop) w->in_tuplet = 0;
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
            const int tuplet_marks = k == 0 && (t_start || t_stop);
            if (tie_stop || tie_start || tuplet_marks) {
                dumu_text_put(&w->b, "<notations>");
                if (tie_stop) dumu_text_put(&w->b, "<tied type=\"stop\"/>");
                if (tie_start) dumu_text_put(&w->b, "<tied type=\"start\"/>");
                if (k == 0 && t_start) dumu_text_put(&w->b, "<tuplet type=\"start\"/>");
                if (k == 0 && t_stop) dumu_text_put(&w->b, "<tuplet type=\"stop\"/>");
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
    if (!sub_ok || p->fifths < -7 || p->fifths > 7 || !(p->bpm < 1000.0) || isnan(p->bpm)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG,
                         "musicxml: needs subdivisions 1 2 3 4 6 8 12 or 16, fifths -7..7 and "
                         "bpm < 1000");
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
    dumu_layout lay;
    dumu_status rc = dumu_layout_init(&lay, p->beats, p->n_beats, p->first_downbeat,
                                      p->beats_per_bar, p->compound, err);
    if (rc) return rc;
    rc = check_params(p, err);
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
    const int32_t sub = p->subdivisions;
    writer w;
    memset(&w, 0, sizeof w);
    w.p = p;
    w.lay = &lay;
    /* Divisions: the grid's, times the least power of 2 that makes the pickup (a multiple of
     * 1/8 quarter) and the bar (of 1/2) whole; at most 8, so div divides 24. */
    w.step = 1;
    while (fmod(lay.pickup_q * sub * (double)w.step, 1.0) != 0.0 ||
           fmod(lay.bar_q * sub * (double)w.step, 1.0) != 0.0)
        w.step *= 2;
    w.div = sub * w.step;
    DUMU_ASSERT(w.step <= 8 && 48 % w.div == 0);
    w.pickup = llround(lay.pickup_q * (double)w.div);
    w.bar = llround(lay.bar_q * (double)w.div);
    w.open_measure = -1;
    w.bpm = p->bpm > 0 ? p->bpm
                       : 60.0 * (double)(p->n_beats - 1) / (p->beats[p->n_beats - 1] - p->beats[0]);

    /* Onsets and offsets on the layout's grid (exact multiples of a step, in divisions). */
    grid_note *g = dumu_malloc((size_t)(n_notes ? n_notes : 1) * sizeof *g);
    if (!g) return dumu_fail(err, DUMU_E_NOMEM, "musicxml: out of memory");
    for (int64_t i = 0; i < n_notes; i++) {
        const double q0 = dumu_layout_snap(&lay, dumu_layout_quarters(&lay, notes[i].start_s), sub);
        const double q1 = dumu_layout_snap(&lay, dumu_layout_quarters(&lay, notes[i].end_s), sub);
        g[i].start = llround(q0 * (double)w.div);
        g[i].end = llround(q1 * (double)w.div);
        if (g[i].end < g[i].start + w.step) g[i].end = g[i].start + w.step;
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
    /* The score runs to the end of the measure of the last note, and through bar 1 at least. */
    int64_t m_start, total;
    (void)measure_of(&w, cursor > 0 ? cursor - 1 : 0, &m_start, &total);
    if (total <= w.pickup) total = w.pickup + w.bar;
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
