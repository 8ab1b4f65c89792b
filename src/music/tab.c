/* tab.c - fret choice by dynamic programming and ASCII tab rendering (see tab.h).
 *
 * MODEL
 *     The fretting hand sits at a position h (the fret under the index finger, 1..max_fret)
 *     and reaches frets h..h+3 without moving (one finger per fret). Open strings need no
 *     finger, so they leave the hand where it is. The state of the DP is (string, h) for each
 *     note: the note's fret on that string must be 0 or within h..h+3.
 *
 * COSTS (the DP minimises their sum over the line; the unit is roughly "one small shift")
 *     per note at fret f:     0.05 f, + 0.3 per fret above the 12th (cramped, thin sound);
 *     hand shift h1 -> h2:    0 if h2 == h1, else 1 + 0.25 |h2 - h1| (any shift costs, long
 *                             ones more);
 *     string change s1 -> s2: 0.5 per string crossed beyond the neighbouring one.
 *     A double stop (onset within 30 ms of the previous note's) may not reuse its string.
 *
 * Per note there are at most 5 x 24 states and each looks at all states of the previous
 * playable note: 14 400 steps per note, a few milliseconds for a whole song.
 *
 * RENDERING
 *     Columns are grid steps of the bar layout (src/music/layout.h), so a bar of the tab is a
 *     bar of the MIDI file and the MusicXML score, however the tempo moves, pickup included. */
#include "music/tab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "music/layout.h"
#include "music/quantize.h"

#define DOUBLE_STOP_S 0.030
#define HAND_SPAN     3 /* frets beyond the index finger the hand reaches */
#define MAX_STATES    (DUMU_TAB_MAX_STRINGS * 24)

dumu_tab_params dumu_tab_default_params(void) {
    dumu_tab_params p;
    p.n_strings = 4;
    p.max_fret = 24;
    return p;
}

int32_t dumu_tab_open_pitch(int32_t n_strings, int32_t string) {
    DUMU_ASSERT((n_strings == 4 || n_strings == 5) && string >= 0 && string < n_strings);
    static const int32_t five[5] = {23, 28, 33, 38, 43};
    return five[string + (5 - n_strings)];
}

static double fret_cost(int f) {
    return 0.05 * f + (f > 12 ? 0.3 * (f - 12) : 0.0);
}

static double move_cost(int s1, int h1, int s2, int h2) {
    const int dh = abs(h2 - h1), ds = abs(s2 - s1);
    return (dh ? 1.0 + 0.25 * dh : 0.0) + (ds > 1 ? 0.5 * (ds - 1) : 0.0);
}

static dumu_status check_params(const dumu_tab_params *p, dumu_error *err) {
    if ((p->n_strings != 4 && p->n_strings != 5) || p->max_fret < 1 || p->max_fret > 24) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "tab: %d strings (4 or 5), max fret %d (1..24)",
                         (int)p->n_strings, (int)p->max_fret);
    }
    return DUMU_OK;
}

double dumu_tab_line_cost(const dumu_tab_pos *pos, int64_t n) {
    double c = 0.0;
    int64_t prev = -1;
    for (int64_t i = 0; i < n; i++) {
        if (pos[i].string < 0) continue;
        c += fret_cost(pos[i].fret);
        if (prev >= 0) c += move_cost(pos[prev].string, pos[prev].hand, pos[i].string, pos[i].hand);
        prev = i;
    }
    return c;
}

