/* midi_read.c - Standard MIDI File (SMF 1.0) grid reader: the bytes of a .mid file -> its
 * ticks per quarter, tempo events and time signatures, i.e. the grid a DAW draws for it.
 * `dumu eval` reads back the file the CLI writes with this, so the grid metrics see what a
 * user's DAW sees rather than the beat list the file was made from.
 *
 * DESIGN
 *     One pass over the chunks. Every MTrk chunk is walked event by event (delta-time VLQ,
 *     then a meta event, a sysex, or a channel message with or without running status), and
 *     only set_tempo (FF 51) and time_signature (FF 58) are kept; notes and everything else
 *     are skipped by their length. Events of all tracks go into two arrays that are then
 *     sorted by (tick, order of appearance in the file), so format 0, 1 and 2 files read
 *     alike and, at equal ticks, a later event in the file comes later (the grid code lets
 *     the last one win, as DAWs do).
 *
 * INVARIANTS (untrusted input: every read is bounds-checked before it happens)
 *     - `pos <= end` at all times; a length is compared with `end - pos` before it is added,
 *       so no length, however large, can wrap a pointer or read past the chunk.
 *     - A VLQ has at most 4 bytes (SMF 1.0); a 5th continuation byte is an error.
 *     - The arrays grow by doubling; every event takes at least 3 bytes of input, so their
 *       sizes are bounded by the input's and the products cannot overflow.
 *
 * LENIENCY
 *     Accepted: a header chunk longer than 6 bytes (the rest skipped), chunks other than MTrk
 *     between tracks (skipped, as the standard asks), a track without end_of_track (it ends
 *     with its chunk), bytes after end_of_track inside a chunk, and anything after the last
 *     declared track. Everything else that does not parse is DUMU_E_FORMAT with the reason
 *     and byte offset, data that ends early included (not DUMU_E_TRUNCATED: a .mid is
 *     read whole from memory, so a short one is as unusable as a garbled one, and callers
 *     need only one status for "not a readable MIDI file").
 *
 * REFERENCES
 *     MIDI Manufacturers Association, "Standard MIDI Files 1.0" (RP-001): header and track
 *     chunks, variable-length quantities, running status (cancelled by sysex and meta
 *     events), meta events FF 51 (set tempo, 3 bytes of us per quarter) and FF 58 (time
 *     signature nn dd cc bb, dd the power of two of the denominator). */
#include "io/midi_read.h"

#include <stdlib.h>
#include <string.h>

#include "core/core.h"

size_t dumu_midi_read_vlq(const uint8_t *data, size_t size, uint32_t *value) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4 && i < size; i++) {
        v = (v << 7) | (data[i] & 0x7Fu);
        if (!(data[i] & 0x80u)) {
            *value = v;
            return i + 1;
        }
    }
    return 0;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t be16(const uint8_t *p) {
    return (uint32_t)p[0] << 8 | p[1];
}

/* Events as collected, before sorting: `seq` is the order of appearance in the file. */
typedef struct read_state {
    const uint8_t *base; /* start of the file, for offsets in messages */
    dumu_midi_tempo_event *tempos;
    int64_t *tempo_seq; /* (n_tempos) */
    int64_t n_tempos, cap_tempos;
    dumu_midi_time_signature *sigs;
    int64_t *sig_seq; /* (n_sigs) */
    int64_t n_sigs, cap_sigs;
    int64_t seq;
} read_state;

/* Makes room for element n of an array of `cap` items (and its `seq` array): the new
 * capacity, or -1 when out of memory (the arrays stay valid either way). */
static int64_t grow(void **items, int64_t **seq, int64_t n, int64_t cap, size_t item_size) {
    if (n < cap) return cap;
    int64_t c = cap ? cap * 2 : 16;
    void *p = dumu_realloc(*items, (size_t)c * item_size);
    if (!p) return -1;
    *items = p;
    int64_t *q = dumu_realloc(*seq, (size_t)c * sizeof **seq);
    if (!q) return -1;
    *seq = q;
    return c;
}

