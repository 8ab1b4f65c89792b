/* midi.c - Standard MIDI File (SMF 1.0) writer: dumu notes -> a format-1 .mid file.
 *
 * FILE LAYOUT
 *     MThd  format 1, 2 tracks, division = ppq ticks per quarter note
 *     MTrk  track 0, the conductor: track name "Dumu", set_tempo, time_signature (of the
 *           pickup or of the bar), key_signature (when asked), then in tick order set_tempo
 *           where the tempo changes and the bar's time_signature where a pickup ends,
 *           end_of_track
 *     MTrk  track 1: track name (params.track_name), program change, then the notes and
 *           pitch bends on params.channel, end_of_track at the last event's tick
 *
 * DECISIONS (each one tested in tests/unit/test_midi.c)
 *     - Tempo: us per quarter = round(60e6 / bpm) clamped to [1, 0xFFFFFF]; bpm <= 0 or not
 *       finite means 120.
 *     - Seconds -> ticks without beats: tick = round(t * ppq / (us_per_quarter * 1e-6)),
 *       rounding half away from zero. This is round(t * bpm/60 * ppq) with the bpm the file
 *       actually carries (60e6 / us_per_quarter, which differs from the requested bpm by
 *       < 0.5 us per quarter), so a reader that follows the tempo event plays every note at
 *       its time to within half a tick, however long the piece.
 *     - Bar layout: every position comes from src/music/layout.c, which the MusicXML and tab
 *       writers and the quantiser share, so the file's bars are theirs. With params.n_beats
 *       >= 2 that is the beats' layout, else one of steady beats at the tempo above from time
 *       0 (one tempo event, no pickup). Ticks are round(quarters * ppq) from the layout.
 *     - Beat-following tempo map: each beat is a quarter note (a dotted quarter when
 *       params.compound), and its tempo is its length in us per quarter; an event is written
 *       only where that changes, i.e. where a beat's exact value is more than 0.5 us (+ 1 ns
 *       of float noise) from the tempo in force, so equal beat intervals give one event and
 *       every written beat is within 0.5 us of its exact length. After the last beat the last
 *       interval's tempo goes on. Every note plays at its time to within half a tick for a
 *       reader that follows the tempo events.
 *     - Pickup rule (layout.c argues it): bar 1 starts on the first bar line at or after time 0
 *       (D, bar lines every beats_per_bar beats through first_downbeat, extrapolated before
 *       the first beat at the first interval; first_downbeat may be any beat >= 0). The
 *       lead-in of x beats before it is written as a pickup of L = x rounded to 32nd notes
 *       (x < 1 beat) or 16ths (x >= 1), none when L is 0 or a whole bar. The lead-in and bar
 *       1's first m beats (x + m beats; the whole bar when x < 1, else m = 1) are written as
 *       L + m beats, each beat scaled alike, so the rounding is shared by at least one whole
 *       beat. Bounds, with e = |x - L| <= 1/16 beat (x < 1) or 1/8 (x >= 1, and then L >= 1):
 *       every tempo event there is off its beat's tempo by at most e / (m + min(x, L))
 *       (<= 1.6 % in 4/4 when x < 1, <= 6.25 % always), and bar 1's downbeat is off the
 *       detected one by at most 1/16 beat.
 *       Examples at 120 BPM in 4/4, the first beat on a downbeat at b0: b0 = 0: no pickup, one
 *       tempo; b0 = 23 ms: no pickup, bar 1 at tick 0, its four beats at 118.6 BPM (1.1 %
 *       slow, the written downbeat 23 ms early); b0 = 250 ms: a 1/8 pickup, exact, one
 *       tempo; the downbeat at 1.9 bars
 *       (3.8 s, beats from 0.3 s): a 7/8 pickup (x = 3.6 -> 3.5 beats), a whole 4/4 bar, then
 *       the bar on the given downbeat.
 *     - Time signatures: the pickup's length in the finest unit it needs, reduced (1/8,
 *       3/16, 5/32, 2/4, 7/8; eighths at least when compound) at tick 0, then
 *       beats_per_bar/4, or (3*beats_per_bar)/8 with 36 clocks per click when compound, at
 *       the end of the pickup. With beats, ppq must be a multiple of 8 so that the pickup (a
 *       whole number of 32nds) ends on a whole tick.
 *     - Times: NaN or infinite start/end -> DUMU_E_INVALID_ARG. Negative times are clamped to
 *       0 (the reference's frame-to-time rule can dip a hair below 0). A tick past
 *       DUMU_MIDI_MAX_TICK (every delta must fit a 4-byte VLQ) -> DUMU_E_INVALID_ARG.
 *     - A note whose end tick is <= its start tick (zero length, or end before start) lasts
 *       1 tick.
 *     - Velocity: amplitude clamped to [0, 1] and mapped linearly onto
 *       [min_velocity, 127], rounded half away from zero (0.5 with min 1 -> 64). A NaN
 *       amplitude -> DUMU_E_INVALID_ARG. Pitch outside 0..127 -> DUMU_E_INVALID_ARG.
 *     - Note-off is the 0x80 message with release velocity 0 (not a note-on with velocity 0),
 *       so a reader never has to guess.
 *     - No running status: every channel message carries its status byte. Files are a few
 *       percent larger, and naive readers have one thing less to get wrong.
 *     - Order: notes sorted by (start tick, pitch); at equal ticks note-offs come first, then
 *       pitch bends, then note-ons, so a repeated note retriggers and a note starts with its
 *       bend already set.
 *     - Same pitch, overlapping: the earlier note ends where the later one starts, so its
 *       note-off never cuts the later note short. Two notes of one pitch starting on the
 *       same tick become one note: the longer end and the larger velocity (bends: the
 *       longer note's).
 *     - Pitch bends (params.pitch_bends): note bend i sits at start_s + i*256/22050 s; the
 *       14-bit value is 8192 + round(b/3 / bend_range_semitones * 8192), clamped to
 *       [0, 16383]; an event is written only when the channel's value changes (if several
 *       fall on one tick, the last wins); bends at or after the note's end tick are dropped
 *       and the channel goes back to 8192 at the note's end. Pitch bend is per channel, so it
 *       only makes sense for one sounding note: a note that overlaps any other note (after
 *       the same-pitch trimming above) gets no bends, and neither does the note it overlaps.
 *       Bends are only read when params.pitch_bends is set (then n_bends < 0, or n_bends > 0
 *       with bends == NULL, is DUMU_E_INVALID_ARG).
 *     - params == NULL means dumu_midi_default_params(); track_name == NULL means "Bass".
 *       ppq must be 1..32767 (the SMF division field), program 0..127, channel 0..15,
 *       min_velocity 1..127 (a note-on with velocity 0 would be a note-off), and with
 *       pitch_bends a finite bend_range_semitones > 0; otherwise DUMU_E_INVALID_ARG.
 *
 * MEMORY
 *     Three allocations: the sorted note table, the event table and the output buffer, which
 *     grows by doubling and is handed to the caller (freed with dumu_free). Any failure frees
 *     everything and returns DUMU_E_NOMEM.
 *
 * REFERENCES
 *     MIDI Manufacturers Association, "Standard MIDI Files 1.0" (RP-001): chunks, VLQs, meta
 *     events FF 03 / FF 51 / FF 58 / FF 2F, running status; "MIDI 1.0 Detailed
 *     Specification": note-on/off, program change, pitch bend (LSB first, 14 bits).
 */