dumu_status dumu_tab_assign(const dumu_note *notes, int64_t n_notes, const dumu_tab_params *params,
                            dumu_tab_pos *out, int64_t *n_out_of_range, dumu_error *err) {
    const dumu_tab_params p = params ? *params : dumu_tab_default_params();
    if (n_out_of_range) *n_out_of_range = 0;
    dumu_status rc = check_params(&p, err);
    if (rc) return rc;
    if (n_notes < 0 || (n_notes > 0 && (!notes || !out))) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "tab: bad note list (%lld at %p)",
                         (long long)n_notes, (const void *)notes);
    }
    for (int64_t i = 0; i < n_notes; i++) {
        if (!isfinite(notes[i].start_s) || (i > 0 && notes[i].start_s < notes[i - 1].start_s)) {
            return dumu_fail(err, DUMU_E_INVALID_ARG,
                             "tab: note %lld starts at %g, not finite or before the previous "
                             "note (notes must be in playing order)",
                             (long long)i, notes[i].start_s);
        }
    }
    const int ns = p.n_strings, nh = p.max_fret, n_states = ns * nh;
    /* State k = s * nh + (h - 1). cost[k]: the cheapest line up to the last playable note
     * ending in state k (INFINITY: impossible). back (n_notes, MAX_STATES): the state of the
     * previous playable note on that cheapest line, -1 for the first one. */
    int16_t *back = dumu_malloc((size_t)(n_notes ? n_notes : 1) * MAX_STATES * sizeof *back);
    if (!back) return dumu_fail(err, DUMU_E_NOMEM, "tab: out of memory");
    double cost[MAX_STATES], next[MAX_STATES];
    int64_t prev = -1, n_out = 0; /* prev: index of the last playable note */
    for (int64_t i = 0; i < n_notes; i++) {
        int16_t *bk = back + i * MAX_STATES;
        const int double_stop = prev >= 0 && notes[i].start_s - notes[prev].start_s < DOUBLE_STOP_S;
        int playable = 0;
        for (int k = 0; k < n_states; k++) {
            const int s = k / nh, h = k % nh + 1;
            const int f = notes[i].pitch - dumu_tab_open_pitch(ns, s);
            next[k] = INFINITY;
            bk[k] = -1;
            if (f < 0 || f > p.max_fret || (f > 0 && (f < h || f > h + HAND_SPAN))) continue;
            if (prev < 0) {
                next[k] = fret_cost(f);
                playable = 1;
                continue;
            }
            for (int k1 = 0; k1 < n_states; k1++) {
                const int s1 = k1 / nh, h1 = k1 % nh + 1;
                if (!isfinite(cost[k1]) || (double_stop && s1 == s)) continue;
                const double c = cost[k1] + move_cost(s1, h1, s, h) + fret_cost(f);
                if (c < next[k]) {
                    next[k] = c;
                    bk[k] = (int16_t)k1;
                    playable = 1;
                }
            }
        }
        out[i].string = playable ? 0 : -1; /* 0: placeholder until the trace back */
        out[i].fret = -1;
        out[i].hand = -1;
        if (!playable) {
            n_out++;
            continue;
        }
        memcpy(cost, next, sizeof cost);
        prev = i;
    }
    /* Trace back from the cheapest final state through the playable notes. */
    if (prev >= 0) {
        int k = 0;
        for (int j = 1; j < n_states; j++) {
            if (cost[j] < cost[k]) k = j;
        }
        for (int64_t i = prev; i >= 0 && k >= 0; i--) {
            if (out[i].string < 0) continue; /* out of range: not on the path */
            const int s = k / nh;
            out[i].string = (int8_t)s;
            out[i].fret = (int8_t)(notes[i].pitch - dumu_tab_open_pitch(ns, s));
            out[i].hand = (int8_t)(k % nh + 1);
            k = back[i * MAX_STATES + k];
        }
    }
    dumu_free(back);
    if (n_out_of_range) *n_out_of_range = n_out;
    return DUMU_OK;
}

