/* tab.h - bass tablature (src/music/tab.c): a string and fret for each note, chosen by dynamic
 * programming, and the usual ASCII tab text.
 *
 * Strings are numbered from the lowest: 4-string E1 A1 D2 G2 (MIDI 28 33 38 43), 5-string
 * B0 E1 A1 D2 G2 (MIDI 23 28 33 38 43), standard tuning; frets 0..max_fret. Pitches are the
 * sounding MIDI pitches (dumu_note.pitch). Notes are borrowed for the call. Every function is
 * thread-safe. */
#ifndef DUMU_MUSIC_TAB_H
#define DUMU_MUSIC_TAB_H

#include <stdbool.h>
#include <stdint.h>

#include "dumu/dumu.h"

#define DUMU_TAB_MAX_STRINGS 5

typedef struct dumu_tab_params {
    int32_t n_strings; /* 4 or 5; default 4 */
    int32_t max_fret;  /* highest fret, 1..24; default 24 */
} dumu_tab_params;

dumu_tab_params dumu_tab_default_params(void);

/* MIDI pitch of open string `string` (0 = lowest) of a bass with n_strings (4 or 5). */
int32_t dumu_tab_open_pitch(int32_t n_strings, int32_t string);

/* Where one note is played. */
typedef struct dumu_tab_pos {
    int8_t string; /* 0 = lowest string; -1: the pitch is out of the instrument's range */
    int8_t fret;   /* 0..max_fret; -1 with string -1 */
    int8_t hand;   /* hand position: the index finger's fret, 1..max_fret (frets hand..hand+3
                      are reached without moving; open strings keep it); -1 with string -1 */
} dumu_tab_pos;

/* Chooses a string, fret and hand position for each note, minimising hand movement over the
 * whole line (Viterbi over (string, hand position) states of each note; model and costs in
 * tab.c). notes must be in
 * playing order (start_s not decreasing); a note
 * starting within 30 ms of the previous one is a double stop and gets another string. Notes
 * no string can play get {-1, -1} and are counted in *n_out_of_range (optional); they do not
 * move the hand. out holds n_notes positions. Errors: DUMU_E_INVALID_ARG (params out of range,
 * NULL with a nonzero count, non-finite or decreasing start times), DUMU_E_NOMEM. */
dumu_status dumu_tab_assign(const dumu_note *notes, int64_t n_notes, const dumu_tab_params *params,
                            dumu_tab_pos *out, int64_t *n_out_of_range, dumu_error *err);

/* The cost dumu_tab_assign minimises, of the positions pos (n, in playing order; -1 entries
 * skipped): for tests and for comparing fingerings. */
double dumu_tab_line_cost(const dumu_tab_pos *pos, int64_t n);

/* How the tab text is laid out in time: the bar layout of src/music/layout.h, the one the MIDI
 * and MusicXML writers use. */
typedef struct dumu_tab_layout {
    const double *beats;    /* (n_beats) beat times, seconds (dumu_beats_valid); borrowed */
    int64_t n_beats;        /* >= 2 */
    int32_t beats_per_bar;  /* 1..16 */
    int32_t first_downbeat; /* index into beats where a bar starts, >= 0 */
    int32_t subdivisions;   /* columns per quarter note, 1..16 (4: one column per 16th); a bar
                               must be a whole number of columns */
    int32_t bars_per_line;  /* bars in one system before the text wraps, 1..64 */
    bool compound;          /* a beat is a dotted quarter; default false */
    /* > 0: characters a line may take; a system then holds as many bars as fit (at least
     * one, at most 64) and bars_per_line is not read. 0: bars_per_line. */
    int32_t line_width;
} dumu_tab_layout;

/* Renders the notes and their positions (from dumu_tab_assign) as ASCII tab: a header line, then
 * systems of bars_per_line bars (or as many as fit line_width), each a line of bar numbers
 * (each over its bar's first column; the first bar of the file, a pickup included, is bar 1 as
 * in a DAW reading the MIDI file) and one line per string (highest on top, each starting with
 * the string's name and '|'), each column one grid step 3 characters wide ("5--", "12-", "---"),
 * '|' closing each bar, a blank line between systems. Bars are the layout's from time 0: a
 * pickup before bar 1's downbeat is a short first bar of its grid steps counted back from the
 * downbeat (a pickup shorter than one column has none and is left out), and the header names
 * it. A note goes to the column of its onset snapped to the grid (dumu_layout_snap); when two
 * notes land on the same string and column the later one is shown. Out-of-range notes are
 * left out and counted in a last line. Returns a NUL-terminated string in *text (free with
 * dumu_free). Errors: DUMU_E_INVALID_ARG (layout out of range, NULL arrays with a nonzero
 * count, onsets not finite or beyond DUMU_BEAT_POS_LIMIT beats of src/music/quantize.h),
 * DUMU_E_NOMEM. */
dumu_status dumu_tab_render(const dumu_note *notes, const dumu_tab_pos *pos, int64_t n_notes,
                            const dumu_tab_params *params, const dumu_tab_layout *layout,
                            char **text, dumu_error *err);

#endif /* DUMU_MUSIC_TAB_H */