#include "midi.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "music/layout.h"

/* One model frame of the Basic Pitch output, in seconds: bend i of a note sits i frames after
 * its start. */
#define MODEL_FRAME_S (256.0 / (double)DUMU_BP_SAMPLE_RATE)

dumu_midi_params dumu_midi_default_params(void) {
    dumu_midi_params p = {
        .bpm = 120.0,
        .ppq = 480,
        .program = 33, /* General MIDI "Electric Bass (finger)", 0-based */
        .channel = 0,
        .track_name = "Bass",
        .pitch_bends = false,
        .bend_range_semitones = 2.0,
        .min_velocity = 1,
        .beats_per_bar = 4,
    };
    return p;
}

/* ---------------------------------------------------------------------------------------- */
/* Small conversions */

size_t dumu_midi_vlq(uint32_t value, uint8_t out[4]) {
    DUMU_ASSERT(value <= DUMU_MIDI_VLQ_MAX);
    uint8_t rev[4];
    size_t n = 0;
    do {
        rev[n++] = (uint8_t)(value & 0x7Fu);
        value >>= 7;
    } while (value);
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)(rev[n - 1 - i] | (i + 1 < n ? 0x80u : 0u));
    }
    return n;
}

uint32_t dumu_midi_tempo_us(double bpm) {
    if (!isfinite(bpm) || bpm <= 0.0) bpm = 120.0;
    double us = round(60e6 / bpm); /* may be +inf for a denormal bpm: clamped below */
    if (us < 1.0) us = 1.0;
    if (us > (double)DUMU_MIDI_MAX_TEMPO_US) us = (double)DUMU_MIDI_MAX_TEMPO_US;
    return (uint32_t)us;
}