dumu_status dumu_tab_render(const dumu_note *notes, const dumu_tab_pos *pos, int64_t n_notes,
                            const dumu_tab_params *params, const dumu_tab_layout *layout,
                            char **text, dumu_error *err) {
    DUMU_ASSERT(text && layout);
    *text = NULL;
    const dumu_tab_params p = params ? *params : dumu_tab_default_params();
    dumu_status rc = check_params(&p, err);
    if (rc) return rc;
    const dumu_tab_layout *l = layout;
    dumu_layout lay;
    rc = dumu_layout_init(&lay, l->beats, l->n_beats, l->first_downbeat, l->beats_per_bar,
                          l->compound, err);
    if (rc) return rc;
    if (l->subdivisions < 1 || l->subdivisions > 16 || l->line_width < 0 ||
        (l->line_width == 0 && (l->bars_per_line < 1 || l->bars_per_line > 64)) ||
        fmod(lay.bar_q * l->subdivisions, 1.0) != 0.0) {
        return dumu_fail(err, DUMU_E_INVALID_ARG,
                         "tab: layout needs 1..16 columns per quarter, a whole number of them "
                         "per bar, and 1..64 bars per line or a line width");
    }
    if (n_notes < 0 || (n_notes > 0 && (!notes || !pos))) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "tab: bad note list (%lld at %p)",
                         (long long)n_notes, (const void *)notes);
    }
    for (int64_t i = 0; i < n_notes; i++) {
        if (!isfinite(notes[i].start_s) ||
            fabs(dumu_beat_position(l->beats, l->n_beats, notes[i].start_s)) >
                DUMU_BEAT_POS_LIMIT) {
            return dumu_fail(err, DUMU_E_INVALID_ARG,
                             "tab: note %lld starts at %g s, not finite or too far from the beats",
                             (long long)i, notes[i].start_s);
        }
    }
    const int ns = p.n_strings, sub = l->subdivisions;
    const int64_t cols_per_bar = (int64_t)(lay.bar_q * sub);
    /* The pickup's columns: its grid steps, pickup - k / sub for k = 1 .. floor(pickup * sub)
     * (exact: the pickup is a multiple of 1/8). Column c is at quarter pickup + (c - pick) / sub. */
    const int64_t pick = (int64_t)floor(lay.pickup_q * sub);
    /* Column of each note, and the number of full bars after the pickup (at least bar 1). */
    int64_t last_col = pick, n_out = 0;
    int64_t *col = dumu_malloc((size_t)(n_notes ? n_notes : 1) * sizeof *col);
    if (!col) return dumu_fail(err, DUMU_E_NOMEM, "tab: out of memory");
    for (int64_t i = 0; i < n_notes; i++) {
        const double q = dumu_layout_snap(&lay, dumu_layout_quarters(&lay, notes[i].start_s), sub);
        col[i] = pick + llround((q - lay.pickup_q) * sub);
        if (pos[i].string < 0) {
            n_out++;
            continue;
        }
        if (col[i] > last_col) last_col = col[i];
    }
    const int64_t n_full = (last_col - pick) / cols_per_bar + 1; /* bounded by the pos limit */
    const int64_t n_bars = n_full + (pick > 0);
    /* cell (string, column): the fret shown there, -1 for none. */
    const int64_t n_cols = pick + n_full * cols_per_bar;
    int8_t *cell = dumu_malloc((size_t)(n_cols * ns));
    if (!cell) {
        dumu_free(col);
        return dumu_fail(err, DUMU_E_NOMEM, "tab: out of memory");
    }
    memset(cell, -1, (size_t)(n_cols * ns));
    for (int64_t i = 0; i < n_notes; i++) {
        if (pos[i].string < 0 || pos[i].string >= ns) continue;
        cell[pos[i].string * n_cols + col[i]] = pos[i].fret;
    }
    static const char *const names[5] = {"B", "E", "A", "D", "G"};
    int32_t num, den;
    dumu_layout_time_signature(&lay, dumu_layout_has_pickup(&lay), &num, &den); /* the bar's */
    dumu_text b = {0};
    dumu_text_put(&b, "%d-string bass (%s), %d/%d, %d columns per quarter", ns,
                  ns == 5 ? "B E A D G" : "E A D G", (int)num, (int)den, sub);
    if (pick > 0) {
        dumu_layout_time_signature(&lay, 0, &num, &den);
        dumu_text_put(&b, ", pickup %d/%d", (int)num, (int)den);
    }
    dumu_text_put(&b, "\n\n");
    /* A bar takes 3 characters a column and its closing '|'; a line starts with "G|". */
    int64_t per_line = l->bars_per_line;
    if (l->line_width > 0) {
        per_line = (l->line_width - 2) / (cols_per_bar * 3 + 1);
        per_line = per_line < 1 ? 1 : per_line > 64 ? 64 : per_line;
    }
    /* Bars counted from 0, the pickup first when it has columns: bar k >= 1 (or k >= 0
     * without one) starts at column pick + (k - (pick > 0)) * cols_per_bar. */
    for (int64_t bar0 = 0; bar0 < n_bars; bar0 += per_line) {
        const int64_t bar1 = bar0 + per_line < n_bars ? bar0 + per_line : n_bars;
        const int64_t c0 = bar0 == 0 ? 0 : pick + (bar0 - (pick > 0)) * cols_per_bar;
        const int64_t c1 = pick + (bar1 - (pick > 0)) * cols_per_bar;
        if (bar0 > 0) dumu_text_put(&b, "\n");
        /* bar numbers: each at its bar's first column, after the 2 characters of "G|" */
        int64_t at = 0;
        for (int64_t k = bar0; k < bar1; k++) {
            const int64_t first = k == 0 ? 0 : pick + (k - (pick > 0)) * cols_per_bar;
            const int64_t x = 2 + (first - c0) * 3 + (k - bar0);
            dumu_text_put(&b, "%*s%lld", (int)(x > at ? x - at : 1), "", (long long)(k + 1));
            at = (x > at ? x : at + 1) + snprintf(NULL, 0, "%lld", (long long)(k + 1));
        }
        dumu_text_put(&b, "\n");
        for (int s = ns - 1; s >= 0; s--) {
            dumu_text_put(&b, "%s|", names[s + (5 - ns)]);
            for (int64_t c = c0; c < c1; c++) {
                const int f = cell[s * n_cols + c];
                if (f < 0) {
                    dumu_text_put(&b, "---");
                } else {
                    dumu_text_put(&b, f < 10 ? "%d--" : "%d-", f);
                }
                if (c + 1 == pick || (c + 1 > pick && (c + 1 - pick) % cols_per_bar == 0))
                    dumu_text_put(&b, "|");
            }
            dumu_text_put(&b, "\n");
        }
    }
    if (n_out) {
        dumu_text_put(&b, "\n(%lld note%s out of the range of a %d-string bass left out)\n",
                      (long long)n_out, n_out == 1 ? "" : "s", ns);
    }
    dumu_free(cell);
    dumu_free(col);
    if (b.failed) {
        dumu_free(b.s);
        return dumu_fail(err, DUMU_E_NOMEM, "tab: out of memory");
    }
    *text = b.s;
    return DUMU_OK;
}