static dumu_status meta_event(read_state *st, int64_t tick, uint8_t type, const uint8_t *data,
                              uint32_t len, dumu_error *err) {
    size_t at = (size_t)(data - st->base);
    if (type == 0x51) {
        if (len != 3)
            return dumu_fail(err, DUMU_E_FORMAT, "midi: set_tempo of %u bytes at byte %zu",
                             (unsigned)len, at);
        uint32_t us = (uint32_t)data[0] << 16 | (uint32_t)data[1] << 8 | data[2];
        if (us == 0) return dumu_fail(err, DUMU_E_FORMAT, "midi: set_tempo of 0 at byte %zu", at);
        void *items = st->tempos;
        int64_t cap =
            grow(&items, &st->tempo_seq, st->n_tempos, st->cap_tempos, sizeof *st->tempos);
        st->tempos = items;
        if (cap < 0) return dumu_fail(err, DUMU_E_NOMEM, "midi: out of memory");
        st->cap_tempos = cap;
        st->tempos[st->n_tempos] = (dumu_midi_tempo_event){tick, us};
        st->tempo_seq[st->n_tempos++] = st->seq++;
    } else if (type == 0x58) {
        if (len != 4)
            return dumu_fail(err, DUMU_E_FORMAT, "midi: time_signature of %u bytes at byte %zu",
                             (unsigned)len, at);
        if (data[0] == 0 || data[1] > 31)
            return dumu_fail(err, DUMU_E_FORMAT,
                             "midi: time signature %u/2^%u at byte %zu (numerator 0 or "
                             "denominator past 2^31)",
                             data[0], data[1], at);
        void *items = st->sigs;
        int64_t cap = grow(&items, &st->sig_seq, st->n_sigs, st->cap_sigs, sizeof *st->sigs);
        st->sigs = items;
        if (cap < 0) return dumu_fail(err, DUMU_E_NOMEM, "midi: out of memory");
        st->cap_sigs = cap;
        st->sigs[st->n_sigs] = (dumu_midi_time_signature){tick, data[0], data[1]};
        st->sig_seq[st->n_sigs++] = st->seq++;
    }
    return DUMU_OK;
}

/* Walks one MTrk chunk body [pos, end). */
static dumu_status read_track(read_state *st, const uint8_t *pos, const uint8_t *end,
                              dumu_error *err) {
    int64_t tick = 0;
    uint8_t running = 0; /* last channel status, 0 = none */
    while (pos < end) {
        uint32_t delta, len;
        size_t n = dumu_midi_read_vlq(pos, (size_t)(end - pos), &delta);
        if (!n)
            return dumu_fail(err, DUMU_E_FORMAT, "midi: bad or truncated delta time at byte %zu",
                             (size_t)(pos - st->base));
        pos += n;
        tick += delta;
        if (pos >= end) return dumu_fail(err, DUMU_E_FORMAT, "midi: track ends after a delta time");
        uint8_t status = *pos;
        if (status == 0xFF) {
            if (end - pos < 2)
                return dumu_fail(err, DUMU_E_FORMAT, "midi: truncated meta event at byte %zu",
                                 (size_t)(pos - st->base));
            uint8_t type = pos[1];
            pos += 2;
            n = dumu_midi_read_vlq(pos, (size_t)(end - pos), &len);
            if (!n || len > (size_t)(end - pos - n))
                return dumu_fail(err, DUMU_E_FORMAT,
                                 "midi: meta event length past the "
                                 "track at byte %zu",
                                 (size_t)(pos - st->base));
            pos += n;
            dumu_status rc = meta_event(st, tick, type, pos, len, err);
            if (rc) return rc;
            pos += len;
            running = 0;
            if (type == 0x2F) return DUMU_OK; /* end_of_track */
        } else if (status == 0xF0 || status == 0xF7) {
            pos++;
            n = dumu_midi_read_vlq(pos, (size_t)(end - pos), &len);
            if (!n || len > (size_t)(end - pos - n))
                return dumu_fail(err, DUMU_E_FORMAT,
                                 "midi: sysex length past the track at "
                                 "byte %zu",
                                 (size_t)(pos - st->base));
            pos += n + len;
            running = 0;
        } else if (status >= 0xF0) {
            return dumu_fail(err, DUMU_E_FORMAT, "midi: status byte 0x%02X at byte %zu", status,
                             (size_t)(pos - st->base));
        } else {
            if (status & 0x80) {
                running = status;
                pos++;
            } else if (!running) {
                return dumu_fail(err, DUMU_E_FORMAT,
                                 "midi: running status with no status before it at byte %zu",
                                 (size_t)(pos - st->base));
            }
            /* program change and channel pressure carry one data byte, the rest two */
            size_t data_bytes = (running & 0xE0) == 0xC0 ? 1 : 2;
            if ((size_t)(end - pos) < data_bytes)
                return dumu_fail(err, DUMU_E_FORMAT,
                                 "midi: truncated channel message at "
                                 "byte %zu",
                                 (size_t)(pos - st->base));
            pos += data_bytes;
        }
    }
    return DUMU_OK; /* no end_of_track: the chunk's end ends the track */
}

/* Sorts events by (tick, seq) through an index permutation; the arrays are small. */
typedef struct order_key {
    int64_t tick, seq, index;
} order_key;