int32_t dumu_midi_velocity(double amplitude, int32_t min_velocity) {
    DUMU_ASSERT(min_velocity >= 1 && min_velocity <= 127);
    DUMU_ASSERT(!isnan(amplitude));
    if (amplitude < 0.0) amplitude = 0.0;
    if (amplitude > 1.0) amplitude = 1.0;
    return (int32_t)round((double)min_velocity + amplitude * (double)(127 - min_velocity));
}

int32_t dumu_midi_bend_value(int32_t bend, double range_semitones) {
    DUMU_ASSERT(range_semitones > 0.0);
    /* Computed in double and clamped before the conversion: a huge bend over a tiny range
     * gives +-inf here, never an out-of-range cast. */
    double v = (double)DUMU_MIDI_BEND_CENTER +
               round((double)bend / 3.0 / range_semitones * (double)DUMU_MIDI_BEND_CENTER);
    if (v < 0.0) v = 0.0;
    if (v > 16383.0) v = 16383.0;
    return (int32_t)v;
}

/* Ticks for `t` seconds (finite; negative clamps to 0) on the layout: round(quarters * ppq),
 * half away from zero. Returns -1 when the tick would pass `max_tick`. */
static int seconds_to_tick(double t, const dumu_layout *lay, int32_t ppq, int64_t max_tick,
                           int64_t *tick) {
    if (t < 0.0) t = 0.0;
    double x = round(dumu_layout_quarters(lay, t) * (double)ppq);
    if (!(x <= (double)max_tick)) return -1;
    *tick = (int64_t)x;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Growing output buffer. A failed allocation sets `oom`; later appends do nothing, so the
 * writer checks once at the end. */

typedef struct bytebuf {
    uint8_t *data; /* (cap) bytes, the first len used; dumu_realloc'ed */
    size_t len, cap;
    bool oom;
} bytebuf;

static bool buf_reserve(bytebuf *b, size_t n) {
    if (b->oom) return false;
    if (n <= b->cap - b->len) return true;
    if (n > SIZE_MAX - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + n;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = dumu_realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

static void buf_put(bytebuf *b, const void *src, size_t n) {
    if (!buf_reserve(b, n)) return;
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

static void buf_u8(bytebuf *b, uint8_t v) {
    buf_put(b, &v, 1);
}

static void buf_be(bytebuf *b, uint32_t v, int n_bytes) {
    for (int i = n_bytes - 1; i >= 0; i--)
        buf_u8(b, (uint8_t)(v >> (8 * i)));
}

static void buf_vlq(bytebuf *b, uint32_t v) {
    uint8_t tmp[4];
    buf_put(b, tmp, dumu_midi_vlq(v, tmp));
}

/* Opens an MTrk chunk with a placeholder length; returns where the chunk starts. */
static size_t track_begin(bytebuf *b) {
    size_t at = b->len;
    buf_put(b, "MTrk", 4);
    buf_be(b, 0, 4);
    return at;
}

/* Writes end_of_track (delta 0) and patches the chunk length. Returns -1 if the track is
 * over the 32-bit chunk length. */
static int track_end(bytebuf *b, size_t at) {
    static const uint8_t eot[] = {0x00, 0xFF, 0x2F, 0x00};
    buf_put(b, eot, sizeof eot);
    if (b->oom) return 0;
    size_t n = b->len - at - 8;
    if (n > UINT32_MAX) return -1;
    for (int i = 0; i < 4; i++)
        b->data[at + 4 + (size_t)i] = (uint8_t)(n >> (8 * (3 - i)));
    return 0;
}

/* A meta event with text (track name) at delta 0. */
static void put_meta_text(bytebuf *b, uint8_t type, const char *text, size_t n) {
    buf_u8(b, 0x00);
    buf_u8(b, 0xFF);
    buf_u8(b, type);
    buf_vlq(b, (uint32_t)n);
    buf_put(b, text, n);
}

/* ---------------------------------------------------------------------------------------- */
/* Notes and events */

typedef struct mnote {
    int64_t start, end; /* ticks, end > start once trimmed */
    int64_t index;      /* position in the caller's array */
    int32_t pitch;
    int32_t velocity;
    bool dropped; /* merged into an earlier note of the same pitch and start */
    bool poly;    /* overlaps another note: no bends */
} mnote;

static int cmp_mnote(const void *pa, const void *pb) {
    const mnote *a = pa, *b = pb;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    if (a->pitch != b->pitch) return a->pitch < b->pitch ? -1 : 1;
    if (a->end != b->end) return a->end > b->end ? -1 : 1; /* longer first */
    if (a->index != b->index) return a->index < b->index ? -1 : 1;
    return 0;
}

enum { PRIO_OFF = 0, PRIO_BEND = 1, PRIO_ON = 2 }; /* order of events on one tick */

typedef struct mevent {
    int64_t tick;
    int64_t seq; /* generation order, the last tie-break (qsort is not stable) */
    uint8_t prio;
    uint8_t msg[3];
} mevent;

static int cmp_mevent(const void *pa, const void *pb) {
    const mevent *a = pa, *b = pb;
    if (a->tick != b->tick) return a->tick < b->tick ? -1 : 1;
    if (a->prio != b->prio) return a->prio < b->prio ? -1 : 1;
    if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
    return 0;
}

static void push_event(mevent *ev, size_t *n, int64_t tick, uint8_t prio, uint8_t s, uint8_t d1,
                       uint8_t d2) {
    ev[*n] = (mevent){.tick = tick, .seq = (int64_t)*n, .prio = prio, .msg = {s, d1, d2}};
    (*n)++;
}

/* Bend candidates arrive in nondecreasing tick order. One pending (tick, value) is held back
 * until the tick moves on, so the last value of a tick wins, and it becomes an event only if
 * it changes the channel's value. */
typedef struct bend_state {
    int64_t pend_tick;
    int32_t pend_value;
    bool pending;
    int32_t value; /* the channel's current value */
    uint8_t status;
} bend_state;

static void bend_flush(bend_state *s, mevent *ev, size_t *n) {
    if (!s->pending) return;
    s->pending = false;
    if (s->pend_value == s->value) return;
    s->value = s->pend_value;
    push_event(ev, n, s->pend_tick, PRIO_BEND, s->status, (uint8_t)(s->value & 0x7F),
               (uint8_t)(s->value >> 7));
}

static void bend_add(bend_state *s, mevent *ev, size_t *n, int64_t tick, int32_t value) {
    DUMU_ASSERT(!s->pending || tick >= s->pend_tick);
    if (s->pending && tick != s->pend_tick) bend_flush(s, ev, n);
    s->pend_tick = tick;
    s->pend_value = value;
    s->pending = true;
}

static dumu_status check_params(const dumu_midi_params *p, dumu_error *err) {
    if (p->ppq < 1 || p->ppq > 0x7FFF) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: ppq %d is outside 1..32767", (int)p->ppq);
    }
    if (p->program < 0 || p->program > 127) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: program %d is outside 0..127",
                         (int)p->program);
    }
    if (p->channel < 0 || p->channel > 15) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: channel %d is outside 0..15",
                         (int)p->channel);
    }
    if (p->min_velocity < 1 || p->min_velocity > 127) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: min_velocity %d is outside 1..127",
                         (int)p->min_velocity);
    }
    if (p->beats_per_bar < 1 || p->beats_per_bar > 16) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: beats_per_bar %d is outside 1..16",
                         (int)p->beats_per_bar);
    }
    if (p->has_key && (p->key_fifths < -7 || p->key_fifths > 7)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: key_fifths %d is outside -7..7",
                         (int)p->key_fifths);
    }
    if (p->n_beats < 0 || (p->n_beats > 0 && !p->beats)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: %lld beats at %p", (long long)p->n_beats,
                         (const void *)p->beats);
    }
    if (p->n_beats >= 2 && p->ppq % 8 != 0) {
        return dumu_fail(err, DUMU_E_INVALID_ARG,
                         "midi: ppq %d with beats: must be a multiple of 8 (pickups are whole "
                         "32nd notes)",
                         (int)p->ppq);
    }
    if (p->pitch_bends &&
        (!isfinite(p->bend_range_semitones) || !(p->bend_range_semitones > 0.0))) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: bend_range_semitones %g must be > 0",
                         p->bend_range_semitones);
    }
    return DUMU_OK;
}

/* Validates note i and fills its tick range, pitch and velocity. */
static dumu_status make_note(const dumu_note *n, int64_t i, const dumu_midi_params *p,
                             const dumu_layout *lay, mnote *m, dumu_error *err) {
    if (n->pitch < 0 || n->pitch > 127) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: note %lld has pitch %d, outside 0..127",
                         (long long)i, (int)n->pitch);
    }
    if (!isfinite(n->start_s) || !isfinite(n->end_s)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: note %lld has a non-finite time",
                         (long long)i);
    }
    if (isnan(n->amplitude)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: note %lld has a NaN amplitude",
                         (long long)i);
    }
    if (p->pitch_bends && (n->n_bends < 0 || (n->n_bends > 0 && !n->bends))) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: note %lld has %d bends at %p",
                         (long long)i, (int)n->n_bends, (const void *)n->bends);
    }
    /* The end may grow by the 1-tick minimum, so starts stop one tick early. */
    if (seconds_to_tick(n->start_s, lay, p->ppq, DUMU_MIDI_MAX_TICK - 1, &m->start) ||
        seconds_to_tick(n->end_s, lay, p->ppq, DUMU_MIDI_MAX_TICK, &m->end)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG,
                         "midi: note %lld (%g..%g s) is past the last tick a MIDI file can hold "
                         "at this tempo",
                         (long long)i, n->start_s, n->end_s);
    }
    if (m->end <= m->start) m->end = m->start + 1;
    m->index = i;
    m->pitch = n->pitch;
    m->velocity = dumu_midi_velocity(n->amplitude, p->min_velocity);
    m->dropped = false;
    m->poly = false;
    return DUMU_OK;
}