static int cmp_order(const void *a, const void *b) {
    const order_key *x = a, *y = b;
    if (x->tick != y->tick) return x->tick < y->tick ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Reorders items (n of item_size bytes) by (ticks[i], seq[i]). 0 or -1 (no memory). */
static int sort_events(void *items, const int64_t *seq, int64_t n, size_t item_size,
                       size_t tick_offset) {
    if (n < 2) return 0;
    order_key *keys = dumu_malloc((size_t)n * sizeof *keys);
    uint8_t *copy = dumu_malloc((size_t)n * item_size);
    if (!keys || !copy) {
        dumu_free(keys);
        dumu_free(copy);
        return -1;
    }
    memcpy(copy, items, (size_t)n * item_size);
    for (int64_t i = 0; i < n; i++) {
        int64_t tick;
        memcpy(&tick, copy + (size_t)i * item_size + tick_offset, sizeof tick);
        keys[i] = (order_key){tick, seq[i], i};
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_order);
    for (int64_t i = 0; i < n; i++)
        memcpy((uint8_t *)items + (size_t)i * item_size, copy + (size_t)keys[i].index * item_size,
               item_size);
    dumu_free(keys);
    dumu_free(copy);
    return 0;
}

dumu_status dumu_midi_read_grid(const uint8_t *data, size_t size, dumu_midi_grid *out,
                                dumu_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!out || (!data && size)) return dumu_fail(err, DUMU_E_INVALID_ARG, "midi: NULL argument");
    read_state st = {0};
    st.base = data;
    dumu_status rc = DUMU_OK;
    const uint8_t *pos = data, *end = data + size;
    if (size < 14 || memcmp(data, "MThd", 4) != 0) {
        rc = dumu_fail(err, DUMU_E_FORMAT, "midi: not a MIDI file (no MThd header)");
        goto done;
    }
    uint32_t hlen = be32(data + 4), format = be16(data + 8), n_tracks = be16(data + 10),
             division = be16(data + 12);
    if (hlen < 6 || hlen > size - 8) {
        rc = dumu_fail(err, DUMU_E_FORMAT, "midi: header chunk of %u bytes", (unsigned)hlen);
        goto done;
    }
    if (format > 2) {
        rc =
            dumu_fail(err, DUMU_E_FORMAT, "midi: format %u (SMF has 0, 1 and 2)", (unsigned)format);
        goto done;
    }
    if (division & 0x8000u) {
        rc = dumu_fail(err, DUMU_E_UNSUPPORTED, "midi: SMPTE time division (no beat grid)");
        goto done;
    }
    if (division == 0) {
        rc = dumu_fail(err, DUMU_E_FORMAT, "midi: 0 ticks per quarter note");
        goto done;
    }
    pos = data + 8 + hlen;
    for (uint32_t found = 0; found < n_tracks;) {
        if (end - pos < 8) {
            rc = dumu_fail(err, DUMU_E_FORMAT,
                           "midi: truncated: the header declares %u tracks, %u found",
                           (unsigned)n_tracks, (unsigned)found);
            goto done;
        }
        uint32_t len = be32(pos + 4);
        if (len > (size_t)(end - pos - 8)) {
            rc = dumu_fail(err, DUMU_E_FORMAT,
                           "midi: truncated chunk at byte %zu (%u bytes declared, %zu left)",
                           (size_t)(pos - data), (unsigned)len, (size_t)(end - pos - 8));
            goto done;
        }
        if (memcmp(pos, "MTrk", 4) == 0) {
            rc = read_track(&st, pos + 8, pos + 8 + len, err);
            if (rc) goto done;
            found++;
        }
        pos += 8 + (size_t)len;
    }
    if (sort_events(st.tempos, st.tempo_seq, st.n_tempos, sizeof *st.tempos,
                    offsetof(dumu_midi_tempo_event, tick)) ||
        sort_events(st.sigs, st.sig_seq, st.n_sigs, sizeof *st.sigs,
                    offsetof(dumu_midi_time_signature, tick))) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "midi: out of memory");
        goto done;
    }
    out->ppq = (int32_t)division;
    out->tempos = st.tempos;
    out->n_tempos = st.n_tempos;
    out->time_signatures = st.sigs;
    out->n_time_signatures = st.n_sigs;
    st.tempos = NULL;
    st.sigs = NULL;
done:
    dumu_free(st.tempos);
    dumu_free(st.sigs);
    dumu_free(st.tempo_seq);
    dumu_free(st.sig_seq);
    return rc;
}

void dumu_midi_grid_deinit(dumu_midi_grid *grid) {
    if (!grid) return;
    dumu_free(grid->tempos);
    dumu_free(grid->time_signatures);
    memset(grid, 0, sizeof *grid);
}