/* Same-pitch merging and trimming, then the overlap marks for bends. `m` is sorted. */
static void resolve_overlaps(mnote *m, size_t n) {
    size_t last[128] = {0};
    bool seen[128] = {false};
    for (size_t j = 0; j < n; j++) {
        int32_t pitch = m[j].pitch;
        if (seen[pitch]) {
            mnote *k = &m[last[pitch]];
            if (k->start == m[j].start) {
                /* Same start: sorted longer first, so k already has the longer end. */
                if (m[j].velocity > k->velocity) k->velocity = m[j].velocity;
                m[j].dropped = true;
                continue;
            }
            if (k->end > m[j].start) k->end = m[j].start; /* still > k->start */
        }
        seen[pitch] = true;
        last[pitch] = j;
    }
    /* Sweep by start. A note that starts before the latest end so far overlaps the owner of
     * that end: both are marked. A note that does not becomes the owner (its end is then the
     * latest), so the next note overlaps it exactly when it starts before that end, and then
     * marks it. Hence every note that overlaps another is marked, and no other note is (the
     * tests hold this against a pairwise scan). */
    int64_t max_end = -1;
    size_t owner = 0;
    for (size_t j = 0; j < n; j++) {
        if (m[j].dropped) continue;
        if (m[j].start < max_end) {
            m[j].poly = true;
            m[owner].poly = true;
        }
        if (m[j].end > max_end) {
            max_end = m[j].end;
            owner = j;
        }
    }
}

/* A tempo keeps going while the exact us per quarter of each beat stays within half a
 * microsecond of it (the rounding the event can carry) give or take this much float noise in
 * the beat differences: equal intervals never make an extra event. */
#define TEMPO_SLACK_US 1e-3

/* us per quarter for an exact value, rounded and clamped to what a tempo event holds. */
static uint32_t tempo_us_of(double us) {
    us = round(us);
    return us < 1.0                              ? 1u
           : us > (double)DUMU_MIDI_MAX_TEMPO_US ? DUMU_MIDI_MAX_TEMPO_US
                                                 : (uint32_t)us;
}

/* time_signature num/den: 24 MIDI clocks per click (36, a dotted quarter, when compound), 8
 * 32nds per quarter. den is 4, 8, 16 or 32. */
static void put_timesig(bytebuf *b, uint32_t delta, int32_t num, int32_t den, bool compound) {
    uint8_t log2_den = 0;
    while ((1 << log2_den) < den)
        log2_den++;
    const uint8_t ts[] = {0xFF, 0x58, 0x04, (uint8_t)num, log2_den, compound ? 0x24 : 0x18, 0x08};
    buf_vlq(b, delta);
    buf_put(b, ts, sizeof ts);
}

static void put_tempo(bytebuf *b, uint32_t delta, uint32_t us) {
    static const uint8_t tempo[] = {0xFF, 0x51, 0x03}; /* then 3 bytes of us/quarter */
    buf_vlq(b, delta);
    buf_put(b, tempo, sizeof tempo);
    buf_be(b, us, 3);
}

/* The conductor track's timeline: tempo events at beat boundaries and the time signature of
 * bar 1 after a pickup, written in tick order. */
typedef struct conductor {
    bytebuf *b;
    const dumu_layout *lay;
    int32_t ppq;
    int64_t now;      /* tick of the last event written */
    uint32_t us;      /* tempo in force */
    int64_t bar1;     /* tick of bar 1's time signature, -1 once written or without a pickup */
    int32_t num, den; /* bar 1's time signature */
} conductor;

static void conductor_until(conductor *c, int64_t tick) {
    if (c->bar1 < 0 || c->bar1 > tick) return;
    put_timesig(c->b, (uint32_t)(c->bar1 - c->now), c->num, c->den, c->lay->compound);
    c->now = c->bar1;
    c->bar1 = -1;
}

/* Beat position j starts a beat interval: a tempo event there when its tempo differs. */
static void conductor_beat(conductor *c, int64_t j) {
    const int64_t tick = llround(dumu_layout_beat_quarters(c->lay, (double)j) * (double)c->ppq);
    conductor_until(c, tick);
    const double us = dumu_layout_quarter_s(c->lay, j) * 1e6;
    if (fabs(us - (double)c->us) <= 0.5 + TEMPO_SLACK_US) return;
    c->us = tempo_us_of(us);
    put_tempo(c->b, (uint32_t)(tick - c->now), c->us);
    c->now = tick;
}

dumu_status dumu_midi_encode(const dumu_note *notes, int64_t n_notes,
                             const dumu_midi_params *params, uint8_t **out, size_t *size,
                             dumu_error *err) {
    if (out) *out = NULL;
    if (size) *size = 0;
    if (!out || !size) return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: out and size are required");
    if (n_notes < 0) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: n_notes %lld < 0", (long long)n_notes);
    }
    if (n_notes > 0 && !notes) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: notes is NULL with n_notes %lld",
                         (long long)n_notes);
    }
    dumu_midi_params p = params ? *params : dumu_midi_default_params();
    const char *name = p.track_name ? p.track_name : "Bass";
    dumu_status rc = check_params(&p, err);
    if (rc) return rc;
    size_t name_len = strlen(name);
    if (name_len > DUMU_MIDI_VLQ_MAX) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: track name of %zu bytes", name_len);
    }

    /* The layout of the beats, or without them of a steady beat at the tempo the file carries
     * (60e6 / tempo_us, not the requested bpm): then there is one tempo and no pickup. */
    const uint32_t tempo_us = dumu_midi_tempo_us(p.bpm);
    const double steady[2] = {0.0, (double)tempo_us * 1e-6};
    const bool with_beats = p.n_beats >= 2;
    dumu_layout lay;
    rc = dumu_layout_init(&lay, with_beats ? p.beats : steady, with_beats ? p.n_beats : 2,
                          with_beats ? p.first_downbeat : 0, p.beats_per_bar, p.compound, err);
    if (rc) return rc;
    /* Every tempo event lies at or before the later of the last beat and beat D + m. */
    const double last_u = fmax((double)(lay.n_beats - 1), lay.downbeat + lay.span);
    if (!(dumu_layout_beat_quarters(&lay, last_u) * (double)p.ppq <= (double)DUMU_MIDI_MAX_TICK)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: the beats reach past the last tick");
    }
    const uint8_t ch = (uint8_t)p.channel;

    mnote *m = NULL;
    mevent *ev = NULL;
    bytebuf b = {0};
    size_t n = 0, n_ev = 0, cap_ev = 0, bytes;

    if ((uint64_t)n_notes > SIZE_MAX / sizeof *m) {
        return dumu_fail(err, DUMU_E_NOMEM, "midi: %lld notes", (long long)n_notes);
    }
    n = (size_t)n_notes;
    bytes = n * sizeof *m;
    /* Validate first (no allocation), so bad input is reported as such even under
     * allocation failure. */
    for (size_t i = 0; i < n; i++) {
        mnote tmp;
        rc = make_note(&notes[i], (int64_t)i, &p, &lay, &tmp, err);
        if (rc) goto done;
    }
    m = dumu_malloc(bytes);
    if (!m) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "midi: out of memory for %zu notes", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        (void)make_note(&notes[i], (int64_t)i, &p, &lay, &m[i], NULL);
    }
    if (n > 1) qsort(m, n, sizeof *m, cmp_mnote);
    resolve_overlaps(m, n);

    /* Event count: a note-on and a note-off per note, plus the bends of each note that may
     * bend. */
    cap_ev = 0;
    for (size_t j = 0; j < n; j++) {
        if (m[j].dropped) continue;
        size_t add = 2;
        if (p.pitch_bends && !m[j].poly) {
            /* At most one bend per tick of the note survives, plus the reset at its end, so
             * a huge n_bends on a short note cannot ask for a huge table. */
            uint64_t nb = (uint64_t)notes[m[j].index].n_bends,
                     ticks = (uint64_t)(m[j].end - m[j].start);
            add += (size_t)(nb < ticks ? nb : ticks) + 1;
        }
        if (add > SIZE_MAX - cap_ev) {
            rc = dumu_fail(err, DUMU_E_NOMEM, "midi: too many events");
            goto done;
        }
        cap_ev += add;
    }
    if (dumu_mul_size(cap_ev, sizeof *ev, &bytes)) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "midi: %zu events", cap_ev);
        goto done;
    }
    ev = dumu_malloc(bytes);
    if (!ev) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "midi: out of memory for %zu events", cap_ev);
        goto done;
    }

    bend_state bs = {.value = DUMU_MIDI_BEND_CENTER, .status = (uint8_t)(0xE0 | ch)};
    for (size_t j = 0; j < n; j++) {
        const mnote *q = &m[j];
        if (q->dropped) continue;
        push_event(ev, &n_ev, q->start, PRIO_ON, (uint8_t)(0x90 | ch), (uint8_t)q->pitch,
                   (uint8_t)q->velocity);
        push_event(ev, &n_ev, q->end, PRIO_OFF, (uint8_t)(0x80 | ch), (uint8_t)q->pitch, 0);
        if (!p.pitch_bends || q->poly || notes[q->index].n_bends == 0) continue;
        /* Monophonic notes do not overlap, so their bend ticks come in order. */
        const dumu_note *src = &notes[q->index];
        for (int32_t i = 0; i < src->n_bends; i++) {
            double t = src->start_s + (double)i * MODEL_FRAME_S;
            int64_t tick;
            if (seconds_to_tick(t, &lay, p.ppq, q->end - 1, &tick)) break;
            bend_add(&bs, ev, &n_ev, tick,
                     dumu_midi_bend_value(src->bends[i], p.bend_range_semitones));
        }
        bend_add(&bs, ev, &n_ev, q->end, DUMU_MIDI_BEND_CENTER);
    }
    bend_flush(&bs, ev, &n_ev);
    DUMU_ASSERT(n_ev <= cap_ev);
    if (n_ev > 1) qsort(ev, n_ev, sizeof *ev, cmp_mevent);

    /* Header chunk */
    buf_put(&b, "MThd", 4);
    buf_be(&b, 6, 4);
    buf_be(&b, 1, 2); /* format 1 */
    buf_be(&b, 2, 2); /* tracks */
    buf_be(&b, (uint32_t)p.ppq, 2);

    /* Track 0: conductor */
    size_t at = track_begin(&b);
    put_meta_text(&b, 0x03, "Dumu", 4);
    /* The first tempo, then the time and key signatures, all at tick 0 (see DECISIONS). */
    const int64_t j0 = (int64_t)floor(lay.p0); /* the beat interval holding tick 0 */
    conductor c = {.b = &b, .lay = &lay, .ppq = p.ppq, .bar1 = -1};
    c.us = tempo_us_of(dumu_layout_quarter_s(&lay, j0) * 1e6);
    put_tempo(&b, 0, c.us);
    int32_t num, den;
    dumu_layout_time_signature(&lay, 0, &num, &den);
    put_timesig(&b, 0, num, den, lay.compound);
    if (p.has_key) {
        const uint8_t key[] = {
            0x00, 0xFF, 0x59, 0x02, (uint8_t)(int8_t)p.key_fifths, (uint8_t)(p.key_minor ? 1 : 0)};
        buf_put(&b, key, sizeof key);
    }
    if (dumu_layout_has_pickup(&lay)) {
        c.bar1 = llround(lay.pickup_q * (double)p.ppq); /* whole: ppq is a multiple of 8 */
        dumu_layout_time_signature(&lay, 1, &c.num, &c.den);
    }
    /* The tempo can change where a beat interval of the beats starts (j = 0 .. n - 2; before
     * and after them the first and last intervals go on) and at beat D + m, where the lead-in's
     * scale ends. */
    const int64_t anchor = (int64_t)(lay.downbeat + lay.span), lo = j0 + 1 > 0 ? j0 + 1 : 0,
                  hi = lay.n_beats - 2;
    if (anchor < lo) conductor_beat(&c, anchor);
    for (int64_t j = lo; j <= hi; j++)
        conductor_beat(&c, j);
    if (anchor > hi && anchor >= lo) conductor_beat(&c, anchor);
    conductor_until(&c, INT64_MAX);
    if (track_end(&b, at)) goto too_big;

    /* Track 1: the bass */
    at = track_begin(&b);
    put_meta_text(&b, 0x03, name, name_len);
    const uint8_t prog[] = {0x00, (uint8_t)(0xC0 | ch), (uint8_t)p.program};
    buf_put(&b, prog, sizeof prog);
    int64_t now = 0;
    for (size_t e = 0; e < n_ev; e++) {
        DUMU_ASSERT(ev[e].tick >= now && ev[e].tick <= DUMU_MIDI_MAX_TICK);
        buf_vlq(&b, (uint32_t)(ev[e].tick - now));
        buf_put(&b, ev[e].msg, 3);
        now = ev[e].tick;
    }
    if (track_end(&b, at)) goto too_big;

    if (b.oom) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "midi: out of memory for the file");
        goto done;
    }
    *out = b.data;
    *size = b.len;
    b.data = NULL;
    rc = DUMU_OK;
    goto done;

too_big:
    rc = dumu_fail(err, DUMU_E_INVALID_ARG, "midi: a track is over 4 GiB");
done:
    dumu_free(b.data);
    dumu_free(ev);
    dumu_free(m);
    return rc;
}

dumu_status dumu_midi_write_file(const char *path, const dumu_note *notes, int64_t n_notes,
                                 const dumu_midi_params *params, dumu_error *err) {
    if (!path || !*path) return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: no output path");
    uint8_t *data = NULL;
    size_t size = 0;
    dumu_status rc = dumu_midi_encode(notes, n_notes, params, &data, &size, err);
    if (rc) return rc;

    /* Written in place. On a failed write a partial regular file is removed, so no truncated
     * .mid is left behind for a player to choke on (anything else, such as a device node, is
     * left alone). */
    const char *what = "create";
    int e = 0;
    FILE *f = fopen(path, "wb");
    if (!f) {
        e = errno;
        goto io_error;
    }
    struct stat st;
    bool regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    what = "write";
    if (fwrite(data, 1, size, f) != size || fflush(f) != 0) {
        e = errno;
        fclose(f);
        if (regular) remove(path);
        goto io_error;
    }
    if (fclose(f) != 0) {
        e = errno;
        if (regular) remove(path);
        goto io_error;
    }
    dumu_free(data);
    return DUMU_OK;

io_error:
    dumu_free(data);
    char why[128];
    if (strerror_r(e, why, sizeof why) != 0) snprintf(why, sizeof why, "errno %d", e);
    return dumu_fail(err, DUMU_E_IO, "cannot %s %s: %s", what, path, why);
}
